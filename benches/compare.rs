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
use support::{
    Side, cpu_ns, drive, machine, median_f64, ms, paired_cpu_ratio, paired_ratios, thread_cpu,
    write_section,
};

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

    /// `hydra.v1.Greeter` (src/services/greeter.rs) written by hand with restate-sdk's macros,
    /// stamped twice: the second copy, under another name, is the A/A control.
    macro_rules! hand_greeter {
        ($ty:ident, $name:tt) => {
            pub(crate) struct $ty;

            #[restate_sdk::service(name = $name, client_visibility = "pub(crate)")]
            impl $ty {
                #[handler(name = "Greet")]
                async fn greet(
                    &self,
                    _ctx: Context<'_>,
                    request: Json<GreetIn>,
                ) -> HandlerResult<Json<GreetOut>> {
                    let request = request.into_inner();
                    if request.name.trim().is_empty() {
                        return Err(
                            TerminalError::new_with_code(400, "name must not be empty").into()
                        );
                    }
                    Ok(Json(GreetOut {
                        message: format!("Hello, {}!", request.name),
                    }))
                }
            }
        };
    }

    hand_greeter!(HandGreeter, "bench.HandGreeter");
    hand_greeter!(HandGreeterB, "bench.HandGreeterB");
}

use hand::{HandGreeter, HandGreeterB};

const GENERATED: &str = "hydra.v1.Greeter";
const HAND: &str = "bench.HandGreeter";
/// The A/A control: the macro greeter again under another name.
const HAND_B: &str = "bench.HandGreeterB";
const SIDES: [&str; 3] = [GENERATED, HAND, HAND_B];
/// Rounds per side in every setting.
const ROUNDS: usize = 20;

fn endpoint() -> Endpoint {
    Endpoint::builder()
        .bind(GreeterServer::new(Greetings))
        .bind(HandGreeter)
        .bind(HandGreeterB)
        .build()
}

/// Batches per side when the endpoint is measured alone.
const ENDPOINT_BATCHES: usize = 151;
/// Invocations per batch when the endpoint is measured alone.
const ENDPOINT_BATCH: usize = 200;

/// The service side alone: each side's invocations handed to `Endpoint::handle` in-process
/// (start and input frames in, output and end frames out), on a thread of its own with a
/// current-thread runtime, timed in that thread's CPU time, batches interleaved. No engine,
/// server, network or disk: only what differs between the sides, plus the SDK's protocol work,
/// which is the same for both. Returns the section's table and verdict.
fn endpoint_alone() -> String {
    std::thread::spawn(|| {
        use http_body_util::BodyExt;
        use restate_rs::engine::probe;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let endpoint = endpoint();
        let input = bytes::Bytes::from_static(br#"{"name":"bench"}"#);
        let run = |service: &str, calls: usize| -> f64 {
            let requests: Vec<_> = (0..calls)
                .map(|_| probe::start_request(service, "Greet", "", input.clone()))
                .collect();
            let before = thread_cpu().expect("the thread's CPU clock");
            let last = runtime.block_on(async {
                let mut last = bytes::Bytes::new();
                for request in requests {
                    last = endpoint
                        .handle(request)
                        .into_body()
                        .collect()
                        .await
                        .expect("the endpoint answers")
                        .to_bytes();
                }
                last
            });
            let took = thread_cpu().expect("the thread's CPU clock") - before;
            let output = probe::output_value(&last).expect("the greeting succeeds");
            assert_eq!(&output[..], br#"{"message":"Hello, bench!"}"#, "{service}");
            took.as_nanos() as f64 / calls as f64
        };
        for service in SIDES {
            run(service, 2000);
        }
        let mut per_call: [Vec<f64>; 3] = Default::default();
        for batch in 0..ENDPOINT_BATCHES {
            let mut order = [0, 1, 2];
            order.rotate_left(batch % 3);
            if (batch / 3) % 2 == 1 {
                order.reverse();
            }
            for side in order {
                per_call[side].push(run(SIDES[side], ENDPOINT_BATCH));
            }
        }
        let paired = |a: usize| {
            let ratios: Vec<f64> = per_call[a]
                .iter()
                .zip(&per_call[1])
                .map(|(x, y)| x / y)
                .collect();
            let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let max = ratios.iter().copied().fold(0.0, f64::max);
            (median_f64(&ratios), min, max)
        };
        let mut out = String::from(
            "| side | CPU per invocation, median of batches | ratio to macros, paired median [min, max] |\n| --- | --- | --- |\n",
        );
        for (side, name) in [
            (0, "generated `hydra.v1.Greeter`"),
            (1, "restate-sdk macros `bench.HandGreeter`"),
            (2, "control: macros again, `bench.HandGreeterB`"),
        ] {
            let ratio = if side == 1 {
                "1".to_owned()
            } else {
                let (median, min, max) = paired(side);
                format!("{median:.3} [{min:.2}, {max:.2}]")
            };
            out.push_str(&format!(
                "| {name} | {:.0} ns | {ratio} |\n",
                median_f64(&per_call[side])
            ));
        }
        let (generated, control) = (paired(0).0, paired(2).0);
        let verdict = if (generated - 1.0).abs() <= 0.02 {
            "within 2%"
        } else {
            "not within 2%"
        };
        println!("endpoint alone: generated/macros {generated:.3}, control {control:.3}");
        out.push_str(&format!(
            "\nGenerated / macros, CPU per invocation, paired: **{generated:.3}** ({verdict}); A/A control **{control:.3}**.\n"
        ));
        out
    })
    .join()
    .expect("the endpoint measurement finishes")
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
    /// In the order of [`SIDES`].
    sides: Vec<Side>,
}

/// Interleaved rounds of `per_round` calls at `concurrency` on each side in turn; the order
/// rotates from round to round and runs backwards every other cycle, so that each side
/// goes first, second and last equally often.
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
    let mut sides = vec![Side::default(); SIDES.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..SIDES.len())
            .map(|i| (i + round) % SIDES.len())
            .collect();
        if (round / SIDES.len()) % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let (call, service) = (call.clone(), SIDES[i]);
            let other = || server_pid.map_or(0, |pid| cpu_ns(&pid.to_string()));
            let (own_before, other_before) = (cpu_ns("self"), other());
            let r = drive(concurrency, per_round, move |n| call(service, n)).await;
            let (own, other) = (cpu_ns("self") - own_before, other() - other_before);
            sides[i].add(r, per_round);
            sides[i].add_cpu(own, other, per_round);
        }
    }
    let row = Row {
        setting,
        concurrency,
        sides,
    };
    print_row(&row);
    row
}

