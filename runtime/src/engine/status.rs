//! An invocation's status, as the engine stores it, and what recovery does with each.
//!
//! The status is a type, mapped to the `status` column of the invocations table: the rest of
//! the engine never spells one as text. Every status that is not terminal has one recovery
//! rule ([`InvocationStatus::recovery`]); [`EngineBuilder::open`](super::EngineBuilder::open)
//! applies them to whatever a previous process left, so that an invocation acknowledged to a
//! caller always runs to its end.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// Where an invocation is in its life.
///
/// ```text
///  scheduled ──(its time comes)──> pending ──(admitted)──> running ──(End)──> completed
///                                     └──(its key is held)──> inboxed ──(key released)──┘
///  running ──(awaits, idle)──> suspended ──(what it awaits arrives)──> running
///  running ──(retryable failure)──> backoff ──(retry time)──> running
///          └──(last attempt, pause policy)──> paused ──(resume)──> running
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum InvocationStatus {
    /// Accepted with a delay (a delayed send); starts when its time comes.
    Scheduled,
    /// Accepted, not yet admitted: it runs as soon as the key it needs (if any) is free.
    Pending,
    /// Waits in its key's queue behind the exclusive invocation that holds the key.
    Inboxed,
    /// Has (or is about to have) an attempt in flight.
    Running,
    /// No attempt in flight: it waits for a completion or a signal, which resumes it.
    Suspended,
    /// Its last attempt failed with a retryable error; the next one starts at `run_at`.
    Backoff,
    /// Used up its attempts under a pausing retry policy; waits for a resume.
    Paused,
    /// Ended with a value or a terminal error. The only terminal status.
    Completed,
}

/// What recovery does with an invocation found in a status at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recovery {
    /// Admit it again: take its key and run, or queue behind the holder.
    Admit,
    /// Start a new attempt: it replays its journal. It holds its key.
    Restart,
    /// Keep it queued on its key; it runs when the key is released (or at once when nobody
    /// holds the key).
    Queue,
    /// Keep it suspended, holding its key: it resumes when what it awaits arrives. Whatever
    /// was on its way to it (the outbox) is delivered at open, which resumes it.
    AwaitDelivery,
    /// Leave it to the timer task, which starts it at `run_at`. A retry holds its key
    /// meanwhile; a delayed send does not hold one yet.
    Timer,
    /// Keep it, holding its key, until an operator resumes or kills it.
    Hold,
    /// Nothing: it has ended.
    Nothing,
}

impl InvocationStatus {
    /// Every status, for tests that must cover them all.
    pub(crate) const ALL: [InvocationStatus; 8] = [
        InvocationStatus::Scheduled,
        InvocationStatus::Pending,
        InvocationStatus::Inboxed,
        InvocationStatus::Running,
        InvocationStatus::Suspended,
        InvocationStatus::Backoff,
        InvocationStatus::Paused,
        InvocationStatus::Completed,
    ];

    /// The name stored in the database and shown by the admin API.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InvocationStatus::Scheduled => "scheduled",
            InvocationStatus::Pending => "pending",
            InvocationStatus::Inboxed => "inboxed",
            InvocationStatus::Running => "running",
            InvocationStatus::Suspended => "suspended",
            InvocationStatus::Backoff => "backoff",
            InvocationStatus::Paused => "paused",
            InvocationStatus::Completed => "completed",
        }
    }

    /// The status named `name`, if any.
    pub(crate) fn parse(name: &str) -> Option<InvocationStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the invocation has ended.
    pub(crate) fn is_completed(self) -> bool {
        self == InvocationStatus::Completed
    }

    /// The recovery rule of the status (see [`Recovery`]).
    pub(crate) fn recovery(self) -> Recovery {
        match self {
            InvocationStatus::Scheduled => Recovery::Timer,
            InvocationStatus::Pending => Recovery::Admit,
            InvocationStatus::Inboxed => Recovery::Queue,
            InvocationStatus::Running => Recovery::Restart,
            InvocationStatus::Suspended => Recovery::AwaitDelivery,
            InvocationStatus::Backoff => Recovery::Timer,
            InvocationStatus::Paused => Recovery::Hold,
            InvocationStatus::Completed => Recovery::Nothing,
        }
    }

    /// Whether an exclusive invocation in this status holds its key (others of the same key
    /// queue behind it).
    pub(crate) fn holds_key(self) -> bool {
        match self {
            InvocationStatus::Running
            | InvocationStatus::Suspended
            | InvocationStatus::Backoff
            | InvocationStatus::Paused => true,
            InvocationStatus::Scheduled
            | InvocationStatus::Pending
            | InvocationStatus::Inboxed
            | InvocationStatus::Completed => false,
        }
    }
}

impl std::fmt::Display for InvocationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for InvocationStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(
            self.as_str().as_bytes(),
        )))
    }
}

impl FromSql for InvocationStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        InvocationStatus::parse(text).ok_or_else(|| {
            FromSqlError::Other(format!("unknown invocation status `{text}`").into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_name_that_reads_back() {
        for status in InvocationStatus::ALL {
            assert_eq!(InvocationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(InvocationStatus::parse("done"), None);
    }

    #[test]
    fn only_completed_needs_no_recovery() {
        for status in InvocationStatus::ALL {
            assert_eq!(
                status.recovery() == Recovery::Nothing,
                status.is_completed(),
                "{status}"
            );
        }
    }
}
