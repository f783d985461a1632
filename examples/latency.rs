//! End-to-end latency of one call: the generated ingress client calls the generated Greeter
//! through a real restate-server (started on loopback ports), sequentially, on one keep-alive
//! connection. Prints the median and tail.
//!
//! ```sh
//! cargo run --release --example latency -- 1000
//! ```

use restate_rs::prelude::*;
use restate_rs::serve::Server;
use restate_rs::testing::RestateServer;
use restate_rs_examples::proto::hydra::v1::{GreetRequest, GreeterIngressClient, GreeterServer};
use restate_rs_examples::services::Greetings;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(500);
    let server = RestateServer::builder()
        .npm_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools"))
        .start()
        .await?;
    let endpoint = Server::bind(
        Endpoint::builder()
            .bind(GreeterServer::new(Greetings))
            .build(),
        "127.0.0.1:0",
    )
    .await?
    .spawn();
    server.register(&endpoint.url()).await?;
    let greeter = GreeterIngressClient::new(server.ingress());

    for _ in 0..50 {
        greeter
            .greet(GreetRequest {
                name: "warm".into(),
            })
            .call()
            .await?;
    }
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls {
        let started = Instant::now();
        greeter
            .greet(GreetRequest {
                name: format!("n{i}"),
            })
            .call()
            .await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{calls} sequential calls through restate-server {}: median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        restate_rs::testing::RESTATE_SERVER_VERSION,
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99)),
        ms(samples[samples.len() - 1])
    );
    endpoint.stop().await;
    Ok(())
}
