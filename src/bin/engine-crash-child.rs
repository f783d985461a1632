//! A program for the crash tests: opens the embedded engine on a file, submits chains of
//! durable steps (idempotently, so a rerun submits the same ones), waits for all, prints what
//! it saw. The test kills it with SIGKILL at random moments and runs it again.
//!
//! usage: engine-crash-child DB LOG CHAINS STEPS

use restate_rs::engine::{Engine, InvokeOptions, Target};
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::ChainServer;
use restate_rs_examples::services::scenarios::Chain;
use std::io::Write;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, log, chains, steps] = args.as_slice() else {
        return Err("usage: engine-crash-child DB LOG CHAINS STEPS".into());
    };
    let (chains, steps): (u32, u32) = (chains.parse()?, steps.parse()?);
    let endpoint = Endpoint::builder()
        .bind(ChainServer::new(Chain {
            log: Some(log.into()),
        }))
        .build();
    let engine = Engine::builder(endpoint).open(db).await?;
    let mut ids = Vec::new();
    for i in 0..chains {
        let submitted = engine
            .invoke(
                Target::keyed("scenarios.v1.Chain", format!("chain-{i}"), "Run"),
                format!("{{\"steps\": {steps}}}"),
                InvokeOptions {
                    idempotency_key: Some(format!("run-{i}")),
                    ..Default::default()
                },
            )
            .await?;
        println!("ack {i} {}", submitted.invocation_id);
        std::io::stdout().flush()?;
        ids.push(submitted.invocation_id);
    }
    for (i, id) in ids.iter().enumerate() {
        let output = engine.attach(id).await?;
        println!("result {i} {}", String::from_utf8_lossy(&output));
    }
    engine.shutdown().await;
    Ok(())
}
