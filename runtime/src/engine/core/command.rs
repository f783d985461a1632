//! Journal commands as the core acts on them: [`Command`], decoded from the endpoint's frames,
//! with what a call or an attach names ([`CallSpec`], [`AttachTarget`]).
//!
//! May use: the protocol only.

use super::super::protocol::{self, Frame, pb};
use super::super::{HandlerKind, Outcome};
use bytes::Bytes;

/// A call or a one-way call, as journaled by the caller.
pub(crate) struct CallSpec {
    pub(crate) service: String,
    pub(crate) handler: String,
    pub(crate) key: String,
    pub(crate) parameter: Vec<u8>,
    pub(crate) headers: Vec<pb::Header>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) invocation_id_notification_idx: u32,
    pub(crate) result_completion_id: Option<u32>,
    pub(crate) invoke_time: Option<u64>,
    pub(crate) kind: Option<HandlerKind>,
    pub(crate) target_missing: Option<String>,
}

/// The invocation an attach or a get-output command names.
pub(crate) enum AttachTarget {
    /// By its id.
    Id(String),
    /// The one a call with an idempotency key started.
    Idempotent {
        service: String,
        key: String,
        handler: String,
        idempotency_key: String,
    },
    /// The run of a workflow.
    Workflow { service: String, key: String },
}

/// Commands held back to be journaled with the attempt's next job, as received.
pub(crate) type Silent = Vec<(Frame, Command)>;

/// A command as the engine acts on it.
pub(crate) enum Command {
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
    pub(crate) fn is_silent(&self) -> bool {
        matches!(
            self,
            Command::Output(_)
                | Command::SetState(..)
                | Command::ClearState(_)
                | Command::ClearAllState
                | Command::Run
        )
    }

    pub(crate) fn decode(frame: &Frame) -> Result<Command, protocol::ProtocolError> {
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
