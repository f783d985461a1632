//! Configuration from the proto (`proto/hydra/v1/configured.proto`, options from
//! `proto/restate_rs/options.proto`): in the discovery manifest of the generated servers under
//! the manifest's names, honoured by a real restate-server, and overridable in code.

use restate_rs::ingress::IngressError;
use restate_rs::prelude::*;
use restate_rs::restate_sdk::endpoint::{HandlerOptions, ServiceOptions};
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::hydra::v1::{
    ReportProgressRequest, ReportProgressResponse, ReportRequest, ReportResponse, ReportWorkflow,
    ReportWorkflowIngressClient, ReportWorkflowServer, Vault, VaultClient, VaultCountRequest,
    VaultCountResponse, VaultIngressClient, VaultServer, VaultStoreRequest, VaultStoreResponse,
    report_workflow, vault,
};
use serde_json::{Value, json};
use std::time::Duration;

/// Counts the secrets stored under each key.
struct Secrets;

impl Vault for Secrets {
    async fn store(
        &self,
        ctx: ObjectContext<'_>,
        request: VaultStoreRequest,
    ) -> HandlerResult<VaultStoreResponse> {
        let count = ctx.get::<u32>("count").await?.unwrap_or(0) + 1;
        ctx.set("count", count);
        ctx.set(&format!("secret-{count}"), request.secret);
        Ok(VaultStoreResponse { count })
    }

    async fn count(
        &self,
        ctx: SharedObjectContext<'_>,
        _request: VaultCountRequest,
    ) -> HandlerResult<VaultCountResponse> {
        let count = ctx.get::<u32>("count").await?.unwrap_or(0);
        Ok(VaultCountResponse { count })
    }
}

/// Builds a report and stores its digest in the (ingress-private) vault.
struct Reports;

impl ReportWorkflow for Reports {
    async fn run(
        &self,
        ctx: WorkflowContext<'_>,
        request: ReportRequest,
    ) -> HandlerResult<ReportResponse> {
        let digest = format!("digest of {}", request.title);
        ctx.set("phase", "storing".to_owned());
        let stored = ctx
            .object_client::<VaultClient<'_>>("reports")
            .store(VaultStoreRequest {
                secret: digest.clone(),
            })
            .call()
            .await?;
        ctx.set("phase", "done".to_owned());
        Ok(ReportResponse {
            digest,
            stored: stored.count,
        })
    }

    async fn progress(
        &self,
        ctx: SharedWorkflowContext<'_>,
        _request: ReportProgressRequest,
    ) -> HandlerResult<ReportProgressResponse> {
        let phase = ctx.get::<String>("phase").await?.unwrap_or_default();
        Ok(ReportProgressResponse { phase })
    }
}

fn endpoint() -> Endpoint {
    Endpoint::builder()
        .bind(VaultServer::new(Secrets))
        .bind(ReportWorkflowServer::new(Reports))
        .build()
}

/// The vault with code overriding part of its proto configuration.
fn overridden_endpoint() -> Endpoint {
    let vault = VaultServer::new(Secrets).into_service_definition().options(
        ServiceOptions::new()
            .inactivity_timeout(Duration::from_secs(7))
            .retry_policy_max_attempts(4)
            .handler(
                vault::handler::COUNT,
                HandlerOptions::new().journal_retention(Duration::from_secs(120)),
            ),
    );
    Endpoint::builder()
        .bind(vault)
        .bind(ReportWorkflowServer::new(Reports))
        .build()
}

/// The discovery manifest of `endpoint`, as restate-server asks for it, over HTTP/2: version
/// 4, the first to have the retry policy fields.
async fn discover(endpoint: Endpoint) -> Value {
    discover_version(endpoint, 4)
        .await
        .unwrap_or_else(|status| panic!("discovery answered {status}"))
}

async fn discover_version(endpoint: Endpoint, version: u8) -> Result<Value, u16> {
    let running = restate_rs::serve::Server::bind(endpoint, "127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/discover", running.url()))
        .header(
            "accept",
            format!("application/vnd.restate.endpointmanifest.v{version}+json"),
        )
        .send()
        .await
        .unwrap();
    let status = response.status();
    let manifest = response.json().await;
    running.stop().await;
    if status.is_success() {
        Ok(manifest.unwrap())
    } else {
        Err(status.as_u16())
    }
}

fn service<'a>(manifest: &'a Value, name: &str) -> &'a Value {
    manifest["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {manifest}"))
}

fn handler<'a>(service: &'a Value, name: &str) -> &'a Value {
    service["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {service}"))
}

/// The configuration fields of a manifest entry (everything but what describes the
/// handlers and payloads).
fn config_fields(entry: &Value) -> Value {
    let mut map = entry.as_object().unwrap().clone();
    for key in ["name", "ty", "handlers", "documentation", "input", "output"] {
        map.remove(key);
    }
    Value::Object(map)
}

