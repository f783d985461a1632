//! Exclusive handlers of one virtual object on the embedded engine, invoked while the
//! previous holder of the key finishes: every invocation must run (none left queued forever).
//!
//! Found by the `engine_ingress` fuzz target (an exclusive call that never answered, its
//! invocation `inboxed` with no invocation holding its key): `Engine::admit` decided "inboxed"
//! under the scheduler lock but wrote the status in a later store transaction, and
//! `release_key`, looking for the next `inboxed` invocation in its own transaction and finding
//! none yet, freed the key; the invocation then stayed `inboxed` until the engine restarted
//! (5 of 400 invocations in this test). Fixed in 355ddbc (a per-key lock around queueing and
//! releasing); since then one scheduler task makes both decisions, in memory, one message at a
//! time. This test keeps it fixed.

use restate_rs::engine::{Engine, InvokeOptions, Target};
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::CounterServer;
use restate_rs_examples::services::scenarios::{Counter, Probe};
use std::time::{Duration, Instant};

async fn race_calls_on_one_key(rounds: u32) -> Vec<String> {
    let endpoint = Endpoint::builder()
        .bind(CounterServer::new(Counter {
            probe: Probe::default(),
        }))
        .build();
    let engine = Engine::builder(endpoint).in_memory().await.unwrap();
    let mut stuck = Vec::new();
    for round in 0..rounds {
        let key = format!("k{round}");
        // A holder, then a second call arriving around the moment the holder finishes
        // (Add sleeps 20 ms).
        let first = engine
            .invoke(
                Target::keyed("scenarios.v1.Counter", key.as_str(), "Add"),
                r#"{"delta": "1"}"#,
                InvokeOptions::default(),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_micros(18_000 + u64::from(round % 40) * 100)).await;
        let second = engine
            .invoke(
                Target::keyed("scenarios.v1.Counter", key.as_str(), "Add"),
                r#"{"delta": "1"}"#,
                InvokeOptions::default(),
            )
            .await
            .unwrap();
        for id in [&first.invocation_id, &second.invocation_id] {
            if tokio::time::timeout(Duration::from_secs(5), engine.attach(id))
                .await
                .is_err()
            {
                let status = engine
                    .describe(id)
                    .await
                    .map(|d| format!("{d:?}"))
                    .unwrap_or_default();
                stuck.push(format!(
                    "round {round}: {id} never ran: {}",
                    status.chars().take(300).collect::<String>()
                ));
            }
        }
    }
    engine.shutdown().await;
    stuck
}

async fn check(name: &str, rounds: u32) {
    let started = Instant::now();
    let stuck = race_calls_on_one_key(rounds).await;
    println!(
        "fault-report: {name} rounds={rounds} invocations={} stuck={} seconds={:.1}",
        rounds * 2,
        stuck.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        stuck.is_empty(),
        "{} of {} invocations stayed queued:\n{}",
        stuck.len(),
        rounds * 2,
        stuck.join("\n")
    );
}

/// The quick variant, in the normal test suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_call_arriving_as_the_holder_finishes_runs() {
    check("engine-exclusive-queue-race-quick", 100).await;
}

/// The long variant: `scripts/faults.sh`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run by scripts/faults.sh"]
async fn exclusive_call_arriving_as_the_holder_finishes_runs_many_times() {
    check("engine-exclusive-queue-race-long", 1500).await;
}
