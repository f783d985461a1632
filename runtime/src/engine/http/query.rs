//! SQL over the engine's file for `POST /query`, as restate-server answers it: the user's
//! statement, on a read-only connection of its own, over the views named and shaped like
//! restate-server's system tables (defined with the schema, in
//! [`store::views`](crate::engine::store::views)).
//!
//! - Each query opens its own connection, read-only (`SQLITE_OPEN_READ_ONLY`), on the same
//!   file (WAL: readers never hold up the writer). An in-memory engine shares its database
//!   through a named shared-cache memory URI; a query copies it (one pass over its pages,
//!   without table locks) and runs on the copy, so that it never holds up the writer for
//!   longer than the copy takes. The views are `TEMP` views of the query's connection; the
//!   file's schema does not change.
//! - Only `SELECT`, `WITH` and `VALUES` run; the statement must be read-only by SQLite's own
//!   judgement, and the connection is `query_only` besides.
//! - A query is stopped after [`QueryLimits::time`] (SQLite's progress handler) and refused
//!   past [`QueryLimits::rows`] rows, with a message that says which.
//!   The admin API runs at most four at once.
//! - The CLI writes DataFusion's dialect: `information_schema.columns` and the `index` column
//!   are translated; `now()` is a function of the connection. What SQLite cannot run is a 400
//!   with SQLite's reason.
//! - Answers are `application/json` (`{"rows": [...]}`, nulls left out, timestamps in RFC 3339,
//!   binary values in hex, as restate-server) or an Arrow IPC stream.

use crate::engine::store::views;
pub(crate) use crate::engine::store::views::{Catalog, Ty};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How far one query may go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryLimits {
    /// Wall time, after which the query is interrupted.
    pub(crate) time: Duration,
    /// Rows in the answer.
    pub(crate) rows: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            time: Duration::from_secs(5),
            rows: 100_000,
        }
    }
}

/// A query's answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) columns: Vec<String>,
    pub(crate) types: Vec<Ty>,
    pub(crate) rows: Vec<Vec<Value>>,
}

/// Runs `sql` on the database at `source` (a path, or a `file:` URI for an in-memory engine).
/// An error is the reason, for a 400.
pub(crate) fn run(
    source: &str,
    catalog: &Catalog,
    sql: &str,
    limits: QueryLimits,
) -> Result<Answer, String> {
    let (sql, first_word) = translate(sql)?;
    let refused =
        || format!("only queries that read are allowed (SELECT, WITH, VALUES), not {first_word}");
    // Statements that change something are refused before SQLite sees them; for anything else
    // SQLite's own reason comes first (a syntax error, an unknown table).
    const WRITES: &[&str] = &[
        "INSERT",
        "UPDATE",
        "DELETE",
        "REPLACE",
        "UPSERT",
        "CREATE",
        "DROP",
        "ALTER",
        "ATTACH",
        "DETACH",
        "PRAGMA",
        "VACUUM",
        "REINDEX",
        "ANALYZE",
        "BEGIN",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
    ];
    if WRITES.contains(&first_word.as_str()) {
        return Err(refused());
    }
    let mut connection = open(source, catalog)
        .map_err(|e| format!("cannot open the engine database for queries: {e}"))?;
    let started = Instant::now();
    let deadline = limits.time;
    let stopped_by_time = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&stopped_by_time);
    connection
        .progress_handler(
            1_000,
            Some(move || {
                let late = started.elapsed() > deadline;
                if late {
                    flag.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                late
            }),
        )
        .map_err(reason)?;
    let sqlite = |e: rusqlite::Error| {
        if stopped_by_time.load(std::sync::atomic::Ordering::Relaxed) {
            format!(
                "the query was stopped after its time limit of {} ms",
                deadline.as_millis()
            )
        } else {
            reason(e)
        }
    };
    let mut statement = connection.prepare(&sql).map_err(sqlite)?;
    if !matches!(first_word.as_str(), "SELECT" | "WITH" | "VALUES") {
        return Err(refused());
    }
    if !statement.readonly() {
        return Err("only queries that read are allowed: this statement would write".to_owned());
    }
    let columns: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let width = columns.len();
    let mut rows = Vec::new();
    let mut cursor = statement.query([]).map_err(sqlite)?;
    while let Some(row) = cursor.next().map_err(sqlite)? {
        if rows.len() == limits.rows {
            return Err(format!(
                "the query returns more than {} rows, the limit: narrow it or add a LIMIT",
                limits.rows
            ));
        }
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(row.get::<_, Value>(i).map_err(sqlite)?);
        }
        rows.push(values);
    }
    drop(cursor);
    let types = columns
        .iter()
        .enumerate()
        .map(|(i, name)| column_type(name, rows.iter().map(|r| &r[i])))
        .collect();
    Ok(Answer {
        columns,
        types,
        rows,
    })
}

