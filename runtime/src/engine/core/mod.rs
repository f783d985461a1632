//! The engine's core: what a journal command does, as values.
//!
//! [`apply`] journals one command of an invocation and applies it to a transaction of the
//! store: it answers the frames to send back to the invocation's own handler (already
//! journaled) and the [`Effect`]s left to do once the transaction has committed (start an
//! invocation, wake the timer task, deliver a notification that waits in the outbox). It holds
//! no lock, starts no task, reads no clock (the time is an argument) and knows nothing of the
//! [`Engine`](super::Engine): the same calls run in the engine's store thread and in the unit
//! tests of `core/tests/`, one file per command family, on an in-memory database.
//!
//! [`finish`] is the same for an invocation's end: its outcome recorded, the invocation
//! completed, and its outcome queued for its callers, as values.
//!
//! May use: the store's typed functions, the protocol, [`ids`](super::ids), the status table,
//! retention's purge of what expires at once, and the engine's plain types (`HandlerKind`,
//! `Outcome`). Nothing that runs, waits or sends.

mod command;
mod frames;
#[cfg(test)]
mod tests;

pub(crate) use command::{AttachTarget, CallSpec, Command, Silent};
pub(crate) use frames::{
    call_completion_frame, output_frame, promise_frame, promise_target, raw_frame, signal_frame,
};

use super::ids;
use super::protocol::{self, Frame, pb};
use super::retention;
use super::status::InvocationStatus;
use super::store::invocations::{self, Invocation, NewInvocation};
use super::store::waiters::{self, Awaited};
use super::store::{idempotency, journal, outbox, promises, state, timers};
use super::{EngineError, HandlerKind, Outcome};
use bytes::Bytes;
use rusqlite::Transaction;

/// What applying a command produced.
#[derive(Default)]
pub(crate) struct Applied {
    /// Notifications for the invocation itself, journaled already: send them to its attempt.
    pub(crate) frames: Vec<Frame>,
    /// What is left to do once the transaction has committed.
    pub(crate) effects: Vec<Effect>,
}

/// Work that a command leaves for after the commit of its transaction.
#[derive(Debug)]
pub(crate) enum Effect {
    /// A timer, a delayed invocation or a retry was written: the timer task must look again.
    WakeTimers,
    /// A new invocation is pending: admit it (take its key, or queue behind the holder).
    Admit {
        id: String,
        service: String,
        key: String,
        kind: HandlerKind,
    },
    /// A notification for another invocation, in the outbox already.
    Deliver(Delivery),
    /// A new invocation was accepted: counted once the job that made it has run whole (a job
    /// that fails makes none), as the ingress counts its own.
    Started { service: String, handler: String },
}

