//! A soak of the embedded engine: 1 000 000 invocations of `scenarios.v1.Ephemeral/Echo`
//! (whose proto declares a journal retention of 1 s and an idempotency retention of 2 s) on
//! one file, 64 at a time, half of them with an idempotency key. Per 100 000: throughput,
//! latency and the size of the file (database + WAL). Once retention takes effect (records
//! are purged within the cleanup interval of their expiry, 1 s by default) the file must stop
//! growing, and the last tenth must run within 10 % of the first; the bench says whether both
//! held, writes its figures into docs/BENCHMARKS.md (between the `soak` markers), and exits 1
//! when one did not.
//!
//! ```sh
//! cargo bench --bench soak                  # 1 000 000 invocations
//! SOAK_TOTAL=200000 cargo bench --bench soak
//! ```

#[path = "support/mod.rs"]
mod support;

use restate_rs::engine::{Engine, InvokeOptions, Target};
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::EphemeralServer;
use restate_rs_examples::services::sweep::Ephemeral;
use std::path::Path;
use support::{Side, drive, fsync_floor, machine, ms, write_section};

const CONCURRENCY: usize = 64;
const SLICES: usize = 10;

/// The bytes the engine's files take on disk.
fn file_size(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).ok())
        .map(|m| m.len())
        .sum()
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("SOAK_TOTAL")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1_000_000);
    let slice = total / SLICES;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-soak");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let floor = fsync_floor(&dir);
    let db = dir.join("engine.db");
    let endpoint = Endpoint::builder()
        .bind(EphemeralServer::new(Ephemeral))
        .build();
    let engine = Engine::builder(endpoint).open(&db).await.unwrap();
    println!(
        "soak: {total} invocations, {CONCURRENCY} at a time; fsync floor {}",
        ms(floor)
    );

    let mut rows = Vec::new();
    let mut throughputs = Vec::new();
    let mut sizes = Vec::new();
    let started = std::time::Instant::now();
    for n in 0..SLICES {
        let engine = engine.clone();
        let first = n * slice;
        let round = drive(CONCURRENCY, slice, move |i| {
            let engine = engine.clone();
            let i = first + i;
            async move {
                let options = InvokeOptions {
                    idempotency_key: i.is_multiple_of(2).then(|| format!("soak-{i}")),
                    ..Default::default()
                };
                let submitted = engine
                    .invoke(
                        Target::service("scenarios.v1.Ephemeral", "Echo"),
                        format!(r#"{{"tag":"{i}"}}"#),
                        options,
                    )
                    .await
                    .expect("the engine accepts");
                engine
                    .attach(&submitted.invocation_id)
                    .await
                    .expect("the invocation completes");
            }
        })
        .await;
        let mut side = Side::default();
        side.add(round, slice);
        let f = side.figures();
        let size = file_size(&db);
        let row = format!(
            "| {} – {} | {:.1} s | {:.0} | {} | {} | {} |",
            first + 1,
            first + slice,
            started.elapsed().as_secs_f64(),
            f.per_second,
            ms(f.median),
            ms(f.p99),
            mib(size)
        );
        println!("{row}");
        rows.push(row);
        throughputs.push(f.per_second);
        sizes.push(size);
    }
    engine.shutdown().await;

    // Retention takes effect once the first records expire and the cleanup has run (2 s + up
    // to 1 s): from then on the largest size seen must not grow by more than a WAL's worth.
    let settled = started.elapsed().as_secs_f64() > 10.0;
    let half = SLICES / 2;
    let first_half_max = *sizes[..half].iter().max().unwrap();
    let second_half_max = *sizes[half..].iter().max().unwrap();
    let bounded = second_half_max <= first_half_max + 16 * 1024 * 1024;
    let (first_tenth, last_tenth) = (throughputs[0], throughputs[SLICES - 1]);
    let steady = last_tenth >= 0.9 * first_tenth;
    let verdict = |ok: bool| if ok { "held" } else { "did NOT hold" };
    println!(
        "file bounded: {} (largest in the first half {}, in the second {}); throughput steady: {} (last tenth {:.0}/s, first {:.0}/s, {:.2}×)",
        verdict(bounded),
        mib(first_half_max),
        mib(second_half_max),
        verdict(steady),
        last_tenth,
        first_tenth,
        last_tenth / first_tenth
    );
    if !settled {
        println!(
            "(the run was shorter than the time retention needs to take effect: SOAK_TOTAL is too small to judge)"
        );
    }

    let body = format!(
        "## Soak: {total} invocations on one file, retention declared in the proto\n\n\
         `cargo bench --bench soak` ({}, fsync floor {} in the same run). `scenarios.v1.Ephemeral/Echo`, whose proto declares \
         `journal_retention: \"1s\"` and `idempotency_retention: \"2s\"`, called {CONCURRENCY} at a time through \
         `Engine::invoke` + `attach`, every other call with an idempotency key; the engine's default cleanup interval \
         (1 s: a record goes about a second after its expiry). File size is the database, its WAL and shared memory after \
         each 100 000th invocation.\n\n\
         | invocations | elapsed | invocations/s | median | p99 | file |\n| --- | --- | --- | --- | --- | --- |\n{}\n\n\
         File bounded once retention takes effect: **{}** (largest size in the first half {}, in the second half {}). \
         Last tenth's throughput within 10 % of the first: **{}** ({:.0}/s vs {:.0}/s, {:.2}×).\n",
        machine(),
        ms(floor),
        rows.join("\n"),
        verdict(bounded),
        mib(first_half_max),
        mib(second_half_max),
        verdict(steady),
        last_tenth,
        first_tenth,
        last_tenth / first_tenth,
    );
    if total >= 1_000_000 {
        write_section("soak", &body);
    } else {
        println!("(not written to docs/BENCHMARKS.md: fewer than 1 000 000 invocations)");
    }
    if settled && !(bounded && steady) {
        std::process::exit(1);
    }
}
