//! The `invocations` table: one row per invocation, with its target, kind, status, attempts,
//! outcome and expiry times. Only this file reads or writes it; the kind and the status are
//! types here ([`HandlerKind`], [`InvocationStatus`]), never text outside.
//!
//! May use: rusqlite, bytes, [`Sql`](super::Sql), the forms of ids (`engine::ids`), the
//! engine's value types ([`InvocationStatus`], [`HandlerKind`], [`Outcome`]).

use super::Sql;
use crate::engine::ids::ids_of_raw;
use crate::engine::status::{Event, InvocationStatus};
use crate::engine::{HandlerKind, Outcome};
use bytes::Bytes;
use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};

// Run for every invocation: text parameters compared with the index's leading columns are
// cast, so that the plan does not depend on their values and is made once (see
// `store::tests::statements_run_per_invocation_are_planned_once`).
/// The first invocation queued on a key (`?1` service, `?2` key, `?3` the inboxed status).
#[cfg(test)]
pub(super) const NEXT_INBOXED: &str = "SELECT id FROM invocations WHERE service = CAST(?1 AS TEXT) AND key = CAST(?2 AS TEXT) AND status = CAST(?3 AS TEXT) AND kind IN ('exclusive', 'workflow_run') ORDER BY seq LIMIT 1";

// The partial indexes `invocations_by_key` and `invocations_by_status` (see the schema) serve
// only statements that repeat their conditions: `kind IN ('exclusive', 'workflow_run')` and
// `status != 'completed'`. `tests::statements_use_the_partial_indexes` checks the plans.
/// The run of a workflow (`?1` service, `?2` its id).
pub(super) const WORKFLOW_RUN: &str = "SELECT id FROM invocations WHERE service = ?1 AND key = ?2 AND kind IN ('exclusive', 'workflow_run') AND kind = 'workflow_run'";
/// How many invocations hold a key (`?1` service, `?2` key, `?3`..`?6` the statuses that hold it).
pub(super) const KEY_HOLDERS: &str = "SELECT COUNT(*) FROM invocations WHERE service = ?1 AND key = ?2 AND kind IN ('exclusive', 'workflow_run') AND status IN (?3, ?4, ?5, ?6)";
/// Every invocation not completed, in arrival order. Without statistics SQLite would rather
/// scan the whole table (every completed invocation) in arrival order than sort the few.
pub(super) const UNFINISHED: &str = "SELECT id, service, key, kind, status FROM invocations INDEXED BY invocations_by_status WHERE status != 'completed' ORDER BY seq";
/// Invocations in the statuses `?2` or `?3` due at `?1`, in arrival order.
pub(super) const DUE: &str = "SELECT id, service, key, kind, status FROM invocations WHERE status IN (?2, ?3) AND status != 'completed' AND run_at <= ?1 ORDER BY seq";

/// The `kind` column.
impl ToSql for HandlerKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(match self {
            HandlerKind::Stateless => "stateless",
            HandlerKind::Exclusive => "exclusive",
            HandlerKind::Shared => "shared",
            HandlerKind::WorkflowRun => "workflow_run",
        }))
    }
}

impl FromSql for HandlerKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Ok(match value.as_str()? {
            "exclusive" => HandlerKind::Exclusive,
            "shared" => HandlerKind::Shared,
            "workflow_run" => HandlerKind::WorkflowRun,
            _ => HandlerKind::Stateless,
        })
    }
}

/// A row of the invocations table, as the engine runs it.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub(crate) id: String,
    /// The id's 16 bytes (the protocol's `Start` carries them).
    pub(crate) raw_id: Vec<u8>,
    pub(crate) service: String,
    pub(crate) handler: String,
    /// The object or workflow key; empty for a plain service.
    pub(crate) key: String,
    pub(crate) kind: HandlerKind,
    pub(crate) status: InvocationStatus,
    pub(crate) random_seed: u64,
    /// Failed attempts so far.
    pub(crate) attempts: u32,
    pub(crate) idempotency_key: Option<String>,
}

