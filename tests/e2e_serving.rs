//! Serving and registration against a real restate-server: HTTP/1.1 deployments, request
//! identity (signed requests only), and the errors users meet (port in use, refused
//! registration).

mod support;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use restate_rs::admin::{AdminError, RegisterOptions};
use restate_rs::prelude::*;
use restate_rs::serve::{ServeError, Server};
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::hydra::v1::{GreetRequest, GreeterIngressClient, GreeterServer};
use restate_rs_examples::services::Greetings;
use support::TOOLS;

fn greeter() -> Endpoint {
    Endpoint::builder()
        .bind(GreeterServer::new(Greetings))
        .build()
}

#[tokio::test]
async fn http11_deployment() {
    let server = RestateServer::builder()
        .npm_prefix(TOOLS)
        .start()
        .await
        .unwrap();
    let endpoint = Server::bind(greeter(), "127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    server
        .admin()
        .register_with(
            &endpoint.url(),
            RegisterOptions {
                use_http_11: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let reply = GreeterIngressClient::new(server.ingress())
        .greet(GreetRequest { name: "h1".into() })
        .call()
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, h1!");
}

#[tokio::test]
async fn request_identity_refuses_unsigned_requests() {
    // A fixed test key: the server signs with the private half, the endpoint checks with the public one.
    let key = SigningKey::from_bytes(&[42u8; 32]);
    let dir = tempfile::tempdir().unwrap();
    let pem_path = dir.path().join("identity.pem");
    std::fs::write(
        &pem_path,
        key.to_pkcs8_pem(Default::default()).unwrap().as_bytes(),
    )
    .unwrap();
    let public = format!(
        "publickeyv1_{}",
        bs58::encode(key.verifying_key().as_bytes()).into_string()
    );

    let endpoint = Endpoint::builder()
        .bind(GreeterServer::new(Greetings))
        .identity_key(&public)
        .unwrap()
        .build();
    let running = Server::bind(endpoint, "127.0.0.1:0").await.unwrap().spawn();

    // Unsigned: refused.
    let http = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let unsigned = http
        .get(format!("{}/discover", running.url()))
        .header("accept", "application/vnd.restate.endpointmanifest.v3+json")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    // A server without the key cannot register it, and says why.
    let stranger = RestateServer::builder()
        .npm_prefix(TOOLS)
        .start()
        .await
        .unwrap();
    let err = stranger
        .register(&running.url())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("401"), "{err}");

    // A server that signs with the key registers and calls it.
    let server = RestateServer::builder()
        .npm_prefix(TOOLS)
        .request_identity_key(&pem_path)
        .start()
        .await
        .unwrap();
    server.register(&running.url()).await.unwrap();
    let reply = GreeterIngressClient::new(server.ingress())
        .greet(GreetRequest {
            name: "signed".into(),
        })
        .call()
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, signed!");
}

#[tokio::test]
async fn port_in_use_is_a_clear_error() {
    let first = Server::bind(greeter(), "127.0.0.1:0").await.unwrap();
    let addr = first.local_addr();
    let err = match Server::bind(greeter(), addr.to_string()).await {
        Err(e) => e,
        Ok(_) => panic!("bound {addr} twice"),
    };
    assert!(matches!(err, ServeError::Bind { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "cannot listen on {addr}: Address already in use (os error 98); is another endpoint running there?"
        )
    );
}

#[tokio::test]
async fn registration_errors_say_what_the_server_said() {
    let server = RestateServer::builder()
        .npm_prefix(TOOLS)
        .start()
        .await
        .unwrap();
    // Nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = server
        .admin()
        .register(&format!("http://{free}"))
        .await
        .unwrap_err();
    match &err {
        AdminError::Refused {
            status, message, ..
        } => {
            assert!(*status >= 400, "{err}");
            assert!(!message.is_empty(), "{err}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        err.to_string().starts_with(&format!(
            "the Restate server refused registering http://{free}"
        )),
        "{err}"
    );

    // An admin API that is down.
    let down = restate_rs::admin::AdminClient::new(format!("http://{free}")).unwrap();
    let err = down.register("http://127.0.0.1:1").await.unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "cannot reach the Restate admin API at http://{free}"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn discovery_carries_json_schemas_and_docs() {
    let server = RestateServer::builder()
        .npm_prefix(TOOLS)
        .start()
        .await
        .unwrap();
    let endpoint = Endpoint::builder()
        .bind(
            restate_rs_examples::proto::hydra::v1::DeploymentServiceServer::new(
                restate_rs_examples::services::Deployments,
            ),
        )
        .build();
    let running = Server::bind(endpoint, "127.0.0.1:0").await.unwrap().spawn();
    server.register(&running.url()).await.unwrap();
    let service = server
        .admin()
        .service("hydra.v1.DeploymentService")
        .await
        .unwrap();
    assert_eq!(service["ty"], "VirtualObject", "{service:#}");
    assert_eq!(
        service["documentation"],
        "Deploys projects. Keyed by project id: two deployments of one project never overlap."
    );
    let handlers = service["handlers"].as_array().unwrap();
    let deploy = handlers.iter().find(|h| h["name"] == "Deploy").unwrap();
    let shared = handlers.iter().find(|h| h["name"] == "GetStatus").unwrap();
    assert_eq!(shared["ty"], "Shared", "{shared:#}");
    let text = deploy.to_string();
    for needle in [
        "buildId",
        "requestedBy",
        "STRATEGY_BLUE_GREEN",
        "common.v1.Actor",
    ] {
        assert!(text.contains(needle), "{needle} missing from {deploy:#}");
    }

    let openapi: serde_json::Value = reqwest::get(format!(
        "{}/services/hydra.v1.DeploymentService/openapi",
        server.admin_url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let text = openapi.to_string();
    assert!(
        text.contains("buildId") && text.contains("deploymentId"),
        "{openapi:#}"
    );
}

/// The binary build of the protos has default stubs: an empty implementation serves, each
/// method answering a terminal 501; payloads travel as binary protobuf.
#[derive(Clone)]
struct Unimplemented;
impl restate_rs_examples::proto_binary::hydra::v1::Greeter for Unimplemented {}

#[tokio::test]
async fn binary_payloads_and_default_stubs() {
    use restate_rs_examples::proto_binary::hydra::v1 as binary;
    let server = RestateServer::builder()
        .npm_prefix(TOOLS)
        .start()
        .await
        .unwrap();
    let endpoint = Endpoint::builder()
        .bind(binary::GreeterServer::new(Unimplemented))
        .build();
    let running = Server::bind(endpoint, "127.0.0.1:0").await.unwrap().spawn();
    server.register(&running.url()).await.unwrap();

    let greeter = binary::GreeterIngressClient::new(server.ingress());
    let err = greeter
        .greet(binary::GreetRequest { name: "x".into() })
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(501), "{err}");
    assert!(
        err.to_string()
            .contains("hydra.v1.Greeter/Greet is not implemented"),
        "{err}"
    );

    // The wire format is protobuf: a JSON body does not decode.
    let response = reqwest::Client::new()
        .post(format!("{}/hydra.v1.Greeter/Greet", server.ingress_url()))
        .header("content-type", "application/proto")
        .body(r#"{"name": "json"}"#)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("invalid application/proto payload for GreetRequest"),
        "{text}"
    );
}
