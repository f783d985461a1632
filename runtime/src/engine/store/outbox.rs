//! The `outbox` table: notifications on their way to another invocation, written in the
//! transaction that produced them and taken in the one that journals them at their target,
//! so that none is lost or journaled twice. Only this file reads or writes it.
//!
//! May use: rusqlite, [`Sql`](super::Sql).

use super::Sql;
use rusqlite::{Connection, params};

/// A notification in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// Its row, which [`take`] removes.
    pub(crate) id: i64,
    /// The invocation it goes to.
    pub(crate) invocation_id: String,
    /// The protocol message type.
    pub(crate) ty: u16,
    /// The protobuf payload.
    pub(crate) payload: Vec<u8>,
}

/// Puts a notification for `invocation_id` in the outbox; its row.
pub(crate) fn push(
    tx: &Connection,
    invocation_id: &str,
    ty: u16,
    payload: &[u8],
) -> rusqlite::Result<i64> {
    tx.exec(
        "INSERT INTO outbox (invocation_id, ty, payload) VALUES (?1, ?2, ?3)",
        params![invocation_id, ty as i64, payload],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Everything in the outbox, in the order it was put there.
pub(crate) fn all(tx: &Connection) -> rusqlite::Result<Vec<Message>> {
    tx.rows(
        "SELECT id, invocation_id, ty, payload FROM outbox ORDER BY id",
        [],
        |r| {
            Ok(Message {
                id: r.get(0)?,
                invocation_id: r.get(1)?,
                ty: r.get::<_, i64>(2)? as u16,
                payload: r.get(3)?,
            })
        },
    )
}

/// Removes the row `id`; false when it was gone already (delivered).
pub(crate) fn take(tx: &Connection, id: i64) -> rusqlite::Result<bool> {
    Ok(tx.exec("DELETE FROM outbox WHERE id = ?1", [id])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_is_taken_once() {
        let db = super::super::tests::database();
        let first = push(&db, "inv_a", 0x800C, b"one").unwrap();
        let second = push(&db, "inv_b", 0x800D, b"two").unwrap();
        assert!(second > first);
        let queued = all(&db).unwrap();
        assert_eq!(
            queued
                .iter()
                .map(|m| (m.id, m.invocation_id.as_str(), m.ty))
                .collect::<Vec<_>>(),
            [(first, "inv_a", 0x800C), (second, "inv_b", 0x800D)]
        );
        assert!(take(&db, first).unwrap());
        assert!(!take(&db, first).unwrap());
        assert_eq!(all(&db).unwrap().len(), 1);
        assert_eq!(all(&db).unwrap()[0].payload, b"two");
    }
}
