//! The same generated services on the embedded engine and on restate-server, in one run:
//! latency (median, p99) and throughput at concurrency 1 and 64, for a 1-step invocation
//! (`hydra.v1.Greeter/Greet`) and a 3-step chain (`scenarios.v1.Chain/Run` with
//! `{"steps": 3}`: three `ctx.run` steps, each followed by a state write), rounds interleaved
//! engine, server, server, engine, ..., with the disk's fsync floor measured in the same run.
//! Both sides are called through the generated ingress clients: over HTTP for restate-server,
//! in-process (`engine.ingress()`) for the engine. Writes its figures into docs/BENCHMARKS.md
//! (between the `engine-vs-server` markers).
//!
//! ```sh
//! scripts/install-tools.sh      # once: restate-server into .tools/
//! cargo bench --bench engine_vs_server
//! ```

#[path = "support/mod.rs"]
mod support;

use restate_rs::engine::Engine;
use restate_rs::ingress::IngressClient;
use restate_rs::prelude::*;
use restate_rs::serve::Server;
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::hydra::v1::{GreetRequest, GreeterIngressClient, GreeterServer};
use restate_rs_examples::proto::scenarios::v1::{ChainIngressClient, ChainRequest, ChainServer};
use restate_rs_examples::services::Greetings;
use restate_rs_examples::services::scenarios::Chain;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{
    Side, cpu_ns, drive, fsync_floor, machine, ms, paired_cpu_ratio, paired_ratios, write_section,
};

const STEPS: u32 = 3;

fn endpoint() -> Endpoint {
    Endpoint::builder()
        .bind(GreeterServer::new(Greetings))
        .bind(ChainServer::new(Chain { log: None }))
        .build()
}

/// The generated clients over one ingress, and a counter that makes every chain key new.
#[derive(Clone)]
struct Clients {
    name: &'static str,
    greeter: Arc<GreeterIngressClient>,
    chain: Arc<ChainIngressClient>,
    keys: Arc<AtomicUsize>,
}

impl Clients {
    fn new(name: &'static str, ingress: IngressClient) -> Self {
        Self {
            name,
            greeter: Arc::new(GreeterIngressClient::new(ingress.clone())),
            chain: Arc::new(ChainIngressClient::new(ingress)),
            keys: Arc::new(AtomicUsize::new(0)),
        }
    }

    async fn greet(&self, i: usize) {
        self.greeter
            .greet(GreetRequest {
                name: format!("n{i}"),
            })
            .call()
            .await
            .expect("the greeting succeeds");
    }

