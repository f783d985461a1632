//! Retention on the embedded engine, as restate-server does it: completed invocations keep
//! their journal for the journal retention, their record (output, idempotency key) for the
//! idempotency retention, a workflow's run its result, state and promises for the workflow
//! retention; then a background task purges them. Purge on demand, over the API and HTTP.
//!
//! Time is a manual clock moved forward; the cleanup task runs every 20 ms of real time.

use restate_rs::engine::{Engine, EngineError, InvokeOptions, ManualClock, Target};
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::{EphemeralServer, SweepApprovalServer};
use restate_rs_examples::services::sweep::{Ephemeral, SweepApproval};
use std::sync::Arc;
use std::time::Duration;

const EPHEMERAL: &str = "scenarios.v1.Ephemeral";
const APPROVAL: &str = "scenarios.v1.SweepApproval";
const PATIENCE: Duration = Duration::from_secs(10);

async fn engine(
    configure: impl FnOnce(restate_rs::engine::EngineBuilder) -> restate_rs::engine::EngineBuilder,
) -> (Engine, Arc<ManualClock>) {
    let endpoint = Endpoint::builder()
        .bind(EphemeralServer::new(Ephemeral))
        .bind(SweepApprovalServer::new(SweepApproval { log: None }))
        .build();
    let clock = ManualClock::new();
    let builder = Engine::builder(endpoint)
        .clock(clock.clone())
        .cleanup_interval(Duration::from_millis(20));
    (configure(builder).in_memory().await.unwrap(), clock)
}

fn echo() -> Target {
    Target::service(EPHEMERAL, "Echo")
}

fn with_key(key: &str) -> InvokeOptions {
    InvokeOptions {
        idempotency_key: Some(key.to_owned()),
        ..Default::default()
    }
}

/// Waits until `check` holds (the cleanup task runs in the background).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = std::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < PATIENCE,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn is_gone(engine: &Engine, id: &str) -> bool {
    matches!(
        engine.output(id).await,
        Err(EngineError::UnknownInvocation(_))
    )
}

