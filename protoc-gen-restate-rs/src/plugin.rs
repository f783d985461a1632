//! The protoc plugin: a `CodeGeneratorRequest` in, a `CodeGeneratorResponse` out.
//!
//! ```sh
//! protoc --plugin=protoc-gen-restate-rs=target/release/protoc-gen-restate-rs \
//!        --prost_out=gen --restate-rs_out=gen --restate-rs_opt=require_service_type \
//!        -I proto proto/hydra/v1/deploy.proto
//! ```
//!
//! For each requested file with services it writes `<dir>/<name>.restate.rs`, to be included
//! in the module that holds the file's messages (as protoc-gen-prost writes them). Errors,
//! including broken services and unknown parameters, are returned in the response's `error`
//! field, which protoc prints with the plugin's name; the plugin itself never panics on input.
//!
//! Parameters (`--restate-rs_opt=a,b=c,...`):
//!
//! | parameter | meaning |
//! | --- | --- |
//! | `encoding=json` / `encoding=binary` (or `json`, `binary`) | payload encoding; JSON by default |
//! | `server=false`, `client=false`, `ingress_client=false` | leave out a part |
//! | `default_stubs` | trait methods answer a terminal 501 unless implemented |
//! | `require_service_type` | refuse services without an explicit `service_type` |
//! | `extern_path=.pkg=::rust::path` | types of `.pkg` live at `::rust::path` (repeatable) |
//! | `service_attribute=.selector=#[attr]` | put an attribute on matching service traits |
//!
//! Boolean parameters take `=true`/`=false`, or stand alone for `true`.

use crate::{Encoding, Error, Layout, Options, generate};
use prost::Message;
use prost_reflect::DescriptorPool;

/// protoc's `CodeGeneratorRequest`, keeping each file descriptor as raw bytes so that the
/// Restate options (extensions) survive until prost-reflect reads them.
#[derive(Clone, PartialEq, Message)]
pub struct CodeGeneratorRequest {
    /// The files protoc was asked to generate.
    #[prost(string, repeated, tag = "1")]
    pub file_to_generate: Vec<String>,
    /// The `--restate-rs_opt` text.
    #[prost(string, optional, tag = "2")]
    pub parameter: Option<String>,
    /// Every file of the request and its imports, as encoded `FileDescriptorProto`s.
    #[prost(bytes = "vec", repeated, tag = "15")]
    pub proto_file: Vec<Vec<u8>>,
}

/// protoc's `CodeGeneratorResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct CodeGeneratorResponse {
    /// Set when generation failed; protoc prints it.
    #[prost(string, optional, tag = "1")]
    pub error: Option<String>,
    /// Features the plugin supports.
    #[prost(uint64, optional, tag = "2")]
    pub supported_features: Option<u64>,
    /// Generated files.
    #[prost(message, repeated, tag = "15")]
    pub file: Vec<ResponseFile>,
}

/// One generated file in a [`CodeGeneratorResponse`].
#[derive(Clone, PartialEq, Message)]
pub struct ResponseFile {
    /// Path relative to the output directory.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// File content.
    #[prost(string, optional, tag = "15")]
    pub content: Option<String>,
}

/// `FEATURE_PROTO3_OPTIONAL`: without it protoc refuses files with `optional` fields.
const FEATURE_PROTO3_OPTIONAL: u64 = 1;

/// Decodes a request, generates, and encodes the response. Every failure, a malformed
/// request included, ends up in the response's `error` field.
pub fn run(request: &[u8]) -> Vec<u8> {
    let response = match CodeGeneratorRequest::decode(request) {
        Ok(request) => respond(&request),
        Err(e) => failure(format!(
            "cannot decode the CodeGeneratorRequest on standard input: {e}"
        )),
    };
    response.encode_to_vec()
}

fn failure(message: String) -> CodeGeneratorResponse {
    CodeGeneratorResponse {
        error: Some(message),
        supported_features: Some(FEATURE_PROTO3_OPTIONAL),
        file: Vec::new(),
    }
}

/// Answers a decoded request.
pub fn respond(request: &CodeGeneratorRequest) -> CodeGeneratorResponse {
    match try_respond(request) {
        Ok(files) => CodeGeneratorResponse {
            error: None,
            supported_features: Some(FEATURE_PROTO3_OPTIONAL),
            file: files,
        },
        Err(e) => failure(e.to_string()),
    }
}

fn try_respond(request: &CodeGeneratorRequest) -> Result<Vec<ResponseFile>, Error> {
    let options = parse_parameters(request.parameter.as_deref().unwrap_or(""))?;
    let pool = pool_from_files(&request.proto_file)?;
    let files = generate(&pool, &request.file_to_generate, &options, Layout::PerFile)?;
    Ok(files
        .into_iter()
        .map(|f| ResponseFile {
            name: Some(f.name),
            content: Some(f.content),
        })
        .collect())
}

/// Builds a descriptor pool from encoded `FileDescriptorProto`s, keeping their options whole.
pub fn pool_from_files(files: &[Vec<u8>]) -> Result<DescriptorPool, Error> {
    // A FileDescriptorSet is `repeated FileDescriptorProto file = 1`: write it by hand so the
    // bytes pass through untouched.
    let mut set = Vec::with_capacity(files.iter().map(|f| f.len() + 6).sum());
    for file in files {
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut set);
        prost::encoding::encode_varint(file.len() as u64, &mut set);
        set.extend_from_slice(file);
    }
    decode_pool(&set, "the file descriptors protoc sent")
}

