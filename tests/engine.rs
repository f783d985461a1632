//! The embedded engine driving the generated services in-process, on SQLite: the same
//! handler code as on restate-server, no server.

use restate_rs::engine::{Engine, EngineError, InvokeOptions, ManualClock, Target};
use restate_rs::prelude::*;
use restate_rs_examples::proto::hydra::v1::{
    DeploymentServiceServer, GreeterServer, SignupWorkflowServer,
};
use restate_rs_examples::proto::scenarios::v1::{
    CounterServer, FlakyServer, ProxyServer, WaiterServer,
};
use restate_rs_examples::services::scenarios::{Counter, Flaky, Probe, Proxy, Waiter};
use restate_rs_examples::services::{Deployments, Greetings, Outbox, Signups};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Env {
    engine: Engine,
    probe: Probe,
    outbox: Outbox,
}

fn endpoint(probe: &Probe, outbox: &Outbox) -> Endpoint {
    Endpoint::builder()
        .bind(DeploymentServiceServer::new(Deployments))
        .bind(SignupWorkflowServer::new(Signups {
            outbox: outbox.clone(),
        }))
        .bind(GreeterServer::new(Greetings))
        .bind(CounterServer::new(Counter {
            probe: probe.clone(),
        }))
        .bind(ProxyServer::new(Proxy))
        .bind(FlakyServer::new(Flaky {
            probe: probe.clone(),
        }))
        .bind(WaiterServer::new(Waiter {
            probe: probe.clone(),
        }))
        .build()
}

