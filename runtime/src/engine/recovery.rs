//! What happens when an engine opens: asking the deployment for its services (discovery) and
//! resuming what a previous run left unfinished (recovery), by the rule of each
//! [`InvocationStatus`].
//!
//! May use: the engine's shared types (`Inner`, `Sched`), the invoker (to restart attempts and
//! deliver the outbox), the store's typed functions and the deployment.

use super::core::{Delivery, raw_frame};
use super::deployment::{self, Deployment};
use super::http::ingress;
use super::status::{Event, InvocationStatus, Recovery};
use super::store::{invocations, outbox};
use super::{Engine, EngineError, HandlerConfig, HandlerKind, ServiceKind, ServiceMeta, protocol};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::collections::HashMap;

impl Engine {
    /// Resumes what a previous run left unfinished, by the recovery rule of each status (see
    /// [`InvocationStatus::recovery`]), then delivers what was left in the outbox.
    pub(super) async fn recover(&self) -> Result<(), EngineError> {
        let rows = self
            .inner
            .store
            .run(|tx| invocations::unfinished(tx))
            .await?;
        let mut to_start = Vec::new();
        let mut to_queue = Vec::new();
        {
            let mut sched = self.inner.sched.lock().unwrap();
            // First the keys already held, then the others in arrival order.
            for row in &rows {
                if row.kind.holds_key() && row.status.holds_key() {
                    let slot = (row.service.clone(), row.key.clone());
                    sched.held.insert(slot, row.id.clone());
                }
            }
            for row in &rows {
                let id = &row.id;
                match row.status.recovery() {
                    Recovery::Restart => to_start.push((id.clone(), Event::Restarted)),
                    Recovery::Admit | Recovery::Queue => {
                        if !row.kind.holds_key() {
                            to_start.push((id.clone(), Event::Admitted { key_free: true }));
                            continue;
                        }
                        match sched.held.entry((row.service.clone(), row.key.clone())) {
                            std::collections::hash_map::Entry::Vacant(free) => {
                                free.insert(id.clone());
                                to_start.push((id.clone(), Event::Admitted { key_free: true }));
                            }
                            std::collections::hash_map::Entry::Occupied(_) => {
                                if row.status != InvocationStatus::Inboxed {
                                    to_queue.push(id.clone());
                                }
                            }
                        }
                    }
                    Recovery::AwaitDelivery
                    | Recovery::Timer
                    | Recovery::Hold
                    | Recovery::Nothing => {}
                }
            }
        }
        let (starting, queued) = (to_start.clone(), to_queue);
        let outbox: Vec<Delivery> = self
            .inner
            .store
            .run(move |tx| {
                for (id, event) in &starting {
                    invocations::transition(tx, id, *event)?;
                }
                for id in &queued {
                    invocations::transition(tx, id, Event::Admitted { key_free: false })?;
                }
                Ok(outbox::all(tx)?
                    .into_iter()
                    .map(|m| Delivery {
                        outbox: Some(m.id),
                        invocation_id: m.invocation_id,
                        frame: raw_frame(m.ty, Bytes::from(m.payload)),
                    })
                    .collect())
            })
            .await?;
        for (id, _) in to_start {
            self.spawn_attempt(id);
        }
        self.deliver(outbox).await
    }
}

/// Asks the endpoint for its services, as a Restate server does at registration.
pub(super) async fn discover(
    deployment: &Deployment,
) -> Result<(HashMap<String, ServiceMeta>, String), EngineError> {
    let request = http::Request::builder()
        .method("GET")
        .uri("/discover")
        .header("accept", protocol::DISCOVERY_ACCEPT)
        .body(deployment::empty())
        .expect("a valid request");
    let response = deployment.send(request).await?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| EngineError::Discovery(format!("{}: {e}", deployment.describe())))?
        .to_bytes();
    if !status.is_success() {
        return Err(EngineError::Discovery(format!(
            "{} answered {status}: {}",
            deployment.describe(),
            String::from_utf8_lossy(&body)
        )));
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| EngineError::Discovery(e.to_string()))?;
    // Speak the newest version both sides know; the engine implements V5 and V6.
    let min = manifest["minProtocolVersion"].as_u64().unwrap_or(5);
    let max = manifest["maxProtocolVersion"].as_u64().unwrap_or(5);
    let version = max.min(6);
    if version < 5 || version < min {
        return Err(EngineError::Discovery(format!(
            "{} speaks service protocol versions {min} to {max}; the engine speaks 5 and 6",
            deployment.describe()
        )));
    }
    let content_type = format!("application/vnd.restate.invocation.v{version}");
    let mut services = HashMap::new();
    for service in manifest["services"].as_array().into_iter().flatten() {
        let name = service["name"].as_str().unwrap_or_default().to_owned();
        let kind = match service["ty"].as_str() {
            Some("VIRTUAL_OBJECT") => ServiceKind::Object,
            Some("WORKFLOW") => ServiceKind::Workflow,
            _ => ServiceKind::Service,
        };
        let mut handlers = HashMap::new();
        let mut configs = HashMap::new();
        let mut inputs = HashMap::new();
        let service_config = HandlerConfig::from_manifest(service, &HandlerConfig::default());
        for handler in service["handlers"].as_array().into_iter().flatten() {
            let name = handler["name"].as_str().unwrap_or_default().to_owned();
            configs.insert(
                name.clone(),
                HandlerConfig::from_manifest(handler, &service_config),
            );
            inputs.insert(
                name.clone(),
                ingress::InputRule::from_manifest(&handler["input"]),
            );
            let handler_kind = match (kind, handler["ty"].as_str()) {
                (ServiceKind::Service, _) => HandlerKind::Stateless,
                (_, Some("SHARED")) => HandlerKind::Shared,
                (ServiceKind::Workflow, _) => HandlerKind::WorkflowRun,
                (ServiceKind::Object, _) => HandlerKind::Exclusive,
            };
            handlers.insert(name, handler_kind);
        }
        services.insert(
            name,
            ServiceMeta {
                kind,
                handlers,
                configs,
                inputs,
            },
        );
    }
    Ok((services, content_type))
}
