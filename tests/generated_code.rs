//! The code generated from `proto/` by the root build.rs, used as a user would: messages and
//! their proto3 JSON mapping, name constants, default stubs, and the discovery manifest that a
//! Restate server reads when it registers the endpoint.

use restate_rs::codec::{Binary, Codec, Json};
use restate_rs::prelude::*;
use restate_rs_examples::proto::common::v1::Actor;
use restate_rs_examples::proto::hydra::v1::{
    DeployRequest, DeploymentServiceServer, DeploymentStatus, GreeterServer, SignupWorkflowServer,
    deploy_request::Strategy, deployment_service, deployment_status, keywords, signup_workflow,
};
use restate_rs_examples::services::{Deployments, Greetings, Signups};
use serde_json::{Value, json};

#[test]
fn json_is_proto3_canonical() {
    let request = DeployRequest {
        build_id: "b-1".into(),
        image: "registry.local/app:1".into(),
        env: [("RUST_LOG".to_owned(), "info".to_owned())].into(),
        requested_by: Some(Actor {
            id: "u1".into(),
            display_name: "Ada".into(),
        }),
        replicas: Some(3),
        strategy: Strategy::BlueGreen.into(),
    };
    let bytes = <Json as Codec<DeployRequest>>::encode(&request).unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        value,
        json!({
            "buildId": "b-1",
            "image": "registry.local/app:1",
            "env": {"RUST_LOG": "info"},
            "requestedBy": {"id": "u1", "displayName": "Ada"},
            "replicas": 3,
            "strategy": "STRATEGY_BLUE_GREEN",
        })
    );
    let back: DeployRequest = <Json as Codec<_>>::decode(&bytes).unwrap();
    assert_eq!(back, request);

    // Original field names are accepted too; int64 comes as a string; defaults are omitted.
    let status: DeploymentStatus = <Json as Codec<_>>::decode(
        br#"{"deployment_id": "d-2", "deployments": "42", "phase": "PHASE_FAILED"}"#,
    )
    .unwrap();
    assert_eq!(status.deployments, 42);
    assert_eq!(status.phase(), deployment_status::Phase::Failed);
    let out: Value = serde_json::from_slice(&<Json as Codec<_>>::encode(&status).unwrap()).unwrap();
    assert_eq!(
        out,
        json!({"phase": "PHASE_FAILED", "deploymentId": "d-2", "deployments": "42"})
    );
    let empty: Value =
        serde_json::from_slice(&<Json as Codec<_>>::encode(&DeploymentStatus::default()).unwrap())
            .unwrap();
    assert_eq!(empty, json!({}));
}

#[test]
fn bad_json_says_what_is_wrong() {
    let err = <Json as Codec<DeployRequest>>::decode(br#"{"imagee": "x"}"#).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "invalid application/json payload for DeployRequest: unknown field `imagee`"
        ),
        "{text}"
    );
    assert!(text.contains("line 1 column"), "{text}");

    let err = <Json as Codec<DeployRequest>>::decode(br#"{"strategy": "STRATEGY_SIDEWAYS"}"#)
        .unwrap_err();
    assert!(err.to_string().contains("STRATEGY_SIDEWAYS"), "{err}");

    let err = <Json as Codec<DeploymentStatus>>::decode(br#"{"deployments": "many"}"#).unwrap_err();
    assert!(
        err.to_string().contains("deployments") || err.to_string().contains("invalid"),
        "{err}"
    );

    let err = <Binary as Codec<DeployRequest>>::decode(b"\x0a\x05ab").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid application/proto payload for DeployRequest:"),
        "{err}"
    );
}

#[test]
fn names_are_the_proto_names() {
    assert_eq!(
        deployment_service::SERVICE_NAME,
        "hydra.v1.DeploymentService"
    );
    assert_eq!(deployment_service::handler::DEPLOY, "Deploy");
    assert_eq!(deployment_service::handler::GET_STATUS, "GetStatus");
    assert_eq!(signup_workflow::SERVICE_NAME, "hydra.v1.SignupWorkflow");
    assert_eq!(signup_workflow::handler::RUN, "Run");
    assert_eq!(keywords::handler::TYPE, "Type");
    assert_eq!(keywords::handler::SELF, "Self");
}

/// With default stubs (the binary build), an empty impl is a complete service.
#[derive(Clone)]
struct Nothing;
impl restate_rs_examples::proto_binary::hydra::v1::Greeter for Nothing {}
impl restate_rs_examples::proto_binary::hydra::v1::SignupWorkflow for Nothing {}

async fn discover(endpoint: Endpoint) -> Value {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(HttpServer::new(endpoint).serve_with_cancel(listener, stopped));
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let manifest = client
        .get(format!("http://{addr}/discover"))
        .header("accept", "application/vnd.restate.endpointmanifest.v3+json")
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    stop.send(()).unwrap();
    server.await.unwrap();
    manifest
}

fn summary(manifest: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for service in manifest["services"].as_array().unwrap() {
        lines.push(format!(
            "{} {}",
            service["name"].as_str().unwrap(),
            service["ty"].as_str().unwrap()
        ));
        for h in service["handlers"].as_array().unwrap() {
            lines.push(format!(
                "  {} {} {} {}",
                h["name"].as_str().unwrap(),
                h["ty"].as_str().unwrap_or("-"),
                h["input"]["contentType"].as_str().unwrap(),
                h["output"]["contentType"].as_str().unwrap(),
            ));
        }
    }
    lines
}

#[tokio::test]
async fn discovery_manifest() {
    let endpoint = Endpoint::builder()
        .bind(DeploymentServiceServer::new(Deployments))
        .bind(SignupWorkflowServer::new(Signups::default()))
        .bind(GreeterServer::new(Greetings))
        .build();
    let manifest = discover(endpoint).await;
    let mut lines = summary(&manifest);
    lines.sort();
    let mut want = vec![
        "hydra.v1.DeploymentService VIRTUAL_OBJECT",
        "  Deploy EXCLUSIVE application/json application/json",
        "  Rollback EXCLUSIVE application/json application/json",
        "  GetStatus SHARED application/json application/json",
        "hydra.v1.SignupWorkflow WORKFLOW",
        "  Run WORKFLOW application/json application/json",
        "  Click SHARED application/json application/json",
        "  GetStatus SHARED application/json application/json",
        "hydra.v1.Greeter SERVICE",
        "  Greet - application/json application/json",
        "  Ping - application/json application/json",
    ];
    want.sort();
    assert_eq!(lines, want);

    let deploy = &manifest["services"][0];
    assert_eq!(
        deploy["documentation"],
        "Deploys projects. Keyed by project id: two deployments of one project never overlap."
    );
    assert_eq!(
        deploy["handlers"][0]["input"]["jsonSchema"]["title"],
        "hydra.v1.DeployRequest"
    );
}

#[tokio::test]
async fn binary_encoding_in_discovery() {
    use restate_rs_examples::proto_binary::hydra::v1 as binary;
    let endpoint = Endpoint::builder()
        .bind(binary::GreeterServer::new(Nothing))
        .bind(binary::SignupWorkflowServer::new(Nothing))
        .build();
    let lines = summary(&discover(endpoint).await);
    assert_eq!(
        lines,
        [
            "hydra.v1.Greeter SERVICE",
            "  Greet - application/proto application/proto",
            "  Ping - application/proto application/proto",
            "hydra.v1.SignupWorkflow WORKFLOW",
            "  Run WORKFLOW application/proto application/proto",
            "  Click SHARED application/proto application/proto",
            "  GetStatus SHARED application/proto application/proto",
        ]
    );
}
