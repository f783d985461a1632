//! Calls and one-way calls: the invocation a call makes (or finds, by idempotency key or
//! workflow run), what the caller is answered, and what the caller waits for.

use super::*;
use crate::engine::store::outbox;
use crate::engine::store::waiters::{self, Awaited, Waiter};

fn call(service: &str, handler: &str, key: &str) -> pb::CallCommandMessage {
    pb::CallCommandMessage {
        service_name: service.to_owned(),
        handler_name: handler.to_owned(),
        key: key.to_owned(),
        parameter: b"input".to_vec(),
        invocation_id_notification_idx: 1,
        result_completion_id: 2,
        ..Default::default()
    }
}

/// The id of the invocation the call made, as answered to the caller.
fn child_id(applied: &Applied) -> String {
    let answer: pb::CallInvocationIdCompletionNotificationMessage = applied.frames[0]
        .decode()
        .expect("the call's invocation id first");
    assert_eq!(answer.completion_id, 1);
    answer.invocation_id
}

fn admitted(effects: &[Effect]) -> Vec<(&str, &str, HandlerKind)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Admit {
                service, key, kind, ..
            } => Some((service.as_str(), key.as_str(), *kind)),
            _ => None,
        })
        .collect()
}

fn started(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|effect| matches!(effect, Effect::Started { .. }))
        .count()
}

#[test]
fn a_call_makes_a_pending_invocation_with_its_input_and_the_caller_waits() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let applied = db.apply(&caller, call("Counter", "add", "a"));
    assert_eq!(
        applied.frames.len(),
        1,
        "only the id: the result comes later"
    );
    let child = child_id(&applied);
    assert!(ids::is_invocation_id(&child), "{child}");
    assert_eq!(
        admitted(&applied.effects),
        [("Counter", "a", HandlerKind::Exclusive)]
    );
    assert_eq!(started(&applied.effects), 1);
    let made = db
        .look(|tx| invocations::get(tx, &child))
        .expect("the child");
    assert_eq!(made.status, InvocationStatus::Pending);
    assert_eq!(
        (made.service.as_str(), made.handler.as_str()),
        ("Counter", "add")
    );
    let input = db.look(|tx| journal::read(tx, &child));
    assert_eq!(input.len(), 1);
    assert_eq!(input[0].ty, protocol::INPUT_COMMAND);
    let parameter = super::super::raw_frame(input[0].ty, input[0].payload.clone().into())
        .decode::<pb::InputCommandMessage>()
        .unwrap()
        .value
        .unwrap()
        .content;
    assert_eq!(parameter, b"input");
    let waiting = db.look(|tx| waiters::take(tx, Awaited::Call, &child));
    assert_eq!(
        waiting,
        [Waiter {
            invocation_id: caller.id.clone(),
            completion_id: 2
        }]
    );
}

#[test]
fn a_call_to_a_handler_nobody_serves_fails_with_404_and_makes_nothing() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let applied = db.apply(&caller, call("Nobody", "home", ""));
    assert_eq!(child_id(&applied), "", "no invocation id");
    let result: pb::CallCompletionNotificationMessage = applied.frames[1].decode().unwrap();
    assert_eq!(result.completion_id, 2);
    match result.result {
        Some(pb::call_completion_notification_message::Result::Failure(f)) => {
            assert_eq!(f.code, 404);
            assert!(f.message.contains("Nobody/home"), "{}", f.message);
        }
        other => panic!("a failure expected, got {other:?}"),
    }
    assert!(applied.effects.is_empty());
    let unfinished = db.look(|tx| invocations::unfinished(tx));
    assert_eq!(unfinished.len(), 1, "only the caller");
}

#[test]
fn a_delayed_send_is_scheduled_and_wakes_the_timers() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let applied = db.apply(
        &caller,
        pb::OneWayCallCommandMessage {
            service_name: "Greeter".to_owned(),
            handler_name: "greet".to_owned(),
            invoke_time: (NOW + 60_000) as u64,
            invocation_id_notification_idx: 1,
            ..Default::default()
        },
    );
    let child = child_id(&applied);
    assert!(matches!(
        applied.effects.as_slice(),
        [Effect::Started { .. }, Effect::WakeTimers]
    ));
    let made = db.look(|tx| invocations::get(tx, &child)).unwrap();
    assert_eq!(made.status, InvocationStatus::Scheduled);
    assert!(db.look(|tx| invocations::due(tx, NOW)).is_empty());
    let due = db.look(|tx| invocations::due(tx, NOW + 60_000));
    assert_eq!(due.iter().map(|d| &d.id).collect::<Vec<_>>(), [&child]);
    assert!(
        db.look(|tx| waiters::take(tx, Awaited::Call, &child))
            .is_empty()
    );
}

#[test]
fn a_send_due_now_is_admitted_and_nobody_waits_for_it() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let applied = db.apply(
        &caller,
        pb::OneWayCallCommandMessage {
            service_name: "Counter".to_owned(),
            handler_name: "add".to_owned(),
            key: "k".to_owned(),
            invocation_id_notification_idx: 1,
            ..Default::default()
        },
    );
    let child = child_id(&applied);
    assert_eq!(
        admitted(&applied.effects),
        [("Counter", "k", HandlerKind::Exclusive)]
    );
    assert!(
        db.look(|tx| waiters::take(tx, Awaited::Call, &child))
            .is_empty()
    );
}

#[test]
fn an_idempotency_key_makes_one_invocation_and_a_completed_one_answers_at_once() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let idempotent = || pb::CallCommandMessage {
        idempotency_key: Some("once".to_owned()),
        ..call("Greeter", "greet", "")
    };
    let first = db.apply(&caller, idempotent());
    let child = child_id(&first);
    let again = db.apply(&caller, idempotent());
    assert_eq!(child_id(&again), child, "the same invocation");
    assert!(admitted(&again.effects).is_empty() && started(&again.effects) == 0);

    db.complete(&child, Ok(b"done"[..].into()));
    let late = db.apply(&caller, idempotent());
    assert_eq!(child_id(&late), child);
    // Its result goes through the outbox, like any notification from elsewhere.
    let sent = deliveries(&late.effects);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].invocation_id, caller.id);
    let result: pb::CallCompletionNotificationMessage = sent[0].frame.decode().unwrap();
    assert_eq!(
        result.result,
        Some(pb::call_completion_notification_message::Result::Value(
            value(b"done")
        ))
    );
    let queued = db.look(|tx| outbox::all(tx));
    assert_eq!(queued.len(), 1);
    assert_eq!(Some(queued[0].id), sent[0].outbox);
    // Two callers waited while it ran (the first two calls); nobody waits for the third.
    let waiting = db.look(|tx| waiters::take(tx, Awaited::Call, &child));
    assert_eq!(waiting.len(), 2);
}

#[test]
fn a_workflow_runs_once_per_key() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let first = child_id(&db.apply(&caller, call("Signup", "run", "ann")));
    let second = db.apply(&caller, call("Signup", "run", "ann"));
    assert_eq!(child_id(&second), first);
    assert!(admitted(&second.effects).is_empty());
    let other = db.apply(&caller, call("Signup", "run", "bob"));
    assert_ne!(child_id(&other), first);
    assert_eq!(
        admitted(&other.effects),
        [("Signup", "bob", HandlerKind::WorkflowRun)]
    );
}

#[test]
fn a_shared_handler_is_admitted_as_shared() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let applied = db.apply(&caller, call("Counter", "get", "a"));
    assert_eq!(
        admitted(&applied.effects),
        [("Counter", "a", HandlerKind::Shared)]
    );
}