/// Journals `frame` (decoded as `command`) as the next entry of `inv`'s journal and applies
/// it, at time `now` (ms since the epoch).
pub(crate) fn apply(
    tx: &Transaction<'_>,
    inv: &Invocation,
    frame: &Frame,
    command: Command,
    now: i64,
) -> rusqlite::Result<Applied> {
    journal::append(tx, &inv.id, frame.ty, &frame.payload)?;
    let mut applied = Applied::default();
    let mut notify_own = |tx: &Transaction<'_>, frame: Frame| -> rusqlite::Result<()> {
        journal::append(tx, &inv.id, frame.ty, &frame.payload)?;
        applied.frames.push(frame);
        Ok(())
    };
    let mut effects = Vec::new();
    match command {
        Command::Output(result) => {
            invocations::set_output(tx, &inv.id, &result)?;
        }
        Command::SetState(name, value) => {
            state::set(tx, &inv.service, &inv.key, &name, &value)?;
        }
        Command::ClearState(name) => {
            state::clear(tx, &inv.service, &inv.key, &name)?;
        }
        Command::ClearAllState => {
            state::clear_all(tx, &inv.service, &inv.key)?;
        }
        Command::GetLazyState(name, completion_id) => {
            use pb::get_lazy_state_completion_notification_message::Result as R;
            let value = state::get(tx, &inv.service, &inv.key, &name)?;
            notify_own(
                tx,
                Frame::new(
                    protocol::GET_LAZY_STATE_COMPLETION_NOTIFICATION,
                    &pb::GetLazyStateCompletionNotificationMessage {
                        completion_id,
                        result: Some(match value {
                            Some(v) => R::Value(pb::Value { content: v }),
                            None => R::Void(pb::Void {}),
                        }),
                    },
                ),
            )?;
        }
        Command::GetLazyStateKeys(completion_id) => {
            let keys = state::names(tx, &inv.service, &inv.key)?;
            notify_own(
                tx,
                Frame::new(
                    protocol::GET_LAZY_STATE_KEYS_COMPLETION_NOTIFICATION,
                    &pb::GetLazyStateKeysCompletionNotificationMessage {
                        completion_id,
                        state_keys: Some(pb::StateKeys { keys }),
                    },
                ),
            )?;
        }
        Command::Sleep(wake_up_time, completion_id) => {
            timers::add(tx, wake_up_time as i64, &inv.id, completion_id)?;
            effects.push(Effect::WakeTimers);
        }
        Command::Call(call) | Command::OneWayCall(call) => {
            let child = match &call.target_missing {
                // A target the deployment does not serve: the call fails with 404, and no
                // invocation is made.
                Some(message) => None.ok_or((404, message.clone())),
                None => Ok(insert_child(tx, &call, now)?),
            };
            notify_own(
                tx,
                Frame::new(
                    protocol::CALL_INVOCATION_ID_COMPLETION_NOTIFICATION,
                    &pb::CallInvocationIdCompletionNotificationMessage {
                        completion_id: call.invocation_id_notification_idx,
                        invocation_id: child.as_ref().map(|c| c.0.clone()).unwrap_or_default(),
                    },
                ),
            )?;
            match child {
                Err(failure) => {
                    if let Some(completion_id) = call.result_completion_id {
                        notify_own(tx, call_completion_frame(completion_id, &Err(failure)))?;
                    }
                }
                Ok((child_id, start)) => {
                    if let Some(completion_id) = call.result_completion_id
                        && !matches!(start, ChildStart::Existing(Some(_)))
                    {
                        waiters::add(tx, Awaited::Call, &child_id, &inv.id, completion_id)?;
                    }
                    match start {
                        ChildStart::Now(kind) => {
                            effects.push(Effect::Started {
                                service: call.service.clone(),
                                handler: call.handler,
                            });
                            effects.push(Effect::Admit {
                                id: child_id,
                                service: call.service,
                                key: call.key,
                                kind,
                            });
                        }
                        ChildStart::Later => {
                            effects.push(Effect::Started {
                                service: call.service,
                                handler: call.handler,
                            });
                            effects.push(Effect::WakeTimers);
                        }
                        ChildStart::Existing(Some(outcome)) => {
                            if let Some(completion_id) = call.result_completion_id {
                                let frame = call_completion_frame(completion_id, &outcome);
                                effects.push(Effect::Deliver(enqueue(tx, inv.id.clone(), frame)?));
                            }
                        }
                        ChildStart::Existing(None) => {}
                    }
                }
            }
        }
        Command::Run => {}
        Command::GetPromise(name, completion_id) => {
            match promises::get(tx, &inv.service, &inv.key, &name)? {
                Some(outcome) => notify_own(
                    tx,
                    promise_frame(
                        protocol::GET_PROMISE_COMPLETION_NOTIFICATION,
                        completion_id,
                        Some(&outcome),
                    ),
                )?,
                None => {
                    let target = promise_target(&inv.service, &inv.key, &name);
                    waiters::add(tx, Awaited::Promise, &target, &inv.id, completion_id)?;
                }
            }
        }
        Command::PeekPromise(name, completion_id) => {
            let outcome = promises::get(tx, &inv.service, &inv.key, &name)?;
            notify_own(
                tx,
                promise_frame(
                    protocol::PEEK_PROMISE_COMPLETION_NOTIFICATION,
                    completion_id,
                    outcome.as_ref(),
                ),
            )?;
        }
        Command::CompletePromise(name, outcome, completion_id) => {
            use pb::complete_promise_completion_notification_message::Result as R;
            let reply = match complete_promise(tx, &inv.service, &inv.key, &name, &outcome)? {
                Ok(deliveries) => {
                    effects.extend(deliveries.into_iter().map(Effect::Deliver));
                    R::Void(pb::Void {})
                }
                Err(failure) => R::Failure(frames::pb_failure(&failure)),
            };
            notify_own(
                tx,
                Frame::new(
                    protocol::COMPLETE_PROMISE_COMPLETION_NOTIFICATION,
                    &pb::CompletePromiseCompletionNotificationMessage {
                        completion_id,
                        result: Some(reply),
                    },
                ),
            )?;
        }
        Command::SendSignal { target, frame } => {
            effects.push(Effect::Deliver(enqueue(tx, target, frame)?));
        }
        Command::CompleteAwakeable { id, outcome } => {
            match awakeable_delivery(tx, &id, &outcome)? {
                Ok(delivery) => effects.push(Effect::Deliver(enqueue(
                    tx,
                    delivery.invocation_id,
                    delivery.frame,
                )?)),
                Err(e) => tracing::warn!(
                    "invocation {} completed an awakeable that cannot be delivered: {e}",
                    inv.id
                ),
            }
        }
        Command::Attach(target, (completion_id, attach))
        | Command::GetOutput(target, (completion_id, attach)) => {
            let target_id = resolve_target(tx, &target)?;
            let outcome = match &target_id {
                Some(id) => invocations::outcome(tx, id)?.flatten(),
                None => None,
            };
            match (target_id, outcome) {
                (None, _) => notify_own(
                    tx,
                    output_frame(
                        attach,
                        completion_id,
                        Some(&Err((404, "no such invocation".to_owned()))),
                    ),
                )?,
                (Some(_), Some(outcome)) => {
                    notify_own(tx, output_frame(attach, completion_id, Some(&outcome)))?
                }
                (Some(target_id), None) if attach => {
                    waiters::add(tx, Awaited::Attach, &target_id, &inv.id, completion_id)?;
                }
                (Some(_), None) => notify_own(tx, output_frame(false, completion_id, None))?,
            }
        }
        Command::Other => {}
    }
    applied.effects = effects;
    Ok(applied)
}

