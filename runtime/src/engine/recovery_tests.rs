//! Every invocation status, left on file as a crash would leave it, recovered at open by its
//! rule ([`InvocationStatus::recovery`]). The expectations are a `match` over the status, so a
//! status added without one does not compile, and each rule is checked by running it.

use super::status::{InvocationStatus, Recovery};
use super::{Engine, EngineError, InvokeOptions, Target};
use restate_sdk::prelude::*;
use std::path::Path;
use std::time::Duration;

struct Ledger;

#[restate_sdk::object]
impl Ledger {
    #[handler]
    async fn touch(&self, ctx: ObjectContext<'_>, tag: String) -> Result<String, HandlerError> {
        let before = ctx.get::<String>("touched").await?.unwrap_or_default();
        ctx.set("touched", format!("{before}{tag};"));
        Ok(format!("touched by {tag}"))
    }
}

fn endpoint() -> Endpoint {
    Endpoint::builder().bind(Ledger).build()
}

const PATIENCE: Duration = Duration::from_secs(10);

fn target() -> Target {
    Target::keyed("Ledger", "k", "touch")
}

async fn open(path: &Path) -> Engine {
    Engine::builder(endpoint())
        .retry_policy(super::RetryPolicy {
            initial: Duration::from_millis(10),
            ..Default::default()
        })
        .open(path)
        .await
        .expect("the engine opens")
}

