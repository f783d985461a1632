//! The embedded engine's speed, measured (not asserted), in one run:
//! - the curve: a 1-step call (`hydra.v1.Greeter/Greet`, made in-process with `Engine::call`)
//!   at concurrency 1, 4, 16, 64 and 256, with latency median and p99, throughput and CPU per
//!   call (all threads of the process), on a file holding no completed invocation and then
//!   one holding 1 000 000;
//! - the same call on an engine in memory (no disk): what the engine costs in CPU;
//! - chains of 10 durable steps (`ctx.run` + a state write each) at concurrency 1 and 64;
//! - the disk's fsync floor.
//!
//! Writes its figures into docs/BENCHMARKS.md (between the `engine` markers).
//!
//! ```sh
//! cargo bench --bench engine
//! # a shorter history than 1 000 000 invocations:
//! ENGINE_BENCH_HISTORY=100000 cargo bench --bench engine
//! # for a profile: only calls at concurrency 64, in memory (=1) or on a new file (=file)
//! ENGINE_BENCH_PROFILE=1 perf record -g cargo bench --bench engine
//! ENGINE_BENCH_PROFILE=file perf record -g cargo bench --bench engine
//! ```

#[path = "support/mod.rs"]
mod support;

use restate_rs::engine::{Engine, Target};
use restate_rs::prelude::*;
use restate_rs_examples::proto::hydra::v1::GreeterServer;
use restate_rs_examples::proto::scenarios::v1::ChainServer;
use restate_rs_examples::services::Greetings;
use restate_rs_examples::services::scenarios::Chain;
use std::time::Instant;
use support::{Figures, Side, cpu_ns, drive, fsync_floor, machine, ms, write_section};

/// Figures of one round, with the CPU time of the whole process per call.
struct Measured {
    figures: Figures,
    cpu_us_per_call: f64,
}

/// `total` calls of `target(i)` with `body`, `concurrency` at a time; the figures with
/// `units_per_call` units of work per call.
async fn measure(
    engine: &Engine,
    target: impl Fn(usize) -> Target + Clone + Send + Sync + 'static,
    body: &'static str,
    concurrency: usize,
    total: usize,
    units_per_call: usize,
) -> Measured {
    let engine = engine.clone();
    let cpu_before = cpu_ns("self");
    let round = drive(concurrency, total, move |i| {
        let (engine, target) = (engine.clone(), target(i));
        async move {
            engine.call(target, body).await.expect("the call succeeds");
        }
    })
    .await;
    let cpu = cpu_ns("self").saturating_sub(cpu_before);
    let mut side = Side::default();
    side.add(round, total * units_per_call);
    Measured {
        figures: side.figures(),
        cpu_us_per_call: cpu as f64 / 1000.0 / total as f64,
    }
}

fn endpoint() -> Endpoint {
    Endpoint::builder()
        .bind(GreeterServer::new(Greetings))
        .bind(ChainServer::new(Chain { log: None }))
        .build()
}

fn greet(_: usize) -> Target {
    Target::service("hydra.v1.Greeter", "Greet")
}

const CONCURRENCY: [usize; 5] = [1, 4, 16, 64, 256];

/// Calls per round at `concurrency`: about a second of work each.
fn calls_at(concurrency: usize) -> usize {
    match concurrency {
        1 => 1_000,
        4 => 3_000,
        _ => 8_000,
    }
}

/// The curve's rows for `engine`, labelled with `history`.
async fn curve(engine: &Engine, history: &str, rows: &mut Vec<String>) {
    for concurrency in CONCURRENCY {
        let m = measure(
            engine,
            greet,
            r#"{"name": "bench"}"#,
            concurrency,
            calls_at(concurrency),
            1,
        )
        .await;
        let f = &m.figures;
        println!(
            "greet, {history}, concurrency {concurrency}: median {}, p99 {}, {:.0} calls/s, {:.0} µs CPU per call",
            ms(f.median),
            ms(f.p99),
            f.per_second,
            m.cpu_us_per_call
        );
        rows.push(format!(
            "| {history} | {concurrency} | {} | {} | {:.0} calls/s | {:.0} µs |",
            ms(f.median),
            ms(f.p99),
            f.per_second,
            m.cpu_us_per_call
        ));
    }
}