/// An invocation to insert.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewInvocation<'a> {
    pub(crate) id: &'a str,
    pub(crate) raw_id: &'a [u8],
    pub(crate) service: &'a str,
    pub(crate) handler: &'a str,
    pub(crate) key: &'a str,
    pub(crate) kind: HandlerKind,
    pub(crate) status: InvocationStatus,
    /// When it may run (ms since the epoch).
    pub(crate) run_at: i64,
    pub(crate) idempotency_key: Option<&'a str>,
    pub(crate) random_seed: u64,
    /// When it was accepted (ms since the epoch).
    pub(crate) created_at: i64,
}

/// What scheduling needs of an invocation: where it runs, and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scheduled {
    pub(crate) id: String,
    pub(crate) service: String,
    pub(crate) key: String,
    pub(crate) kind: HandlerKind,
    pub(crate) status: InvocationStatus,
}

/// What the admin API lists of an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) id: String,
    pub(crate) service: String,
    pub(crate) key: String,
    pub(crate) handler: String,
    pub(crate) status: InvocationStatus,
    pub(crate) attempts: u32,
    pub(crate) last_error: Option<String>,
    /// The terminal failure's code and message, for one that failed.
    pub(crate) failure_code: Option<i64>,
    pub(crate) failure_message: Option<String>,
    /// When it was accepted (ms since the epoch).
    pub(crate) created_at: i64,
}

const SUMMARY_COLUMNS: &str = "id, service, key, handler, status, attempts, last_error, failure_code, failure_message, created_at";

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<Summary> {
    Ok(Summary {
        id: r.get(0)?,
        service: r.get(1)?,
        key: r.get(2)?,
        handler: r.get(3)?,
        status: r.get(4)?,
        attempts: r.get::<_, i64>(5)? as u32,
        last_error: r.get(6)?,
        failure_code: r.get(7)?,
        failure_message: r.get(8)?,
        created_at: r.get(9)?,
    })
}

fn scheduled(r: &rusqlite::Row<'_>) -> rusqlite::Result<Scheduled> {
    Ok(Scheduled {
        id: r.get(0)?,
        service: r.get(1)?,
        key: r.get(2)?,
        kind: r.get(3)?,
        status: r.get(4)?,
    })
}

/// Inserts a new invocation, after every other in arrival order: its `seq` (the rowid) is
/// the largest so far plus one, as SQLite assigns it.
pub(crate) fn insert(tx: &Connection, new: &NewInvocation<'_>) -> rusqlite::Result<()> {
    tx.exec(
        "INSERT INTO invocations (id, raw_id, service, handler, key, kind, status, run_at, idempotency_key, random_seed, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            new.id,
            new.raw_id,
            new.service,
            new.handler,
            new.key,
            new.kind,
            new.status,
            new.run_at,
            new.idempotency_key,
            new.random_seed as i64,
            new.created_at
        ],
    )?;
    Ok(())
}

/// The invocation `id`, if there is one.
pub(crate) fn get(tx: &Connection, id: &str) -> rusqlite::Result<Option<Invocation>> {
    tx.row(
        "SELECT id, raw_id, service, handler, key, kind, status, random_seed, attempts, idempotency_key FROM invocations WHERE id = ?1",
        [id],
        |r| {
            Ok(Invocation {
                id: r.get(0)?,
                raw_id: r.get(1)?,
                service: r.get(2)?,
                handler: r.get(3)?,
                key: r.get(4)?,
                kind: r.get(5)?,
                status: r.get(6)?,
                random_seed: r.get::<_, i64>(7)? as u64,
                attempts: r.get::<_, i64>(8)? as u32,
                idempotency_key: r.get(9)?,
            })
        },
    )
    .optional()
}

