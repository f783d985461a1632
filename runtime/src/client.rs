//! Typed calls from inside a handler.
//!
//! The generated `FooClient` hands out a [`Request`] per method; it is the SDK's request
//! builder with the message codec filled in. A request is journaled: on replay the call is
//! not made again, its recorded result is returned.
//!
//! ```no_run
//! # use restate_rs::prelude::*;
//! # use std::time::Duration;
//! # async fn demo(ctx: Context<'_>, req: restate_rs::client::Request<'_, (), ()>) -> HandlerResult<()> {
//! // Call and wait for the response (a `DurableFuture`, so it can be raced or joined):
//! req.call().await?;
//! # Ok(()) }
//! ```

use crate::codec::{Codec, Json, Payload};
use restate_sdk::context::{CallFuture, DurableFuture, SendHandle};
use restate_sdk::errors::TerminalError;
use std::time::Duration;

/// A call to one handler, built by a generated client: choose an idempotency key or headers,
/// then [`call`](Request::call), [`send`](Request::send) or [`send_after`](Request::send_after).
#[must_use = "a request does nothing until it is called or sent"]
pub struct Request<'ctx, Req, Res, C = Json> {
    inner: restate_sdk::context::Request<'ctx, Payload<Req, C>, Payload<Res, C>>,
}

impl<'ctx, Req, Res, C> Request<'ctx, Req, Res, C>
where
    Req: Send + 'static,
    Res: Send + 'static,
    C: Codec<Req> + Codec<Res>,
{
    #[doc(hidden)]
    pub fn new(
        inner: restate_sdk::context::Request<'ctx, Payload<Req, C>, Payload<Res, C>>,
    ) -> Self {
        Self { inner }
    }

    /// Makes the call idempotent: the server runs the target once per key (within its
    /// idempotency retention) and answers repeats with the first result.
    pub fn idempotency_key(self, key: impl Into<String>) -> Self {
        Self {
            inner: self.inner.idempotency_key(key),
        }
    }

    /// The idempotency key the proto declares, when the request gave one.
    #[doc(hidden)]
    pub fn idempotency_key_if_any(self, key: Option<String>) -> Self {
        match key {
            Some(key) => self.idempotency_key(key),
            None => self,
        }
    }

    /// Adds a header that the callee sees in its request metadata.
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            inner: self.inner.header(name.into(), value.into()),
        }
    }

    /// Calls the handler and waits for its response. A terminal error of the callee comes back
    /// as `Err`; the returned future is durable and can be combined with other durable futures.
    pub fn call(self) -> impl DurableFuture<Output = Result<Res, TerminalError>> + Send + 'ctx {
        self.inner.call().map_ok(Payload::into_inner)
    }

    /// Like [`call`](Request::call), keeping access to the callee's invocation (its id, cancel).
    pub fn call_with_handle(self) -> impl CallFuture<Response = Payload<Res, C>> + Send + 'ctx {
        self.inner.call()
    }

    /// Sends the request without waiting for the response (one-way).
    pub fn send(self) -> SendHandle {
        self.inner.send()
    }

    /// Sends the request to run after `delay`; the timer is durable.
    pub fn send_after(self, delay: Duration) -> SendHandle {
        self.inner.send_after(delay)
    }
}
