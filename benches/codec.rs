//! Payload codecs: proto3 JSON (`restate_rs::codec::Json`, pbjson) and binary protobuf
//! (`restate_rs::codec::Binary`, prost) encode and decode of realistic generated messages,
//! against `serde_json` on equivalent plain `#[derive(Serialize, Deserialize)]` structs.
//! A small harness: each case runs in batches long enough to time (about 5 ms), the cases
//! take turns batch by batch, and the figure is the median ns per operation over the batches.
//! Writes its figures into docs/BENCHMARKS.md (between the `codec` markers).
//!
//! ```sh
//! cargo bench --bench codec
//! ```

#[path = "support/mod.rs"]
mod support;

use restate_rs::codec::{Binary, Codec, Json};
use restate_rs::pbjson_types::Timestamp;
use restate_rs_examples::proto::common::v1::Actor;
use restate_rs_examples::proto::hydra::v1::{
    DeployRequest, DeployResponse, GreetRequest, deploy_request::Strategy,
};
use restate_rs_examples::proto_binary::common::v1::Actor as BinActor;
use restate_rs_examples::proto_binary::hydra::v1::{
    DeployRequest as BinDeployRequest, DeployResponse as BinDeployResponse,
    GreetRequest as BinGreetRequest,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};
use support::{machine, median_f64, thread_cpu, write_section};

