//! The `waiters` table: who waits for what. A caller for its callee's result, an attached
//! invocation for another's output, a handler for a workflow's promise; each with the
//! completion id to notify. Only this file reads or writes it.
//!
//! May use: rusqlite, [`Sql`](super::Sql).

use super::Sql;
use rusqlite::{Connection, params};

/// What a waiter waits for; the `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Awaited {
    /// The result of a call (target: the callee's id).
    Call,
    /// The output of an attached invocation (target: its id).
    Attach,
    /// A workflow's durable promise (target: the promise's name with its workflow key).
    Promise,
}

impl Awaited {
    fn as_str(self) -> &'static str {
        match self {
            Awaited::Call => "call",
            Awaited::Attach => "attach",
            Awaited::Promise => "promise",
        }
    }
}

/// An invocation that waits, and the completion it waits with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Waiter {
    /// The invocation to notify.
    pub(crate) invocation_id: String,
    /// The completion id the notification carries.
    pub(crate) completion_id: u32,
}

/// Records that `invocation_id` waits for `target`, with `completion_id`.
pub(crate) fn add(
    tx: &Connection,
    awaited: Awaited,
    target: &str,
    invocation_id: &str,
    completion_id: u32,
) -> rusqlite::Result<()> {
    tx.exec(
        "INSERT INTO waiters (target, kind, invocation_id, completion_id) VALUES (?1, ?2, ?3, ?4)",
        params![target, awaited.as_str(), invocation_id, completion_id],
    )?;
    Ok(())
}

/// Removes and returns whoever waits for `target`. Most targets have nobody waiting: a lookup
/// finds that, and the delete runs only when there is someone. (`DELETE ... RETURNING` in one
/// statement cost more: SQLite gathers the returned rows in a temporary table that it opens
/// and closes at every run, found or not.)
pub(crate) fn take(
    tx: &Connection,
    awaited: Awaited,
    target: &str,
) -> rusqlite::Result<Vec<Waiter>> {
    let params = params![awaited.as_str(), target];
    let waiting = tx.rows(
        "SELECT invocation_id, completion_id FROM waiters WHERE kind = ?1 AND target = ?2",
        params,
        |r| {
            Ok(Waiter {
                invocation_id: r.get(0)?,
                completion_id: r.get::<_, i64>(1)? as u32,
            })
        },
    )?;
    if !waiting.is_empty() {
        tx.exec(
            "DELETE FROM waiters WHERE kind = ?1 AND target = ?2",
            params,
        )?;
    }
    Ok(waiting)
}

/// Forgets what `invocation_id` waits for.
pub(crate) fn remove_for(tx: &Connection, invocation_id: &str) -> rusqlite::Result<()> {
    tx.exec(
        "DELETE FROM waiters WHERE invocation_id = ?1",
        [invocation_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_are_taken_once_by_what_they_await() {
        let db = super::super::tests::database();
        add(&db, Awaited::Call, "inv_callee", "inv_a", 1).unwrap();
        add(&db, Awaited::Attach, "inv_callee", "inv_b", 2).unwrap();
        add(&db, Awaited::Call, "inv_callee", "inv_c", 3).unwrap();
        add(&db, Awaited::Call, "inv_other", "inv_c", 4).unwrap();
        let mut calls = take(&db, Awaited::Call, "inv_callee").unwrap();
        calls.sort_by(|a, b| a.invocation_id.cmp(&b.invocation_id));
        assert_eq!(
            calls,
            [
                Waiter {
                    invocation_id: "inv_a".to_owned(),
                    completion_id: 1
                },
                Waiter {
                    invocation_id: "inv_c".to_owned(),
                    completion_id: 3
                }
            ]
        );
        assert!(take(&db, Awaited::Call, "inv_callee").unwrap().is_empty());
        remove_for(&db, "inv_c").unwrap();
        assert!(take(&db, Awaited::Call, "inv_other").unwrap().is_empty());
        assert_eq!(take(&db, Awaited::Attach, "inv_callee").unwrap().len(), 1);
    }
}
