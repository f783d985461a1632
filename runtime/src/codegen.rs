//! The contract between generated code and the runtime. Not public API: generated code
//! calls only what is here and in the prelude, so this is the one place that touches
//! restate-sdk's `#[doc(hidden)]` binding API and builds its discovery metadata.

use crate::codec::{Codec, Payload};
use restate_sdk::endpoint::{ContextInternal, InputMetadata};
use restate_sdk::errors::HandlerResult;
use restate_sdk::service::{ServiceDefinition, macro_support};
use serde_json::{Value, json};
use std::sync::Arc;

pub use crate::keys::{KeyBuilder, KeyKind, KeySpec};
pub use ::pbjson;
pub use ::prost;
pub use ::serde;
pub use futures::future::BoxFuture;
pub use restate_sdk::context::{IntoObjectClient, IntoServiceClient, IntoWorkflowClient};
pub use restate_sdk::service::IntoServiceDefinition;

/// The SDK's per-invocation context, as generated clients hold it.
pub type RawContext = ContextInternal;

/// What a generated dispatcher returns.
pub type DispatchResult = Result<(), restate_sdk::endpoint::Error>;

/// The kind of a Restate service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// Stateless.
    Service,
    /// Keyed, with state.
    VirtualObject,
    /// Keyed, run once per id.
    Workflow,
}

/// The kind of a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerKind {
    /// A handler of a stateless service.
    Stateless,
    /// One at a time per key, may write state.
    Exclusive,
    /// Concurrent, reads state only.
    Shared,
    /// A workflow's run handler.
    WorkflowRun,
}

/// A service as generated code describes it.
#[derive(Debug)]
pub struct ServiceSpec {
    /// Fully qualified name, e.g. `hydra.v1.DeployService`.
    pub name: &'static str,
    /// Its kind.
    pub kind: ServiceKind,
    /// Documentation from the proto comments.
    pub documentation: &'static str,
    /// Its handlers.
    pub handlers: &'static [HandlerSpec],
    /// Its configuration, from `(restate_rs.service)`.
    pub config: Config,
}

/// A handler as generated code describes it.
#[derive(Debug)]
pub struct HandlerSpec {
    /// The proto method name, e.g. `Deploy`.
    pub name: &'static str,
    /// Its kind.
    pub kind: HandlerKind,
    /// Documentation from the proto comments.
    pub documentation: &'static str,
    /// Fully qualified input message name.
    pub input_type: &'static str,
    /// Fully qualified output message name.
    pub output_type: &'static str,
    /// JSON Schema of the input (JSON text), empty when there is none.
    pub input_schema: &'static str,
    /// JSON Schema of the output (JSON text), empty when there is none.
    pub output_schema: &'static str,
    /// Content type of the payloads.
    pub content_type: &'static str,
    /// Its configuration, from `(restate_rs.handler)`; unset fields take the service's.
    pub config: Config,
}

/// The configuration a service or handler declares in its proto (`(restate_rs.service)`,
/// `(restate_rs.handler)`), durations in milliseconds. `None` leaves the value to
/// restate-server (or, on a handler, to its service). It becomes the discovery manifest's
/// fields of the same names (`idempotencyRetention`, ..., `retryPolicyOnMaxAttempts`);
/// `workflow_retention_ms` becomes `workflowCompletionRetention` on the workflow's run
/// handler, the service's value when the run handler has none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// `idempotencyRetention`: how long results of calls with an idempotency key are kept.
    pub idempotency_retention_ms: Option<u64>,
    /// `journalRetention`: how long the journal of a completed invocation is kept.
    pub journal_retention_ms: Option<u64>,
    /// `workflowCompletionRetention` (on the run handler): how long a completed workflow
    /// keeps its result, state and promises.
    pub workflow_retention_ms: Option<u64>,
    /// `inactivityTimeout`: no progress for this long, and the invocation is asked to suspend.
    pub inactivity_timeout_ms: Option<u64>,
    /// `abortTimeout`: this long after that request, it is aborted.
    pub abort_timeout_ms: Option<u64>,
    /// `ingressPrivate`: callable from other services only, not through the ingress.
    pub ingress_private: Option<bool>,
    /// `enableLazyState`: state is fetched when read rather than sent with each invocation.
    pub enable_lazy_state: Option<bool>,
    /// `retryPolicyInitialInterval`: the wait before the first retry.
    pub retry_policy_initial_interval_ms: Option<u64>,
    /// `retryPolicyMaxInterval`: the longest wait between attempts.
    pub retry_policy_max_interval_ms: Option<u64>,
    /// `retryPolicyMaxAttempts`: attempts in all, the first included.
    pub retry_policy_max_attempts: Option<u64>,
    /// `retryPolicyExponentiationFactor`: by how much each wait grows.
    pub retry_policy_exponentiation_factor: Option<f64>,
    /// `retryPolicyOnMaxAttempts`: what happens after the last attempt.
    pub retry_policy_on_max_attempts: Option<OnMaxAttempts>,
}

