//! # protoc-gen-restate-rs
//!
//! Generates Rust Restate services from `.proto` files marked with Restate's options
//! (`dev.restate.sdk.go.service_type` on services, `dev.restate.sdk.go.handler_type` on
//! methods), the same options the Go generator reads, so one `.proto` contract serves both.
//!
//! For each service `Foo` the generated code has:
//!
//! * `trait Foo`: one `async fn` per method, in snake_case, taking the context that fits the
//!   handler kind and the request message, returning the response or a handler error;
//! * `FooServer<T: Foo>`: binds an implementation into a restate-sdk endpoint;
//! * `FooClient<'ctx>`: typed calls from inside a handler (call, send, send after a delay);
//! * `FooIngressClient`: typed calls from an application through the Restate ingress, with
//!   submit/attach/output for workflows;
//! * `mod foo`: `SERVICE_NAME` and `handler::*` name constants.
//!
//! There are three ways in, all calling the same core:
//!
//! 1. **build.rs**, with [`configure`]:
//!
//!    ```no_run
//!    protoc_gen_restate_rs::configure()
//!        .compile_protos(&["proto/hydra/v1/deploy.proto"], &["proto"])
//!        .unwrap();
//!    ```
//!
//!    then `restate_rs::include_proto!("hydra.v1")` in the crate. Messages are generated with
//!    prost and their proto3 JSON mapping with pbjson; the crate needs only `restate-rs` as a
//!    dependency. `.proto` files are parsed with protox, or with `protoc` when `PROTOC` is set.
//! 2. **protoc**: `protoc --plugin=protoc-gen-restate-rs --restate-rs_out=OUT ...` writes
//!    `<file>.restate.rs` beside the messages of protoc-gen-prost (see [`plugin`]).
//! 3. **buf**: the same plugin as a `local` plugin in `buf.gen.yaml`.
//!
//! ## Configuration from the proto
//!
//! What Restate lets a service declare about itself is written next to its contract, with our
//! own options from `restate_rs/options.proto` ([`RESTATE_RS_OPTIONS_PROTO`]; the builder
//! supplies it when the include path lacks it, protoc and buf pass it to the plugin as an
//! import):
//!
//! ```proto
//! import "restate_rs/options.proto";
//!
//! service Billing {
//!   option (dev.restate.sdk.go.service_type) = VIRTUAL_OBJECT;
//!   option (restate_rs.service) = {
//!     inactivity_timeout: "30s"
//!     idempotency_retention: "1d"
//!     retry_policy: { initial_interval: "500ms" max_attempts: 5 on_max_attempts: KILL }
//!   };
//!   rpc Charge(ChargeRequest) returns (ChargeResponse) {
//!     option (restate_rs.handler).journal_retention = "7d";
//!   }
//! }
//! ```
//!
//! `(restate_rs.service)` ([`Config`] of a [`Service`]) has `idempotency_retention`,
//! `journal_retention`, `inactivity_timeout`, `abort_timeout` (durations written `"500ms"`,
//! `"10s"`, `"5m"`, `"24h"`, `"7d"`, `"1h30m"`), `ingress_private`, `enable_lazy_state`,
//! `retry_policy` (`initial_interval`, `max_interval`, `max_attempts`,
//! `exponentiation_factor`, `on_max_attempts` `PAUSE` or `KILL`) and, for workflows,
//! `workflow_retention`; `(restate_rs.handler)` has the same fields, which override the
//! service's one by one (`workflow_retention` only on the run handler). The generated server
//! puts them in its discovery manifest (`idempotencyRetention`, ..., `retryPolicyOnMaxAttempts`,
//! `workflowCompletionRetention` on the run handler), so restate-server applies them when the
//! deployment is registered; code can still override them with restate-sdk's
//! `ServiceDefinition::options` (see the rustdoc of any generated `FooServer`).
//!
//! ## Checks
//!
//! Generation fails, naming file, service and method, on: streaming methods; a handler type
//! that does not fit its service type; a workflow without exactly one run handler; Rust names
//! that collide; a service without `service_type` when [`Builder::require_service_type`] (or the
//! plugin's `require_service_type`) asks for one. In the configuration: a duration that is not
//! one; a zero timeout or retry interval; a retry `max_interval` shorter than its
//! `initial_interval`; `max_attempts` 0; an `exponentiation_factor` below 1;
//! `workflow_retention` outside a workflow or on a shared handler; `idempotency_retention` on a
//! run handler; `enable_lazy_state` on a stateless service; a handler made public
//! (`ingress_private = false`) in an ingress-private service, which restate-server refuses.

