//! The admin routes the official Restate CLI (`restate`, 1.7) uses, answered as restate-server
//! 1.7.12 answers them: `/version`, the versioned prefixes (`/v1` to `/v4`), services and
//! deployments in restate-server's shapes, state edits, pause, `POST /query` (SQL, see
//! [`query`](super::query)) and `GET /metrics` (Prometheus, see [`metrics`](super::metrics)).

use super::admin::{error, json_ok};
use super::ingress::json_response;
use super::query::{self, Catalog, QueryLimits};
use crate::engine::status::{Event, InvocationStatus};
use crate::engine::store::{invocations, state};
use crate::engine::{Engine, EngineError, HandlerKind, OnMaxAttempts, ServiceKind, protocol};
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The restate-server version whose admin API this one follows.
pub(crate) const RESTATE_SERVER_VERSION: &str = "1.7.12";

/// When the admin API first described the deployment: its `created_at`.
static FIRST_SEEN: OnceLock<i64> = OnceLock::new();

/// The discovery manifest, with the SDK's `x-restate-server` header.
struct Manifest {
    body: Value,
    sdk: Option<String>,
}

impl Engine {
    /// Answers the routes of restate-server's admin API that the CLI uses; `None` for the
    /// engine's own routes (see [`Engine::handle_admin`]).
    pub(super) async fn handle_cli_admin(
        &self,
        request: &http::Request<Bytes>,
    ) -> Option<Response<Bytes>> {
        let path = request.uri().path();
        let all: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let segments = match all.split_first() {
            Some((first, rest)) if matches!(*first, "v1" | "v2" | "v3" | "v4") => rest,
            _ => all.as_slice(),
        };
        let versioned = segments.len() != all.len();
        let method = request.method().clone();
        let answer = match (method, segments) {
            (Method::GET, ["version"]) => json_ok(
                StatusCode::OK,
                json!({
                    "version": RESTATE_SERVER_VERSION,
                    "min_admin_api_version": 1,
                    "max_admin_api_version": 4,
                    "features": {},
                }),
            ),
            (Method::GET, ["health"]) if versioned => json_ok(StatusCode::OK, json!({})),
            (Method::GET, ["metrics"]) => self.metrics_text().await,
            (Method::GET, ["services"]) => match self.service_metadata().await {
                Ok(services) => json_ok(StatusCode::OK, json!({ "services": services })),
                Err(e) => internal(e),
            },
            (Method::GET, ["services", name]) => match self.one_service(name).await {
                Ok(service) => json_ok(StatusCode::OK, service),
                Err(response) => response,
            },
            (Method::GET, ["services", name, "handlers"]) => match self.one_service(name).await {
                Ok(service) => json_ok(
                    StatusCode::OK,
                    json!({ "handlers": service["handlers"].clone() }),
                ),
                Err(response) => response,
            },
            (Method::GET, ["services", name, "handlers", handler]) => {
                match self.one_service(name).await {
                    Ok(service) => match service["handlers"]
                        .as_array()
                        .and_then(|hs| hs.iter().find(|h| h["name"] == *handler))
                    {
                        Some(found) => json_ok(StatusCode::OK, found.clone()),
                        None => error(
                            StatusCode::NOT_FOUND,
                            &format!("Cannot find handler '{name}/{handler}'"),
                        ),
                    },
                    Err(response) => response,
                }
            }
            (Method::PATCH, ["services", name]) => self.patch_service(name, request.body()).await,
            (Method::POST, ["services", name, "state"]) => {
                self.edit_state(name, request.body()).await
            }
            (Method::GET, ["deployments"]) => match self.deployment(false).await {
                Ok(deployment) => json_ok(StatusCode::OK, json!({ "deployments": [deployment] })),
                Err(e) => internal(e),
            },
            (Method::GET, ["deployments", id]) => match self.deployment(true).await {
                Ok(deployment) if deployment["id"] == *id => json_ok(StatusCode::OK, deployment),
                Ok(_) => error(
                    StatusCode::NOT_FOUND,
                    &format!("Cannot find deployment '{id}'"),
                ),
                Err(e) => internal(e),
            },
            (Method::POST, ["deployments"]) => self.register(request.body()).await,
            (Method::DELETE, ["deployments", id]) => error(
                StatusCode::CONFLICT,
                &format!(
                    "cannot remove deployment '{id}': the embedded engine runs the one deployment it was built with"
                ),
            ),
            (Method::PATCH, ["invocations", id, "pause"]) => self.pause(id).await,
            (Method::POST, ["query"]) => self.query(request).await,
            (Method::PATCH, ["invocations", id, "cancel"]) if versioned => {
                // restate-server answers 202 with no body.
                match self.cancel(id).await {
                    Ok(()) => status_only(StatusCode::ACCEPTED),
                    Err(e) => return_error(e),
                }
            }
            (Method::PATCH, ["invocations", id, "kill"]) if versioned => {
                match self.kill(id).await {
                    Ok(()) => status_only(StatusCode::OK),
                    Err(e) => return_error(e),
                }
            }
            _ if versioned => {
                // The engine's own routes under a version prefix.
                let mut unversioned = http::Request::builder()
                    .method(request.method().clone())
                    .uri(format!(
                        "/{}{}",
                        segments.join("/"),
                        request
                            .uri()
                            .query()
                            .map(|q| format!("?{q}"))
                            .unwrap_or_default()
                    ))
                    .body(request.body().clone())
                    .expect("a valid request");
                *unversioned.headers_mut() = request.headers().clone();
                return Some(Box::pin(self.handle_admin(unversioned)).await);
            }
            _ => return None,
        };
        Some(answer)
    }

