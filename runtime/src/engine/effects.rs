//! What each journal command does: commands decoded from the endpoint's frames (`Command`),
//! their effects in the store (`command_effects`, `insert_child`), what is left to do once the
//! transaction has committed (`Effect`, `apply`), notifications for other invocations
//! (`Delivery`, the outbox) and the frames that answer a command (`promise_frame`,
//! `call_completion_frame`, `output_frame`, ...).
//!
//! May use: the engine's shared types, the store's typed functions and the protocol; it starts
//! no attempt itself (`apply` hands that to the invoker).

use super::http::metrics;
use super::ids;
use super::protocol::{self, Frame, pb};
use super::status::InvocationStatus;
use super::store::invocations::{self, Invocation, NewInvocation};
use super::store::waiters::{self, Awaited};
use super::store::{idempotency, journal, outbox, promises, state, timers};
use super::{Engine, EngineError, HandlerKind, Outcome};
use bytes::Bytes;
use rusqlite::Transaction;

impl Engine {
    pub(super) fn command_effects(
        &self,
        tx: &Transaction<'_>,
        inv: &Invocation,
        command: Command,
        now: i64,
    ) -> rusqlite::Result<(Vec<Frame>, Vec<Effect>)> {
        let mut own = Vec::new();
        let mut effects = Vec::new();
        let mut notify_own = |tx: &Transaction<'_>, frame: Frame| -> rusqlite::Result<()> {
            journal::append(tx, &inv.id, frame.ty, &frame.payload)?;
            own.push(frame);
            Ok(())
        };
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
                let value = state::get(tx, &inv.service, &inv.key, &name)?;
                notify_own(
                    tx,
                    Frame::new(
                        protocol::GET_LAZY_STATE_COMPLETION_NOTIFICATION,
                        &pb::GetLazyStateCompletionNotificationMessage {
                            completion_id,
                            result: Some(match value {
                                Some(v) => pb::get_lazy_state_completion_notification_message::Result::Value(pb::Value { content: v }),
                                None => pb::get_lazy_state_completion_notification_message::Result::Void(pb::Void {}),
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
            Command::Call(call) | Command::OneWayCall(call) if call.target_missing.is_some() => {
                let message = call.target_missing.clone().unwrap_or_default();
                if let Some(completion_id) = call.result_completion_id {
                    notify_own(
                        tx,
                        Frame::new(
                            protocol::CALL_INVOCATION_ID_COMPLETION_NOTIFICATION,
                            &pb::CallInvocationIdCompletionNotificationMessage {
                                completion_id: call.invocation_id_notification_idx,
                                invocation_id: String::new(),
                            },
                        ),
                    )?;
                    notify_own(
                        tx,
                        Frame::new(
                            protocol::CALL_COMPLETION_NOTIFICATION,
                            &pb::CallCompletionNotificationMessage {
                                completion_id,
                                result: Some(
                                    pb::call_completion_notification_message::Result::Failure(
                                        pb::Failure {
                                            code: 404,
                                            message,
                                            metadata: vec![],
                                        },
                                    ),
                                ),
                            },
                        ),
                    )?;
                } else {
                    notify_own(
                        tx,
                        Frame::new(
                            protocol::CALL_INVOCATION_ID_COMPLETION_NOTIFICATION,
                            &pb::CallInvocationIdCompletionNotificationMessage {
                                completion_id: call.invocation_id_notification_idx,
                                invocation_id: String::new(),
                            },
                        ),
                    )?;
                }
            }
            Command::Call(call) | Command::OneWayCall(call) => {
                let child = self.insert_child(tx, &call, now)?;
                if let Some(completion_id) = call.result_completion_id {
                    waiters::add(tx, Awaited::Call, &child.0, &inv.id, completion_id)?;
                }
                notify_own(
                    tx,
                    Frame::new(
                        protocol::CALL_INVOCATION_ID_COMPLETION_NOTIFICATION,
                        &pb::CallInvocationIdCompletionNotificationMessage {
                            completion_id: call.invocation_id_notification_idx,
                            invocation_id: child.0.clone(),
                        },
                    ),
                )?;
                match child.1 {
                    ChildStart::Now(kind) => effects.push(Effect::Admit {
                        id: child.0,
                        service: call.service,
                        key: call.key,
                        kind,
                    }),
                    ChildStart::Later => effects.push(Effect::WakeTimers),
                    ChildStart::Existing(Some(outcome)) => {
                        if let Some(completion_id) = call.result_completion_id {
                            let frame = call_completion_frame(completion_id, &outcome);
                            effects.push(Effect::Deliver(enqueue(tx, inv.id.clone(), frame)?));
                        }
                    }
                    ChildStart::Existing(None) => {}
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
                let existing = promises::get(tx, &inv.service, &inv.key, &name)?;
                let reply = if existing.is_some() {
                    pb::complete_promise_completion_notification_message::Result::Failure(
                        pb::Failure {
                            code: 409,
                            message: format!("promise `{name}` is already completed"),
                            metadata: vec![],
                        },
                    )
                } else {
                    promises::insert(tx, &inv.service, &inv.key, &name, &outcome)?;
                    let target = promise_target(&inv.service, &inv.key, &name);
                    for waiter in waiters::take(tx, Awaited::Promise, &target)? {
                        let frame = promise_frame(
                            protocol::GET_PROMISE_COMPLETION_NOTIFICATION,
                            waiter.completion_id,
                            Some(&outcome),
                        );
                        effects.push(Effect::Deliver(enqueue(tx, waiter.invocation_id, frame)?));
                    }
                    pb::complete_promise_completion_notification_message::Result::Void(pb::Void {})
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
            Command::Attach(target, completion_id) | Command::GetOutput(target, completion_id) => {
                let (completion_id, attach) = completion_id;
                let target_id = resolve_target(tx, &target)?;
                let outcome = match &target_id {
                    Some(id) => invocations::outcome(tx, id)?.flatten(),
                    None => None,
                };
                match (attach, target_id, outcome) {
                    (_, None, _) => {
                        let frame = output_frame(
                            attach,
                            completion_id,
                            Some(&Err((404, "no such invocation".to_owned()))),
                        );
                        notify_own(tx, frame)?;
                    }
                    (_, Some(_), Some(outcome)) => {
                        notify_own(tx, output_frame(attach, completion_id, Some(&outcome)))?
                    }
                    (true, Some(target_id), None) => {
                        waiters::add(tx, Awaited::Attach, &target_id, &inv.id, completion_id)?;
                    }
                    (false, Some(_), None) => {
                        notify_own(tx, output_frame(false, completion_id, None))?
                    }
                }
            }
            Command::Other => {}
        }
        Ok((own, effects))
    }

    fn insert_child(
        &self,
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
        if let Some(idem_key) = idem_key
            && let Some(existing) = idempotency::find(tx, idem_key)?
        {
            let outcome = invocations::outcome(tx, &existing)?.flatten();
            return Ok((existing, ChildStart::Existing(outcome)));
        }
        if kind == HandlerKind::WorkflowRun
            && let Some(existing) = invocations::workflow_run(tx, &call.service, &call.key)?
        {
            let outcome = invocations::outcome(tx, &existing)?.flatten();
            return Ok((existing, ChildStart::Existing(outcome)));
        }
        let raw = ids::new_invocation_raw();
        let id = ids::invocation_id(&raw);
        let seed: u64 = u64::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8]
                .try_into()
                .unwrap_or_default(),
        );
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
                random_seed: seed,
                created_at: now,
            },
        )?;
        metrics::invocation_started(&call.service, &call.handler);
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
            } => self.admit(&id, &service, &key, kind).await,
            Effect::Deliver(delivery) => self.deliver(vec![delivery]).await,
        }
    }
}

