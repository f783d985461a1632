//! Serves the generated `hydra.v1` services on a loopback port with restate-sdk, then reads
//! the endpoint's discovery manifest over HTTP/2 the way a Restate server does at
//! registration, and prints what the server would learn: every service, its kind, and its
//! handlers with their kinds and payload types.
//!
//! ```sh
//! cargo run --example quickstart            # serve, discover, print, stop
//! cargo run --example quickstart -- --serve # keep serving on 127.0.0.1:9080
//! ```

use restate_rs::prelude::*;
use restate_rs_examples::proto::hydra::v1::{
    DeploymentServiceServer, GreeterServer, SignupWorkflowServer,
};
use restate_rs_examples::services::{Deployments, Greetings, Signups};
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve_forever = std::env::args().any(|a| a == "--serve");
    let endpoint = Endpoint::builder()
        .bind(DeploymentServiceServer::new(Deployments))
        .bind(SignupWorkflowServer::new(Signups::default()))
        .bind(GreeterServer::new(Greetings))
        .build();

    let addr: SocketAddr = if serve_forever {
        "127.0.0.1:9080"
    } else {
        "127.0.0.1:0"
    }
    .parse()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr()?;
    println!("serving the hydra.v1 services on http://{addr}");
    if serve_forever {
        println!(
            "register it with: curl -X POST http://127.0.0.1:9070/deployments -H 'content-type: application/json' -d '{{\"uri\": \"http://{addr}\"}}'"
        );
        HttpServer::new(endpoint).serve(listener).await;
        return Ok(());
    }

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(HttpServer::new(endpoint).serve_with_cancel(listener, stopped));

    let client = reqwest::Client::builder().http2_prior_knowledge().build()?;
    let manifest: serde_json::Value = client
        .get(format!("http://{addr}/discover"))
        .header("accept", "application/vnd.restate.endpointmanifest.v3+json")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;

    println!("\nWhat a Restate server learns when it registers this endpoint:\n");
    for service in manifest["services"].as_array().into_iter().flatten() {
        println!(
            "{} ({})",
            service["name"].as_str().unwrap_or("?"),
            service["ty"].as_str().unwrap_or("?")
        );
        for handler in service["handlers"].as_array().into_iter().flatten() {
            let kind = handler["ty"].as_str().unwrap_or("-");
            let input = handler["input"]["jsonSchema"]["title"]
                .as_str()
                .unwrap_or("?");
            let output = handler["output"]["jsonSchema"]["title"]
                .as_str()
                .unwrap_or("?");
            println!(
                "  {:<10} {:<9} {input} -> {output}",
                handler["name"].as_str().unwrap_or("?"),
                kind
            );
        }
    }

    let _ = stop.send(());
    server.await?;
    println!("\nstopped.");
    Ok(())
}
