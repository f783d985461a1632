//! The scheduler driven through an engine: an exclusive handler's key is held by one
//! invocation at a time, whatever ends the others.

use super::{Engine, InvokeOptions, Target};
use restate_sdk::prelude::*;
use std::time::Duration;

struct Gate;

#[restate_sdk::object]
impl Gate {
    /// Holds the key for an hour (suspended, asleep).
    #[handler]
    async fn hold(&self, ctx: ObjectContext<'_>) -> Result<(), HandlerError> {
        ctx.sleep(Duration::from_secs(3600)).await?;
        Ok(())
    }

    #[handler]
    async fn touch(&self, ctx: ObjectContext<'_>, tag: String) -> Result<String, HandlerError> {
        let before = ctx.get::<String>("touched").await?.unwrap_or_default();
        ctx.set("touched", format!("{before}{tag};"));
        Ok(format!("touched by {tag}"))
    }
}

async fn status_of(engine: &Engine, id: &str) -> String {
    engine.describe(id).await.unwrap().summary.status
}

async fn invoke(engine: &Engine, handler: &str, input: &str) -> String {
    engine
        .invoke(
            Target::keyed("Gate", "k", handler),
            input.to_owned(),
            InvokeOptions::default(),
        )
        .await
        .unwrap()
        .invocation_id
}

/// Waits until `id` is in `status`.
async fn until(engine: &Engine, id: &str, status: &str) {
    for _ in 0..200 {
        if status_of(engine, id).await == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{id} is {}, not {status}", status_of(engine, id).await);
}

/// Killing an invocation queued on a key hands the key to nobody: the next in line waits for
/// the holder, and runs once the holder ends (killed here too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_held_by_one_invocation_whatever_ends_the_others() {
    let engine = Engine::builder(Endpoint::builder().bind(Gate).build())
        .inactivity_timeout(Duration::from_millis(50))
        .in_memory()
        .await
        .unwrap();
    let holder = invoke(&engine, "hold", "null").await;
    until(&engine, &holder, "suspended").await;
    let second = invoke(&engine, "touch", "\"second\"").await;
    let third = invoke(&engine, "touch", "\"third\"").await;
    until(&engine, &second, "inboxed").await;
    until(&engine, &third, "inboxed").await;

    engine.kill(&second).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status_of(&engine, &second).await, "completed");
    assert_eq!(status_of(&engine, &third).await, "inboxed");
    assert_eq!(status_of(&engine, &holder).await, "suspended");

    engine.kill(&holder).await.unwrap();
    let output = tokio::time::timeout(Duration::from_secs(10), engine.attach(&third))
        .await
        .expect("the third runs once the holder has ended")
        .unwrap();
    assert_eq!(&output[..], b"\"touched by third\"");
    let state = engine.state("Gate", "k").await.unwrap();
    assert_eq!(state, [("touched".to_owned(), "\"third;\"".into())]);
    engine.shutdown().await;
}

/// A notification for an invocation that has ended is dropped, and leaves no per-invocation
/// lock behind (only `finish` used to remove them, so each such delivery kept one for ever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_to_an_ended_invocation_leaves_nothing_behind() {
    use super::core::{Delivery, raw_frame};
    let engine = Engine::builder(Endpoint::builder().bind(Gate).build())
        .in_memory()
        .await
        .unwrap();
    let done = invoke(&engine, "touch", "\"once\"").await;
    engine.attach(&done).await.unwrap();
    // The end's own clean-up goes on after its callers are answered: wait for it first.
    let journal_locks = || engine.inner.registry.lock().unwrap().journal_locks.len();
    for _ in 0..500 {
        if journal_locks() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(journal_locks(), 0, "the end did not clean up");
    let late = raw_frame(super::protocol::SIGNAL_NOTIFICATION, Default::default());
    engine
        .deliver(vec![Delivery::direct(done.clone(), late)])
        .await
        .unwrap();
    assert_eq!(journal_locks(), 0, "a lock was left behind");
    assert_eq!(status_of(&engine, &done).await, "completed");
    engine.shutdown().await;
}