/// The notification that completes the awakeable `awakeable_id`, for the invocation that
/// created it.
pub(super) fn awakeable_delivery(
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
    let target = invocations::id_by_raw(tx, &raw)?;
    let Some(target) = target else {
        return Ok(Err(invalid(
            "no invocation of this engine issued it".to_owned(),
        )));
    };
    let (value, failure) = value_result(outcome);
    Ok(Ok(Delivery::direct(
        target,
        Frame::new(
            protocol::SIGNAL_NOTIFICATION,
            &pb::SignalNotificationMessage {
                signal_id: Some(pb::signal_notification_message::SignalId::Idx(index)),
                result: Some(match (value, failure) {
                    (Some(v), _) => pb::signal_notification_message::Result::Value(v),
                    (_, Some(f)) => pb::signal_notification_message::Result::Failure(f),
                    _ => pb::signal_notification_message::Result::Void(pb::Void {}),
                }),
            },
        ),
    )))
}

/// A notification to append to an invocation's journal and deliver.
pub(super) struct Delivery {
    /// Its row in the outbox, when it was produced by a transaction of its own: delivering
    /// removes the row in the transaction that journals the notification, so that it is
    /// journaled exactly once, crash or not.
    pub(super) outbox: Option<i64>,
    pub(super) invocation_id: String,
    pub(super) frame: Frame,
}

