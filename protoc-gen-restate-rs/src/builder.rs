//! The build.rs builder: `.proto` files in, one Rust module body per proto package out.

use crate::{
    Encoding, Error, Layout, Options, RESTATE_OPTIONS_PATH, RESTATE_OPTIONS_PROTO,
    RESTATE_RS_OPTIONS_PATH, RESTATE_RS_OPTIONS_PROTO, generate, package_file_stem,
};
use prost::Message;
use prost_reflect::DescriptorPool;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Starts a [`Builder`] with the defaults: JSON payloads, messages, servers, clients and
/// ingress clients all generated.
pub fn configure() -> Builder {
    Builder::default()
}

/// Generates messages (prost), their JSON mapping (pbjson) and Restate services (ours) from
/// `.proto` files, for `build.rs`.
///
/// For every proto package it writes `<package>.mod.rs` to `OUT_DIR` (or [`out_dir`](Builder::out_dir)),
/// which `restate_rs::include_proto!("<package>")` includes.
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     protoc_gen_restate_rs::configure()
///         .require_service_type(true)
///         .compile_protos(&["proto/hydra/v1/deploy.proto"], &["proto"])?;
///     Ok(())
/// }
/// ```
///
/// The `.proto` files are parsed in-process with protox, so no `protoc` is needed; when the
/// `PROTOC` environment variable names a protoc binary, that is used instead.
/// `dev/restate/sdk/go.proto` (Restate's service and handler types) and
/// `restate_rs/options.proto` (our service configuration) are supplied when the include path
/// does not have them.
#[derive(Debug, Clone)]
pub struct Builder {
    options: Options,
    messages: bool,
    out_dir: Option<PathBuf>,
    type_attributes: Vec<(String, String)>,
    emit_rerun: bool,
    protoc: Option<PathBuf>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            options: Options::default(),
            messages: true,
            out_dir: None,
            type_attributes: Vec::new(),
            emit_rerun: true,
            protoc: None,
        }
    }
}

