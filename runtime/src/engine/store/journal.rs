//! The `journal` table: each invocation's entries (commands and notifications) in order, as
//! protocol frames (message type, payload). Only this file reads or writes it.
//!
//! May use: rusqlite, [`Sql`](super::Sql).

use super::Sql;
use rusqlite::{Connection, params};

// Run for every invocation: the text parameter compared with the index's leading column is
// cast, so that the plan does not depend on its value and is made once (see
// `store::tests::statements_run_per_invocation_are_planned_once`).
/// The next index in an invocation's journal (`?1`: its id).
pub(super) const NEXT_INDEX: &str =
    "SELECT COALESCE(MAX(idx) + 1, 0) FROM journal WHERE invocation_id = CAST(?1 AS TEXT)";
/// An invocation's journal in order, as `(idx, ty, payload)` (`?1`: its id).
pub(super) const READ: &str =
    "SELECT idx, ty, payload FROM journal WHERE invocation_id = CAST(?1 AS TEXT) ORDER BY idx";

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its place in the journal, from 0 (the input).
    pub(crate) index: u32,
    /// The protocol message type.
    pub(crate) ty: u16,
    /// The protobuf payload.
    pub(crate) payload: Vec<u8>,
}

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        index: r.get::<_, i64>(0)? as u32,
        ty: r.get::<_, i64>(1)? as u16,
        payload: r.get(2)?,
    })
}

/// Appends an entry at the end of the journal of `id`; its index.
pub(crate) fn append(tx: &Connection, id: &str, ty: u16, payload: &[u8]) -> rusqlite::Result<u32> {
    let idx: i64 = tx.row(NEXT_INDEX, [id], |r| r.get(0))?;
    tx.exec(
        "INSERT INTO journal (invocation_id, idx, ty, payload) VALUES (?1, ?2, ?3, ?4)",
        params![id, idx, ty as i64, payload],
    )?;
    Ok(idx as u32)
}

/// Writes the first entry (index 0) of the journal of a new invocation `id`: its input.
pub(crate) fn append_first(
    tx: &Connection,
    id: &str,
    ty: u16,
    payload: &[u8],
) -> rusqlite::Result<()> {
    tx.exec(
        "INSERT INTO journal (invocation_id, idx, ty, payload) VALUES (?1, 0, ?2, ?3)",
        params![id, ty as i64, payload],
    )?;
    Ok(())
}

/// The journal of `id`, in order.
pub(crate) fn read(tx: &Connection, id: &str) -> rusqlite::Result<Vec<Entry>> {
    tx.rows(READ, [id], entry)
}

/// The notifications in the journal of `id` (completions and signals that arrived): the
/// entries whose message type is in the notification range (from `0x8000`).
pub(crate) fn notifications(tx: &Connection, id: &str) -> rusqlite::Result<Vec<Entry>> {
    tx.rows(
        "SELECT idx, ty, payload FROM journal WHERE invocation_id = ?1 AND ty >= 32768",
        [id],
        entry,
    )
}

/// The payloads of the entries of type `ty` in the journal of `id`.
pub(crate) fn payloads_of_type(
    tx: &Connection,
    id: &str,
    ty: u16,
) -> rusqlite::Result<Vec<Vec<u8>>> {
    tx.rows(
        "SELECT payload FROM journal WHERE invocation_id = ?1 AND ty = ?2",
        params![id, ty as i64],
        |r| r.get(0),
    )
}

/// How many entries the journal of `id` has.
pub(crate) fn len(tx: &Connection, id: &str) -> rusqlite::Result<i64> {
    tx.row(
        "SELECT COUNT(*) FROM journal WHERE invocation_id = ?1",
        [id],
        |r| r.get(0),
    )
}

/// Removes the journal of `id`.
pub(crate) fn delete(tx: &Connection, id: &str) -> rusqlite::Result<()> {
    tx.exec("DELETE FROM journal WHERE invocation_id = ?1", [id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_in_the_order_they_were_appended() {
        let db = super::super::tests::database();
        append_first(&db, "inv_a", 0x0400, b"input").unwrap();
        // A journal has one first entry.
        assert!(append_first(&db, "inv_a", 0x0400, b"twice").is_err());
        assert_eq!(append(&db, "inv_b", 0x0400, b"other").unwrap(), 0);
        assert_eq!(append(&db, "inv_a", 0x8001, b"one").unwrap(), 1);
        assert_eq!(append(&db, "inv_a", 0x0800, b"two").unwrap(), 2);
        let entries = read(&db, "inv_a").unwrap();
        let seen: Vec<(u32, u16, &[u8])> = entries
            .iter()
            .map(|e| (e.index, e.ty, e.payload.as_slice()))
            .collect();
        assert_eq!(
            seen,
            [
                (0, 0x0400, &b"input"[..]),
                (1, 0x8001, &b"one"[..]),
                (2, 0x0800, &b"two"[..])
            ]
        );
        assert_eq!(len(&db, "inv_a").unwrap(), 3);
        let arrived = notifications(&db, "inv_a").unwrap();
        assert_eq!(arrived.len(), 1);
        assert_eq!(arrived[0].index, 1);
        assert_eq!(
            payloads_of_type(&db, "inv_a", 0x0800).unwrap(),
            [b"two".to_vec()]
        );
        delete(&db, "inv_a").unwrap();
        assert!(read(&db, "inv_a").unwrap().is_empty());
        assert_eq!(append(&db, "inv_a", 0x0400, b"again").unwrap(), 0);
        assert_eq!(read(&db, "inv_b").unwrap().len(), 1);
    }
}
