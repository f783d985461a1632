//! The embedded engine's ingress (`Engine::handle_ingress`, what `IngressServer` serves) on
//! arbitrary requests: any method, a path built from a known route and arbitrary bytes, an
//! arbitrary idempotency key and body. Every request gets an answer (an error status for what
//! is wrong), the engine never panics, and a call that is not delayed and not waiting on
//! something outside never hangs.
//!
//! Input layout: byte 0 picks the method (its top bit set: no `content-type` header, else
//! `application/json`, so that most bodies get past the ingress's input check to the
//! handlers), byte 1 the route; then the path suffix up to the first newline, the idempotency
//! key up to the next newline, and the body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use restate_rs::engine::Engine;
use restate_sdk::prelude::*;
use std::sync::OnceLock;
use std::time::Duration;

struct Greeter;

#[restate_sdk::service]
impl Greeter {
    #[handler]
    async fn greet(&self, _ctx: Context<'_>, name: String) -> Result<String, HandlerError> {
        Ok(format!("Hello, {name}!"))
    }
}

struct Counter;

#[restate_sdk::object]
impl Counter {
    #[handler]
    async fn add(&self, ctx: ObjectContext<'_>, delta: i64) -> Result<i64, HandlerError> {
        let value = ctx
            .get::<i64>("value")
            .await?
            .unwrap_or(0)
            .wrapping_add(delta);
        ctx.set("value", value);
        Ok(value)
    }

    #[handler]
    async fn get(&self, ctx: SharedObjectContext<'_>) -> Result<i64, HandlerError> {
        Ok(ctx.get::<i64>("value").await?.unwrap_or(0))
    }
}

struct Steps;

#[restate_sdk::service]
impl Steps {
    /// A few durable steps and a short durable sleep.
    #[handler]
    async fn run(&self, ctx: Context<'_>, n: u64) -> Result<u64, HandlerError> {
        let mut total = 0u64;
        for i in 0..n.min(4) {
            total += ctx.run(|| async move { Ok(i) }).await?;
        }
        ctx.sleep(Duration::from_millis(n % 20)).await?;
        Ok(total)
    }
}

const METHODS: [&str; 6] = ["POST", "GET", "PUT", "PATCH", "DELETE", "HEAD"];

const ROUTES: [&str; 16] = [
    "/Greeter/greet",
    "/Greeter/greet/send",
    "/Counter/",
    "/Counter/k/add",
    "/Counter/k/get",
    "/Counter/k/add/send",
    "/Steps/run",
    "/Steps/run/send",
    "/restate/awakeables/",
    "/restate/invocation/",
    "/restate/invocation/Greeter/greet/",
    "/restate/invocation/Counter/k/add/",
    "/restate/workflow/",
    "/restate/health",
    "/",
    "",
];

fn engine() -> &'static (tokio::runtime::Runtime, Engine) {
    static ENGINE: OnceLock<(tokio::runtime::Runtime, Engine)> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let endpoint = Endpoint::builder()
            .bind(Greeter)
            .bind(Counter)
            .bind(Steps)
            .build();
        let engine = runtime
            .block_on(Engine::builder(endpoint).in_memory())
            .expect("the engine starts");
        (runtime, engine)
    })
}

fuzz_target!(|data: &[u8]| {
    let [method, route, rest @ ..] = data else {
        return;
    };
    let json = *method & 0x80 == 0;
    let method = METHODS[usize::from(*method & 0x7f) % METHODS.len()];
    let route = ROUTES[usize::from(*route) % ROUTES.len()];
    let mut parts = rest.splitn(3, |b| *b == b'\n');
    let suffix = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let idempotency_key = parts.next().unwrap_or_default();
    let body = bytes::Bytes::copy_from_slice(parts.next().unwrap_or_default());
    let path = format!("{route}{suffix}");
    let mut request = http::Request::builder().method(method).uri(path.as_str());
    if json {
        request = request.header("content-type", "application/json");
    }
    if !idempotency_key.is_empty() {
        if let Ok(value) = http::HeaderValue::from_bytes(idempotency_key) {
            request = request.header("idempotency-key", value);
        }
    }
    let Ok(request) = request.body(body) else {
        return;
    };
    if std::env::var_os("FUZZ_TRACE").is_some() {
        eprintln!(
            "trace: {method} {path} key={:?} body={:?}",
            String::from_utf8_lossy(idempotency_key),
            String::from_utf8_lossy(request.body())
        );
    }
    let (runtime, engine) = engine();
    let answer = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), engine.handle_ingress(request)).await
    });
    match answer {
        Ok(response) => {
            let status = response.status().as_u16();
            assert!(
                (200..600).contains(&status),
                "status {status} for {method} {path}"
            );
        }
        Err(_) => {
            // Waiting is right for a delayed invocation and for attaching to one.
            let may_wait = ["delay", "attach", "output", "awakeables"]
                .iter()
                .any(|word| path.contains(word));
            if !may_wait {
                let open = runtime
                    .block_on(engine.invocations(None, None, 10_000))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|i| i.status != "completed")
                    .map(|i| {
                        format!(
                            "{} {} {} attempts {}: {:?}",
                            i.id, i.target, i.status, i.attempts, i.last_error
                        )
                    })
                    .collect::<Vec<_>>();
                panic!(
                    "{method} {path} got no answer within 10 s; unfinished invocations:\n{}",
                    open.join("\n")
                );
            }
        }
    }
});