impl Builder {
    /// Payload encoding: JSON (default) or binary protobuf.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.options.encoding = encoding;
        self
    }

    /// Generate messages with prost and, for JSON, their serde impls with pbjson (default
    /// `true`). Turn off when the messages come from elsewhere (see [`extern_path`](Self::extern_path)).
    pub fn messages(mut self, enable: bool) -> Self {
        self.messages = enable;
        self
    }

    /// Generate service traits and `FooServer` bindings (default `true`).
    pub fn server(mut self, enable: bool) -> Self {
        self.options.server = enable;
        self
    }

    /// Generate `FooClient` for calls from handlers (default `true`).
    pub fn client(mut self, enable: bool) -> Self {
        self.options.client = enable;
        self
    }

    /// Generate `FooIngressClient` for calls through the ingress (default `true`).
    pub fn ingress_client(mut self, enable: bool) -> Self {
        self.options.ingress_client = enable;
        self
    }

    /// Give trait methods default bodies that answer a terminal 501 "not implemented", so an
    /// implementation can start with some methods (default `false`).
    pub fn default_stubs(mut self, enable: bool) -> Self {
        self.options.default_stubs = enable;
        self
    }

    /// Refuse services that do not set `service_type` explicitly (default `false`: such a
    /// service is a stateless SERVICE, as with the Go generator).
    pub fn require_service_type(mut self, enable: bool) -> Self {
        self.options.require_service_type = enable;
        self
    }

    /// Types under the proto path `proto_path` (like `.acme.common`) are found at the Rust
    /// path `rust_path` (like `::acme_protos::common`) instead of being generated.
    pub fn extern_path(
        mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Self {
        self.options
            .extern_paths
            .push((proto_path.into(), rust_path.into()));
        self
    }

    /// Puts `attribute` (like `#[allow(missing_docs)]`) on the service traits matching
    /// `selector`: `.` for all, `.pkg` for a package, `.pkg.Service` for one.
    pub fn service_attribute(
        mut self,
        selector: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Self {
        self.options
            .service_attributes
            .push((selector.into(), attribute.into()));
        self
    }

    /// Puts `attribute` on the messages and enums matching `path`, as prost-build's
    /// `type_attribute` does.
    pub fn type_attribute(mut self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.type_attributes.push((path.into(), attribute.into()));
        self
    }

    /// Where to write (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Parse the `.proto` files with this `protoc` binary instead of in-process (protox).
    /// Without it, the `PROTOC` environment variable is honoured when set.
    pub fn protoc(mut self, protoc: impl Into<PathBuf>) -> Self {
        self.protoc = Some(protoc.into());
        self
    }

    /// Print `cargo:rerun-if-changed` lines for the protos and include directories
    /// (default `true`).
    pub fn emit_rerun_if_changed(mut self, enable: bool) -> Self {
        self.emit_rerun = enable;
        self
    }

    /// Compiles `protos`, resolving imports in `includes`, and writes the generated code.
    pub fn compile_protos(
        self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        self.options.check()?;
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    Error::Options(
                        "OUT_DIR is not set: call compile_protos from build.rs, or set out_dir"
                            .to_owned(),
                    )
                })?,
        };
        std::fs::create_dir_all(&out_dir).map_err(|source| Error::Io {
            context: format!("creating {}", out_dir.display()),
            source,
        })?;
        let protos: Vec<PathBuf> = protos.iter().map(|p| p.as_ref().to_path_buf()).collect();
        let mut includes: Vec<PathBuf> =
            includes.iter().map(|p| p.as_ref().to_path_buf()).collect();
        if self.emit_rerun {
            for path in protos.iter().chain(&includes) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            println!("cargo:rerun-if-env-changed=PROTOC");
        }

        // The options files come last on the include path, so a project's own copy wins.
        let options_dir = out_dir.join("restate-rs-include");
        write(
            &options_dir.join(RESTATE_OPTIONS_PATH),
            RESTATE_OPTIONS_PROTO,
        )?;
        write(
            &options_dir.join(RESTATE_RS_OPTIONS_PATH),
            RESTATE_RS_OPTIONS_PROTO,
        )?;
        includes.push(options_dir);

        let protoc = self.protoc.clone().or_else(|| {
            std::env::var_os("PROTOC")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        });
        let descriptor_bytes = match protoc {
            Some(protoc) => run_protoc(Path::new(&protoc), &protos, &includes, &out_dir)?,
            _ => run_protox(&protos, &includes)?,
        };
        let pool = crate::plugin::decode_pool(&descriptor_bytes, "the compiled descriptors")?;
        let requested = requested_files(&pool, &protos, &includes)?;

        let services = generate(&pool, &requested, &self.options, Layout::PerPackage)?;

        let extern_paths = self.options.all_extern_paths();
        let is_extern = |package: &str| {
            let dotted = format!(".{package}");
            extern_paths
                .iter()
                .any(|(p, _)| dotted == *p || dotted.starts_with(&format!("{p}.")))
        };
        let packages: BTreeSet<String> = pool
            .files()
            .map(|f| f.package_name().to_owned())
            .filter(|p| !is_extern(p))
            .collect();

        if self.messages {
            self.generate_messages(&descriptor_bytes, &packages, &out_dir)?;
        }

        for package in &packages {
            let stem = package_file_stem(package);
            let mut includes = String::new();
            let mut uses = String::new();
            if self.messages && out_dir.join(format!("{stem}.rs")).exists() {
                includes.push_str(&format!("include!(\"{stem}.rs\");\n"));
            }
            if self.messages
                && self.options.encoding == Encoding::Json
                && out_dir.join(format!("{stem}.serde.rs")).exists()
            {
                uses.push_str(
                    "#[allow(unused_imports)]\nuse ::restate_rs::__codegen::{pbjson, serde};\n",
                );
                includes.push_str(&format!("include!(\"{stem}.serde.rs\");\n"));
            }
            if let Some(file) = services.iter().find(|f| &f.package == package) {
                write(&out_dir.join(&file.name), &file.content)?;
                includes.push_str(&format!("include!(\"{}\");\n", file.name));
            }
            let content = format!(
                "// @generated by protoc-gen-restate-rs: the module of proto package `{package}`.\n{uses}{includes}"
            );
            write(&out_dir.join(format!("{stem}.mod.rs")), &content)?;
        }
        Ok(())
    }

    fn generate_messages(
        &self,
        descriptor_bytes: &[u8],
        packages: &BTreeSet<String>,
        out_dir: &Path,
    ) -> Result<(), Error> {
        let set = prost_types::FileDescriptorSet::decode(descriptor_bytes)
            .map_err(|e| Error::Compile(format!("invalid descriptor set: {e}")))?;
        let mut prost = prost_build::Config::new();
        prost
            .out_dir(out_dir)
            .prost_path("::restate_rs::prost")
            .compile_well_known_types();
        for (proto, rust) in self.options.all_extern_paths() {
            prost.extern_path(proto, rust);
        }
        for (path, attribute) in &self.type_attributes {
            prost.type_attribute(path, attribute);
        }
        prost
            .compile_fds(set)
            .map_err(|e| Error::Compile(format!("prost-build failed: {e}")))?;

        if self.options.encoding != Encoding::Json {
            return Ok(());
        }
        let mut pbjson = pbjson_build::Builder::new();
        pbjson.register_descriptors(descriptor_bytes).map_err(|e| {
            Error::Compile(format!("pbjson-build cannot read the descriptors: {e}"))
        })?;
        for (proto, rust) in self.options.all_extern_paths() {
            pbjson.extern_path(proto, rust);
        }
        let prefixes: Vec<String> = packages.iter().map(|p| format!(".{p}")).collect();
        let outputs = pbjson
            .generate(&prefixes, |_| Ok(Vec::<u8>::new()))
            .map_err(|e| Error::Compile(format!("pbjson-build failed: {e}")))?;
        for (package, bytes) in outputs {
            // pbjson-build has no crate path option: route its absolute paths through the
            // runtime's re-export, so the user's crate needs no pbjson dependency.
            let text = String::from_utf8_lossy(&bytes)
                .replace("::pbjson::", "::restate_rs::__codegen::pbjson::");
            write(&out_dir.join(format!("{package}.serde.rs")), &text)?;
        }
        Ok(())
    }
}