#[tokio::test]
async fn retention_declared_in_the_proto_purges_completed_invocations() {
    // scenarios.v1.Ephemeral declares journal_retention 1s, idempotency_retention 2s.
    let (engine, clock) = engine(|b| b).await;

    // Without an idempotency key: kept for the journal retention.
    let plain = engine
        .invoke(echo(), r#"{"tag":"a"}"#, InvokeOptions::default())
        .await
        .unwrap();
    assert_eq!(
        engine.attach(&plain.invocation_id).await.unwrap(),
        r#"{"value":"a"}"#
    );
    // With a key: the journal for the journal retention, the record for the idempotency one.
    let keyed = engine
        .invoke(echo(), r#"{"tag":"b"}"#, with_key("k"))
        .await
        .unwrap();
    engine.attach(&keyed.invocation_id).await.unwrap();
    assert!(
        !engine
            .describe(&keyed.invocation_id)
            .await
            .unwrap()
            .journal
            .is_empty()
    );

    clock.advance(Duration::from_millis(1100));
    eventually("the plain invocation is purged", async || {
        is_gone(&engine, &plain.invocation_id).await
    })
    .await;
    eventually("the keyed invocation's journal is purged", async || {
        engine
            .describe(&keyed.invocation_id)
            .await
            .unwrap()
            .journal
            .is_empty()
    })
    .await;
    // Its output and its key are still there.
    assert_eq!(
        engine.output(&keyed.invocation_id).await.unwrap(),
        Some(Ok(r#"{"value":"b"}"#.into()))
    );
    let again = engine
        .invoke(echo(), r#"{"tag":"b"}"#, with_key("k"))
        .await
        .unwrap();
    assert_eq!(again.invocation_id, keyed.invocation_id);
    assert!(!again.is_new);

    clock.advance(Duration::from_millis(1000));
    eventually("the keyed invocation is purged", async || {
        is_gone(&engine, &keyed.invocation_id).await
    })
    .await;
    // The key is forgotten: the same request runs anew.
    let anew = engine
        .invoke(echo(), r#"{"tag":"b2"}"#, with_key("k"))
        .await
        .unwrap();
    assert!(anew.is_new);
    assert_ne!(anew.invocation_id, keyed.invocation_id);
    assert_eq!(
        engine.attach(&anew.invocation_id).await.unwrap(),
        r#"{"value":"b2"}"#
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn the_default_retention_is_a_day_as_restate_server() {
    let (engine, clock) = engine(|b| b).await;
    let target = Target::keyed(APPROVAL, "wf-default", "Run");
    let run = engine
        .invoke(target.clone(), r#"{"tag":"x"}"#, InvokeOptions::default())
        .await
        .unwrap();
    engine
        .complete_promise(APPROVAL, "wf-default", "approval", Ok(r#""ok""#.into()))
        .await
        .unwrap();
    assert_eq!(
        engine.attach(&run.invocation_id).await.unwrap(),
        r#"{"value":"ok"}"#
    );
    clock.advance(Duration::from_secs(23 * 3600));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        engine.output(&run.invocation_id).await.unwrap().is_some(),
        "kept for a day"
    );
    clock.advance(Duration::from_secs(3600 + 1));
    eventually("the workflow is purged after a day", async || {
        is_gone(&engine, &run.invocation_id).await
    })
    .await;
    engine.shutdown().await;
}

#[tokio::test]
async fn a_workflow_is_purged_with_its_promises_and_can_run_again() {
    let (engine, clock) = engine(|b| b.workflow_retention("1m")).await;
    let target = Target::keyed(APPROVAL, "wf-1", "Run");
    let run = engine
        .invoke(target.clone(), r#"{"tag":"x"}"#, InvokeOptions::default())
        .await
        .unwrap();
    engine
        .complete_promise(APPROVAL, "wf-1", "approval", Ok(r#""yes""#.into()))
        .await
        .unwrap();
    assert_eq!(
        engine.attach(&run.invocation_id).await.unwrap(),
        r#"{"value":"yes"}"#
    );
    let again = engine
        .invoke(target.clone(), r#"{"tag":"x"}"#, InvokeOptions::default())
        .await
        .unwrap();
    assert!(!again.is_new, "one run per workflow id while it is kept");

    clock.advance(Duration::from_secs(61));
    eventually("the workflow is purged", async || {
        is_gone(&engine, &run.invocation_id).await
    })
    .await;
    assert_eq!(
        engine.promise(APPROVAL, "wf-1", "approval").await.unwrap(),
        None
    );
    let anew = engine
        .invoke(target, r#"{"tag":"x"}"#, InvokeOptions::default())
        .await
        .unwrap();
    assert!(anew.is_new, "the id runs again once purged");
    engine
        .complete_promise(APPROVAL, "wf-1", "approval", Ok(r#""again""#.into()))
        .await
        .unwrap();
    assert_eq!(
        engine.attach(&anew.invocation_id).await.unwrap(),
        r#"{"value":"again"}"#
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn purge_on_demand_refuses_what_has_not_completed() {
    let (engine, _clock) = engine(|b| b).await;
    let run = engine
        .invoke(
            Target::keyed(APPROVAL, "wf-2", "Run"),
            r#"{"tag":"x"}"#,
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    let id = run.invocation_id;
    match engine.purge(&id).await {
        Err(EngineError::Conflict { reason, .. }) => {
            assert!(reason.contains("has not completed"), "{reason}")
        }
        other => panic!("a purge of a running invocation: {other:?}"),
    }
    // Over HTTP, as restate-server: 409 with the reason.
    let admin = |method: &str, path: String| {
        http::Request::builder()
            .method(method)
            .uri(path)
            .body(bytes::Bytes::new())
            .unwrap()
    };
    let refused = engine
        .handle_admin(admin("PATCH", format!("/invocations/{id}/purge")))
        .await;
    assert_eq!(refused.status(), 409);
    assert!(String::from_utf8_lossy(refused.body()).contains("has not completed"));

    engine
        .complete_promise(APPROVAL, "wf-2", "approval", Ok(r#""go""#.into()))
        .await
        .unwrap();
    engine.attach(&id).await.unwrap();
    let purged = engine
        .handle_admin(admin("PATCH", format!("/invocations/{id}/purge")))
        .await;
    assert_eq!(purged.status(), 200);
    assert!(purged.body().is_empty());
    assert!(is_gone(&engine, &id).await);
    let unknown = engine
        .handle_admin(admin("PATCH", format!("/invocations/{id}/purge")))
        .await;
    assert_eq!(unknown.status(), 404);

    // attach and output of a purged invocation answer as restate-server's for an unknown one.
    let ingress = |path: String| http::Request::get(path).body(bytes::Bytes::new()).unwrap();
    let attach = engine
        .handle_ingress(ingress(format!("/restate/invocation/{id}/attach")))
        .await;
    assert_eq!(attach.status(), 404);
    assert_eq!(attach.headers()["x-restate-error-source"], "invocation");
    assert_eq!(attach.headers()["x-restate-id"], id.as_str());
    assert_eq!(
        attach.body().as_ref(),
        br#"{"code":404,"message":"not found","source":"invocation"}"#
    );
    let output = engine
        .handle_ingress(ingress(format!("/restate/invocation/{id}/output")))
        .await;
    assert_eq!(output.status(), 404);
    assert_eq!(output.headers()["x-restate-error-source"], "ingress");
    assert_eq!(
        output.body().as_ref(),
        br#"{"code":404,"message":"invocation not found","source":"ingress"}"#
    );
    let workflow = engine
        .handle_ingress(ingress(format!("/restate/workflow/{APPROVAL}/wf-2/output")))
        .await;
    assert_eq!(workflow.status(), 404);
    engine.shutdown().await;
}

#[tokio::test]
async fn purge_journal_keeps_the_output() {
    let (engine, _clock) = engine(|b| b).await;
    let sent = engine
        .invoke(echo(), r#"{"tag":"j"}"#, with_key("j"))
        .await
        .unwrap();
    engine.attach(&sent.invocation_id).await.unwrap();
    let request = http::Request::builder()
        .method("PATCH")
        .uri(format!("/invocations/{}/purge-journal", sent.invocation_id))
        .body(bytes::Bytes::new())
        .unwrap();
    assert_eq!(engine.handle_admin(request).await.status(), 200);
    assert!(
        engine
            .describe(&sent.invocation_id)
            .await
            .unwrap()
            .journal
            .is_empty()
    );
    assert_eq!(
        engine.output(&sent.invocation_id).await.unwrap(),
        Some(Ok(r#"{"value":"j"}"#.into()))
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn a_retention_of_zero_keeps_nothing() {
    let (engine, _clock) = engine(|b| b.workflow_retention(Duration::ZERO)).await;
    let run = engine
        .invoke(
            Target::keyed(APPROVAL, "wf-0", "Run"),
            r#"{"tag":"x"}"#,
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    let waiting = engine.attach(&run.invocation_id);
    let (output, ()) = tokio::join!(waiting, async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        engine
            .complete_promise(APPROVAL, "wf-0", "approval", Ok(r#""z""#.into()))
            .await
            .unwrap();
    });
    assert_eq!(
        output.unwrap(),
        r#"{"value":"z"}"#,
        "who waited gets the output"
    );
    assert!(
        is_gone(&engine, &run.invocation_id).await,
        "then nothing is kept"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn a_retention_that_does_not_read_is_a_clear_error() {
    let endpoint = Endpoint::builder()
        .bind(EphemeralServer::new(Ephemeral))
        .build();
    let error = Engine::builder(endpoint)
        .journal_retention("soon")
        .in_memory()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("journal retention `soon`") && matches!(error, EngineError::Config(_)),
        "{message}"
    );
}