impl Delivery {
    /// A notification delivered in a transaction of its own (nothing to remove).
    pub(super) fn direct(invocation_id: String, frame: Frame) -> Self {
        Delivery {
            outbox: None,
            invocation_id,
            frame,
        }
    }
}

/// Writes a notification for another invocation into the outbox, in the transaction that
/// produced it; [`Engine::deliver`] journals it at its target once that has committed, and
/// recovery delivers what a crash left in the outbox.
pub(super) fn enqueue(
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

fn value_result(outcome: &Outcome) -> (Option<pb::Value>, Option<pb::Failure>) {
    match outcome {
        Ok(bytes) => (
            Some(pb::Value {
                content: bytes.to_vec(),
            }),
            None,
        ),
        Err((code, message)) => (
            None,
            Some(pb::Failure {
                code: *code as u32,
                message: message.clone(),
                metadata: vec![],
            }),
        ),
    }
}

pub(super) enum Effect {
    WakeTimers,
    Admit {
        id: String,
        service: String,
        key: String,
        kind: HandlerKind,
    },
    /// A notification for another invocation, in the outbox already.
    Deliver(Delivery),
}

enum ChildStart {
    Now(HandlerKind),
    Later,
    Existing(Option<Outcome>),
}

pub(super) struct CallSpec {
    pub(super) service: String,
    pub(super) handler: String,
    pub(super) key: String,
    pub(super) parameter: Vec<u8>,
    pub(super) headers: Vec<pb::Header>,
    pub(super) idempotency_key: Option<String>,
    pub(super) invocation_id_notification_idx: u32,
    pub(super) result_completion_id: Option<u32>,
    pub(super) invoke_time: Option<u64>,
    pub(super) kind: Option<HandlerKind>,
    pub(super) target_missing: Option<String>,
}

pub(super) enum AttachTarget {
    Id(String),
    Idempotent {
        service: String,
        key: String,
        handler: String,
        idempotency_key: String,
    },
    Workflow {
        service: String,
        key: String,
    },
}

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

/// Commands held back to be journaled with the attempt's next job, as received.
pub(super) type Silent = Vec<(Frame, Command)>;

/// A command as the engine acts on it.
pub(super) enum Command {
    Output(Outcome),
    SetState(Vec<u8>, Vec<u8>),
    ClearState(Vec<u8>),
    ClearAllState,
    GetLazyState(Vec<u8>, u32),
    GetLazyStateKeys(u32),
    Sleep(u64, u32),
    Call(CallSpec),
    OneWayCall(CallSpec),
    Run,
    GetPromise(String, u32),
    PeekPromise(String, u32),
    CompletePromise(String, Outcome, u32),
    SendSignal {
        target: String,
        frame: Frame,
    },
    CompleteAwakeable {
        id: String,
        outcome: Outcome,
    },
    /// (target, (completion id, attach = true / get output = false))
    Attach(AttachTarget, (u32, bool)),
    GetOutput(AttachTarget, (u32, bool)),
    Other,
}

fn failure_outcome(f: pb::Failure) -> Outcome {
    Err((f.code as u16, f.message))
}

impl Command {
    /// Answers nothing and touches no other invocation: may wait for the attempt's next job.
    pub(super) fn is_silent(&self) -> bool {
        matches!(
            self,
            Command::Output(_)
                | Command::SetState(..)
                | Command::ClearState(_)
                | Command::ClearAllState
                | Command::Run
        )
    }

    pub(super) fn decode(frame: &Frame) -> Result<Command, protocol::ProtocolError> {
        Ok(match frame.ty {
            protocol::OUTPUT_COMMAND => {
                let m: pb::OutputCommandMessage = frame.decode_as()?;
                Command::Output(match m.result {
                    Some(pb::output_command_message::Result::Value(v)) => {
                        Ok(Bytes::from(v.content))
                    }
                    Some(pb::output_command_message::Result::Failure(f)) => failure_outcome(f),
                    None => Ok(Bytes::new()),
                })
            }
            protocol::SET_STATE_COMMAND => {
                let m: pb::SetStateCommandMessage = frame.decode_as()?;
                Command::SetState(m.key, m.value.map(|v| v.content).unwrap_or_default())
            }
            protocol::CLEAR_STATE_COMMAND => {
                Command::ClearState(frame.decode_as::<pb::ClearStateCommandMessage>()?.key)
            }
            protocol::CLEAR_ALL_STATE_COMMAND => Command::ClearAllState,
            protocol::GET_LAZY_STATE_COMMAND => {
                let m: pb::GetLazyStateCommandMessage = frame.decode_as()?;
                Command::GetLazyState(m.key, m.result_completion_id)
            }
            protocol::GET_LAZY_STATE_KEYS_COMMAND => Command::GetLazyStateKeys(
                frame
                    .decode_as::<pb::GetLazyStateKeysCommandMessage>()?
                    .result_completion_id,
            ),
            protocol::SLEEP_COMMAND => {
                let m: pb::SleepCommandMessage = frame.decode_as()?;
                Command::Sleep(m.wake_up_time, m.result_completion_id)
            }
            protocol::CALL_COMMAND => {
                let m: pb::CallCommandMessage = frame.decode_as()?;
                Command::Call(CallSpec {
                    service: m.service_name,
                    handler: m.handler_name,
                    key: m.key,
                    parameter: m.parameter,
                    headers: m.headers,
                    idempotency_key: m.idempotency_key,
                    invocation_id_notification_idx: m.invocation_id_notification_idx,
                    result_completion_id: Some(m.result_completion_id),
                    invoke_time: None,
                    kind: None,
                    target_missing: None,
                })
            }
            protocol::ONE_WAY_CALL_COMMAND => {
                let m: pb::OneWayCallCommandMessage = frame.decode_as()?;
                Command::OneWayCall(CallSpec {
                    service: m.service_name,
                    handler: m.handler_name,
                    key: m.key,
                    parameter: m.parameter,
                    headers: m.headers,
                    idempotency_key: m.idempotency_key,
                    invocation_id_notification_idx: m.invocation_id_notification_idx,
                    result_completion_id: None,
                    invoke_time: (m.invoke_time > 0).then_some(m.invoke_time),
                    kind: None,
                    target_missing: None,
                })
            }
            protocol::RUN_COMMAND => Command::Run,
            protocol::GET_PROMISE_COMMAND => {
                let m: pb::GetPromiseCommandMessage = frame.decode_as()?;
                Command::GetPromise(m.key, m.result_completion_id)
            }
            protocol::PEEK_PROMISE_COMMAND => {
                let m: pb::PeekPromiseCommandMessage = frame.decode_as()?;
                Command::PeekPromise(m.key, m.result_completion_id)
            }
            protocol::COMPLETE_PROMISE_COMMAND => {
                let m: pb::CompletePromiseCommandMessage = frame.decode_as()?;
                let outcome = match m.completion {
                    Some(pb::complete_promise_command_message::Completion::CompletionValue(v)) => {
                        Ok(Bytes::from(v.content))
                    }
                    Some(pb::complete_promise_command_message::Completion::CompletionFailure(
                        f,
                    )) => failure_outcome(f),
                    None => Ok(Bytes::new()),
                };
                Command::CompletePromise(m.key, outcome, m.result_completion_id)
            }
            protocol::SEND_SIGNAL_COMMAND => {
                let m: pb::SendSignalCommandMessage = frame.decode_as()?;
                let signal_id = m.signal_id.map(|s| match s {
                    pb::send_signal_command_message::SignalId::Idx(i) => {
                        pb::signal_notification_message::SignalId::Idx(i)
                    }
                    pb::send_signal_command_message::SignalId::Name(n) => {
                        pb::signal_notification_message::SignalId::Name(n)
                    }
                });
                let result = m.result.map(|r| match r {
                    pb::send_signal_command_message::Result::Void(v) => {
                        pb::signal_notification_message::Result::Void(v)
                    }
                    pb::send_signal_command_message::Result::Value(v) => {
                        pb::signal_notification_message::Result::Value(v)
                    }
                    pb::send_signal_command_message::Result::Failure(f) => {
                        pb::signal_notification_message::Result::Failure(f)
                    }
                });
                Command::SendSignal {
                    target: m.target_invocation_id,
                    frame: Frame::new(
                        protocol::SIGNAL_NOTIFICATION,
                        &pb::SignalNotificationMessage { signal_id, result },
                    ),
                }
            }
            protocol::COMPLETE_AWAKEABLE_COMMAND => {
                let m: pb::CompleteAwakeableCommandMessage = frame.decode_as()?;
                Command::CompleteAwakeable {
                    id: m.awakeable_id,
                    outcome: match m.result {
                        Some(pb::complete_awakeable_command_message::Result::Value(v)) => {
                            Ok(Bytes::from(v.content))
                        }
                        Some(pb::complete_awakeable_command_message::Result::Failure(f)) => {
                            failure_outcome(f)
                        }
                        None => Ok(Bytes::new()),
                    },
                }
            }
            protocol::ATTACH_INVOCATION_COMMAND => {
                let m: pb::AttachInvocationCommandMessage = frame.decode_as()?;
                Command::Attach(
                    attach_target(m.target.map(AttachKind::Attach)),
                    (m.result_completion_id, true),
                )
            }
            protocol::GET_INVOCATION_OUTPUT_COMMAND => {
                let m: pb::GetInvocationOutputCommandMessage = frame.decode_as()?;
                Command::GetOutput(
                    attach_target(m.target.map(AttachKind::Output)),
                    (m.result_completion_id, false),
                )
            }
            _ => Command::Other,
        })
    }
}

enum AttachKind {
    Attach(pb::attach_invocation_command_message::Target),
    Output(pb::get_invocation_output_command_message::Target),
}

fn attach_target(target: Option<AttachKind>) -> AttachTarget {
    use pb::attach_invocation_command_message::Target as A;
    use pb::get_invocation_output_command_message::Target as O;
    let idempotent = |t: pb::IdempotentRequestTarget| AttachTarget::Idempotent {
        service: t.service_name,
        key: t.service_key.unwrap_or_default(),
        handler: t.handler_name,
        idempotency_key: t.idempotency_key,
    };
    let workflow = |t: pb::WorkflowTarget| AttachTarget::Workflow {
        service: t.workflow_name,
        key: t.workflow_key,
    };
    match target {
        Some(AttachKind::Attach(A::InvocationId(id)))
        | Some(AttachKind::Output(O::InvocationId(id))) => AttachTarget::Id(id),
        Some(AttachKind::Attach(A::IdempotentRequestTarget(t)))
        | Some(AttachKind::Output(O::IdempotentRequestTarget(t))) => idempotent(t),
        Some(AttachKind::Attach(A::WorkflowTarget(t)))
        | Some(AttachKind::Output(O::WorkflowTarget(t))) => workflow(t),
        None => AttachTarget::Id(String::new()),
    }
}

pub(super) fn promise_target(service: &str, key: &str, name: &str) -> String {
    format!("{service}\u{0}{key}\u{0}{name}")
}

pub(super) fn promise_frame(ty: u16, completion_id: u32, outcome: Option<&Outcome>) -> Frame {
    match ty {
        protocol::GET_PROMISE_COMPLETION_NOTIFICATION => {
            use pb::get_promise_completion_notification_message::Result as R;
            let result = match outcome {
                Some(Ok(v)) => R::Value(pb::Value {
                    content: v.to_vec(),
                }),
                Some(Err((c, m))) => R::Failure(pb::Failure {
                    code: *c as u32,
                    message: m.clone(),
                    metadata: vec![],
                }),
                None => R::Value(pb::Value { content: vec![] }),
            };
            Frame::new(
                ty,
                &pb::GetPromiseCompletionNotificationMessage {
                    completion_id,
                    result: Some(result),
                },
            )
        }
        _ => {
            use pb::peek_promise_completion_notification_message::Result as R;
            let result = match outcome {
                Some(Ok(v)) => R::Value(pb::Value {
                    content: v.to_vec(),
                }),
                Some(Err((c, m))) => R::Failure(pb::Failure {
                    code: *c as u32,
                    message: m.clone(),
                    metadata: vec![],
                }),
                None => R::Void(pb::Void {}),
            };
            Frame::new(
                protocol::PEEK_PROMISE_COMPLETION_NOTIFICATION,
                &pb::PeekPromiseCompletionNotificationMessage {
                    completion_id,
                    result: Some(result),
                },
            )
        }
    }
}

pub(super) fn call_completion_frame(completion_id: u32, outcome: &Outcome) -> Frame {
    use pb::call_completion_notification_message::Result as R;
    let result = match outcome {
        Ok(v) => R::Value(pb::Value {
            content: v.to_vec(),
        }),
        Err((c, m)) => R::Failure(pb::Failure {
            code: *c as u32,
            message: m.clone(),
            metadata: vec![],
        }),
    };
    Frame::new(
        protocol::CALL_COMPLETION_NOTIFICATION,
        &pb::CallCompletionNotificationMessage {
            completion_id,
            result: Some(result),
        },
    )
}

pub(super) fn output_frame(attach: bool, completion_id: u32, outcome: Option<&Outcome>) -> Frame {
    if attach {
        use pb::attach_invocation_completion_notification_message::Result as R;
        let result = match outcome {
            Some(Ok(v)) => R::Value(pb::Value {
                content: v.to_vec(),
            }),
            Some(Err((c, m))) => R::Failure(pb::Failure {
                code: *c as u32,
                message: m.clone(),
                metadata: vec![],
            }),
            None => R::Value(pb::Value { content: vec![] }),
        };
        Frame::new(
            protocol::ATTACH_INVOCATION_COMPLETION_NOTIFICATION,
            &pb::AttachInvocationCompletionNotificationMessage {
                completion_id,
                result: Some(result),
            },
        )
    } else {
        use pb::get_invocation_output_completion_notification_message::Result as R;
        let result = match outcome {
            Some(Ok(v)) => R::Value(pb::Value {
                content: v.to_vec(),
            }),
            Some(Err((c, m))) => R::Failure(pb::Failure {
                code: *c as u32,
                message: m.clone(),
                metadata: vec![],
            }),
            None => R::Void(pb::Void {}),
        };
        Frame::new(
            protocol::GET_INVOCATION_OUTPUT_COMPLETION_NOTIFICATION,
            &pb::GetInvocationOutputCompletionNotificationMessage {
                completion_id,
                result: Some(result),
            },
        )
    }
}

pub(super) fn raw_frame(ty: u16, payload: Bytes) -> Frame {
    Frame {
        ty,
        flags: 0,
        payload,
    }
}
