//! The tour, on the embedded engine by default: no server, one SQLite file.
//!
//! It binds the generated `hydra.v1` services to the engine, greets, deploys a project and
//! runs the sign-up workflow through the generated ingress clients. Durable: run it with
//! `--pause`, kill it (even with `kill -9`) while the workflow waits for its click, run it
//! again, and the workflow resumes where it was; its user is not created twice, its email not
//! sent twice.
//!
//! ```sh
//! cargo run --example quickstart                       # embedded engine, file target/quickstart/engine.db
//! cargo run --example quickstart -- --pause            # stop before the click; kill it, run it again
//! cargo run --example quickstart -- --restate-server   # the same on a real restate-server (from npm)
//! RESTATE_INGRESS_URL=http://127.0.0.1:8080 RESTATE_ADMIN_URL=http://127.0.0.1:9070 cargo run --example quickstart
//! ```

use restate_rs::engine::Engine;
use restate_rs::ingress::{IngressClient, SendStatus};
use restate_rs::prelude::*;
use restate_rs::serve::{RunningServer, Server};
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::hydra::v1::{
    ClickRequest, DeployRequest, DeploymentServiceIngressClient, DeploymentServiceServer,
    GetSignupStatusRequest, GetStatusRequest, GreetRequest, GreeterIngressClient, GreeterServer,
    SignupRequest, SignupWorkflowIngressClient, SignupWorkflowServer,
};
use restate_rs_examples::services::{Deployments, Greetings, Outbox, Signups};
use std::path::PathBuf;
use std::time::Duration;

struct Args {
    restate_server: bool,
    pause: bool,
    dir: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        restate_server: false,
        pause: false,
        dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/quickstart")),
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--restate-server" => args.restate_server = true,
            "--pause" => args.pause = true,
            "--dir" => args.dir = given.next().ok_or("--dir takes a directory")?.into(),
            "--help" | "-h" => {
                println!("usage: quickstart [--pause] [--restate-server] [--dir DIR]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok(args)
}

fn endpoint(outbox: &Outbox) -> Endpoint {
    Endpoint::builder()
        .bind(DeploymentServiceServer::new(Deployments))
        .bind(SignupWorkflowServer::new(Signups {
            outbox: outbox.clone(),
        }))
        .bind(GreeterServer::new(Greetings))
        .build()
}

/// Keeps whatever runs the services alive while the tour goes on.
#[allow(dead_code)]
enum Running {
    Engine(Engine),
    Server(Box<Option<RestateServer>>, RunningServer),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    std::fs::create_dir_all(&args.dir)?;

    let external = std::env::var("RESTATE_INGRESS_URL")
        .ok()
        .zip(std::env::var("RESTATE_ADMIN_URL").ok());
    // The embedded engine's state lives in a file, and so do its emails; a server's are its own.
    let outbox = if args.restate_server || external.is_some() {
        Outbox::printing()
    } else {
        Outbox::in_file(args.dir.join("outbox.txt"))
    };
    let (ingress, running) = if args.restate_server || external.is_some() {
        let server = match &external {
            Some(_) => None,
            None => {
                println!(
                    "Starting restate-server (installed from npm into .tools/ when missing)..."
                );
                Some(
                    RestateServer::builder()
                        .npm_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools"))
                        .start()
                        .await?,
                )
            }
        };
        let (admin, ingress_url) = match (&server, &external) {
            (Some(s), _) => (s.admin().clone(), s.ingress_url().to_owned()),
            (None, Some((ingress, admin))) => {
                (restate_rs::admin::AdminClient::new(admin)?, ingress.clone())
            }
            _ => unreachable!(),
        };
        let endpoint = Server::bind(endpoint(&outbox), "127.0.0.1:0")
            .await?
            .spawn();
        let deployment = admin.register(&endpoint.url()).await?;
        println!(
            "Engine: restate-server; admin {}, ingress {ingress_url}",
            admin.url()
        );
        println!(
            "   registered {} at {}: {}",
            deployment.id,
            endpoint.url(),
            deployment.services.join(", ")
        );
        (
            IngressClient::new(&ingress_url)?,
            Running::Server(Box::new(server), endpoint),
        )
    } else {
        let db = args.dir.join("engine.db");
        let engine = Engine::builder(endpoint(&outbox)).open(&db).await?;
        println!("Engine: embedded, state in {}", db.display());
        (engine.ingress(), Running::Engine(engine))
    };

    println!("\nCalls through the generated ingress clients:");
    let greeting = GreeterIngressClient::new(ingress.clone())
        .greet(GreetRequest {
            name: "Rust".into(),
        })
        .call()
        .await?;
    println!("   Greeter/Greet -> {}", greeting.message);

    let deployments = DeploymentServiceIngressClient::new(ingress.clone());
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
        "   DeploymentService/project-1/Deploy -> {} after {} durable steps",
        done.deployment_id,
        done.steps.len()
    );
    let status = deployments
        .get_status("project-1", GetStatusRequest {})
        .call()
        .await?;
    println!(
        "   DeploymentService/project-1/GetStatus -> {:?}, {} deployment(s) so far",
        status.phase(),
        status.deployments
    );

    println!("\nThe sign-up workflow:");
    let signup = SignupWorkflowIngressClient::new(ingress.clone());
    let mut n = 1;
    let email = loop {
        let email = format!("user{n}@example.com");
        let submitted = signup
            .submit(
                email.as_str(),
                SignupRequest {
                    name: format!("User {n}"),
                    email: email.clone(),
                },
            )
            .await?;
        if submitted.status == SendStatus::Accepted {
            println!("   {email}: submitted ({})", submitted.invocation_id);
            break email;
        }
        // Submitted by an earlier run: go on with it if it has not finished, else take the
        // next id.
        match signup.output(&email).await {
            Err(restate_rs::ingress::IngressError::NotReady { .. }) => {
                println!(
                    "   {email}: resumed ({}), submitted by an earlier run that stopped before the click",
                    submitted.invocation_id
                );
                break email;
            }
            _ => n += 1,
        }
    };
    let secret = loop {
        if let Some(secret) = outbox.secret_for(&email) {
            break secret;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let status = signup
        .get_status(email.as_str(), GetSignupStatusRequest {})
        .call()
        .await?;
    println!(
        "   {email}: status \"{}\", waiting for the click",
        status.status
    );
    if args.pause {
        println!(
            "\n--pause: waiting here. Kill this process (kill -9 {}) and run it again: the workflow resumes.",
            std::process::id()
        );
        std::future::pending::<()>().await;
    }
    signup
        .click(email.as_str(), ClickRequest { secret })
        .call()
        .await?;
    let result = signup.attach(&email).await?;
    println!(
        "   {email}: clicked -> verified = {}, user {}",
        result.verified, result.user_id
    );
    println!(
        "   emails sent to {email}: {} (never more than one, however often the program was killed)",
        outbox.count_for(&email)
    );

    match running {
        Running::Engine(engine) => engine.shutdown().await,
        Running::Server(_server, endpoint) => endpoint.stop().await,
    }
    println!("\nDone.");
    Ok(())
}
