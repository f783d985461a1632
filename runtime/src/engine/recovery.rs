//! What happens when an engine opens: asking the deployment for its services (discovery) and
//! resuming what a previous run left unfinished (recovery), by the rule of each
//! [`InvocationStatus`](super::status::InvocationStatus).
//!
//! Recovery rebuilds the scheduler's state from the unfinished invocations
//! ([`Scheduler::recover`] applies the rules), starts the scheduler task, and sends it what
//! must start; it starts no attempt itself.
//!
//! May use: the engine's shared types, the scheduler (its state, task and messages), the
//! invoker (to deliver the outbox), the store's typed functions and the deployment.

use super::core::{Delivery, raw_frame};
use super::deployment::{self, Deployment};
use super::http::ingress;
use super::scheduler::{self, Message, Scheduler};
use super::store::{invocations, outbox};
use super::{Engine, EngineError, HandlerConfig, HandlerKind, ServiceKind, ServiceMeta, protocol};
use bytes::Bytes;
use http_body_util::BodyExt;
use std::collections::HashMap;

impl Engine {
    /// Resumes what a previous run left unfinished, by the recovery rule of each status (see
    /// [`InvocationStatus::recovery`](super::status::InvocationStatus::recovery)): rebuilds the
    /// scheduler from the unfinished invocations and starts its task on `inbox`, commits the
    /// status changes the rules make, has the scheduler start what runs, then delivers what was
    /// left in the outbox.
    pub(super) async fn recover(&self, inbox: scheduler::Receiver) -> Result<(), EngineError> {
        let rows = self
            .inner
            .store
            .run(|tx| invocations::unfinished(tx))
            .await?;
        let (sched, changes, to_start) = Scheduler::recover(&rows);
        let outbox: Vec<Delivery> = self
            .inner
            .store
            .run(move |tx| {
                for (id, event) in &changes {
                    invocations::transition(tx, id, *event)?;
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
        let engine = self.clone();
        tokio::spawn(scheduler::run(engine, sched, inbox));
        for id in to_start {
            self.schedule(Message::Start { id, loaded: None });
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
