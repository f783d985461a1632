//! The engine's ingress, typed: the engine as an [`IngressTransport`], and the checks and
//! answers that its HTTP ingress shares.
//!
//! [`IngressClient::in_process`](crate::ingress::IngressClient::in_process) hands its requests
//! to the engine as values ([`HandlerRequest`], [`InvocationRef`]) and gets values back
//! ([`Completion`], [`SendResponse`], [`Rejection`]); nothing is encoded as HTTP on the way.
//! `IngressServer` (in `ingress.rs`) parses an HTTP request into the same values, calls the
//! same functions, and encodes their answer as restate-server would.
//!
//! What both go through, in this order, before an invocation is made ([`Engine::check_ingress`]):
//! the size of the input, the target (the service exists, takes a key if and only if it is a
//! virtual object or a workflow, and has the handler), the handler is not private, and the
//! input is what the handler's manifest declares. A send's delay is then checked
//! ([`bounded_delay`]).

use super::ids::is_invocation_id;
use super::ingress::MAX_REQUEST_BODY;
use super::{Engine, EngineError, InvokeOptions, Outcome, ServiceKind, ServiceMeta, Target};
use crate::ingress::{
    Completion, HandlerAddress, HandlerRequest, IngressTransport, InvocationRef, Rejection,
    SendResponse, SendStatus, TerminalFailure, TransportFuture,
};
use bytes::Bytes;
use std::fmt;
use std::time::Duration;

impl IngressTransport for Engine {
    fn call(&self, request: HandlerRequest) -> TransportFuture<'_, Completion> {
        Box::pin(async move {
            let admitted = self.check_ingress(request, |target| ingress_path(target, false))?;
            self.ingress_call(admitted).await
        })
    }

    fn send(
        &self,
        request: HandlerRequest,
        delay: Option<Duration>,
    ) -> TransportFuture<'_, SendResponse> {
        Box::pin(async move {
            let admitted = self.check_ingress(request, |target| ingress_path(target, true))?;
            let delay = delay
                .map(|delay| {
                    let ms = delay.as_millis();
                    bounded_delay(Some(ms), &format_args!("{ms}ms"))
                })
                .transpose()
                .map_err(Rejection::BadRequest)?;
            self.ingress_send(admitted, delay).await
        })
    }

    fn attach(&self, invocation: InvocationRef) -> TransportFuture<'_, Completion> {
        Box::pin(self.ingress_lookup(invocation, true))
    }

    fn output(&self, invocation: InvocationRef) -> TransportFuture<'_, Completion> {
        Box::pin(self.ingress_lookup(invocation, false))
    }
}

/// An invocation the ingress has checked and may make.
pub(super) struct Admitted {
    target: Target,
    input: Bytes,
    options: InvokeOptions,
}

impl Engine {
    /// Checks a request to invoke a handler, as restate-server checks it. `path` names the
    /// request in messages about its shape: the HTTP path it came on, or the one it would
    /// have.
    pub(super) fn check_ingress(
        &self,
        request: HandlerRequest,
        path: impl FnOnce(&HandlerAddress) -> String,
    ) -> Result<Admitted, Rejection> {
        check_size(request.input.len())?;
        let address = &request.target;
        let meta = self.served(&address.service)?;
        // An empty key is no key, as the empty path segment it would be over HTTP.
        let key = address.key.as_deref().filter(|key| !key.is_empty());
        let target = match (meta.kind, key) {
            (ServiceKind::Service, None) => Target::service(&address.service, &address.handler),
            (ServiceKind::Object | ServiceKind::Workflow, Some(key)) => {
                Target::keyed(&address.service, key, &address.handler)
            }
            (kind, _) => return Err(wrong_shape(&path(address), &address.service, kind)),
        };
        if !meta.handlers.contains_key(&target.handler) {
            return Err(Rejection::NotFound(format!(
                "service '{}' has no handler '{}' in the deployment the engine serves",
                target.service, target.handler
            )));
        }
        if meta
            .configs
            .get(&target.handler)
            .is_some_and(|c| c.ingress_private)
        {
            return Err(Rejection::BadRequest(format!(
                "{target} is private: it can be called from other handlers, not through the ingress"
            )));
        }
        if let Some(Err(reason)) = meta
            .inputs
            .get(&target.handler)
            .map(|rule| rule.check(request.content_type.as_deref(), &request.input))
        {
            return Err(Rejection::BadRequest(format!(
                "input validation error for {target}: {reason}"
            )));
        }
        // The engine does not hand the request's headers to the handler (neither does its
        // HTTP ingress).
        let options = InvokeOptions {
            idempotency_key: request.idempotency_key,
            delay: None,
            headers: Vec::new(),
        };
        Ok(Admitted {
            target,
            input: request.input,
            options,
        })
    }

