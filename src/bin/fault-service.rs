//! A service process for the fault tests: serves `scenarios.v1.Chain` and
//! `scenarios.v1.ChainWorkflow` (durable steps whose side effects are appended and synced to a
//! log file) on a fixed address, so that a Restate server
//! keeps reaching it when the test kills it with SIGKILL and starts it again.
//!
//! usage: fault-service ADDR LOG
//!
//! Prints `listening <addr>` once the port is bound; serves until SIGTERM or Ctrl-C.

use restate_rs::prelude::*;
use restate_rs::serve::Server;
use restate_rs_examples::proto::scenarios::v1::{ChainServer, ChainWorkflowServer};
use restate_rs_examples::services::scenarios::{Chain, ChainWorkflow};
use std::io::Write;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, log] = args.as_slice() else {
        return Err("usage: fault-service ADDR LOG".into());
    };
    let endpoint = Endpoint::builder()
        .bind(ChainServer::new(Chain {
            log: Some(log.into()),
        }))
        .bind(ChainWorkflowServer::new(ChainWorkflow {
            log: Some(log.into()),
        }))
        .build();
    let server = Server::bind(endpoint, addr.as_str()).await?;
    println!("listening {}", server.local_addr());
    std::io::stdout().flush()?;
    server
        .serve_until(restate_rs::serve::shutdown_signal())
        .await;
    Ok(())
}
