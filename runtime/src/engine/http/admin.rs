//! What users inspect and do most, like restate-server's admin API: services and handlers,
//! invocations with their status, one invocation with its journal and state, cancel and kill.
//! Available as methods, and over HTTP with [`AdminServer`], which answers the official
//! Restate CLI (`restate` 1.7) as restate-server 1.7.12 does (`docs/CLI.md` says what matches
//! and what differs):
//!
//! ```sh
//! RESTATE_ADMIN_URL=http://127.0.0.1:9070 restate invocations list --all
//! RESTATE_ADMIN_URL=http://127.0.0.1:9070 restate sql "select id, status from sys_invocation"
//! ```
//!
//! restate-server's routes (also under `/v1` to `/v4`, the prefix the CLI picks from
//! `GET /version`):
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /version` | `{"version": "1.7.12", "min_admin_api_version": 1, "max_admin_api_version": 4, ...}` |
//! | `GET /health` | 200 |
//! | `GET /services`, `GET /services/{name}` | restate-server's service metadata: kind, handlers (kind, input and output descriptions and JSON schemas, overrides), retentions, timeouts, retry policy, deployment |
//! | `GET /services/{name}/handlers[/{handler}]` | the handlers |
//! | `PATCH /services/{name}` | 200 for a patch that changes nothing; 400 otherwise (settings come from the deployment's manifest) |
//! | `POST /services/{name}/state` `{"object_key", "new_state": {name: [bytes]}}` | 202; replaces the key's state; 409 while an invocation holds the key |
//! | `GET /deployments`, `GET /deployments/{id}` | the engine's one deployment |
//! | `POST /deployments` | the engine's own deployment again: 201; any other: 400 |
//! | `DELETE /deployments/{id}` | 409 |
//! | `PATCH /invocations/{id}/cancel` | 202 |
//! | `PATCH /invocations/{id}/kill` | 200 (202 unversioned) |
//! | `PATCH /invocations/{id}/pause` | 202 for an invocation between retries, 409 otherwise |
//! | `POST /query` `{"query": "..."}` | SQL over views shaped like restate-server's system tables: `{"rows": [...]}` for `accept: application/json`, an Arrow IPC stream otherwise; 400 with the reason for what does not run, writes, and queries past 5 s or 100 000 rows |
//! | `GET /metrics` | Prometheus text: invocations started, completed, failed, by status, their latency; commit group size and time |
//!
//! The engine's own routes (the `restate-rs admin` command line uses them):
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /invocations[?status=running&service=...]` | `{"invocations": [...]}` |
//! | `GET /invocations/{id}` | the invocation, its journal and its key's state |
//! | `PATCH /invocations/{id}/cancel`, `DELETE /invocations/{id}?mode=cancel` | 202 |
//! | `PATCH /invocations/{id}/kill`, `DELETE /invocations/{id}?mode=kill` | 202 |
//! | `PATCH /invocations/{id}/resume` | 202, for an invocation paused after its last attempt; 409 for one that is not paused, 404 for one that does not exist |
//! | `PATCH /invocations/{id}/purge`, `DELETE /invocations/{id}?mode=purge` | 200 (202), for a completed invocation: removes it, its journal, its idempotency key; for a workflow's run also the workflow's state and promises; 409 for one that has not completed |
//! | `PATCH /invocations/{id}/purge-journal` | 200, for a completed invocation: removes its journal, keeps its output |

use super::ingress::{json_response, query_value};
use crate::engine::store::{invocations, journal, state};
use crate::engine::{Engine, EngineError, HandlerKind, ServiceKind, protocol};
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde::Serialize;
use serde_json::json;

/// An invocation as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationSummary {
    /// Its id.
    pub id: String,
    /// `service/handler` or `service/key/handler`.
    pub target: String,
    /// `pending`, `scheduled`, `inboxed`, `running`, `suspended`, `backoff`, `paused` or
    /// `completed`.
    pub status: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last failure of an attempt, if any.
    pub last_error: Option<String>,
    /// For completed invocations: `succeeded`, or the terminal failure.
    pub outcome: Option<String>,
    /// When it was accepted, milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// One journal entry, described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Its index.
    pub index: u32,
    /// The protocol message type, e.g. `RunCommand`.
    pub kind: String,
    /// The entry's name, where the handler gave one (`ctx.run(...).name("...")`).
    pub name: Option<String>,
}

/// An invocation with its journal and its key's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationDetails {
    /// The summary.
    #[serde(flatten)]
    pub summary: InvocationSummary,
    /// The journal, in order.
    pub journal: Vec<JournalEntry>,
    /// The state of its key (objects and workflows), names and UTF-8 values.
    pub state: Vec<(String, String)>,
}

