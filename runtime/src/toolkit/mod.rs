//! The workflow toolkit: what durable workflows need beyond the SDK's primitives, with types
//! doing the checking.
//!
//! * [`state`]: typed state keys, declared once; writing from a shared handler does not compile.
//! * [`saga`]: compensations registered before the step they undo, run in reverse on failure.
//! * [`deadline`]: an awakeable, a promise or a call raced against a durable timer.
//! * [`status`]: progress a workflow publishes and its shared handlers return.
//! * [`deterministic`]: the current time captured durably, random choices from the SDK's seed.
//! * [`fan_out`]: calls over many items with bounded concurrency, gathered in order.
//!
//! Everything here is built on the SDK's journaled operations, so it behaves the same on
//! restate-server and on the embedded engine, and survives crashes and replays.

pub mod deadline;
pub mod deterministic;
pub mod fan_out;
pub mod saga;
pub mod state;
pub mod status;

use restate_sdk::context::{ContextSideEffects, RunFuture};
use restate_sdk::errors::{HandlerResult, TerminalError};
use restate_sdk::prelude::{
    Context, ObjectContext, SharedObjectContext, SharedWorkflowContext, WorkflowContext,
};
use std::future::Future;

/// Contexts that can run durable steps: all of them. Implemented for the concrete context
/// types, so that the toolkit's futures are known to be `Send` in handlers.
pub trait RunsSteps<'ctx>: Sync {
    /// Runs `step` as the durable step `name` (`ctx.run(step).name(name)`), in a `tracing`
    /// span `restate.step`.
    fn run_step<T, F, Fut>(
        &self,
        name: String,
        step: F,
    ) -> impl Future<Output = Result<T, TerminalError>> + Send + 'ctx
    where
        T: restate_sdk::serde::Serialize + restate_sdk::serde::Deserialize + Send + 'static,
        F: FnOnce() -> Fut + Send + 'ctx,
        Fut: Future<Output = HandlerResult<T>> + Send + 'ctx;

    /// Runs `steps` as durable steps named `compensate: <name>`, in the given order; returns
    /// the failures (`name: message`), stopping at the first when `stop_at_first_failure`.
    fn compensate_in_order<'a>(
        &'a self,
        steps: Vec<(String, saga::Compensation)>,
        stop_at_first_failure: bool,
    ) -> impl Future<Output = Vec<String>> + Send + 'a
    where
        'ctx: 'a;
}

macro_rules! runs_steps {
    ($($ty:ident),*) => {$(
        impl<'ctx> RunsSteps<'ctx> for $ty<'ctx> {
            fn run_step<T, F, Fut>(&self, name: String, step: F) -> impl Future<Output = Result<T, TerminalError>> + Send + 'ctx
            where
                T: restate_sdk::serde::Serialize + restate_sdk::serde::Deserialize + Send + 'static,
                F: FnOnce() -> Fut + Send + 'ctx,
                Fut: Future<Output = HandlerResult<T>> + Send + 'ctx,
            {
                let span = tracing::info_span!("restate.step", restate.step = name.as_str());
                tracing::Instrument::instrument(ContextSideEffects::run(self, step).name(name), span)
            }

            fn compensate_in_order<'a>(
                &'a self,
                steps: Vec<(String, saga::Compensation)>,
                stop_at_first_failure: bool,
            ) -> impl Future<Output = Vec<String>> + Send + 'a
            where
                'ctx: 'a,
            {
                async move {
                    let mut failures = Vec::new();
                    for (name, undo) in steps {
                        let step = format!("compensate: {name}");
                        let span = tracing::info_span!("restate.step", restate.step = step.as_str());
                        let outcome =
                            tracing::Instrument::instrument(ContextSideEffects::run(self, undo).name(step), span).await;
                        if let Err(e) = outcome {
                            failures.push(format!("{name}: {}", e.message()));
                            if stop_at_first_failure {
                                break;
                            }
                        }
                    }
                    failures
                }
            }
        }
    )*};
}

runs_steps!(
    Context,
    ObjectContext,
    SharedObjectContext,
    WorkflowContext,
    SharedWorkflowContext
);