    /// GET /discover on the deployment.
    async fn manifest(&self) -> Result<Manifest, EngineError> {
        let request = http::Request::builder()
            .method("GET")
            .uri("/discover")
            .header("accept", protocol::DISCOVERY_ACCEPT)
            .body(crate::engine::deployment::empty())
            .expect("a valid request");
        let response = self.inner.deployment.send(request).await?;
        let sdk = response
            .headers()
            .get("x-restate-server")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| EngineError::Discovery(e.to_string()))?
            .to_bytes();
        let body =
            serde_json::from_slice(&body).map_err(|e| EngineError::Discovery(e.to_string()))?;
        Ok(Manifest { body, sdk })
    }

    /// The deployment's id, stable for one deployment (in-process, or a URL).
    fn deployment_id(&self) -> String {
        deployment_id(&self.inner.deployment.describe())
    }

    /// Every service in restate-server's `ServiceMetadata` shape.
    async fn service_metadata(&self) -> Result<Vec<Value>, EngineError> {
        let manifest = self.manifest().await?;
        let mut services: Vec<Value> = manifest.body["services"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|service| self.service_json(service))
            .collect();
        services.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        Ok(services)
    }

    async fn one_service(&self, name: &str) -> Result<Value, Response<Bytes>> {
        let services = self.service_metadata().await.map_err(internal)?;
        services
            .into_iter()
            .find(|s| s["name"] == name)
            .ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    &format!("Cannot find service '{name}'"),
                )
            })
    }

    fn service_json(&self, service: &Value) -> Value {
        let name = service["name"].as_str().unwrap_or_default();
        let meta = self.inner.services.get(name);
        let kind = meta.map_or(ServiceKind::Service, |m| m.kind);
        let inner = &self.inner;
        let ms = |field: &str| service[field].as_u64().map(Duration::from_millis);
        let public = !service["ingressPrivate"].as_bool().unwrap_or(false);
        let handlers: Vec<Value> = service["handlers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|handler| handler_json(handler, kind, meta, public))
            .collect();
        let mut out = Map::new();
        out.insert("name".into(), json!(name));
        out.insert(
            "ty".into(),
            json!(match kind {
                ServiceKind::Service => "Service",
                ServiceKind::Object => "VirtualObject",
                ServiceKind::Workflow => "Workflow",
            }),
        );
        out.insert("handlers".into(), json!(handlers));
        copy(service, &mut out, "documentation", "documentation");
        copy(service, &mut out, "metadata", "metadata");
        out.insert("deployment_id".into(), json!(self.deployment_id()));
        out.insert("revision".into(), json!(1));
        out.insert("public".into(), json!(public));
        out.insert(
            "idempotency_retention".into(),
            json!(friendly(
                ms("idempotencyRetention").unwrap_or(inner.retention.idempotency)
            )),
        );
        if kind == ServiceKind::Workflow {
            let run = service["handlers"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|h| h["workflowCompletionRetention"].as_u64())
                .map(Duration::from_millis);
            out.insert(
                "workflow_completion_retention".into(),
                json!(friendly(run.unwrap_or(inner.retention.workflow))),
            );
        }
        out.insert(
            "journal_retention".into(),
            json!(friendly(
                ms("journalRetention").unwrap_or(inner.retention.journal)
            )),
        );
        out.insert(
            "inactivity_timeout".into(),
            json!(friendly(
                ms("inactivityTimeout").unwrap_or(inner.inactivity_timeout)
            )),
        );
        out.insert(
            "abort_timeout".into(),
            json!(friendly(ms("abortTimeout").unwrap_or(inner.abort_timeout))),
        );
        out.insert(
            "enable_lazy_state".into(),
            json!(service["enableLazyState"].as_bool().unwrap_or(false)),
        );
        let retry = &inner.retry;
        out.insert(
            "retry_policy".into(),
            json!({
                "initial_interval": friendly(ms("retryPolicyInitialInterval").unwrap_or(retry.initial)),
                "exponentiation_factor": service["retryPolicyExponentiationFactor"].as_f64().unwrap_or(retry.factor),
                "max_attempts": service["retryPolicyMaxAttempts"].as_u64().or(retry.max_attempts.map(u64::from)),
                "max_interval": friendly(ms("retryPolicyMaxInterval").unwrap_or(retry.max)),
                "on_max_attempts": match service["retryPolicyOnMaxAttempts"].as_str() {
                    Some(v) if v.eq_ignore_ascii_case("kill") => "Kill",
                    Some(_) => "Pause",
                    None => match retry.on_max_attempts {
                        OnMaxAttempts::Pause => "Pause",
                        OnMaxAttempts::Kill => "Kill",
                    },
                },
            }),
        );
        Value::Object(out)
    }

    /// The deployment in restate-server's shape; `detailed` with every service's metadata,
    /// otherwise with names and revisions.
    async fn deployment(&self, detailed: bool) -> Result<Value, EngineError> {
        let manifest = self.manifest().await?;
        let services = self.service_metadata().await?;
        let services: Vec<Value> = if detailed {
            services
        } else {
            services
                .iter()
                .map(|s| json!({ "name": s["name"], "revision": 1 }))
                .collect()
        };
        let catalog = self.catalog();
        let mut out = Map::new();
        out.insert("id".into(), json!(catalog.deployment_id));
        match &self.inner.deployment {
            crate::engine::deployment::Deployment::Remote { base, .. } => {
                out.insert("uri".into(), json!(format!("{base}/")));
                out.insert("protocol_type".into(), json!("BidiStream"));
                out.insert("http_version".into(), json!("HTTP/2.0"));
            }
            crate::engine::deployment::Deployment::InProcess(_) => {
                out.insert("uri".into(), json!(catalog.endpoint));
                out.insert("protocol_type".into(), json!("BidiStream"));
                out.insert("http_version".into(), json!("HTTP/2.0"));
            }
        }
        out.insert(
            "created_at".into(),
            json!(
                humantime::format_rfc3339_nanos(
                    UNIX_EPOCH + Duration::from_millis(catalog.created_at_ms as u64)
                )
                .to_string()
            ),
        );
        out.insert(
            "min_protocol_version".into(),
            json!(catalog.min_protocol_version),
        );
        out.insert(
            "max_protocol_version".into(),
            json!(catalog.max_protocol_version),
        );
        if let Some(sdk) = manifest.sdk {
            out.insert("sdk_version".into(), json!(sdk));
        }
        out.insert("services".into(), json!(services));
        Ok(Value::Object(out))
    }

    /// What the query views need to know beyond the file.
    pub(super) fn catalog(&self) -> Catalog {
        let mut services: Vec<(String, String, bool)> = self
            .inner
            .services
            .iter()
            .map(|(name, meta)| {
                // Private when every handler is (the service's own setting reaches them all).
                let public =
                    meta.configs.is_empty() || !meta.configs.values().all(|c| c.ingress_private);
                let ty = match meta.kind {
                    ServiceKind::Service => "Service",
                    ServiceKind::Object => "VirtualObject",
                    ServiceKind::Workflow => "Workflow",
                };
                (name.clone(), ty.to_owned(), public)
            })
            .collect();
        services.sort();
        let version: u32 = self
            .inner
            .content_type
            .rsplit('v')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let (ty, endpoint) = match &self.inner.deployment {
            crate::engine::deployment::Deployment::Remote { base, .. } => {
                ("http", format!("{base}/"))
            }
            crate::engine::deployment::Deployment::InProcess(_) => {
                ("in-process", "in-process:".to_owned())
            }
        };
        Catalog {
            services,
            deployment_id: self.deployment_id(),
            deployment_ty: ty.to_owned(),
            endpoint,
            created_at_ms: *FIRST_SEEN.get_or_init(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
            }),
            min_protocol_version: 5,
            max_protocol_version: version,
            protocol_version: version,
        }
    }

    /// `PATCH /services/{name}`: the engine takes a service's settings from its deployment's
    /// manifest; it accepts a patch that changes nothing and refuses one that would.
    async fn patch_service(&self, name: &str, body: &Bytes) -> Response<Bytes> {
        let current = match self.one_service(name).await {
            Ok(service) => service,
            Err(response) => return response,
        };
        let patch: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(patch) => patch,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid patch: {e}")),
        };
        let changed: Vec<&String> = patch
            .iter()
            .filter(|(field, value)| current.get(field.as_str()) != Some(value))
            .map(|(field, _)| field)
            .collect();
        if changed.is_empty() {
            json_ok(StatusCode::OK, current)
        } else {
            error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "the embedded engine takes the settings of '{name}' from its deployment (the proto options); it cannot change {changed:?} at run time"
                ),
            )
        }
    }

    /// `POST /services/{service}/state`: replaces the state of one key. The `version` the
    /// CLI sends is not compared; a key held by an invocation in flight is refused (409).
    async fn edit_state(&self, service: &str, body: &Bytes) -> Response<Bytes> {
        #[derive(serde::Deserialize)]
        struct Edit {
            object_key: String,
            new_state: std::collections::BTreeMap<String, Vec<u8>>,
        }
        match self.inner.services.get(service).map(|m| m.kind) {
            Some(ServiceKind::Object | ServiceKind::Workflow) => {}
            Some(ServiceKind::Service) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("'{service}' is a service without state"),
                );
            }
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("Cannot find service '{service}'"),
                );
            }
        }
        let edit: Edit = match serde_json::from_slice(body) {
            Ok(edit) => edit,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid state edit: {e}")),
        };
        let service = service.to_owned();
        let result = self
            .inner
            .store
            .run(move |tx| {
                if invocations::key_in_use(tx, &service, &edit.object_key)? {
                    return Ok(false);
                }
                state::clear_all(tx, &service, &edit.object_key)?;
                for (name, value) in &edit.new_state {
                    state::set(tx, &service, &edit.object_key, name.as_bytes(), value)?;
                }
                Ok(true)
            })
            .await;
        match result {
            Ok(true) => status_only(StatusCode::ACCEPTED),
            Ok(false) => error(
                StatusCode::CONFLICT,
                "an invocation holds this key; edit its state once it has ended",
            ),
            Err(e) => internal(e.into()),
        }
    }

    /// `POST /deployments`: the engine runs the deployment it was built with; registering that
    /// one again answers it, any other is refused.
    async fn register(&self, body: &Bytes) -> Response<Bytes> {
        let uri = serde_json::from_slice::<Value>(body).ok().and_then(|b| {
            b["uri"]
                .as_str()
                .map(|u| u.trim_end_matches('/').to_owned())
        });
        let ours = match &self.inner.deployment {
            crate::engine::deployment::Deployment::Remote { base, .. } => Some(base.clone()),
            crate::engine::deployment::Deployment::InProcess(_) => None,
        };
        match (uri, ours) {
            (Some(uri), Some(ours)) if uri == ours => match self.deployment(false).await {
                Ok(d) => json_ok(StatusCode::CREATED, d),
                Err(e) => internal(e),
            },
            (None, _) => error(StatusCode::BAD_REQUEST, "the request names no `uri`"),
            (Some(uri), _) => error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "cannot register {uri}: the embedded engine runs the one deployment it was built with ({})",
                    self.inner.deployment.describe()
                ),
            ),
        }
    }

    /// `PATCH /invocations/{id}/pause`: an invocation waiting for its next retry stops
    /// retrying until it is resumed. One with an attempt in flight, or suspended, is refused.
    async fn pause(&self, invocation_id: &str) -> Response<Bytes> {
        let id = invocation_id.to_owned();
        let result = self
            .inner
            .store
            .run(move |tx| {
                let status = invocations::status(tx, &id)?;
                if status == Some(InvocationStatus::Backoff) {
                    invocations::transition(tx, &id, Event::Paused)?;
                }
                Ok(status)
            })
            .await;
        match result {
            Ok(Some(InvocationStatus::Backoff | InvocationStatus::Paused)) => {
                status_only(StatusCode::ACCEPTED)
            }
            Ok(Some(other)) => error(
                StatusCode::CONFLICT,
                &format!(
                    "the embedded engine pauses an invocation between retries (backing-off); {invocation_id} is {}",
                    other.as_str()
                ),
            ),
            Ok(None) => error(
                StatusCode::NOT_FOUND,
                &format!("no invocation {invocation_id}"),
            ),
            Err(e) => internal(e.into()),
        }
    }

    /// `POST /query {"query": "..."}`: JSON when asked for it, an Arrow IPC stream otherwise.
    async fn query(&self, request: &http::Request<Bytes>) -> Response<Bytes> {
        #[derive(serde::Deserialize)]
        struct Query {
            query: String,
        }
        let sql = match serde_json::from_slice::<Query>(request.body()) {
            Ok(q) => q.query,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("expected {{\"query\": \"...\"}}: {e}"),
                );
            }
        };
        let json = request
            .headers()
            .get_all(http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/json"));
        // A few queries at a time: each holds a thread and a connection.
        static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);
        let Ok(_permit) = RUNNING.acquire().await else {
            return error(StatusCode::SERVICE_UNAVAILABLE, "queries are closed");
        };
        let source = self.inner.store.reader().to_owned();
        let catalog = self.catalog();
        let answer = tokio::task::spawn_blocking(move || {
            query::run(&source, &catalog, &sql, QueryLimits::default()).and_then(|answer| {
                if json {
                    Ok((query::to_json(&answer).into_bytes(), "application/json"))
                } else {
                    query::to_arrow(&answer).map(|b| (b, "application/vnd.apache.arrow.stream"))
                }
            })
        })
        .await;
        match answer {
            Ok(Ok((body, content_type))) => Response::builder()
                .status(StatusCode::OK)
                .header(http::header::CONTENT_TYPE, content_type)
                .body(Bytes::from(body))
                .expect("a valid response"),
            Ok(Err(reason)) => error(StatusCode::BAD_REQUEST, &reason),
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the query failed: {e}"),
            ),
        }
    }

    /// `GET /metrics`, in Prometheus's text format.
    async fn metrics_text(&self) -> Response<Bytes> {
        let source = self.inner.store.reader().to_owned();
        let counts = tokio::task::spawn_blocking(move || query::status_counts(&source)).await;
        if let Ok(Ok(counts)) = &counts {
            super::metrics::invocations_by_status(counts);
        }
        match super::metrics::handle() {
            Some(handle) => Response::builder()
                .status(StatusCode::OK)
                .header(
                    http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )
                .body(Bytes::from(handle.render()))
                .expect("a valid response"),
            None => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "another metrics recorder is installed in this process; the engine's metrics go there",
            ),
        }
    }
}

