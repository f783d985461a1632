//! Attempts: running an attempt the scheduler started (replaying its journal into the
//! endpoint, reading what the handler sends back, journaling commands), suspending, retrying
//! and finishing, and delivering notifications to other invocations' journals.
//!
//! It decides nothing about what runs: it reports to the scheduler by message. Admission is a
//! message (`admit`); an attempt's task tells the scheduler when it ends; `finish` tells it
//! that the invocation ended (its key goes to the next in line); a delivery that wakes a
//! suspended invocation, and a suspension that finds what it awaits arrived, ask it for a
//! start. None of these waits for the scheduler or calls back into it.
//!
//! May use: the engine's shared types (`Inner`, `Registry`), the scheduler's messages,
//! [`effects`](super::effects) for what each command does, [`crash`](super::crash) for the
//! test harness's crash points, the store's typed functions, the deployment and the protocol.

use super::core::{self, Command, Delivery, Effect, Silent, raw_frame};
use super::crash::CrashPoint;
use super::http::metrics;
use super::protocol::{self, Frame, FrameDecoder, pb};
use super::scheduler::Message;
use super::status::{Event, InvocationStatus};
use super::store::invocations::{self, Invocation};
use super::store::{journal, outbox, state};
use super::{Engine, EngineError, HandlerKind, Loaded, OnMaxAttempts, Target, now_ms};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

impl Engine {
    /// Asks the scheduler to admit a pending invocation: it starts when its key (if it needs
    /// one) is free, or queues behind the holder. Returns at once.
    pub(super) fn admit(&self, id: String, service: String, key: String, kind: HandlerKind) {
        self.schedule(Message::Admit {
            id,
            service,
            key,
            kind,
        });
    }