/// What restate-server does with an invocation that used up its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMaxAttempts {
    /// `PAUSE`: keep it paused until an operator resumes it.
    Pause,
    /// `KILL`: fail it.
    Kill,
}

impl Config {
    /// Nothing set.
    pub const NONE: Config = Config {
        idempotency_retention_ms: None,
        journal_retention_ms: None,
        workflow_retention_ms: None,
        inactivity_timeout_ms: None,
        abort_timeout_ms: None,
        ingress_private: None,
        enable_lazy_state: None,
        retry_policy_initial_interval_ms: None,
        retry_policy_max_interval_ms: None,
        retry_policy_max_attempts: None,
        retry_policy_exponentiation_factor: None,
        retry_policy_on_max_attempts: None,
    };

    /// Writes the fields that are set into a manifest entry (a service or a handler), under
    /// the manifest's names. `workflow_retention_ms` is not among them: only the run handler
    /// takes it, as `workflowCompletionRetention`.
    fn write_manifest(&self, entry: &mut Value) {
        let fields = [
            (
                "idempotencyRetention",
                self.idempotency_retention_ms.map(Value::from),
            ),
            (
                "journalRetention",
                self.journal_retention_ms.map(Value::from),
            ),
            (
                "inactivityTimeout",
                self.inactivity_timeout_ms.map(Value::from),
            ),
            ("abortTimeout", self.abort_timeout_ms.map(Value::from)),
            ("ingressPrivate", self.ingress_private.map(Value::from)),
            ("enableLazyState", self.enable_lazy_state.map(Value::from)),
            (
                "retryPolicyInitialInterval",
                self.retry_policy_initial_interval_ms.map(Value::from),
            ),
            (
                "retryPolicyMaxInterval",
                self.retry_policy_max_interval_ms.map(Value::from),
            ),
            (
                "retryPolicyMaxAttempts",
                self.retry_policy_max_attempts.map(Value::from),
            ),
            (
                "retryPolicyExponentiationFactor",
                self.retry_policy_exponentiation_factor.map(Value::from),
            ),
            (
                "retryPolicyOnMaxAttempts",
                self.retry_policy_on_max_attempts.map(|v| {
                    Value::from(match v {
                        OnMaxAttempts::Pause => "PAUSE",
                        OnMaxAttempts::Kill => "KILL",
                    })
                }),
            ),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                entry[name] = value;
            }
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::NONE
    }
}

impl ServiceSpec {
    /// The discovery manifest entry restate-server reads at registration.
    pub fn discovery(&self) -> restate_sdk::discovery::Service {
        let handlers: Vec<Value> = self.handlers.iter().map(|h| h.discovery(self)).collect();
        let mut service = json!({
            "name": self.name,
            "ty": match self.kind {
                ServiceKind::Service => "SERVICE",
                ServiceKind::VirtualObject => "VIRTUAL_OBJECT",
                ServiceKind::Workflow => "WORKFLOW",
            },
            "handlers": handlers,
        });
        if !self.documentation.is_empty() {
            service["documentation"] = json!(self.documentation);
        }
        self.config.write_manifest(&mut service);
        serde_json::from_value(service).unwrap_or_else(|e| {
            panic!(
                "restate-rs built an invalid discovery entry for {}: {e}",
                self.name
            )
        })
    }
}