fn handler_json(
    handler: &Value,
    kind: ServiceKind,
    meta: Option<&crate::engine::ServiceMeta>,
    service_public: bool,
) -> Value {
    let name = handler["name"].as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    let handler_kind = meta.and_then(|m| m.handlers.get(name)).copied();
    match (kind, handler_kind) {
        (ServiceKind::Service, _) | (_, None) => {}
        (_, Some(HandlerKind::Shared)) => {
            out.insert("ty".into(), json!("Shared"));
        }
        (_, Some(HandlerKind::WorkflowRun)) => {
            out.insert("ty".into(), json!("Workflow"));
        }
        (_, Some(_)) => {
            out.insert("ty".into(), json!("Exclusive"));
        }
    }
    copy(handler, &mut out, "documentation", "documentation");
    copy(handler, &mut out, "metadata", "metadata");
    let ms = |field: &str| handler[field].as_u64().map(Duration::from_millis);
    for (from, to) in [
        ("idempotencyRetention", "idempotency_retention"),
        ("journalRetention", "journal_retention"),
        (
            "workflowCompletionRetention",
            "workflow_completion_retention",
        ),
        ("inactivityTimeout", "inactivity_timeout"),
        ("abortTimeout", "abort_timeout"),
    ] {
        if let Some(d) = ms(from) {
            out.insert(to.into(), json!(friendly(d)));
        }
    }
    if let Some(lazy) = handler["enableLazyState"].as_bool() {
        out.insert("enable_lazy_state".into(), json!(lazy));
    }
    out.insert(
        "public".into(),
        json!(service_public && !handler["ingressPrivate"].as_bool().unwrap_or(false)),
    );
    out.insert(
        "input_description".into(),
        json!(describe_payload(&handler["input"])),
    );
    out.insert(
        "output_description".into(),
        json!(describe_payload(&handler["output"])),
    );
    if let Some(schema) = handler["input"].get("jsonSchema") {
        out.insert("input_json_schema".into(), schema.clone());
    }
    if let Some(schema) = handler["output"].get("jsonSchema") {
        out.insert("output_json_schema".into(), schema.clone());
    }
    let mut retry = Map::new();
    retry.insert(
        "max_attempts".into(),
        json!(handler["retryPolicyMaxAttempts"].as_u64()),
    );
    if let Some(d) = ms("retryPolicyInitialInterval") {
        retry.insert("initial_interval".into(), json!(friendly(d)));
    }
    if let Some(f) = handler["retryPolicyExponentiationFactor"].as_f64() {
        retry.insert("exponentiation_factor".into(), json!(f));
    }
    if let Some(d) = ms("retryPolicyMaxInterval") {
        retry.insert("max_interval".into(), json!(friendly(d)));
    }
    if let Some(on) = handler["retryPolicyOnMaxAttempts"].as_str() {
        let on = if on.eq_ignore_ascii_case("kill") {
            "Kill"
        } else {
            "Pause"
        };
        retry.insert("on_max_attempts".into(), json!(on));
    }
    out.insert("retry_policy".into(), Value::Object(retry));
    Value::Object(out)
}

