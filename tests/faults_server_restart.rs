//! restate-server killed with SIGKILL under load and started again on the same data directory
//! and ports, several times: no acknowledged invocation is lost, none runs twice.
//!
//! A client task keeps submitting chains of durable steps (`scenarios.v1.Chain`, side effects
//! logged by the endpoint, which runs in this process) with idempotency keys, retrying each
//! submission with the same key until the server acknowledges it, while the test kills and
//! restarts the server at random moments (seeded, `FAULT_SEED`). Then:
//!
//! * every acknowledged invocation completes with `count == steps` (two invocations on one key
//!   would count twice), and a resubmission answers `PreviouslyAccepted` with the same id;
//! * no step's side effect ran after the step was journaled.

mod faults_support;

use faults_support::{FAST_RETRY, Lcg, TOOLS, chains_in_flight, read_chain_log, report};
use restate_rs::codec::Json;
use restate_rs::ingress::{IngressClient, SendStatus};
use restate_rs::prelude::*;
use restate_rs::serve::Server;
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::scenarios::v1::{ChainResult, ChainServer};
use restate_rs_examples::services::scenarios::Chain;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Plan {
    name: &'static str,
    restarts: u32,
    invocations: u32,
    steps: u32,
    seed: u64,
}

/// Submits chain `i` until the ingress acknowledges it; returns the invocation id, its status
/// and how many submissions failed first.
async fn submit_until_acknowledged(
    ingress: &IngressClient,
    i: u32,
    steps: u32,
) -> (String, SendStatus, u32) {
    faults_support::submit_chain(
        std::slice::from_ref(ingress),
        0,
        i,
        steps,
        Duration::from_secs(180),
    )
    .await
}

async fn restart_the_server_under_load(plan: Plan) {
    let started = Instant::now();
    let (mut rng, seed) = Lcg::from_env(plan.seed);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("side-effects.log");
    let mut server = RestateServer::builder()
        .npm_prefix(TOOLS)
        .extra_config(FAST_RETRY)
        .start()
        .await
        .expect("restate-server starts");
    let endpoint = Endpoint::builder()
        .bind(ChainServer::new(Chain {
            log: Some(log.clone()),
        }))
        .build();
    let endpoint = Server::bind(endpoint, "127.0.0.1:0").await.unwrap().spawn();
    server.register(&endpoint.url()).await.unwrap();
    let ingress = IngressClient::builder(server.ingress_url())
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();

    // The load: submissions spread over the whole run, each retried until acknowledged.
    let acked: Arc<Mutex<BTreeMap<u32, String>>> = Arc::default();
    let failed_submissions = Arc::new(Mutex::new(0u32));
    let spacing = Duration::from_millis(
        (u64::from(plan.restarts) * 2500 / u64::from(plan.invocations)).max(5),
    );
    let load = {
        let (ingress, acked, failed) = (ingress.clone(), acked.clone(), failed_submissions.clone());
        let steps = plan.steps;
        let invocations = plan.invocations;
        tokio::spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..invocations {
                let (ingress, acked, failed) = (ingress.clone(), acked.clone(), failed.clone());
                tasks.spawn(async move {
                    let (id, _, failures) = submit_until_acknowledged(&ingress, i, steps).await;
                    *failed.lock().unwrap() += failures;
                    acked.lock().unwrap().insert(i, id);
                });
                tokio::time::sleep(spacing).await;
            }
            while let Some(done) = tasks.join_next().await {
                done.unwrap();
            }
        })
    };

    let mut kills_in_flight = 0;
    let mut restart_seconds = Vec::new();
    for _ in 0..plan.restarts {
        tokio::time::sleep(rng.millis(300, 2000)).await;
        if chains_in_flight(&log, plan.steps) > 0 {
            kills_in_flight += 1;
        }
        server.kill();
        tokio::time::sleep(rng.millis(0, 500)).await;
        let t = Instant::now();
        server
            .restart()
            .await
            .unwrap_or_else(|e| panic!("restate-server does not come back: {e}"));
        restart_seconds.push(t.elapsed().as_secs_f64());
    }
    load.await.unwrap();

    // Every acknowledged invocation completes, once per key.
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len() as u32, plan.invocations);
    for (i, id) in &acked {
        let result = tokio::time::timeout(
            Duration::from_secs(120),
            ingress.attach::<ChainResult, Json>(id),
        )
        .await
        .unwrap_or_else(|_| panic!("chain {i} ({id}) did not complete (seed {seed})"))
        .unwrap_or_else(|e| panic!("chain {i} ({id}) failed: {e} (seed {seed})"));
        assert_eq!(result.count, plan.steps, "chain {i} (seed {seed})");
    }
    for (i, id) in &acked {
        let (again, status, _) = submit_until_acknowledged(&ingress, *i, plan.steps).await;
        assert_eq!(status, SendStatus::PreviouslyAccepted, "chain {i}");
        assert_eq!(&again, id, "chain {i} got another invocation (seed {seed})");
    }
    let log = read_chain_log(&log);
    assert!(
        log.after_journaled.is_empty(),
        "side effects ran after their step was journaled (seed {seed}):\n{}",
        log.after_journaled.join("\n")
    );
    assert_eq!(log.steps as u32, plan.invocations * plan.steps);
    let mean_restart = restart_seconds.iter().sum::<f64>() / restart_seconds.len().max(1) as f64;
    report(
        plan.name,
        &[
            ("seed", seed.to_string()),
            ("invocations", plan.invocations.to_string()),
            ("steps", (plan.invocations * plan.steps).to_string()),
            ("server_kills", restart_seconds.len().to_string()),
            ("kills_with_chains_in_flight", kills_in_flight.to_string()),
            (
                "failed_submissions_retried",
                failed_submissions.lock().unwrap().to_string(),
            ),
            ("lost", "0".to_owned()),
            ("duplicated_invocations", "0".to_owned()),
            ("steps_rerun_before_journaled", log.reruns.to_string()),
            ("steps_rerun_after_journaled", "0".to_owned()),
            ("mean_restart_seconds", format!("{mean_restart:.1}")),
            ("seconds", format!("{:.1}", started.elapsed().as_secs_f64())),
        ],
    );
}

/// The quick variant, in the normal test suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_and_restarted_under_load() {
    restart_the_server_under_load(Plan {
        name: "server-restart-quick",
        restarts: 3,
        invocations: 60,
        steps: 40,
        seed: 7_101,
    })
    .await;
}

/// The long variant: `scripts/faults.sh`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/faults.sh"]
async fn server_killed_and_restarted_under_load_many_times() {
    restart_the_server_under_load(Plan {
        name: "server-restart-long",
        restarts: 20,
        invocations: 400,
        steps: 40,
        seed: 7_102,
    })
    .await;
}