impl HandlerSpec {
    fn discovery(&self, spec: &ServiceSpec) -> Value {
        let service = spec.kind;
        let mut handler = json!({
            "name": self.name,
            "input": {
                "contentType": self.content_type,
                "required": false,
            },
            "output": {
                "contentType": self.content_type,
                "setContentTypeIfEmpty": false,
            },
        });
        if let Some(schema) = parse_schema(self.input_schema) {
            handler["input"]["jsonSchema"] = schema;
        }
        if let Some(schema) = parse_schema(self.output_schema) {
            handler["output"]["jsonSchema"] = schema;
        }
        let ty = match (service, self.kind) {
            (ServiceKind::Service, _) => None,
            (_, HandlerKind::Shared) => Some("SHARED"),
            (ServiceKind::Workflow, _) => Some("WORKFLOW"),
            (ServiceKind::VirtualObject, _) => Some("EXCLUSIVE"),
        };
        if let Some(ty) = ty {
            handler["ty"] = json!(ty);
        }
        if !self.documentation.is_empty() {
            handler["documentation"] = json!(self.documentation);
        }
        self.config.write_manifest(&mut handler);
        if service == ServiceKind::Workflow && self.kind == HandlerKind::WorkflowRun {
            let retention = self
                .config
                .workflow_retention_ms
                .or(spec.config.workflow_retention_ms);
            if let Some(ms) = retention {
                handler["workflowCompletionRetention"] = json!(ms);
            }
        }
        handler
    }
}

fn parse_schema(text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// One invocation of a generated service, handed to its dispatcher.
pub struct Invocation {
    ctx: ContextInternal,
    span: tracing::Span,
}

impl Invocation {
    /// The handler being invoked.
    pub fn handler_name(&self) -> &str {
        self.ctx.handler_name()
    }

    /// Reads and decodes the input, and builds the handler's context. A payload that does not
    /// decode ends the invocation with a terminal 400 error (the future then never resolves).
    pub async fn input<'a, X, T, C>(&'a self) -> (X, T)
    where
        X: From<(&'a ContextInternal, InputMetadata)>,
        C: Codec<T>,
    {
        let (payload, metadata) = self.ctx.input::<Payload<T, C>>().await;
        self.span
            .record("restate.invocation.id", metadata.invocation_id.as_str());
        if !metadata.key.is_empty() {
            self.span.record("restate.key", metadata.key.as_str());
        }
        (X::from((&self.ctx, metadata)), payload.into_inner())
    }

    /// Records the handler's result and ends the invocation.
    pub fn finish<T, C: Codec<T>>(&self, result: HandlerResult<T>) -> DispatchResult {
        self.ctx
            .handle_handler_result(result.map(Payload::<T, C>::new));
        self.ctx.end();
        Ok(())
    }

    /// The answer for a handler name the service does not have.
    pub fn unknown_handler(&self) -> DispatchResult {
        Err(restate_sdk::endpoint::Error::unknown_handler(
            self.ctx.service_name(),
            self.ctx.handler_name(),
        ))
    }
}

/// A generated dispatcher: matches the handler name and runs the handler.
pub type Dispatch<S> = fn(Arc<S>, Invocation) -> BoxFuture<'static, DispatchResult>;

struct Dispatcher<S> {
    service: Arc<S>,
    dispatch: Dispatch<S>,
}

impl<S: Send + Sync + 'static> restate_sdk::service::Service for Dispatcher<S> {
    type Future = macro_support::ServiceBoxFuture;

    fn handle(&self, ctx: ContextInternal) -> Self::Future {
        // A span per invocation: service, handler, and (once the input is read) key and
        // invocation id, for whatever `tracing` subscriber the program installs.
        let span = tracing::info_span!(
            "restate.invocation",
            restate.service = ctx.service_name(),
            restate.handler = ctx.handler_name(),
            restate.key = tracing::field::Empty,
            restate.invocation.id = tracing::field::Empty,
        );
        let dispatch = (self.dispatch)(
            Arc::clone(&self.service),
            Invocation {
                ctx,
                span: span.clone(),
            },
        );
        Box::pin(tracing::Instrument::instrument(dispatch, span))
    }
}

