//! A program for the crash sweep (tests/engine_crash_sweep.rs): opens the embedded engine on a
//! file, drives one scenario to its end, and checks the outcome. With `CRASH_AFTER` > 0 it
//! kills itself with SIGKILL right after the engine's commit number `CRASH_AFTER`, before
//! anyone waiting on that commit learns of it; the test then runs it again on the same file
//! with `CRASH_AFTER` 0 and checks that the run goes on to the same end.
//!
//! Every submission carries an idempotency key (or is a workflow's run), so a run after a
//! crash submits the same invocations again and gets the ones already accepted.
//!
//! usage: engine-sweep-child SCENARIO DB LOG CRASH_AFTER
//! prints: `ack <what> <invocation id>` per accepted submission, then `outcome ok`, or
//! `outcome wrong: <why>` (exit 1).

use restate_rs::engine::{Engine, InvokeOptions, Target};
use restate_rs::prelude::*;
use restate_rs_examples::proto::scenarios::v1::{
    SweepApprovalServer, SweepLedgerServer, SweepServer,
};
use restate_rs_examples::services::sweep::{Sweep, SweepApproval, SweepLedger};
use std::io::Write;
use std::time::Duration;

/// Every scenario of the sweep.
const SCENARIOS: &[&str] = &[
    "call",
    "send",
    "delayed-send",
    "queue",
    "workflow",
    "awakeable",
    "sleep",
    "service-call",
];

const SWEEP: &str = "scenarios.v1.Sweep";
const LEDGER: &str = "scenarios.v1.SweepLedger";
const APPROVAL: &str = "scenarios.v1.SweepApproval";

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let [_, scenario, db, log, crash_after] = args.as_slice() else {
        return Err(format!(
            "usage: engine-sweep-child SCENARIO DB LOG CRASH_AFTER (scenarios: {})",
            SCENARIOS.join(", ")
        )
        .into());
    };
    if !SCENARIOS.contains(&scenario.as_str()) {
        return Err(format!(
            "unknown scenario `{scenario}`: one of {}",
            SCENARIOS.join(", ")
        )
        .into());
    }
    let crash_after: u64 = crash_after.parse()?;
    let log = Some(std::path::PathBuf::from(log));
    let endpoint = Endpoint::builder()
        .bind(SweepServer::new(Sweep { log: log.clone() }))
        .bind(SweepLedgerServer::new(SweepLedger { log: log.clone() }))
        .bind(SweepApprovalServer::new(SweepApproval { log }))
        .build();
    let mut builder = Engine::builder(endpoint);
    if crash_after > 0 {
        builder = builder.on_commit(move |commit| {
            if commit == crash_after {
                let _ = std::io::stdout().flush();
                let _ = rustix::process::kill_process(
                    rustix::process::getpid(),
                    rustix::process::Signal::KILL,
                );
            }
        });
    }
    let engine = builder.open(db).await?;
    let driver = Driver { engine };
    let verdict = driver.run(scenario).await;
    driver.engine.shutdown().await;
    match verdict {
        Ok(()) => {
            println!("outcome ok");
            Ok(())
        }
        Err(why) => {
            println!("outcome wrong: {why}");
            std::process::exit(1)
        }
    }
}

struct Driver {
    engine: Engine,
}

impl Driver {
    /// Submits `input` to `target` with `key` as idempotency key (none for a workflow's run)
    /// and prints the acknowledgement.
    async fn submit(
        &self,
        what: &str,
        target: Target,
        input: &str,
        key: Option<&str>,
        delay: Option<Duration>,
    ) -> Result<String, Failure> {
        let submitted = self
            .engine
            .invoke(
                target,
                input.to_owned(),
                InvokeOptions {
                    idempotency_key: key.map(str::to_owned),
                    delay,
                    ..Default::default()
                },
            )
            .await?;
        println!("ack {what} {}", submitted.invocation_id);
        std::io::stdout().flush()?;
        Ok(submitted.invocation_id)
    }

    /// The `value` of the reply of invocation `id`, once it ends.
    async fn reply(&self, id: &str) -> Result<String, Failure> {
        let output = self.engine.attach(id).await?;
        let reply: serde_json::Value = serde_json::from_slice(&output)?;
        Ok(reply["value"].as_str().unwrap_or_default().to_owned())
    }

