//! Attach and get-output: another invocation's result, by id, by idempotency key or by
//! workflow key.

use super::*;
use crate::engine::store::waiters::{self, Awaited, Waiter};
use pb::attach_invocation_command_message::Target as AttachTo;
use pb::get_invocation_output_command_message::Target as OutputOf;

fn attach(target: AttachTo, completion_id: u32) -> pb::AttachInvocationCommandMessage {
    pb::AttachInvocationCommandMessage {
        target: Some(target),
        result_completion_id: completion_id,
        ..Default::default()
    }
}

fn output_of(target: OutputOf, completion_id: u32) -> pb::GetInvocationOutputCommandMessage {
    pb::GetInvocationOutputCommandMessage {
        target: Some(target),
        result_completion_id: completion_id,
        ..Default::default()
    }
}

fn attached(applied: &Applied) -> Result<Vec<u8>, (u32, String)> {
    use pb::attach_invocation_completion_notification_message::Result as R;
    let answer: pb::AttachInvocationCompletionNotificationMessage = only(&applied.frames);
    match answer.result.expect("a result") {
        R::Value(v) => Ok(v.content),
        R::Failure(f) => Err((f.code, f.message)),
    }
}

#[test]
fn attaching_to_an_unknown_invocation_fails_with_404() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let nobody = ids::invocation_id(&[9; 16]);
    let applied = db.apply(&caller, attach(AttachTo::InvocationId(nobody), 1));
    assert_eq!(attached(&applied).map_err(|(code, _)| code), Err(404));
}

#[test]
fn attaching_to_a_running_invocation_waits_for_its_end() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let target = db.running("Greeter", "greet", "");
    let applied = db.apply(
        &caller,
        attach(AttachTo::InvocationId(target.id.clone()), 4),
    );
    assert!(applied.frames.is_empty() && applied.effects.is_empty());
    assert_eq!(
        db.look(|tx| waiters::take(tx, Awaited::Attach, &target.id)),
        [Waiter {
            invocation_id: caller.id.clone(),
            completion_id: 4
        }]
    );
    // Its output, meanwhile, is void: a get-output does not wait.
    let peeked = db.apply(
        &caller,
        output_of(OutputOf::InvocationId(target.id.clone()), 5),
    );
    let answer: pb::GetInvocationOutputCompletionNotificationMessage = only(&peeked.frames);
    assert_eq!(
        answer.result,
        Some(pb::get_invocation_output_completion_notification_message::Result::Void(pb::Void {}))
    );
}

#[test]
fn a_completed_invocation_answers_at_once_with_its_value_or_failure() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    let ok = db.running("Greeter", "greet", "");
    db.complete(&ok.id, Ok(b"fine"[..].into()));
    let failed = db.running("Greeter", "greet", "");
    db.complete(&failed.id, Err((418, "teapot".to_owned())));
    let applied = db.apply(&caller, attach(AttachTo::InvocationId(ok.id.clone()), 1));
    assert_eq!(attached(&applied), Ok(b"fine".to_vec()));
    let applied = db.apply(
        &caller,
        attach(AttachTo::InvocationId(failed.id.clone()), 2),
    );
    assert_eq!(attached(&applied), Err((418, "teapot".to_owned())));
    let output = db.apply(&caller, output_of(OutputOf::InvocationId(ok.id.clone()), 3));
    let answer: pb::GetInvocationOutputCompletionNotificationMessage = only(&output.frames);
    assert_eq!(
        answer.result,
        Some(
            pb::get_invocation_output_completion_notification_message::Result::Value(value(
                b"fine"
            ))
        )
    );
}

#[test]
fn a_workflow_run_and_an_idempotent_call_are_found_by_their_keys() {
    let mut db = Db::new();
    let caller = db.running("Greeter", "greet", "");
    // A workflow run and an idempotent call, made by calls so that their keys are recorded.
    let run = db.apply(
        &caller,
        pb::CallCommandMessage {
            service_name: "Signup".to_owned(),
            handler_name: "run".to_owned(),
            key: "ann".to_owned(),
            invocation_id_notification_idx: 1,
            result_completion_id: 2,
            ..Default::default()
        },
    );
    let run_id =
        only::<pb::CallInvocationIdCompletionNotificationMessage>(&run.frames).invocation_id;
    let idempotent = db.apply(
        &caller,
        pb::CallCommandMessage {
            service_name: "Greeter".to_owned(),
            handler_name: "greet".to_owned(),
            idempotency_key: Some("k1".to_owned()),
            invocation_id_notification_idx: 3,
            result_completion_id: 4,
            ..Default::default()
        },
    );
    let idempotent_id =
        only::<pb::CallInvocationIdCompletionNotificationMessage>(&idempotent.frames).invocation_id;
    db.complete(&run_id, Ok(b"signed up"[..].into()));
    db.complete(&idempotent_id, Ok(b"greeted"[..].into()));

    let by_workflow = db.apply(
        &caller,
        attach(
            AttachTo::WorkflowTarget(pb::WorkflowTarget {
                workflow_name: "Signup".to_owned(),
                workflow_key: "ann".to_owned(),
            }),
            5,
        ),
    );
    assert_eq!(attached(&by_workflow), Ok(b"signed up".to_vec()));
    let by_key = |idempotency_key: &str| {
        AttachTo::IdempotentRequestTarget(pb::IdempotentRequestTarget {
            service_name: "Greeter".to_owned(),
            service_key: None,
            handler_name: "greet".to_owned(),
            idempotency_key: idempotency_key.to_owned(),
        })
    };
    let found = db.apply(&caller, attach(by_key("k1"), 6));
    assert_eq!(attached(&found), Ok(b"greeted".to_vec()));
    let no_such_key = db.apply(&caller, attach(by_key("k2"), 7));
    assert_eq!(attached(&no_such_key).map_err(|(code, _)| code), Err(404));
}
