//! A three-node restate-server cluster on loopback (one cluster name, each node with its own
//! name, ports and data directory, every node running every role; log, metadata and partitions
//! replicated on 2 nodes), loaded with chains of durable steps through all three ingresses, and
//! a node killed with SIGKILL mid-load: no acknowledged invocation lost, none run twice.
//!
//! The client submits each chain with an idempotency key to one node's ingress and, when that
//! fails, to the next node, with the same key, until one acknowledges it. Afterwards every
//! acknowledged invocation must complete with `count == steps`, a resubmission must answer
//! `PreviouslyAccepted` with the same id, and no step's side effect may have run after the step
//! was journaled.
//!
//! The one-kill variant runs in the normal test suite (about 17 s: the cluster starts in 1-2 s,
//! its partitions take 8-10 s to have leaders everywhere); the rolling-kills variant is long
//! and runs from `scripts/faults.sh`.

mod faults_support;

use faults_support::{FAST_RETRY, Lcg, TOOLS, chains_in_flight, read_chain_log, report};
use restate_rs::codec::Json;
use restate_rs::ingress::{IngressClient, SendStatus};
use restate_rs::prelude::*;
use restate_rs::serve::Server;
use restate_rs::testing::RestateCluster;
use restate_rs_examples::proto::scenarios::v1::{
    ChainIngressClient, ChainRequest, ChainResult, ChainServer,
};
use restate_rs_examples::services::scenarios::Chain;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Plan {
    name: &'static str,
    /// Nodes killed one after the other; each is started again before the next kill.
    kills: u32,
    invocations: u32,
    steps: u32,
    seed: u64,
}