/// Ratios of side `a` to side `b` of a row: pooled median, p99 and throughput, then paired
/// (median [min, max] over rounds) latency, throughput and CPU per call.
fn ratio_cells(row: &Row, a: usize, b: usize) -> String {
    let (x, y) = (&row.sides[a], &row.sides[b]);
    let (f, g) = (x.figures(), y.figures());
    let ((lm, llo, lhi), (tm, tlo, thi)) = paired_ratios(x, y);
    let (cm, clo, chi) = paired_cpu_ratio(x, y);
    format!(
        "{:.3} | {:.3} | {:.3} | {lm:.3} [{llo:.2}, {lhi:.2}] | {tm:.3} [{tlo:.2}, {thi:.2}] | {cm:.3} [{clo:.2}, {chi:.2}]",
        f.median.as_secs_f64() / g.median.as_secs_f64(),
        f.p99.as_secs_f64() / g.p99.as_secs_f64(),
        f.per_second / g.per_second,
    )
}

/// Whether the generated side's difference from the macro side is within 2%, or within what
/// the A/A control shows, by paired median latency, throughput and CPU per call; one line.
fn verdict(row: &Row) -> String {
    // Paired medians: a burst of load from elsewhere hits one round of one side, and moves
    // a pooled figure more than the median of the per-round ratios.
    let measures = |a: usize| {
        let (x, y) = (&row.sides[a], &row.sides[1]);
        let ((latency, _, _), (throughput, _, _)) = paired_ratios(x, y);
        [latency, throughput, paired_cpu_ratio(x, y).0]
    };
    let (generated, control) = (measures(0), measures(2));
    let worst = |v: &[f64; 3]| v.iter().map(|r| (r - 1.0).abs()).fold(0.0f64, f64::max);
    let (g, c) = (worst(&generated), worst(&control));
    format!(
        "- {}, concurrency {}: generated / macros, paired, {:.3} (median latency), {:.3} (throughput), {:.3} (CPU per call), at most {:.1}% from 1; A/A control {:.3}, {:.3}, {:.3}, at most {:.1}% from 1. {}",
        row.setting,
        row.concurrency,
        generated[0],
        generated[1],
        generated[2],
        g * 100.0,
        control[0],
        control[1],
        control[2],
        c * 100.0,
        if g <= 0.02 {
            "Within 2%."
        } else if g <= c {
            "Not within 2%, but no further from 1 than two identical services are in this run: noise, not a difference this run can resolve."
        } else {
            "Further from 1 than the control in this run (the control is one sample of the noise too): rerun on a quiet machine before reading it as a difference."
        }
    )
}

