//! The engine's ingress: the HTTP paths restate-server's ingress serves, answered by the
//! embedded engine, so that the generated ingress clients and `curl` work unchanged on both.
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /{service}[/{key}]/{handler}` | the output (200), or the terminal error `{"code","message"}` |
//! | `POST .../send[?delay=10s]` | 202 `{"invocationId","status"}` |
//! | `GET /restate/invocation/{id}/attach`, `.../output` | the output; `output` before completion: 470 |
//! | `GET /restate/invocation/{service}[/{key}]/{handler}/{idempotency-key}/attach`, `.../output` | the same, by idempotency key |
//! | `GET /restate/workflow/{workflow}/{id}/attach`, `.../output` | the same, for a workflow run |
//! | `POST /restate/awakeables/{id}/resolve`, `.../reject` | 202 |
//! | `GET /restate/health` | 200 |
//!
//! Answers carry `x-restate-id` where an invocation is concerned, and errors say who raised
//! them in `x-restate-error-source` (`invocation` or `ingress`), as restate-server 1.7 does.
//!
//! This file is only the HTTP side: [`Engine::handle_ingress`] parses a request into the typed
//! request of the in-process ingress (`HandlerRequest`, `InvocationRef`), hands it to the
//! functions in `transport.rs` that the in-process client reaches too (they hold the checks),
//! and encodes their typed answer (`Completion`, `SendResponse`, `Rejection`) as the response.
//! Only what HTTP alone has is decided here: the paths and their shapes, methods, the `delay`
//! query, bearer tokens, the body limit of the server.

use crate::engine::Engine;
use crate::engine::transport::{bounded_delay, check_size, rejection};
use crate::ingress::{
    Completion, HandlerAddress, HandlerRequest, InvocationRef, Rejection, TerminalFailure,
};
use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode};
use serde_json::json;
use std::time::Duration;

/// The largest request body the ingress accepts, as restate-server's default
/// (`ingress.request-size-limit`, 32 MiB).
pub const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;

impl Engine {
    /// Answers one ingress request, as restate-server's ingress would.
    pub async fn handle_ingress(&self, request: http::Request<Bytes>) -> Response<Bytes> {
        let (parts, body) = request.into_parts();
        if let Err(rejection) = check_size(body.len()) {
            return rejection_response(rejection);
        }
        let segments: Vec<String> = parts
            .uri
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        let query = parts.uri.query().unwrap_or("");
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (parts.method.clone(), segs.as_slice()) {
            (Method::GET, ["restate", "health"]) => plain(StatusCode::OK, ""),
            (Method::GET, ["restate", "invocation", id, action @ ("attach" | "output")]) => {
                let invocation = InvocationRef::Id((*id).to_owned());
                completion_response(self.ingress_lookup(invocation, *action == "attach").await)
            }
            (
                Method::GET,
                [
                    "restate",
                    "workflow",
                    workflow,
                    id,
                    action @ ("attach" | "output"),
                ],
            ) => {
                let invocation = InvocationRef::Workflow {
                    name: (*workflow).to_owned(),
                    id: (*id).to_owned(),
                };
                completion_response(self.ingress_lookup(invocation, *action == "attach").await)
            }
            (
                Method::GET,
                [
                    "restate",
                    "invocation",
                    rest @ ..,
                    key_or_handler,
                    idem,
                    action @ ("attach" | "output"),
                ],
            ) => {
                let (service, key) = match rest {
                    [service] => (service, None),
                    [service, key] => (service, Some(*key)),
                    _ => return ingress_error(StatusCode::NOT_FOUND, "bad path"),
                };
                let invocation = InvocationRef::Idempotent {
                    target: address(service, key, key_or_handler),
                    idempotency_key: (*idem).to_owned(),
                };
                completion_response(self.ingress_lookup(invocation, *action == "attach").await)
            }
            (Method::POST, ["restate", "awakeables", id, action @ ("resolve" | "reject")]) => {
                let result = if *action == "resolve" {
                    self.resolve_awakeable(id, body).await
                } else {
                    let message = String::from_utf8_lossy(&body).into_owned();
                    self.reject_awakeable(id, 500, &message).await
                };
                match result {
                    Ok(()) => plain(StatusCode::ACCEPTED, ""),
                    Err(e) => rejection_response(rejection(e)),
                }
            }
            // restate-server takes a GET on a handler's path as an invocation without a body.
            (Method::POST | Method::GET, _) => {
                let path = parts.uri.path();
                let (segs, send) = match segs.split_last() {
                    Some((&"send", rest)) => (rest, true),
                    _ => (&segs[..], false),
                };
                let target = match segs {
                    [] => {
                        return ingress_error(
                            StatusCode::BAD_REQUEST,
                            &format!(
                                "bad path {path}: expected /<service>/<handler> or /<object>/<key>/<handler>"
                            ),
                        );
                    }
                    [service, handler] => address(service, None, handler),
                    [service, key, handler] => address(service, Some(key), handler),
                    [service, ..] => return rejection_response(self.misaddressed(service, path)),
                };
                // The engine does not hand the other headers to the handler.
                let request = HandlerRequest {
                    target,
                    input: body,
                    content_type: header("content-type"),
                    accept: header("accept"),
                    idempotency_key: header("idempotency-key"),
                    headers: Vec::new(),
                };
                let admitted = match self.check_ingress(request, |_| path.to_owned()) {
                    Ok(admitted) => admitted,
                    Err(rejection) => return rejection_response(rejection),
                };
                if !send {
                    return completion_response(self.ingress_call(admitted).await);
                }
                let delay = match query_value(query, "delay").map(parse_duration).transpose() {
                    Ok(delay) => delay,
                    Err(e) => return ingress_error(StatusCode::BAD_REQUEST, &e),
                };
                match self.ingress_send(admitted, delay).await {
                    Ok(sent) => {
                        let body = json!({"invocationId": sent.invocation_id, "status": sent.status.as_str()});
                        with_id(
                            json_response(StatusCode::ACCEPTED, body.to_string()),
                            &sent.invocation_id,
                        )
                    }
                    Err(rejection) => rejection_response(rejection),
                }
            }
            _ => ingress_error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!(
                    "method {} not allowed on {}: invocations are POST",
                    parts.method,
                    parts.uri.path()
                ),
            ),
        }
    }
}

fn address(service: &str, key: Option<&str>, handler: &str) -> HandlerAddress {
    HandlerAddress {
        service: service.to_owned(),
        key: key.map(str::to_owned),
        handler: handler.to_owned(),
    }
}

/// A call's, attach's or output's answer as the ingress answers it.
fn completion_response(answer: Result<Completion, Rejection>) -> Response<Bytes> {
    match answer {
        Ok(completion) => outcome_response(&completion.invocation_id, completion.result),
        Err(rejection) => rejection_response(rejection),
    }
}

/// An outcome as the ingress answers it: the output, or the terminal failure with its code.
fn outcome_response(
    invocation_id: &str,
    result: Result<Bytes, TerminalFailure>,
) -> Response<Bytes> {
    let response = match result {
        Ok(bytes) => {
            let mut response = Response::new(bytes);
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            response
        }
        Err(TerminalFailure { code, message }) => {
            let status = StatusCode::from_u16(code)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error());
            error_response(
                status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                code,
                &message,
                "invocation",
            )
        }
    };
    with_id(response, invocation_id)
}

/// A refusal as the ingress answers it, with its status; "not ready" names the invocation.
fn rejection_response(rejection: Rejection) -> Response<Bytes> {
    let status = StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::CONFLICT);
    let response = ingress_error(status, rejection.message());
    match &rejection {
        Rejection::NotReady { invocation_id } => with_id(response, invocation_id),
        _ => response,
    }
}

/// What a handler accepts as its request body, from the `input` of the deployment's manifest,
/// checked before an invocation is created, as restate-server checks it: the request's
/// content type must match the declared one, no body where none is declared, and no empty
/// body sent as JSON.
#[derive(Debug, Clone)]
pub(in crate::engine) struct InputRule {
    /// The content type the body must have (`*/*` and `type/*` match as in `Accept`);
    /// `None`: the handler takes no body.
    content_type: Option<String>,
    /// A content type must be sent, even with an empty body.
    required: bool,
}

impl InputRule {
    /// Reads a handler's `input`; an absent one is the manifest's default (`*/*`, optional).
    pub(in crate::engine) fn from_manifest(input: &serde_json::Value) -> InputRule {
        if input.is_null() {
            return InputRule {
                content_type: Some("*/*".to_owned()),
                required: false,
            };
        }
        InputRule {
            content_type: input["contentType"].as_str().map(str::to_owned),
            required: input["required"].as_bool().unwrap_or(false),
        }
    }

    /// Whether a request with this content type and body may invoke the handler; if not,
    /// why not.
    pub(in crate::engine) fn check(
        &self,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), String> {
        match (content_type, self.content_type.as_deref()) {
            (None, _) if body.is_empty() && !self.required => Ok(()),
            (None, None) => Err("the handler takes no input, but the request has a body".into()),
            (None, Some(expected)) => Err(format!(
                "the request has no content-type; the handler takes '{expected}'"
            )),
            (Some(actual), None) => Err(format!(
                "the handler takes no input, but the request has content-type '{actual}'"
            )),
            (Some(actual), Some(expected)) => {
                if !media_type_matches(actual, expected) {
                    Err(format!(
                        "content-type '{actual}' does not match '{expected}'"
                    ))
                } else if body.is_empty() && essence(expected) == "application/json" {
                    Err(
                        "an empty body is not a JSON value; send no content-type for no input"
                            .into(),
                    )
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// A media type without its parameters: `application/json; charset=utf-8` → `application/json`.
fn essence(media_type: &str) -> &str {
    media_type.split(';').next().unwrap_or("").trim()
}

/// Whether `actual` matches `pattern` (`*/*`, `type/*` or `type/subtype`; parameters
/// ignored). Compared exactly, letter case included, as restate-server compares them.
fn media_type_matches(actual: &str, pattern: &str) -> bool {
    let (Some((kind, sub)), Some((want_kind, want_sub))) = (
        essence(actual).split_once('/'),
        essence(pattern).split_once('/'),
    ) else {
        return false;
    };
    want_kind == "*" || (want_kind == kind && (want_sub == "*" || want_sub == sub))
}

fn with_id(mut response: Response<Bytes>, invocation_id: &str) -> Response<Bytes> {
    if let Ok(value) = HeaderValue::from_str(invocation_id) {
        response.headers_mut().insert("x-restate-id", value);
    }
    response
}

pub(super) fn json_response(status: StatusCode, body: String) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn plain(status: StatusCode, body: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = status;
    response
}

fn ingress_error(status: StatusCode, message: &str) -> Response<Bytes> {
    error_response(status, status.as_u16(), message, "ingress")
}

/// An error answer as restate-server gives it: `{"code","message","source"}` and the source
/// (`ingress` or `invocation`) in `x-restate-error-source`.
fn error_response(
    status: StatusCode,
    code: u16,
    message: &str,
    source: &'static str,
) -> Response<Bytes> {
    let mut response = json_response(
        status,
        json!({"code": code, "message": message, "source": source}).to_string(),
    );
    response
        .headers_mut()
        .insert("x-restate-error-source", HeaderValue::from_static(source));
    response
}

pub(super) fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        pair.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

/// `500ms`, `10s`, `5m`, `2h`, `1d`, or a bare number of milliseconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    let n: u128 = digits
        .parse()
        .map_err(|_| format!("invalid delay `{text}`: expected a number with ms, s, m, h or d"))?;
    let factor: u128 = match unit {
        "" | "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => return Err(format!("invalid delay `{text}`: unknown unit `{other}`")),
    };
    bounded_delay(n.checked_mul(factor), &text)
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ids::is_invocation_id;

    #[test]
    fn input_rules() {
        let json = InputRule::from_manifest(
            &json!({"contentType": "application/json", "required": false, "jsonSchema": {}}),
        );
        assert!(json.check(Some("application/json"), b"{}").is_ok());
        assert!(
            json.check(Some("application/json; charset=utf-8"), b"{}")
                .is_ok()
        );
        assert!(json.check(None, b"").is_ok(), "no input at all");
        let refused = [
            (
                Some("text/plain"),
                &b"{}"[..],
                "does not match 'application/json'",
            ),
            (Some("APPLICATION/JSON"), b"{}", "does not match"),
            (Some("application/*"), b"{}", "does not match"),
            (None, b"{}", "no content-type"),
            (Some("application/json"), b"", "empty body"),
        ];
        for (content_type, body, reason) in refused {
            let error = json.check(content_type, body).unwrap_err();
            assert!(error.contains(reason), "{content_type:?}: {error}");
        }

        let bytes = InputRule::from_manifest(&json!({"contentType": "*/*", "required": true}));
        assert!(bytes.check(Some("application/octet-stream"), b"").is_ok());
        assert!(
            bytes.check(None, b"").is_err(),
            "required: a content type must be sent"
        );

        let nothing = InputRule::from_manifest(&json!({}));
        assert!(nothing.check(None, b"").is_ok());
        assert!(nothing.check(None, b"x").is_err());
        assert!(nothing.check(Some("application/json"), b"").is_err());

        let default = InputRule::from_manifest(&serde_json::Value::Null);
        assert!(default.check(Some("text/plain"), b"x").is_ok());
        assert!(default.check(None, b"").is_ok());
    }

    #[test]
    fn media_types() {
        assert!(media_type_matches("application/json", "application/*"));
        assert!(media_type_matches("text/plain", "*/*"));
        assert!(!media_type_matches("application", "*/*"));
        assert!(!media_type_matches("text/json", "application/json"));
        assert!(is_invocation_id("inv_0123456789abcdef0123456789ABCDEF"));
        assert!(!is_invocation_id("inv_0123"));
        assert!(!is_invocation_id("inc_1ll4Nz6jmUXk3wy04unz4iMk0ppnE5iwTb"));
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("250").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("soon").is_err());
        assert!(
            parse_duration("99999999999999999d")
                .unwrap_err()
                .contains("longer than 100 years")
        );
        assert!(parse_duration("18446744073709551615ms").is_err());
        assert!(
            parse_duration("3w")
                .unwrap_err()
                .contains("unknown unit `w`")
        );
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%2Fb%20c"), "a/b c");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%é%"), "%é%");
    }
}

