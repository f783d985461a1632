//! Sagas: undo what was done when a later step fails for good.
//!
//! Register the compensation of a step *before* running the step. Registration is plain code,
//! and handler code replays deterministically after a crash, so a compensation registered
//! before a step is registered again on every replay: a crash between the two cannot lose it.
//! When the saga's body ends with a terminal error, the registered compensations run in
//! reverse order, each as its own durable step (`ctx.run`), then the error is returned.
//!
//! **Compensations must be idempotent**: a crash in the middle of a compensation runs it again
//! on replay (a durable step runs at least once, and exactly once only after its result is
//! journaled).
//!
//! ```no_run
//! use restate_rs::prelude::*;
//! use restate_rs::toolkit::saga::{Saga, Strategy};
//!
//! async fn book(ctx: WorkflowContext<'_>) -> HandlerResult<String> {
//!     let mut saga = Saga::new(Strategy::AllOrNothing);
//!     let result = async {
//!         saga.compensate("cancel flight", || async { /* cancel */ Ok(()) });
//!         ctx.run(|| async { Ok(()) }).name("book flight").await?;
//!         saga.compensate("cancel hotel", || async { /* cancel */ Ok(()) });
//!         ctx.run(|| async { Ok(()) }).name("book hotel").await?;
//!         Ok("booked".to_owned())
//!     }
//!     .await;
//!     saga.finish(&ctx, result).await
//! }
//! ```

use super::RunsSteps;
use futures::future::BoxFuture;
use restate_sdk::errors::{HandlerError, HandlerResult, TerminalError};
use std::future::Future;

/// What to do when a compensation itself fails terminally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Stop at the first compensation that fails; the rest do not run, and the error says
    /// which one failed.
    #[default]
    AllOrNothing,
    /// Run every compensation; the error lists those that failed.
    BestEffort,
}

/// A registered compensation.
pub type Compensation = Box<dyn FnOnce() -> BoxFuture<'static, HandlerResult<()>> + Send>;

/// Compensations registered so far, in order.
pub struct Saga {
    strategy: Strategy,
    steps: Vec<(String, Compensation)>,
}

impl std::fmt::Debug for Saga {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saga")
            .field("strategy", &self.strategy)
            .field(
                "compensations",
                &self.steps.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Saga {
    /// A saga with no compensations yet.
    pub fn new(strategy: Strategy) -> Self {
        Self {
            strategy,
            steps: Vec::new(),
        }
    }

    /// Registers the compensation of the step about to run. `name` names its durable step
    /// (`compensate: <name>`) in the journal.
    pub fn compensate<F, Fut>(&mut self, name: impl Into<String>, undo: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = HandlerResult<()>> + Send + 'static,
    {
        self.steps
            .push((name.into(), Box::new(move || Box::pin(undo()))));
    }

    /// How many compensations are registered.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Ends the saga with the outcome of its body: a success or a retryable error is
    /// returned as it is (a retryable error retries the whole handler, replaying what was
    /// done); a terminal error first runs the compensations in reverse order, then is
    /// returned (with the compensation failures, if any, added to its message).
    pub fn finish<'a, 'ctx: 'a, T, C>(
        self,
        ctx: &'a C,
        result: HandlerResult<T>,
    ) -> impl Future<Output = HandlerResult<T>> + Send + 'a
    where
        T: Send + 'a,
        C: RunsSteps<'ctx>,
    {
        let plan = match &result {
            Err(error) => as_terminal(error).map(|terminal| {
                let steps: Vec<_> = self.steps.into_iter().rev().collect();
                let stop = self.strategy == Strategy::AllOrNothing;
                (terminal, ctx.compensate_in_order(steps, stop))
            }),
            Ok(_) => None,
        };
        async move {
            let Some((terminal, compensations)) = plan else {
                return result;
            };
            let failures = compensations.await;
            if failures.is_empty() {
                Err(terminal.into())
            } else {
                Err(TerminalError::new_with_code(
                    terminal.code(),
                    format!(
                        "{} (compensation failed: {})",
                        terminal.message(),
                        failures.join("; ")
                    ),
                )
                .into())
            }
        }
    }
}

/// The terminal error inside a handler error, if it is one.
fn as_terminal(error: &HandlerError) -> Option<TerminalError> {
    // The error inside a HandlerError displays as `Terminal error [code]: message` when it is
    // terminal, and as `Retryable error: ...` otherwise.
    let inner: &(dyn std::error::Error + 'static) = error.as_ref();
    let text = inner.to_string();
    let rest = text.strip_prefix("Terminal error [")?;
    let (code, message) = rest.split_once("]: ")?;
    Some(TerminalError::new_with_code(code.parse().ok()?, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_errors_are_recognized() {
        let e: HandlerError = TerminalError::new_with_code(409, "taken: yes]: really").into();
        let t = as_terminal(&e).unwrap();
        assert_eq!((t.code(), t.message()), (409, "taken: yes]: really"));
        let retryable: HandlerError = "network down".into();
        assert!(as_terminal(&retryable).is_none());
    }
}
