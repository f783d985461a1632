//! Timers: the background task that fires sleeps, and hands delayed invocations and retries
//! to the scheduler when they are due; and when the next one is due.
//!
//! It only sends events: fired sleeps go to the outbox and are delivered (which may wake a
//! suspended invocation, through the scheduler); a due delayed invocation is sent to the
//! scheduler to be admitted, a due retry to be started. It never starts an attempt itself.
//!
//! May use: the engine's shared types, the invoker's delivery, the scheduler's messages and
//! the store's typed functions.

use super::core::enqueue;
use super::protocol::{self, Frame, pb};
use super::scheduler::Message;
use super::status::{Event, InvocationStatus};
use super::store::{invocations, timers};
use super::{Engine, EngineError, now_ms};
use std::time::Duration;

impl Engine {
    /// Fires timers, starts delayed invocations and retries, as their time comes.
    pub(super) async fn timer_loop(&self) {
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            if self.is_shut_down() {
                return;
            }
            let now = now_ms(&*self.inner.clock);
            let due = self
                .inner
                .store
                .run(move |tx| {
                    // Fired timers become notifications in the outbox, in the transaction that
                    // removes them: a crash in between loses neither.
                    let fired = timers::take_due(tx, now)?;
                    let mut deliveries = Vec::with_capacity(fired.len());
                    for timers::Fired {
                        invocation_id,
                        completion_id,
                    } in fired
                    {
                        let frame = Frame::new(
                            protocol::SLEEP_COMPLETION_NOTIFICATION,
                            &pb::SleepCompletionNotificationMessage {
                                completion_id,
                                void: Some(pb::Void {}),
                            },
                        );
                        deliveries.push(enqueue(tx, invocation_id, frame)?);
                    }
                    let started = invocations::due(tx, now)?;
                    for invocations::Scheduled { id, .. } in &started {
                        invocations::transition(tx, id, Event::Due)?;
                    }
                    let next = timers::next_due(tx)?;
                    Ok((deliveries, started, next))
                })
                .await;
            let (deliveries, started, next) = match due {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!("engine timers: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if let Err(e) = self.deliver(deliveries).await {
                tracing::error!("engine timers: {e}");
            }
            for invocations::Scheduled {
                id,
                service,
                key,
                kind,
                status,
            } in started
            {
                // A retry is `running` again (it kept its key); a delayed invocation is
                // `pending`, and asks for its key now.
                self.schedule(if status == InvocationStatus::Backoff {
                    Message::Start { id, loaded: None }
                } else {
                    Message::Admit {
                        id,
                        service,
                        key,
                        kind,
                    }
                });
            }
            let wait = next.map(|t| (t - now_ms(&*self.inner.clock)).max(0) as u64);
            let notified = self.inner.timer_wake.notified();
            tokio::select! {
                () = self.inner.clock.sleep(wait.map(Duration::from_millis)) => {}
                () = notified => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// When the next timer, delayed invocation or retry is due, if any.
    pub async fn next_timer(&self) -> Result<Option<std::time::SystemTime>, EngineError> {
        let next: Option<i64> = self.inner.store.run(|tx| timers::next_due(tx)).await?;
        Ok(next.map(|ms| std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)))
    }
}
