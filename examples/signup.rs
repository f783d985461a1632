//! The sign-up workflow: `Run` creates the user in a durable step, emails a verification link
//! with a secret from the deterministic random, and waits on a durable promise; the shared
//! `Click` resolves it and `GetStatus` reads the status.
//!
//! ```sh
//! cargo run --example signup -- --start-server
//! cargo run --example signup -- --admin http://127.0.0.1:9070 --ingress http://127.0.0.1:8080
//! ```

#[path = "common/mod.rs"]
mod common;

use clap::Parser;
use restate_rs::ingress::IngressError;
use restate_rs::prelude::*;
use restate_rs_examples::proto::hydra::v1::{
    ClickRequest, GetSignupStatusRequest, SignupRequest, SignupWorkflowIngressClient,
    SignupWorkflowServer,
};
use restate_rs_examples::services::{Outbox, Signups};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::Args::parse();
    let outbox = Outbox::printing();
    let endpoint = Endpoint::builder()
        .bind(SignupWorkflowServer::new(Signups {
            outbox: outbox.clone(),
        }))
        .build();
    let running = common::run(&args, endpoint).await?;
    let signup = SignupWorkflowIngressClient::new(running.ingress.clone());

    let email = format!("ada+{}@example.com", std::process::id());
    let submitted = signup
        .submit(
            email.as_str(),
            SignupRequest {
                name: "Ada".into(),
                email: email.clone(),
            },
        )
        .await?;
    println!(
        "submitted the workflow {email}: {} ({})",
        submitted.invocation_id, submitted.status
    );

    let secret = loop {
        let status = signup
            .get_status(email.as_str(), GetSignupStatusRequest {})
            .call()
            .await?;
        println!("status: {}", status.status);
        if let Some(secret) = outbox.secret_for(&email) {
            break secret;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    match signup.output(&email).await {
        Err(IngressError::NotReady { .. }) => {
            println!("output: not ready, the workflow waits for the click")
        }
        other => println!("output: {other:?}"),
    }

    signup
        .click(email.as_str(), ClickRequest { secret })
        .call()
        .await?;
    let result = signup.attach(&email).await?;
    println!(
        "result: verified = {}, user id = {}",
        result.verified, result.user_id
    );
    println!(
        "status: {}",
        signup
            .get_status(email.as_str(), GetSignupStatusRequest {})
            .call()
            .await?
            .status
    );
    common::maybe_keep_serving(&args, running).await;
    Ok(())
}
