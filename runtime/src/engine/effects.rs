//! What the engine does with the [`Effect`]s the [core](super::core) leaves once their
//! transaction has committed: admit a new invocation, wake the timer task, deliver a
//! notification from the outbox, count an accepted invocation.
//!
//! May use: the engine's shared types and the invoker.

use super::core::Effect;
use super::http::metrics;
use super::{Engine, EngineError};

impl Engine {
    pub(super) async fn apply(&self, effect: Effect) -> Result<(), EngineError> {
        match effect {
            Effect::WakeTimers => {
                self.inner.timer_wake.notify_one();
                Ok(())
            }
            Effect::Admit {
                id,
                service,
                key,
                kind,
            } => {
                self.admit(id, service, key, kind);
                Ok(())
            }
            Effect::Deliver(delivery) => self.deliver(vec![delivery]).await,
            Effect::Started { service, handler } => {
                metrics::invocation_started(&service, &handler);
                Ok(())
            }
        }
    }
}
