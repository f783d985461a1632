//! Sleeps: a durable timer, armed in the transaction that journals the sleep.

use super::*;
use crate::engine::store::timers::{self, Fired};

fn sleep(until: i64, completion_id: u32) -> pb::SleepCommandMessage {
    pb::SleepCommandMessage {
        wake_up_time: until as u64,
        result_completion_id: completion_id,
        ..Default::default()
    }
}

#[test]
fn a_sleep_arms_a_timer_and_wakes_the_timer_task() {
    let mut db = Db::new();
    let greeter = db.running("Greeter", "greet", "");
    let applied = db.apply(&greeter, sleep(NOW + 1_000, 1));
    assert!(applied.frames.is_empty(), "answered when the timer fires");
    assert!(matches!(applied.effects.as_slice(), [Effect::WakeTimers]));
    assert_eq!(db.look(|tx| timers::next_due(tx)), Some(NOW + 1_000));
    assert!(db.look(|tx| timers::take_due(tx, NOW + 999)).is_empty());
    assert_eq!(
        db.look(|tx| timers::take_due(tx, NOW + 1_000)),
        [Fired {
            invocation_id: greeter.id.clone(),
            completion_id: 1
        }]
    );
}

#[test]
fn timers_fire_in_time_order() {
    let mut db = Db::new();
    let a = db.running("Greeter", "greet", "");
    let b = db.running("Greeter", "greet", "");
    db.apply(&a, sleep(NOW + 2_000, 1));
    db.apply(&b, sleep(NOW + 1_000, 7));
    assert_eq!(db.look(|tx| timers::next_due(tx)), Some(NOW + 1_000));
    let fired = db.write(|tx| timers::take_due(tx, NOW + 5_000));
    assert_eq!(
        fired
            .iter()
            .map(|f| (f.invocation_id.as_str(), f.completion_id))
            .collect::<Vec<_>>(),
        [(b.id.as_str(), 7), (a.id.as_str(), 1)]
    );
    assert_eq!(db.look(|tx| timers::next_due(tx)), None, "taken");
}
