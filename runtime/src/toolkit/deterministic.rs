//! Deterministic helpers: values that must be the same when the handler is replayed.
//!
//! Randomness comes from the SDK's seeded generator (`ctx.rand()`, `ctx.rand_uuid()`), which
//! replays identically; the current time is captured once in a durable step.

use super::RunsSteps;
use restate_sdk::context::ContextSideEffects;
use restate_sdk::errors::TerminalError;
use restate_sdk::prelude::RngExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time, captured durably: the same value on every replay.
pub async fn now<'ctx, C: RunsSteps<'ctx>>(ctx: &C) -> Result<SystemTime, TerminalError> {
    let millis: u64 = ctx
        .run_step("now".to_owned(), || async {
            Ok(SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64))
        })
        .await?;
    Ok(UNIX_EPOCH + Duration::from_millis(millis))
}

/// A random integer in `range`, from the SDK's seeded generator.
pub fn random_in<'ctx, C: ContextSideEffects<'ctx>>(
    ctx: &mut C,
    range: std::ops::Range<u64>,
) -> u64 {
    ContextSideEffects::rand(ctx).random_range(range)
}

/// A random element of `items`, from the SDK's seeded generator; `None` when empty.
pub fn choose<'a, 'ctx, C: ContextSideEffects<'ctx>, T>(
    ctx: &mut C,
    items: &'a [T],
) -> Option<&'a T> {
    if items.is_empty() {
        return None;
    }
    let index = random_in(ctx, 0..items.len() as u64) as usize;
    items.get(index)
}

/// A random UUID (v4 layout), from the SDK's seeded generator, as text.
pub fn uuid<'ctx, C: ContextSideEffects<'ctx>>(ctx: &mut C) -> String {
    ContextSideEffects::rand_uuid(ctx).to_string()
}