    async fn chain(&self) {
        // Each key runs exclusively and keeps its count: a fresh key per call.
        let key = format!(
            "{}-{}",
            self.name,
            self.keys.fetch_add(1, Ordering::Relaxed)
        );
        let result = self
            .chain
            .run(key, ChainRequest { steps: STEPS })
            .call()
            .await
            .expect("the chain runs");
        assert_eq!(result.count, STEPS);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Greet,
    Chain,
}

impl Workload {
    fn label(self) -> String {
        match self {
            Self::Greet => "1-step invocation (Greeter/Greet)".to_owned(),
            Self::Chain => format!("{STEPS}-step chain (Chain/Run: ctx.run + state, {STEPS}×)"),
        }
    }
}

struct Row {
    workload: Workload,
    concurrency: usize,
    engine: Side,
    server: Side,
    /// restate-server's CPU time during the engine's rounds.
    server_meanwhile_ns: u64,
}

async fn run(
    clients: &Clients,
    workload: Workload,
    concurrency: usize,
    total: usize,
) -> support::Round {
    let clients = clients.clone();
    drive(concurrency, total, move |i| {
        let clients = clients.clone();
        async move {
            match workload {
                Workload::Greet => clients.greet(i).await,
                Workload::Chain => clients.chain().await,
            }
        }
    })
    .await
}

async fn compare(
    engine: &Clients,
    server: &Clients,
    workload: Workload,
    concurrency: usize,
    rounds: usize,
    per_round: usize,
    server_pid: u32,
) -> Row {
    let mut row = Row {
        workload,
        concurrency,
        engine: Side::default(),
        server: Side::default(),
        server_meanwhile_ns: 0,
    };
    for round in 0..rounds {
        let engine_first = round % 2 == 0;
        for turn in 0..2 {
            let other = || cpu_ns(&server_pid.to_string());
            let (own_before, other_before) = (cpu_ns("self"), other());
            if (turn == 0) == engine_first {
                let r = run(engine, workload, concurrency, per_round).await;
                row.engine.add(r, per_round);
                // restate-server's CPU meanwhile (it is idle then) is recorded apart.
                let (own, other) = (cpu_ns("self") - own_before, other() - other_before);
                row.engine.add_cpu(own, 0, per_round);
                row.server_meanwhile_ns += other;
            } else {
                let r = run(server, workload, concurrency, per_round).await;
                row.server.add(r, per_round);
                let (own, other) = (cpu_ns("self") - own_before, other() - other_before);
                row.server.add_cpu(own, other, per_round);
            }
        }
    }
    let (e, s) = (row.engine.figures(), row.server.figures());
    println!(
        "{} c={concurrency}: engine median {} p99 {} {:.0}/s | server median {} p99 {} {:.0}/s | engine/server median {:.3} throughput {:.3}",
        workload.label(),
        ms(e.median),
        ms(e.p99),
        e.per_second,
        ms(s.median),
        ms(s.p99),
        s.per_second,
        e.median.as_secs_f64() / s.median.as_secs_f64(),
        e.per_second / s.per_second,
    );
    row
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-engine-vs-server");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let floor_before = fsync_floor(&dir);
    println!(
        "fsync floor (4 KiB write + fdatasync, median of 200): {}",
        ms(floor_before)
    );

    let engine = Engine::builder(endpoint())
        .open(dir.join("engine.db"))
        .await?;
    let server = RestateServer::builder()
        .npm_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools"))
        .start()
        .await?;
    let running = Server::bind(endpoint(), "127.0.0.1:0").await?.spawn();
    server.register(&running.url()).await?;

    let on_engine = Clients::new("engine", engine.ingress());
    let on_server = Clients::new("server", server.ingress());

    // Warm up both.
    for clients in [&on_engine, &on_server] {
        run(clients, Workload::Greet, 8, 400).await;
        run(clients, Workload::Chain, 8, 80).await;
    }

    // What restate-server burns while nobody calls it: it runs alongside the engine rounds.
    let idle_before = cpu_ns(&server.pid().to_string());
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let server_idle = (cpu_ns(&server.pid().to_string()) - idle_before) as f64 / 2e9 * 100.0;
    println!("restate-server idle: {server_idle:.1}% of a core");

    let mut rows = Vec::new();
    for (workload, concurrency, rounds, per_round) in [
        (Workload::Greet, 1usize, 20usize, 150usize),
        (Workload::Greet, 64, 20, 640),
        (Workload::Chain, 1, 20, 40),
        (Workload::Chain, 64, 20, 256),
    ] {
        rows.push(
            compare(
                &on_engine,
                &on_server,
                workload,
                concurrency,
                rounds,
                per_round,
                server.pid(),
            )
            .await,
        );
    }

    running.stop().await;
    drop(server);
    engine.shutdown().await;
    let floor_after = fsync_floor(&dir);
    println!("fsync floor after: {}", ms(floor_after));

    let mut table = String::from(
        "| workload | concurrency | side | calls | latency median | latency p99 | throughput | CPU per call |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in &rows {
        for (name, side) in [
            ("embedded engine", &row.engine),
            ("restate-server", &row.server),
        ] {
            let f = side.figures();
            let unit = match row.workload {
                Workload::Greet => format!("{:.0} invocations/s", f.per_second),
                Workload::Chain => format!(
                    "{:.0} chains/s ({:.0} durable steps/s)",
                    f.per_second,
                    f.per_second * f64::from(STEPS)
                ),
            };
            let (own, server) = side.cpu_us();
            let cpu = if name == "restate-server" {
                format!(
                    "{:.0} µs ({own:.0} this process + {server:.0} restate-server)",
                    own + server
                )
            } else {
                let _ = server;
                format!(
                    "{own:.0} µs (this process; restate-server, idle, {:.0} meanwhile)",
                    row.server_meanwhile_ns as f64 / side.units.max(1) as f64 / 1000.0
                )
            };
            table.push_str(&format!(
                "| {} | {} | {name} | {} | {} | {} | {unit} | {cpu} |\n",
                row.workload.label(),
                row.concurrency,
                f.calls,
                ms(f.median),
                ms(f.p99),
            ));
        }
    }
    table.push_str(
        "\nRatios engine / restate-server (latency below 1: the engine answers sooner; throughput above 1: the engine does more). Paired: median over rounds of the ratio of adjacent rounds, with the smallest and largest.\n\n| workload | concurrency | median latency, pooled | p99 latency, pooled | throughput, pooled | median latency, paired [min, max] | throughput, paired [min, max] | CPU per call, paired [min, max] |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in &rows {
        let (e, s) = (row.engine.figures(), row.server.figures());
        let ((lm, llo, lhi), (tm, tlo, thi)) = paired_ratios(&row.engine, &row.server);
        let (cm, clo, chi) = paired_cpu_ratio(&row.engine, &row.server);
        table.push_str(&format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {lm:.3} [{llo:.3}, {lhi:.3}] | {tm:.3} [{tlo:.3}, {thi:.3}] | {cm:.3} [{clo:.3}, {chi:.3}] |\n",
            row.workload.label(),
            row.concurrency,
            e.median.as_secs_f64() / s.median.as_secs_f64(),
            e.p99.as_secs_f64() / s.p99.as_secs_f64(),
            e.per_second / s.per_second,
        ));
    }

