//! State: set, clear, clear all, lazy get and lazy key listing, per object key.

use super::*;

fn set(name: &str, v: &str) -> pb::SetStateCommandMessage {
    pb::SetStateCommandMessage {
        key: name.as_bytes().to_vec(),
        value: Some(value(v.as_bytes())),
        ..Default::default()
    }
}

fn get(name: &str, completion_id: u32) -> pb::GetLazyStateCommandMessage {
    pb::GetLazyStateCommandMessage {
        key: name.as_bytes().to_vec(),
        result_completion_id: completion_id,
        ..Default::default()
    }
}

fn keys(completion_id: u32) -> pb::GetLazyStateKeysCommandMessage {
    pb::GetLazyStateKeysCommandMessage {
        result_completion_id: completion_id,
        ..Default::default()
    }
}

/// What a lazy get answered: `Some(value)`, or `None` for void.
fn got(applied: &Applied, completion_id: u32) -> Option<Vec<u8>> {
    use pb::get_lazy_state_completion_notification_message::Result as R;
    let answer: pb::GetLazyStateCompletionNotificationMessage = only(&applied.frames);
    assert_eq!(answer.completion_id, completion_id);
    match answer.result.expect("a result") {
        R::Value(v) => Some(v.content),
        R::Void(_) => None,
    }
}

fn listed(applied: &Applied) -> Vec<Vec<u8>> {
    let answer: pb::GetLazyStateKeysCompletionNotificationMessage = only(&applied.frames);
    answer.state_keys.expect("keys").keys
}

#[test]
fn a_write_answers_nothing_and_a_lazy_get_reads_it() {
    let mut db = Db::new();
    let counter = db.running("Counter", "add", "a");
    let written = db.apply(&counter, set("n", "1"));
    assert!(written.frames.is_empty() && written.effects.is_empty());
    let read = db.apply(&counter, get("n", 1));
    assert_eq!(got(&read, 1), Some(b"1".to_vec()));
    assert!(read.effects.is_empty());
    // The command and its answer are both journaled, after the input.
    assert_eq!(
        db.journal(&counter.id),
        [
            protocol::INPUT_COMMAND,
            protocol::SET_STATE_COMMAND,
            protocol::GET_LAZY_STATE_COMMAND,
            protocol::GET_LAZY_STATE_COMPLETION_NOTIFICATION,
        ]
    );
}

#[test]
fn a_cleared_or_missing_entry_reads_as_void() {
    let mut db = Db::new();
    let counter = db.running("Counter", "add", "a");
    db.apply(&counter, set("n", "1"));
    db.apply(
        &counter,
        pb::ClearStateCommandMessage {
            key: b"n".to_vec(),
            ..Default::default()
        },
    );
    assert_eq!(got(&db.apply(&counter, get("n", 1)), 1), None);
    assert_eq!(got(&db.apply(&counter, get("never", 2)), 2), None);
}

#[test]
fn keys_are_listed_and_clear_all_empties_them() {
    let mut db = Db::new();
    let counter = db.running("Counter", "add", "a");
    db.apply(&counter, set("b", "2"));
    db.apply(&counter, set("a", "1"));
    db.apply(&counter, set("a", "3"));
    let mut names = listed(&db.apply(&counter, keys(1)));
    names.sort();
    assert_eq!(names, [b"a".to_vec(), b"b".to_vec()]);
    db.apply(&counter, pb::ClearAllStateCommandMessage::default());
    assert!(listed(&db.apply(&counter, keys(2))).is_empty());
}

#[test]
fn state_belongs_to_its_object_key() {
    let mut db = Db::new();
    let a = db.running("Counter", "add", "a");
    db.apply(&a, set("n", "1"));
    let b = db.running("Counter", "add", "b");
    assert_eq!(got(&db.apply(&b, get("n", 1)), 1), None);
    // A shared handler of the same key sees what the exclusive one wrote.
    let reader = db.running("Counter", "get", "a");
    assert_eq!(got(&db.apply(&reader, get("n", 1)), 1), Some(b"1".to_vec()));
}

/// Writes, clears, `run` markers and the output answer nothing and touch no other invocation:
/// the engine may hold them back until its next job. Anything that answers must not be.
#[test]
fn only_commands_that_answer_nothing_are_silent() {
    let silent = [
        Frame::from_message(&set("n", "1")),
        Frame::from_message(&pb::ClearStateCommandMessage::default()),
        Frame::from_message(&pb::ClearAllStateCommandMessage::default()),
        Frame::from_message(&pb::RunCommandMessage::default()),
        Frame::from_message(&pb::OutputCommandMessage::default()),
    ];
    for frame in silent {
        assert!(Command::decode(&frame).unwrap().is_silent(), "{}", frame.ty);
    }
    let answering = [
        Frame::from_message(&get("n", 1)),
        Frame::from_message(&keys(1)),
        Frame::from_message(&pb::SleepCommandMessage::default()),
        Frame::from_message(&pb::CallCommandMessage::default()),
        Frame::from_message(&pb::OneWayCallCommandMessage::default()),
        Frame::from_message(&pb::GetPromiseCommandMessage::default()),
        Frame::from_message(&pb::CompletePromiseCommandMessage::default()),
        Frame::from_message(&pb::CompleteAwakeableCommandMessage::default()),
        Frame::from_message(&pb::AttachInvocationCommandMessage::default()),
    ];
    for frame in answering {
        assert!(
            !Command::decode(&frame).unwrap().is_silent(),
            "{}",
            frame.ty
        );
    }
}

/// Held-back commands are journaled in the order they came, and their writes applied.
#[test]
fn held_back_commands_are_journaled_in_order() {
    let mut db = Db::new();
    let counter = db.running("Counter", "add", "a");
    let held: super::super::Silent = [set("n", "1"), set("n", "2")]
        .iter()
        .map(|m| {
            let frame = Frame::from_message(m);
            let command = Command::decode(&frame).unwrap();
            (frame, command)
        })
        .collect();
    db.write(|tx| super::super::journal_silent(tx, &counter, held, NOW));
    assert_eq!(
        db.journal(&counter.id),
        [
            protocol::INPUT_COMMAND,
            protocol::SET_STATE_COMMAND,
            protocol::SET_STATE_COMMAND
        ]
    );
    assert_eq!(
        got(&db.apply(&counter, get("n", 1)), 1),
        Some(b"2".to_vec())
    );
}

#[test]
fn the_output_is_kept_until_the_invocation_completes() {
    let mut db = Db::new();
    let greeter = db.running("Greeter", "greet", "");
    let applied = db.apply(
        &greeter,
        pb::OutputCommandMessage {
            result: Some(pb::output_command_message::Result::Value(value(b"hi"))),
            ..Default::default()
        },
    );
    assert!(applied.frames.is_empty() && applied.effects.is_empty());
    assert_eq!(
        db.outcome(&greeter.id),
        None,
        "not completed by its output alone"
    );
    let completed = db.write(|tx| invocations::complete(tx, &greeter.id, NOW, 0, 0, None));
    assert_eq!(
        completed.map(|(outcome, _)| outcome),
        Some(Ok(b"hi"[..].into()))
    );
}
