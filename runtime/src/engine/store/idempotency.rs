//! The `idempotency` table: which invocation an idempotency key (per service, key and
//! handler) was given to, so that a request repeated with it gets that invocation again.
//! Only this file reads or writes it.
//!
//! May use: rusqlite, [`Sql`](super::Sql).

use super::Sql;
use rusqlite::{Connection, OptionalExtension, params};

/// An idempotency key with the handler it was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key<'a> {
    /// The service.
    pub(crate) service: &'a str,
    /// The object or workflow key (empty for a plain service).
    pub(crate) key: &'a str,
    /// The handler.
    pub(crate) handler: &'a str,
    /// The idempotency key the request carried.
    pub(crate) idempotency_key: &'a str,
}

/// The invocation that `key` was given to, if any.
pub(crate) fn find(tx: &Connection, key: Key<'_>) -> rusqlite::Result<Option<String>> {
    tx.row(
        "SELECT invocation_id FROM idempotency WHERE service = ?1 AND key = ?2 AND handler = ?3 AND idempotency_key = ?4",
        params![key.service, key.key, key.handler, key.idempotency_key],
        |r| r.get(0),
    )
    .optional()
}

/// Gives `key` to `invocation_id`; fails if it was given already.
pub(crate) fn insert(tx: &Connection, key: Key<'_>, invocation_id: &str) -> rusqlite::Result<()> {
    tx.exec(
        "INSERT INTO idempotency (service, key, handler, idempotency_key, invocation_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![key.service, key.key, key.handler, key.idempotency_key, invocation_id],
    )?;
    Ok(())
}

/// Frees `key` if `invocation_id` holds it (a later request with it runs anew).
pub(crate) fn remove(tx: &Connection, key: Key<'_>, invocation_id: &str) -> rusqlite::Result<()> {
    tx.exec(
        "DELETE FROM idempotency WHERE service = ?1 AND key = ?2 AND handler = ?3 AND idempotency_key = ?4 AND invocation_id = ?5",
        params![key.service, key.key, key.handler, key.idempotency_key, invocation_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(handler: &'a str, idempotency_key: &'a str) -> Key<'a> {
        Key {
            service: "Greeter",
            key: "",
            handler,
            idempotency_key,
        }
    }

    #[test]
    fn a_key_finds_its_invocation_per_handler() {
        let db = super::super::tests::database();
        assert_eq!(find(&db, key("greet", "k1")).unwrap(), None);
        insert(&db, key("greet", "k1"), "inv_a").unwrap();
        insert(&db, key("other", "k1"), "inv_b").unwrap();
        assert!(insert(&db, key("greet", "k1"), "inv_c").is_err());
        assert_eq!(
            find(&db, key("greet", "k1")).unwrap().as_deref(),
            Some("inv_a")
        );
        assert_eq!(
            find(&db, key("other", "k1")).unwrap().as_deref(),
            Some("inv_b")
        );
        assert_eq!(find(&db, key("greet", "k2")).unwrap(), None);
        // Only its holder frees it.
        remove(&db, key("greet", "k1"), "inv_b").unwrap();
        assert_eq!(
            find(&db, key("greet", "k1")).unwrap().as_deref(),
            Some("inv_a")
        );
        remove(&db, key("greet", "k1"), "inv_a").unwrap();
        assert_eq!(find(&db, key("greet", "k1")).unwrap(), None);
        insert(&db, key("greet", "k1"), "inv_c").unwrap();
    }
}