mod builder;
mod codegen;
mod config;
mod ident;
mod keys;
mod model;
mod paths;
pub mod plugin;
mod schema;

pub use builder::{Builder, configure};
pub use config::{Config, OnMaxAttempts, RetryPolicy};
pub use keys::{KeyField, KeyFieldKind, KeyPart, KeyTemplate};
pub use model::{Diagnostic, Handler, HandlerKind, Service, ServiceKind};

use prost_reflect::DescriptorPool;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The Restate options file, as the Go generator defines it. Protos import it as
/// `dev/restate/sdk/go.proto`; the builder supplies it when the include path lacks it.
pub const RESTATE_OPTIONS_PROTO: &str = include_str!("../../proto/dev/restate/sdk/go.proto");

/// Where the options file is imported from.
pub const RESTATE_OPTIONS_PATH: &str = "dev/restate/sdk/go.proto";

/// Our own options file, for the configuration a service declares (`(restate_rs.service)`
/// and `(restate_rs.handler)`: retentions, timeouts, ingress-private, lazy state, retry
/// policy). Protos import it as `restate_rs/options.proto`; the builder supplies it when the
/// include path lacks it.
pub const RESTATE_RS_OPTIONS_PROTO: &str = include_str!("../../proto/restate_rs/options.proto");

/// Where our own options file is imported from.
pub const RESTATE_RS_OPTIONS_PATH: &str = "restate_rs/options.proto";

/// How payloads are encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Proto3 canonical JSON, `application/json` (the default, as the Go generator does).
    #[default]
    Json,
    /// Protobuf binary, `application/proto`.
    Binary,
}

/// What to generate and how; shared by the builder and the plugin.
#[derive(Debug, Clone)]
pub struct Options {
    /// Payload encoding.
    pub encoding: Encoding,
    /// Generate the service trait and its `FooServer` binding.
    pub server: bool,
    /// Generate `FooClient`, for calls from inside handlers.
    pub client: bool,
    /// Generate `FooIngressClient`, for calls through the ingress.
    pub ingress_client: bool,
    /// Give every trait method a default body answering a terminal 501 "not implemented".
    pub default_stubs: bool,
    /// Refuse services without an explicit `service_type` option.
    pub require_service_type: bool,
    /// `(".proto.prefix", "::rust::path")` pairs: types found elsewhere.
    pub extern_paths: Vec<(String, String)>,
    /// `(selector, attribute)` pairs: attributes put on the service traits that match the
    /// selector (`.` for all, `.pkg` for a package, `.pkg.Service` for one).
    pub service_attributes: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            encoding: Encoding::Json,
            server: true,
            client: true,
            ingress_client: true,
            default_stubs: false,
            require_service_type: false,
            extern_paths: Vec::new(),
            service_attributes: Vec::new(),
        }
    }
}

impl Options {
    /// The extern paths in force: the user's, then the well-known types from the runtime.
    fn all_extern_paths(&self) -> Vec<(String, String)> {
        let mut paths = self.extern_paths.clone();
        paths.push((
            ".google.protobuf".to_owned(),
            "::restate_rs::pbjson_types".to_owned(),
        ));
        paths
    }

