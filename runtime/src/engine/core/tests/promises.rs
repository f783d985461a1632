//! A workflow's durable promises: get (waits until completed), peek, complete (once).

use super::*;
use crate::engine::store::waiters::{self, Awaited};

fn get(name: &str, completion_id: u32) -> pb::GetPromiseCommandMessage {
    pb::GetPromiseCommandMessage {
        key: name.to_owned(),
        result_completion_id: completion_id,
        ..Default::default()
    }
}

fn peek(name: &str, completion_id: u32) -> pb::PeekPromiseCommandMessage {
    pb::PeekPromiseCommandMessage {
        key: name.to_owned(),
        result_completion_id: completion_id,
        ..Default::default()
    }
}

fn resolve(name: &str, v: &[u8], completion_id: u32) -> pb::CompletePromiseCommandMessage {
    pb::CompletePromiseCommandMessage {
        key: name.to_owned(),
        completion: Some(
            pb::complete_promise_command_message::Completion::CompletionValue(value(v)),
        ),
        result_completion_id: completion_id,
        ..Default::default()
    }
}

/// What a complete-promise answered: `Ok(())`, or the failure's code.
fn completed(applied: &Applied) -> Result<(), u32> {
    use pb::complete_promise_completion_notification_message::Result as R;
    let answer: pb::CompletePromiseCompletionNotificationMessage = only(&applied.frames);
    match answer.result.expect("a result") {
        R::Void(_) => Ok(()),
        R::Failure(f) => Err(f.code),
    }
}

fn peeked(applied: &Applied) -> Option<Vec<u8>> {
    use pb::peek_promise_completion_notification_message::Result as R;
    let answer: pb::PeekPromiseCompletionNotificationMessage = only(&applied.frames);
    match answer.result.expect("a result") {
        R::Value(v) => Some(v.content),
        R::Void(_) => None,
        R::Failure(f) => panic!("a failure: {f:?}"),
    }
}

#[test]
fn a_get_waits_and_the_completion_goes_to_the_waiter_through_the_outbox() {
    let mut db = Db::new();
    let run = db.running("Signup", "run", "ann");
    let waiting = db.apply(&run, get("email", 5));
    assert!(waiting.frames.is_empty() && waiting.effects.is_empty());

    let confirm = db.running("Signup", "confirm", "ann");
    let applied = db.apply(&confirm, resolve("email", b"ann@example.com", 1));
    assert_eq!(completed(&applied), Ok(()));
    let sent = deliveries(&applied.effects);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].invocation_id, run.id);
    assert!(sent[0].outbox.is_some(), "through the outbox");
    let result: pb::GetPromiseCompletionNotificationMessage = sent[0].frame.decode().unwrap();
    assert_eq!(result.completion_id, 5);
    assert_eq!(
        result.result,
        Some(
            pb::get_promise_completion_notification_message::Result::Value(value(
                b"ann@example.com"
            ))
        )
    );
    let target = super::super::promise_target("Signup", "ann", "email");
    assert!(
        db.look(|tx| waiters::take(tx, Awaited::Promise, &target))
            .is_empty(),
        "the waiter was taken"
    );
}

#[test]
fn a_promise_completes_once() {
    let mut db = Db::new();
    let run = db.running("Signup", "run", "ann");
    assert_eq!(
        completed(&db.apply(&run, resolve("p", b"first", 1))),
        Ok(())
    );
    let again = db.apply(&run, resolve("p", b"second", 2));
    assert_eq!(completed(&again), Err(409));
    assert!(again.effects.is_empty());
    assert_eq!(
        peeked(&db.apply(&run, peek("p", 3))),
        Some(b"first".to_vec())
    );
}

#[test]
fn a_peek_does_not_wait_and_a_get_of_a_completed_promise_answers_at_once() {
    let mut db = Db::new();
    let run = db.running("Signup", "run", "ann");
    assert_eq!(peeked(&db.apply(&run, peek("p", 1))), None);
    db.apply(&run, resolve("p", b"v", 2));
    let got = db.apply(&run, get("p", 3));
    let answer: pb::GetPromiseCompletionNotificationMessage = only(&got.frames);
    assert_eq!(answer.completion_id, 3);
    assert!(got.effects.is_empty());
}

#[test]
fn a_rejection_reaches_the_waiter_as_a_failure() {
    let mut db = Db::new();
    let run = db.running("Signup", "run", "ann");
    db.apply(&run, get("p", 1));
    let applied = db.apply(
        &run,
        pb::CompletePromiseCommandMessage {
            key: "p".to_owned(),
            completion: Some(
                pb::complete_promise_command_message::Completion::CompletionFailure(pb::Failure {
                    code: 400,
                    message: "refused".to_owned(),
                    metadata: vec![],
                }),
            ),
            result_completion_id: 2,
            ..Default::default()
        },
    );
    let sent = deliveries(&applied.effects);
    let result: pb::GetPromiseCompletionNotificationMessage = sent[0].frame.decode().unwrap();
    match result.result {
        Some(pb::get_promise_completion_notification_message::Result::Failure(f)) => {
            assert_eq!((f.code, f.message.as_str()), (400, "refused"))
        }
        other => panic!("a failure expected, got {other:?}"),
    }
}

#[test]
fn promises_belong_to_their_workflow_key() {
    let mut db = Db::new();
    let ann = db.running("Signup", "run", "ann");
    db.apply(&ann, resolve("p", b"ann's", 1));
    let bob = db.running("Signup", "run", "bob");
    assert_eq!(peeked(&db.apply(&bob, peek("p", 1))), None);
}
