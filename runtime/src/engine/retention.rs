//! Retention, as restate-server does it: a completed invocation keeps its journal for the
//! journal retention, and its record (its output, its idempotency key, a workflow's state and
//! promises) for the retention of its kind; then it is purged. Expiry times are written when an
//! invocation completes ([`Engine::finish`](super::Engine)); a background task purges what has
//! expired, in small batches, each its own short transaction among the others.

use super::status::InvocationStatus;
use super::store::{idempotency, invocations, journal, promises, state};
use super::{Engine, EngineError, HandlerKind, now_ms};
use rusqlite::Transaction;

/// Records purged per transaction: small enough that calls queued behind a batch wait for
/// milliseconds, not seconds.
const BATCH: usize = 256;

/// Removes a completed invocation and everything kept for it. Returns false when there is no
/// such invocation.
fn purge_invocation(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<bool> {
    let Some(invocation) = invocations::get(tx, id)? else {
        return Ok(false);
    };
    purge_journal(tx, id)?;
    if let Some(idempotency_key) = &invocation.idempotency_key {
        let key = idempotency::Key {
            service: &invocation.service,
            key: &invocation.key,
            handler: &invocation.handler,
            idempotency_key,
        };
        idempotency::remove(tx, key, id)?;
    }
    if invocation.kind == HandlerKind::WorkflowRun {
        // A workflow's state and promises go with its run: its id can run again.
        state::clear_all(tx, &invocation.service, &invocation.key)?;
        promises::clear_all(tx, &invocation.service, &invocation.key)?;
    }
    invocations::delete(tx, id)?;
    Ok(true)
}

fn purge_journal(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<()> {
    journal::delete(tx, id)?;
    invocations::clear_journal_expiry(tx, id)
}

/// Applies a retention of zero at once, in the transaction that completes the invocation, as
/// restate-server keeps nothing it need not keep.
pub(super) fn purge_if_expired(
    tx: &Transaction<'_>,
    id: &str,
    now: i64,
    journal_expires: i64,
    record_expires: i64,
) -> rusqlite::Result<()> {
    if record_expires <= now {
        purge_invocation(tx, id)?;
    } else if journal_expires <= now {
        purge_journal(tx, id)?;
    }
    Ok(())
}

/// Purges up to [`BATCH`] expired records, then up to [`BATCH`] expired journals; returns how
/// many it purged.
fn purge_expired(tx: &Transaction<'_>, now: i64) -> rusqlite::Result<usize> {
    let records = invocations::expired_records(tx, now, BATCH)?;
    for id in &records {
        purge_invocation(tx, id)?;
    }
    let journals = invocations::expired_journals(tx, now, BATCH)?;
    for id in &journals {
        purge_journal(tx, id)?;
    }
    Ok(records.len() + journals.len())
}

impl Engine {
    /// Removes a completed invocation now, as restate-server's `PATCH /invocations/{id}/purge`:
    /// its journal, its output, its idempotency key (a new request with that key runs anew)
    /// and, for a workflow's run, the workflow's state and promises (its id can run again).
    /// An invocation that has not completed is refused: cancel or kill it first.
    pub async fn purge(&self, invocation_id: &str) -> Result<(), EngineError> {
        self.if_completed(invocation_id, "purge", |tx, id| {
            purge_invocation(tx, id).map(drop)
        })
        .await
    }

    /// Removes the journal of a completed invocation now and keeps its output, as
    /// restate-server's `PATCH /invocations/{id}/purge-journal`.
    pub async fn purge_journal(&self, invocation_id: &str) -> Result<(), EngineError> {
        self.if_completed(invocation_id, "purge the journal of", purge_journal)
            .await
    }

    /// Runs `action` on the invocation if it has completed; refuses with the reason (doing
    /// `what`) if it has not, as restate-server.
    async fn if_completed(
        &self,
        invocation_id: &str,
        what: &str,
        action: fn(&Transaction<'_>, &str) -> rusqlite::Result<()>,
    ) -> Result<(), EngineError> {
        let id = invocation_id.to_owned();
        let status = self
            .inner
            .store
            .run(move |tx| {
                let status = invocations::status(tx, &id)?;
                if status == Some(InvocationStatus::Completed) {
                    action(tx, &id)?;
                }
                Ok(status)
            })
            .await?;
        match status {
            None => Err(EngineError::UnknownInvocation(invocation_id.to_owned())),
            Some(InvocationStatus::Completed) => Ok(()),
            Some(status) => Err(EngineError::Conflict {
                id: invocation_id.to_owned(),
                reason: format!(
                    "cannot {what} an invocation that has not completed (it is {status}); cancel or kill it first"
                ),
            }),
        }
    }

    /// Purges what has expired, batch after batch, every cleanup interval.
    pub(super) async fn cleanup_loop(&self) {
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            loop {
                if self.is_shut_down() {
                    return;
                }
                let now = now_ms(&*self.inner.clock);
                match self.inner.store.run(move |tx| purge_expired(tx, now)).await {
                    Ok(purged) if purged > 0 => {
                        tracing::debug!("engine cleanup: purged {purged} expired records");
                        // Let other work between batches.
                        tokio::task::yield_now().await;
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::error!("engine cleanup: {e}");
                        break;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.inner.cleanup_interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