fn print_row(row: &Row) {
    for (i, side) in row.sides.iter().enumerate() {
        let f = side.figures();
        let (own, other) = side.cpu_us();
        println!(
            "{} c={} {:<20} median {} p99 {} {:.0} calls/s, CPU/call {own:.1} + {other:.1} µs",
            row.setting,
            row.concurrency,
            SIDES[i],
            ms(f.median),
            ms(f.p99),
            f.per_second,
        );
    }
    println!(
        "  generated/macros: {}\n  control macrosB/macros: {}",
        ratio_cells(row, 0, 1),
        ratio_cells(row, 2, 1)
    );
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| where | concurrency | side | calls | latency median | latency p99 | throughput | CPU per call: this process + restate-server |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        for (i, side) in row.sides.iter().enumerate() {
            let name = match i {
                0 => "generated `hydra.v1.Greeter`",
                1 => "restate-sdk macros `bench.HandGreeter`",
                _ => "control: macros again, `bench.HandGreeterB`",
            };
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
        "\nRatios to the macro greeter `bench.HandGreeter`: generated / macros, and the A/A control macros B / macros, which shows how far two identical services drift apart in this run. Latency above 1 and throughput below 1 mean slower than the macro greeter. Pooled: over all calls of each side. Paired: the median over rounds of the ratio of the two sides' rounds, [smallest, largest]. CPU per call counts both processes.\n\n| where | concurrency | ratio | median latency, pooled | p99 latency, pooled | throughput, pooled | median latency, paired | throughput, paired | CPU per call, paired |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        for (name, a) in [("generated / macros", 0), ("control: macros B / macros", 2)] {
            out.push_str(&format!(
                "| {} | {} | {name} | {} |\n",
                row.setting,
                row.concurrency,
                ratio_cells(row, a, 1)
            ));
        }
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
    for service in SIDES {
        let ingress = ingress.clone();
        drive(8, 400, move |i| {
            let ingress = ingress.clone();
            async move { call_ingress(&ingress, service, i).await }
        })
        .await;
    }

    let mut rows = Vec::new();
    let server_pid = Some(server.pid());
    for (concurrency, rounds, per_round) in [(1usize, ROUNDS, 80usize), (64, ROUNDS, 512)] {
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
    for service in SIDES {
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
    for (concurrency, rounds, per_round) in [(1usize, ROUNDS, 500usize), (64, ROUNDS, 1024)] {
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

    let alone = endpoint_alone();

    let body = format!(
        "## Generated service against restate-sdk macros\n\n\
         Measured by `cargo bench --bench compare` (after `scripts/install-tools.sh`) on this machine ({machine}), restate-server {version} started by the bench on loopback.\n\n\
         The services are bound in one endpoint (`restate_rs::serve::Server`, HTTP/2 cleartext) and registered on one restate-server: the generated `hydra.v1.Greeter` (`GreeterServer::new(Greetings)`, src/services/greeter.rs) and the same greeter written with `#[restate_sdk::service(name = \"bench.HandGreeter\")]` and `#[handler(name = \"Greet\")]`, taking and returning serde structs through `restate_sdk::serde::Json` (benches/compare.rs), plus, as an A/A control, that macro greeter stamped again as `bench.HandGreeterB`. All are called through restate-server's ingress with one client, `restate_rs::ingress::IngressClient::request::<serde_json::Value, serde_json::Value, restate_rs::codec::Json>`, with the same `{{\"name\": ...}}` body; only the service side differs. Rounds take turns between the sides, the order rotating every round and reversed every other cycle: {ROUNDS} rounds per side of 80 calls at concurrency 1 and of 512 calls at concurrency 64 (64 tasks, each calling in sequence). Besides latency and throughput, the CPU time of each round is read from `/proc/<pid>/task/*/schedstat`, for this process (client and endpoint; the client's share is the same for every side) and for restate-server; CPU per call is less disturbed than wall time by whatever else the machine runs. The second setting runs the same services on the embedded engine in memory, called in-process with `Engine::call` ({ROUNDS} rounds per side of 500 calls at concurrency 1 and 1024 at 64): the service side without network, server or disk.\n\n{}\n{}\n\nPer call, the generated service does what the macro one does (the SDK's `input`, the handler, `handle_handler_result`, `end`, through one boxed dispatch future) plus a `tracing` span (disabled without a subscriber) and a second box around the future, and it encodes with pbjson where the macro side uses serde derives: the `codec` section puts that difference for `GreetRequest` at tens of nanoseconds, against the hundreds of microseconds of CPU per call above, so the service side can account for well under 0.1% of a call; differences beyond that in this table are the noise of a shared 2-core machine, as the control shows.\n\n\
         ### The service side alone\n\n\
         To see the difference itself, the third setting hands each side's invocations to the endpoint directly (`Endpoint::handle`, in-process): a start frame and the input frame in, the output and end frames out, checked to hold the greeting (`restate_rs::engine::probe` builds and reads them). One thread with a current-thread runtime, timed in that thread's CPU time; {ENDPOINT_BATCHES} batches of {ENDPOINT_BATCH} invocations per side, taking turns as above. This is everything that runs for an invocation on the service's side (the SDK's protocol state machine, the dispatch, the handler, the codec), without an engine, a server or a network around it.\n\n{alone}",
        table(&rows),
        rows.iter().map(verdict).collect::<Vec<_>>().join("\n"),
        machine = machine(),
        version = restate_rs::testing::RESTATE_SERVER_VERSION,
    );
    write_section("compare", &body);
    Ok(())
}
