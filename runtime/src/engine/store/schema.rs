//! The schema of the engine's file: its tables and indexes, the metadata that says whose the
//! file is and at which version, and the migrations from older versions. A file of an older
//! version is migrated at open; a newer or foreign one is refused. Nothing else creates or
//! alters tables.

use super::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

/// What identifies our files: a foreign or newer file is refused at open.
pub(super) const SCHEMA_ID: &str = "restate-rs-engine";
pub(super) const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invocations (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    raw_id BLOB NOT NULL,
    service TEXT NOT NULL,
    handler TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    run_at INTEGER NOT NULL,
    idempotency_key TEXT,
    random_seed INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    resume INTEGER NOT NULL DEFAULT 0,
    result_value BLOB,
    failure_code INTEGER,
    failure_message TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    completed_at INTEGER,
    journal_expires_at INTEGER,
    record_expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS invocations_by_key ON invocations (service, key, status, seq);
CREATE INDEX IF NOT EXISTS invocations_by_status ON invocations (status, run_at);
CREATE INDEX IF NOT EXISTS invocations_by_record_expiry ON invocations (record_expires_at)
    WHERE record_expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS invocations_by_journal_expiry ON invocations (journal_expires_at)
    WHERE journal_expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS journal (
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    ty INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (invocation_id, idx)
);
CREATE TABLE IF NOT EXISTS state (
    service TEXT NOT NULL, key TEXT NOT NULL, name BLOB NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (service, key, name)
);
CREATE TABLE IF NOT EXISTS promises (
    service TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL,
    value BLOB, failure_code INTEGER, failure_message TEXT,
    PRIMARY KEY (service, key, name)
);
CREATE TABLE IF NOT EXISTS waiters (
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    completion_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS waiters_by_target ON waiters (kind, target);
CREATE INDEX IF NOT EXISTS waiters_by_invocation ON waiters (invocation_id);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fire_at INTEGER NOT NULL,
    invocation_id TEXT NOT NULL,
    completion_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_by_time ON timers (fire_at);
CREATE INDEX IF NOT EXISTS timers_by_invocation ON timers (invocation_id);
CREATE TABLE IF NOT EXISTS idempotency (
    service TEXT NOT NULL, key TEXT NOT NULL, handler TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    PRIMARY KEY (service, key, handler, idempotency_key)
);
-- Notifications on their way to another invocation, written in the transaction that produced
-- them and removed in the one that journals them at their target: none is lost in between.
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invocation_id TEXT NOT NULL,
    ty INTEGER NOT NULL,
    payload BLOB NOT NULL
);
"#;

/// From version 1: retention (expiry times of completed invocations, their journals) and the
/// outbox. Completed invocations of a version 1 file get restate-server's default retention
/// (one day) from their completion.
const MIGRATE_1_TO_2: &str = r#"
ALTER TABLE invocations ADD COLUMN journal_expires_at INTEGER;
ALTER TABLE invocations ADD COLUMN record_expires_at INTEGER;
UPDATE invocations SET journal_expires_at = completed_at + 86400000,
                       record_expires_at = completed_at + 86400000
    WHERE status = 'completed';
UPDATE meta SET value = '2' WHERE name = 'version';
"#;

/// Checks (or creates) the schema of `connection` and sets the pragmas the engine runs with.
pub(crate) fn prepare(
    connection: &Connection,
    path: &str,
    durable: bool,
) -> Result<(), StoreError> {
    let foreign = |reason: String| StoreError::Foreign {
        path: path.to_owned(),
        reason,
    };
    // A file that is not SQLite at all fails here.
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
        .map_err(|e| foreign(e.to_string()))?;
    if !tables.is_empty() {
        if !tables.iter().any(|t| t == "meta") {
            return Err(foreign(format!(
                "it has tables {tables:?} but no restate-rs metadata"
            )));
        }
        let id: Option<String> = connection
            .query_row("SELECT value FROM meta WHERE name = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| foreign(e.to_string()))?;
        let version: Option<String> = connection
            .query_row("SELECT value FROM meta WHERE name = 'version'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| foreign(e.to_string()))?;
        match (id.as_deref(), version.and_then(|v| v.parse::<i64>().ok())) {
            (Some(SCHEMA_ID), Some(SCHEMA_VERSION)) => {}
            (Some(SCHEMA_ID), Some(1)) => {
                connection
                    .execute_batch(&format!("BEGIN; {MIGRATE_1_TO_2} COMMIT;"))
                    .map_err(|e| StoreError::Open {
                        path: path.to_owned(),
                        message: format!("cannot migrate it from schema version 1: {e}"),
                    })?;
            }
            (Some(SCHEMA_ID), Some(v)) => {
                return Err(foreign(format!(
                    "its schema version {v} is not {SCHEMA_VERSION}"
                )));
            }
            (other, _) => return Err(foreign(format!("its schema is {other:?}"))),
        }
    }
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", if durable { "FULL" } else { "OFF" })?;
    connection.pragma_update(None, "foreign_keys", "OFF")?;
    // After a checkpoint the WAL is cut back to this size, so that it does not keep the
    // largest size it ever had; freed pages of the database itself are reused by SQLite.
    connection.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    // The tables and the metadata that says whose they are, in one transaction: a process
    // killed while creating a new file must not leave tables without it (the next open would
    // refuse the file as foreign).
    let tx = connection.unchecked_transaction()?;
    tx.execute_batch(SCHEMA)?;
    tx.execute(
        "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', ?1), ('version', ?2)",
        params![SCHEMA_ID, SCHEMA_VERSION.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}