    let body = format!(
        "## Embedded engine against restate-server\n\n\
         Measured by `cargo bench --bench engine_vs_server` (after `scripts/install-tools.sh`) on this machine ({machine}), one run, both engines on the same disk: the engine's SQLite file under `target/bench-engine-vs-server/` (WAL, `synchronous=FULL`), restate-server {version}'s data directory under the system temp directory, on the same filesystem. fsync floor of that disk, same run: **{}** per 4 KiB write + fdatasync (median of 200) before the rounds, **{}** after.\n\n\
         The same generated services (`GreeterServer::new(Greetings)` and `ChainServer::new(Chain {{ log: None }})`) run on both: on the engine in-process, on restate-server behind `restate_rs::serve::Server` (HTTP/2 cleartext, loopback). Both are called through the same generated ingress clients (`GreeterIngressClient`, `ChainIngressClient`): for the engine over `engine.ingress()`, the in-process ingress client (no port, no HTTP), for restate-server over HTTP to its ingress. restate-server keeps running during the engine's rounds (idle, it used {server_idle:.1}% of a core over 2 s measured after the warm-up; the table shows its CPU per engine call meanwhile). Rounds alternate between the two (engine, server, server, engine, ...): 20 rounds per side of 150 greetings at concurrency 1 and of 640 at concurrency 64, 20 rounds of 40 chains at concurrency 1 and of 256 at concurrency 64; every chain has a key of its own (the object is exclusive per key). A chain is one invocation of `scenarios.v1.Chain/Run` with `{{\"steps\": {STEPS}}}`: {STEPS} named `ctx.run` steps, each followed by a state read and write; latency is per chain. CPU per call is read from `/proc/<pid>/task/*/schedstat` of this process (client, engine, services; or client and endpoint) and of restate-server.\n\n{table}",
        ms(floor_before),
        ms(floor_after),
        machine = machine(),
        version = restate_rs::testing::RESTATE_SERVER_VERSION,
    );
    write_section("engine-vs-server", &body);
    Ok(())
}
