//! The schema of the engine's file: its tables and indexes, the metadata that says whose the
//! file is and at which version, and the migrations from older versions. A file of an older
//! version is migrated at open; a newer or foreign one is refused. Nothing else creates or
//! alters tables.

use super::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

/// What identifies our files: a foreign or newer file is refused at open.
pub(super) const SCHEMA_ID: &str = "restate-rs-engine";
pub(super) const SCHEMA_VERSION: i64 = 3;

// Each table is one b-tree where it can be: an invocation's row is keyed by its `seq` (the
// rowid), and tables keyed by their primary key are `WITHOUT ROWID`, so that writing a journal
// entry or a state value touches one b-tree, not a table and an index beside it.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invocations (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
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
-- Partial indexes: only the invocations that hold or wait for a key are found by key, and only
-- those not completed by status, so a call to a plain service and a completed invocation cost
-- no entries there. A statement uses one only if its WHERE repeats the index's condition word
-- for word (`store::invocations` does; its tests check the plans).
CREATE INDEX IF NOT EXISTS invocations_by_key ON invocations (service, key, status, seq)
    WHERE kind IN ('exclusive', 'workflow_run');
CREATE INDEX IF NOT EXISTS invocations_by_status ON invocations (status, run_at)
    WHERE status != 'completed';
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
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
    service TEXT NOT NULL, key TEXT NOT NULL, name BLOB NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (service, key, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS promises (
    service TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL,
    value BLOB, failure_code INTEGER, failure_message TEXT,
    PRIMARY KEY (service, key, name)
) WITHOUT ROWID;
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
) WITHOUT ROWID;
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

