//! What the server-backed examples share: where the Restate server is, serving the endpoint
//! and registering it.

use clap::Parser;
use restate_rs::admin::AdminClient;
use restate_rs::ingress::IngressClient;
use restate_rs::prelude::Endpoint;
use restate_rs::serve::{RunningServer, Server};
use restate_rs::testing::RestateServer;

/// Where the Restate server is.
#[derive(Parser, Debug)]
pub(crate) struct Args {
    /// The Restate server's admin API.
    #[arg(
        long,
        default_value = "http://127.0.0.1:9070",
        env = "RESTATE_ADMIN_URL"
    )]
    pub(crate) admin: String,
    /// The Restate server's ingress.
    #[arg(
        long,
        default_value = "http://127.0.0.1:8080",
        env = "RESTATE_INGRESS_URL"
    )]
    pub(crate) ingress: String,
    /// Where this endpoint listens (the server must reach it there).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) listen: String,
    /// Start a throwaway restate-server on free loopback ports instead (installed from npm
    /// when missing; see scripts/install-tools.sh).
    #[arg(long)]
    pub(crate) start_server: bool,
    /// Keep serving after the demo, until Ctrl-C.
    #[arg(long)]
    pub(crate) serve: bool,
}

/// The endpoint, served and registered, and a client of the ingress.
pub(crate) struct Running {
    pub(crate) endpoint: RunningServer,
    pub(crate) ingress: IngressClient,
    _server: Option<RestateServer>,
}

/// Serves `endpoint`, registers it with the server, and returns an ingress client.
pub(crate) async fn run(
    args: &Args,
    endpoint: Endpoint,
) -> Result<Running, Box<dyn std::error::Error>> {
    let server = if args.start_server {
        let server = RestateServer::builder()
            .npm_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools"))
            .start()
            .await?;
        println!(
            "started restate-server (pid {}): admin {}, ingress {}",
            server.pid(),
            server.admin_url(),
            server.ingress_url()
        );
        Some(server)
    } else {
        None
    };
    let (admin_url, ingress_url) = match &server {
        Some(s) => (s.admin_url().to_owned(), s.ingress_url().to_owned()),
        None => (args.admin.clone(), args.ingress.clone()),
    };
    let endpoint = Server::bind(endpoint, args.listen.as_str()).await?.spawn();
    println!("serving on {}", endpoint.url());
    let deployment = AdminClient::new(&admin_url)?
        .register(&endpoint.url())
        .await?;
    println!(
        "registered {} with {}: {}",
        deployment.id,
        admin_url,
        deployment.services.join(", ")
    );
    Ok(Running {
        endpoint,
        ingress: IngressClient::new(&ingress_url)?,
        _server: server,
    })
}

/// With `--serve`, waits for Ctrl-C.
pub(crate) async fn maybe_keep_serving(args: &Args, running: Running) {
    if args.serve {
        println!("serving until Ctrl-C");
        restate_rs::serve::shutdown_signal().await;
    }
    running.endpoint.stop().await;
}
