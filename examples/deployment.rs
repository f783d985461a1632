//! A `hydra.v1`-style deployment service: a virtual object per project, so that operations on
//! one project are serialized, each deployment a series of named durable steps.
//!
//! ```sh
//! scripts/install-tools.sh                                   # restate-server from npm
//! cargo run --example deployment -- --start-server           # a throwaway server
//! cargo run --example deployment -- --admin http://127.0.0.1:9070 --ingress http://127.0.0.1:8080
//! ```

#[path = "common/mod.rs"]
mod common;

use clap::Parser;
use restate_rs::prelude::*;
use restate_rs_examples::proto::common::v1::Actor;
use restate_rs_examples::proto::hydra::v1::{
    DeployRequest, DeploymentServiceIngressClient, DeploymentServiceServer, GetStatusRequest,
    RollbackRequest, deploy_request::Strategy,
};
use restate_rs_examples::services::Deployments;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = common::Args::parse();
    let endpoint = Endpoint::builder()
        .bind(DeploymentServiceServer::new(Deployments))
        .build();
    let running = common::run(&args, endpoint).await?;
    let deployments = DeploymentServiceIngressClient::new(running.ingress.clone());

    for image in ["registry.local/api:1.0", "registry.local/api:1.1"] {
        let request = DeployRequest {
            build_id: format!("build-{image}"),
            image: image.to_owned(),
            requested_by: Some(Actor {
                id: "u-1".into(),
                display_name: "Ada".into(),
            }),
            strategy: Strategy::Rolling.into(),
            ..Default::default()
        };
        let done = deployments.deploy("project-42", request).call().await?;
        println!(
            "deployed {image} as {} (#{}):",
            done.deployment_id, done.sequence
        );
        for step in &done.steps {
            println!("  {step}");
        }
    }
    let status = deployments
        .get_status("project-42", GetStatusRequest {})
        .call()
        .await?;
    println!(
        "status: {:?}, current {}, {} deployments",
        status.phase(),
        status.deployment_id,
        status.deployments
    );

    let rolled = deployments
        .rollback(
            "project-42",
            RollbackRequest {
                reason: "smoke test".into(),
            },
        )
        .call()
        .await?;
    println!("rolled back to {}", rolled.deployment_id);

    match deployments
        .deploy("project-42", DeployRequest::default())
        .call()
        .await
    {
        Err(e) => println!("a bad request is refused: {e}"),
        Ok(r) => println!("unexpectedly deployed {}", r.deployment_id),
    }
    common::maybe_keep_serving(&args, running).await;
    Ok(())
}