/// From version 2: the same tables, each one b-tree where it can be (see [`SCHEMA`]). A table
/// cannot change its primary key in place, so each is copied into its new form.
const MIGRATE_2_TO_3: &str = r#"
CREATE TABLE invocations_v3 (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
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
INSERT INTO invocations_v3 (seq, id, raw_id, service, handler, key, kind, status, run_at,
        idempotency_key, random_seed, attempts, resume, result_value, failure_code,
        failure_message, last_error, created_at, completed_at, journal_expires_at,
        record_expires_at)
    SELECT seq, id, raw_id, service, handler, key, kind, status, run_at, idempotency_key,
        random_seed, attempts, resume, result_value, failure_code, failure_message, last_error,
        created_at, completed_at, journal_expires_at, record_expires_at
    FROM invocations;
DROP TABLE invocations;
ALTER TABLE invocations_v3 RENAME TO invocations;
CREATE TABLE journal_v3 (
    invocation_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    ty INTEGER NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (invocation_id, idx)
) WITHOUT ROWID;
INSERT INTO journal_v3 SELECT invocation_id, idx, ty, payload FROM journal;
DROP TABLE journal;
ALTER TABLE journal_v3 RENAME TO journal;
CREATE TABLE state_v3 (
    service TEXT NOT NULL, key TEXT NOT NULL, name BLOB NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (service, key, name)
) WITHOUT ROWID;
INSERT INTO state_v3 SELECT service, key, name, value FROM state;
DROP TABLE state;
ALTER TABLE state_v3 RENAME TO state;
CREATE TABLE promises_v3 (
    service TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL,
    value BLOB, failure_code INTEGER, failure_message TEXT,
    PRIMARY KEY (service, key, name)
) WITHOUT ROWID;
INSERT INTO promises_v3 SELECT service, key, name, value, failure_code, failure_message
    FROM promises;
DROP TABLE promises;
ALTER TABLE promises_v3 RENAME TO promises;
CREATE TABLE idempotency_v3 (
    service TEXT NOT NULL, key TEXT NOT NULL, handler TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    invocation_id TEXT NOT NULL,
    PRIMARY KEY (service, key, handler, idempotency_key)
) WITHOUT ROWID;
INSERT INTO idempotency_v3 SELECT service, key, handler, idempotency_key, invocation_id
    FROM idempotency;
DROP TABLE idempotency;
ALTER TABLE idempotency_v3 RENAME TO idempotency;
UPDATE meta SET value = '3' WHERE name = 'version';
"#;

/// The migrations, in order: the one at index `i` takes a file from version `i + 1` on.
const MIGRATIONS: [&str; 2] = [MIGRATE_1_TO_2, MIGRATE_2_TO_3];

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
            (Some(SCHEMA_ID), Some(from)) if (1..SCHEMA_VERSION).contains(&from) => {
                migrate(connection, from).map_err(|e| StoreError::Open {
                    path: path.to_owned(),
                    message: format!("cannot migrate it from schema version {from}: {e}"),
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

/// Takes a file from version `from` to [`SCHEMA_VERSION`] in one transaction: a process killed
/// half-way leaves the file as it was. The indexes dropped with a copied table are made again
/// by [`SCHEMA`] afterwards.
fn migrate(connection: &Connection, from: i64) -> rusqlite::Result<()> {
    let steps = usize::try_from(from - 1).unwrap_or(0)..MIGRATIONS.len();
    let batch: String = MIGRATIONS[steps].concat();
    connection.execute_batch(&format!("BEGIN; {batch} COMMIT;"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables of a version 2 file, as that version made them.
    const SCHEMA_V2: &str = r#"
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE invocations (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, raw_id BLOB NOT NULL,
    service TEXT NOT NULL, handler TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL,
    status TEXT NOT NULL, run_at INTEGER NOT NULL, idempotency_key TEXT,
    random_seed INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    resume INTEGER NOT NULL DEFAULT 0, result_value BLOB, failure_code INTEGER,
    failure_message TEXT, last_error TEXT, created_at INTEGER NOT NULL, completed_at INTEGER,
    journal_expires_at INTEGER, record_expires_at INTEGER
);
CREATE INDEX invocations_by_key ON invocations (service, key, status, seq);
CREATE INDEX invocations_by_status ON invocations (status, run_at);
CREATE INDEX invocations_by_record_expiry ON invocations (record_expires_at)
    WHERE record_expires_at IS NOT NULL;
CREATE INDEX invocations_by_journal_expiry ON invocations (journal_expires_at)
    WHERE journal_expires_at IS NOT NULL;
CREATE TABLE journal (invocation_id TEXT NOT NULL, idx INTEGER NOT NULL, ty INTEGER NOT NULL,
    payload BLOB NOT NULL, PRIMARY KEY (invocation_id, idx));
CREATE TABLE state (service TEXT NOT NULL, key TEXT NOT NULL, name BLOB NOT NULL,
    value BLOB NOT NULL, PRIMARY KEY (service, key, name));
CREATE TABLE promises (service TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL,
    value BLOB, failure_code INTEGER, failure_message TEXT, PRIMARY KEY (service, key, name));
CREATE TABLE waiters (target TEXT NOT NULL, kind TEXT NOT NULL, invocation_id TEXT NOT NULL,
    completion_id INTEGER NOT NULL);
CREATE TABLE timers (id INTEGER PRIMARY KEY AUTOINCREMENT, fire_at INTEGER NOT NULL,
    invocation_id TEXT NOT NULL, completion_id INTEGER NOT NULL);
CREATE TABLE idempotency (service TEXT NOT NULL, key TEXT NOT NULL, handler TEXT NOT NULL,
    idempotency_key TEXT NOT NULL, invocation_id TEXT NOT NULL,
    PRIMARY KEY (service, key, handler, idempotency_key));
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, invocation_id TEXT NOT NULL,
    ty INTEGER NOT NULL, payload BLOB NOT NULL);
INSERT INTO meta VALUES ('schema', 'restate-rs-engine'), ('version', '2');
INSERT INTO invocations (id, seq, raw_id, service, handler, key, kind, status, run_at,
    random_seed, result_value, created_at, completed_at, journal_expires_at, record_expires_at)
    VALUES ('inv_a', 1, x'01', 'Greeter', 'greet', '', 'service', 'completed', 5, 7,
            x'0a0b', 5, 6, 100, 200),
           ('inv_b', 2, x'02', 'Counter', 'add', 'k', 'exclusive', 'suspended', 8, 9,
            NULL, 8, NULL, NULL, NULL);
INSERT INTO journal VALUES ('inv_a', 0, 1024, x'aa'), ('inv_a', 1, 1025, x'bb'),
    ('inv_b', 0, 1024, x'cc');
INSERT INTO state VALUES ('Counter', 'k', x'6e', x'01');
INSERT INTO promises VALUES ('Flow', 'w', 'p', x'02', NULL, NULL);
INSERT INTO idempotency VALUES ('Greeter', '', 'greet', 'idem', 'inv_a');
"#;

    fn strings(connection: &Connection, sql: &str) -> Vec<String> {
        let mut statement = connection.prepare(sql).unwrap();
        statement
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// Checks that a file migrated to the current version holds what it held, in the current
    /// tables, and opens again unchanged.
    fn check_migrated(connection: &Connection, record_expiry_of_a: &str) {
        assert_eq!(
            strings(connection, "SELECT value FROM meta WHERE name = 'version'"),
            [SCHEMA_VERSION.to_string()]
        );
        assert_eq!(
            strings(
                connection,
                "SELECT id || ':' || seq || ':' || status || ':' || COALESCE(record_expires_at, '-') \
                 FROM invocations ORDER BY seq"
            ),
            [
                format!("inv_a:1:completed:{record_expiry_of_a}"),
                "inv_b:2:suspended:-".to_owned()
            ]
        );
        assert_eq!(
            strings(
                connection,
                "SELECT invocation_id || idx || hex(payload) FROM journal ORDER BY invocation_id, idx"
            ),
            ["inv_a0AA", "inv_a1BB", "inv_b0CC"]
        );
        assert_eq!(strings(connection, "SELECT hex(value) FROM state"), ["01"]);
        assert_eq!(
            strings(connection, "SELECT hex(value) FROM promises"),
            ["02"]
        );
        assert_eq!(
            strings(connection, "SELECT invocation_id FROM idempotency"),
            ["inv_a"]
        );
        // The tables have their current shape, and their indexes are there again.
        for table in ["journal", "state", "promises", "idempotency"] {
            let sql = strings(
                connection,
                &format!("SELECT sql FROM sqlite_master WHERE name = '{table}'"),
            );
            assert!(sql[0].contains("WITHOUT ROWID"), "{table}: {sql:?}");
        }
        let indexes = strings(
            connection,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'invocations' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        );
        assert_eq!(
            indexes,
            [
                "invocations_by_journal_expiry",
                "invocations_by_key",
                "invocations_by_record_expiry",
                "invocations_by_status"
            ]
        );
        // The next seq follows the migrated ones.
        connection
            .execute(
                "INSERT INTO invocations (seq, id, raw_id, service, handler, key, kind, status, run_at, random_seed, created_at)
                 VALUES ((SELECT MAX(seq) + 1 FROM invocations), 'inv_c', x'03', 'S', 'h', '', 'service', 'pending', 0, 0, 0)",
                [],
            )
            .unwrap();
        assert_eq!(
            strings(connection, "SELECT id FROM invocations WHERE seq = 3"),
            ["inv_c"]
        );
    }

    #[test]
    fn a_version_2_file_is_migrated_with_all_it_holds() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(SCHEMA_V2).unwrap();
        prepare(&connection, ":memory:", false).unwrap();
        check_migrated(&connection, "200");
        // Opening it again changes nothing.
        prepare(&connection, ":memory:", false).unwrap();
        assert_eq!(
            strings(&connection, "SELECT id FROM invocations ORDER BY seq"),
            ["inv_a", "inv_b", "inv_c"]
        );
    }

    #[test]
    fn a_version_1_file_is_migrated_through_every_version() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(SCHEMA_V2).unwrap();
        // Version 1 had no expiry times and no outbox.
        connection
            .execute_batch(
                "DROP INDEX invocations_by_record_expiry; DROP INDEX invocations_by_journal_expiry;
                 ALTER TABLE invocations DROP COLUMN journal_expires_at;
                 ALTER TABLE invocations DROP COLUMN record_expires_at;
                 DROP TABLE outbox;
                 UPDATE meta SET value = '1' WHERE name = 'version';",
            )
            .unwrap();
        prepare(&connection, ":memory:", false).unwrap();
        // A completed invocation of version 1 is kept a day from its completion.
        let expires: i64 = connection
            .query_row(
                "SELECT record_expires_at FROM invocations WHERE id = 'inv_a'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(expires, 6 + 86_400_000);
        check_migrated(&connection, "86400006");
    }

    #[test]
    fn a_newer_or_foreign_file_is_refused() {
        let newer = Connection::open_in_memory().unwrap();
        newer.execute_batch(SCHEMA_V2).unwrap();
        newer
            .execute("UPDATE meta SET value = '99' WHERE name = 'version'", [])
            .unwrap();
        let error = prepare(&newer, "newer.db", false).unwrap_err().to_string();
        assert!(error.contains("schema version 99"), "{error}");

        let foreign = Connection::open_in_memory().unwrap();
        foreign
            .execute_batch("CREATE TABLE users (id INTEGER)")
            .unwrap();
        let error = prepare(&foreign, "app.db", false).unwrap_err().to_string();
        assert!(
            error.contains("app.db is not a restate-rs engine database"),
            "{error}"
        );
    }
}
