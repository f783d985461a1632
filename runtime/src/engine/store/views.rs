//! The views of `POST /query`: tables named and shaped like restate-server's system tables
//! (`sys_invocation`, `sys_journal`, `state`, `sys_promise`, ...), as `TEMP` views over the
//! engine's tables on a query's own read-only connection, with the catalog they need beyond
//! the file (services, deployment, entry types, `information_schema`). They are SQL on the
//! engine's schema, so they live beside it: a change of a table changes them here.
//!
//! May use: rusqlite, the protocol (entry type names). The SQL functions the views call
//! (`restate_rs_entry_name`, `restate_rs_entry_json`, `restate_rs_sleep_wakeup`, `now`) are
//! registered on the connection by `http/query.rs` before [`install`].

use rusqlite::types::Value;
use rusqlite::{Connection, params};

/// A column type, as restate-server's tables declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Utf8,
    UInt64,
    UInt32,
    Int64,
    Float64,
    Bool,
    /// Milliseconds since the Unix epoch.
    Timestamp,
    /// Milliseconds.
    Duration,
    Binary,
    /// Every value null.
    Null,
}

impl Ty {
    /// The name restate-server's `information_schema.columns` gives it.
    fn data_type(self) -> &'static str {
        match self {
            Ty::Utf8 => "LargeUtf8",
            Ty::UInt64 => "UInt64",
            Ty::UInt32 => "UInt32",
            Ty::Int64 => "Int64",
            Ty::Float64 => "Float64",
            Ty::Bool => "Boolean",
            Ty::Timestamp => "Timestamp(ms, \"+00:00\")",
            Ty::Duration => "Duration(ms)",
            Ty::Binary => "LargeBinary",
            Ty::Null => "Null",
        }
    }

    /// Whether a SQLite value can be shown as this type.
    pub(crate) fn fits(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (_, Value::Null)
                | (Ty::Utf8, Value::Text(_))
                | (Ty::Binary, Value::Blob(_))
                | (Ty::Float64, Value::Real(_) | Value::Integer(_))
                | (
                    Ty::UInt64 | Ty::UInt32 | Ty::Int64 | Ty::Bool | Ty::Timestamp | Ty::Duration,
                    Value::Integer(_),
                )
        )
    }
}

/// One column of a view: its name, its type and the SQL that computes it.
type Column = (&'static str, Ty, &'static str);

/// A view named like one of restate-server's tables.
struct View {
    name: &'static str,
    from: &'static str,
    columns: &'static [Column],
}

/// restate-server's status names in `sys_invocation`, from the engine's.
const STATUS: &str = "CASE i.status WHEN 'pending' THEN 'ready' WHEN 'inboxed' THEN 'pending' \
     WHEN 'backoff' THEN 'backing-off' ELSE i.status END";

/// restate-server's status names in `sys_invocation_status`, where an invocation that has been
/// handed to the invoker (running, waiting to run or between retries) is `invoked`.
const STATUS_TABLE: &str = "CASE i.status WHEN 'pending' THEN 'invoked' WHEN 'running' THEN 'invoked' \
     WHEN 'backoff' THEN 'invoked' ELSE i.status END";