/// Accepts `tag` far in the future (scheduled, nothing runs) and returns its id.
async fn accept(engine: &Engine, tag: &str) -> String {
    engine
        .invoke(
            target(),
            format!("\"{tag}\""),
            InvokeOptions {
                delay: Some(Duration::from_secs(3600)),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .invocation_id
}

/// Sets an invocation's status on file, due now, as a crash could have left it.
fn leave(path: &Path, id: &str, status: InvocationStatus) {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute(
            "UPDATE invocations SET status = ?2, run_at = 0 WHERE id = ?1",
            rusqlite::params![id, status],
        )
        .unwrap();
    if status.is_completed() {
        connection
            .execute(
                "UPDATE invocations SET result_value = CAST('\"as it was\"' AS BLOB), completed_at = 0 WHERE id = ?1",
                [id],
            )
            .unwrap();
    }
}

async fn status_of(engine: &Engine, id: &str) -> String {
    engine.describe(id).await.unwrap().summary.status
}

async fn outcome(engine: &Engine, id: &str) -> Result<String, EngineError> {
    let output = tokio::time::timeout(PATIENCE, engine.attach(id))
        .await
        .unwrap_or_else(|_| panic!("{id} did not complete within {PATIENCE:?}"))?;
    Ok(String::from_utf8(output.to_vec()).unwrap())
}

async fn touched(engine: &Engine) -> String {
    engine
        .state("Ledger", "k")
        .await
        .unwrap()
        .into_iter()
        .find(|(name, _)| name == "touched")
        .map(|(_, v)| String::from_utf8(v.to_vec()).unwrap())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_is_recovered_by_its_rule() {
    for status in InvocationStatus::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.db");
        // `first` in the status under test; `second`, accepted after it on the same key, was
        // pending (accepted, not yet admitted) when the process stopped.
        let engine = open(&path).await;
        let first = accept(&engine, "first").await;
        let second = accept(&engine, "second").await;
        engine.shutdown().await;
        drop(engine);
        leave(&path, &first, status);
        leave(&path, &second, InvocationStatus::Pending);

        let engine = open(&path).await;
        let holds_key = status.holds_key();
        match status.recovery() {
            Recovery::Admit | Recovery::Queue | Recovery::Restart | Recovery::Timer => {
                // Runs to its end, and the second runs too, one after the other. A delayed send
                // enters its key's queue when its time comes, behind the second, which was
                // accepted already; the others were ahead of the second.
                assert_eq!(
                    outcome(&engine, &first).await.unwrap(),
                    "\"touched by first\"",
                    "{status}"
                );
                assert_eq!(
                    outcome(&engine, &second).await.unwrap(),
                    "\"touched by second\""
                );
                let order = if status == InvocationStatus::Scheduled {
                    "\"second;first;\""
                } else {
                    "\"first;second;\""
                };
                assert_eq!(touched(&engine).await, order, "{status}");
            }
            Recovery::AwaitDelivery => {
                // Stays suspended, holding its key, until something is delivered to it: a
                // cancellation here, which resumes it (a handler that awaits nothing more
                // completes anyway); then the second runs.
                tokio::time::sleep(Duration::from_millis(300)).await;
                assert_eq!(status_of(&engine, &first).await, "suspended");
                assert_eq!(status_of(&engine, &second).await, "inboxed", "{status}");
                engine.cancel(&first).await.unwrap();
                match outcome(&engine, &first).await {
                    Ok(_) | Err(EngineError::Terminal { code: 409, .. }) => {}
                    other => panic!("{status}: {other:?}"),
                }
                assert_eq!(
                    outcome(&engine, &second).await.unwrap(),
                    "\"touched by second\""
                );
            }
            Recovery::Hold => {
                // Stays paused, holding its key, until resumed.
                tokio::time::sleep(Duration::from_millis(300)).await;
                assert_eq!(status_of(&engine, &first).await, "paused");
                assert_eq!(status_of(&engine, &second).await, "inboxed", "{status}");
                engine.resume(&first).await.unwrap();
                assert_eq!(
                    outcome(&engine, &first).await.unwrap(),
                    "\"touched by first\""
                );
                assert_eq!(
                    outcome(&engine, &second).await.unwrap(),
                    "\"touched by second\""
                );
                assert_eq!(touched(&engine).await, "\"first;second;\"");
            }
            Recovery::Nothing => {
                // Ended: nothing runs again, its output is what it was.
                assert_eq!(outcome(&engine, &first).await.unwrap(), "\"as it was\"");
                assert_eq!(
                    outcome(&engine, &second).await.unwrap(),
                    "\"touched by second\""
                );
                assert_eq!(touched(&engine).await, "\"second;\"");
            }
        }
        assert_eq!(
            holds_key,
            matches!(
                status,
                InvocationStatus::Running
                    | InvocationStatus::Suspended
                    | InvocationStatus::Backoff
                    | InvocationStatus::Paused
            ),
            "{status}"
        );
        engine.shutdown().await;
    }
}

/// A deployment that discovers as the ledger does, then answers every invocation with a state
/// write whose payload does not decode.
async fn broken_deployment() -> crate::serve::RunningServer {
    use http_body_util::{BodyExt, Full};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service =
        hyper::service::service_fn(|request: http::Request<hyper::body::Incoming>| async move {
            let (parts, body) = request.into_parts();
            // (An invocation's request stays open while the engine waits for answers: it is
            // not read to its end.)
            let response = if parts.uri.path().ends_with("/discover") {
                let body = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                let forwarded = http::Request::from_parts(parts, Full::new(body));
                let answer = endpoint().handle(forwarded);
                let (parts, body) = answer.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                http::Response::from_parts(parts, Full::new(body))
            } else {
                let garbage = super::core::raw_frame(
                    super::protocol::SET_STATE_COMMAND,
                    bytes::Bytes::from_static(&[0xff, 0xff, 0xff]),
                );
                http::Response::builder()
                    .header("content-type", parts.headers["content-type"].clone())
                    .body(Full::new(garbage.to_bytes()))
                    .unwrap()
            };
            Ok::<_, std::convert::Infallible>(response)
        });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crate::serve::serve_connections(
        listener,
        service,
        async {
            let _ = stopped.await;
        },
        Duration::from_millis(100),
    ));
    crate::serve::RunningServer::from_parts(addr, stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_side_error_ends_the_attempt_with_the_reason() {
    // Before, a frame that did not decode ended the attempt's task with the invocation left
    // `running` until the next open: a caller waited for ever.
    let deployment = broken_deployment().await;
    let engine = Engine::builder_remote(&deployment.url())
        .retry_policy(super::RetryPolicy {
            initial: Duration::from_millis(10),
            max_attempts: Some(2),
            on_max_attempts: super::OnMaxAttempts::Kill,
            ..Default::default()
        })
        .in_memory()
        .await
        .unwrap();
    let id = engine
        .invoke(target(), "\"x\"", InvokeOptions::default())
        .await
        .unwrap()
        .invocation_id;
    match outcome(&engine, &id).await {
        Err(EngineError::Terminal { code: 500, message }) => assert!(
            message.contains("SetStateCommand") && message.contains("does not decode"),
            "{message}"
        ),
        other => panic!("expected the attempts to fail with the reason, got {other:?}"),
    }
    let details = engine.describe(&id).await.unwrap();
    assert_eq!(details.summary.attempts, 2);
    engine.shutdown().await;
    deployment.stop().await;
}