fn reason(e: rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message,
        rusqlite::Error::SqlInputError { msg, offset, .. } => {
            format!("{msg} (at character {offset})")
        }
        rusqlite::Error::MultipleStatement => "one statement at a time".to_owned(),
        other => other.to_string(),
    }
}

/// Invocations per status (the engine's names), read beside the writer (one short statement
/// on the status index, so no copy of an in-memory database).
pub(crate) fn status_counts(source: &str) -> rusqlite::Result<Vec<(String, i64)>> {
    crate::engine::store::invocations::count_by_status(&connect(source)?)
}

/// A read-only connection straight on the engine's database (for an in-memory engine, on its
/// shared cache, without table locks).
fn connect(source: &str) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    if source.starts_with("file:") {
        connection.pragma_update(None, "read_uncommitted", true)?;
    } else {
        connection.busy_timeout(Duration::from_secs(1))?;
    }
    Ok(connection)
}

/// A read-only connection for a query: on the engine's file, or on a private snapshot of
/// an in-memory engine's database.
fn open_read_only(source: &str) -> rusqlite::Result<Connection> {
    let mut connection = connect(source)?;
    if !source.starts_with("file:") {
        return Ok(connection);
    }
    // A connection to a shared-cache database holds the cache's mutex for as long as one step
    // of a statement runs, which would hold up the writer for as long as a query runs: copy
    // the database instead (one pass over its pages) and query the copy.
    let snapshot = match connection.serialize(rusqlite::MAIN_DB)? {
        rusqlite::serialize::Data::Owned(data) => data,
        rusqlite::serialize::Data::Shared(_) => {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some("the engine's in-memory database cannot be copied for a query".to_owned()),
            ));
        }
    };
    drop(connection);
    let mut private = Connection::open_in_memory()?;
    private.deserialize(rusqlite::MAIN_DB, snapshot, true)?;
    Ok(private)
}

/// Opens a read-only connection with the views.
fn open(source: &str, catalog: &Catalog) -> rusqlite::Result<Connection> {
    let connection = open_read_only(source)?;
    connection.create_scalar_function("now", 0, FunctionFlags::SQLITE_UTF8, |_| Ok(now_ms()))?;
    connection.create_aggregate_function(
        "restate_rs_first_value",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        FirstValue,
    )?;
    connection.create_scalar_function(
        "restate_rs_entry_name",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let ty: i64 = ctx.get(0)?;
            let payload: Vec<u8> = ctx.get(1)?;
            Ok(super::admin::entry_name(ty as u16, &payload).unwrap_or_default())
        },
    )?;
    connection.create_scalar_function(
        "restate_rs_entry_json",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let ty: i64 = ctx.get(0)?;
            let payload: Vec<u8> = ctx.get(1)?;
            Ok(entry_json(ty as u16, &payload))
        },
    )?;
    connection.create_scalar_function(
        "restate_rs_sleep_wakeup",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let ty: i64 = ctx.get(0)?;
            if ty as u16 != crate::engine::protocol::SLEEP_COMMAND {
                return Ok(None);
            }
            let payload: Vec<u8> = ctx.get(1)?;
            let sleep: Option<crate::engine::protocol::pb::SleepCommandMessage> =
                prost::Message::decode(payload.as_slice()).ok();
            Ok(sleep.map(|s| s.wake_up_time as i64))
        },
    )?;
    views::install(&connection, catalog)?;
    connection.pragma_update(None, "query_only", true)?;
    Ok(connection)
}

