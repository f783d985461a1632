//! The notifications the core answers commands with, built from an [`Outcome`].
//!
//! May use: the protocol only.

use super::super::Outcome;
use super::super::protocol::{self, Frame, pb};
use bytes::Bytes;

/// A value as the protocol carries it.
pub(crate) fn pb_value(bytes: &[u8]) -> pb::Value {
    pb::Value {
        content: bytes.to_vec(),
    }
}

/// A terminal error as the protocol carries it.
pub(crate) fn pb_failure((code, message): &(u16, String)) -> pb::Failure {
    pb::Failure {
        code: u32::from(*code),
        message: message.clone(),
        metadata: vec![],
    }
}

/// The `result` oneof of a notification message (`$result` is its generated enum) for an
/// outcome: its value or failure, or `$absent` when there is none yet.
macro_rules! result_of {
    ($result:ident, $outcome:expr, $absent:expr) => {
        match $outcome {
            Some(Ok(v)) => $result::Value(pb_value(v)),
            Some(Err(failure)) => $result::Failure(pb_failure(failure)),
            None => $absent,
        }
    };
}

/// The waiter key of the durable promise `name` of a workflow (`service`, `key`).
pub(crate) fn promise_target(service: &str, key: &str, name: &str) -> String {
    format!("{service}\u{0}{key}\u{0}{name}")
}

/// The answer to a get-promise (`ty` = `GET_PROMISE_COMPLETION_NOTIFICATION`) or a
/// peek-promise, with the promise's outcome if it is completed. An absent promise is an empty
/// value for a get (which only answers once it is completed) and void for a peek.
pub(crate) fn promise_frame(ty: u16, completion_id: u32, outcome: Option<&Outcome>) -> Frame {
    if ty == protocol::GET_PROMISE_COMPLETION_NOTIFICATION {
        use pb::get_promise_completion_notification_message::Result as R;
        let result = result_of!(R, outcome, R::Value(pb_value(&[])));
        Frame::new(
            ty,
            &pb::GetPromiseCompletionNotificationMessage {
                completion_id,
                result: Some(result),
            },
        )
    } else {
        use pb::peek_promise_completion_notification_message::Result as R;
        let result = result_of!(R, outcome, R::Void(pb::Void {}));
        Frame::new(
            protocol::PEEK_PROMISE_COMPLETION_NOTIFICATION,
            &pb::PeekPromiseCompletionNotificationMessage {
                completion_id,
                result: Some(result),
            },
        )
    }
}

/// The result of a call, for the caller.
pub(crate) fn call_completion_frame(completion_id: u32, outcome: &Outcome) -> Frame {
    use pb::call_completion_notification_message::Result as R;
    Frame::new(
        protocol::CALL_COMPLETION_NOTIFICATION,
        &pb::CallCompletionNotificationMessage {
            completion_id,
            result: Some(match outcome {
                Ok(v) => R::Value(pb_value(v)),
                Err(failure) => R::Failure(pb_failure(failure)),
            }),
        },
    )
}

/// The answer to an attach (`attach`) or a get-output, with the target's outcome if it has
/// one. Only a get-output answers before the target ends (with void).
pub(crate) fn output_frame(attach: bool, completion_id: u32, outcome: Option<&Outcome>) -> Frame {
    if attach {
        use pb::attach_invocation_completion_notification_message::Result as R;
        let result = result_of!(R, outcome, R::Value(pb_value(&[])));
        Frame::new(
            protocol::ATTACH_INVOCATION_COMPLETION_NOTIFICATION,
            &pb::AttachInvocationCompletionNotificationMessage {
                completion_id,
                result: Some(result),
            },
        )
    } else {
        use pb::get_invocation_output_completion_notification_message::Result as R;
        let result = result_of!(R, outcome, R::Void(pb::Void {}));
        Frame::new(
            protocol::GET_INVOCATION_OUTPUT_COMPLETION_NOTIFICATION,
            &pb::GetInvocationOutputCompletionNotificationMessage {
                completion_id,
                result: Some(result),
            },
        )
    }
}

/// The completion of an awakeable (signal `index` of its invocation).
pub(crate) fn signal_frame(index: u32, outcome: &Outcome) -> Frame {
    use pb::signal_notification_message::Result as R;
    Frame::new(
        protocol::SIGNAL_NOTIFICATION,
        &pb::SignalNotificationMessage {
            signal_id: Some(pb::signal_notification_message::SignalId::Idx(index)),
            result: Some(match outcome {
                Ok(v) => R::Value(pb_value(v)),
                Err(failure) => R::Failure(pb_failure(failure)),
            }),
        },
    )
}

/// A frame rebuilt from what the journal or the outbox keeps of it.
pub(crate) fn raw_frame(ty: u16, payload: Bytes) -> Frame {
    Frame {
        ty,
        flags: 0,
        payload,
    }
}
