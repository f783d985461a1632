//! First light against a real restate-server.

use restate_rs::prelude::*;
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::hydra::v1::{GreetRequest, GreeterIngressClient, GreeterServer};
use restate_rs_examples::services::Greetings;

#[tokio::test]
async fn greeter_through_the_ingress() {
    let server = RestateServer::builder()
        .npm_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools"))
        .start()
        .await
        .unwrap();
    let endpoint = Endpoint::builder()
        .bind(GreeterServer::new(Greetings))
        .build();
    let running = restate_rs::serve::Server::bind(endpoint, "127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let deployment = server.register(&running.url()).await.unwrap();
    assert_eq!(deployment.services, ["hydra.v1.Greeter"]);
    let greeter = GreeterIngressClient::new(server.ingress());
    let response = greeter
        .greet(GreetRequest { name: "Ada".into() })
        .call()
        .await
        .unwrap();
    assert_eq!(response.message, "Hello, Ada!");
}