    fn check(&self) -> Result<(), Error> {
        for (selector, attribute) in &self.service_attributes {
            let parsed = attribute
                .parse::<proc_macro2::TokenStream>()
                .ok()
                .and_then(|tokens| {
                    syn::parse::Parser::parse2(syn::Attribute::parse_outer, tokens).ok()
                });
            if parsed.is_none_or(|attrs| attrs.is_empty()) {
                return Err(Error::Options(format!(
                    "service attribute `{attribute}` for `{selector}` is not a Rust attribute such as `#[allow(missing_docs)]`"
                )));
            }
        }
        for (proto, rust) in &self.extern_paths {
            if syn::parse_str::<syn::Path>(rust).is_err() {
                return Err(Error::Options(format!(
                    "extern path `{rust}` for `{proto}` is not a Rust path such as `::my_crate::protos`"
                )));
            }
        }
        Ok(())
    }
}

/// How generated services are grouped into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One file per proto package, `<package>.restate.rs` (the build.rs layout).
    PerPackage,
    /// One file per `.proto` file with services, `<dir>/<name>.restate.rs` (the plugin layout).
    PerFile,
}

/// A file of generated code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Its name, relative to the output directory.
    pub name: String,
    /// The proto package its code belongs in.
    pub package: String,
    /// Rust source, starting with an `@generated` line.
    pub content: String,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The services break Restate's rules; every problem found is listed.
    #[error("{}", format_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
    /// The `.proto` files did not compile.
    #[error("{0}")]
    Compile(String),
    /// A generator option is wrong.
    #[error("invalid option: {0}")]
    Options(String),
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn format_diagnostics(diagnostics: &[Diagnostic]) -> String {
    let mut text = match diagnostics.len() {
        1 => "1 problem in the Restate services:".to_owned(),
        n => format!("{n} problems in the Restate services:"),
    };
    for d in diagnostics {
        text.push_str("\n  ");
        text.push_str(&d.to_string());
    }
    text
}

/// Reads the services of `files` (names as they appear in `pool`) into the model and checks
/// them, without generating code.
pub fn services(
    pool: &DescriptorPool,
    files: &[String],
    options: &Options,
) -> Result<Vec<Service>, Error> {
    let mut diagnostics = Vec::new();
    let mut services = Vec::new();
    let model_options = model::ModelOptions {
        require_service_type: options.require_service_type,
    };
    for name in files {
        let Some(file) = pool.get_file_by_name(name) else {
            return Err(Error::Compile(format!(
                "{name}: not found among the compiled files"
            )));
        };
        services.extend(model::services_of_file(
            pool,
            &file,
            model_options,
            &mut diagnostics,
        ));
    }
    check_names(pool, &services, &mut diagnostics);
    if diagnostics.is_empty() {
        Ok(services)
    } else {
        Err(Error::Invalid(diagnostics))
    }
}