fn client(url: &str) -> IngressClient {
    IngressClient::builder(url)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// Submits chain `i` to node `first`, then the next ones, until one acknowledges it,
/// counting the failed submissions in `failures`.
async fn submit(
    ingresses: &[IngressClient],
    first: usize,
    i: u32,
    steps: u32,
    failures: &AtomicU32,
) -> (String, SendStatus) {
    let (id, status, failed) =
        faults_support::submit_chain(ingresses, first, i, steps, Duration::from_secs(240)).await;
    failures.fetch_add(failed, Ordering::Relaxed);
    (id, status)
}

/// Attaches through the nodes in turn until one answers.
async fn attach(ingresses: &[IngressClient], id: &str, what: &str) -> ChainResult {
    let started = Instant::now();
    let mut node = 0;
    loop {
        match tokio::time::timeout(
            Duration::from_secs(20),
            ingresses[node % ingresses.len()].attach::<ChainResult, Json>(id),
        )
        .await
        {
            Ok(Ok(result)) => return result,
            Ok(Err(e)) if e.is_terminal() => panic!("{what} ({id}) failed: {e}"),
            other => {
                assert!(
                    started.elapsed() < Duration::from_secs(240),
                    "{what} ({id}) did not complete: {other:?}"
                );
                node += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

async fn kill_nodes_under_load(plan: Plan) {
    let started = Instant::now();
    let (mut rng, seed) = Lcg::from_env(plan.seed);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("side-effects.log");
    let mut cluster = RestateCluster::builder()
        .npm_prefix(TOOLS)
        .nodes(3)
        .replication(2)
        .extra_config(FAST_RETRY)
        .start()
        .await
        .expect("the cluster starts");
    let cluster_up = started.elapsed().as_secs_f64();
    let endpoint = Endpoint::builder()
        .bind(ChainServer::new(Chain {
            log: Some(log.clone()),
        }))
        .build();
    let endpoint = Server::bind(endpoint, "127.0.0.1:0").await.unwrap().spawn();
    cluster.register(&endpoint.url()).await.unwrap();
    let ingresses: Vec<IngressClient> = cluster
        .nodes()
        .iter()
        .map(|n| client(n.ingress_url()))
        .collect();

    // Every node's ingress knows the service and reaches a partition leader.
    for (n, ingress) in ingresses.iter().enumerate() {
        faults_support::eventually(
            &format!("node n{} to run a chain", n + 1),
            Duration::from_secs(90),
            || async {
                ChainIngressClient::new(ingress.clone())
                    .run(format!("warm-up-{n}"), ChainRequest { steps: 0 })
                    .timeout(Duration::from_secs(5))
                    .call()
                    .await
                    .ok()
            },
        )
        .await;
    }
    let ready = started.elapsed().as_secs_f64();

    let acked: Arc<Mutex<BTreeMap<u32, String>>> = Arc::default();
    let failures = Arc::new(AtomicU32::new(0));
    let spacing =
        Duration::from_millis((u64::from(plan.kills) * 8000 / u64::from(plan.invocations)).max(5));
    let load = {
        let (ingresses, acked, failures) = (ingresses.clone(), acked.clone(), failures.clone());
        let (steps, invocations) = (plan.steps, plan.invocations);
        tokio::spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..invocations {
                let (ingresses, acked, failures) =
                    (ingresses.clone(), acked.clone(), failures.clone());
                tasks.spawn(async move {
                    let (id, _) = submit(&ingresses, i as usize, i, steps, &failures).await;
                    acked.lock().unwrap().insert(i, id);
                });
                tokio::time::sleep(spacing).await;
            }
            while let Some(done) = tasks.join_next().await {
                done.unwrap();
            }
        })
    };

    let mut killed = Vec::new();
    let mut kills_in_flight = 0;
    for k in 0..plan.kills {
        tokio::time::sleep(rng.millis(1000, 3000)).await;
        let victim = rng.next(3) as usize;
        if chains_in_flight(&log, plan.steps) > 0 {
            kills_in_flight += 1;
        }
        cluster.kill(victim);
        killed.push(format!("n{}", victim + 1));
        // The other two go on alone for a while; then the node comes back, except after the
        // last kill, when the run ends with one node down.
        tokio::time::sleep(rng.millis(3000, 6000)).await;
        if k + 1 < plan.kills {
            cluster
                .restart(victim)
                .await
                .unwrap_or_else(|e| panic!("node n{} does not come back: {e}", victim + 1));
        }
    }
    load.await.unwrap();
    let running: Vec<IngressClient> = cluster
        .running()
        .into_iter()
        .map(|n| ingresses[n].clone())
        .collect();

    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len() as u32, plan.invocations);
    for (i, id) in &acked {
        let result = attach(&running, id, &format!("chain {i} (seed {seed})")).await;
        assert_eq!(result.count, plan.steps, "chain {i} (seed {seed})");
    }
    let resubmit_failures = AtomicU32::new(0);
    for (i, id) in &acked {
        let (again, status) =
            submit(&running, *i as usize, *i, plan.steps, &resubmit_failures).await;
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
    report(
        plan.name,
        &[
            ("seed", seed.to_string()),
            ("nodes", "3".to_owned()),
            ("replication", "2".to_owned()),
            ("invocations", plan.invocations.to_string()),
            ("steps", (plan.invocations * plan.steps).to_string()),
            ("node_kills", killed.len().to_string()),
            ("killed", killed.join(",")),
            ("kills_with_chains_in_flight", kills_in_flight.to_string()),
            (
                "failed_submissions_retried",
                failures.load(Ordering::Relaxed).to_string(),
            ),
            ("lost", "0".to_owned()),
            ("duplicated_invocations", "0".to_owned()),
            ("steps_rerun_before_journaled", log.reruns.to_string()),
            ("steps_rerun_after_journaled", "0".to_owned()),
            ("cluster_up_seconds", format!("{cluster_up:.1}")),
            ("ready_seconds", format!("{ready:.1}")),
            ("seconds", format!("{:.1}", started.elapsed().as_secs_f64())),
        ],
    );
}

/// One node killed mid-load; the run ends with two nodes. In the normal test suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_node_killed_under_load() {
    kill_nodes_under_load(Plan {
        name: "cluster-one-node-killed",
        kills: 1,
        invocations: 60,
        steps: 20,
        seed: 7_201,
    })
    .await;
}

/// Nodes killed one after the other (each started again before the next kill).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/faults.sh"]
async fn cluster_nodes_killed_in_turn_under_load() {
    kill_nodes_under_load(Plan {
        name: "cluster-rolling-kills",
        kills: 10,
        invocations: 500,
        steps: 20,
        seed: 7_202,
    })
    .await;
}