/// Why the ingress server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngressServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A non-loopback address without a bearer token.
    #[error(
        "refusing to serve the ingress on {0} without a bearer token: bind a loopback address (127.0.0.1), or set one"
    )]
    Unprotected(String),
}

/// The engine's ingress served over HTTP (HTTP/1.1 and HTTP/2 cleartext on one port).
pub struct IngressServer {
    engine: Engine,
    listener: tokio::net::TcpListener,
    token: Option<String>,
    admin: bool,
}

/// The engine's admin API (see [`Engine::handle_admin`]) served over HTTP: the same rules as
/// [`IngressServer`], loopback unless a bearer token is set.
pub struct AdminServer(IngressServer);

impl AdminServer {
    /// Binds `addr`, which must be a loopback address.
    pub async fn bind(engine: Engine, addr: &str) -> Result<Self, IngressServeError> {
        let mut server = IngressServer::bind(engine, addr).await?;
        server.admin = true;
        Ok(Self(server))
    }

    /// Binds `addr`, any address, and requires `authorization: Bearer <token>`.
    pub async fn bind_with_token(
        engine: Engine,
        addr: &str,
        token: impl Into<String>,
    ) -> Result<Self, IngressServeError> {
        let mut server = IngressServer::bind_with_token(engine, addr, token).await?;
        server.admin = true;
        Ok(Self(server))
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.0.local_addr()
    }

