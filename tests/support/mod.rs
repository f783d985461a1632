//! A real restate-server with every example service registered, for end-to-end tests.

#![allow(dead_code, unreachable_pub)]

use restate_rs::ingress::IngressClient;
use restate_rs::prelude::*;
use restate_rs::serve::{RunningServer, Server};
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::hydra::v1::{
    DeploymentServiceServer, GreeterServer, SignupWorkflowServer,
};
use restate_rs_examples::proto::scenarios::v1::{
    CounterServer, FlakyServer, MapObjectServer, ProxyServer, WaiterServer,
};
use restate_rs_examples::services::scenarios::{Counter, Flaky, MapObject, Probe, Proxy, Waiter};
use restate_rs_examples::services::{Deployments, Greetings, Outbox, Signups};
use std::future::Future;
use std::time::{Duration, Instant};

/// The npm prefix where `scripts/install-tools.sh` puts restate-server.
pub const TOOLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools");

/// Which engine a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A real restate-server process, the endpoint served over HTTP.
    RestateServer,
    /// The embedded engine, in-process, its ingress also served over HTTP.
    Embedded,
}

/// An engine with every example service, how to call it, and what the services report.
pub struct Env {
    pub kind: Kind,
    pub server: Option<RestateServer>,
    pub engine: Option<restate_rs::engine::Engine>,
    /// The ingress over HTTP (restate-server's, or the embedded engine's).
    pub ingress_url: String,
    /// The admin API over HTTP (restate-server's, or the embedded engine's).
    pub admin_url: String,
    pub probe: Probe,
    pub outbox: Outbox,
    _servers: Vec<RunningServer>,
}

impl Env {
    /// The typed ingress client: over HTTP for restate-server, in-process for the engine.
    pub fn ingress(&self) -> IngressClient {
        match (&self.server, &self.engine) {
            (Some(server), _) => server.ingress(),
            (_, Some(engine)) => engine.ingress(),
            _ => unreachable!("an Env has an engine"),
        }
    }
}

/// Starts the given engine with every example service.
pub async fn start_on(kind: Kind) -> Env {
    match kind {
        Kind::RestateServer => start().await,
        Kind::Embedded => {
            let (probe, outbox) = (Probe::default(), Outbox::default());
            let engine = restate_rs::engine::Engine::builder(endpoint(&probe, &outbox))
                .in_memory()
                .await
                .unwrap();
            let ingress = restate_rs::engine::IngressServer::bind(engine.clone(), "127.0.0.1:0")
                .await
                .unwrap()
                .spawn()
                .unwrap();
            let admin = restate_rs::engine::AdminServer::bind(engine.clone(), "127.0.0.1:0")
                .await
                .unwrap()
                .spawn()
                .unwrap();
            Env {
                kind,
                server: None,
                engine: Some(engine),
                ingress_url: ingress.url(),
                admin_url: admin.url(),
                probe,
                outbox,
                _servers: vec![ingress, admin],
            }
        }
    }
}

/// All example services in one endpoint.
pub fn endpoint(probe: &Probe, outbox: &Outbox) -> Endpoint {
    Endpoint::builder()
        .bind(DeploymentServiceServer::new(Deployments))
        .bind(SignupWorkflowServer::new(Signups {
            outbox: outbox.clone(),
        }))
        .bind(GreeterServer::new(Greetings))
        .bind(CounterServer::new(Counter {
            probe: probe.clone(),
        }))
        .bind(ProxyServer::new(Proxy))
        .bind(FlakyServer::new(Flaky {
            probe: probe.clone(),
        }))
        .bind(WaiterServer::new(Waiter {
            probe: probe.clone(),
        }))
        .bind(MapObjectServer::new(MapObject))
        .bind(restate_rs_examples::proto::scenarios::v1::TripServer::new(
            restate_rs_examples::services::toolkit::Trip::default(),
        ))
        .bind(
            restate_rs_examples::proto::scenarios::v1::OnboardingServer::new(
                restate_rs_examples::services::toolkit::Onboarding::default(),
            ),
        )
        .bind(
            restate_rs_examples::proto::scenarios::v1::ProjectLedgerServer::new(
                restate_rs_examples::services::keys::ProjectLedger,
            ),
        )
        .bind(
            restate_rs_examples::proto::scenarios::v1::TierLedgerServer::new(
                restate_rs_examples::services::keys::TierLedger,
            ),
        )
        .bind(
            restate_rs_examples::proto::scenarios::v1::ActorOnboardingServer::new(
                restate_rs_examples::services::keys::ActorOnboarding,
            ),
        )
        .bind(
            restate_rs_examples::proto::scenarios::v1::LedgerRelayServer::new(
                restate_rs_examples::services::keys::LedgerRelay,
            ),
        )
        .build()
}

/// Starts restate-server and the endpoint, and registers it.
pub async fn start() -> Env {
    let server = RestateServer::builder()
        .npm_prefix(TOOLS)
        .start()
        .await
        .expect("restate-server starts");
    let (probe, outbox) = (Probe::default(), Outbox::default());
    let endpoint = Server::bind(endpoint(&probe, &outbox), "127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    server
        .register(&endpoint.url())
        .await
        .expect("the endpoint registers");
    Env {
        kind: Kind::RestateServer,
        ingress_url: server.ingress_url().to_owned(),
        admin_url: server.admin_url().to_owned(),
        server: Some(server),
        engine: None,
        probe,
        outbox,
        _servers: vec![endpoint],
    }
}

/// Polls `check` until it returns `Some`, or fails after `timeout` saying `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
