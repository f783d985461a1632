//! The embedded engine's speed, measured (not asserted): invocation latency and throughput at
//! concurrency 1 and 64, durable steps per second, and the disk's fsync floor in the same run.
//! Writes its figures into docs/BENCHMARKS.md (between the `engine` markers).
//!
//! ```sh
//! cargo bench --bench engine
//! ```

#[path = "support/mod.rs"]
mod support;

use restate_rs::engine::{Engine, Target};
use restate_rs::prelude::*;
use restate_rs_examples::proto::hydra::v1::GreeterServer;
use restate_rs_examples::proto::scenarios::v1::ChainServer;
use restate_rs_examples::services::Greetings;
use restate_rs_examples::services::scenarios::Chain;
use support::{Figures, Side, drive, fsync_floor, machine, ms, write_section};

/// `total` calls of `target(i)` with `body`, `concurrency` at a time; the figures with
/// `units_per_call` units of work per call.
async fn measure(
    engine: &Engine,
    target: impl Fn(usize) -> Target + Clone + Send + Sync + 'static,
    body: &'static str,
    concurrency: usize,
    total: usize,
    units_per_call: usize,
) -> Figures {
    let engine = engine.clone();
    let round = drive(concurrency, total, move |i| {
        let (engine, target) = (engine.clone(), target(i));
        async move {
            engine.call(target, body).await.expect("the call succeeds");
        }
    })
    .await;
    let mut side = Side::default();
    side.add(round, total * units_per_call);
    side.figures()
}

#[tokio::main]
async fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-engine");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let floor = fsync_floor(&dir);
    println!(
        "fsync floor (4 KiB write + fdatasync, median): {}",
        ms(floor)
    );

    let endpoint = Endpoint::builder()
        .bind(GreeterServer::new(Greetings))
        .bind(ChainServer::new(Chain { log: None }))
        .build();
    let engine = Engine::builder(endpoint)
        .open(dir.join("engine.db"))
        .await
        .unwrap();
    let greet = |_| Target::service("hydra.v1.Greeter", "Greet");
    // Warm up.
    measure(&engine, greet, r#"{"name": "warm"}"#, 4, 200, 1).await;

    let mut rows = Vec::new();
    for (concurrency, total) in [(1usize, 400usize), (64, 3200)] {
        let f = measure(
            &engine,
            greet,
            r#"{"name": "bench"}"#,
            concurrency,
            total,
            1,
        )
        .await;
        println!(
            "greet, concurrency {concurrency}: median {}, p99 {}, {:.0} invocations/s",
            ms(f.median),
            ms(f.p99),
            f.per_second
        );
        rows.push(format!(
            "| 1-step invocation (Greeter/Greet) | {concurrency} | {} | {} | {:.0} invocations/s |",
            ms(f.median),
            ms(f.p99),
            f.per_second
        ));
    }
    const STEPS: usize = 10;
    for (concurrency, total) in [(1usize, 40usize), (64, 640)] {
        // Each chain key runs exclusively: every chain has a key of its own.
        let chain =
            move |i| Target::keyed("scenarios.v1.Chain", format!("c{concurrency}-{i}"), "Run");
        let f = measure(
            &engine,
            chain,
            r#"{"steps": 10}"#,
            concurrency,
            total,
            STEPS,
        )
        .await;
        println!(
            "chain of {STEPS} durable steps, concurrency {concurrency}: median {} per chain, p99 {}, {:.0} durable steps/s",
            ms(f.median),
            ms(f.p99),
            f.per_second
        );
        rows.push(format!(
            "| {STEPS}-step chain (ctx.run + state each step) | {concurrency} | {} | {} | {:.0} durable steps/s |",
            ms(f.median),
            ms(f.p99),
            f.per_second
        ));
    }
    engine.shutdown().await;

    let body = format!(
        "## Embedded engine\n\nMeasured by `cargo bench --bench engine` on this machine ({}), database on the local disk (WAL, `synchronous=FULL`), generated services with JSON payloads, calls made in-process through `Engine::call`. fsync floor of the same disk, same run: **{}** per 4 KiB write + fdatasync (median of 200).\n\n| workload | concurrency | latency median | latency p99 | throughput |\n| --- | --- | --- | --- | --- |\n{}\n\nEach `ctx.run` result is committed to the journal before the handler goes on, and state writes are journaled as they arrive. One fsync at the floor above allows at most {:.0} commits/s; the steps of many invocations share a commit (group commit), which is how throughput at concurrency 64 goes past that.",
        machine(),
        ms(floor),
        rows.join("\n"),
        1.0 / floor.as_secs_f64()
    );
    write_section("engine", &body);
}
