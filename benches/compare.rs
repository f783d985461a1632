//! A generated service against the same service written with restate-sdk's own macros, both
//! bound in one endpoint and registered on one restate-server, called through its ingress with
//! the same client: end-to-end latency (median, p99) and throughput at concurrency 1 and 64,
//! rounds interleaved A, B, A, B so that drift hits both sides alike, and the ratio. Then the
//! same pair on the in-memory embedded engine, to see the service side without the server.
//! Writes its figures into docs/BENCHMARKS.md (between the `compare` markers).
//!
//! ```sh
//! scripts/install-tools.sh      # once: restate-server into .tools/
//! cargo bench --bench compare
//! ```

#[path = "support/mod.rs"]
mod support;

use restate_rs::codec::Json as JsonCodec;
use restate_rs::engine::{Engine, Target as EngineTarget};
use restate_rs::ingress::{IngressClient, Target};
use restate_rs::prelude::*;
use restate_rs::serve::Server;
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::hydra::v1::GreeterServer;
use restate_rs_examples::services::Greetings;
use serde_json::{Value, json};
use support::{Side, cpu_ns, drive, machine, ms, paired_cpu_ratio, paired_ratios, write_section};

/// `hydra.v1.Greeter` written by hand with restate-sdk's macros, as users would without us.
mod hand {
    // The macro generates a client whose methods have no docs.
    #![allow(missing_docs)]

    use restate_rs::prelude::*;
    use restate_sdk::serde::Json;
    use serde::{Deserialize, Serialize};

    /// The request of `bench.HandGreeter/Greet`: the JSON shape of `hydra.v1.GreetRequest`.
    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    pub(crate) struct GreetIn {
        name: String,
    }

    /// The response: the JSON shape of `hydra.v1.GreetResponse`.
    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(crate) struct GreetOut {
        message: String,
    }

    /// `hydra.v1.Greeter` (src/services/greeter.rs) written by hand with restate-sdk's macros.
    pub(crate) struct HandGreeter;

    #[restate_sdk::service(name = "bench.HandGreeter", client_visibility = "pub(crate)")]
    impl HandGreeter {
        #[handler(name = "Greet")]
        async fn greet(
            &self,
            _ctx: Context<'_>,
            request: Json<GreetIn>,
        ) -> HandlerResult<Json<GreetOut>> {
            let request = request.into_inner();
            if request.name.trim().is_empty() {
                return Err(TerminalError::new_with_code(400, "name must not be empty").into());
            }
            Ok(Json(GreetOut {
                message: format!("Hello, {}!", request.name),
            }))
        }
    }
}

use hand::HandGreeter;

const GENERATED: &str = "hydra.v1.Greeter";
const HAND: &str = "bench.HandGreeter";
/// Rounds per side in every setting.
const ROUNDS: usize = 32;

fn endpoint() -> Endpoint {
    Endpoint::builder()
        .bind(GreeterServer::new(Greetings))
        .bind(HandGreeter)
        .build()
}

/// One call through the ingress client, the same code for either service.
async fn call_ingress(ingress: &IngressClient, service: &'static str, i: usize) {
    let answer: Value = ingress
        .request::<Value, Value, JsonCodec>(
            Target::service(service, "Greet"),
            json!({ "name": format!("n{i}") }),
        )
        .call()
        .await
        .expect("the greeting succeeds");
    debug_assert!(answer["message"].is_string());
}

struct Row {
    setting: &'static str,
    concurrency: usize,
    generated: Side,
    hand: Side,
}

