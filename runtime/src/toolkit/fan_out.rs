//! Fan-out with bounded concurrency: one call per item, at most `limit` in flight, results
//! gathered in the items' order.
//!
//! ```no_run
//! use restate_rs::prelude::*;
//! use restate_rs::toolkit::fan_out::fan_out;
//! # async fn demo(ctx: Context<'_>, make: impl Fn(u32) -> restate_rs::client::Request<'static, (), ()>) -> HandlerResult<()> {
//! let results = fan_out(0..100u32, 8, |i| make(i).call()).await;
//! # Ok(()) }
//! ```
//!
//! Calls are journaled as they are made and the order of making them is fixed by the items,
//! so the fan-out replays exactly.

use restate_sdk::errors::TerminalError;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;

/// Starts `call(item)` for each item, at most `limit` (at least 1) outstanding, and returns
/// every result in item order. Failures do not stop the others; see [`try_fan_out`].
pub async fn fan_out<I, F, Fut, T>(
    items: impl IntoIterator<Item = I>,
    limit: usize,
    call: F,
) -> Vec<Result<T, TerminalError>>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, TerminalError>>,
{
    let every = bounded(items, limit, |item| {
        let result = call(item);
        async move { Ok::<_, Infallible>(result.await) }
    });
    let Ok(results) = every.await;
    results
}

/// Like [`fan_out`], stopping at the first failure (calls already started still run).
pub async fn try_fan_out<I, F, Fut, T>(
    items: impl IntoIterator<Item = I>,
    limit: usize,
    call: F,
) -> Result<Vec<T>, TerminalError>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, TerminalError>>,
{
    bounded(items, limit, call).await
}

/// The loop of both: at most `limit` calls outstanding, results in item order, stopping at
/// the first error.
async fn bounded<I, F, Fut, T, E>(
    items: impl IntoIterator<Item = I>,
    limit: usize,
    call: F,
) -> Result<Vec<T>, E>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let limit = limit.max(1);
    let mut pending: VecDeque<std::pin::Pin<Box<Fut>>> = VecDeque::new();
    let mut results = Vec::new();
    for item in items {
        if pending.len() == limit
            && let Some(oldest) = pending.pop_front()
        {
            results.push(oldest.await?);
        }
        pending.push_back(Box::pin(call(item)));
    }
    while let Some(next) = pending.pop_front() {
        results.push(next.await?);
    }
    Ok(results)
}
