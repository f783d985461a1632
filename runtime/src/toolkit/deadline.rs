//! Waiting with a deadline: an awakeable, a workflow promise or a call raced against a
//! durable timer, with a typed outcome.
//!
//! ```no_run
//! use restate_rs::prelude::*;
//! use restate_rs::toolkit::deadline::{Deadline, within};
//! use std::time::Duration;
//!
//! async fn approve(ctx: WorkflowContext<'_>) -> HandlerResult<bool> {
//!     let decision = ctx.promise::<bool>("approval");
//!     match within(&ctx, Duration::from_secs(24 * 3600), decision).await? {
//!         Deadline::Value(approved) => Ok(approved),
//!         Deadline::Rejected(reason) => Err(reason.into()),
//!         Deadline::TimedOut => Ok(false),
//!     }
//! }
//! ```
//!
//! The timer is durable: a workflow waiting a week survives restarts and resumes waiting for
//! the time that is left.

use restate_sdk::context::{ContextTimers, DurableFuture};
use restate_sdk::errors::TerminalError;
use std::future::Future;
use std::time::Duration;

/// How a wait with a deadline ended.
#[derive(Debug, Clone)]
pub enum Deadline<T> {
    /// The awaited thing completed with a value in time.
    Value(T),
    /// It was rejected (a rejected awakeable or promise, a call that failed terminally).
    Rejected(TerminalError),
    /// The deadline passed first.
    TimedOut,
}

impl<T> Deadline<T> {
    /// The value, if it came in time.
    pub fn value(self) -> Option<T> {
        match self {
            Deadline::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the deadline passed.
    pub fn timed_out(&self) -> bool {
        matches!(self, Deadline::TimedOut)
    }
}

/// Waits for `future` at most `timeout`. Fails only when the invocation is cancelled while
/// waiting (a terminal error 409).
pub fn within<'ctx, C, F, T>(
    ctx: &C,
    timeout: Duration,
    future: F,
) -> impl Future<Output = Result<Deadline<T>, TerminalError>> + Send + 'ctx
where
    C: ContextTimers<'ctx>,
    F: DurableFuture<Output = Result<T, TerminalError>> + Send + 'ctx,
    T: Send + 'ctx,
{
    let timer = ctx.sleep(timeout);
    async move {
        restate_sdk::select! {
            result = future => Ok(match result {
                Ok(value) => Deadline::Value(value),
                Err(error) => Deadline::Rejected(error),
            }),
            _ = timer => Ok(Deadline::TimedOut),
        }
    }
}
