//! Descriptors -> a model of Restate services, and the checks that make a model valid.
//!
//! Options are read through prost-reflect, which keeps extensions that prost-types would drop.

use crate::config::{self, Config, Scope};
use crate::ident;
use crate::keys::{self, KeyTemplate};
use prost_reflect::{
    DescriptorPool, ExtensionDescriptor, FileDescriptor, MethodDescriptor, ServiceDescriptor, Value,
};
use std::collections::BTreeMap;
use std::fmt;

/// The Restate kind of a service, from `dev.restate.sdk.go.service_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// `SERVICE`, or no option: stateless.
    Service,
    /// `VIRTUAL_OBJECT`: keyed, with state.
    VirtualObject,
    /// `WORKFLOW`: keyed, one run per id.
    Workflow,
}

/// The Restate kind of a handler, from the service kind and `dev.restate.sdk.go.handler_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerKind {
    /// A handler of a stateless service (`Context`).
    Stateless,
    /// An exclusive object handler (`ObjectContext`).
    Exclusive,
    /// A shared object handler (`SharedObjectContext`).
    SharedObject,
    /// The workflow's run handler (`WorkflowContext`).
    WorkflowRun,
    /// A shared workflow handler (`SharedWorkflowContext`).
    SharedWorkflow,
}

/// A service as we generate it.
#[derive(Debug, Clone)]
pub struct Service {
    /// The `.proto` file that declares it.
    pub file: String,
    /// Its package, e.g. `hydra.v1`.
    pub package: String,
    /// The proto name, e.g. `DeployService`.
    pub name: String,
    /// The Restate service name: the fully qualified proto name, e.g. `hydra.v1.DeployService`.
    pub full_name: String,
    /// Its kind.
    pub kind: ServiceKind,
    /// Whether the kind was set explicitly with `service_type`.
    pub explicit_kind: bool,
    /// The leading comment, one entry per line.
    pub docs: Vec<String>,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// Its handlers, in declaration order.
    pub handlers: Vec<Handler>,
    /// Its configuration, from `(restate_rs.service)`.
    pub config: Config,
}

/// A handler (an rpc method) as we generate it.
#[derive(Debug, Clone)]
pub struct Handler {
    /// The proto method name, which is also the Restate handler name.
    pub name: String,
    /// Its kind.
    pub kind: HandlerKind,
    /// Fully qualified input message name, without a leading dot.
    pub input: String,
    /// Fully qualified output message name, without a leading dot.
    pub output: String,
    /// The leading comment, one entry per line.
    pub docs: Vec<String>,
    /// `option deprecated = true`.
    pub deprecated: bool,
    /// Its configuration, from `(restate_rs.handler)`; unset fields take the service's.
    pub config: Config,
    /// The key of its calls, from its request (`key`, the handler's or the service's).
    pub key: Option<KeyTemplate>,
    /// The idempotency key of its calls, from its request (`idempotency_key`).
    pub idempotency_key: Option<KeyTemplate>,
    /// Whether keys whose fields are all empty are used (`allow_empty_key`).
    pub allow_empty_key: bool,
}

impl Service {
    /// Whether calls need a key (objects and workflows).
    pub fn is_keyed(&self) -> bool {
        self.kind != ServiceKind::Service
    }
}

/// One problem found in the input, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The `.proto` file.
    pub file: String,
    /// `package.Service`, or `package.Service.Method`, or empty for the whole file.
    pub location: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.location, self.message)
        }
    }
}

/// What the model needs to know from the options.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ModelOptions {
    pub(crate) require_service_type: bool,
}

struct Extensions {
    service_type: Option<ExtensionDescriptor>,
    handler_type: Option<ExtensionDescriptor>,
    service_config: Option<ExtensionDescriptor>,
    handler_config: Option<ExtensionDescriptor>,
}

const SERVICE_TYPE: &str = "dev.restate.sdk.go.service_type";
const HANDLER_TYPE: &str = "dev.restate.sdk.go.handler_type";

