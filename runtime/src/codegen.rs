//! The contract between generated code and the runtime. Not public API: generated code
//! calls only what is here and in the prelude, so this is the one place that touches
//! restate-sdk's `#[doc(hidden)]` binding API and builds its discovery metadata.

use crate::codec::{Codec, Payload};
use restate_sdk::endpoint::{ContextInternal, InputMetadata};
use restate_sdk::errors::HandlerResult;
use restate_sdk::service::{ServiceDefinition, macro_support};
use serde_json::{Value, json};
use std::sync::Arc;

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
}

impl ServiceSpec {
    /// The discovery manifest entry restate-server reads at registration.
    pub fn discovery(&self) -> restate_sdk::discovery::Service {
        let handlers: Vec<Value> = self
            .handlers
            .iter()
            .map(|h| h.discovery(self.kind))
            .collect();
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
        serde_json::from_value(service).unwrap_or_else(|e| {
            panic!(
                "restate-rs built an invalid discovery entry for {}: {e}",
                self.name
            )
        })
    }
}

impl HandlerSpec {
    fn discovery(&self, service: ServiceKind) -> Value {
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
        (self.dispatch)(Arc::clone(&self.service), Invocation { ctx })
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