async fn start() -> Env {
    let (probe, outbox) = (Probe::default(), Outbox::default());
    let engine = Engine::builder(endpoint(&probe, &outbox))
        .in_memory()
        .await
        .unwrap();
    Env {
        engine,
        probe,
        outbox,
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

async fn call(engine: &Engine, target: Target, body: Value) -> Value {
    json(&engine.call(target, body.to_string()).await.unwrap())
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn stateless_service() {
    let env = start().await;
    let out = call(
        &env.engine,
        Target::service("hydra.v1.Greeter", "Greet"),
        json!({"name": "Ada"}),
    )
    .await;
    assert_eq!(out, json!({"message": "Hello, Ada!"}));
    let err = env
        .engine
        .call(
            Target::service("hydra.v1.Greeter", "Greet"),
            json!({"name": ""}).to_string(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Terminal { code: 400, message } if message == "name must not be empty"),
        "{err}"
    );
    let err = env
        .engine
        .call(Target::service("hydra.v1.Greeter", "Nope"), "{}")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no handler hydra.v1.Greeter/Nope: the service `hydra.v1.Greeter` has no handler `Nope`"
    );
    let err = env
        .engine
        .call(
            Target::service("hydra.v1.Greeter", "Greet"),
            "{\"nmae\": 1}",
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown field `nmae`"), "{err}");
}

#[tokio::test]
async fn object_state_and_exclusivity() {
    let env = start().await;
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let engine = env.engine.clone();
            tokio::spawn(async move {
                call(
                    &engine,
                    Target::keyed("scenarios.v1.Counter", "k", "Add"),
                    json!({"delta": 1}),
                )
                .await
            })
        })
        .collect();
    let mut values = Vec::new();
    for c in calls {
        values.push(
            c.await.unwrap()["value"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap(),
        );
    }
    values.sort();
    assert_eq!(values, (1..=8).collect::<Vec<_>>());
    assert_eq!(env.probe.max_in_flight("k"), 1);
    let got = call(
        &env.engine,
        Target::keyed("scenarios.v1.Counter", "k", "Get"),
        json!({}),
    )
    .await;
    assert_eq!(got, json!({"value": "8"}));
    assert_eq!(
        env.engine
            .state("scenarios.v1.Counter", "k")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn shared_runs_alongside_exclusive() {
    let env = start().await;
    let held = env
        .engine
        .invoke(
            Target::keyed("scenarios.v1.Counter", "a", "Add"),
            json!({"delta": 5, "gate": "g"}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    eventually("the held call to start", || async {
        env.probe.entered("a") == 1
    })
    .await;
    let got = call(
        &env.engine,
        Target::keyed("scenarios.v1.Counter", "a", "Get"),
        json!({}),
    )
    .await;
    assert_eq!(got, json!({}), "value 0 is omitted");
    assert_eq!(env.probe.shared_saw_in_flight("a"), 1);
    let other = call(
        &env.engine,
        Target::keyed("scenarios.v1.Counter", "b", "Add"),
        json!({"delta": 2}),
    )
    .await;
    assert_eq!(other, json!({"value": "2"}));
    env.probe.open("g");
    assert_eq!(
        json(&env.engine.attach(&held.invocation_id).await.unwrap()),
        json!({"value": "5"})
    );
}

#[tokio::test]
async fn calls_and_sends_between_services() {
    let env = start().await;
    let out = call(
        &env.engine,
        Target::service("scenarios.v1.Proxy", "CallAdd"),
        json!({"key": "p", "delta": 3}),
    )
    .await;
    assert_eq!(out, json!({"value": "3"}));
    let out = call(
        &env.engine,
        Target::service("scenarios.v1.Proxy", "FanOut"),
        json!({"keys": ["x", "y", "z"], "delta": 2}),
    )
    .await;
    assert_eq!(out, json!({"value": "6"}));
    call(
        &env.engine,
        Target::service("scenarios.v1.Proxy", "SendAdd"),
        json!({"key": "s", "delta": 4}),
    )
    .await;
    eventually("the send to run", || async {
        call(
            &env.engine,
            Target::keyed("scenarios.v1.Counter", "s", "Get"),
            json!({}),
        )
        .await
            == json!({"value": "4"})
    })
    .await;
}

#[tokio::test]
async fn delayed_send_and_virtual_time() {
    let (probe, outbox) = (Probe::default(), Outbox::default());
    let clock = ManualClock::new();
    let engine = Engine::builder(endpoint(&probe, &outbox))
        .clock(clock.clone())
        .in_memory()
        .await
        .unwrap();
    engine
        .invoke(
            Target::keyed("scenarios.v1.Counter", "later", "Add"),
            json!({"delta": 7}).to_string(),
            InvokeOptions {
                delay: Some(Duration::from_secs(3600)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        call(
            &engine,
            Target::keyed("scenarios.v1.Counter", "later", "Get"),
            json!({})
        )
        .await,
        json!({})
    );
    clock.advance(Duration::from_secs(3601));
    eventually("the delayed send to run", || async {
        call(
            &engine,
            Target::keyed("scenarios.v1.Counter", "later", "Get"),
            json!({}),
        )
        .await
            == json!({"value": "7"})
    })
    .await;
}

#[tokio::test]
async fn idempotency_key() {
    let env = start().await;
    let options = InvokeOptions {
        idempotency_key: Some("op".into()),
        ..Default::default()
    };
    let a = env
        .engine
        .invoke(
            Target::keyed("scenarios.v1.Counter", "i", "Add"),
            json!({"delta": 10}).to_string(),
            options.clone(),
        )
        .await
        .unwrap();
    let b = env
        .engine
        .invoke(
            Target::keyed("scenarios.v1.Counter", "i", "Add"),
            json!({"delta": 10}).to_string(),
            options,
        )
        .await
        .unwrap();
    assert!(a.is_new && !b.is_new);
    assert_eq!(a.invocation_id, b.invocation_id);
    assert_eq!(
        json(&env.engine.attach(&a.invocation_id).await.unwrap()),
        json!({"value": "10"})
    );
    assert_eq!(env.probe.entered("i"), 1);
}

#[tokio::test]
async fn retries_and_side_effects() {
    let env = start().await;
    let out = call(
        &env.engine,
        Target::service("scenarios.v1.Flaky", "Work"),
        json!({"id": "r", "succeedOnAttempt": 3}),
    )
    .await;
    assert_eq!(out["attempts"], 3);
    assert_eq!(
        env.probe.side_effects("r"),
        1,
        "a journaled ctx.run ran again"
    );
    let err = env
        .engine
        .call(
            Target::service("scenarios.v1.Flaky", "Work"),
            json!({"id": "t", "terminalCode": 409, "terminalMessage": "no"}).to_string(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Terminal { code: 409, .. }),
        "{err}"
    );
    assert_eq!(env.probe.attempts("t"), 1);
}

#[tokio::test]
async fn signup_workflow() {
    let env = start().await;
    let email = "ada@example.com";
    let run = Target::keyed("hydra.v1.SignupWorkflow", email, "Run");
    let submitted = env
        .engine
        .invoke(
            run.clone(),
            json!({"name": "Ada", "email": email}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    let again = env
        .engine
        .invoke(
            run,
            json!({"name": "Ada", "email": email}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    assert!(!again.is_new);
    assert_eq!(again.invocation_id, submitted.invocation_id);
    eventually("the email", || async {
        env.outbox.secret_for(email).is_some()
    })
    .await;
    eventually("the status", || async {
        call(
            &env.engine,
            Target::keyed("hydra.v1.SignupWorkflow", email, "GetStatus"),
            json!({}),
        )
        .await
            == json!({"status": "Verifying user"})
    })
    .await;
    assert_eq!(
        env.engine.output(&submitted.invocation_id).await.unwrap(),
        None
    );
    let secret = env.outbox.secret_for(email).unwrap();
    call(
        &env.engine,
        Target::keyed("hydra.v1.SignupWorkflow", email, "Click"),
        json!({"secret": secret}),
    )
    .await;
    let result = json(&env.engine.attach(&submitted.invocation_id).await.unwrap());
    assert_eq!(
        result,
        json!({"verified": true, "userId": format!("user-{email}")})
    );
    assert_eq!(env.outbox.count_for(email), 1);
}

#[tokio::test]
async fn survives_restart_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.db");
    let (probe, outbox) = (Probe::default(), Outbox::default());
    let email = "restart@example.com";
    let id = {
        let engine = Engine::builder(endpoint(&probe, &outbox))
            .open(&path)
            .await
            .unwrap();
        let submitted = engine
            .invoke(
                Target::keyed("hydra.v1.SignupWorkflow", email, "Run"),
                json!({"name": "R", "email": email}).to_string(),
                InvokeOptions::default(),
            )
            .await
            .unwrap();
        eventually("the email", || async { outbox.secret_for(email).is_some() }).await;
        call(
            &engine,
            Target::keyed("scenarios.v1.Counter", "persist", "Add"),
            json!({"delta": 3}),
        )
        .await;
        engine.shutdown().await;
        submitted.invocation_id
    };
    let engine = Engine::builder(endpoint(&probe, &outbox))
        .open(&path)
        .await
        .unwrap();
    assert_eq!(
        call(
            &engine,
            Target::keyed("scenarios.v1.Counter", "persist", "Get"),
            json!({})
        )
        .await,
        json!({"value": "3"})
    );
    let secret = outbox.secret_for(email).unwrap();
    call(
        &engine,
        Target::keyed("hydra.v1.SignupWorkflow", email, "Click"),
        json!({"secret": secret}),
    )
    .await;
    let result = json(&engine.attach(&id).await.unwrap());
    assert_eq!(result["verified"], true);
    assert_eq!(
        outbox.count_for(email),
        1,
        "the email step ran again after restart"
    );
}

#[tokio::test]
async fn foreign_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "these are not the bytes of a database, but they are long enough to look like a header of something else entirely").unwrap();
    let (probe, outbox) = (Probe::default(), Outbox::default());
    let err = Engine::builder(endpoint(&probe, &outbox))
        .open(&path)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a restate-rs engine database"), "{err}");
}

#[tokio::test]
async fn week_long_sleep_suspends_and_finishes_in_virtual_time() {
    let (probe, outbox) = (Probe::default(), Outbox::default());
    let clock = ManualClock::new();
    let engine = Engine::builder(endpoint(&probe, &outbox))
        .clock(clock.clone())
        .inactivity_timeout(Duration::from_millis(100))
        .in_memory()
        .await
        .unwrap();
    let week = 7 * 24 * 3600 * 1000u64;
    let sleeping = engine
        .invoke(
            Target::service("scenarios.v1.Waiter", "Sleep"),
            json!({"millis": week.to_string()}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    // Past the inactivity timeout the invocation is suspended: no attempt holds resources.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(engine.output(&sleeping.invocation_id).await.unwrap(), None);
    let started = Instant::now();
    clock.advance(Duration::from_millis(week + 1000));
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        engine.attach(&sleeping.invocation_id),
    )
    .await
    .expect("woke up")
    .unwrap();
    assert_eq!(json(&out), json!({}));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn cancellation_ends_a_waiting_invocation() {
    let env = start().await;
    let sleeping = env
        .engine
        .invoke(
            Target::service("scenarios.v1.Waiter", "Sleep"),
            json!({"millis": "3600000"}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    env.engine.cancel(&sleeping.invocation_id).await.unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        env.engine.attach(&sleeping.invocation_id),
    )
    .await
    .expect("ended")
    .unwrap_err();
    assert!(
        matches!(err, EngineError::Terminal { code: 409, .. }),
        "{err}"
    );
    let err = env.engine.cancel("inv_nope").await.unwrap_err();
    assert_eq!(err.to_string(), "no invocation inv_nope");
}

#[tokio::test]
async fn awakeable_ids_are_checked() {
    let env = start().await;
    let err = env
        .engine
        .resolve_awakeable("sign_1AAAA", "1")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid awakeable id `sign_1AAAA`"),
        "{err}"
    );
    let err = env
        .engine
        .resolve_awakeable("prom_1xyz", "1")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("invalid awakeable id `prom_1xyz`"), "{err}");
}

#[tokio::test]
async fn remote_deployment_over_http2() {
    let (probe, outbox) = (Probe::default(), Outbox::default());
    let running = restate_rs::serve::Server::bind(endpoint(&probe, &outbox), "127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let engine = Engine::builder_remote(&running.url())
        .in_memory()
        .await
        .unwrap();
    let out = call(
        &engine,
        Target::service("hydra.v1.Greeter", "Greet"),
        json!({"name": "remote"}),
    )
    .await;
    assert_eq!(out, json!({"message": "Hello, remote!"}));
    let out = call(
        &engine,
        Target::service("scenarios.v1.Proxy", "CallAdd"),
        json!({"key": "r", "delta": 2}),
    )
    .await;
    assert_eq!(out, json!({"value": "2"}));

    let email = "remote@example.com";
    let run = engine
        .invoke(
            Target::keyed("hydra.v1.SignupWorkflow", email, "Run"),
            json!({"name": "R", "email": email}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    eventually("the email", || async { outbox.secret_for(email).is_some() }).await;
    call(
        &engine,
        Target::keyed("hydra.v1.SignupWorkflow", email, "Click"),
        json!({"secret": outbox.secret_for(email).unwrap()}),
    )
    .await;
    assert_eq!(
        json(&engine.attach(&run.invocation_id).await.unwrap())["verified"],
        true
    );
    engine.shutdown().await;

    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = Engine::builder_remote(&format!("http://{free}"))
        .in_memory()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "cannot discover the endpoint's services: cannot reach the deployment at http://{free}"
        )),
        "{err}"
    );
    let err = Engine::builder_remote("https://example.invalid")
        .in_memory()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("must start with http://"), "{err}");
}

#[tokio::test]
async fn nondeterminism_is_detected_and_reported() {
    let env = start().await;
    let submitted = env
        .engine
        .invoke(
            Target::service("scenarios.v1.Flaky", "Work"),
            json!({"id": "nd", "nondeterministic": true}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    eventually("the journal mismatch to be reported", || async {
        let details = env.engine.describe(&submitted.invocation_id).await.unwrap();
        details
            .summary
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("[570]"))
    })
    .await;
    // The changed step never ran: the engine refused the new code's journal, not the old one's.
    assert_eq!(env.probe.side_effects("nd"), 1);
    env.engine.kill(&submitted.invocation_id).await.unwrap();
}

/// Without a declared policy, a handler that keeps failing is retried as restate-server retries
/// it by default: 70 attempts, then paused (kept, not failed); resuming runs it again.
#[tokio::test]
async fn default_retry_policy_pauses_after_70_attempts() {
    let probe = Probe::default();
    let test = restate_rs::harness::TestEngine::start(endpoint(&probe, &Outbox::default()))
        .await
        .unwrap();
    let submitted = test
        .invoke(
            Target::service("scenarios.v1.Flaky", "Work"),
            json!({"id": "stubborn", "succeedOnAttempt": 1000}).to_string(),
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let summary = loop {
        let summary = test
            .describe(&submitted.invocation_id)
            .await
            .unwrap()
            .summary;
        if summary.status == "paused" {
            break summary;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not paused after {} attempts: {summary:?}",
            summary.attempts
        );
        // Let the attempt that is due run, then move the clock to the next retry.
        tokio::time::sleep(Duration::from_millis(5)).await;
        test.advance_to_next_timer().await.unwrap();
    };
    assert_eq!(summary.attempts, 70, "{summary:?}");
    assert_eq!(probe.attempts("stubborn"), 70);

    test.resume(&submitted.invocation_id).await.unwrap();
    eventually("the resumed invocation to run again", || async {
        probe.attempts("stubborn") > 70
    })
    .await;
    test.kill(&submitted.invocation_id).await.unwrap();
}

/// A service whose only step never returns.
mod stuck {
    // The macro generates a client whose methods have no docs.
    #![allow(missing_docs)]

    use restate_rs::prelude::*;
    use std::time::Duration;

    pub(crate) struct Stuck;

    #[restate_sdk::service(name = "test.Stuck", client_visibility = "pub(crate)")]
    impl Stuck {
        #[handler(name = "Run")]
        async fn run(&self, ctx: Context<'_>) -> HandlerResult<()> {
            ctx.run(|| async {
                tokio::time::sleep(Duration::from_secs(600)).await;
                Ok(())
            })
            .name("never returns")
            .await?;
            Ok(())
        }
    }
}

/// An attempt that cannot suspend (its step never returns) is aborted once the inactivity
/// timeout and then the abort timeout have passed, and retried.
#[tokio::test]
async fn a_step_that_never_returns_is_aborted_and_retried() {
    let engine = Engine::builder(Endpoint::builder().bind(stuck::Stuck).build())
        .inactivity_timeout(Duration::from_millis(100))
        .abort_timeout(Duration::from_millis(200))
        .retry_policy(restate_rs::engine::RetryPolicy {
            initial: Duration::from_millis(10),
            ..Default::default()
        })
        .in_memory()
        .await
        .unwrap();
    let submitted = engine
        .invoke(
            Target::service("test.Stuck", "Run"),
            "",
            InvokeOptions::default(),
        )
        .await
        .unwrap();
    let id = submitted.invocation_id;
    let started = Instant::now();
    eventually("the stuck attempt to be aborted and retried", || async {
        let summary = engine.describe(&id).await.unwrap().summary;
        summary.attempts >= 2
            && summary
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("abort timeout"))
    })
    .await;
    // Not before inactivity + abort (300 ms) for the first attempt.
    assert!(started.elapsed() >= Duration::from_millis(300));
    engine.kill(&id).await.unwrap();
}