macro_rules! invocation_status_columns {
    () => {
        [
            ("partition_key", Ty::UInt64, "0"),
            ("id", Ty::Utf8, "i.id"),
            ("status", Ty::Utf8, STATUS_SQL),
            (
                "completion_result",
                Ty::Utf8,
                "CASE WHEN i.status = 'completed' THEN CASE WHEN i.failure_code IS NULL THEN 'success' ELSE 'failure' END END",
            ),
            (
                "completion_failure",
                Ty::Utf8,
                "CASE WHEN i.status = 'completed' AND i.failure_code IS NOT NULL THEN '[' || i.failure_code || '] ' || COALESCE(i.failure_message, '') END",
            ),
            (
                "target",
                Ty::Utf8,
                "i.service || '/' || CASE WHEN i.key = '' THEN '' ELSE i.key || '/' END || i.handler",
            ),
            ("target_service_name", Ty::Utf8, "i.service"),
            (
                "target_service_key",
                Ty::Utf8,
                "CASE WHEN i.key = '' THEN NULL ELSE i.key END",
            ),
            ("target_handler_name", Ty::Utf8, "i.handler"),
            (
                "target_service_ty",
                Ty::Utf8,
                "(SELECT CASE s.ty WHEN 'VirtualObject' THEN 'virtual_object' WHEN 'Workflow' THEN 'workflow' ELSE 'service' END FROM restate_rs_service s WHERE s.name = i.service)",
            ),
            ("idempotency_key", Ty::Utf8, "i.idempotency_key"),
            ("invoked_by", Ty::Utf8, "'ingress'"),
            ("invoked_by_service_name", Ty::Utf8, "NULL"),
            ("invoked_by_id", Ty::Utf8, "NULL"),
            ("invoked_by_target", Ty::Utf8, "NULL"),
            (
                "pinned_deployment_id",
                Ty::Utf8,
                "CASE WHEN i.status IN ('running', 'suspended', 'backoff', 'paused', 'completed') THEN (SELECT d.id FROM restate_rs_deployment d) END",
            ),
            (
                "pinned_service_protocol_version",
                Ty::UInt32,
                "CASE WHEN i.status IN ('running', 'suspended', 'backoff', 'paused', 'completed') THEN (SELECT d.protocol_version FROM restate_rs_deployment d) END",
            ),
            ("trace_id", Ty::Utf8, "NULL"),
            (
                "journal_size",
                Ty::UInt32,
                "(SELECT COUNT(*) FROM main.journal j WHERE j.invocation_id = i.id)",
            ),
            (
                "journal_commands_size",
                Ty::UInt32,
                "(SELECT COUNT(*) FROM main.journal j WHERE j.invocation_id = i.id AND j.ty >= 1024 AND j.ty < 32768)",
            ),
            ("created_at", Ty::Timestamp, "i.created_at"),
            ("created_using_restate_version", Ty::Utf8, "NULL"),
            (
                "modified_at",
                Ty::Timestamp,
                "MAX(i.created_at, COALESCE(i.completed_at, 0))",
            ),
            ("inboxed_at", Ty::Timestamp, "NULL"),
            (
                "scheduled_at",
                Ty::Timestamp,
                "CASE WHEN i.status = 'scheduled' THEN i.created_at END",
            ),
            (
                "scheduled_start_at",
                Ty::Timestamp,
                "CASE WHEN i.status = 'scheduled' THEN i.run_at END",
            ),
            ("running_at", Ty::Timestamp, "NULL"),
            ("completed_at", Ty::Timestamp, "i.completed_at"),
            (
                "completion_retention",
                Ty::Duration,
                "i.record_expires_at - i.completed_at",
            ),
            (
                "journal_retention",
                Ty::Duration,
                "i.journal_expires_at - i.completed_at",
            ),
        ]
    };
}

macro_rules! invocation_state_columns {
    () => {
        [
            ("in_flight", Ty::Bool, "i.status = 'running'"),
            (
                "retry_count",
                Ty::UInt64,
                "i.attempts + (i.status = 'running')",
            ),
            ("last_start_at", Ty::Timestamp, "NULL"),
            (
                "last_attempt_deployment_id",
                Ty::Utf8,
                "(SELECT d.id FROM restate_rs_deployment d)",
            ),
            ("last_attempt_server", Ty::Utf8, "NULL"),
            (
                "next_retry_at",
                Ty::Timestamp,
                "CASE WHEN i.status = 'backoff' THEN i.run_at END",
            ),
            ("last_failure", Ty::Utf8, "i.last_error"),
            ("last_failure_error_code", Ty::Utf8, "NULL"),
            ("last_failure_related_entry_index", Ty::UInt64, "NULL"),
            ("last_failure_related_entry_name", Ty::Utf8, "NULL"),
            ("last_failure_related_entry_type", Ty::Utf8, "NULL"),
            ("last_failure_related_command_index", Ty::UInt64, "NULL"),
            ("last_failure_related_command_name", Ty::Utf8, "NULL"),
            ("last_failure_related_command_type", Ty::Utf8, "NULL"),
        ]
    };
}