/// A command as restate-server's `entry_json` has it, for the commands whose shape the CLI
/// reads (input, output, eager state reads and writes, sleeps); `None` for the others.
fn entry_json(ty: u16, payload: &[u8]) -> Option<String> {
    use crate::engine::protocol::{self, pb};
    use prost::Message;
    let bytes = |v: Option<pb::Value>| v.map(|v| v.content.to_vec()).unwrap_or_default();
    let command = match ty {
        protocol::INPUT_COMMAND => {
            let m = pb::InputCommandMessage::decode(payload).ok()?;
            let headers: Vec<serde_json::Value> = m
                .headers
                .iter()
                .map(|h| serde_json::json!({ "name": h.key, "value": h.value }))
                .collect();
            serde_json::json!({ "Input": { "headers": headers, "payload": bytes(m.value), "name": m.name } })
        }
        protocol::OUTPUT_COMMAND => {
            let m = pb::OutputCommandMessage::decode(payload).ok()?;
            let result = match m.result? {
                pb::output_command_message::Result::Value(v) => {
                    serde_json::json!({ "Success": v.content.to_vec() })
                }
                pb::output_command_message::Result::Failure(f) => {
                    serde_json::json!({ "Failure": { "code": f.code, "message": f.message } })
                }
            };
            serde_json::json!({ "Output": { "result": result, "name": m.name } })
        }
        protocol::SET_STATE_COMMAND => {
            let m = pb::SetStateCommandMessage::decode(payload).ok()?;
            serde_json::json!({ "SetState": {
                "key": String::from_utf8_lossy(&m.key),
                "value": bytes(m.value),
                "name": m.name,
            } })
        }
        protocol::GET_EAGER_STATE_COMMAND => {
            let m = pb::GetEagerStateCommandMessage::decode(payload).ok()?;
            let result = match m.result? {
                pb::get_eager_state_command_message::Result::Void(_) => serde_json::json!("Void"),
                pb::get_eager_state_command_message::Result::Value(v) => {
                    serde_json::json!({ "Success": v.content.to_vec() })
                }
            };
            serde_json::json!({ "GetEagerState": {
                "key": String::from_utf8_lossy(&m.key),
                "result": result,
                "name": m.name,
            } })
        }
        protocol::SLEEP_COMMAND => {
            let m = pb::SleepCommandMessage::decode(payload).ok()?;
            serde_json::json!({ "Sleep": {
                "wake_up_time": m.wake_up_time,
                "completion_id": m.result_completion_id,
                "name": m.name,
            } })
        }
        _ => return None,
    };
    Some(serde_json::json!({ "Command": command }).to_string())
}

/// `FIRST_VALUE(x [ORDER BY ...])` as an aggregate, as DataFusion has it: the first value of
/// the group.
struct FirstValue;

impl rusqlite::functions::Aggregate<Option<Value>, Value> for FirstValue {
    fn init(&self, _: &mut rusqlite::functions::Context<'_>) -> rusqlite::Result<Option<Value>> {
        Ok(None)
    }

    fn step(
        &self,
        ctx: &mut rusqlite::functions::Context<'_>,
        first: &mut Option<Value>,
    ) -> rusqlite::Result<()> {
        if first.is_none() {
            *first = Some(ctx.get::<Value>(0)?);
        }
        Ok(())
    }