fn write(path: &Path, content: &str) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            context: format!("creating {}", parent.display()),
            source,
        })?;
    }
    // Leave unchanged files alone so that cargo does not rebuild for nothing.
    if std::fs::read_to_string(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    std::fs::write(path, content).map_err(|source| Error::Io {
        context: format!("writing {}", path.display()),
        source,
    })
}

fn run_protox(protos: &[PathBuf], includes: &[PathBuf]) -> Result<Vec<u8>, Error> {
    let mut compiler =
        protox::Compiler::new(includes).map_err(|e| Error::Compile(protox_message(&e)))?;
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_files(protos)
        .map_err(|e| Error::Compile(protox_message(&e)))?;
    Ok(compiler.encode_file_descriptor_set())
}

/// A protox error as `file:line:column: message (help)`, like protoc's.
fn protox_message(error: &protox::Error) -> String {
    use miette::Diagnostic;
    let position = error.source_code().and_then(|source| {
        let label = error.labels()?.next()?;
        let span = source.read_span(label.inner(), 0, 0).ok()?;
        Some(format!("{}:{}", span.line() + 1, span.column() + 1))
    });
    let mut text = match (error.file(), position) {
        (Some(file), Some(position)) => format!("{file}:{position}: {error}"),
        (Some(file), None) => format!("{file}: {error}"),
        (None, _) => error.to_string(),
    };
    if let Some(help) = error.help() {
        text.push_str(&format!(" ({help})"));
    }
    text
}

fn run_protoc(
    protoc: &Path,
    protos: &[PathBuf],
    includes: &[PathBuf],
    out_dir: &Path,
) -> Result<Vec<u8>, Error> {
    let set_path = out_dir.join("restate-rs-descriptors.bin");
    let mut command = Command::new(protoc);
    command
        .arg("--include_imports")
        .arg("--include_source_info")
        .arg(format!("--descriptor_set_out={}", set_path.display()));
    for include in includes {
        command.arg(format!("-I{}", include.display()));
    }
    command.args(protos);
    let output = command.output().map_err(|source| Error::Io {
        context: format!("running protoc `{}`", protoc.display()),
        source,
    })?;
    if !output.status.success() {
        return Err(Error::Compile(format!(
            "protoc `{}` failed ({}):\n{}",
            protoc.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    std::fs::read(&set_path).map_err(|source| Error::Io {
        context: format!("reading {}", set_path.display()),
        source,
    })
}

/// The names (as the pool knows them) of the files the user asked for: each path made
/// relative to the include directory that holds it.
fn requested_files(
    pool: &DescriptorPool,
    protos: &[PathBuf],
    includes: &[PathBuf],
) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    for proto in protos {
        let direct = proto.to_string_lossy().replace('\\', "/");
        let found = includes
            .iter()
            .filter_map(|include| proto.strip_prefix(include).ok())
            .map(|rel| rel.to_string_lossy().replace('\\', "/"))
            .chain(std::iter::once(direct.clone()))
            .find(|name| pool.get_file_by_name(name).is_some());
        match found {
            Some(name) => names.push(name),
            None => {
                return Err(Error::Compile(format!(
                    "{}: not found under any include directory ({})",
                    proto.display(),
                    includes
                        .iter()
                        .map(|i| i.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    Ok(names)
}