#[tokio::main]
async fn main() {
    if let Some(mode) = std::env::var_os("ENGINE_BENCH_PROFILE") {
        // `file`: on a new file in target/; anything else: in memory.
        let (engine, place) = if mode == "file" {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-profile");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let engine = Engine::builder(endpoint())
                .open(dir.join("engine.db"))
                .await
                .unwrap();
            (engine, "on a file")
        } else {
            (
                Engine::builder(endpoint()).in_memory().await.unwrap(),
                "in memory",
            )
        };
        for _ in 0..10 {
            let m = measure(&engine, greet, r#"{"name": "p"}"#, 64, 20_000, 1).await;
            println!(
                "{place}, concurrency 64: {:.0} calls/s, {:.0} µs CPU per call",
                m.figures.per_second, m.cpu_us_per_call
            );
        }
        return;
    }
    let history: usize = std::env::var("ENGINE_BENCH_HISTORY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-engine");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let floor = fsync_floor(&dir);
    println!(
        "fsync floor (4 KiB write + fdatasync, median): {}",
        ms(floor)
    );

    let engine = Engine::builder(endpoint())
        .open(dir.join("engine.db"))
        .await
        .unwrap();
    // Warm up.
    measure(&engine, greet, r#"{"name": "warm"}"#, 4, 200, 1).await;

    let mut curve_rows = Vec::new();
    curve(&engine, "empty file", &mut curve_rows).await;

    let mut chain_rows = Vec::new();
    const STEPS: usize = 10;
    for (concurrency, total) in [(1usize, 100usize), (64, 1280)] {
        // Each chain key runs exclusively: every chain has a key of its own.
        let chain =
            move |i| Target::keyed("scenarios.v1.Chain", format!("c{concurrency}-{i}"), "Run");
        let m = measure(
            &engine,
            chain,
            r#"{"steps": 10}"#,
            concurrency,
            total,
            STEPS,
        )
        .await;
        let f = &m.figures;
        println!(
            "chain of {STEPS} durable steps, concurrency {concurrency}: median {} per chain, p99 {}, {:.0} durable steps/s",
            ms(f.median),
            ms(f.p99),
            f.per_second
        );
        chain_rows.push(format!(
            "| {STEPS}-step chain (ctx.run + state each step) | {concurrency} | {} | {} | {:.0} durable steps/s |",
            ms(f.median),
            ms(f.p99),
            f.per_second
        ));
    }

    // The history: completed invocations the engine itself made and keeps (the default
    // retention is a day), 256 at a time.
    let started = Instant::now();
    let made = drive(256, history, {
        let engine = engine.clone();
        move |_| {
            let engine = engine.clone();
            async move {
                engine
                    .call(greet(0), r#"{"name": "history"}"#)
                    .await
                    .expect("the call succeeds");
            }
        }
    })
    .await;
    let file_mib = std::fs::metadata(dir.join("engine.db")).map_or(0.0, |m| m.len() as f64)
        / (1024.0 * 1024.0);
    println!(
        "history: {} invocations in {:.1} s, file {file_mib:.0} MiB",
        made.samples.len(),
        started.elapsed().as_secs_f64()
    );
    let label = format!("{history} completed invocations in the file");
    curve(&engine, &label, &mut curve_rows).await;
    engine.shutdown().await;

    let memory = Engine::builder(endpoint()).in_memory().await.unwrap();
    measure(&memory, greet, r#"{"name": "warm"}"#, 4, 200, 1).await;
    let mut memory_rows = Vec::new();
    for concurrency in [1usize, 64] {
        let m = measure(
            &memory,
            greet,
            r#"{"name": "bench"}"#,
            concurrency,
            20_000,
            1,
        )
        .await;
        let f = &m.figures;
        println!(
            "greet, in memory, concurrency {concurrency}: median {}, p99 {}, {:.0} calls/s, {:.0} µs CPU per call",
            ms(f.median),
            ms(f.p99),
            f.per_second,
            m.cpu_us_per_call
        );
        memory_rows.push(format!(
            "| in memory | {concurrency} | {} | {} | {:.0} calls/s | {:.0} µs |",
            ms(f.median),
            ms(f.p99),
            f.per_second,
            m.cpu_us_per_call
        ));
    }
    memory.shutdown().await;

    let body = format!(
        "## Embedded engine\n\nMeasured by `cargo bench --bench engine` on this machine ({}), database on the local disk (WAL, `synchronous=FULL`), generated services with JSON payloads, calls made in-process through `Engine::call`. fsync floor of the same disk, same run: **{}** per 4 KiB write + fdatasync (median of 200).\n\nA 1-step call (`hydra.v1.Greeter/Greet`) by concurrency, on a new file and then on one holding {history} completed invocations (made by the engine in {:.0} s; file {file_mib:.0} MiB). CPU per call is the CPU time of every thread of the process (engine, endpoint, callers) over the round, divided by its calls.\n\n| file | concurrency | latency median | latency p99 | throughput | CPU per call |\n| --- | --- | --- | --- | --- | --- |\n{}\n{}\n\n| workload | concurrency | latency median | latency p99 | throughput |\n| --- | --- | --- | --- | --- |\n{}\n\nA call is committed once, with its result, before it is answered: the invocation, its journal and its output ride in that one commit, shared by every call that finishes at the same time (group commit). Each `ctx.run` result is committed before the handler sees it; state writes ride with it. One fsync at the floor above allows at most {:.0} commits/s.",
        machine(),
        ms(floor),
        made.elapsed.as_secs_f64(),
        curve_rows.join("\n"),
        memory_rows.join("\n"),
        chain_rows.join("\n"),
        1.0 / floor.as_secs_f64()
    );
    write_section("engine", &body);
}