    /// The ledger of `key`, once it is `expected` (polled, as a one-way sender would); an
    /// error as soon as it holds something `expected` does not start with (a tag twice, or
    /// out of order).
    async fn ledger_becomes(&self, key: &str, expected: &str) -> Result<(), Failure> {
        loop {
            let state = self.engine.state(LEDGER, key).await?;
            let ledger = match state.iter().find(|(name, _)| name == "ledger") {
                Some((_, value)) => serde_json::from_slice::<String>(value)?,
                None => String::new(),
            };
            if ledger == expected {
                return Ok(());
            }
            if !expected.starts_with(&ledger) {
                return Err(format!(
                    "ledger `{key}` is `{ledger}`, expected it to become `{expected}`"
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn run(&self, scenario: &str) -> Result<(), Failure> {
        let expect = |what: &str, got: String, want: &str| -> Result<(), Failure> {
            if got == want {
                Ok(())
            } else {
                Err(format!("{what} answered `{got}`, expected `{want}`").into())
            }
        };
        match scenario {
            "call" => {
                let id = self
                    .submit(
                        "call",
                        Target::service(SWEEP, "Step"),
                        r#"{"tag":"call"}"#,
                        Some("call"),
                        None,
                    )
                    .await?;
                expect("Step", self.reply(&id).await?, "call")
            }
            "send" => {
                self.submit(
                    "send",
                    Target::keyed(LEDGER, "send", "Record"),
                    r#"{"tag":"s1"}"#,
                    Some("send"),
                    None,
                )
                .await?;
                self.ledger_becomes("send", "s1").await
            }
            "delayed-send" => {
                self.submit(
                    "delayed-send",
                    Target::keyed(LEDGER, "delayed", "Record"),
                    r#"{"tag":"d1"}"#,
                    Some("delayed"),
                    Some(Duration::from_millis(150)),
                )
                .await?;
                self.ledger_becomes("delayed", "d1").await
            }
            "queue" => {
                let mut ids = Vec::new();
                for i in 0..4 {
                    ids.push(
                        self.submit(
                            &format!("queue-{i}"),
                            Target::keyed(LEDGER, "queue", "Record"),
                            &format!(r#"{{"tag":"q{i}"}}"#),
                            Some(&format!("queue-{i}")),
                            None,
                        )
                        .await?,
                    );
                }
                let mut want = String::new();
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        want.push(',');
                    }
                    want.push_str(&format!("q{i}"));
                    expect(&format!("Record q{i}"), self.reply(id).await?, &want)?;
                }
                self.ledger_becomes("queue", "q0,q1,q2,q3").await
            }
            "workflow" => {
                let run = self
                    .submit(
                        "workflow",
                        Target::keyed(APPROVAL, "wf", "Run"),
                        r#"{"tag":"wf"}"#,
                        None,
                        None,
                    )
                    .await?;
                let approve = self
                    .submit(
                        "approve",
                        Target::keyed(APPROVAL, "wf", "Approve"),
                        r#"{"tag":"yes"}"#,
                        Some("approve"),
                        None,
                    )
                    .await?;
                self.engine.attach(&approve).await?;
                expect("Run", self.reply(&run).await?, "yes")
            }
            "awakeable" => {
                let id = self
                    .submit(
                        "awakeable",
                        Target::service(SWEEP, "Awake"),
                        r#"{"tag":"aw"}"#,
                        Some("awake"),
                        None,
                    )
                    .await?;
                expect("Awake", self.reply(&id).await?, "resolved aw")
            }
            "sleep" => {
                let id = self
                    .submit(
                        "sleep",
                        Target::service(SWEEP, "Nap"),
                        r#"{"tag":"nap","millis":"100"}"#,
                        Some("nap"),
                        None,
                    )
                    .await?;
                expect("Nap", self.reply(&id).await?, "nap")
            }
            "service-call" => {
                let id = self
                    .submit(
                        "service-call",
                        Target::service(SWEEP, "CallLedger"),
                        r#"{"tag":"c1","key":"calls"}"#,
                        Some("service-call"),
                        None,
                    )
                    .await?;
                expect("CallLedger", self.reply(&id).await?, "c1")?;
                self.ledger_becomes("calls", "c1").await
            }
            other => Err(format!("unknown scenario `{other}`").into()),
        }
    }
}
