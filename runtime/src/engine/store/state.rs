//! The `state` table: the state of each virtual object and workflow key, name to value (both
//! bytes). Only this file reads or writes it.
//!
//! May use: rusqlite, [`Sql`](super::Sql).

use super::Sql;
use rusqlite::{Connection, OptionalExtension, params};

/// One entry of a key's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its name, as the handler gave it.
    pub(crate) name: Vec<u8>,
    /// Its value.
    pub(crate) value: Vec<u8>,
}

/// The value of `name` in the state of `service`'s `key`.
pub(crate) fn get(
    tx: &Connection,
    service: &str,
    key: &str,
    name: &[u8],
) -> rusqlite::Result<Option<Vec<u8>>> {
    tx.row(
        "SELECT value FROM state WHERE service = ?1 AND key = ?2 AND name = ?3",
        params![service, key, name],
        |r| r.get(0),
    )
    .optional()
}

/// The whole state of `service`'s `key`, by name.
pub(crate) fn all(tx: &Connection, service: &str, key: &str) -> rusqlite::Result<Vec<Entry>> {
    tx.rows(
        "SELECT name, value FROM state WHERE service = ?1 AND key = ?2 ORDER BY name",
        params![service, key],
        |r| {
            Ok(Entry {
                name: r.get(0)?,
                value: r.get(1)?,
            })
        },
    )
}

/// The names in the state of `service`'s `key`, in order.
pub(crate) fn names(tx: &Connection, service: &str, key: &str) -> rusqlite::Result<Vec<Vec<u8>>> {
    tx.rows(
        "SELECT name FROM state WHERE service = ?1 AND key = ?2 ORDER BY name",
        params![service, key],
        |r| r.get(0),
    )
}

/// Sets `name` to `value` in the state of `service`'s `key`.
pub(crate) fn set(
    tx: &Connection,
    service: &str,
    key: &str,
    name: &[u8],
    value: &[u8],
) -> rusqlite::Result<()> {
    tx.exec(
        "INSERT INTO state (service, key, name, value) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (service, key, name) DO UPDATE SET value = excluded.value",
        params![service, key, name, value],
    )?;
    Ok(())
}

/// Removes `name` from the state of `service`'s `key`.
pub(crate) fn clear(
    tx: &Connection,
    service: &str,
    key: &str,
    name: &[u8],
) -> rusqlite::Result<()> {
    tx.exec(
        "DELETE FROM state WHERE service = ?1 AND key = ?2 AND name = ?3",
        params![service, key, name],
    )?;
    Ok(())
}

/// Removes the whole state of `service`'s `key`.
pub(crate) fn clear_all(tx: &Connection, service: &str, key: &str) -> rusqlite::Result<()> {
    tx.exec(
        "DELETE FROM state WHERE service = ?1 AND key = ?2",
        params![service, key],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_all_removes_one_key_and_no_other() {
        let db = super::super::tests::database();
        set(&db, "Counter", "a", b"count", b"1").unwrap();
        set(&db, "Counter", "a", b"count", b"2").unwrap();
        set(&db, "Counter", "a", b"alpha", b"x").unwrap();
        set(&db, "Counter", "b", b"count", b"7").unwrap();
        set(&db, "Other", "a", b"count", b"9").unwrap();
        assert_eq!(
            get(&db, "Counter", "a", b"count").unwrap(),
            Some(b"2".to_vec())
        );
        assert_eq!(
            names(&db, "Counter", "a").unwrap(),
            [b"alpha".to_vec(), b"count".to_vec()]
        );
        clear(&db, "Counter", "a", b"alpha").unwrap();
        assert_eq!(names(&db, "Counter", "a").unwrap(), [b"count".to_vec()]);
        clear_all(&db, "Counter", "a").unwrap();
        assert!(all(&db, "Counter", "a").unwrap().is_empty());
        assert_eq!(get(&db, "Counter", "a", b"count").unwrap(), None);
        assert_eq!(
            all(&db, "Counter", "b").unwrap(),
            [Entry {
                name: b"count".to_vec(),
                value: b"7".to_vec()
            }]
        );
        assert_eq!(
            get(&db, "Other", "a", b"count").unwrap(),
            Some(b"9".to_vec())
        );
    }
}