    fn finalize(
        &self,
        _: &mut rusqlite::functions::Context<'_>,
        first: Option<Option<Value>>,
    ) -> rusqlite::Result<Value> {
        Ok(first.flatten().unwrap_or(Value::Null))
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The type of an answer's column: the declared type of a view column of that name when the
/// values fit it, otherwise what the values are.
fn column_type<'a>(name: &str, values: impl Iterator<Item = &'a Value> + Clone) -> Ty {
    let declared = views::declared_type(name)
        .or_else(|| name.ends_with("_at").then_some(Ty::Timestamp))
        .or_else(|| name.ends_with("_exists").then_some(Ty::Bool));
    if let Some(ty) = declared
        && values.clone().all(|v| ty.fits(v))
    {
        return ty;
    }
    let mut ty = Ty::Null;
    for value in values {
        let this = match value {
            Value::Null => continue,
            Value::Integer(_) => Ty::Int64,
            Value::Real(_) => Ty::Float64,
            Value::Text(_) => Ty::Utf8,
            Value::Blob(_) => Ty::Binary,
        };
        ty = match (ty, this) {
            (Ty::Null, this) => this,
            (a, b) if a == b => a,
            (Ty::Int64, Ty::Float64) | (Ty::Float64, Ty::Int64) => Ty::Float64,
            _ => Ty::Utf8,
        };
    }
    ty
}

/// DataFusion's dialect, as the CLI writes it, in SQLite's, with the statement's first word
/// (in capitals).
pub(crate) fn translate(sql: &str) -> Result<(String, String), String> {
    let sql = sql
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    let mut out = String::with_capacity(sql.len() + 16);
    let mut first_word: Option<String> = None;
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                // A literal or a quoted name: copied as it is, to its closing quote.
                let start = i;
                i += 1;
                while i < chars.len() {
                    if chars[i] == c {
                        if i + 1 < chars.len() && chars[i + 1] == c {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unterminated quoted text".to_owned());
                }
                out.extend(&chars[start..=i]);
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                out.push(' ');
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if first_word.is_none() {
                    first_word = Some(word.to_ascii_uppercase());
                }
                let lower = word.to_ascii_lowercase();
                if lower == "information_schema" && chars.get(i) == Some(&'.') {
                    // information_schema.columns -> information_schema_columns
                    out.push_str("information_schema_");
                    i += 1;
                } else if lower == "index" {
                    out.push_str("\"index\"");
                } else if lower == "first_value" {
                    // DataFusion's aggregate; SQLite's is a window function only.
                    out.push_str("restate_rs_first_value");
                } else if lower == "ilike" {
                    out.push_str("LIKE");
                } else {
                    out.push_str(&word);
                }
            }
            ';' => return Err("one statement at a time".to_owned()),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    match first_word {
        Some(word) => Ok((out, word)),
        None => Err("the query is empty".to_owned()),
    }
}

/// `{"rows": [...]}`, as restate-server: nulls left out, timestamps in RFC 3339 with
/// milliseconds, binary values in hex.
pub(crate) fn to_json(answer: &Answer) -> String {
    let rows: Vec<serde_json::Value> = answer
        .rows
        .iter()
        .map(|row| {
            let mut object = serde_json::Map::new();
            for ((name, ty), value) in answer.columns.iter().zip(&answer.types).zip(row) {
                let json = match (ty, value) {
                    (_, Value::Null) => continue,
                    (Ty::Bool, Value::Integer(n)) => serde_json::Value::Bool(*n != 0),
                    (Ty::Timestamp, Value::Integer(ms)) => serde_json::Value::String(rfc3339(*ms)),
                    (_, Value::Integer(n)) => serde_json::Value::from(*n),
                    (_, Value::Real(x)) => serde_json::Value::from(*x),
                    (_, Value::Text(s)) => serde_json::Value::String(s.clone()),
                    (_, Value::Blob(b)) => serde_json::Value::String(hex(b)),
                };
                object.insert(name.clone(), json);
            }
            serde_json::Value::Object(object)
        })
        .collect();
    serde_json::json!({ "rows": rows }).to_string()
}

fn rfc3339(ms: i64) -> String {
    let time = if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH
    };
    humantime::format_rfc3339_millis(time).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The answer as an Arrow IPC stream: one schema, one record batch.
pub(crate) fn to_arrow(answer: &Answer) -> Result<Vec<u8>, String> {
    use arrow_array::{
        ArrayRef, BooleanArray, DurationMillisecondArray, Float64Array, Int64Array,
        LargeBinaryArray, LargeStringArray, NullArray, RecordBatch, TimestampMillisecondArray,
        UInt32Array, UInt64Array,
    };
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    let mut fields = Vec::with_capacity(answer.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(answer.columns.len());
    for (i, (name, ty)) in answer.columns.iter().zip(&answer.types).enumerate() {
        let values = answer.rows.iter().map(|r| &r[i]);
        let int = |v: &Value| match v {
            Value::Integer(n) => Some(*n),
            Value::Real(x) => Some(*x as i64),
            _ => None,
        };
        let (data_type, array): (DataType, ArrayRef) = match ty {
            Ty::Utf8 => (
                DataType::LargeUtf8,
                Arc::new(
                    values
                        .map(|v| match v {
                            Value::Null => None,
                            Value::Text(s) => Some(s.clone()),
                            Value::Integer(n) => Some(n.to_string()),
                            Value::Real(x) => Some(x.to_string()),
                            Value::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
                        })
                        .collect::<LargeStringArray>(),
                ),
            ),
            Ty::UInt64 => (
                DataType::UInt64,
                Arc::new(
                    values
                        .map(|v| int(v).map(|n| n as u64))
                        .collect::<UInt64Array>(),
                ),
            ),
            Ty::UInt32 => (
                DataType::UInt32,
                Arc::new(
                    values
                        .map(|v| int(v).map(|n| n as u32))
                        .collect::<UInt32Array>(),
                ),
            ),
            Ty::Int64 => (
                DataType::Int64,
                Arc::new(values.map(int).collect::<Int64Array>()),
            ),
            Ty::Float64 => (
                DataType::Float64,
                Arc::new(
                    values
                        .map(|v| match v {
                            Value::Real(x) => Some(*x),
                            Value::Integer(n) => Some(*n as f64),
                            _ => None,
                        })
                        .collect::<Float64Array>(),
                ),
            ),
            Ty::Bool => (
                DataType::Boolean,
                Arc::new(
                    values
                        .map(|v| int(v).map(|n| n != 0))
                        .collect::<BooleanArray>(),
                ),
            ),
            Ty::Timestamp => (
                DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
                Arc::new(
                    values
                        .map(int)
                        .collect::<TimestampMillisecondArray>()
                        .with_timezone("+00:00"),
                ),
            ),
            Ty::Duration => (
                DataType::Duration(TimeUnit::Millisecond),
                Arc::new(values.map(int).collect::<DurationMillisecondArray>()),
            ),
            Ty::Binary => (
                DataType::LargeBinary,
                Arc::new(
                    values
                        .map(|v| match v {
                            Value::Blob(b) => Some(b.clone()),
                            Value::Text(s) => Some(s.clone().into_bytes()),
                            _ => None,
                        })
                        .collect::<LargeBinaryArray>(),
                ),
            ),
            Ty::Null => (DataType::Null, Arc::new(NullArray::new(answer.rows.len()))),
        };
        fields.push(Field::new(name, data_type, true));
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = if arrays.is_empty() {
        RecordBatch::try_new_with_options(
            Arc::clone(&schema),
            arrays,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(answer.rows.len())),
        )
    } else {
        RecordBatch::try_new(Arc::clone(&schema), arrays)
    }
    .map_err(|e| e.to_string())?;
    let mut writer =
        arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &schema).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    writer.into_inner().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation() {
        let sql = |q: &str| translate(q).map(|(sql, _)| sql);
        assert_eq!(
            sql(
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'sys_journal';"
            )
            .unwrap(),
            "SELECT COUNT(*) FROM information_schema_columns WHERE table_name = 'sys_journal'"
        );
        assert_eq!(
            sql("SELECT sj.index FROM sys_journal sj ORDER BY index DESC").unwrap(),
            "SELECT sj.\"index\" FROM sys_journal sj ORDER BY \"index\" DESC"
        );
        assert_eq!(
            sql("select 'index; information_schema.columns' x").unwrap(),
            "select 'index; information_schema.columns' x"
        );
        assert_eq!(translate("delete FROM state").unwrap().1, "DELETE");
        assert!(translate("select 1; select 2").is_err());
        assert!(translate("  ").is_err());
    }
}
