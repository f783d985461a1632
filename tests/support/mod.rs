//! A real restate-server with every example service registered, for end-to-end tests.

#![allow(dead_code, unreachable_pub)]

use restate_rs::ingress::IngressClient;
use restate_rs::prelude::*;
use restate_rs::serve::{RunningServer, Server};
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::hydra::v1::{
    DeploymentServiceServer, GreeterServer, SignupWorkflowServer,
};
use restate_rs_examples::proto::scenarios::v1::{CounterServer, FlakyServer, ProxyServer};
use restate_rs_examples::services::scenarios::{Counter, Flaky, Probe, Proxy};
use restate_rs_examples::services::{Deployments, Greetings, Outbox, Signups};
use std::future::Future;
use std::time::{Duration, Instant};

/// The npm prefix where `scripts/install-tools.sh` puts restate-server.
pub const TOOLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.tools");

/// A server, an endpoint serving every example service, and what the services report.
pub struct Env {
    pub server: RestateServer,
    pub endpoint: RunningServer,
    pub probe: Probe,
    pub outbox: Outbox,
}

impl Env {
    pub fn ingress(&self) -> IngressClient {
        self.server.ingress()
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
        server,
        endpoint,
        probe,
        outbox,
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