/// Journals and applies the commands held back since the attempt's last job, in order. They
/// answer nothing and affect no other invocation ([`Command::is_silent`]).
pub(crate) fn journal_silent(
    tx: &Transaction<'_>,
    inv: &Invocation,
    silent: Silent,
    now: i64,
) -> rusqlite::Result<()> {
    if let Some(output) = journal_silent_but_output(tx, inv, silent, now)? {
        invocations::set_output(tx, &inv.id, &output)?;
    }
    Ok(())
}

/// [`journal_silent`], except that the last output command is journaled but not applied: its
/// outcome is answered, for the caller to record with the completion (one write of the row
/// instead of two).
fn journal_silent_but_output(
    tx: &Transaction<'_>,
    inv: &Invocation,
    silent: Silent,
    now: i64,
) -> rusqlite::Result<Option<Outcome>> {
    let mut output = None;
    for (frame, command) in silent {
        if let Some(earlier) = output.take() {
            // An output that is not the last (the endpoint sends one): recorded in order.
            invocations::set_output(tx, &inv.id, &earlier)?;
        }
        match command {
            Command::Output(outcome) => {
                journal::append(tx, &inv.id, frame.ty, &frame.payload)?;
                output = Some(outcome);
            }
            command => {
                let applied = apply(tx, inv, &frame, command, now)?;
                debug_assert!(
                    applied.frames.is_empty() && applied.effects.is_empty(),
                    "a silent command answered"
                );
            }
        }
    }
    Ok(output)
}

/// How an invocation ended, and what its end leaves to deliver.
pub(crate) struct Finished {
    pub(crate) outcome: Outcome,
    /// When it was accepted (ms since the epoch).
    pub(crate) created_at: i64,
    /// Its outcome for the invocations that called or attached to it, in the outbox.
    pub(crate) deliveries: Vec<Delivery>,
}

/// When a completed invocation's journal and its record expire (ms since the epoch).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expiry {
    pub(crate) journal: i64,
    pub(crate) record: i64,
}

