//! Kill -9 of the service process in the middle of workflows on restate-server, many times.
//!
//! The `fault-service` child serves `scenarios.v1.Chain` (a virtual object) and
//! `scenarios.v1.ChainWorkflow` (the same steps as a `WORKFLOW`) on a fixed port: each
//! invocation runs `steps` durable steps (`ctx.run`), each step's side effect appended and
//! synced to a log (`exec <key> <step>`), and the handler logs `done <key> <step>` once it sees
//! the step's result, which it only sees after restate-server journaled it. The test submits
//! chains (with idempotency keys) or workflows (one run per workflow id) in batches, kills the
//! child with SIGKILL at random moments (seeded, `FAULT_SEED`), starts it again on the same
//! port, and then checks:
//!
//! * every invocation completes, with `count == steps` (a second invocation on a key would
//!   count twice);
//! * a resubmission with the same idempotency key, or of the same workflow id, answers
//!   `PreviouslyAccepted` with the same id;
//! * no side effect ran after its step was journaled (never an `exec` after a `done`); re-runs
//!   of steps whose result was not journaled yet when the kill came are counted.

mod faults_support;

use faults_support::{
    FAST_RETRY, Lcg, ServiceProcess, TOOLS, chains_in_flight, free_port, read_chain_log, report,
};
use restate_rs::codec::Json;
use restate_rs::ingress::SendStatus;
use restate_rs::ingress::{IngressClient, IngressError, SendResponse};
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::scenarios::v1::{
    ChainIngressClient, ChainRequest, ChainResult, ChainWorkflowIngressClient,
};
use std::time::{Duration, Instant};

const SERVICE: &str = env!("CARGO_BIN_EXE_fault-service");

/// What the test submits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `Chain.Run` on its own key, with an idempotency key.
    Object,
    /// `ChainWorkflow.Run` of its own workflow id.
    Workflow,
}

/// The generated ingress clients of both shapes, behind one face.
struct Submitter {
    shape: Shape,
    chains: ChainIngressClient,
    workflows: ChainWorkflowIngressClient,
    ingress: IngressClient,
}

impl Submitter {
    async fn submit(&self, i: u32, request: ChainRequest) -> Result<SendResponse, IngressError> {
        match self.shape {
            Shape::Object => {
                self.chains
                    .run(format!("chain-{i}"), request)
                    .idempotency_key(format!("run-{i}"))
                    .send()
                    .await
            }
            Shape::Workflow => self.workflows.submit(format!("flow-{i}"), request).await,
        }
    }

    async fn result(&self, i: u32, id: &str) -> Result<ChainResult, IngressError> {
        match self.shape {
            Shape::Object => self.ingress.attach::<ChainResult, Json>(id).await,
            Shape::Workflow => self.workflows.attach(&format!("flow-{i}")).await,
        }
    }
}

struct Plan {
    name: &'static str,
    shape: Shape,
    /// One kill per batch.
    batches: u32,
    per_batch: u32,
    steps: u32,
    /// Longest time the child runs before it is killed.
    max_uptime_ms: u64,
    seed: u64,
}

