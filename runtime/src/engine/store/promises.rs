//! The `promises` table: the durable promises of each workflow key, once completed, with
//! their value or failure. Only this file reads or writes it.
//!
//! May use: rusqlite, bytes, [`Sql`](super::Sql), the engine's `Outcome`.

use super::Sql;
use crate::engine::Outcome;
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};

/// How the promise `name` of `service`'s `key` was completed, if it was.
pub(crate) fn get(
    tx: &Connection,
    service: &str,
    key: &str,
    name: &str,
) -> rusqlite::Result<Option<Outcome>> {
    tx.row(
        "SELECT value, failure_code, failure_message FROM promises WHERE service = ?1 AND key = ?2 AND name = ?3",
        params![service, key, name],
        |r| {
            let value: Option<Vec<u8>> = r.get(0)?;
            let code: Option<i64> = r.get(1)?;
            let message: Option<String> = r.get(2)?;
            Ok(match code {
                Some(code) => Err((code as u16, message.unwrap_or_default())),
                None => Ok(Bytes::from(value.unwrap_or_default())),
            })
        },
    )
    .optional()
}

/// Records the promise `name` of `service`'s `key` as completed with `outcome`; fails if it
/// was completed already.
pub(crate) fn insert(
    tx: &Connection,
    service: &str,
    key: &str,
    name: &str,
    outcome: &Outcome,
) -> rusqlite::Result<()> {
    let (value, code, message) = match outcome {
        Ok(v) => (Some(v.to_vec()), None, None),
        Err((c, m)) => (None, Some(i64::from(*c)), Some(m.clone())),
    };
    tx.exec(
        "INSERT INTO promises (service, key, name, value, failure_code, failure_message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![service, key, name, value, code, message],
    )?;
    Ok(())
}

/// Removes every promise of `service`'s `key`.
pub(crate) fn clear_all(tx: &Connection, service: &str, key: &str) -> rusqlite::Result<()> {
    tx.exec(
        "DELETE FROM promises WHERE service = ?1 AND key = ?2",
        params![service, key],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promise_is_completed_once() {
        let db = super::super::tests::database();
        assert_eq!(get(&db, "Signup", "ada", "email").unwrap(), None);
        insert(
            &db,
            "Signup",
            "ada",
            "email",
            &Ok(Bytes::from_static(b"\"ok\"")),
        )
        .unwrap();
        insert(&db, "Signup", "ada", "code", &Err((409, "no".to_owned()))).unwrap();
        assert!(insert(&db, "Signup", "ada", "email", &Ok(Bytes::new())).is_err());
        assert_eq!(
            get(&db, "Signup", "ada", "email").unwrap(),
            Some(Ok(Bytes::from_static(b"\"ok\"")))
        );
        assert_eq!(
            get(&db, "Signup", "ada", "code").unwrap(),
            Some(Err((409, "no".to_owned())))
        );
        clear_all(&db, "Signup", "ada").unwrap();
        assert_eq!(get(&db, "Signup", "ada", "email").unwrap(), None);
    }
}