/// Ends `inv` at `now`: journals the commands held back, records its outcome (the handler's
/// output, or `failure`: the attempts so far and a terminal error, when it did not end by
/// itself), marks it completed with its expiry times, forgets what it waited for, and queues
/// its outcome for whoever called or attached to it. An invocation that had completed already
/// (killed meanwhile) keeps its first outcome.
pub(crate) fn finish(
    tx: &Transaction<'_>,
    inv: &Invocation,
    silent: Silent,
    failure: Option<&(u32, (u16, String))>,
    now: i64,
    expiry: Expiry,
) -> rusqlite::Result<Finished> {
    let id = inv.id.as_str();
    let mut output = journal_silent_but_output(tx, inv, silent, now)?;
    if let Some((_, failure)) = failure {
        output = Some(Err(failure.clone()));
    }
    let (outcome, created_at) =
        match invocations::complete(tx, id, now, expiry.journal, expiry.record, output.as_ref())? {
            Some(completed) => {
                if let Some((attempts, (code, message))) = failure {
                    invocations::set_failed(tx, id, *attempts, *code, message)?;
                }
                completed
            }
            // Completed already: nothing of it changes.
            None => (
                invocations::outcome(tx, id)?
                    .flatten()
                    .unwrap_or(Ok(Bytes::new())),
                now,
            ),
        };
    // What it still waited for will never matter.
    timers::remove_for(tx, id)?;
    waiters::remove_for(tx, id)?;
    let mut deliveries = Vec::new();
    for waiter in waiters::take(tx, Awaited::Call, id)? {
        let frame = call_completion_frame(waiter.completion_id, &outcome);
        deliveries.push(enqueue(tx, waiter.invocation_id, frame)?);
    }
    for waiter in waiters::take(tx, Awaited::Attach, id)? {
        let frame = output_frame(true, waiter.completion_id, Some(&outcome));
        deliveries.push(enqueue(tx, waiter.invocation_id, frame)?);
    }
    retention::purge_if_expired(tx, id, now, expiry.journal, expiry.record)?;
    Ok(Finished {
        outcome,
        created_at,
        deliveries,
    })
}

/// Completes the durable promise `name` of the workflow (`service`, `key`) with `outcome`,
/// and queues its value for whoever awaits it. A promise completes once: a second completion
/// is answered 409 and changes nothing.
pub(crate) fn complete_promise(
    tx: &Transaction<'_>,
    service: &str,
    key: &str,
    name: &str,
    outcome: &Outcome,
) -> rusqlite::Result<Result<Vec<Delivery>, (u16, String)>> {
    if promises::get(tx, service, key, name)?.is_some() {
        return Ok(Err((409, format!("promise `{name}` is already completed"))));
    }
    promises::insert(tx, service, key, name, outcome)?;
    let target = promise_target(service, key, name);
    let mut deliveries = Vec::new();
    for waiter in waiters::take(tx, Awaited::Promise, &target)? {
        let frame = promise_frame(
            protocol::GET_PROMISE_COMPLETION_NOTIFICATION,
            waiter.completion_id,
            Some(outcome),
        );
        deliveries.push(enqueue(tx, waiter.invocation_id, frame)?);
    }
    Ok(Ok(deliveries))
}

/// How a call's invocation starts.
enum ChildStart {
    /// A new invocation, pending now.
    Now(HandlerKind),
    /// A new invocation, scheduled for later (a delayed send).
    Later,
    /// An invocation made before, by the same idempotency key or workflow run, with its
    /// outcome if it has ended.
    Existing(Option<Outcome>),
}

