//! The `hydra.v1` services served for a restate-server, on `restate-rs` built without its
//! embedded engine: `default-features = false, features = ["serve", "ingress"]`, so neither
//! SQLite nor the engine is compiled.
//!
//! ```sh
//! cargo run -p restate-rs-server-only -- 9080        # or RESTATE_RS_PORT=9080
//! restate deployments register http://127.0.0.1:9080
//! ```
//!
//! It listens on 127.0.0.1 only.

use hydra::v1::{
    ClickRequest, ClickResponse, DeployRequest, DeployResponse, DeploymentService,
    DeploymentServiceServer, DeploymentStatus, GetSignupStatusRequest, GetStatusRequest,
    GreetRequest, GreetResponse, Greeter, GreeterServer, RollbackRequest, SignupRequest,
    SignupResult, SignupStatus, SignupWorkflow, SignupWorkflowServer, deployment_status::Phase,
};
use restate_rs::codec::{Json, Payload};
use restate_rs::pbjson_types::Empty;
use restate_rs::prelude::*;
use std::net::{Ipv4Addr, SocketAddr};

/// `common.v1`: types the `hydra.v1` protos import.
pub mod common {
    /// `common.v1`
    pub mod v1 {
        #![allow(missing_docs)]
        restate_rs::include_proto!("common.v1");
    }
}

/// `hydra.v1`: the services.
pub mod hydra {
    /// `hydra.v1`
    pub mod v1 {
        #![allow(missing_docs)]
        restate_rs::include_proto!("hydra.v1");
    }
}

/// The port used when none is given.
const DEFAULT_PORT: u16 = 9080;

/// `hydra.v1.Greeter`.
struct Greetings;

impl Greeter for Greetings {
    async fn greet(
        &self,
        _ctx: Context<'_>,
        request: GreetRequest,
    ) -> HandlerResult<GreetResponse> {
        if request.name.trim().is_empty() {
            return Err(TerminalError::new_with_code(400, "name must not be empty").into());
        }
        Ok(GreetResponse {
            message: format!("Hello, {}!", request.name),
        })
    }

    async fn ping(&self, _ctx: Context<'_>, _request: Empty) -> HandlerResult<Empty> {
        Ok(Empty {})
    }
}

/// `hydra.v1.DeploymentService`: one object per project, which keeps its last status.
struct Deployments;

const STATUS: &str = "status";

impl DeploymentService for Deployments {
    async fn deploy(
        &self,
        ctx: ObjectContext<'_>,
        request: DeployRequest,
    ) -> HandlerResult<DeployResponse> {
        if request.image.is_empty() {
            return Err(TerminalError::new_with_code(400, "image must be set").into());
        }
        let previous = ctx
            .get::<Payload<DeploymentStatus, Json>>(STATUS)
            .await?
            .map(Payload::into_inner)
            .unwrap_or_default();
        let sequence = previous.deployments + 1;
        let deployment_id = format!("{}-{sequence}", ctx.key());
        let image = request.image.clone();
        let step: String = ctx
            .run(|| async move { Ok(format!("roll out: {image}")) })
            .name("roll out")
            .await?;
        ctx.set(
            STATUS,
            Payload::<_, Json>::new(DeploymentStatus {
                phase: Phase::Idle.into(),
                deployment_id: deployment_id.clone(),
                deployments: sequence,
            }),
        );
        Ok(DeployResponse {
            deployment_id,
            steps: vec![step],
            finished_at: None,
            sequence,
        })
    }

    async fn rollback(
        &self,
        _ctx: ObjectContext<'_>,
        _request: RollbackRequest,
    ) -> HandlerResult<DeployResponse> {
        Err(TerminalError::new_with_code(409, "nothing to roll back to").into())
    }

    async fn get_status(
        &self,
        ctx: SharedObjectContext<'_>,
        _request: GetStatusRequest,
    ) -> HandlerResult<DeploymentStatus> {
        Ok(ctx
            .get::<Payload<DeploymentStatus, Json>>(STATUS)
            .await?
            .map(Payload::into_inner)
            .unwrap_or(DeploymentStatus {
                phase: Phase::Idle.into(),
                ..Default::default()
            }))
    }
}

/// `hydra.v1.SignupWorkflow`: creates the user, then waits for the click.
struct Signups;

const SIGNUP_STATUS: &str = "status";
const CLICKED: &str = "clicked";

impl SignupWorkflow for Signups {
    async fn run(
        &self,
        ctx: WorkflowContext<'_>,
        request: SignupRequest,
    ) -> HandlerResult<SignupResult> {
        let email = request.email.clone();
        let user_id: String = ctx
            .run(|| async move { Ok(format!("user-{email}")) })
            .name("create user")
            .await?;
        ctx.set(SIGNUP_STATUS, "Verifying user".to_owned());
        let secret = ctx.promise::<String>(CLICKED).await?;
        ctx.set(SIGNUP_STATUS, "Link clicked".to_owned());
        Ok(SignupResult {
            verified: !secret.is_empty(),
            user_id,
        })
    }

    async fn click(
        &self,
        ctx: SharedWorkflowContext<'_>,
        request: ClickRequest,
    ) -> HandlerResult<ClickResponse> {
        ctx.resolve_promise::<String>(CLICKED, request.secret);
        Ok(ClickResponse {})
    }

    async fn get_status(
        &self,
        ctx: SharedWorkflowContext<'_>,
        _request: GetSignupStatusRequest,
    ) -> HandlerResult<SignupStatus> {
        let status = ctx
            .get::<String>(SIGNUP_STATUS)
            .await?
            .unwrap_or_else(|| "Unknown".to_owned());
        Ok(SignupStatus { status })
    }
}

/// The port from the first argument, else `RESTATE_RS_PORT`, else 9080.
fn port() -> Result<u16, String> {
    let given = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("RESTATE_RS_PORT").ok());
    match given {
        None => Ok(DEFAULT_PORT),
        Some(text) => text
            .parse()
            .map_err(|_| format!("`{text}` is not a port (1-65535)")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Loopback only: this endpoint does not check request signatures.
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port()?));
    let endpoint = Endpoint::builder()
        .bind(GreeterServer::new(Greetings))
        .bind(DeploymentServiceServer::new(Deployments))
        .bind(SignupWorkflowServer::new(Signups))
        .build();
    println!("serving hydra.v1 on http://{address}");
    restate_rs::serve::serve(endpoint, address).await?;
    Ok(())
}