/// Whether the invocation `id` exists.
pub(crate) fn exists(tx: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(tx
        .row("SELECT id FROM invocations WHERE id = ?1", [id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The id of the invocation whose 16 bytes are `raw_id`. Found by the ids it may have (see
/// [`ids_of_raw`]) through the id index: the bytes have no index of their own, and a scan of
/// them read every invocation in the file.
pub(crate) fn id_by_raw(tx: &Connection, raw_id: &[u8]) -> rusqlite::Result<Option<String>> {
    for id in ids_of_raw(raw_id) {
        let found: Option<Vec<u8>> = tx
            .row("SELECT raw_id FROM invocations WHERE id = ?1", [&id], |r| {
                r.get(0)
            })
            .optional()?;
        if found.as_deref() == Some(raw_id) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// The invocation of the run of workflow `service` with id `key`, if it ran.
pub(crate) fn workflow_run(
    tx: &Connection,
    service: &str,
    key: &str,
) -> rusqlite::Result<Option<String>> {
    tx.row(WORKFLOW_RUN, params![service, key], |r| r.get(0))
        .optional()
}

/// The first invocation queued (inboxed) on `service`'s `key`, in arrival order. The engine
/// keeps the queues in memory (the scheduler, rebuilt from this order at open); tests compare.
#[cfg(test)]
pub(crate) fn next_inboxed(
    tx: &Connection,
    service: &str,
    key: &str,
) -> rusqlite::Result<Option<String>> {
    tx.row(
        NEXT_INBOXED,
        params![service, key, InvocationStatus::Inboxed],
        |r| r.get(0),
    )
    .optional()
}

/// The status of `id`, if there is such an invocation.
pub(crate) fn status(tx: &Connection, id: &str) -> rusqlite::Result<Option<InvocationStatus>> {
    tx.row("SELECT status FROM invocations WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .optional()
}

/// Applies `event` to the status of `id` (see [`InvocationStatus::on`]) and returns the new
/// status; `None`, with nothing written, when there is no such invocation or the event cannot
/// happen in its status (an invocation that ended is never changed again).
pub(crate) fn transition(
    tx: &Connection,
    id: &str,
    event: Event,
) -> rusqlite::Result<Option<InvocationStatus>> {
    let Some((seq, from)) = tx
        .row(
            "SELECT seq, status FROM invocations WHERE id = ?1",
            [id],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, InvocationStatus>(1)?)),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let Some(to) = from.on(event) else {
        if !from.is_completed() {
            tracing::warn!("invocation {id}: {event:?} cannot happen while {from}; ignored");
        }
        return Ok(None);
    };
    if to != from {
        tx.exec(
            "UPDATE invocations SET status = ?2 WHERE seq = ?1",
            params![seq, to],
        )?;
    }
    Ok(Some(to))
}

/// Resumes a paused invocation `id` ([`Event::Resumed`]), with its attempts counted from
/// zero. When it is not paused, nothing changes and the answer is its status (`None`: there
/// is no such invocation).
pub(crate) fn resume_paused(
    tx: &Connection,
    id: &str,
) -> rusqlite::Result<Result<(), Option<InvocationStatus>>> {
    match status(tx, id)? {
        Some(InvocationStatus::Paused) => {}
        other => return Ok(Err(other)),
    }
    transition(tx, id, Event::Resumed)?;
    tx.exec("UPDATE invocations SET attempts = 0 WHERE id = ?1", [id])?;
    Ok(Ok(()))
}

/// Records a failed attempt of `id` ([`Event::AttemptFailed`]: backoff, or paused), the
/// attempts so far, when to try again (unchanged for `None`) and the error; nothing when it
/// has ended meanwhile.
pub(crate) fn record_failed_attempt(
    tx: &Connection,
    id: &str,
    pause: bool,
    attempts: u32,
    run_at: Option<i64>,
    error: &str,
) -> rusqlite::Result<()> {
    if transition(tx, id, Event::AttemptFailed { pause })?.is_some() {
        tx.exec(
            "UPDATE invocations SET attempts = ?2, run_at = COALESCE(?3, run_at), last_error = ?4 WHERE id = ?1",
            params![id, attempts, run_at, error],
        )?;
    }
    Ok(())
}

/// Records the output of `id` (the handler's, before it completes).
pub(crate) fn set_output(tx: &Connection, id: &str, output: &Outcome) -> rusqlite::Result<()> {
    match output {
        Ok(value) => tx.exec(
            "UPDATE invocations SET result_value = ?2, failure_code = NULL, failure_message = NULL WHERE id = ?1",
            params![id, value.as_ref()],
        )?,
        Err((code, message)) => tx.exec(
            "UPDATE invocations SET failure_code = ?2, failure_message = ?3, result_value = NULL WHERE id = ?1",
            params![id, *code as i64, message],
        )?,
    };
    Ok(())
}

/// Records that `id` failed for good after `attempts`, with a terminal error that is also its
/// last error.
pub(crate) fn set_failed(
    tx: &Connection,
    id: &str,
    attempts: u32,
    code: u16,
    message: &str,
) -> rusqlite::Result<()> {
    tx.exec(
        "UPDATE invocations SET attempts = ?2, last_error = ?4, failure_code = ?3, failure_message = ?4, result_value = NULL WHERE id = ?1",
        params![id, attempts, code, message],
    )?;
    Ok(())
}

/// Completes `id` at `now` ([`Event::Ended`]) with the expiry times of its journal and of its
/// record, and its `output` when it comes with the completion, and returns how it ended and
/// when it was accepted; `None` if there is no such invocation or it had completed already (it
/// is left as it was).
pub(crate) fn complete(
    tx: &Connection,
    id: &str,
    now: i64,
    journal_expires_at: i64,
    record_expires_at: i64,
    output: Option<&Outcome>,
) -> rusqlite::Result<Option<(Outcome, i64)>> {
    // A read, then an update of the row by its rowid: `UPDATE ... RETURNING` would cost more,
    // since SQLite gathers the returned rows in a temporary table it opens and closes for
    // every statement (a fifth of the writer's time in a profile).
    let Some((seq, status, stored, created_at)) = tx
        .row(
            "SELECT seq, status, result_value, failure_code, failure_message, created_at FROM invocations WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, InvocationStatus>(1)?,
                    outcome_of(r.get(2)?, r.get(3)?, r.get(4)?),
                    r.get::<_, i64>(5)?,
                ))
            },
        )
        .optional()?
    else {
        return Ok(None);
    };
    let Some(to) = status.on(Event::Ended) else {
        return Ok(None);
    };
    let times = params![seq, to, now, journal_expires_at, record_expires_at];
    match output {
        None => tx.exec(
            "UPDATE invocations SET status = ?2, completed_at = ?3, journal_expires_at = ?4, record_expires_at = ?5 WHERE seq = ?1",
            times,
        )?,
        Some(Ok(value)) => tx.exec(
            "UPDATE invocations SET status = ?2, completed_at = ?3, journal_expires_at = ?4, record_expires_at = ?5,
                 result_value = ?6, failure_code = NULL, failure_message = NULL WHERE seq = ?1",
            params![seq, to, now, journal_expires_at, record_expires_at, value.as_ref()],
        )?,
        Some(Err((code, message))) => tx.exec(
            "UPDATE invocations SET status = ?2, completed_at = ?3, journal_expires_at = ?4, record_expires_at = ?5,
                 result_value = NULL, failure_code = ?6, failure_message = ?7 WHERE seq = ?1",
            params![seq, to, now, journal_expires_at, record_expires_at, *code as i64, message],
        )?,
    };
    Ok(Some((output.cloned().unwrap_or(stored), created_at)))
}

/// The outcome stored as a value, or as a failure's code and message.
fn outcome_of(value: Option<Vec<u8>>, code: Option<i64>, message: Option<String>) -> Outcome {
    match code {
        Some(code) => Err((code as u16, message.unwrap_or_default())),
        None => Ok(Bytes::from(value.unwrap_or_default())),
    }
}

/// How `id` ended: `None` when there is no such invocation, `Some(None)` while it has not
/// completed.
pub(crate) fn outcome(tx: &Connection, id: &str) -> rusqlite::Result<Option<Option<Outcome>>> {
    tx.row(
        "SELECT status, result_value, failure_code, failure_message FROM invocations WHERE id = ?1",
        [id],
        |r| {
            let status: InvocationStatus = r.get(0)?;
            if !status.is_completed() {
                return Ok(None);
            }
            Ok(Some(outcome_of(r.get(1)?, r.get(2)?, r.get(3)?)))
        },
    )
    .optional()
}

/// Whether an exclusive handler or a workflow's run holds `service`'s `key` (running,
/// suspended, or between attempts).
pub(crate) fn key_in_use(tx: &Connection, service: &str, key: &str) -> rusqlite::Result<bool> {
    let holders: i64 = tx.row(
        KEY_HOLDERS,
        params![
            service,
            key,
            InvocationStatus::Running,
            InvocationStatus::Suspended,
            InvocationStatus::Backoff,
            InvocationStatus::Paused
        ],
        |r| r.get(0),
    )?;
    Ok(holders > 0)
}

/// Every invocation that has not completed, in arrival order.
pub(crate) fn unfinished(tx: &Connection) -> rusqlite::Result<Vec<Scheduled>> {
    tx.rows(UNFINISHED, [], scheduled)
}

/// The delayed invocations and retries due at `now`, in arrival order.
pub(crate) fn due(tx: &Connection, now: i64) -> rusqlite::Result<Vec<Scheduled>> {
    tx.rows(
        DUE,
        params![now, InvocationStatus::Scheduled, InvocationStatus::Backoff],
        scheduled,
    )
}

/// Up to `limit` invocations whose record has expired at `now`, the oldest first.
pub(crate) fn expired_records(
    tx: &Connection,
    now: i64,
    limit: usize,
) -> rusqlite::Result<Vec<String>> {
    tx.rows(
        "SELECT id FROM invocations WHERE record_expires_at <= ?1 ORDER BY record_expires_at LIMIT ?2",
        params![now, limit as i64],
        |r| r.get(0),
    )
}

/// Up to `limit` invocations whose journal has expired at `now`, the oldest first.
pub(crate) fn expired_journals(
    tx: &Connection,
    now: i64,
    limit: usize,
) -> rusqlite::Result<Vec<String>> {
    tx.rows(
        "SELECT id FROM invocations WHERE journal_expires_at <= ?1 ORDER BY journal_expires_at LIMIT ?2",
        params![now, limit as i64],
        |r| r.get(0),
    )
}

/// Forgets when the journal of `id` expires (it is gone).
pub(crate) fn clear_journal_expiry(tx: &Connection, id: &str) -> rusqlite::Result<()> {
    tx.exec(
        "UPDATE invocations SET journal_expires_at = NULL WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// Removes the row of `id`.
pub(crate) fn delete(tx: &Connection, id: &str) -> rusqlite::Result<()> {
    tx.exec("DELETE FROM invocations WHERE id = ?1", [id])?;
    Ok(())
}

/// How many invocations have each status, by the status's name as stored; on any
/// connection to the file (the metrics read it beside the writer).
pub(crate) fn count_by_status(db: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    db.rows(
        "SELECT status, COUNT(*) FROM main.invocations GROUP BY status",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Invocations, newest first, only those with `status` and of `service` when given; at most
/// `limit`.
pub(crate) fn summaries(
    tx: &Connection,
    status: Option<&str>,
    service: Option<&str>,
    limit: usize,
) -> rusqlite::Result<Vec<Summary>> {
    tx.rows(
        &format!(
            "SELECT {SUMMARY_COLUMNS} FROM invocations WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR service = ?2) ORDER BY seq DESC LIMIT ?3"
        ),
        params![status, service, limit as i64],
        summary,
    )
}

/// The summary of `id`, if there is such an invocation.
pub(crate) fn summary_of(tx: &Connection, id: &str) -> rusqlite::Result<Option<Summary>> {
    tx.row(
        &format!("SELECT {SUMMARY_COLUMNS} FROM invocations WHERE id = ?1"),
        [id],
        summary,
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new<'a>(
        id: &'a str,
        key: &'a str,
        kind: HandlerKind,
        status: InvocationStatus,
    ) -> NewInvocation<'a> {
        NewInvocation {
            id,
            raw_id: id.as_bytes(),
            service: "Counter",
            handler: "add",
            key,
            kind,
            status,
            run_at: 0,
            idempotency_key: None,
            random_seed: u64::MAX,
            created_at: 7,
        }
    }

    /// The statements that look invocations up by key or by status use the partial indexes
    /// (a statement that does not repeat an index's condition word for word scans the table,
    /// which holds every completed invocation too).
    #[test]
    fn statements_use_the_partial_indexes() {
        let db = super::super::tests::database();
        let uses = |sql: &str, index: &str| {
            let mut explain = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let unbound = vec![rusqlite::types::Null; explain.parameter_count()];
            let plan: Vec<String> = explain
                .query_map(rusqlite::params_from_iter(unbound), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(
                plan.iter().any(|step| step.contains(index))
                    && !plan.iter().any(|step| step == "SCAN invocations"),
                "{sql}: {plan:?}"
            );
        };
        uses(NEXT_INBOXED, "invocations_by_key");
        uses(WORKFLOW_RUN, "invocations_by_key");
        uses(KEY_HOLDERS, "invocations_by_key");
        uses(UNFINISHED, "invocations_by_status");
        uses(DUE, "invocations_by_status");
        uses(super::super::timers::NEXT_DUE, "invocations_by_status");
    }

    /// An invocation is found by its bytes (an awakeable's id holds them) whichever form of
    /// id it was given: the current one, or those of files written by earlier versions.
    #[test]
    fn an_invocation_is_found_by_its_bytes_in_every_form_of_id() {
        let db = super::super::tests::database();
        let forms: Vec<([u8; 16], String)> = (0..3u8)
            .map(|form| {
                let raw = crate::engine::ids::new_invocation_raw();
                (raw, ids_of_raw(&raw)[usize::from(form)].clone())
            })
            .collect();
        for (raw, id) in &forms {
            let mut row = new(id, "", HandlerKind::Stateless, InvocationStatus::Running);
            row.raw_id = raw;
            insert(&db, &row).unwrap();
        }
        for (raw, id) in &forms {
            assert_eq!(id_by_raw(&db, raw).unwrap().as_deref(), Some(id.as_str()));
        }
        let unknown = crate::engine::ids::new_invocation_raw();
        assert_eq!(id_by_raw(&db, &unknown).unwrap(), None);
        assert_eq!(id_by_raw(&db, b"short").unwrap(), None);
    }

    #[test]
    fn the_next_inboxed_is_the_first_queued_on_its_key() {
        let db = super::super::tests::database();
        let queue = [
            ("inv_1", "a", InvocationStatus::Running),
            ("inv_2", "b", InvocationStatus::Inboxed),
            ("inv_3", "a", InvocationStatus::Pending),
            ("inv_4", "a", InvocationStatus::Inboxed),
            ("inv_5", "a", InvocationStatus::Inboxed),
        ];
        for (id, key, status) in queue {
            insert(&db, &new(id, key, HandlerKind::Exclusive, status)).unwrap();
        }
        assert_eq!(
            next_inboxed(&db, "Counter", "a").unwrap().as_deref(),
            Some("inv_4")
        );
        assert_eq!(
            transition(&db, "inv_4", Event::Admitted { key_free: true }).unwrap(),
            Some(InvocationStatus::Running)
        );
        assert_eq!(
            next_inboxed(&db, "Counter", "a").unwrap().as_deref(),
            Some("inv_5")
        );
        assert_eq!(
            next_inboxed(&db, "Counter", "b").unwrap().as_deref(),
            Some("inv_2")
        );
        assert_eq!(next_inboxed(&db, "Counter", "c").unwrap(), None);
        assert_eq!(next_inboxed(&db, "Other", "a").unwrap(), None);
    }

    #[test]
    fn an_invocation_reads_back_as_written() {
        let db = super::super::tests::database();
        let mut workflow = new(
            "inv_w",
            "ada",
            HandlerKind::WorkflowRun,
            InvocationStatus::Pending,
        );
        workflow.idempotency_key = Some("once");
        insert(&db, &workflow).unwrap();
        let read = get(&db, "inv_w").unwrap().unwrap();
        assert_eq!(
            (
                read.raw_id.as_slice(),
                read.kind,
                read.status,
                read.random_seed,
                read.attempts
            ),
            (
                &b"inv_w"[..],
                HandlerKind::WorkflowRun,
                InvocationStatus::Pending,
                u64::MAX,
                0
            )
        );
        assert_eq!(read.idempotency_key.as_deref(), Some("once"));
        assert!(get(&db, "inv_x").unwrap().is_none());
        assert!(exists(&db, "inv_w").unwrap());
        assert_eq!(
            workflow_run(&db, "Counter", "ada").unwrap().as_deref(),
            Some("inv_w")
        );
        assert_eq!(workflow_run(&db, "Counter", "bob").unwrap(), None);
        assert!(key_in_use(&db, "Counter", "ada").is_ok_and(|busy| !busy));
        transition(&db, "inv_w", Event::Admitted { key_free: true }).unwrap();
        assert!(key_in_use(&db, "Counter", "ada").unwrap());
        assert_eq!(count_by_status(&db).unwrap(), [("running".to_owned(), 1)]);
    }

    #[test]
    fn the_outcome_is_known_once_completed() {
        let db = super::super::tests::database();
        insert(
            &db,
            &new(
                "inv_1",
                "",
                HandlerKind::Stateless,
                InvocationStatus::Running,
            ),
        )
        .unwrap();
        assert_eq!(outcome(&db, "inv_1").unwrap(), Some(None));
        assert_eq!(outcome(&db, "inv_2").unwrap(), None);
        set_output(&db, "inv_1", &Ok(Bytes::from_static(b"42"))).unwrap();
        assert_eq!(outcome(&db, "inv_1").unwrap(), Some(None));
        // Completing answers how it ended and when it was accepted.
        assert_eq!(
            complete(&db, "inv_1", 10, 20, 30, None).unwrap(),
            Some((Ok(Bytes::from_static(b"42")), 7))
        );
        assert_eq!(complete(&db, "inv_2", 10, 20, 30, None).unwrap(), None);
        // An invocation that ended stays as it ended.
        assert_eq!(
            complete(
                &db,
                "inv_1",
                11,
                21,
                31,
                Some(&Err((409, "late".to_owned())))
            )
            .unwrap(),
            None
        );
        assert_eq!(transition(&db, "inv_1", Event::Woken).unwrap(), None);
        assert_eq!(
            outcome(&db, "inv_1").unwrap(),
            Some(Some(Ok(Bytes::from_static(b"42"))))
        );
        assert_eq!(
            transition(&db, "inv_1", Event::Idle { ready: false }).unwrap(),
            None
        );
        assert_eq!(
            status(&db, "inv_1").unwrap(),
            Some(InvocationStatus::Completed)
        );
        set_failed(&db, "inv_1", 3, 500, "boom").unwrap();
        assert_eq!(
            outcome(&db, "inv_1").unwrap(),
            Some(Some(Err((500, "boom".to_owned()))))
        );
        assert_eq!(expired_journals(&db, 19, 10).unwrap(), Vec::<String>::new());
        assert_eq!(expired_journals(&db, 20, 10).unwrap(), ["inv_1"]);
        assert_eq!(expired_records(&db, 30, 10).unwrap(), ["inv_1"]);
        let summary = summary_of(&db, "inv_1").unwrap().unwrap();
        assert_eq!((summary.attempts, summary.failure_code), (3, Some(500)));
        assert_eq!(
            summaries(&db, Some("completed"), None, 10).unwrap().len(),
            1
        );
        assert_eq!(summaries(&db, Some("running"), None, 10).unwrap().len(), 0);
    }
}