/// restate-server's description of a handler's input or output: `JSON 'pkg.Message'`.
fn describe_payload(payload: &Value) -> String {
    let Some(content_type) = payload.get("contentType").and_then(Value::as_str) else {
        return if payload.is_null() || payload.as_object().is_some_and(|o| o.is_empty()) {
            "none".to_owned()
        } else {
            "any".to_owned()
        };
    };
    let title = payload["jsonSchema"]["title"].as_str();
    match (content_type, title) {
        ("application/json", Some(title)) => format!("JSON '{title}'"),
        ("application/json", None) => "JSON".to_owned(),
        (other, _) => format!("value of content-type '{other}'"),
    }
}

fn copy(from: &Value, to: &mut Map<String, Value>, field: &str, name: &str) {
    if let Some(value) = from.get(field).filter(|v| !v.is_null()) {
        to.insert(name.into(), value.clone());
    }
}

/// A duration as restate-server writes one: `1d`, `1m 30s`, `500ms`.
pub(crate) fn friendly(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut parts = Vec::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            parts.push(format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    parts.join(" ")
}

/// A deployment id in restate-server's form, derived from what the deployment is, so that it
/// stays the same across restarts.
pub(crate) fn deployment_id(describe: &str) -> String {
    // FNV-1a, 128 bits.
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in describe.as_bytes() {
        hash ^= u128::from(*byte);
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    crate::engine::ids::deployment_id(hash)
}

fn status_only(status: StatusCode) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = status;
    response
}

fn return_error(e: EngineError) -> Response<Bytes> {
    match e {
        EngineError::UnknownInvocation(_) | EngineError::NotFound { .. } => {
            error(StatusCode::NOT_FOUND, &e.to_string())
        }
        EngineError::Conflict { .. } => error(StatusCode::CONFLICT, &e.to_string()),
        other => internal(other),
    }
}

fn internal(e: EngineError) -> Response<Bytes> {
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({ "message": e.to_string() }).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_restate_server_writes_them() {
        assert_eq!(friendly(Duration::from_secs(86_400)), "1d");
        assert_eq!(friendly(Duration::from_secs(90)), "1m 30s");
        assert_eq!(friendly(Duration::from_millis(500)), "500ms");
        assert_eq!(friendly(Duration::from_secs(43_200)), "12h");
    }

    #[test]
    fn deployment_ids_are_stable_and_well_formed() {
        let id = deployment_id("the in-process endpoint");
        assert_eq!(id, deployment_id("the in-process endpoint"));
        assert_ne!(id, deployment_id("http://127.0.0.1:9080"));
        assert_eq!(id.len(), 4 + 22);
        assert!(id[3..].chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