    fn journal_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(
            self.inner
                .registry
                .lock()
                .unwrap()
                .journal_locks
                .entry(id.to_owned())
                .or_default(),
        )
    }

    /// Appends notifications to their invocations' journals and delivers them: to the
    /// attempt in flight, or by resuming a suspended invocation. A delivery from the outbox
    /// leaves it in the same transaction, so it is journaled once.
    ///
    /// A delivery from the outbox is staged: the outbox row was written before it, so a crash
    /// before the next commit leaves the row, or loses it together with the work that wrote
    /// it. A direct one (a `ctx.run` result, a cancellation) is committed before its frame
    /// goes out: nothing else on file would bring it back.
    pub(super) async fn deliver(&self, deliveries: Vec<Delivery>) -> Result<(), EngineError> {
        for delivery in deliveries {
            let lock = self.journal_lock(&delivery.invocation_id);
            let guard = lock.lock().await;
            let id = delivery.invocation_id.clone();
            let outbox = delivery.outbox;
            let (ty, payload) = (delivery.frame.ty, delivery.frame.payload.clone());
            let status: Option<InvocationStatus> = self
                .inner
                .store
                .submit(
                    move |tx| {
                        if let Some(row) = outbox
                            && !outbox::take(tx, row)?
                        {
                            // Delivered already (by recovery, or before a crash).
                            return Ok(None);
                        }
                        let status = invocations::status(tx, &id)?;
                        match status {
                            None | Some(InvocationStatus::Completed) => {}
                            Some(InvocationStatus::Suspended) => {
                                journal::append(tx, &id, ty, &payload)?;
                                invocations::transition(tx, &id, Event::Woken)?;
                            }
                            Some(_) => {
                                journal::append(tx, &id, ty, &payload)?;
                            }
                        }
                        Ok(status)
                    },
                    outbox.is_none(),
                )
                .await?;
            match status {
                Some(InvocationStatus::Suspended) => self.schedule(Message::Start {
                    id: delivery.invocation_id.clone(),
                    loaded: None,
                }),
                Some(InvocationStatus::Completed) | None => {
                    // Nothing of it runs: forget its lock, unless someone else holds it (its
                    // `finish` removed it already, and this delivery made it anew).
                    drop(guard);
                    let mut registry = self.inner.registry.lock().unwrap();
                    if Arc::strong_count(&lock) <= 2 {
                        registry.journal_locks.remove(&delivery.invocation_id);
                    }
                }
                Some(_) => self.send_to_attempt(&delivery.invocation_id, [delivery.frame]),
            }
        }
        Ok(())
    }

    /// Starts an attempt of `id` (the scheduler decided it), with what it needs from the store
    /// when that is known already (a new invocation), or read first. The scheduler is told
    /// when the attempt's task ends.
    pub(super) fn spawn_attempt(&self, id: String, loaded: Option<Box<Loaded>>) {
        if self.is_shut_down() {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            // Told however the attempt ends, a panic included: the invocation can start again.
            let ended = AttemptEnded {
                engine: &engine,
                id: &id,
            };
            let result = engine.attempt(&id, loaded.map(|loaded| *loaded)).await;
            drop(ended);
            if let Err(e) = result {
                // Not even the failure could be recorded (the store failed): the invocation
                // is still `running` on file, so an attempt later is what recovery would do.
                tracing::error!("invocation {id}: {e}; trying again in 1 s");
                if !engine.is_shut_down() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    engine.schedule(Message::Start { id, loaded: None });
                }
            }
        });
    }

    /// One attempt: replay the journal into the endpoint and process what it sends.
    async fn attempt(&self, id: &str, preloaded: Option<Loaded>) -> Result<(), EngineError> {
        let lock = self.journal_lock(id);
        let (sender, receiver) = mpsc::unbounded_channel::<Bytes>();
        let invocation = {
            let _guard = lock.lock().await;
            let owned = id.to_owned();
            let engine = self.clone();
            let loaded = match preloaded {
                Some(loaded) => Ok(Some(loaded)),
                None => {
                    self.inner
                        .store
                        .stage(move |tx| {
                            let Some(invocation) = invocations::get(tx, &owned)? else {
                                return Ok(None);
                            };
                            let lazy = engine.config_of(&invocation).lazy_state;
                            let journal = journal::read(tx, &owned)?
                                .into_iter()
                                .map(|e| (e.ty, e.payload))
                                .collect();
                            let state = if invocation.key.is_empty() || lazy {
                                Vec::new()
                            } else {
                                state::all(tx, &invocation.service, &invocation.key)?
                                    .into_iter()
                                    .map(|e| pb::start_message::StateEntry {
                                        key: e.name,
                                        value: e.value,
                                    })
                                    .collect()
                            };
                            Ok(Some((invocation, journal, state, lazy)))
                        })
                        .await
                }
            };
            let Some((invocation, journal, state, lazy)) = loaded? else {
                tracing::warn!("invocation {id} is gone (purged); no attempt");
                self.schedule(Message::Finished { id: id.to_owned() });
                return Ok(());
            };
            if invocation.status.is_completed() {
                // Ended meanwhile (killed before it ran): it holds no key any more.
                self.schedule(Message::Finished { id: id.to_owned() });
                return Ok(());
            }
            let start = pb::StartMessage {
                id: invocation.raw_id.clone(),
                debug_id: invocation.id.clone(),
                known_entries: journal.len() as u32,
                state_map: state,
                // Lazy: the state map is empty on purpose; the endpoint asks for each entry.
                partial_state: lazy,
                key: invocation.key.clone(),
                retry_count_since_last_stored_entry: invocation.attempts,
                duration_since_last_stored_entry: 0,
                random_seed: invocation.random_seed,
            };
            let _ = sender.send(Frame::new(protocol::START, &start).to_bytes());
            for (ty, payload) in journal {
                let _ = sender.send(raw_frame(ty, Bytes::from(payload)).to_bytes());
            }
            self.inner
                .registry
                .lock()
                .unwrap()
                .running
                .insert(id.to_owned(), sender);
            invocation
        };
        match self.drive(&invocation, &lock, receiver).await {
            // An error of the engine's own (a frame that does not decode, a store that fails)
            // ends the attempt like any failure: retried, or failed, with the reason.
            Err(e) if !self.is_shut_down() => {
                self.inner.registry.lock().unwrap().running.remove(id);
                self.attempt_failed(&invocation, e.to_string(), None).await
            }
            other => other,
        }
    }

    /// Runs one attempt of `invocation` whose journal was queued into `receiver`: sends the
    /// request, processes what the endpoint answers, and records how the attempt ended.
    async fn drive(
        &self,
        invocation: &Invocation,
        lock: &tokio::sync::Mutex<()>,
        receiver: mpsc::UnboundedReceiver<Bytes>,
    ) -> Result<(), EngineError> {
        let id = invocation.id.as_str();
        // Fused: the endpoint may poll the request body again after it ended.
        let body = http_body_util::StreamBody::new(futures::StreamExt::fuse(
            futures::stream::unfold(receiver, |mut rx| async move {
                rx.recv().await.map(|b| {
                    (
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http_body::Frame::data(
                            b,
                        )),
                        rx,
                    )
                })
            }),
        ));
        let request = http::Request::builder()
            .method("POST")
            .uri(format!(
                "/invoke/{}/{}",
                invocation.service, invocation.handler
            ))
            .header("content-type", self.inner.content_type.as_str())
            .header("accept", self.inner.content_type.as_str())
            .body(BodyExt::boxed_unsync(body))
            .expect("a valid request");
        let response = match self.inner.deployment.send(request).await {
            Ok(response) => response,
            Err(e) => {
                self.inner.registry.lock().unwrap().running.remove(id);
                return self.attempt_failed(invocation, e.to_string(), None).await;
            }
        };
        let status = response.status();
        let mut body = response.into_body();
        if !status.is_success() {
            self.inner.registry.lock().unwrap().running.remove(id);
            let text = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            return self
                .attempt_failed(
                    invocation,
                    format!(
                        "the endpoint answered {status}: {}",
                        String::from_utf8_lossy(&text)
                    ),
                    None,
                )
                .await;
        }

        let config = self.config_of(invocation);
        let inactivity = config
            .inactivity_timeout
            .unwrap_or(self.inner.inactivity_timeout);
        let abort = config.abort_timeout.unwrap_or(self.inner.abort_timeout);
        // Once the request is closed for inactivity, the attempt must end by then.
        let mut abort_at: Option<tokio::time::Instant> = None;
        let mut decoder = FrameDecoder::new();
        let mut ended = false;
        // Commands that answer nothing, journaled with the next job of this attempt; those
        // of an attempt that fails are dropped, as a crash would drop them.
        let mut silent = Silent::new();
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            let wait = match abort_at {
                None => inactivity,
                Some(at) => at.saturating_duration_since(tokio::time::Instant::now()),
            };
            let next = tokio::select! {
                next = tokio::time::timeout(wait, body.frame()) => next,
                _ = shutdown.changed() => return Ok(()),
            };
            let chunk = match next {
                Err(_) if abort_at.is_none() => {
                    // Nothing happened for a while: close the request so the SDK suspends.
                    self.inner.registry.lock().unwrap().running.remove(id);
                    abort_at = Some(tokio::time::Instant::now() + abort);
                    continue;
                }
                Err(_) => {
                    // Asked to suspend and still going: abort this attempt (dropping the
                    // response ends the exchange) and retry.
                    drop(body);
                    return self
                        .attempt_failed(
                            invocation,
                            format!(
                                "aborted: no progress for the inactivity timeout ({inactivity:?}), then no suspension within the abort timeout ({abort:?})"
                            ),
                            None,
                        )
                        .await;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    self.inner.registry.lock().unwrap().running.remove(id);
                    return self
                        .attempt_failed(
                            invocation,
                            format!("the response stream failed: {e}"),
                            None,
                        )
                        .await;
                }
                Ok(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
            };
            decoder.push(&chunk);
            loop {
                let frame = match decoder.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(e) => {
                        self.inner.registry.lock().unwrap().running.remove(id);
                        return self
                            .attempt_failed(invocation, format!("protocol error: {e}"), None)
                            .await;
                    }
                };
                let step = if frame.ty == protocol::PROPOSE_RUN_COMPLETION {
                    self.step_name(invocation, &frame).await?
                } else {
                    None
                };
                if let Some(name) = &step
                    && self.take_crash(
                        invocation,
                        |p| matches!(p, CrashPoint::BeforeStepCompletes(n) if n == name),
                    )
                {
                    self.inner.registry.lock().unwrap().running.remove(id);
                    return self
                        .attempt_failed(
                            invocation,
                            "injected crash (before a step's result was journaled)".to_owned(),
                            None,
                        )
                        .await;
                }
                match self.on_frame(invocation, lock, frame, &mut silent).await? {
                    FrameOutcome::Continue
                        if self.crash_after(invocation, step.as_deref()).await? =>
                    {
                        self.inner.registry.lock().unwrap().running.remove(id);
                        return self
                            .attempt_failed(invocation, "injected crash".to_owned(), None)
                            .await;
                    }
                    FrameOutcome::Continue => {}
                    FrameOutcome::Ended => ended = true,
                    FrameOutcome::Suspended(awaited) => {
                        self.inner.registry.lock().unwrap().running.remove(id);
                        return self.suspend(invocation, awaited, silent).await;
                    }
                    FrameOutcome::Failed(message, delay) => {
                        self.inner.registry.lock().unwrap().running.remove(id);
                        return self.attempt_failed(invocation, message, delay).await;
                    }
                }
            }
            if ended {
                break;
            }
        }
        self.inner.registry.lock().unwrap().running.remove(id);
        if ended {
            self.finish(invocation, None, silent).await
        } else {
            self.attempt_failed(
                invocation,
                "the endpoint closed the stream without ending the invocation".to_owned(),
                None,
            )
            .await
        }
    }

    async fn on_frame(
        &self,
        invocation: &Invocation,
        lock: &tokio::sync::Mutex<()>,
        frame: Frame,
        silent: &mut Silent,
    ) -> Result<FrameOutcome, EngineError> {
        match frame.ty {
            protocol::END => return Ok(FrameOutcome::Ended),
            protocol::SUSPENSION => {
                let message: pb::SuspensionMessage = frame.decode_as().unwrap_or_default();
                return Ok(FrameOutcome::Suspended(message));
            }
            protocol::ERROR => {
                let message: pb::ErrorMessage = frame.decode_as().unwrap_or_default();
                let text = if message
                    .related_command_name
                    .as_deref()
                    .unwrap_or("")
                    .is_empty()
                {
                    format!("[{}] {}", message.code, message.message)
                } else {
                    format!(
                        "[{}] {} (at `{}`)",
                        message.code,
                        message.message,
                        message.related_command_name.unwrap_or_default()
                    )
                };
                return Ok(FrameOutcome::Failed(
                    text,
                    message.next_retry_delay.map(Duration::from_millis),
                ));
            }
            protocol::PROPOSE_RUN_COMPLETION => {
                let message: pb::ProposeRunCompletionMessage =
                    frame.decode_as().map_err(|e| undecodable(&frame, e))?;
                let result = match message.result {
                    Some(pb::propose_run_completion_message::Result::Value(v)) => {
                        pb::run_completion_notification_message::Result::Value(pb::Value {
                            content: v,
                        })
                    }
                    Some(pb::propose_run_completion_message::Result::Failure(f)) => {
                        pb::run_completion_notification_message::Result::Failure(f)
                    }
                    None => pb::run_completion_notification_message::Result::Value(pb::Value {
                        content: vec![],
                    }),
                };
                let notification = Frame::new(
                    protocol::RUN_COMPLETION_NOTIFICATION,
                    &pb::RunCompletionNotificationMessage {
                        completion_id: message.result_completion_id,
                        result: Some(result),
                    },
                );
                self.complete_run(invocation, lock, std::mem::take(silent), notification)
                    .await?;
                return Ok(FrameOutcome::Continue);
            }
            ty if protocol::is_command(ty) => {}
            _ => return Ok(FrameOutcome::Continue),
        }
        let command = Command::decode(&frame).map_err(|e| undecodable(&frame, e))?;
        // Under an injected crash every command is journaled at once: the crash points
        // count entries.
        if command.is_silent() && !self.crash_targets(invocation) {
            silent.push((frame, command));
            return Ok(FrameOutcome::Continue);
        }
        let effects = {
            let _guard = lock.lock().await;
            self.on_command(invocation, frame, command, std::mem::take(silent))
                .await?
        };
        for effect in effects {
            self.apply(effect).await?;
        }
        Ok(FrameOutcome::Continue)
    }

    /// Journals a command and applies what belongs to this invocation in the same
    /// transaction; returns what must happen to other invocations afterwards.
    async fn on_command(
        &self,
        invocation: &Invocation,
        frame: Frame,
        mut command: Command,
        silent: Silent,
    ) -> Result<Vec<Effect>, EngineError> {
        let inv = invocation.clone();
        let now = now_ms(&*self.inner.clock);
        if let Command::Call(call) | Command::OneWayCall(call) = &mut command {
            let target =
                Target::keyed(call.service.clone(), call.key.clone(), call.handler.clone());
            match self.handler_kind(&target) {
                Ok(kind) => call.kind = Some(kind),
                Err(e) => call.target_missing = Some(e.to_string()),
            }
        }
        // Staged: a command needs no acknowledgement, and what it answers at once goes only
        // to this invocation's handler; the next commit makes it durable.
        let applied = self
            .inner
            .store
            .stage(move |tx| {
                core::journal_silent(tx, &inv, silent, now)?;
                core::apply(tx, &inv, &frame, command, now)
            })
            .await?;
        // Notifications for this invocation itself: already journaled, send them now.
        self.send_to_attempt(&invocation.id, applied.frames);
        Ok(applied.effects)
    }

    /// Sends journaled frames to the attempt of `id` in flight, if there is one (otherwise
    /// the next attempt replays them from the journal).
    fn send_to_attempt(&self, id: &str, frames: impl IntoIterator<Item = Frame>) {
        let mut frames = frames.into_iter().peekable();
        if frames.peek().is_none() {
            return;
        }
        let sender = self.inner.registry.lock().unwrap().running.get(id).cloned();
        if let Some(sender) = sender {
            for frame in frames {
                let _ = sender.send(frame.to_bytes());
            }
        }
    }

    /// Journals a `ctx.run` result, with the commands held back before it, and hands it to
    /// the handler once committed: the handler may act on it outside, so it must not be
    /// lost.
    async fn complete_run(
        &self,
        invocation: &Invocation,
        lock: &tokio::sync::Mutex<()>,
        silent: Silent,
        notification: Frame,
    ) -> Result<(), EngineError> {
        let _guard = lock.lock().await;
        let inv = invocation.clone();
        let now = now_ms(&*self.inner.clock);
        let (ty, payload) = (notification.ty, notification.payload.clone());
        self.inner
            .store
            .run(move |tx| {
                core::journal_silent(tx, &inv, silent, now)?;
                journal::append(tx, &inv.id, ty, &payload).map(drop)
            })
            .await?;
        self.send_to_attempt(&invocation.id, [notification]);
        Ok(())
    }

    async fn suspend(
        &self,
        invocation: &Invocation,
        awaited: pb::SuspensionMessage,
        silent: Silent,
    ) -> Result<(), EngineError> {
        let id = invocation.id.clone();
        let inv = invocation.clone();
        let now = now_ms(&*self.inner.clock);
        let completions = awaited.waiting_completions.clone();
        let signals = awaited.waiting_signals.clone();
        // Anything awaited that already arrived means: resume at once.
        let resume_now = self
            .inner
            .store
            .stage(move |tx| {
                core::journal_silent(tx, &inv, silent, now)?;
                let arrived = journal::notifications(tx, &id)?;
                let ready = arrived.into_iter().any(|entry| {
                    let frame = raw_frame(entry.ty, Bytes::from(entry.payload));
                    match notification_id(&frame) {
                        Some(NotificationId::Completion(c)) => completions.contains(&c),
                        Some(NotificationId::Signal(s)) => signals.contains(&s),
                        _ => false,
                    }
                });
                invocations::transition(tx, &id, Event::Idle { ready })?;
                Ok(ready)
            })
            .await?;
        if resume_now {
            self.schedule(Message::Start {
                id: invocation.id.clone(),
                loaded: None,
            });
        }
        Ok(())
    }

    async fn attempt_failed(
        &self,
        invocation: &Invocation,
        message: String,
        delay: Option<Duration>,
    ) -> Result<(), EngineError> {
        if self.is_shut_down() {
            return Ok(());
        }
        let attempts = invocation.attempts + 1;
        let config = self.config_of(invocation);
        let policy = config.retry_policy(&self.inner.retry);
        let give_up = policy.max_attempts.is_some_and(|max| attempts >= max);
        let pause = give_up && policy.on_max_attempts == OnMaxAttempts::Pause;
        let delay = delay.unwrap_or_else(|| policy.delay(attempts));
        tracing::warn!(
            "invocation {} ({}/{}) attempt {attempts} failed: {message}",
            invocation.id,
            invocation.service,
            invocation.handler
        );
        if give_up && !pause {
            // Killed by the policy: the failure and the completion in one transaction.
            return self
                .finish(invocation, Some((attempts, (500, message))), Silent::new())
                .await;
        }
        let id = invocation.id.clone();
        let run_at = now_ms(&*self.inner.clock) + delay.as_millis() as i64;
        let next = (!pause).then_some(run_at);
        self.inner
            .store
            .run(move |tx| {
                invocations::record_failed_attempt(tx, &id, pause, attempts, next, &message)
            })
            .await?;
        if pause {
            tracing::warn!(
                "invocation {} paused after {attempts} attempts; resume it from the admin API",
                invocation.id
            );
        } else {
            self.inner.timer_wake.notify_one();
        }
        Ok(())
    }

    /// How long a completed invocation keeps its journal, and its record (what `attach`,
    /// `output` and the idempotency key see), as restate-server: a workflow's run for the
    /// workflow retention, a call with an idempotency key for the idempotency retention,
    /// others for the journal retention.
    fn retention_of(&self, invocation: &Invocation) -> (Duration, Duration) {
        let config = self.config_of(invocation);
        let defaults = &self.inner.retention;
        let journal = config.journal_retention.unwrap_or(defaults.journal);
        let record = if invocation.kind == HandlerKind::WorkflowRun {
            config.workflow_retention.unwrap_or(defaults.workflow)
        } else if invocation.idempotency_key.is_some() {
            config.idempotency_retention.unwrap_or(defaults.idempotency)
        } else {
            journal
        };
        (journal.min(record), record)
    }

    /// Marks the invocation completed (with `failure`, the attempts so far and a terminal
    /// error, when it did not end by itself), tells whoever waits, and frees its key. What
    /// waits in other invocations is told through the outbox, in the same transaction.
    pub(super) async fn finish(
        &self,
        invocation: &Invocation,
        failure: Option<(u32, (u16, String))>,
        silent: Silent,
    ) -> Result<(), EngineError> {
        let inv = invocation.clone();
        let now = now_ms(&*self.inner.clock);
        let (journal, record) = self.retention_of(invocation);
        let expires =
            |d: Duration| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let expiry = core::Expiry {
            journal: expires(journal),
            record: expires(record),
        };
        let core::Finished {
            outcome,
            created_at: created,
            deliveries,
        } = self
            .inner
            .store
            .run(move |tx| core::finish(tx, &inv, silent, failure.as_ref(), now, expiry))
            .await?;
        let elapsed = Duration::from_millis(now.saturating_sub(created).max(0) as u64);
        metrics::invocation_finished(
            &invocation.service,
            &invocation.handler,
            outcome.is_err(),
            elapsed,
        );
        let watchers = self
            .inner
            .registry
            .lock()
            .unwrap()
            .watchers
            .remove(&invocation.id)
            .unwrap_or_default();
        for watcher in watchers {
            let _ = watcher.send(outcome.clone());
        }
        self.deliver(deliveries).await?;
        self.inner
            .registry
            .lock()
            .unwrap()
            .journal_locks
            .remove(&invocation.id);
        if invocation.kind.holds_key() {
            // Its key (or its place in the key's queue) goes: the scheduler decides to whom.
            self.schedule(Message::Finished {
                id: invocation.id.clone(),
            });
        }
        Ok(())
    }
}

