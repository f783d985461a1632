//! Awakeables and signals: completing an awakeable another invocation made, and sending a
//! signal (a cancellation) to another invocation.

use super::*;
use crate::engine::EngineError;
use crate::engine::store::outbox;

fn complete(
    awakeable_id: &str,
    result: pb::complete_awakeable_command_message::Result,
) -> pb::CompleteAwakeableCommandMessage {
    pb::CompleteAwakeableCommandMessage {
        awakeable_id: awakeable_id.to_owned(),
        result: Some(result),
        ..Default::default()
    }
}

#[test]
fn resolving_an_awakeable_signals_the_invocation_that_made_it() {
    let mut db = Db::new();
    let sleeper = db.running("Greeter", "greet", "");
    let waker = db.running("Greeter", "greet", "");
    let id = protocol::awakeable_id(&sleeper.raw_id, 17);
    let applied = db.apply(
        &waker,
        complete(
            &id,
            pb::complete_awakeable_command_message::Result::Value(value(b"ok")),
        ),
    );
    assert!(applied.frames.is_empty());
    let sent = deliveries(&applied.effects);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].invocation_id, sleeper.id);
    let signal: pb::SignalNotificationMessage = sent[0].frame.decode().unwrap();
    assert_eq!(
        signal.signal_id,
        Some(pb::signal_notification_message::SignalId::Idx(17))
    );
    assert_eq!(
        signal.result,
        Some(pb::signal_notification_message::Result::Value(value(b"ok")))
    );
    assert_eq!(db.look(|tx| outbox::all(tx)).len(), 1, "through the outbox");
}

#[test]
fn rejecting_an_awakeable_signals_a_failure() {
    let mut db = Db::new();
    let sleeper = db.running("Greeter", "greet", "");
    let id = protocol::awakeable_id(&sleeper.raw_id, 18);
    let failure = pb::Failure {
        code: 500,
        message: "no".to_owned(),
        metadata: vec![],
    };
    let applied = db.apply(
        &sleeper,
        complete(
            &id,
            pb::complete_awakeable_command_message::Result::Failure(failure.clone()),
        ),
    );
    let signal: pb::SignalNotificationMessage =
        deliveries(&applied.effects)[0].frame.decode().unwrap();
    assert_eq!(
        signal.result,
        Some(pb::signal_notification_message::Result::Failure(failure))
    );
}

/// An id that does not parse, or that no invocation of this store issued, is journaled and
/// otherwise ignored: the handler goes on, and nothing is queued for anybody.
#[test]
fn an_awakeable_nobody_made_is_journaled_and_delivers_nothing() {
    let mut db = Db::new();
    let waker = db.running("Greeter", "greet", "");
    let unknown = protocol::awakeable_id(&[7; 16], 17);
    for id in ["sign_1 not base64!", unknown.as_str()] {
        let applied = db.apply(
            &waker,
            complete(
                id,
                pb::complete_awakeable_command_message::Result::Value(value(b"")),
            ),
        );
        assert!(
            applied.frames.is_empty() && applied.effects.is_empty(),
            "{id}"
        );
    }
    assert!(db.look(|tx| outbox::all(tx)).is_empty());
    assert_eq!(
        db.journal(&waker.id),
        [
            protocol::INPUT_COMMAND,
            protocol::COMPLETE_AWAKEABLE_COMMAND,
            protocol::COMPLETE_AWAKEABLE_COMMAND
        ]
    );
    // What the ingress answers for the same ids: why it cannot be delivered.
    let mut reason = |id: &str| match db
        .look(|tx| super::super::awakeable_delivery(tx, id, &Ok(Default::default())))
    {
        Err(EngineError::InvalidAwakeable { reason, .. }) => reason,
        other => panic!("an invalid awakeable expected, got {other:?}"),
    };
    assert!(reason(&unknown).contains("no invocation of this engine"));
    assert!(reason("awk_1").contains("sign_1"));
}

#[test]
fn a_cancellation_signal_goes_to_its_target() {
    let mut db = Db::new();
    let target = db.running("Greeter", "greet", "");
    let sender = db.running("Greeter", "greet", "");
    let applied = db.apply(
        &sender,
        pb::SendSignalCommandMessage {
            target_invocation_id: target.id.clone(),
            signal_id: Some(pb::send_signal_command_message::SignalId::Idx(
                protocol::CANCEL_SIGNAL_INDEX,
            )),
            result: Some(pb::send_signal_command_message::Result::Void(pb::Void {})),
            ..Default::default()
        },
    );
    let sent = deliveries(&applied.effects);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].invocation_id, target.id);
    let signal: pb::SignalNotificationMessage = sent[0].frame.decode().unwrap();
    assert_eq!(
        signal.signal_id,
        Some(pb::signal_notification_message::SignalId::Idx(
            protocol::CANCEL_SIGNAL_INDEX
        ))
    );
}