/// Makes (or finds, by idempotency key or workflow run) the invocation a call starts.
fn insert_child(
    tx: &Transaction<'_>,
    call: &CallSpec,
    now: i64,
) -> rusqlite::Result<(String, ChildStart)> {
    let kind = call.kind.unwrap_or(HandlerKind::Stateless);
    let idem_key = call
        .idempotency_key
        .as_deref()
        .map(|idempotency_key| idempotency::Key {
            service: &call.service,
            key: &call.key,
            handler: &call.handler,
            idempotency_key,
        });
    let mut existing = match idem_key {
        Some(idem_key) => idempotency::find(tx, idem_key)?,
        None => None,
    };
    if existing.is_none() && kind == HandlerKind::WorkflowRun {
        existing = invocations::workflow_run(tx, &call.service, &call.key)?;
    }
    if let Some(existing) = existing {
        let outcome = invocations::outcome(tx, &existing)?.flatten();
        return Ok((existing, ChildStart::Existing(outcome)));
    }
    let raw = ids::new_invocation_raw();
    let id = ids::invocation_id(&raw);
    let later = call.invoke_time.is_some_and(|t| t as i64 > now);
    let run_at = call.invoke_time.map_or(now, |t| (t as i64).max(now));
    invocations::insert(
        tx,
        &NewInvocation {
            id: &id,
            raw_id: &raw,
            service: &call.service,
            handler: &call.handler,
            key: &call.key,
            kind,
            status: if later {
                InvocationStatus::Scheduled
            } else {
                InvocationStatus::Pending
            },
            run_at,
            idempotency_key: call.idempotency_key.as_deref(),
            random_seed: ids::random_seed(),
            created_at: now,
        },
    )?;
    let input = Frame::new(
        protocol::INPUT_COMMAND,
        &pb::InputCommandMessage {
            headers: call.headers.clone(),
            value: Some(pb::Value {
                content: call.parameter.clone(),
            }),
            name: String::new(),
        },
    );
    journal::append_first(tx, &id, input.ty, &input.payload)?;
    if let Some(idem_key) = idem_key {
        idempotency::insert(tx, idem_key, &id)?;
    }
    Ok((
        id,
        if later {
            ChildStart::Later
        } else {
            ChildStart::Now(kind)
        },
    ))
}

/// The notification that completes the awakeable `awakeable_id`, for the invocation that
/// created it, or why there is none.
pub(crate) fn awakeable_delivery(
    tx: &Transaction<'_>,
    awakeable_id: &str,
    outcome: &Outcome,
) -> rusqlite::Result<Result<Delivery, EngineError>> {
    let invalid = |reason: String| EngineError::InvalidAwakeable {
        id: awakeable_id.to_owned(),
        reason,
    };
    let (raw, index) = match protocol::parse_awakeable_id(awakeable_id) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(Err(invalid(e.to_string()))),
    };
    let Some(target) = invocations::id_by_raw(tx, &raw)? else {
        return Ok(Err(invalid(
            "no invocation of this engine issued it".to_owned(),
        )));
    };
    Ok(Ok(Delivery::direct(target, signal_frame(index, outcome))))
}

/// A notification to append to an invocation's journal and deliver.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// Its row in the outbox, when it was produced by a transaction of its own: delivering
    /// removes the row in the transaction that journals the notification, so that it is
    /// journaled exactly once, crash or not.
    pub(crate) outbox: Option<i64>,
    pub(crate) invocation_id: String,
    pub(crate) frame: Frame,
}

impl Delivery {
    /// A notification delivered in a transaction of its own (nothing to remove).
    pub(crate) fn direct(invocation_id: String, frame: Frame) -> Self {
        Delivery {
            outbox: None,
            invocation_id,
            frame,
        }
    }
}

/// Writes a notification for another invocation into the outbox, in the transaction that
/// produced it; the engine journals it at its target once that has committed, and recovery
/// delivers what a crash left in the outbox.
pub(crate) fn enqueue(
    tx: &Transaction<'_>,
    invocation_id: String,
    frame: Frame,
) -> rusqlite::Result<Delivery> {
    let row = outbox::push(tx, &invocation_id, frame.ty, &frame.payload)?;
    Ok(Delivery {
        outbox: Some(row),
        invocation_id,
        frame,
    })
}

/// The invocation an attach or get-output names, if it exists.
fn resolve_target(tx: &Transaction<'_>, target: &AttachTarget) -> rusqlite::Result<Option<String>> {
    match target {
        AttachTarget::Id(id) => Ok(invocations::exists(tx, id)?.then(|| id.clone())),
        AttachTarget::Idempotent {
            service,
            key,
            handler,
            idempotency_key,
        } => idempotency::find(
            tx,
            idempotency::Key {
                service,
                key,
                handler,
                idempotency_key,
            },
        ),
        AttachTarget::Workflow { service, key } => invocations::workflow_run(tx, service, key),
    }
}