/// Binds an implementation to its generated dispatcher and description.
pub fn bind<S: Send + Sync + 'static>(
    spec: &'static ServiceSpec,
    service: Arc<S>,
    dispatch: Dispatch<S>,
) -> ServiceDefinition {
    macro_support::service_definition(Dispatcher { service, dispatch }, spec.discovery())
}

/// An ingress request whose key was built from the request (`key` declared in the proto):
/// when it could not be (its fields were empty), the request is refused when it is sent.
#[cfg(feature = "ingress")]
pub fn ingress_request<Req, Res, C>(
    client: &crate::ingress::IngressClient,
    target: impl FnOnce(String) -> crate::ingress::Target,
    key: Result<String, crate::keys::EmptyKey>,
    request: Req,
) -> crate::ingress::IngressRequest<Req, Res, C>
where
    C: Codec<Req> + Codec<Res>,
{
    match key {
        Ok(key) => client.request(target(key), request),
        Err(empty) => client.request(target(String::new()), request).refuse(empty),
    }
}

/// Builds a context request with the given codec.
pub fn request<'ctx, Req, Res, C>(
    ctx: &'ctx ContextInternal,
    target: restate_sdk::context::RequestTarget,
    req: Req,
) -> crate::client::Request<'ctx, Req, Res, C>
where
    Req: Send + 'static,
    Res: Send + 'static,
    C: Codec<Req> + Codec<Res>,
{
    crate::client::Request::new(ctx.request(target, Payload::new(req)))
}

/// A target for a stateless service handler.
pub fn service_target(service: &str, handler: &str) -> restate_sdk::context::RequestTarget {
    restate_sdk::context::RequestTarget::service(service, handler)
}

/// A target for a virtual object handler.
pub fn object_target(
    service: &str,
    key: &str,
    handler: &str,
) -> restate_sdk::context::RequestTarget {
    restate_sdk::context::RequestTarget::object(service, key, handler)
}

/// A target for a workflow handler.
pub fn workflow_target(
    service: &str,
    key: &str,
    handler: &str,
) -> restate_sdk::context::RequestTarget {
    restate_sdk::context::RequestTarget::workflow(service, key, handler)
}

