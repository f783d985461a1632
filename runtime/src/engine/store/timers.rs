//! The `timers` table: sleeps of invocations, each with the time it fires and the completion
//! it notifies; and when the engine must next wake up. Only this file reads or writes it.
//!
//! May use: rusqlite, [`Sql`](super::Sql), [`InvocationStatus`].

use super::Sql;
use crate::engine::status::InvocationStatus;
use rusqlite::{Connection, params};

/// A timer that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fired {
    /// The invocation that sleeps.
    pub(crate) invocation_id: String,
    /// The completion its sleep waits for.
    pub(crate) completion_id: u32,
}

/// Arms a timer for `invocation_id`, firing at `fire_at` (ms since the epoch).
pub(crate) fn add(
    tx: &Connection,
    fire_at: i64,
    invocation_id: &str,
    completion_id: u32,
) -> rusqlite::Result<()> {
    tx.exec(
        "INSERT INTO timers (fire_at, invocation_id, completion_id) VALUES (?1, ?2, ?3)",
        params![fire_at, invocation_id, completion_id],
    )?;
    Ok(())
}

/// Removes and returns the timers due at `now`, in the order they fire.
pub(crate) fn take_due(tx: &Connection, now: i64) -> rusqlite::Result<Vec<Fired>> {
    let due = tx.rows(
        "SELECT id, invocation_id, completion_id FROM timers WHERE fire_at <= ?1 ORDER BY fire_at",
        [now],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Fired {
                    invocation_id: r.get(1)?,
                    completion_id: r.get::<_, i64>(2)? as u32,
                },
            ))
        },
    )?;
    let mut fired = Vec::with_capacity(due.len());
    for (id, timer) in due {
        tx.exec("DELETE FROM timers WHERE id = ?1", [id])?;
        fired.push(timer);
    }
    Ok(fired)
}

/// Disarms the timers of `invocation_id`.
pub(crate) fn remove_for(tx: &Connection, invocation_id: &str) -> rusqlite::Result<()> {
    tx.exec(
        "DELETE FROM timers WHERE invocation_id = ?1",
        [invocation_id],
    )?;
    Ok(())
}

/// The earliest timer or `run_at` of an invocation in the statuses `?1` or `?2`.
pub(super) const NEXT_DUE: &str = "SELECT MIN(t) FROM (SELECT MIN(fire_at) AS t FROM timers UNION ALL SELECT MIN(run_at) FROM invocations WHERE status IN (?1, ?2) AND status != 'completed')";

/// When the next timer, delayed invocation or retry is due, if any: the earliest timer, or
/// the earliest `run_at` of a scheduled invocation or one in backoff.
pub(crate) fn next_due(tx: &Connection) -> rusqlite::Result<Option<i64>> {
    tx.row(
        NEXT_DUE,
        params![InvocationStatus::Scheduled, InvocationStatus::Backoff],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_fire_in_time_order_once() {
        let db = super::super::tests::database();
        assert_eq!(next_due(&db).unwrap(), None);
        add(&db, 30, "inv_a", 1).unwrap();
        add(&db, 10, "inv_b", 2).unwrap();
        add(&db, 50, "inv_c", 3).unwrap();
        add(&db, 40, "inv_d", 4).unwrap();
        remove_for(&db, "inv_d").unwrap();
        assert_eq!(next_due(&db).unwrap(), Some(10));
        let fired = take_due(&db, 30).unwrap();
        let ids: Vec<&str> = fired.iter().map(|f| f.invocation_id.as_str()).collect();
        assert_eq!(ids, ["inv_b", "inv_a"]);
        assert!(take_due(&db, 30).unwrap().is_empty());
        assert_eq!(next_due(&db).unwrap(), Some(50));
    }
}