const STATUS_SQL: &str = STATUS_TABLE;
const STATUS_COLUMNS: [Column; 30] = invocation_status_columns!();
const STATE_COLUMNS: [Column; 14] = invocation_state_columns!();

/// `sys_invocation`: the status and, for invocations that have not completed, the state.
const INVOCATION_COLUMNS: [Column; 44] = {
    let mut all = [("", Ty::Null, ""); 44];
    let mut i = 0;
    while i < STATUS_COLUMNS.len() {
        all[i] = STATUS_COLUMNS[i];
        i += 1;
    }
    let mut j = 0;
    while j < STATE_COLUMNS.len() {
        all[i + j] = STATE_COLUMNS[j];
        j += 1;
    }
    all[2] = ("status", Ty::Utf8, STATUS);
    all
};

const ACTIVE: &str = "main.invocations i WHERE i.status IN ('running', 'backoff')";

const VIEWS: &[View] = &[
    View {
        name: "sys_invocation_status",
        from: "main.invocations i",
        columns: &STATUS_COLUMNS,
    },
    View {
        name: "sys_invocation_state",
        from: ACTIVE,
        columns: &{
            let mut all = [("", Ty::Null, ""); 16];
            all[0] = ("partition_key", Ty::UInt64, "0");
            all[1] = ("id", Ty::Utf8, "i.id");
            let mut j = 0;
            while j < STATE_COLUMNS.len() {
                all[2 + j] = STATE_COLUMNS[j];
                j += 1;
            }
            all
        },
    },
    View {
        name: "sys_invocation",
        from: "main.invocations i",
        columns: &INVOCATION_COLUMNS,
    },
    View {
        name: "sys_journal",
        from: "main.journal j JOIN main.invocations i ON i.id = j.invocation_id",
        columns: &[
            ("partition_key", Ty::UInt64, "0"),
            ("id", Ty::Utf8, "j.invocation_id"),
            ("index", Ty::UInt32, "j.idx"),
            (
                "entry_type",
                Ty::Utf8,
                "(SELECT e.name FROM restate_rs_entry_type e WHERE e.ty = j.ty)",
            ),
            ("name", Ty::Utf8, "restate_rs_entry_name(j.ty, j.payload)"),
            (
                "completed",
                Ty::Bool,
                "CASE WHEN (SELECT e.completable FROM restate_rs_entry_type e WHERE e.ty = j.ty) THEN i.status = 'completed' OR EXISTS (SELECT 1 FROM main.journal n WHERE n.invocation_id = j.invocation_id AND n.idx > j.idx AND n.ty = j.ty + 31744) ELSE 1 END",
            ),
            ("invoked_id", Ty::Utf8, "NULL"),
            ("invoked_target", Ty::Utf8, "NULL"),
            (
                "sleep_wakeup_at",
                Ty::Timestamp,
                "restate_rs_sleep_wakeup(j.ty, j.payload)",
            ),
            ("promise_name", Ty::Utf8, "NULL"),
            ("raw", Ty::Binary, "j.payload"),
            ("raw_length", Ty::UInt64, "LENGTH(j.payload)"),
            ("version", Ty::UInt32, "2"),
            (
                "entry_json",
                Ty::Utf8,
                "restate_rs_entry_json(j.ty, j.payload)",
            ),
            ("entry_lite_json", Ty::Utf8, "NULL"),
            ("appended_at", Ty::Timestamp, "NULL"),
        ],
    },
    View {
        name: "state",
        from: "main.state s",
        columns: &[
            ("partition_key", Ty::UInt64, "0"),
            ("service_name", Ty::Utf8, "s.service"),
            ("service_key", Ty::Utf8, "s.key"),
            ("key", Ty::Utf8, "CAST(s.name AS TEXT)"),
            ("key_length", Ty::UInt64, "LENGTH(s.name)"),
            ("value_utf8", Ty::Utf8, "CAST(s.value AS TEXT)"),
            ("value", Ty::Binary, "CAST(s.value AS BLOB)"),
            ("value_length", Ty::UInt64, "LENGTH(s.value)"),
        ],
    },
    View {
        name: "sys_inbox",
        from: "main.invocations i WHERE i.status = 'inboxed'",
        columns: &[
            ("partition_key", Ty::UInt64, "0"),
            ("service_name", Ty::Utf8, "i.service"),
            ("service_key", Ty::Utf8, "i.key"),
            ("id", Ty::Utf8, "i.id"),
            ("sequence_number", Ty::UInt64, "i.seq"),
            ("created_at", Ty::Timestamp, "i.created_at"),
        ],
    },
    View {
        name: "sys_keyed_service_status",
        from: "main.invocations i WHERE i.kind IN ('exclusive', 'workflow_run') AND i.status IN ('running', 'suspended', 'backoff', 'paused')",
        columns: &[
            ("partition_key", Ty::UInt64, "0"),
            ("service_name", Ty::Utf8, "i.service"),
            ("service_key", Ty::Utf8, "i.key"),
            ("invocation_id", Ty::Utf8, "i.id"),
        ],
    },
    View {
        name: "sys_promise",
        from: "main.promises p",
        columns: &[
            ("partition_key", Ty::UInt64, "0"),
            ("service_name", Ty::Utf8, "p.service"),
            ("service_key", Ty::Utf8, "p.key"),
            ("key", Ty::Utf8, "p.name"),
            (
                "completed",
                Ty::Bool,
                "p.value IS NOT NULL OR p.failure_code IS NOT NULL",
            ),
            ("completion_success_value", Ty::Binary, "p.value"),
            (
                "completion_success_value_utf8",
                Ty::Utf8,
                "CAST(p.value AS TEXT)",
            ),
            (
                "completion_failure",
                Ty::Utf8,
                "CASE WHEN p.failure_code IS NOT NULL THEN '[' || p.failure_code || '] ' || COALESCE(p.failure_message, '') END",
            ),
        ],
    },
    View {
        name: "sys_deployment",
        from: "restate_rs_deployment d",
        columns: &[
            ("id", Ty::Utf8, "d.id"),
            ("ty", Ty::Utf8, "d.ty"),
            ("endpoint", Ty::Utf8, "d.endpoint"),
            ("created_at", Ty::Timestamp, "d.created_at"),
            (
                "min_service_protocol_version",
                Ty::UInt32,
                "d.min_protocol_version",
            ),
            (
                "max_service_protocol_version",
                Ty::UInt32,
                "d.max_protocol_version",
            ),
        ],
    },
    View {
        name: "sys_service",
        from: "restate_rs_service s",
        columns: &[
            ("name", Ty::Utf8, "s.name"),
            ("revision", Ty::UInt64, "1"),
            ("public", Ty::Bool, "s.public"),
            ("ty", Ty::Utf8, "s.ty"),
            (
                "deployment_id",
                Ty::Utf8,
                "(SELECT d.id FROM restate_rs_deployment d)",
            ),
        ],
    },
];

