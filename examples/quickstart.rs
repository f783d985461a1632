//! The tour: serves the generated `hydra.v1` services with restate-sdk, shows what a Restate
//! server learns from them at registration, then starts a real restate-server (pinned, from
//! npm, installed into `.tools/` when missing) on free loopback ports, registers the services
//! and runs the sign-up workflow and a deployment through the generated ingress clients.
//!
//! ```sh
//! cargo run --example quickstart                # everything, then stop
//! cargo run --example quickstart -- --no-server # only serve and show discovery
//! ```

use restate_rs::prelude::*;
use restate_rs::serve::Server;
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::hydra::v1::{
    ClickRequest, DeployRequest, DeploymentServiceIngressClient, DeploymentServiceServer,
    GetSignupStatusRequest, GetStatusRequest, GreetRequest, GreeterIngressClient, GreeterServer,
    SignupRequest, SignupWorkflowIngressClient, SignupWorkflowServer,
};
use restate_rs_examples::services::{Deployments, Greetings, Outbox, Signups};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let with_server = !std::env::args().any(|a| a == "--no-server");
    let outbox = Outbox::default();
    let endpoint = Endpoint::builder()
        .bind(DeploymentServiceServer::new(Deployments))
        .bind(SignupWorkflowServer::new(Signups {
            outbox: outbox.clone(),
        }))
        .bind(GreeterServer::new(Greetings))
        .build();
    let running = Server::bind(endpoint, "127.0.0.1:0").await?.spawn();
    println!(
        "1. Serving the generated hydra.v1 services on {}",
        running.url()
    );

    let client = reqwest::Client::builder().http2_prior_knowledge().build()?;
    let manifest: serde_json::Value = client
        .get(format!("{}/discover", running.url()))
        .header("accept", "application/vnd.restate.endpointmanifest.v3+json")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("\n2. What a Restate server learns when it registers this endpoint:\n");
    for service in manifest["services"].as_array().into_iter().flatten() {
        println!(
            "   {} ({})",
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
                "     {:<10} {:<9} {input} -> {output}",
                handler["name"].as_str().unwrap_or("?"),
                kind
            );
        }
    }

    if with_server {
        println!("\n3. Starting restate-server (installed from npm into .tools/ when missing)");
        let server = RestateServer::builder()
            .npm_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools"))
            .start()
            .await?;
        println!(
            "   pid {}, admin {}, ingress {}",
            server.pid(),
            server.admin_url(),
            server.ingress_url()
        );
        let deployment = server.register(&running.url()).await?;
        println!(
            "   registered {}: {}",
            deployment.id,
            deployment.services.join(", ")
        );

        println!("\n4. Calling through the ingress with the generated clients");
        let greeting = GreeterIngressClient::new(server.ingress())
            .greet(GreetRequest {
                name: "Rust".into(),
            })
            .call()
            .await?;
        println!("   Greeter/Greet: {}", greeting.message);

        let deployments = DeploymentServiceIngressClient::new(server.ingress());
        let done = deployments
            .deploy(
                "project-1",
                DeployRequest {
                    image: "registry.local/api:1.0".into(),
                    ..Default::default()
                },
            )
            .call()
            .await?;
        println!(
            "   DeploymentService/project-1/Deploy: {} in {} durable steps",
            done.deployment_id,
            done.steps.len()
        );
        let status = deployments
            .get_status("project-1", GetStatusRequest {})
            .call()
            .await?;
        println!(
            "   DeploymentService/project-1/GetStatus: {:?}, {} deployment(s)",
            status.phase(),
            status.deployments
        );

        let signup = SignupWorkflowIngressClient::new(server.ingress());
        let email = "ada@example.com";
        signup
            .submit(
                email,
                SignupRequest {
                    name: "Ada".into(),
                    email: email.into(),
                },
            )
            .await?;
        let secret = loop {
            if let Some(secret) = outbox.secret_for(email) {
                break secret;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let status = signup
            .get_status(email, GetSignupStatusRequest {})
            .call()
            .await?;
        println!(
            "   SignupWorkflow/{email}: submitted, status \"{}\", waiting for the click",
            status.status
        );
        signup.click(email, ClickRequest { secret }).call().await?;
        let result = signup.attach(email).await?;
        println!(
            "   SignupWorkflow/{email}: clicked; result verified = {}, user {}",
            result.verified, result.user_id
        );
        drop(server);
        println!("\n5. Stopped restate-server.");
    }

    running.stop().await;
    println!("Done.");
    Ok(())
}
