//! An invocation's end: its output recorded with the completion, its callers and attachers
//! told through the outbox, what it waited for forgotten, and a kill that keeps the first
//! outcome.

use super::super::{Expiry, Finished, Silent, finish};
use super::*;
use crate::engine::store::timers;
use crate::engine::store::waiters::{self, Awaited};

const KEEP: Expiry = Expiry {
    journal: i64::MAX,
    record: i64::MAX,
};

fn output(outcome: Outcome) -> Silent {
    use pb::output_command_message::Result as R;
    let message = pb::OutputCommandMessage {
        result: Some(match &outcome {
            Ok(v) => R::Value(value(v)),
            Err((code, message)) => R::Failure(pb::Failure {
                code: u32::from(*code),
                message: message.clone(),
                metadata: vec![],
            }),
        }),
        ..Default::default()
    };
    let frame = Frame::from_message(&message);
    let command = Command::decode(&frame).unwrap();
    vec![(frame, command)]
}

#[test]
fn the_output_held_back_is_the_outcome_and_reaches_callers_and_attachers() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let made = db.apply(
        &caller,
        pb::CallCommandMessage {
            service_name: "Greeter".to_owned(),
            handler_name: "greet".to_owned(),
            invocation_id_notification_idx: 1,
            result_completion_id: 2,
            ..Default::default()
        },
    );
    let callee_id =
        only::<pb::CallInvocationIdCompletionNotificationMessage>(&made.frames).invocation_id;
    let callee = db.look(|tx| invocations::get(tx, &callee_id)).unwrap();
    let attacher = db.running("Greeter", "greet", "");
    db.apply(
        &attacher,
        pb::AttachInvocationCommandMessage {
            target: Some(pb::attach_invocation_command_message::Target::InvocationId(
                callee_id.clone(),
            )),
            result_completion_id: 9,
            ..Default::default()
        },
    );
    // The callee sleeps and waits for a promise-less peer; both are forgotten at its end.
    db.apply(
        &callee,
        pb::SleepCommandMessage {
            wake_up_time: (NOW + 60_000) as u64,
            result_completion_id: 1,
            ..Default::default()
        },
    );

    let Finished {
        outcome,
        created_at,
        deliveries,
    } = db.write(|tx| {
        finish(
            tx,
            &callee,
            output(Ok(b"hello"[..].into())),
            None,
            NOW,
            KEEP,
        )
    });
    assert_eq!(outcome, Ok(b"hello"[..].into()));
    assert_eq!(created_at, NOW);
    assert_eq!(db.outcome(&callee_id), Some(Ok(b"hello"[..].into())));
    assert_eq!(
        db.journal(&callee_id).last(),
        Some(&protocol::OUTPUT_COMMAND),
        "the output is journaled"
    );
    let mut told: Vec<_> = deliveries
        .iter()
        .map(|d| (d.invocation_id.clone(), d.frame.ty))
        .collect();
    told.sort();
    let mut expected = vec![
        (caller.id.clone(), protocol::CALL_COMPLETION_NOTIFICATION),
        (
            attacher.id.clone(),
            protocol::ATTACH_INVOCATION_COMPLETION_NOTIFICATION,
        ),
    ];
    expected.sort();
    assert_eq!(told, expected);
    assert!(deliveries.iter().all(|d| d.outbox.is_some()));
    assert_eq!(
        db.look(|tx| timers::next_due(tx)),
        None,
        "its timer is gone"
    );
    assert!(
        db.look(|tx| waiters::take(tx, Awaited::Call, &callee_id))
            .is_empty()
    );
}

#[test]
fn a_terminal_failure_replaces_the_output() {
    let mut db = Db::new();
    let greeter = db.running("Greeter", "greet", "");
    let failure = (3, (500, "gave up".to_owned()));
    let finished = db.write(|tx| {
        finish(
            tx,
            &greeter,
            output(Ok(b"late"[..].into())),
            Some(&failure),
            NOW,
            KEEP,
        )
    });
    assert_eq!(finished.outcome, Err((500, "gave up".to_owned())));
    assert_eq!(
        db.outcome(&greeter.id),
        Some(Err((500, "gave up".to_owned())))
    );
}

#[test]
fn an_invocation_ended_twice_keeps_its_first_outcome() {
    let mut db = Db::new();
    let greeter = db.running("Greeter", "greet", "");
    db.write(|tx| {
        finish(
            tx,
            &greeter,
            output(Ok(b"first"[..].into())),
            None,
            NOW,
            KEEP,
        )
    });
    let killed = (1, (409, "killed".to_owned()));
    let again = db.write(|tx| finish(tx, &greeter, Vec::new(), Some(&killed), NOW + 5, KEEP));
    assert_eq!(again.outcome, Ok(b"first"[..].into()));
    assert_eq!(db.outcome(&greeter.id), Some(Ok(b"first"[..].into())));
}

#[test]
fn an_output_journaled_earlier_is_the_outcome() {
    let mut db = Db::new();
    let greeter = db.running("Greeter", "greet", "");
    // The output came with an earlier job (a command after it flushed the held-back ones).
    db.write(|tx| {
        super::super::journal_silent(tx, &greeter, output(Err((400, "bad".to_owned()))), NOW)
    });
    let finished = db.write(|tx| finish(tx, &greeter, Vec::new(), None, NOW, KEEP));
    assert_eq!(finished.outcome, Err((400, "bad".to_owned())));
}

#[test]
fn a_retention_of_zero_purges_at_once() {
    let mut db = Db::new();
    let greeter = db.running("Greeter", "greet", "");
    let now_expired = Expiry {
        journal: NOW,
        record: NOW,
    };
    let finished = db.write(|tx| {
        finish(
            tx,
            &greeter,
            output(Ok(b"x"[..].into())),
            None,
            NOW,
            now_expired,
        )
    });
    assert_eq!(
        finished.outcome,
        Ok(b"x"[..].into()),
        "the caller still gets it"
    );
    assert!(db.look(|tx| invocations::get(tx, &greeter.id)).is_none());
    assert!(db.journal(&greeter.id).is_empty());
}