/// Builds the services declared in `file` and checks them. Every problem is reported, not
/// just the first.
pub(crate) fn services_of_file(
    pool: &DescriptorPool,
    file: &FileDescriptor,
    options: ModelOptions,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Service> {
    let ext = Extensions {
        service_type: pool.get_extension_by_name(SERVICE_TYPE),
        handler_type: pool.get_extension_by_name(HANDLER_TYPE),
        service_config: pool.get_extension_by_name(config::SERVICE_OPTION),
        handler_config: pool.get_extension_by_name(config::HANDLER_OPTION),
    };
    file.services()
        .map(|service| build_service(&ext, &service, options, diagnostics))
        .collect()
}

fn enum_option(
    options: &prost_reflect::DynamicMessage,
    ext: &Option<ExtensionDescriptor>,
) -> Option<i32> {
    let ext = ext.as_ref()?;
    if !options.has_extension(ext) {
        return None;
    }
    match options.get_extension(ext).as_ref() {
        Value::EnumNumber(n) => Some(*n),
        _ => None,
    }
}

fn build_service(
    ext: &Extensions,
    service: &ServiceDescriptor,
    options: ModelOptions,
    diagnostics: &mut Vec<Diagnostic>,
) -> Service {
    let file = service.parent_file().name().to_owned();
    let full_name = service.full_name().to_owned();
    let mut error = |location: &str, message: String| {
        diagnostics.push(Diagnostic {
            file: file.clone(),
            location: location.to_owned(),
            message,
        })
    };

    let raw_kind = enum_option(&service.options(), &ext.service_type);
    let kind = match raw_kind {
        None | Some(0) => ServiceKind::Service,
        Some(1) => ServiceKind::VirtualObject,
        Some(2) => ServiceKind::Workflow,
        Some(n) => {
            error(
                &full_name,
                format!(
                    "unknown service_type value {n}; expected SERVICE, VIRTUAL_OBJECT or WORKFLOW"
                ),
            );
            ServiceKind::Service
        }
    };
    if raw_kind.is_none() && options.require_service_type {
        error(
            &full_name,
            "has no `option (dev.restate.sdk.go.service_type)`; set it to SERVICE, VIRTUAL_OBJECT or WORKFLOW (required by `require_service_type`)".to_owned(),
        );
    }

    let mut config_errors = Vec::new();
    let service_config = config::read(
        &service.options(),
        ext.service_config.as_ref(),
        Scope::Service(kind),
        &mut config_errors,
    );
    config_errors.extend(config::check(
        &service_config,
        &service_config,
        Scope::Service(kind),
    ));
    for message in config_errors {
        error(&full_name, message);
    }

    let mut handlers = Vec::new();
    for method in service.methods() {
        let location = format!("{full_name}.{}", method.name());
        if method.is_client_streaming() || method.is_server_streaming() {
            let which = match (method.is_client_streaming(), method.is_server_streaming()) {
                (true, true) => "bidirectional streaming",
                (true, false) => "client streaming",
                _ => "server streaming",
            };
            error(
                &location,
                format!(
                    "{which} methods are not supported by Restate; use unary request/response messages"
                ),
            );
        }
        let raw_handler = enum_option(&method.options(), &ext.handler_type);
        let handler_kind =
            handler_kind(kind, method.name(), raw_handler).unwrap_or_else(|message| {
                error(&location, message);
                HandlerKind::Stateless
            });
        let scope = Scope::Handler(kind, handler_kind);
        let mut config_errors = Vec::new();
        let handler_config = config::read(
            &method.options(),
            ext.handler_config.as_ref(),
            scope,
            &mut config_errors,
        );
        config_errors.extend(config::check(&handler_config, &service_config, scope));
        for message in config_errors {
            error(&location, message);
        }
        // Keys from the request: the handler's template, else the service's.
        let request = method.input();
        let mut template = |option: &str, text: Option<&String>| {
            let text = text?;
            keys::resolve(option, text, &request)
                .map_err(|errors| {
                    for message in errors {
                        error(&location, message);
                    }
                })
                .ok()
        };
        let key = if kind == ServiceKind::Service {
            None
        } else if handler_config.key.is_some() {
            template("(restate_rs.handler).key", handler_config.key.as_ref())
        } else {
            template("(restate_rs.service).key", service_config.key.as_ref())
        };
        let idempotency_key = template(
            "(restate_rs.handler).idempotency_key",
            handler_config.idempotency_key.as_ref(),
        );
        let allow_empty_key = handler_config
            .allow_empty_key
            .or(service_config.allow_empty_key)
            .unwrap_or(false);
        let (docs, deprecated) = docs_of(&method);
        handlers.push(Handler {
            name: method.name().to_owned(),
            kind: handler_kind,
            input: request.full_name().to_owned(),
            output: method.output().full_name().to_owned(),
            docs,
            deprecated,
            config: handler_config,
            key,
            idempotency_key,
            allow_empty_key,
        });
    }

    if kind == ServiceKind::Workflow {
        let runs: Vec<&str> = handlers
            .iter()
            .filter(|h| h.kind == HandlerKind::WorkflowRun)
            .map(|h| h.name.as_str())
            .collect();
        match runs.len() {
            0 => error(
                &full_name,
                "is a WORKFLOW without a run handler; name one method `Run` or mark it `option (dev.restate.sdk.go.handler_type) = WORKFLOW_RUN`".to_owned(),
            ),
            1 => {}
            _ => error(
                &full_name,
                format!("is a WORKFLOW with {} run handlers ({}); a workflow has exactly one", runs.len(), runs.join(", ")),
            ),
        }
    }

    // Two methods whose Rust names collide (`GetUser` and `get_user`).
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for handler in &handlers {
        let rust = ident::snake(&handler.name);
        if let Some(previous) = seen.insert(rust.clone(), &handler.name) {
            error(
                &format!("{full_name}.{}", handler.name),
                format!(
                    "its Rust name `{rust}` collides with method `{previous}`; rename one of them"
                ),
            );
        }
    }

    let (docs, deprecated) = service_docs(service);
    Service {
        file,
        package: service.package_name().to_owned(),
        name: service.name().to_owned(),
        full_name,
        kind,
        explicit_kind: raw_kind.is_some(),
        docs,
        deprecated,
        handlers,
        config: service_config,
    }
}

fn handler_kind(
    service: ServiceKind,
    method: &str,
    raw: Option<i32>,
) -> Result<HandlerKind, String> {
    const UNSET: i32 = 0;
    const EXCLUSIVE: i32 = 1;
    const SHARED: i32 = 2;
    const WORKFLOW_RUN: i32 = 3;
    let name = |n: i32| match n {
        EXCLUSIVE => "EXCLUSIVE",
        SHARED => "SHARED",
        WORKFLOW_RUN => "WORKFLOW_RUN",
        _ => "UNSET",
    };
    match (service, raw.unwrap_or(UNSET)) {
        (ServiceKind::Service, UNSET) => Ok(HandlerKind::Stateless),
        (ServiceKind::VirtualObject, UNSET | EXCLUSIVE) => Ok(HandlerKind::Exclusive),
        (ServiceKind::VirtualObject, SHARED) => Ok(HandlerKind::SharedObject),
        (ServiceKind::Workflow, WORKFLOW_RUN) => Ok(HandlerKind::WorkflowRun),
        (ServiceKind::Workflow, UNSET) if method == "Run" => Ok(HandlerKind::WorkflowRun),
        (ServiceKind::Workflow, UNSET | SHARED) => Ok(HandlerKind::SharedWorkflow),
        (_, n) if !(UNSET..=WORKFLOW_RUN).contains(&n) => Err(format!(
            "unknown handler_type value {n}; expected UNSET, EXCLUSIVE, SHARED or WORKFLOW_RUN"
        )),
        (ServiceKind::Service, n) => Err(format!(
            "handler_type {} is not allowed in a SERVICE (stateless services have no handler types); make the service a VIRTUAL_OBJECT or WORKFLOW, or remove the option",
            name(n)
        )),
        (ServiceKind::VirtualObject, n) => Err(format!(
            "handler_type {} is not allowed in a VIRTUAL_OBJECT; use EXCLUSIVE or SHARED",
            name(n)
        )),
        (ServiceKind::Workflow, n) => Err(format!(
            "handler_type {} is not allowed in a WORKFLOW; use WORKFLOW_RUN for the run handler and SHARED for the others",
            name(n)
        )),
    }
}

fn service_docs(service: &ServiceDescriptor) -> (Vec<String>, bool) {
    let deprecated = service
        .service_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.deprecated)
        .unwrap_or(false);
    (
        comments(service.parent_file_descriptor_proto(), service.path()),
        deprecated,
    )
}

fn docs_of(method: &MethodDescriptor) -> (Vec<String>, bool) {
    let deprecated = method
        .method_descriptor_proto()
        .options
        .as_ref()
        .and_then(|o| o.deprecated)
        .unwrap_or(false);
    (
        comments(method.parent_file().file_descriptor_proto(), method.path()),
        deprecated,
    )
}

/// The leading comment of the element at `path`, one entry per line, with the single space
/// after `//` removed.
fn comments(file: &prost_types::FileDescriptorProto, path: &[i32]) -> Vec<String> {
    let Some(info) = &file.source_code_info else {
        return Vec::new();
    };
    let Some(location) = info.location.iter().find(|l| l.path == path) else {
        return Vec::new();
    };
    let Some(text) = &location.leading_comments else {
        return Vec::new();
    };
    let mut lines: Vec<String> = text
        .trim_end()
        .lines()
        .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned())
        .collect();
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    lines
}