// ---- the plain structs, shaped as the proto3 JSON of the generated messages ----------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlainActor {
    id: String,
    display_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum PlainStrategy {
    #[serde(rename = "STRATEGY_UNSPECIFIED")]
    Unspecified,
    #[serde(rename = "STRATEGY_ROLLING")]
    Rolling,
    #[serde(rename = "STRATEGY_BLUE_GREEN")]
    BlueGreen,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlainDeployRequest {
    build_id: String,
    image: String,
    env: HashMap<String, String>,
    requested_by: Option<PlainActor>,
    replicas: Option<u32>,
    strategy: PlainStrategy,
}

/// `finishedAt` as the RFC 3339 string proto3 JSON gives a Timestamp (the plain side does
/// not format or parse it); `sequence` an int64, a JSON number here and a string in proto3 JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlainDeployResponse {
    deployment_id: String,
    steps: Vec<String>,
    finished_at: String,
    sequence: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PlainGreetRequest {
    name: String,
}

// ---- the values ---------------------------------------------------------------------------

fn env() -> HashMap<String, String> {
    [
        ("RUST_LOG", "info,hydra=debug"),
        (
            "DATABASE_URL",
            "postgres://hydra:secret@db.internal:5432/hydra",
        ),
        ("REDIS_URL", "redis://cache.internal:6379/0"),
        ("FEATURE_FLAGS", "new-checkout,fast-search,dark-mode"),
        ("REGION", "eu-central-1"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4317"),
        ("MAX_CONNECTIONS", "64"),
        ("HTTP_PORT", "8080"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

const BUILD_ID: &str = "b-2024-11-05-7f3a9c1";
const IMAGE: &str = "registry.internal/hydra/api@sha256:5f1d3c2b9a7e4f60d8c1b2a3e4f5d6c7b8a9e0f1";

fn deploy_request() -> DeployRequest {
    DeployRequest {
        build_id: BUILD_ID.into(),
        image: IMAGE.into(),
        env: env(),
        requested_by: Some(Actor {
            id: "user-4821".into(),
            display_name: "Ada Lovelace".into(),
        }),
        replicas: Some(3),
        strategy: Strategy::Rolling as i32,
    }
}

fn bin_deploy_request() -> BinDeployRequest {
    BinDeployRequest {
        build_id: BUILD_ID.into(),
        image: IMAGE.into(),
        env: env(),
        requested_by: Some(BinActor {
            id: "user-4821".into(),
            display_name: "Ada Lovelace".into(),
        }),
        replicas: Some(3),
        strategy: 1,
    }
}

fn plain_deploy_request() -> PlainDeployRequest {
    PlainDeployRequest {
        build_id: BUILD_ID.into(),
        image: IMAGE.into(),
        env: env(),
        requested_by: Some(PlainActor {
            id: "user-4821".into(),
            display_name: "Ada Lovelace".into(),
        }),
        replicas: Some(3),
        strategy: PlainStrategy::Rolling,
    }
}

fn steps() -> Vec<String> {
    [
        "validated build b-2024-11-05-7f3a9c1",
        "pulled registry.internal/hydra/api@sha256:5f1d3c2b",
        "rolled out 1/3 replicas",
        "rolled out 2/3 replicas",
        "rolled out 3/3 replicas",
        "health checks passed",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

fn deploy_response() -> DeployResponse {
    DeployResponse {
        deployment_id: "project-1-42".into(),
        steps: steps(),
        finished_at: Some(Timestamp {
            seconds: 1_730_800_000,
            nanos: 123_000_000,
        }),
        sequence: 42,
    }
}

fn bin_deploy_response() -> BinDeployResponse {
    BinDeployResponse {
        deployment_id: "project-1-42".into(),
        steps: steps(),
        finished_at: Some(Timestamp {
            seconds: 1_730_800_000,
            nanos: 123_000_000,
        }),
        sequence: 42,
    }
}

fn plain_deploy_response() -> PlainDeployResponse {
    PlainDeployResponse {
        deployment_id: "project-1-42".into(),
        steps: steps(),
        finished_at: "2024-11-05T09:46:40.123+00:00".into(),
        sequence: 42,
    }
}

// ---- the harness --------------------------------------------------------------------------

struct Case {
    message: &'static str,
    op: &'static str,
    codec: &'static str,
    bytes: usize,
    run: Box<dyn FnMut()>,
    iters: u64,
    ns_per_op: Vec<f64>,
}

fn case(
    message: &'static str,
    op: &'static str,
    codec: &'static str,
    bytes: usize,
    run: impl FnMut() + 'static,
) -> Case {
    Case {
        message,
        op,
        codec,
        bytes,
        run: Box::new(run),
        iters: 0,
        ns_per_op: Vec::new(),
    }
}

/// The eight cases of one message: encode and decode with the JSON codec, with `serde_json`
/// straight on the generated message, with `serde_json` on the plain struct, and with the
/// binary codec. `plain_input` is what the plain struct's decode case reads.
fn message_cases<M, P, B>(
    cases: &mut Vec<Case>,
    name: &'static str,
    msg: &M,
    plain: &P,
    plain_input: Vec<u8>,
    bin_msg: &B,
) where
    M: Serialize + serde::de::DeserializeOwned + Clone + 'static,
    P: Serialize + serde::de::DeserializeOwned + Clone + 'static,
    B: Clone + 'static,
    Json: Codec<M>,
    Binary: Codec<B>,
{
    let json = <Json as Codec<M>>::encode(msg).unwrap().to_vec();
    let plain_len = serde_json::to_vec(plain).unwrap().len();
    let bin = <Binary as Codec<B>>::encode(bin_msg).unwrap().to_vec();

    let m = msg.clone();
    cases.push(case(
        name,
        "encode",
        "proto3 JSON (pbjson)",
        json.len(),
        move || {
            black_box(<Json as Codec<M>>::encode(black_box(&m)).unwrap());
        },
    ));
    let m = msg.clone();
    cases.push(case(
        name,
        "encode",
        "pbjson impls, serde_json::to_vec directly",
        json.len(),
        move || {
            black_box(serde_json::to_vec(black_box(&m)).unwrap());
        },
    ));
    let p = plain.clone();
    cases.push(case(
        name,
        "encode",
        "serde_json, plain struct",
        plain_len,
        move || {
            black_box(serde_json::to_vec(black_box(&p)).unwrap());
        },
    ));
    let b = bin_msg.clone();
    cases.push(case(
        name,
        "encode",
        "binary protobuf (prost)",
        bin.len(),
        move || {
            black_box(<Binary as Codec<B>>::encode(black_box(&b)).unwrap());
        },
    ));
    let j = json.clone();
    cases.push(case(
        name,
        "decode",
        "proto3 JSON (pbjson)",
        json.len(),
        move || {
            black_box(<Json as Codec<M>>::decode(black_box(&j)).unwrap());
        },
    ));
    let j = json.clone();
    cases.push(case(
        name,
        "decode",
        "pbjson impls, serde_json::from_slice directly",
        json.len(),
        move || {
            black_box(serde_json::from_slice::<M>(black_box(&j)).unwrap());
        },
    ));
    let input_len = plain_input.len();
    cases.push(case(
        name,
        "decode",
        "serde_json, plain struct",
        input_len,
        move || {
            black_box(serde_json::from_slice::<P>(black_box(&plain_input)).unwrap());
        },
    ));
    let bb = bin.clone();
    cases.push(case(
        name,
        "decode",
        "binary protobuf (prost)",
        bin.len(),
        move || {
            black_box(<Binary as Codec<B>>::decode(black_box(&bb)).unwrap());
        },
    ));
}

const BATCH: Duration = Duration::from_millis(5);
const REPEATS: usize = 41;

/// How long `iters` runs take: in CPU time of this thread where the system says it, so that
/// time spent preempted by other processes does not count; in wall time otherwise.
fn time_batch(run: &mut dyn FnMut(), iters: u64) -> Duration {
    let (cpu, started) = (thread_cpu(), Instant::now());
    for _ in 0..iters {
        run();
    }
    let wall = started.elapsed();
    match (cpu, thread_cpu()) {
        (Some(before), Some(after)) => after.saturating_sub(before),
        _ => wall,
    }
}

/// Sets how many operations make one batch of about [`BATCH`].
fn calibrate(case: &mut Case) {
    let mut iters = 1u64;
    loop {
        let took = time_batch(&mut case.run, iters);
        if took >= BATCH / 4 {
            let per = took.as_secs_f64() / iters as f64;
            case.iters = ((BATCH.as_secs_f64() / per) as u64).max(1);
            return;
        }
        iters *= 2;
    }
}

fn main() {
    let mut cases = Vec::new();

    // hydra.v1.DeployRequest: strings, an env map of 8 entries, a nested actor, an optional
    // uint32, an enum.
    {
        let msg = deploy_request();
        let json = <Json as Codec<DeployRequest>>::encode(&msg)
            .unwrap()
            .to_vec();
        let plain = plain_deploy_request();
        let plain_json = serde_json::to_vec(&plain).unwrap();
        // The two JSON forms say the same thing, and each side reads the other's.
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&json).unwrap(),
            serde_json::from_slice::<serde_json::Value>(&plain_json).unwrap()
        );
        assert_eq!(
            serde_json::from_slice::<PlainDeployRequest>(&json).unwrap(),
            plain
        );
        assert_eq!(
            <Json as Codec<DeployRequest>>::decode(&plain_json).unwrap(),
            msg
        );
        let bin_msg = bin_deploy_request();
        let bin = <Binary as Codec<BinDeployRequest>>::encode(&bin_msg)
            .unwrap()
            .to_vec();
        assert_eq!(
            <Binary as Codec<BinDeployRequest>>::decode(&bin).unwrap(),
            bin_msg
        );

        message_cases(&mut cases, "DeployRequest", &msg, &plain, json, &bin_msg);
    }

    // hydra.v1.DeployResponse: a repeated string of 6, a Timestamp, an int64.
    {
        let msg = deploy_response();
        let json = <Json as Codec<DeployResponse>>::encode(&msg)
            .unwrap()
            .to_vec();
        let plain = plain_deploy_response();
        let plain_json = serde_json::to_vec(&plain).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["finishedAt"], plain.finished_at.as_str());
        assert_eq!(value["sequence"], "42");
        assert_eq!(<Json as Codec<DeployResponse>>::decode(&json).unwrap(), msg);
        let bin_msg = bin_deploy_response();

        message_cases(
            &mut cases,
            "DeployResponse",
            &msg,
            &plain,
            plain_json,
            &bin_msg,
        );
    }

    // hydra.v1.GreetRequest: one string, the payload of the `compare` bench.
    {
        let msg = GreetRequest {
            name: "Ada Lovelace".into(),
        };
        let json = <Json as Codec<GreetRequest>>::encode(&msg)
            .unwrap()
            .to_vec();
        let plain = PlainGreetRequest {
            name: "Ada Lovelace".into(),
        };
        assert_eq!(serde_json::to_vec(&plain).unwrap(), json);
        let bin_msg = BinGreetRequest {
            name: "Ada Lovelace".into(),
        };

        message_cases(&mut cases, "GreetRequest", &msg, &plain, json, &bin_msg);
    }

    for c in &mut cases {
        calibrate(c);
    }
    // The cases take turns, batch by batch, so that drift spreads over all of them.
    for _ in 0..REPEATS {
        for c in &mut cases {
            let took = time_batch(&mut c.run, c.iters);
            c.ns_per_op.push(took.as_nanos() as f64 / c.iters as f64);
        }
    }

    let median = |c: &Case| median_f64(&c.ns_per_op);
    let plain_of = |c: &Case| {
        cases
            .iter()
            .find(|p| p.message == c.message && p.op == c.op && p.codec.starts_with("serde_json"))
            .map(median)
            .unwrap()
    };
    let mut table = String::from(
        "| message | operation | codec | payload bytes | ns/op (median) | ratio to serde_json on plain structs |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for c in &cases {
        let ns = median(c);
        let ratio = ns / plain_of(c);
        println!(
            "{:<15} {:<7} {:<46} {:>4} B {:>9.0} ns/op  x{ratio:.2}",
            c.message, c.op, c.codec, c.bytes, ns
        );
        table.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {:.2} |\n",
            c.message, c.op, c.codec, c.bytes, ns, ratio
        ));
    }

    let body = format!(
        "## Codecs\n\n\
         Measured by `cargo bench --bench codec` on this machine ({}). Each case runs in batches of about {} ms (calibrated); the cases take turns batch by batch, {REPEATS} batches each, and the figure is the median ns per operation, timed in CPU time of the benchmark thread (`CLOCK_THREAD_CPUTIME_ID`), so that time preempted by other processes on this shared machine does not count. JSON is `restate_rs::codec::Json` (pbjson's serde impls generated beside the prost messages, `serde_json` underneath, `to_vec` to encode, `from_slice` to decode), binary is `restate_rs::codec::Binary` on the binary-payload build of the same protos (`restate_rs_examples::proto_binary`), the rows \"pbjson impls, serde_json directly\" call `serde_json::to_vec` / `from_slice` on the generated messages without the codec wrapper (which adds the conversion to `Bytes` and, on decode, the empty-payload check), and the baseline is `serde_json::to_vec` / `from_slice` on plain `#[derive(Serialize, Deserialize)]` structs with the same JSON shape (benches/codec.rs).\n\n\
         - `DeployRequest`: two strings, an `env` map of 8 entries, a nested `common.v1.Actor`, an optional uint32, an enum (by name in JSON). The two JSON forms are the same document (checked), and both sides decode the same bytes.\n\
         - `DeployResponse`: a string, a repeated string of 6, a `google.protobuf.Timestamp`, an int64. proto3 JSON formats the Timestamp as RFC 3339 (pbjson writes `2024-11-05T09:46:40.123+00:00`, where protojson writes `...Z`) and the int64 as a string; the plain struct holds the RFC 3339 text as a `String` and the int64 as a number, so it neither formats nor parses a time.\n\
         - `GreetRequest`: one string, the payload of the `compare` bench (identical bytes on both sides).\n\n{table}",
        machine(),
        BATCH.as_millis(),
    );
    write_section("codec", &body);
}