    /// The refusal of a path whose segments name no handler (a service alone, or more than
    /// three): as [`check_ingress`](Self::check_ingress) refuses a target of the wrong shape.
    pub(super) fn misaddressed(&self, service: &str, path: &str) -> Rejection {
        match self.served(service) {
            Ok(meta) => wrong_shape(path, service, meta.kind),
            Err(rejection) => rejection,
        }
    }

    fn served(&self, service: &str) -> Result<&ServiceMeta, Rejection> {
        self.inner.services.get(service).ok_or_else(|| {
            Rejection::NotFound(format!(
                "service '{service}' not found: no deployment of this engine serves it"
            ))
        })
    }

    /// Invokes an admitted request and waits for its outcome.
    pub(super) async fn ingress_call(&self, admitted: Admitted) -> Result<Completion, Rejection> {
        let Admitted {
            target,
            input,
            options,
        } = admitted;
        match self.call_outcome(target, input, options).await {
            Ok((invocation_id, outcome)) => completion(invocation_id, outcome),
            Err(e) => Err(rejection(e)),
        }
    }

    /// Enqueues an admitted request, after `delay`.
    pub(super) async fn ingress_send(
        &self,
        admitted: Admitted,
        delay: Option<Duration>,
    ) -> Result<SendResponse, Rejection> {
        let Admitted {
            target,
            input,
            mut options,
        } = admitted;
        options.delay = delay;
        let submitted = self
            .invoke(target, input, options)
            .await
            .map_err(rejection)?;
        Ok(SendResponse {
            invocation_id: submitted.invocation_id,
            status: if submitted.is_new {
                SendStatus::Accepted
            } else {
                SendStatus::PreviouslyAccepted
            },
        })
    }

    /// Attaches to `invocation` (`wait`), or reads its output.
    pub(super) async fn ingress_lookup(
        &self,
        invocation: InvocationRef,
        wait: bool,
    ) -> Result<Completion, Rejection> {
        let invocation_id = match invocation {
            InvocationRef::Id(id) if !is_invocation_id(&id) => {
                return Err(Rejection::BadRequest(format!(
                    "bad invocation id '{id}': the engine's ids are `inv_1` and 33 base62 digits"
                )));
            }
            InvocationRef::Id(id) => id,
            InvocationRef::Workflow { name, id } => {
                let target = Target::keyed(&name, &id, "");
                self.find(&target, None)
                    .await
                    .map_err(rejection)?
                    .ok_or_else(|| {
                        Rejection::NotFound(format!("workflow {name}/{id} was never submitted"))
                    })?
            }
            InvocationRef::Idempotent {
                target,
                idempotency_key,
            } => {
                let target = Target {
                    service: target.service,
                    key: target.key.unwrap_or_default(),
                    handler: target.handler,
                };
                let found = self.find(&target, Some(&idempotency_key)).await;
                found.map_err(rejection)?.ok_or_else(|| {
                    Rejection::NotFound(format!(
                        "no invocation of {target} with idempotency key {idempotency_key}"
                    ))
                })?
            }
        };
        if wait {
            let outcome = self.attach_outcome(&invocation_id).await;
            return completion(invocation_id, outcome);
        }
        match self.output(&invocation_id).await {
            Ok(Some(outcome)) => Ok(Completion {
                invocation_id,
                result: outcome.map_err(terminal),
            }),
            Ok(None) => Err(Rejection::NotReady { invocation_id }),
            // Never was, or was purged: as restate-server answers.
            Err(EngineError::UnknownInvocation(_)) => {
                Err(Rejection::NotFound("invocation not found".to_owned()))
            }
            Err(e) => Err(rejection(e)),
        }
    }