#[tokio::test]
async fn the_manifest_carries_the_proto_configuration() {
    let manifest = discover(endpoint()).await;

    let vault = service(&manifest, vault::SERVICE_NAME);
    assert_eq!(
        config_fields(vault),
        json!({
            "idempotencyRetention": 86_400_000,
            "journalRetention": 43_200_000,
            "inactivityTimeout": 90_000,
            "abortTimeout": 300_000,
            "ingressPrivate": true,
            "enableLazyState": true,
            "retryPolicyInitialInterval": 250,
            "retryPolicyMaxInterval": 30_000,
            "retryPolicyMaxAttempts": 8,
            "retryPolicyExponentiationFactor": 1.5,
            "retryPolicyOnMaxAttempts": "KILL",
        })
    );
    assert_eq!(
        config_fields(handler(vault, vault::handler::STORE)),
        json!({
            "inactivityTimeout": 600_000,
            "retryPolicyMaxAttempts": 3,
            "retryPolicyOnMaxAttempts": "PAUSE",
        })
    );
    assert_eq!(
        config_fields(handler(vault, vault::handler::COUNT)),
        json!({"journalRetention": 3_600_000, "enableLazyState": false})
    );

    let report = service(&manifest, report_workflow::SERVICE_NAME);
    // The workflow retention is not a service field: it goes on the run handler.
    assert_eq!(
        config_fields(report),
        json!({"idempotencyRetention": 7_200_000})
    );
    assert_eq!(
        config_fields(handler(report, report_workflow::handler::RUN)),
        json!({
            "workflowCompletionRetention": 259_200_000,
            "abortTimeout": 60_000,
            "retryPolicyInitialInterval": 1_000,
            "retryPolicyExponentiationFactor": 2.0,
        })
    );
    assert_eq!(
        config_fields(handler(report, report_workflow::handler::PROGRESS)),
        json!({"idempotencyRetention": 1_800_000, "ingressPrivate": false})
    );

    // restate-sdk refuses to describe a retry policy in a manifest older than version 4
    // (restate-server 1.7.12 and the embedded engine ask for version 4).
    assert_eq!(discover_version(endpoint(), 3).await.unwrap_err(), 500);
}

#[tokio::test]
async fn code_overrides_the_proto_configuration() {
    let manifest = discover(overridden_endpoint()).await;
    let vault = service(&manifest, vault::SERVICE_NAME);
    // What the code sets wins...
    assert_eq!(vault["inactivityTimeout"], 7_000);
    assert_eq!(vault["retryPolicyMaxAttempts"], 4);
    assert_eq!(
        handler(vault, vault::handler::COUNT)["journalRetention"],
        120_000
    );
    // ...and the rest of the proto's configuration stays.
    assert_eq!(vault["abortTimeout"], 300_000);
    assert_eq!(vault["retryPolicyOnMaxAttempts"], "KILL");
    assert_eq!(vault["ingressPrivate"], true);
    let count = handler(vault, vault::handler::COUNT);
    assert_eq!(count["enableLazyState"], false);
    let store = handler(vault, vault::handler::STORE);
    assert_eq!(store["retryPolicyMaxAttempts"], 3);
}

