//! The `invocations` table: one row per invocation, with its target, kind, status, attempts,
//! outcome and expiry times. Only this file reads or writes it.
//!
//! May use: rusqlite, [`Sql`](super::Sql), the engine's value types ([`InvocationStatus`],
//! `HandlerKind`, `Outcome`).

use super::Sql;
use crate::engine::status::InvocationStatus;
use rusqlite::{Connection, OptionalExtension, params};

// Run for every invocation: text parameters compared with the index's leading columns are
// cast, so that the plan does not depend on their values and is made once (see
// `store::tests::statements_run_per_invocation_are_planned_once`).
/// The first invocation queued on a key (`?1` service, `?2` key, `?3` the inboxed status).
pub(super) const NEXT_INBOXED: &str = "SELECT id FROM invocations WHERE service = CAST(?1 AS TEXT) AND key = CAST(?2 AS TEXT) AND status = CAST(?3 AS TEXT) ORDER BY seq LIMIT 1";

/// The first invocation queued (inboxed) on `service`'s `key`, in arrival order.
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