async fn kill_the_service_again_and_again(plan: Plan) {
    let started = Instant::now();
    let (mut rng, seed) = Lcg::from_env(plan.seed);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("side-effects.log");
    let server = RestateServer::builder()
        .npm_prefix(TOOLS)
        .extra_config(FAST_RETRY)
        .start()
        .await
        .expect("restate-server starts");
    let mut service = ServiceProcess::start(SERVICE, free_port(), &log);
    server
        .register(&service.url())
        .await
        .expect("the service registers");
    let submitter = Submitter {
        shape: plan.shape,
        chains: ChainIngressClient::new(server.ingress()),
        workflows: ChainWorkflowIngressClient::new(server.ingress()),
        ingress: server.ingress(),
    };
    let request = ChainRequest { steps: plan.steps };

    let mut ids = Vec::new();
    let mut kills_in_flight = 0;
    for batch in 0..plan.batches {
        for j in 0..plan.per_batch {
            let i = batch * plan.per_batch + j;
            let sent = submitter
                .submit(i, request)
                .await
                .expect("restate-server accepts the invocation");
            assert_eq!(sent.status, SendStatus::Accepted);
            ids.push(sent.invocation_id);
        }
        tokio::time::sleep(rng.millis(0, plan.max_uptime_ms)).await;
        if chains_in_flight(&log, plan.steps) > 0 {
            kills_in_flight += 1;
        }
        service.kill();
        tokio::time::sleep(rng.millis(0, 300)).await;
        service.restart();
    }

    // Every invocation completes, once per key.
    for (i, id) in ids.iter().enumerate() {
        let result = tokio::time::timeout(Duration::from_secs(120), submitter.result(i as u32, id))
            .await
            .unwrap_or_else(|_| panic!("chain {i} ({id}) did not complete (seed {seed})"))
            .unwrap_or_else(|e| panic!("chain {i} ({id}) failed: {e} (seed {seed})"));
        assert_eq!(
            result.count, plan.steps,
            "chain {i} counted {} steps (seed {seed})",
            result.count
        );
    }
    // The same idempotency key, or workflow id, answers with the same invocation.
    for (i, id) in ids.iter().enumerate() {
        let again = submitter.submit(i as u32, request).await.unwrap();
        assert_eq!(again.status, SendStatus::PreviouslyAccepted, "chain {i}");
        assert_eq!(&again.invocation_id, id, "chain {i}");
    }

    let chains_total = plan.batches * plan.per_batch;
    let log = read_chain_log(&log);
    assert!(
        log.after_journaled.is_empty(),
        "side effects ran after their step was journaled (seed {seed}):\n{}",
        log.after_journaled.join("\n")
    );
    assert_eq!(
        log.steps as u32,
        chains_total * plan.steps,
        "every step ran (seed {seed})"
    );
    report(
        plan.name,
        &[
            ("seed", seed.to_string()),
            ("invocations", chains_total.to_string()),
            ("steps", (chains_total * plan.steps).to_string()),
            ("kills", service.kills.to_string()),
            ("kills_with_chains_in_flight", kills_in_flight.to_string()),
            ("lost", "0".to_owned()),
            ("duplicated_invocations", "0".to_owned()),
            ("steps_rerun_before_journaled", log.reruns.to_string()),
            ("steps_rerun_after_journaled", "0".to_owned()),
            ("seconds", format!("{:.1}", started.elapsed().as_secs_f64())),
        ],
    );
}

/// The quick variant, in the normal test suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_killed_during_chains() {
    kill_the_service_again_and_again(Plan {
        name: "service-kill-quick",
        shape: Shape::Object,
        batches: 12,
        per_batch: 3,
        steps: 40,
        max_uptime_ms: 300,
        seed: 7_001,
    })
    .await;
}

/// The long variant: `scripts/faults.sh` (or `cargo test --test faults_service_kill -- --ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/faults.sh"]
async fn service_killed_during_chains_many_times() {
    kill_the_service_again_and_again(Plan {
        name: "service-kill-long",
        shape: Shape::Object,
        batches: 150,
        per_batch: 3,
        steps: 40,
        max_uptime_ms: 400,
        seed: 7_002,
    })
    .await;
}

/// The same kills in the middle of `WORKFLOW` runs, in the normal test suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_killed_during_workflows() {
    kill_the_service_again_and_again(Plan {
        name: "service-kill-workflows-quick",
        shape: Shape::Workflow,
        batches: 12,
        per_batch: 3,
        steps: 40,
        max_uptime_ms: 300,
        seed: 7_003,
    })
    .await;
}

/// The long workflow variant: `scripts/faults.sh`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/faults.sh"]
async fn service_killed_during_workflows_many_times() {
    kill_the_service_again_and_again(Plan {
        name: "service-kill-workflows-long",
        shape: Shape::Workflow,
        batches: 150,
        per_batch: 3,
        steps: 40,
        max_uptime_ms: 400,
        seed: 7_004,
    })
    .await;
}