/// The two fields of a `FileDescriptorProto` checked before the whole file is read.
#[derive(Clone, PartialEq, Message)]
struct FileHeader {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "12")]
    syntax: Option<String>,
}

/// Only the file list of a `FileDescriptorSet`, each file's header decoded.
#[derive(Clone, PartialEq, Message)]
struct SetHeader {
    #[prost(message, repeated, tag = "1")]
    file: Vec<FileHeader>,
}

/// Decodes an encoded `FileDescriptorSet` into a pool, refusing with a clear error what the
/// generator does not read: files in another syntax than proto2 or proto3 (editions among
/// them), and anything the descriptor library cannot take. `what` names the bytes' origin.
pub(crate) fn decode_pool(set: &[u8], what: &str) -> Result<DescriptorPool, Error> {
    let header =
        SetHeader::decode(set).map_err(|e| Error::Compile(format!("{what} are not valid: {e}")))?;
    for (index, file) in header.file.iter().enumerate() {
        let syntax = file.syntax.as_deref().unwrap_or("");
        if !matches!(syntax, "" | "proto2" | "proto3") {
            let name = match file.name.as_deref() {
                Some(name) if !name.is_empty() => format!("`{name}`"),
                _ => format!("file #{} (unnamed)", index + 1),
            };
            let hint = if syntax == "editions" {
                "protobuf editions are not supported yet; use `syntax = \"proto3\";` or `syntax = \"proto2\";`"
            } else {
                "only proto2 and proto3 are supported"
            };
            return Err(Error::Compile(format!(
                "{what} are not valid: {name} declares syntax {syntax:?}: {hint}"
            )));
        }
    }
    // The descriptor library has panicked on inputs it should refuse; whatever else it may
    // panic on becomes an error here, never a crashed build script or plugin.
    match std::panic::catch_unwind(|| DescriptorPool::decode(set)) {
        Ok(Ok(pool)) => Ok(pool),
        Ok(Err(e)) => Err(Error::Compile(format!("{what} are not valid: {e}"))),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Err(Error::Compile(format!(
                "{what} could not be read: the descriptor library failed on them ({reason})"
            )))
        }
    }
}

const PARAMETERS: &str = "encoding=json|binary, json, binary, server, client, ingress_client, default_stubs, require_service_type, extern_path=.pkg=::path, service_attribute=.selector=#[attr]";

/// Parses `--restate-rs_opt` text into options.
pub fn parse_parameters(text: &str) -> Result<Options, Error> {
    let mut options = Options::default();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (item, None),
        };
        let flag = |value: Option<&str>| -> Result<bool, Error> {
            match value {
                None | Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => Err(Error::Options(format!(
                    "parameter `{key}` takes `true` or `false`, not `{other}`"
                ))),
            }
        };
        let pair = |value: Option<&str>, what: &str| -> Result<(String, String), Error> {
            value
                .and_then(|v| v.split_once('='))
                .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .ok_or_else(|| {
                    Error::Options(format!(
                        "parameter `{key}` takes `{what}`, as in `{key}={what}`"
                    ))
                })
        };
        match key {
            "encoding" => {
                options.encoding = match value {
                    Some("json") => Encoding::Json,
                    Some("binary") => Encoding::Binary,
                    other => {
                        return Err(Error::Options(format!(
                            "parameter `encoding` takes `json` or `binary`, not `{}`",
                            other.unwrap_or("")
                        )));
                    }
                }
            }
            "json" if value.is_none() => options.encoding = Encoding::Json,
            "binary" if value.is_none() => options.encoding = Encoding::Binary,
            "server" => options.server = flag(value)?,
            "client" => options.client = flag(value)?,
            "ingress_client" => options.ingress_client = flag(value)?,
            "default_stubs" => options.default_stubs = flag(value)?,
            "require_service_type" => options.require_service_type = flag(value)?,
            "extern_path" => options.extern_paths.push(pair(value, ".pkg=::rust::path")?),
            "service_attribute" => options
                .service_attributes
                .push(pair(value, ".selector=#[attr]")?),
            _ => {
                return Err(Error::Options(format!(
                    "unknown parameter `{item}`; known parameters: {PARAMETERS}"
                )));
            }
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        let o =
            parse_parameters("binary, default_stubs,client=false,extern_path=.a.b=::x::y").unwrap();
        assert_eq!(o.encoding, Encoding::Binary);
        assert!(o.default_stubs && !o.client && o.server && o.ingress_client);
        assert_eq!(
            o.extern_paths,
            vec![(".a.b".to_owned(), "::x::y".to_owned())]
        );
        let e = parse_parameters("frobnicate").unwrap_err().to_string();
        assert!(
            e.starts_with("invalid option: unknown parameter `frobnicate`; known parameters: "),
            "{e}"
        );
        let e = parse_parameters("server=maybe").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid option: parameter `server` takes `true` or `false`, not `maybe`"
        );
        let e = parse_parameters("extern_path=.a").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid option: parameter `extern_path` takes `.pkg=::rust::path`, as in `extern_path=.pkg=::rust::path`"
        );
    }

    #[test]
    fn garbage_request_is_an_error_response() {
        let bytes = run(&[0xff, 0xff, 0xff]);
        let response = CodeGeneratorResponse::decode(bytes.as_slice()).unwrap();
        assert!(
            response
                .error
                .unwrap()
                .starts_with("cannot decode the CodeGeneratorRequest")
        );
    }
}