/// Rust names that generated items would share with each other or with the package's
/// messages and enums, and method names the generated clients reserve.
fn check_names(pool: &DescriptorPool, services: &[Service], diagnostics: &mut Vec<Diagnostic>) {
    let mut taken: BTreeMap<(String, String), String> = BTreeMap::new();
    let packages: BTreeSet<&str> = services.iter().map(|s| s.package.as_str()).collect();
    for message in pool.all_messages().filter(|m| m.parent_message().is_none()) {
        if packages.contains(message.package_name()) {
            taken.insert(
                (
                    message.package_name().to_owned(),
                    ident::camel(message.name()),
                ),
                format!("message `{}`", message.full_name()),
            );
        }
    }
    for e in pool.all_enums().filter(|e| e.parent_message().is_none()) {
        if packages.contains(e.package_name()) {
            taken.insert(
                (e.package_name().to_owned(), ident::camel(e.name())),
                format!("enum `{}`", e.full_name()),
            );
        }
    }
    for service in services {
        let base = ident::camel(&service.name);
        let mut names = vec![
            base.clone(),
            format!("{base}Server"),
            format!("{base}Client"),
            format!("{base}IngressClient"),
        ];
        names.push(ident::snake(&service.name));
        for name in names {
            let key = (service.package.clone(), name.clone());
            if let Some(owner) = taken.get(&key) {
                if owner != &format!("service `{}`", service.full_name) {
                    diagnostics.push(Diagnostic {
                        file: service.file.clone(),
                        location: service.full_name.clone(),
                        message: format!("the generated Rust name `{name}` collides with {owner}; rename one of them"),
                    });
                }
            } else {
                taken.insert(key, format!("service `{}`", service.full_name));
            }
        }
        let mut reserved = vec!["new".to_owned()];
        if service.kind == ServiceKind::Workflow {
            reserved.extend(["submit", "attach", "output"].map(str::to_owned));
        }
        // A handler whose key the proto declares gets a second ingress method with an explicit
        // key, and one function per declared key at the package's level.
        for handler in &service.handlers {
            let method = ident::snake(&handler.name);
            let method = method.trim_start_matches("r#");
            if handler.key.is_some() {
                reserved.push(format!("{method}_with_key"));
                if handler.kind == HandlerKind::WorkflowRun {
                    reserved.push("submit_with_key".to_owned());
                }
            }
            for (declared, suffix) in [
                (handler.key.is_some(), "key"),
                (handler.idempotency_key.is_some(), "idempotency_key"),
            ] {
                if !declared {
                    continue;
                }
                let name = keys::function_name(&service.name, &handler.name, suffix);
                let key = (service.package.clone(), name.clone());
                let owner = format!("the keys of `{}.{}`", service.full_name, handler.name);
                match taken.get(&key) {
                    Some(other) if other != &owner => diagnostics.push(Diagnostic {
                        file: service.file.clone(),
                        location: format!("{}.{}", service.full_name, handler.name),
                        message: format!(
                            "the generated Rust name `{name}` collides with {other}; rename the service or the method"
                        ),
                    }),
                    _ => {
                        taken.insert(key, owner);
                    }
                }
            }
        }
        for handler in &service.handlers {
            let rust = ident::snake(&handler.name);
            if reserved.contains(&rust) {
                diagnostics.push(Diagnostic {
                    file: service.file.clone(),
                    location: format!("{}.{}", service.full_name, handler.name),
                    message: format!(
                        "its Rust name `{rust}` is reserved for the generated clients of this service; rename the method"
                    ),
                });
            }
        }
    }
}

/// Generates the Restate code for the services declared in `files` (names as they appear in
/// `pool`, which must also hold their imports), grouped as `layout` says. Files or packages
/// without services produce no output.
pub fn generate(
    pool: &DescriptorPool,
    files: &[String],
    options: &Options,
    layout: Layout,
) -> Result<Vec<GeneratedFile>, Error> {
    options.check()?;
    let services = services(pool, files, options)?;
    let resolver = paths::Resolver::new(&options.all_extern_paths());
    let mut groups: BTreeMap<(String, String), Vec<Service>> = BTreeMap::new();
    for service in services {
        let name = match layout {
            Layout::PerPackage => format!("{}.restate.rs", package_file_stem(&service.package)),
            Layout::PerFile => format!("{}.restate.rs", service.file.trim_end_matches(".proto")),
        };
        groups
            .entry((name, service.package.clone()))
            .or_default()
            .push(service);
    }
    Ok(groups
        .into_iter()
        .map(|((name, package), services)| GeneratedFile {
            content: codegen::generate(pool, &resolver, &package, &services, options),
            name,
            package,
        })
        .collect())
}

/// The file stem prost-build uses for a package (`_` for the empty package).
pub(crate) fn package_file_stem(package: &str) -> String {
    if package.is_empty() {
        "_".to_owned()
    } else {
        package.to_owned()
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceKind::Service => "SERVICE",
            ServiceKind::VirtualObject => "VIRTUAL_OBJECT",
            ServiceKind::Workflow => "WORKFLOW",
        })
    }
}