/// What the views need beyond the file: the engine's services and its deployment.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    /// Name, type (`Service`, `VirtualObject`, `Workflow`), public.
    pub(crate) services: Vec<(String, String, bool)>,
    pub(crate) deployment_id: String,
    /// `http` (remote) or `in-process`.
    pub(crate) deployment_ty: String,
    pub(crate) endpoint: String,
    pub(crate) created_at_ms: i64,
    pub(crate) min_protocol_version: u32,
    pub(crate) max_protocol_version: u32,
    /// The version the engine speaks with the deployment.
    pub(crate) protocol_version: u32,
}

/// The declared type of a view column named `name` (in any view), if there is one.
pub(crate) fn declared_type(name: &str) -> Option<Ty> {
    VIEWS
        .iter()
        .flat_map(|v| v.columns.iter())
        .find(|(column, _, _)| column.eq_ignore_ascii_case(name))
        .map(|(_, ty, _)| *ty)
}

/// Creates the views and the catalog tables on `connection`, a query's own connection: all
/// `TEMP`, so the file's schema does not change.
pub(crate) fn install(connection: &Connection, catalog: &Catalog) -> rusqlite::Result<()> {
    let mut setup = String::from(
        "CREATE TEMP TABLE restate_rs_service (name TEXT, ty TEXT, public INTEGER);
         CREATE TEMP TABLE restate_rs_deployment (id TEXT, ty TEXT, endpoint TEXT, created_at INTEGER,
             min_protocol_version INTEGER, max_protocol_version INTEGER, protocol_version INTEGER);
         CREATE TEMP TABLE restate_rs_entry_type (ty INTEGER PRIMARY KEY, name TEXT, completable INTEGER);
         CREATE TEMP TABLE information_schema_columns (table_catalog TEXT, table_schema TEXT,
             table_name TEXT, column_name TEXT, ordinal_position INTEGER, is_nullable TEXT, data_type TEXT);
         CREATE TEMP TABLE information_schema_tables (table_catalog TEXT, table_schema TEXT,
             table_name TEXT, table_type TEXT);\n",
    );
    for view in VIEWS {
        let columns: Vec<String> = view
            .columns
            .iter()
            .map(|(name, _, expr)| format!("{expr} AS \"{name}\""))
            .collect();
        setup.push_str(&format!(
            "CREATE TEMP VIEW {} AS SELECT {} FROM {};\n",
            view.name,
            columns.join(", "),
            view.from
        ));
    }
    connection.execute_batch(&setup)?;
    {
        let mut insert = connection
            .prepare("INSERT INTO information_schema_columns VALUES ('restate', 'public', ?1, ?2, ?3, 'YES', ?4)")?;
        let mut table = connection.prepare(
            "INSERT INTO information_schema_tables VALUES ('restate', 'public', ?1, 'VIEW')",
        )?;
        for view in VIEWS {
            table.execute([view.name])?;
            for (position, (name, ty, _)) in view.columns.iter().enumerate() {
                insert.execute(params![view.name, name, position as i64, ty.data_type()])?;
            }
        }
        let mut service =
            connection.prepare("INSERT INTO restate_rs_service VALUES (?1, ?2, ?3)")?;
        for (name, ty, public) in &catalog.services {
            service.execute(params![name, ty, public])?;
        }
        connection.execute(
            "INSERT INTO restate_rs_deployment VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                catalog.deployment_id,
                catalog.deployment_ty,
                catalog.endpoint,
                catalog.created_at_ms,
                catalog.min_protocol_version,
                catalog.max_protocol_version,
                catalog.protocol_version
            ],
        )?;
        let mut entry =
            connection.prepare("INSERT INTO restate_rs_entry_type VALUES (?1, ?2, ?3)")?;
        for ty in (0x0400u16..0x0500).chain(0x8000..0x8100).chain([0xFBFF]) {
            if !crate::engine::protocol::is_known(ty) {
                continue;
            }
            let name = entry_type_name(ty);
            let completable = crate::engine::protocol::is_command(ty)
                && crate::engine::protocol::is_known(ty.wrapping_add(0x7C00));
            entry.execute(params![ty, name, completable])?;
        }
    }
    Ok(())
}

/// restate-server's name of a journal entry type (rows of version 2): `Command: Sleep`,
/// `Notification: SleepCompletion`.
fn entry_type_name(ty: u16) -> String {
    let name = crate::engine::protocol::type_name(ty);
    if let Some(command) = name.strip_suffix("Command") {
        format!("Command: {command}")
    } else if let Some(notification) = name.strip_suffix("Notification") {
        format!("Notification: {notification}")
    } else {
        name.to_owned()
    }
}