    /// Serves in the background.
    pub fn spawn(self) -> Result<crate::serve::RunningServer, IngressServeError> {
        self.0.spawn()
    }
}

impl IngressServer {
    /// Binds `addr`, which must be a loopback address (`127.0.0.1:8080`, `[::1]:8080`,
    /// `localhost:8080`); anything else needs [`bind_with_token`](Self::bind_with_token).
    pub async fn bind(engine: Engine, addr: &str) -> Result<Self, IngressServeError> {
        Self::bind_inner(engine, addr, None).await
    }

    /// Binds `addr`, any address, and requires `authorization: Bearer <token>` on every
    /// request.
    pub async fn bind_with_token(
        engine: Engine,
        addr: &str,
        token: impl Into<String>,
    ) -> Result<Self, IngressServeError> {
        Self::bind_inner(engine, addr, Some(token.into())).await
    }

    async fn bind_inner(
        engine: Engine,
        addr: &str,
        token: Option<String>,
    ) -> Result<Self, IngressServeError> {
        // Refuse before binding anything: resolve the address and check every candidate.
        if token.is_none() {
            let resolved: Vec<std::net::SocketAddr> = tokio::net::lookup_host(addr)
                .await
                .map_err(|source| IngressServeError::Bind {
                    addr: addr.to_owned(),
                    source,
                })?
                .collect();
            if resolved.is_empty() || resolved.iter().any(|a| !a.ip().is_loopback()) {
                return Err(IngressServeError::Unprotected(addr.to_owned()));
            }
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| IngressServeError::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        Ok(Self {
            engine,
            listener,
            token,
            admin: false,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves in the background until the engine shuts down or the handle is stopped.
    pub fn spawn(self) -> Result<crate::serve::RunningServer, IngressServeError> {
        let addr = self.local_addr();
        let IngressServer {
            engine,
            listener,
            token,
            admin,
        } = self;
        let expected = token.map(|t| format!("Bearer {t}"));
        let service = hyper::service::service_fn(
            move |request: http::Request<hyper::body::Incoming>| {
                let authorized = expected.as_deref().is_none_or(|expected| {
                    request
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v == expected)
                });
                let engine = engine.clone();
                async move {
                    if !authorized {
                        return Ok::<_, std::convert::Infallible>(
                            ingress_error(
                                StatusCode::UNAUTHORIZED,
                                "missing or wrong bearer token",
                            )
                            .map(http_body_util::Full::new),
                        );
                    }
                    let (parts, body) = request.into_parts();
                    let limited = http_body_util::Limited::new(body, MAX_REQUEST_BODY);
                    let body = match http_body_util::BodyExt::collect(limited).await {
                        Ok(collected) => collected.to_bytes(),
                        Err(e) => {
                            let (status, message) = if e.is::<http_body_util::LengthLimitError>() {
                                (
                                    StatusCode::PAYLOAD_TOO_LARGE,
                                    format!(
                                        "the request body is larger than the limit of {MAX_REQUEST_BODY} bytes"
                                    ),
                                )
                            } else {
                                (
                                    StatusCode::BAD_REQUEST,
                                    format!("cannot read the body: {e}"),
                                )
                            };
                            return Ok(
                                ingress_error(status, &message).map(http_body_util::Full::new)
                            );
                        }
                    };
                    let request = http::Request::from_parts(parts, body);
                    let response = if admin {
                        engine.handle_admin(request).await
                    } else {
                        engine.handle_ingress(request).await
                    };
                    Ok(response.map(http_body_util::Full::new))
                }
            },
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(crate::serve::serve_connections(
            listener,
            service,
            async {
                let _ = stopped.await;
            },
            std::time::Duration::from_secs(30),
        ));
        Ok(crate::serve::RunningServer::from_parts(addr, stop, task))
    }
}