/// The body of a generated default method: a terminal 501 error.
pub fn not_implemented(service: &str, handler: &str) -> restate_sdk::errors::HandlerError {
    restate_sdk::errors::TerminalError::new_with_code(
        501,
        format!("{service}/{handler} is not implemented"),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn handler(name: &'static str, kind: HandlerKind, config: Config) -> HandlerSpec {
        HandlerSpec {
            name,
            kind,
            documentation: "",
            input_type: "t.In",
            output_type: "t.Out",
            input_schema: "",
            output_schema: "",
            content_type: "application/json",
            config,
        }
    }

    static EVERYTHING: ServiceSpec = ServiceSpec {
        name: "t.Everything",
        kind: ServiceKind::VirtualObject,
        documentation: "",
        handlers: &[
            handler("Plain", HandlerKind::Exclusive, Config::NONE),
            handler(
                "Tuned",
                HandlerKind::Shared,
                Config {
                    inactivity_timeout_ms: Some(1_000),
                    retry_policy_on_max_attempts: Some(OnMaxAttempts::Pause),
                    ..Config::NONE
                },
            ),
        ],
        config: Config {
            idempotency_retention_ms: Some(86_400_000),
            journal_retention_ms: Some(3_600_000),
            workflow_retention_ms: None,
            inactivity_timeout_ms: Some(90_000),
            abort_timeout_ms: Some(300_000),
            ingress_private: Some(true),
            enable_lazy_state: Some(false),
            retry_policy_initial_interval_ms: Some(250),
            retry_policy_max_interval_ms: Some(30_000),
            retry_policy_max_attempts: Some(8),
            retry_policy_exponentiation_factor: Some(1.5),
            retry_policy_on_max_attempts: Some(OnMaxAttempts::Kill),
        },
    };

    static FLOW: ServiceSpec = ServiceSpec {
        name: "t.Flow",
        kind: ServiceKind::Workflow,
        documentation: "",
        handlers: &[
            handler("Run", HandlerKind::WorkflowRun, Config::NONE),
            handler("Peek", HandlerKind::Shared, Config::NONE),
        ],
        config: Config {
            workflow_retention_ms: Some(604_800_000),
            ..Config::NONE
        },
    };

    /// Through restate-sdk's manifest types (which deny unknown fields) and back to JSON.
    fn manifest(spec: &ServiceSpec) -> Value {
        serde_json::to_value(spec.discovery()).unwrap()
    }

    #[test]
    fn every_field_reaches_the_manifest_under_its_name() {
        let service = manifest(&EVERYTHING);
        for (name, value) in [
            ("idempotencyRetention", json!(86_400_000)),
            ("journalRetention", json!(3_600_000)),
            ("inactivityTimeout", json!(90_000)),
            ("abortTimeout", json!(300_000)),
            ("ingressPrivate", json!(true)),
            ("enableLazyState", json!(false)),
            ("retryPolicyInitialInterval", json!(250)),
            ("retryPolicyMaxInterval", json!(30_000)),
            ("retryPolicyMaxAttempts", json!(8)),
            ("retryPolicyExponentiationFactor", json!(1.5)),
            ("retryPolicyOnMaxAttempts", json!("KILL")),
        ] {
            assert_eq!(service[name], value, "{name}");
        }
        assert!(service.get("workflowCompletionRetention").is_none());
        let plain = &service["handlers"][0];
        let tuned = &service["handlers"][1];
        assert!(plain.get("inactivityTimeout").is_none(), "{plain}");
        assert_eq!(tuned["inactivityTimeout"], json!(1_000));
        assert_eq!(tuned["retryPolicyOnMaxAttempts"], json!("PAUSE"));
        assert!(tuned.get("retryPolicyMaxAttempts").is_none(), "{tuned}");
    }

    #[test]
    fn nothing_set_adds_nothing() {
        static BARE: ServiceSpec = ServiceSpec {
            name: "t.Bare",
            kind: ServiceKind::Service,
            documentation: "",
            handlers: &[handler("Call", HandlerKind::Stateless, Config::NONE)],
            config: Config::NONE,
        };
        let service = manifest(&BARE);
        let keys: Vec<&String> = service.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["handlers", "name", "ty"]);
        let handler: Vec<&String> = service["handlers"][0].as_object().unwrap().keys().collect();
        assert_eq!(handler, ["input", "name", "output"]);
    }

    #[test]
    fn workflow_retention_goes_on_the_run_handler() {
        let service = manifest(&FLOW);
        assert!(service.get("workflowCompletionRetention").is_none());
        assert_eq!(
            service["handlers"][0]["workflowCompletionRetention"],
            json!(604_800_000)
        );
        assert!(
            service["handlers"][1]
                .get("workflowCompletionRetention")
                .is_none()
        );

        // The run handler's own value wins over the service's.
        static OWN: ServiceSpec = ServiceSpec {
            name: "t.Own",
            kind: ServiceKind::Workflow,
            documentation: "",
            handlers: &[handler(
                "Run",
                HandlerKind::WorkflowRun,
                Config {
                    workflow_retention_ms: Some(1_000),
                    ..Config::NONE
                },
            )],
            config: Config {
                workflow_retention_ms: Some(2_000),
                ..Config::NONE
            },
        };
        assert_eq!(
            manifest(&OWN)["handlers"][0]["workflowCompletionRetention"],
            json!(1_000)
        );
    }
}