/// Tells the scheduler that the attempt of `id` has ended, when dropped.
struct AttemptEnded<'a> {
    engine: &'a Engine,
    id: &'a str,
}

impl Drop for AttemptEnded<'_> {
    fn drop(&mut self) {
        self.engine.schedule(Message::AttemptEnded {
            id: self.id.to_owned(),
        });
    }
}

enum FrameOutcome {
    Continue,
    Ended,
    Suspended(pb::SuspensionMessage),
    Failed(String, Option<Duration>),
}

enum NotificationId {
    Completion(u32),
    Signal(u32),
}

/// Which completion or signal a journaled notification answers.
fn notification_id(frame: &Frame) -> Option<NotificationId> {
    if frame.ty == protocol::SIGNAL_NOTIFICATION {
        let message: pb::SignalNotificationMessage = frame.decode_as().ok()?;
        return match message.signal_id? {
            pb::signal_notification_message::SignalId::Idx(i) => Some(NotificationId::Signal(i)),
            pb::signal_notification_message::SignalId::Name(_) => None,
        };
    }
    // Every completion notification keeps its completion id in field 1; read just that.
    let message: pb::SleepCompletionNotificationMessage = frame.decode_as().ok()?;
    Some(NotificationId::Completion(message.completion_id))
}

/// The error for a message from the endpoint that does not decode.
fn undecodable(frame: &Frame, error: impl std::fmt::Display) -> EngineError {
    EngineError::Protocol(format!(
        "the endpoint sent a {} that does not decode: {error}",
        protocol::type_name(frame.ty)
    ))
}
