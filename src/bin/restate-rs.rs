//! `restate-rs`: a small command line for the embedded engine's admin API (and the parts of a
//! Restate server's admin API that match it).
//!
//! ```sh
//! restate-rs admin --url http://127.0.0.1:9070 services
//! restate-rs admin --url http://127.0.0.1:9070 invocations --status suspended
//! restate-rs admin --url http://127.0.0.1:9070 describe inv_...
//! restate-rs admin --url http://127.0.0.1:9070 cancel inv_...
//! restate-rs admin --url http://127.0.0.1:9070 kill inv_...
//! ```

use clap::{Parser, Subcommand};
use serde_json::Value;
use std::process::ExitCode;

/// Inspect and steer invocations of a restate-rs embedded engine.
#[derive(Parser)]
#[command(name = "restate-rs", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Talk to an admin API.
    Admin {
        /// The admin API's URL.
        #[arg(
            long,
            env = "RESTATE_ADMIN_URL",
            default_value = "http://127.0.0.1:9070"
        )]
        url: String,
        /// Bearer token, when the admin API requires one.
        #[arg(long, env = "RESTATE_ADMIN_TOKEN")]
        token: Option<String>,
        #[command(subcommand)]
        action: Action,
    },
}

#[derive(Subcommand)]
enum Action {
    /// List services and their handlers.
    Services,
    /// List invocations, newest first.
    Invocations {
        /// Only those with this status (pending, scheduled, inboxed, running, suspended, backoff, completed).
        #[arg(long)]
        status: Option<String>,
        /// Only those of this service.
        #[arg(long)]
        service: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one invocation with its journal and state.
    Describe {
        /// The invocation id.
        id: String,
    },
    /// Cancel an invocation (it sees the cancellation at its next await).
    Cancel {
        /// The invocation id.
        id: String,
    },
    /// Kill an invocation (it ends at once with a terminal error).
    Kill {
        /// The invocation id.
        id: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let Command::Admin { url, token, action } = Cli::parse().command;
    match run(&url, token.as_deref(), action).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("restate-rs: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str, token: Option<&str>, action: Action) -> Result<(), String> {
    let base = url.trim_end_matches('/');
    let client = reqwest::Client::new();
    let (method, path) = match &action {
        Action::Services => (reqwest::Method::GET, "/services".to_owned()),
        Action::Invocations {
            status,
            service,
            limit,
        } => {
            let mut path = format!("/invocations?limit={limit}");
            if let Some(status) = status {
                path.push_str(&format!("&status={status}"));
            }
            if let Some(service) = service {
                path.push_str(&format!("&service={service}"));
            }
            (reqwest::Method::GET, path)
        }
        Action::Describe { id } => (reqwest::Method::GET, format!("/invocations/{id}")),
        Action::Cancel { id } => (reqwest::Method::PATCH, format!("/invocations/{id}/cancel")),
        Action::Kill { id } => (reqwest::Method::PATCH, format!("/invocations/{id}/kill")),
    };
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("cannot reach the admin API at {base}: {e}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body["message"].as_str().unwrap_or("no message");
        return Err(format!("{base}{path} answered {status}: {message}"));
    }
    match action {
        Action::Services => {
            for service in body["services"].as_array().into_iter().flatten() {
                println!(
                    "{} ({})",
                    service["name"].as_str().unwrap_or("?"),
                    service["ty"].as_str().unwrap_or("?")
                );
                for handler in service["handlers"].as_array().into_iter().flatten() {
                    let name = handler[0]
                        .as_str()
                        .or(handler["name"].as_str())
                        .unwrap_or("?");
                    let ty = handler[1]
                        .as_str()
                        .or(handler["ty"].as_str())
                        .unwrap_or("-");
                    println!("  {name:<24} {ty}");
                }
            }
        }
        Action::Invocations { .. } => {
            for invocation in body["invocations"].as_array().into_iter().flatten() {
                println!(
                    "{}  {:<10} {}  {}",
                    invocation["id"].as_str().unwrap_or("?"),
                    invocation["status"].as_str().unwrap_or("?"),
                    invocation["target"].as_str().unwrap_or("?"),
                    invocation["outcome"]
                        .as_str()
                        .or(invocation["lastError"].as_str())
                        .unwrap_or(""),
                );
            }
        }
        Action::Describe { .. } => {
            println!(
                "{}  {}  {}",
                body["id"].as_str().unwrap_or("?"),
                body["status"].as_str().unwrap_or("?"),
                body["target"].as_str().unwrap_or("?")
            );
            if let Some(outcome) = body["outcome"].as_str() {
                println!("outcome: {outcome}");
            }
            println!("journal:");
            for entry in body["journal"].as_array().into_iter().flatten() {
                let name = entry["name"]
                    .as_str()
                    .map(|n| format!(" \"{n}\""))
                    .unwrap_or_default();
                println!(
                    "  {:>3} {}{name}",
                    entry["index"],
                    entry["kind"].as_str().unwrap_or("?")
                );
            }
            let state = body["state"].as_array().cloned().unwrap_or_default();
            if !state.is_empty() {
                println!("state:");
                for pair in state {
                    println!(
                        "  {} = {}",
                        pair[0].as_str().unwrap_or("?"),
                        pair[1].as_str().unwrap_or("?")
                    );
                }
            }
        }
        Action::Cancel { id } => println!("cancelled {id}"),
        Action::Kill { id } => println!("killed {id}"),
    }
    Ok(())
}