/// Interleaved rounds of `per_round` calls at `concurrency`: generated, hand, generated, ...
async fn compare<F, Fut>(
    setting: &'static str,
    concurrency: usize,
    rounds: usize,
    per_round: usize,
    server_pid: Option<u32>,
    call: F,
) -> Row
where
    F: Fn(&'static str, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (mut generated, mut hand) = (Side::default(), Side::default());
    for round in 0..rounds {
        // Alternate which side goes first, too: A B B A A B ...
        let order = if round % 2 == 0 {
            [GENERATED, HAND]
        } else {
            [HAND, GENERATED]
        };
        for service in order {
            let call = call.clone();
            let other = || server_pid.map_or(0, |pid| cpu_ns(&pid.to_string()));
            let (own_before, other_before) = (cpu_ns("self"), other());
            let r = drive(concurrency, per_round, move |i| call(service, i)).await;
            let (own, other) = (cpu_ns("self") - own_before, other() - other_before);
            let side = if service == GENERATED {
                &mut generated
            } else {
                &mut hand
            };
            side.add(r, per_round);
            side.add_cpu(own, other, per_round);
        }
    }
    let row = Row {
        setting,
        concurrency,
        generated,
        hand,
    };
    print_row(&row);
    row
}

fn print_row(row: &Row) {
    let (g, h) = (row.generated.figures(), row.hand.figures());
    println!(
        "{} c={}: generated median {} p99 {} {:.0}/s | macros median {} p99 {} {:.0}/s | ratio median {:.3} p99 {:.3} throughput {:.3} | CPU/call generated {:.1}+{:.1} µs, macros {:.1}+{:.1} µs, paired ratio {:.3}",
        row.setting,
        row.concurrency,
        ms(g.median),
        ms(g.p99),
        g.per_second,
        ms(h.median),
        ms(h.p99),
        h.per_second,
        g.median.as_secs_f64() / h.median.as_secs_f64(),
        g.p99.as_secs_f64() / h.p99.as_secs_f64(),
        g.per_second / h.per_second,
        row.generated.cpu_us().0,
        row.generated.cpu_us().1,
        row.hand.cpu_us().0,
        row.hand.cpu_us().1,
        paired_cpu_ratio(&row.generated, &row.hand).0,
    );
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| where | concurrency | side | calls | latency median | latency p99 | throughput | CPU per call: this process + restate-server |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        for (name, side) in [
            ("generated `hydra.v1.Greeter`", &row.generated),
            ("restate-sdk macros `bench.HandGreeter`", &row.hand),
        ] {
            let f = side.figures();
            let (own, server) = side.cpu_us();
            out.push_str(&format!(
                "| {} | {} | {name} | {} | {} | {} | {:.0} calls/s | {own:.1} + {server:.1} µs |\n",
                row.setting,
                row.concurrency,
                f.calls,
                ms(f.median),
                ms(f.p99),
                f.per_second
            ));
        }
    }
    out.push_str(
        "\nRatios generated / macros (latency: above 1 means the generated service is slower; throughput: below 1 means it is slower). Pooled: over all calls of each side. Paired: the median over rounds of the ratio of the two adjacent rounds, with the smallest and largest round ratio.\n\n| where | concurrency | median latency, pooled | p99 latency, pooled | throughput, pooled | median latency, paired [min, max] | throughput, paired [min, max] | CPU per call (both processes), paired [min, max] |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        let (g, h) = (row.generated.figures(), row.hand.figures());
        let ((lm, llo, lhi), (tm, tlo, thi)) = paired_ratios(&row.generated, &row.hand);
        let (cm, clo, chi) = paired_cpu_ratio(&row.generated, &row.hand);
        out.push_str(&format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {lm:.3} [{llo:.3}, {lhi:.3}] | {tm:.3} [{tlo:.3}, {thi:.3}] | {cm:.3} [{clo:.3}, {chi:.3}] |\n",
            row.setting,
            row.concurrency,
            g.median.as_secs_f64() / h.median.as_secs_f64(),
            g.p99.as_secs_f64() / h.p99.as_secs_f64(),
            g.per_second / h.per_second,
        ));
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = RestateServer::builder()
        .npm_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools"))
        .start()
        .await?;
    let running = Server::bind(endpoint(), "127.0.0.1:0").await?.spawn();
    server.register(&running.url()).await?;
    let ingress = server.ingress();

    // Warm up both sides (connections, the server's deployment caches).
    for service in [GENERATED, HAND] {
        let ingress = ingress.clone();
        drive(8, 400, move |i| {
            let ingress = ingress.clone();
            async move { call_ingress(&ingress, service, i).await }
        })
        .await;
    }

    let mut rows = Vec::new();
    let server_pid = Some(server.pid());
    for (concurrency, rounds, per_round) in [(1usize, ROUNDS, 100usize), (64, ROUNDS, 512)] {
        let ingress = ingress.clone();
        rows.push(
            compare(
                "restate-server",
                concurrency,
                rounds,
                per_round,
                server_pid,
                move |service, i| {
                    let ingress = ingress.clone();
                    async move { call_ingress(&ingress, service, i).await }
                },
            )
            .await,
        );
    }
    running.stop().await;
    drop(server);

    // The service side alone: the same two services on the embedded engine, in memory,
    // called in-process with the same bytes. No network, no server, no disk.
    let engine = Engine::builder(endpoint()).in_memory().await?;
    for service in [GENERATED, HAND] {
        let engine = engine.clone();
        drive(4, 2000, move |_| {
            let engine = engine.clone();
            async move {
                engine
                    .call(
                        EngineTarget::service(service, "Greet"),
                        r#"{"name":"warm"}"#,
                    )
                    .await
                    .expect("the greeting succeeds");
            }
        })
        .await;
    }
    for (concurrency, rounds, per_round) in [(1usize, ROUNDS, 500usize), (64, ROUNDS, 2048)] {
        let engine = engine.clone();
        rows.push(
            compare(
                "embedded engine, in memory",
                concurrency,
                rounds,
                per_round,
                None,
                move |service, _| {
                    let engine = engine.clone();
                    async move {
                        engine
                            .call(
                                EngineTarget::service(service, "Greet"),
                                r#"{"name":"bench"}"#,
                            )
                            .await
                            .expect("the greeting succeeds");
                    }
                },
            )
            .await,
        );
    }
    engine.shutdown().await;

    let body = format!(
        "## Generated service against restate-sdk macros\n\n\
         Measured by `cargo bench --bench compare` (after `scripts/install-tools.sh`) on this machine ({machine}), restate-server {version} started by the bench on loopback.\n\n\
         Both services are bound in one endpoint (`restate_rs::serve::Server`, HTTP/2 cleartext) and registered on one restate-server: the generated `hydra.v1.Greeter` (`GreeterServer::new(Greetings)`, src/services/greeter.rs) and the same greeter written with `#[restate_sdk::service(name = \"bench.HandGreeter\")]` and `#[handler(name = \"Greet\")]`, taking and returning serde structs through `restate_sdk::serde::Json` (benches/compare.rs). Both are called through restate-server's ingress with one client, `restate_rs::ingress::IngressClient::request::<serde_json::Value, serde_json::Value, restate_rs::codec::Json>`, the same `{{\"name\": ...}}` body; only the service side differs. Rounds alternate between the two sides (generated, macros, macros, generated, ...): {ROUNDS} rounds per side of 100 calls at concurrency 1 and of 512 calls at concurrency 64 (64 tasks, each calling in sequence). Besides latency and throughput, the CPU time each round took is read from `/proc/<pid>/task/*/schedstat`, for this process (the client and the endpoint: the client's share is the same for both sides) and for restate-server; CPU per call is less disturbed than wall time by whatever else the machine runs. The second setting runs the same two services on the embedded engine in memory, called in-process with `Engine::call` ({ROUNDS} rounds per side of 500 and 2048 calls): the service side without network, server or disk.\n\n{}",
        table(&rows),
        machine = machine(),
        version = restate_rs::testing::RESTATE_SERVER_VERSION,
    );
    write_section("compare", &body);
    Ok(())
}