/// A bound service and its handlers, with kinds as restate-server names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceInfo {
    /// The service name.
    pub name: String,
    /// `Service`, `VirtualObject` or `Workflow`.
    pub ty: String,
    /// Handler names and kinds (`Exclusive`, `Shared`, `Workflow`, or none).
    pub handlers: Vec<(String, Option<String>)>,
}

impl From<invocations::Summary> for InvocationSummary {
    fn from(row: invocations::Summary) -> Self {
        let invocations::Summary {
            id,
            service,
            key,
            handler,
            status,
            attempts,
            last_error,
            failure_code,
            failure_message,
            created_at,
        } = row;
        InvocationSummary {
            id,
            target: if key.is_empty() {
                format!("{service}/{handler}")
            } else {
                format!("{service}/{key}/{handler}")
            },
            outcome: status.is_completed().then(|| match failure_code {
                Some(code) => format!("failed [{code}] {}", failure_message.unwrap_or_default()),
                None => "succeeded".to_owned(),
            }),
            status: status.as_str().to_owned(),
            attempts,
            last_error,
            created_at,
        }
    }
}

impl Engine {
    /// The bound services and their handlers.
    pub fn services(&self) -> Vec<ServiceInfo> {
        let mut services: Vec<ServiceInfo> = self
            .inner
            .services
            .iter()
            .map(|(name, meta)| {
                let mut handlers: Vec<(String, Option<String>)> = meta
                    .handlers
                    .iter()
                    .map(|(h, kind)| {
                        let ty = match kind {
                            HandlerKind::Stateless => None,
                            HandlerKind::Exclusive => Some("Exclusive"),
                            HandlerKind::Shared => Some("Shared"),
                            HandlerKind::WorkflowRun => Some("Workflow"),
                        };
                        (h.clone(), ty.map(str::to_owned))
                    })
                    .collect();
                handlers.sort();
                ServiceInfo {
                    name: name.clone(),
                    ty: match meta.kind {
                        ServiceKind::Service => "Service",
                        ServiceKind::Object => "VirtualObject",
                        ServiceKind::Workflow => "Workflow",
                    }
                    .to_owned(),
                    handlers,
                }
            })
            .collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        services
    }

    /// Invocations, newest first, optionally only those with `status` or of `service`;
    /// at most `limit`.
    pub async fn invocations(
        &self,
        status: Option<&str>,
        service: Option<&str>,
        limit: usize,
    ) -> Result<Vec<InvocationSummary>, EngineError> {
        let (status, service) = (status.map(str::to_owned), service.map(str::to_owned));
        Ok(self
            .inner
            .store
            .run(move |tx| invocations::summaries(tx, status.as_deref(), service.as_deref(), limit))
            .await?
            .into_iter()
            .map(InvocationSummary::from)
            .collect())
    }

    /// One invocation with its journal and the state of its key.
    pub async fn describe(&self, invocation_id: &str) -> Result<InvocationDetails, EngineError> {
        let id = invocation_id.to_owned();
        let found = self
            .inner
            .store
            .run(move |tx| {
                let Some(row) = invocations::summary_of(tx, &id)? else {
                    return Ok(None);
                };
                let (service, key) = (row.service.clone(), row.key.clone());
                let summary = InvocationSummary::from(row);
                let journal = journal::read(tx, &id)?
                    .into_iter()
                    .map(|e| JournalEntry {
                        index: e.index,
                        kind: protocol::type_name(e.ty).to_owned(),
                        name: entry_name(e.ty, &e.payload),
                    })
                    .collect();
                let state = if key.is_empty() {
                    Vec::new()
                } else {
                    state::all(tx, &service, &key)?
                        .into_iter()
                        .map(|e| {
                            (
                                String::from_utf8_lossy(&e.name).into_owned(),
                                String::from_utf8_lossy(&e.value).into_owned(),
                            )
                        })
                        .collect()
                };
                Ok(Some(InvocationDetails {
                    summary,
                    journal,
                    state,
                }))
            })
            .await?;
        found.ok_or_else(|| EngineError::UnknownInvocation(invocation_id.to_owned()))
    }

    /// Kills an invocation: it ends at once with a terminal error 409 ("killed"), without
    /// running anything more; callers and attached clients see that error.
    pub async fn kill(&self, invocation_id: &str) -> Result<(), EngineError> {
        let id = invocation_id.to_owned();
        let invocation = self
            .inner
            .store
            .run(move |tx| invocations::get(tx, &id))
            .await?
            .ok_or_else(|| EngineError::UnknownInvocation(invocation_id.to_owned()))?;
        if invocation.status.is_completed() {
            return Ok(());
        }
        // Drop its attempt, if one is in flight.
        self.inner
            .registry
            .lock()
            .unwrap()
            .running
            .remove(invocation_id);
        let attempts = invocation.attempts;
        self.finish(
            &invocation,
            Some((attempts, (409, "killed".to_owned()))),
            crate::engine::core::Silent::new(),
        )
        .await
    }
}

