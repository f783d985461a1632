//! Crash injection for tests: the test harness asks for an invocation's attempt to crash at a
//! point ([`CrashPoint`]); the invoker asks here whether it is time.
//!
//! May use: the engine's shared types and the store's typed functions.

use super::protocol::{self, Frame, pb};
use super::store::invocations::Invocation;
use super::store::journal;
use super::{Engine, EngineError, Target};

impl Engine {
    /// Makes the next invocation of `target` (any key when the target's key is empty) crash
    /// once at `point`: its attempt is dropped as if the process had died there, and the
    /// engine recovers it by replaying its journal. For tests of what runs once.
    pub fn inject_crash(&self, target: Target, point: CrashPoint) {
        self.inner.crashes.lock().unwrap().push((target, point));
    }

    /// Whether a crash the harness asked for targets `invocation`.
    pub(super) fn crash_targets(&self, invocation: &Invocation) -> bool {
        self.inner
            .crashes
            .lock()
            .unwrap()
            .iter()
            .any(|(target, _)| targets(target, invocation))
    }

    /// Removes the first crash for `invocation` whose point `matches`; whether there was one.
    pub(super) fn take_crash(
        &self,
        invocation: &Invocation,
        matches: impl Fn(&CrashPoint) -> bool,
    ) -> bool {
        let mut crashes = self.inner.crashes.lock().unwrap();
        let found = crashes
            .iter()
            .position(|(target, point)| targets(target, invocation) && matches(point));
        found.map(|i| crashes.remove(i)).is_some()
    }

    /// The name of the step a run proposal completes.
    pub(super) async fn step_name(
        &self,
        invocation: &Invocation,
        frame: &Frame,
    ) -> Result<Option<String>, EngineError> {
        // Only a crash at a named step needs the name: no journal read otherwise.
        if !self.crash_targets(invocation) {
            return Ok(None);
        }
        let completion = frame
            .decode_as::<pb::ProposeRunCompletionMessage>()
            .map(|m| m.result_completion_id)
            .ok();
        let id = invocation.id.clone();
        let runs: Vec<Vec<u8>> = self
            .inner
            .store
            .run(move |tx| journal::payloads_of_type(tx, &id, protocol::RUN_COMMAND))
            .await?;
        Ok(runs.iter().find_map(|payload| {
            let run: pb::RunCommandMessage = prost::Message::decode(payload.as_slice()).ok()?;
            (Some(run.result_completion_id) == completion).then_some(run.name)
        }))
    }

    pub(super) async fn crash_after(
        &self,
        invocation: &Invocation,
        step: Option<&str>,
    ) -> Result<bool, EngineError> {
        if !self.crash_targets(invocation) {
            return Ok(false);
        }
        if let Some(name) = step
            && self.take_crash(
                invocation,
                |p| matches!(p, CrashPoint::AfterStepCompletes(n) if n == name),
            )
        {
            return Ok(true);
        }
        let id = invocation.id.clone();
        let entries: i64 = self
            .inner
            .store
            .run(move |tx| journal::len(tx, &id))
            .await?;
        Ok(self.take_crash(
            invocation,
            |p| matches!(p, CrashPoint::AfterEntries(n) if entries >= i64::from(*n)),
        ))
    }
}

/// Whether a crash aimed at `target` applies to `invocation` (an empty key: any key).
fn targets(target: &Target, invocation: &Invocation) -> bool {
    target.service == invocation.service
        && target.handler == invocation.handler
        && (target.key.is_empty() || target.key == invocation.key)
}

/// Where the test harness makes an invocation's attempt crash (see [`Engine::inject_crash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrashPoint {
    /// Once its journal holds at least this many entries (the input is entry 0).
    AfterEntries(u32),
    /// When the step (`ctx.run(..).name(..)`) with this name has run but its result is not yet
    /// journaled: the step runs again after the crash.
    BeforeStepCompletes(String),
    /// Right after the result of the step with this name is journaled: the step does not run
    /// again after the crash.
    AfterStepCompletes(String),
}
