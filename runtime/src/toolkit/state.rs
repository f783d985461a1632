//! Typed state keys.
//!
//! A [`StateKey`] names a piece of state and its type once; reading needs a context that can
//! read state, writing one that can write it. A shared handler's context cannot write, so
//! `KEY.set(&shared_ctx, ..)` is a compile error, not a runtime one.
//!
//! ```no_run
//! use restate_rs::prelude::*;
//! use restate_rs::toolkit::state::StateKey;
//!
//! const VISITS: StateKey<u64> = StateKey::new("visits");
//!
//! async fn visit(ctx: ObjectContext<'_>) -> HandlerResult<u64> {
//!     let visits = VISITS.get(&ctx).await?.unwrap_or(0) + 1;
//!     VISITS.set(&ctx, &visits);
//!     Ok(visits)
//! }
//! ```

use crate::codec::{Codec, Json, Payload};
use restate_sdk::context::{ContextReadState, ContextWriteState};
use restate_sdk::errors::TerminalError;
use restate_sdk::prelude::{
    ObjectContext, SharedObjectContext, SharedWorkflowContext, WorkflowContext,
};
use std::future::Future;
use std::marker::PhantomData;

/// Contexts that can read state: every handler of a virtual object or workflow.
///
/// (Implemented for the concrete context types, so that the futures are known to be `Send`.)
pub trait ReadsState<'ctx> {
    /// Reads the raw payload of `key`.
    fn read<T: restate_sdk::serde::Deserialize + Send + 'static>(
        &self,
        key: &'ctx str,
    ) -> impl Future<Output = Result<Option<T>, TerminalError>> + Send + 'ctx;
}

/// Contexts that can write state: exclusive object handlers and a workflow's run.
pub trait WritesState<'ctx> {
    /// Writes `value` under `key`.
    fn write<T: restate_sdk::serde::Serialize + 'static>(&self, key: &str, value: T);
    /// Removes `key`.
    fn remove(&self, key: &str);
}

macro_rules! reads_state {
    ($($ty:ident),*) => {$(
        impl<'ctx> ReadsState<'ctx> for $ty<'ctx> {
            fn read<T: restate_sdk::serde::Deserialize + Send + 'static>(
                &self,
                key: &'ctx str,
            ) -> impl Future<Output = Result<Option<T>, TerminalError>> + Send + 'ctx {
                ContextReadState::get::<T>(self, key)
            }
        }
    )*};
}

macro_rules! writes_state {
    ($($ty:ident),*) => {$(
        impl<'ctx> WritesState<'ctx> for $ty<'ctx> {
            fn write<T: restate_sdk::serde::Serialize + 'static>(&self, key: &str, value: T) {
                ContextWriteState::set(self, key, value)
            }
            fn remove(&self, key: &str) {
                ContextWriteState::clear(self, key)
            }
        }
    )*};
}

reads_state!(
    ObjectContext,
    SharedObjectContext,
    WorkflowContext,
    SharedWorkflowContext
);
writes_state!(ObjectContext, WorkflowContext);

/// A piece of state of type `T`, stored with codec `C` (proto3 JSON by default, which also
/// fits plain serde types).
pub struct StateKey<T, C = Json> {
    name: &'static str,
    types: PhantomData<fn() -> (T, C)>,
}

impl<T, C> StateKey<T, C> {
    /// Declares the key `name`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            types: PhantomData,
        }
    }

    /// The state key's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T, C> Clone for StateKey<T, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, C> Copy for StateKey<T, C> {}

impl<T, C> std::fmt::Debug for StateKey<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StateKey").field(&self.name).finish()
    }
}

impl<T, C> StateKey<T, C>
where
    T: Clone + Send + 'static,
    C: Codec<T>,
{
    /// Reads the value; `None` when it was never set or was cleared.
    pub fn get<'ctx, X: ReadsState<'ctx>>(
        &self,
        ctx: &X,
    ) -> impl Future<Output = Result<Option<T>, TerminalError>> + Send + 'ctx {
        let read = ctx.read::<Payload<T, C>>(self.name);
        async move { Ok(read.await?.map(Payload::into_inner)) }
    }

    /// Writes the value. Needs a context that may write state (exclusive handlers, a
    /// workflow's run).
    pub fn set<'ctx, X: WritesState<'ctx>>(&self, ctx: &X, value: &T) {
        ctx.write(self.name, Payload::<T, C>::new(value.clone()));
    }

    /// Removes the value.
    pub fn clear<'ctx, X: WritesState<'ctx>>(&self, ctx: &X) {
        ctx.remove(self.name);
    }
}
