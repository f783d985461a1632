//! An invocation's status, as the engine stores it, the events that change it and the one
//! function that says to what ([`InvocationStatus::on`]), and what recovery does with each.
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

/// What happens to an invocation, as far as its status goes. [`InvocationStatus::on`] is the
/// one place that says which status each leads to, from which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// Its time came: a delayed invocation becomes pending, a retry starts.
    Due,
    /// Admission: it takes its key and runs when the key is free, or queues behind the
    /// holder. Also what hands the key to the next invocation queued on it.
    Admitted { key_free: bool },
    /// Recovery starts a new attempt of an invocation that was running.
    Restarted,
    /// Its attempt went idle (suspension): it suspends, unless what it awaits has arrived.
    Idle { ready: bool },
    /// What a suspended invocation awaits arrived.
    Woken,
    /// An attempt failed with a retryable error: it backs off, or pauses when its retry
    /// policy is used up and says so.
    AttemptFailed { pause: bool },
    /// An operator paused an invocation waiting for its next retry.
    Paused,
    /// An operator resumed a paused invocation.
    Resumed,
    /// It ended: with an output, a terminal error, a kill, or a retry policy used up.
    Ended,
}

impl InvocationStatus {
    /// The status `event` leads to from this one; `None` when it cannot happen here (an
    /// invocation that has ended never changes again; a suspended one is not admitted).
    pub(crate) fn on(self, event: Event) -> Option<InvocationStatus> {
        use InvocationStatus::*;
        match (self, event) {
            (Scheduled, Event::Due) => Some(Pending),
            (Backoff, Event::Due) => Some(Running),
            (Pending | Inboxed, Event::Admitted { key_free: true }) => Some(Running),
            (Pending | Inboxed, Event::Admitted { key_free: false }) => Some(Inboxed),
            (Running, Event::Restarted) => Some(Running),
            (Running, Event::Idle { ready: true }) => Some(Running),
            (Running, Event::Idle { ready: false }) => Some(Suspended),
            (Suspended, Event::Woken) => Some(Running),
            (Running, Event::AttemptFailed { pause: false }) => Some(Backoff),
            (Running, Event::AttemptFailed { pause: true }) => Some(Paused),
            (Backoff, Event::Paused) => Some(Paused),
            (Paused, Event::Resumed) => Some(Running),
            (Completed, _) => None,
            (_, Event::Ended) => Some(Completed),
            _ => None,
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

    /// Every event with every value of its fields.
    const EVENTS: [Event; 12] = [
        Event::Due,
        Event::Admitted { key_free: true },
        Event::Admitted { key_free: false },
        Event::Restarted,
        Event::Idle { ready: true },
        Event::Idle { ready: false },
        Event::Woken,
        Event::AttemptFailed { pause: false },
        Event::AttemptFailed { pause: true },
        Event::Paused,
        Event::Resumed,
        Event::Ended,
    ];

    /// The whole table of transitions, written out: a change to `on` must change this too.
    #[test]
    fn transitions() {
        let mut table = Vec::new();
        for from in InvocationStatus::ALL {
            for event in EVENTS {
                if let Some(to) = from.on(event) {
                    table.push(format!("{from} --{event:?}--> {to}"));
                }
            }
        }
        let expected = [
            "scheduled --Due--> pending",
            "scheduled --Ended--> completed",
            "pending --Admitted { key_free: true }--> running",
            "pending --Admitted { key_free: false }--> inboxed",
            "pending --Ended--> completed",
            "inboxed --Admitted { key_free: true }--> running",
            "inboxed --Admitted { key_free: false }--> inboxed",
            "inboxed --Ended--> completed",
            "running --Restarted--> running",
            "running --Idle { ready: true }--> running",
            "running --Idle { ready: false }--> suspended",
            "running --AttemptFailed { pause: false }--> backoff",
            "running --AttemptFailed { pause: true }--> paused",
            "running --Ended--> completed",
            "suspended --Woken--> running",
            "suspended --Ended--> completed",
            "backoff --Due--> running",
            "backoff --Paused--> paused",
            "backoff --Ended--> completed",
            "paused --Resumed--> running",
            "paused --Ended--> completed",
        ];
        assert_eq!(table, expected);
    }

    /// Every status but the terminal one can end, and the terminal one never changes; every
    /// status that holds its key leaves it only by ending or (backoff, paused) by running
    /// again, so a key is never released by a status change alone.
    #[test]
    fn completed_is_terminal_and_keys_are_kept_until_the_end() {
        for from in InvocationStatus::ALL {
            for event in EVENTS {
                let Some(to) = from.on(event) else { continue };
                assert!(!from.is_completed(), "{from} --{event:?}--> {to}");
                if from.holds_key() && !to.is_completed() {
                    assert!(to.holds_key(), "{from} --{event:?}--> {to}");
                }
            }
            assert_eq!(
                from.on(Event::Ended).is_some(),
                !from.is_completed(),
                "{from}"
            );
        }
    }
}
