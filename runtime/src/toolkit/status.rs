//! Workflow status: progress that a workflow's run publishes and its shared handlers return.
//!
//! ```no_run
//! use restate_rs::prelude::*;
//! use restate_rs::toolkit::status::{self, WorkflowStatus};
//!
//! async fn run(ctx: WorkflowContext<'_>) -> HandlerResult<()> {
//!     status::publish(&ctx, &WorkflowStatus::started("provisioning", 3));
//!     // ... step 1 ...
//!     status::publish(&ctx, &status::read(&ctx).await?.step_done());
//!     Ok(())
//! }
//!
//! // The one line a shared `GetStatus` handler needs:
//! async fn get_status(ctx: SharedWorkflowContext<'_>) -> HandlerResult<WorkflowStatus> {
//!     Ok(status::read(&ctx).await?)
//! }
//! ```
//!
//! The status is JSON (`{"phase","stepsDone","stepsTotal","fraction","error"}`); a proto
//! message with those fields returns it through a generated handler unchanged.

use super::state::StateKey;
use super::state::{ReadsState, WritesState};
use restate_sdk::errors::TerminalError;
use std::future::Future;

/// Where the status is kept in the workflow's state.
pub const STATUS: StateKey<WorkflowStatus> = StateKey::new("restate_rs.status");

/// A workflow's progress.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkflowStatus {
    /// What it is doing, in words of the workflow's domain.
    pub phase: String,
    /// Steps finished.
    pub steps_done: u32,
    /// Steps in all, if known.
    pub steps_total: u32,
    /// `steps_done / steps_total`, or 0 when the total is unknown.
    pub fraction: f64,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl WorkflowStatus {
    /// A status at the start of `phase`, with `steps_total` steps ahead.
    pub fn started(phase: impl Into<String>, steps_total: u32) -> Self {
        Self {
            phase: phase.into(),
            steps_total,
            ..Self::default()
        }
    }

    /// One more step done.
    pub fn step_done(mut self) -> Self {
        self.steps_done += 1;
        self.fraction = if self.steps_total == 0 {
            0.0
        } else {
            f64::from(self.steps_done.min(self.steps_total)) / f64::from(self.steps_total)
        };
        self
    }

    /// In another phase.
    pub fn in_phase(mut self, phase: impl Into<String>) -> Self {
        self.phase = phase.into();
        self
    }

    /// Failed, with the reason.
    pub fn failed(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }
}

/// Publishes `status` (from the run handler, which may write state).
pub fn publish<'ctx, C: WritesState<'ctx>>(ctx: &C, status: &WorkflowStatus) {
    STATUS.set(ctx, status);
}

/// The last published status (the default before any).
pub fn read<'ctx, C: ReadsState<'ctx>>(
    ctx: &C,
) -> impl Future<Output = Result<WorkflowStatus, TerminalError>> + Send + 'ctx {
    let read = STATUS.get(ctx);
    async move { Ok(read.await?.unwrap_or_default()) }
}