    /// Waits for the invocation's outcome, terminal failures included.
    pub(super) async fn attach_outcome(&self, invocation_id: &str) -> Result<Outcome, EngineError> {
        match self.attach(invocation_id).await {
            Ok(bytes) => Ok(Ok(bytes)),
            Err(EngineError::Terminal { code, message }) => Ok(Err((code, message))),
            Err(e) => Err(e),
        }
    }
}

/// The answer to a caller that waited for `invocation_id`'s outcome.
fn completion(
    invocation_id: String,
    outcome: Result<Outcome, EngineError>,
) -> Result<Completion, Rejection> {
    match outcome {
        Ok(outcome) => Ok(Completion {
            invocation_id,
            result: outcome.map_err(terminal),
        }),
        // Never was, or was purged: restate-server answers it as the invocation's 404.
        Err(EngineError::UnknownInvocation(_)) => Ok(Completion {
            invocation_id,
            result: Err(TerminalFailure {
                code: 404,
                message: "not found".to_owned(),
            }),
        }),
        Err(e) => Err(rejection(e)),
    }
}

fn terminal((code, message): (u16, String)) -> TerminalFailure {
    TerminalFailure { code, message }
}

/// An engine error, as the ingress reports it.
pub(super) fn rejection(error: EngineError) -> Rejection {
    let message = error.to_string();
    match error {
        EngineError::NotFound { .. } | EngineError::UnknownInvocation(_) => {
            Rejection::NotFound(message)
        }
        EngineError::InvalidAwakeable { .. } => Rejection::BadRequest(message),
        EngineError::ShutDown => Rejection::Unavailable(message),
        _ => Rejection::Failed(message),
    }
}

/// Refuses a body larger than the ingress accepts.
pub(super) fn check_size(len: usize) -> Result<(), Rejection> {
    if len > MAX_REQUEST_BODY {
        return Err(Rejection::TooLarge(format!(
            "the request body has {len} bytes; the limit is {MAX_REQUEST_BODY}"
        )));
    }
    Ok(())
}

fn wrong_shape(path: &str, service: &str, kind: ServiceKind) -> Rejection {
    Rejection::BadRequest(match kind {
        ServiceKind::Service => format!(
            "bad path {path}: '{service}' is a service without keys, called at /{service}/<handler>"
        ),
        ServiceKind::Object | ServiceKind::Workflow => {
            format!("bad path {path}: '{service}' is keyed, called at /{service}/<key>/<handler>")
        }
    })
}

/// The HTTP path of a request to `target`, for the messages that name it.
fn ingress_path(target: &HandlerAddress, send: bool) -> String {
    let mut path = String::new();
    for segment in target.segments() {
        path.push('/');
        crate::ingress::push_encoded(&mut path, segment);
    }
    if send {
        path.push_str("/send");
    }
    path
}

/// A delay of `ms` milliseconds (`None`: too many to count), written `text` in messages: at
/// most a century, which is more than any delay means; larger numbers are mistakes (or
/// attacks).
pub(super) fn bounded_delay(ms: Option<u128>, text: &dyn fmt::Display) -> Result<Duration, String> {
    const MAX_DELAY_MS: u128 = 100 * 365 * 86_400_000;
    match ms {
        Some(ms) if ms <= MAX_DELAY_MS => {
            Ok(Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)))
        }
        _ => Err(format!("invalid delay `{text}`: longer than 100 years")),
    }
}
