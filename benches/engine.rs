//! The embedded engine's speed, measured (not asserted): invocation latency and throughput at
//! concurrency 1 and 64, durable steps per second, and the disk's fsync floor in the same run.
//! Writes its figures into docs/BENCHMARKS.md (between the `engine` markers).
//!
//! ```sh
//! cargo bench --bench engine
//! ```

use restate_rs::engine::{Engine, Target};
use restate_rs::prelude::*;
use restate_rs_examples::proto::hydra::v1::GreeterServer;
use restate_rs_examples::proto::scenarios::v1::ChainServer;
use restate_rs_examples::services::Greetings;
use restate_rs_examples::services::scenarios::Chain;
use std::io::Write;
use std::time::{Duration, Instant};

struct Figures {
    median: Duration,
    p99: Duration,
    per_second: f64,
}

fn summarize(mut samples: Vec<Duration>, elapsed: Duration, units: usize) -> Figures {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Figures {
        median: at(0.5),
        p99: at(0.99),
        per_second: units as f64 / elapsed.as_secs_f64(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Median time of a 4 KiB write followed by fdatasync, in the directory of the database.
fn fsync_floor(dir: &std::path::Path) -> Duration {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let block = vec![7u8; 4096];
    let mut samples = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        file.write_all(&block).unwrap();
        file.sync_data().unwrap();
        samples.push(started.elapsed());
    }
    let _ = std::fs::remove_file(path);
    summarize(samples, Duration::from_secs(1), 1).median
}

/// `total` invocations of `target` with `body`, `concurrency` at a time.
async fn drive(
    engine: &Engine,
    target: Target,
    body: &'static str,
    concurrency: usize,
    total: usize,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let per_task = total / concurrency;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (engine, target) = (engine.clone(), target.clone());
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let begun = Instant::now();
                    engine
                        .call(target.clone(), body)
                        .await
                        .expect("the call succeeds");
                    samples.push(begun.elapsed());
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(total);
    for task in tasks {
        samples.extend(task.await.unwrap());
    }
    (samples, started.elapsed())
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
    let greet = Target::service("hydra.v1.Greeter", "Greet");
    // Warm up.
    drive(&engine, greet.clone(), r#"{"name": "warm"}"#, 4, 200).await;

    let mut rows = Vec::new();
    for (concurrency, total) in [(1usize, 400usize), (64, 3200)] {
        let (samples, elapsed) = drive(
            &engine,
            greet.clone(),
            r#"{"name": "bench"}"#,
            concurrency,
            total,
        )
        .await;
        let f = summarize(samples, elapsed, total);
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
        // Each chain key runs exclusively; spread the load over as many keys as tasks.
        let started = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|task| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let mut samples = Vec::new();
                    for i in 0..total / concurrency {
                        let target = Target::keyed(
                            "scenarios.v1.Chain",
                            format!("c{concurrency}-{task}-{i}"),
                            "Run",
                        );
                        let begun = Instant::now();
                        engine
                            .call(target, r#"{"steps": 10}"#)
                            .await
                            .expect("the chain runs");
                        samples.push(begun.elapsed());
                    }
                    samples
                })
            })
            .collect();
        let mut samples = Vec::new();
        for task in tasks {
            samples.extend(task.await.unwrap());
        }
        let f = summarize(samples, started.elapsed(), total * STEPS);
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

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let section = format!(
        "<!-- engine:begin -->\n## Embedded engine\n\nMeasured by `cargo bench --bench engine` on this machine ({cores} cores), database on the local disk (WAL, `synchronous=FULL`), generated services with JSON payloads, calls made in-process through `Engine::call`. fsync floor of the same disk, same run: **{}** per 4 KiB write + fdatasync (median of 200).\n\n| workload | concurrency | latency median | latency p99 | throughput |\n| --- | --- | --- | --- | --- |\n{}\n\nEach `ctx.run` result is committed to the journal before the handler goes on, and state writes are journaled as they arrive. One fsync at the floor above allows at most {:.0} commits/s; the steps of many invocations share a commit (group commit), which is how throughput at concurrency 64 goes past that.\n<!-- engine:end -->\n",
        ms(floor),
        rows.join("\n"),
        1.0 / floor.as_secs_f64()
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/BENCHMARKS.md");
    let current = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n\nFigures from real runs; each section says the command that reproduces it.\n\n".to_owned());
    let updated = match (
        current.find("<!-- engine:begin -->"),
        current.find("<!-- engine:end -->"),
    ) {
        (Some(start), Some(end)) => format!(
            "{}{}{}",
            &current[..start],
            section,
            &current[end + "<!-- engine:end -->\n".len().min(current.len() - end)..]
        ),
        _ => format!("{current}{section}"),
    };
    std::fs::write(&path, updated).unwrap();
    println!("wrote {}", path.display());
}