/// The `name` field (12) of a command, if it has one.
pub(super) fn entry_name(ty: u16, payload: &[u8]) -> Option<String> {
    if !protocol::is_command(ty) {
        return None;
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Named {
        #[prost(string, tag = "12")]
        name: String,
    }
    let named: Named = prost::Message::decode(payload).ok()?;
    (!named.name.is_empty()).then_some(named.name)
}

impl Engine {
    /// Answers one admin request.
    pub async fn handle_admin(&self, request: http::Request<Bytes>) -> Response<Bytes> {
        // The routes of restate-server's admin API that its CLI uses (admin_api.rs).
        if let Some(response) = self.handle_cli_admin(&request).await {
            return response;
        }
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or("").to_owned();
        let param = |name: &str| query_value(&query, name).map(str::to_owned);
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let result: Result<Response<Bytes>, EngineError> =
            match (request.method().clone(), segments.as_slice()) {
                (Method::GET, ["health"]) => Ok(json_ok(StatusCode::OK, json!({}))),
                (Method::GET, ["services"]) => Ok(json_ok(
                    StatusCode::OK,
                    json!({ "services": self.services() }),
                )),
                (Method::GET, ["services", name]) => {
                    match self.services().into_iter().find(|s| s.name == *name) {
                        Some(service) => Ok(json_ok(StatusCode::OK, json!(service))),
                        None => Ok(error(
                            StatusCode::NOT_FOUND,
                            &format!("no service `{name}`"),
                        )),
                    }
                }
                (Method::GET, ["invocations"]) => {
                    let limit = param("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
                    self.invocations(
                        param("status").as_deref(),
                        param("service").as_deref(),
                        limit,
                    )
                    .await
                    .map(|list| json_ok(StatusCode::OK, json!({ "invocations": list })))
                }
                (Method::GET, ["invocations", id]) => self
                    .describe(id)
                    .await
                    .map(|d| json_ok(StatusCode::OK, json!(d))),
                (Method::PATCH, ["invocations", id, "cancel"]) => {
                    self.cancel(id).await.map(|()| accepted())
                }
                (Method::PATCH, ["invocations", id, "kill"]) => {
                    self.kill(id).await.map(|()| accepted())
                }
                (Method::PATCH, ["invocations", id, "resume"]) => {
                    self.resume(id).await.map(|()| accepted())
                }
                (Method::PATCH, ["invocations", id, "purge"]) => {
                    self.purge(id).await.map(|()| empty_ok())
                }
                (Method::PATCH, ["invocations", id, "purge-journal"]) => {
                    self.purge_journal(id).await.map(|()| empty_ok())
                }
                (Method::DELETE, ["invocations", id]) => match param("mode").as_deref() {
                    Some("kill" | "Kill") => self.kill(id).await.map(|()| accepted()),
                    None | Some("cancel" | "Cancel") => self.cancel(id).await.map(|()| accepted()),
                    Some("purge" | "Purge") => self.purge(id).await.map(|()| accepted()),
                    Some(other) => Ok(error(
                        StatusCode::BAD_REQUEST,
                        &format!("unknown mode `{other}`: use cancel, kill or purge"),
                    )),
                },
                (method, _) => Ok(error(
                    StatusCode::NOT_FOUND,
                    &format!("no admin route for {method} {path}"),
                )),
            };
        result.unwrap_or_else(|e| match e {
            EngineError::UnknownInvocation(_) | EngineError::NotFound { .. } => {
                error(StatusCode::NOT_FOUND, &e.to_string())
            }
            EngineError::Conflict { .. } => error(StatusCode::CONFLICT, &e.to_string()),
            other => error(StatusCode::INTERNAL_SERVER_ERROR, &other.to_string()),
        })
    }
}

pub(super) fn json_ok(status: StatusCode, body: serde_json::Value) -> Response<Bytes> {
    json_response(status, body.to_string())
}

/// 200 with no body, as restate-server answers a purge.
fn empty_ok() -> Response<Bytes> {
    Response::new(Bytes::new())
}

fn accepted() -> Response<Bytes> {
    json_ok(StatusCode::ACCEPTED, json!({}))
}

pub(super) fn error(status: StatusCode, message: &str) -> Response<Bytes> {
    json_ok(status, json!({ "message": message }))
}