/// restate-server 1.7.12 shows what it applies at `GET /services/{name}`: durations as
/// human-readable text, `public` for the opposite of `ingressPrivate`, the retry policy as an
/// object, the run handler's retention as the service's `workflow_completion_retention`.
#[tokio::test]
async fn restate_server_honours_the_configuration() {
    let server = RestateServer::builder()
        .npm_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools"))
        .start()
        .await
        .unwrap();
    let running = restate_rs::serve::Server::bind(endpoint(), "127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let mut registered = server.register(&running.url()).await.unwrap().services;
    registered.sort();
    assert_eq!(registered, ["hydra.v1.ReportWorkflow", "hydra.v1.Vault"]);

    let vault = server.admin().service(vault::SERVICE_NAME).await.unwrap();
    for (field, want) in [
        ("idempotency_retention", json!("1d")),
        ("journal_retention", json!("12h")),
        ("inactivity_timeout", json!("1m 30s")),
        ("abort_timeout", json!("5m")),
        ("public", json!(false)),
        ("enable_lazy_state", json!(true)),
        (
            "retry_policy",
            json!({
                "initial_interval": "250ms",
                "max_interval": "30s",
                "max_attempts": 8,
                "exponentiation_factor": 1.5,
                "on_max_attempts": "Kill",
            }),
        ),
    ] {
        assert_eq!(vault[field], want, "{field} in {vault:#}");
    }
    let store = handler(&vault, vault::handler::STORE);
    assert_eq!(store["inactivity_timeout"], "10m", "{store:#}");
    assert_eq!(
        store["retry_policy"],
        json!({"max_attempts": 3, "on_max_attempts": "Pause"}),
        "{store:#}"
    );
    assert_eq!(store["public"], false, "{store:#}");
    let count = handler(&vault, vault::handler::COUNT);
    assert_eq!(count["journal_retention"], "1h", "{count:#}");
    assert_eq!(count["enable_lazy_state"], false, "{count:#}");

    let report = server
        .admin()
        .service(report_workflow::SERVICE_NAME)
        .await
        .unwrap();
    assert_eq!(report["workflow_completion_retention"], "3d", "{report:#}");
    assert_eq!(report["idempotency_retention"], "2h", "{report:#}");
    assert_eq!(report["public"], true, "{report:#}");
    let run = handler(&report, report_workflow::handler::RUN);
    assert_eq!(run["abort_timeout"], "1m", "{run:#}");
    assert_eq!(run["retry_policy"]["initial_interval"], "1s", "{run:#}");
    assert_eq!(run["retry_policy"]["exponentiation_factor"], 2.0, "{run:#}");
    let progress = handler(&report, report_workflow::handler::PROGRESS);
    assert_eq!(progress["idempotency_retention"], "30m", "{progress:#}");
    assert_eq!(progress["public"], true, "{progress:#}");

    // The ingress refuses the ingress-private vault...
    let vault_ingress = VaultIngressClient::new(server.ingress());
    let refused = vault_ingress
        .store(
            "reports",
            VaultStoreRequest {
                secret: "from outside".into(),
            },
        )
        .call()
        .await
        .unwrap_err();
    match &refused {
        IngressError::Status {
            status, message, ..
        } => {
            assert_eq!(*status, 400, "{refused}");
            assert!(message.contains("not public"), "{refused}");
        }
        other => panic!("expected a 400 from the ingress, got {other:?}"),
    }
    // ...while a workflow reaches it from inside Restate.
    let reports = ReportWorkflowIngressClient::new(server.ingress());
    let done = reports
        .run("q3", ReportRequest { title: "Q3".into() })
        .call()
        .await
        .unwrap();
    assert_eq!(done.digest, "digest of Q3");
    assert_eq!(done.stored, 1);
    let progress = reports
        .progress("q3", ReportProgressRequest {})
        .call()
        .await
        .unwrap();
    assert_eq!(progress.phase, "done");

    // The code override reaches restate-server too: a new deployment of the same services
    // with part of the vault's configuration replaced in code.
    let overridden = restate_rs::serve::Server::bind(overridden_endpoint(), "127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    server.register(&overridden.url()).await.unwrap();
    let vault = server.admin().service(vault::SERVICE_NAME).await.unwrap();
    assert_eq!(vault["inactivity_timeout"], "7s", "{vault:#}");
    assert_eq!(vault["retry_policy"]["max_attempts"], 4, "{vault:#}");
    assert_eq!(vault["abort_timeout"], "5m", "{vault:#}");
    assert_eq!(vault["public"], false, "{vault:#}");
    let count = handler(&vault, vault::handler::COUNT);
    assert_eq!(count["journal_retention"], "2m", "{count:#}");

    overridden.stop().await;
    running.stop().await;
}

/// The embedded engine honours `enableLazyState`: `Vault.Store` (lazy, from the service's
/// options) reads its state entry by entry, `Vault.Count` (eager, its handler's override) gets
/// the key's state with the invocation. The journal shows which.
#[tokio::test]
async fn the_engine_honours_lazy_state() {
    use restate_rs::engine::{Engine, InvokeOptions, Target};
    let engine = Engine::builder(endpoint()).in_memory().await.unwrap();
    let run = |handler: &'static str, body: &'static str| {
        let engine = engine.clone();
        async move {
            let submitted = engine
                .invoke(
                    Target::keyed("hydra.v1.Vault", "lazy", handler),
                    body,
                    InvokeOptions::default(),
                )
                .await
                .unwrap();
            let output = engine.attach(&submitted.invocation_id).await.unwrap();
            let kinds: Vec<String> = engine
                .describe(&submitted.invocation_id)
                .await
                .unwrap()
                .journal
                .into_iter()
                .map(|entry| entry.kind)
                .collect();
            (String::from_utf8_lossy(&output).into_owned(), kinds)
        }
    };
    let (first, _) = run("Store", r#"{"secret": "a"}"#).await;
    assert_eq!(first, r#"{"count":1}"#);
    let (second, kinds) = run("Store", r#"{"secret": "b"}"#).await;
    assert_eq!(
        second, r#"{"count":2}"#,
        "the lazy read saw the stored count"
    );
    assert!(
        kinds.iter().any(|k| k == "GetLazyStateCommand")
            && !kinds.iter().any(|k| k == "GetEagerStateCommand"),
        "Store is lazy: {kinds:?}"
    );
    let (count, kinds) = run("Count", "{}").await;
    assert_eq!(count, r#"{"count":2}"#);
    assert!(
        kinds.iter().any(|k| k == "GetEagerStateCommand")
            && !kinds.iter().any(|k| k == "GetLazyStateCommand"),
        "Count is eager: {kinds:?}"
    );
    engine.shutdown().await;
}
