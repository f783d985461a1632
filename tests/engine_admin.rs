//! The embedded engine's admin surface: over HTTP, from the `restate-rs` command line, and
//! the rules for exposing the ingress (loopback, or a bearer token).

use restate_rs::engine::{
    AdminServer, Engine, EngineError, IngressServeError, IngressServer, InvokeOptions, Target,
};
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::{CounterServer, WaiterServer};
use restate_rs_examples::services::scenarios::{Counter, Probe, Waiter};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const CLI: &str = env!("CARGO_BIN_EXE_restate-rs");

async fn engine() -> Engine {
    let probe = Probe::default();
    let endpoint = Endpoint::builder()
        .bind(CounterServer::new(Counter {
            probe: probe.clone(),
        }))
        .bind(WaiterServer::new(Waiter { probe }))
        .build();
    Engine::builder(endpoint).in_memory().await.unwrap()
}

fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(CLI)
        .args(["admin", "--url", url])
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn inspect_cancel_and_kill() {
    let engine = engine().await;
    let admin = AdminServer::bind(engine.clone(), "127.0.0.1:0")
        .await
        .unwrap()
        .spawn()
        .unwrap();
    let url = admin.url();

    engine
        .call(
            Target::keyed("scenarios.v1.Counter", "c", "Add"),
            json!({"delta": 4}).to_string(),
        )
        .await
        .unwrap();
    let sleeper = engine
        .invoke(
            Target::service("scenarios.v1.Waiter", "Sleep"),
            json!({"millis": "3600000"}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    let doomed = engine
        .invoke(
            Target::service("scenarios.v1.Waiter", "Sleep"),
            json!({"millis": "3600000"}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;

    let (url2, id) = (url.clone(), sleeper.invocation_id.clone());
    let (ok, out, err) = tokio::task::spawn_blocking(move || cli(&url2, &["services"]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert!(
        out.contains("scenarios.v1.Counter (VirtualObject)"),
        "{out}"
    );
    assert!(out.contains("Get                      Shared"), "{out}");

    let url2 = url.clone();
    let (ok, out, _) = tokio::task::spawn_blocking(move || cli(&url2, &["invocations"]))
        .await
        .unwrap();
    assert!(ok);
    assert!(
        out.contains("completed  scenarios.v1.Counter/c/Add  succeeded"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{id}  running    scenarios.v1.Waiter/Sleep")),
        "{out}"
    );

    let url2 = url.clone();
    let id2 = id.clone();
    let (ok, out, _) = tokio::task::spawn_blocking(move || cli(&url2, &["describe", &id2]))
        .await
        .unwrap();
    assert!(ok);
    assert!(
        out.contains("  0 InputCommand") && out.contains("  1 SleepCommand"),
        "{out}"
    );

    let counter = engine
        .invocations(Some("completed"), Some("scenarios.v1.Counter"), 10)
        .await
        .unwrap();
    let details = engine.describe(&counter[0].id).await.unwrap();
    assert_eq!(details.state, vec![("value".to_owned(), "4".to_owned())]);
    assert!(
        details.journal.iter().any(|e| e.kind == "SetStateCommand"),
        "{:?}",
        details.journal
    );

    // Cancel: the handler sees it and ends with 409; kill: it ends at once.
    let url2 = url.clone();
    let (ok, out, _) = tokio::task::spawn_blocking(move || cli(&url2, &["cancel", &id]))
        .await
        .unwrap();
    assert!(ok, "{out}");
    let err = engine.attach(&sleeper.invocation_id).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Terminal { code: 409, .. }),
        "{err}"
    );
    let url2 = url.clone();
    let doomed_id = doomed.invocation_id.clone();
    let (ok, _, _) = tokio::task::spawn_blocking(move || cli(&url2, &["kill", &doomed_id]))
        .await
        .unwrap();
    assert!(ok);
    let err = engine.attach(&doomed.invocation_id).await.unwrap_err();
    assert_eq!(err.to_string(), "terminal error 409: killed");

    let url2 = url.clone();
    let (ok, _, err) = tokio::task::spawn_blocking(move || cli(&url2, &["describe", "inv_nope"]))
        .await
        .unwrap();
    assert!(!ok);
    assert!(
        err.contains("answered 404 Not Found: no invocation inv_nope"),
        "{err}"
    );
    let (ok, _, err) = tokio::task::spawn_blocking(|| cli("http://127.0.0.1:1", &["services"]))
        .await
        .unwrap();
    assert!(!ok);
    assert!(
        err.starts_with("restate-rs: cannot reach the admin API at http://127.0.0.1:1"),
        "{err}"
    );
}

#[tokio::test]
async fn exposure_needs_loopback_or_a_token() {
    let engine = engine().await;
    let err = IngressServer::bind(engine.clone(), "0.0.0.0:0")
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, IngressServeError::Unprotected(_)));
    assert_eq!(
        err.to_string(),
        "refusing to serve the ingress on 0.0.0.0:0 without a bearer token: bind a loopback address (127.0.0.1), or set one"
    );
    assert!(
        AdminServer::bind(engine.clone(), "0.0.0.0:0")
            .await
            .is_err()
    );

    // With a token (bound to loopback here): every request must carry it.
    let ingress = IngressServer::bind_with_token(engine.clone(), "127.0.0.1:0", "s3cret")
        .await
        .unwrap()
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/scenarios.v1.Counter/t/Add", ingress.url());
    let denied = http
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"delta": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let wrong = http
        .post(&url)
        .bearer_auth("nope")
        .header("content-type", "application/json")
        .body(r#"{"delta": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let allowed = http
        .post(&url)
        .bearer_auth("s3cret")
        .header("content-type", "application/json")
        .body(r#"{"delta": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.text().await.unwrap(), r#"{"value":"1"}"#);
}

#[tokio::test]
async fn oversized_bodies_and_absurd_delays_are_refused() {
    let engine = engine().await;
    let huge = bytes::Bytes::from(vec![b' '; restate_rs::engine::MAX_REQUEST_BODY + 1]);
    let request = http::Request::post("/scenarios.v1.Counter/h/Add")
        .body(huge)
        .unwrap();
    let response = engine.handle_ingress(request).await;
    assert_eq!(response.status(), 413);

    let request = http::Request::post("/scenarios.v1.Counter/h/Add/send?delay=99999999999999999d")
        .header("content-type", "application/json")
        .body(bytes::Bytes::from_static(br#"{"delta": 1}"#))
        .unwrap();
    let response = engine.handle_ingress(request).await;
    assert_eq!(response.status(), 400);
    assert!(String::from_utf8_lossy(response.body()).contains("longer than 100 years"));

    // Still serving.
    let ok = engine
        .call(
            Target::keyed("scenarios.v1.Counter", "h", "Add"),
            json!({"delta": 1}).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(ok.as_ref(), br#"{"value":"1"}"#);
}

/// `PATCH /invocations/{id}/resume` gives a paused invocation a fresh attempt.
#[tokio::test]
async fn resume_over_http() {
    use restate_rs::engine::{OnMaxAttempts, RetryPolicy};
    use restate_rs_examples::proto::scenarios::v1::FlakyServer;
    use restate_rs_examples::services::scenarios::Flaky;
    let probe = Probe::default();
    let engine = Engine::builder(
        Endpoint::builder()
            .bind(FlakyServer::new(Flaky {
                probe: probe.clone(),
            }))
            .build(),
    )
    .retry_policy(RetryPolicy {
        initial: std::time::Duration::from_millis(5),
        max_attempts: Some(2),
        on_max_attempts: OnMaxAttempts::Pause,
        ..Default::default()
    })
    .in_memory()
    .await
    .unwrap();
    let admin = AdminServer::bind(engine.clone(), "127.0.0.1:0")
        .await
        .unwrap()
        .spawn()
        .unwrap();
    let id = engine
        .invoke(
            Target::service("scenarios.v1.Flaky", "Work"),
            json!({"id": "resumed", "succeedOnAttempt": 3}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap()
        .invocation_id;
    let started = std::time::Instant::now();
    while engine.describe(&id).await.unwrap().summary.status != "paused" {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "never paused"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let response = reqwest::Client::new()
        .patch(format!("{}/invocations/{id}/resume", admin.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let output = engine.attach(&id).await.unwrap();
    assert!(
        String::from_utf8_lossy(&output).contains("\"attempts\":3"),
        "{output:?}"
    );
    // Only a paused invocation resumes: a completed one is a conflict, an unknown one is not
    // found, and neither changes.
    let again = reqwest::Client::new()
        .patch(format!("{}/invocations/{id}/resume", admin.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let message = again.text().await.unwrap();
    assert!(message.contains("completed, not paused"), "{message}");
    let unknown = reqwest::Client::new()
        .patch(format!(
            "{}/invocations/inv_1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/resume",
            admin.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}
