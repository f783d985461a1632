//! One scenario suite, two engines: every scenario runs against a real restate-server (pinned
//! 1.7.12, started by the test on free loopback ports) and against the embedded engine, with
//! the same generated services and clients. A scenario that passes on one engine and fails on
//! the other is a bug in ours. Nothing is mocked.

mod support;

use restate_rs::ingress::{IngressError, SendStatus, Target};
use restate_rs::pbjson_types::Empty;
use restate_rs_examples::proto::hydra::v1::{
    ClickRequest, DeployRequest, DeploymentServiceIngressClient, GetSignupStatusRequest,
    GetStatusRequest, GreetRequest, GreeterIngressClient, SignupRequest,
    SignupWorkflowIngressClient, deployment_status::Phase,
};
use restate_rs_examples::proto::scenarios::v1::{
    AddRequest, AwakeableRequest, CounterIngressClient, FanOutRequest, FlakyIngressClient,
    ProxyIngressClient, ProxyRequest, SleepRequest, WaiterIngressClient, WorkRequest,
};
use std::time::Duration;
use support::*;

const WAIT: Duration = Duration::from_secs(30);

/// Waits until the counter `key` holds `value`.
async fn counter_reaches(counter: &CounterIngressClient, key: &str, value: i64, what: &str) {
    eventually(what, WAIT, || async {
        (counter.get(key, Empty {}).call().await.unwrap().value == value).then_some(())
    })
    .await;
}

fn add(delta: i64) -> AddRequest {
    AddRequest {
        delta,
        gate: String::new(),
    }
}

fn gated(delta: i64, gate: &str) -> AddRequest {
    AddRequest {
        delta,
        gate: gate.to_owned(),
    }
}

async fn object_runs_exclusive_handlers_one_at_a_time_per_key(env: Env) {
    let counter = CounterIngressClient::new(env.ingress());
    let calls: Vec<_> = (0..8)
        .map(|_| counter.add("serial", add(1)))
        .map(|r| tokio::spawn(r.call()))
        .collect();
    let mut values = Vec::new();
    for call in calls {
        values.push(call.await.unwrap().unwrap().value);
    }
    values.sort();
    assert_eq!(
        values,
        (1..=8).collect::<Vec<_>>(),
        "each exclusive call saw the one before it"
    );
    assert_eq!(
        env.probe.max_in_flight("serial"),
        1,
        "two exclusive handlers overlapped on one key"
    );
}

async fn shared_handlers_and_other_keys_run_alongside(env: Env) {
    let counter = CounterIngressClient::new(env.ingress());
    // Hold an exclusive handler on key A until the gate opens.
    let held = tokio::spawn(counter.add("a", gated(5, "hold-a")).call());
    eventually("the held call to start", WAIT, || async {
        (env.probe.entered("a") == 1).then_some(())
    })
    .await;

    // A shared handler on A and an exclusive one on B finish while A is held.
    let value = counter.get("a", Empty {}).call().await.unwrap();
    assert_eq!(value.value, 0, "the held call has not written yet");
    assert_eq!(
        env.probe.shared_saw_in_flight("a"),
        1,
        "the shared handler ran while the exclusive one held key a"
    );
    assert_eq!(counter.add("b", add(2)).call().await.unwrap().value, 2);

    env.probe.open("hold-a");
    assert_eq!(held.await.unwrap().unwrap().value, 5);
    assert_eq!(counter.get("a", Empty {}).call().await.unwrap().value, 5);
}

async fn stateless_service_from_ingress_and_from_a_handler(env: Env) {
    let greeter = GreeterIngressClient::new(env.ingress());
    assert_eq!(
        greeter
            .greet(GreetRequest { name: "Ada".into() })
            .call()
            .await
            .unwrap()
            .message,
        "Hello, Ada!"
    );
    assert_eq!(greeter.ping(Empty {}).call().await.unwrap(), Empty {});

    let proxy = ProxyIngressClient::new(env.ingress());
    let request = ProxyRequest {
        key: "via-proxy".into(),
        delta: 3,
        ..Default::default()
    };
    assert_eq!(
        proxy.call_add(request.clone()).call().await.unwrap().value,
        3
    );
    assert_eq!(proxy.call_add(request).call().await.unwrap().value, 6);

    let total = proxy
        .fan_out(FanOutRequest {
            keys: vec!["f1".into(), "f2".into(), "f3".into()],
            delta: 4,
        })
        .call()
        .await
        .unwrap();
    assert_eq!(total.value, 12);
}

async fn signup_workflow(env: Env) {
    let signup = SignupWorkflowIngressClient::new(env.ingress());
    let email = "ada@example.com";
    let submitted = signup
        .submit(
            email,
            SignupRequest {
                name: "Ada".into(),
                email: email.into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(submitted.status, SendStatus::Accepted);

    // While it waits for the click: status, and no output yet.
    let status = eventually("the workflow to wait for the click", WAIT, || async {
        let status = signup
            .get_status(email, GetSignupStatusRequest {})
            .call()
            .await
            .unwrap()
            .status;
        (status == "Verifying user").then_some(status)
    })
    .await;
    assert_eq!(status, "Verifying user");
    assert!(matches!(
        signup.output(email).await,
        Err(IngressError::NotReady { .. })
    ));

    // A second submit of the same id does not start another run.
    let again = signup
        .submit(
            email,
            SignupRequest {
                name: "Ada".into(),
                email: email.into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(again.status, SendStatus::PreviouslyAccepted);
    assert_eq!(again.invocation_id, submitted.invocation_id);

    let secret = env
        .outbox
        .secret_for(email)
        .expect("the verification email was sent");
    signup
        .click(email, ClickRequest { secret })
        .call()
        .await
        .unwrap();
    let result = signup.attach(email).await.unwrap();
    assert!(result.verified);
    assert_eq!(result.user_id, format!("user-{email}"));
    assert_eq!(signup.output(email).await.unwrap(), result);
    assert_eq!(
        signup
            .get_status(email, GetSignupStatusRequest {})
            .call()
            .await
            .unwrap()
            .status,
        "Link clicked"
    );
    assert_eq!(env.outbox.count_for(email), 1, "the email step ran once");
}

async fn send_and_delayed_send_from_ingress(env: Env) {
    let counter = CounterIngressClient::new(env.ingress());
    let sent = counter.add("sent", add(1)).send().await.unwrap();
    assert!(sent.invocation_id.starts_with("inv_"), "{sent:?}");
    assert_eq!(
        env.ingress()
            .attach::<_, restate_rs::codec::Json>(&sent.invocation_id)
            .await
            .map(|v: restate_rs_examples::proto::scenarios::v1::CounterValue| v.value)
            .unwrap(),
        1
    );

    let before = std::time::Instant::now();
    counter
        .add("later", add(7))
        .send_after(Duration::from_millis(800))
        .await
        .unwrap();
    assert_eq!(
        counter.get("later", Empty {}).call().await.unwrap().value,
        0,
        "the delayed send ran early"
    );
    counter_reaches(&counter, "later", 7, "the delayed send to run").await;
    assert!(
        before.elapsed() >= Duration::from_millis(800),
        "ran after {:?}",
        before.elapsed()
    );
}

async fn send_and_delayed_send_from_a_handler(env: Env) {
    let proxy = ProxyIngressClient::new(env.ingress());
    let counter = CounterIngressClient::new(env.ingress());
    proxy
        .send_add(ProxyRequest {
            key: "h-now".into(),
            delta: 2,
            ..Default::default()
        })
        .call()
        .await
        .unwrap();
    counter_reaches(&counter, "h-now", 2, "the one-way send to run").await;

    let before = std::time::Instant::now();
    proxy
        .send_add(ProxyRequest {
            key: "h-later".into(),
            delta: 3,
            delay_ms: 800,
            ..Default::default()
        })
        .call()
        .await
        .unwrap();
    assert_eq!(
        counter.get("h-later", Empty {}).call().await.unwrap().value,
        0
    );
    counter_reaches(&counter, "h-later", 3, "the delayed send to run").await;
    assert!(before.elapsed() >= Duration::from_millis(800));
}

async fn idempotency_key_runs_once(env: Env) {
    let counter = CounterIngressClient::new(env.ingress());
    let first = counter
        .add("idem", add(10))
        .idempotency_key("op-1")
        .call()
        .await
        .unwrap();
    let second = counter
        .add("idem", add(10))
        .idempotency_key("op-1")
        .call()
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(env.probe.entered("idem"), 1);
    assert_eq!(
        counter.get("idem", Empty {}).call().await.unwrap().value,
        10
    );

    // A send with a used key answers PreviouslyAccepted with the same invocation.
    let a = counter
        .add("idem", add(1))
        .idempotency_key("op-2")
        .send()
        .await
        .unwrap();
    let b = counter
        .add("idem", add(1))
        .idempotency_key("op-2")
        .send()
        .await
        .unwrap();
    assert_eq!(a.status, SendStatus::Accepted);
    assert_eq!(b.status, SendStatus::PreviouslyAccepted);
    assert_eq!(a.invocation_id, b.invocation_id);
    let target = Target::object("scenarios.v1.Counter", "idem", "Add");
    let value: restate_rs_examples::proto::scenarios::v1::CounterValue = env
        .ingress()
        .attach_idempotent::<_, restate_rs::codec::Json>(&target, "op-2")
        .await
        .unwrap();
    assert_eq!(value.value, 11);

    // From a handler too.
    let proxy = ProxyIngressClient::new(env.ingress());
    let request = ProxyRequest {
        key: "idem-h".into(),
        delta: 5,
        idempotency_key: "op-3".into(),
        ..Default::default()
    };
    assert_eq!(
        proxy.call_add(request.clone()).call().await.unwrap().value,
        5
    );
    assert_eq!(proxy.call_add(request).call().await.unwrap().value, 5);
    assert_eq!(env.probe.entered("idem-h"), 1);
}

async fn terminal_error_reaches_the_caller_and_is_not_retried(env: Env) {
    let flaky = FlakyIngressClient::new(env.ingress());
    let err = flaky
        .work(WorkRequest {
            id: "t".into(),
            terminal_code: 409,
            terminal_message: "already done".into(),
            ..Default::default()
        })
        .call()
        .await
        .unwrap_err();
    match &err {
        IngressError::Terminal { code, message, .. } => {
            assert_eq!(*code, 409);
            assert_eq!(message, "already done");
        }
        other => panic!("expected a terminal error, got {other:?}"),
    }
    assert!(err.is_terminal());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.probe.attempts("t"), 1, "a terminal error was retried");

    let greeter = GreeterIngressClient::new(env.ingress());
    let err = greeter
        .greet(GreetRequest { name: " ".into() })
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(400));
    assert!(err.to_string().contains("name must not be empty"), "{err}");
}

async fn retryable_error_is_retried_and_completed_steps_do_not_run_again(env: Env) {
    let flaky = FlakyIngressClient::new(env.ingress());
    let result = flaky
        .work(WorkRequest {
            id: "r".into(),
            succeed_on_attempt: 3,
            ..Default::default()
        })
        .call()
        .await
        .unwrap();
    assert_eq!(result.attempts, 3);
    assert_eq!(env.probe.attempts("r"), 3);
    assert_eq!(
        env.probe.side_effects("r"),
        1,
        "the completed ctx.run ran again on retry"
    );
    assert_eq!(result.side_effects, 1);
}

async fn raw_json_like_curl(env: Env) {
    let http = reqwest::Client::new();
    let url = format!(
        "{}/hydra.v1.DeploymentService/project-1/Deploy",
        env.ingress_url
    );
    let response = http
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"buildId": "b-7", "image": "app:7", "replicas": 2, "strategy": "STRATEGY_ROLLING", "env": {"A": "1"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-restate-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["deploymentId"], "project-1-1");
    assert_eq!(body["sequence"], "1", "int64 travels as a string");
    assert_eq!(body["steps"].as_array().unwrap().len(), 4);

    // Snake-case names are accepted as well; the status comes back with enum names.
    let status: serde_json::Value = http
        .post(format!(
            "{}/hydra.v1.DeploymentService/project-1/GetStatus",
            env.ingress_url
        ))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        status,
        serde_json::json!({"phase": "PHASE_IDLE", "deploymentId": "project-1-1", "deployments": "1"})
    );

    // A malformed body is refused with a 400-class error that says what was wrong.
    let response = http
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"imagee": "app:8"}"#)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("unknown field `imagee`"), "{text}");
    assert!(text.contains("DeployRequest"), "{text}");

    let response = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    // The typed client sees the same through its own types.
    let deployments = DeploymentServiceIngressClient::new(env.ingress());
    let status = deployments
        .get_status("project-1", GetStatusRequest {})
        .call()
        .await
        .unwrap();
    assert_eq!(status.phase(), Phase::Idle);
    let second = deployments
        .deploy(
            "project-1",
            DeployRequest {
                image: "app:9".into(),
                ..Default::default()
            },
        )
        .call()
        .await
        .unwrap();
    assert_eq!(second.sequence, 2);
}

async fn awakeable_resolved_from_outside(env: Env) {
    let waiter = WaiterIngressClient::new(env.ingress());
    let call = tokio::spawn(
        waiter
            .await_awakeable(AwakeableRequest { tag: "t".into() })
            .call(),
    );
    let id = eventually("the awakeable id", WAIT, || async {
        env.probe.awakeable("t")
    })
    .await;
    assert!(id.starts_with("sign_1"), "{id}");
    let http = reqwest::Client::new();
    let response = http
        .post(format!(
            "{}/restate/awakeables/{id}/resolve",
            env.ingress_url
        ))
        .header("content-type", "application/json")
        .body("\"hello\"")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(call.await.unwrap().unwrap().value, "hello");

    let response = http
        .post(format!(
            "{}/restate/awakeables/sign_1notanid/resolve",
            env.ingress_url
        ))
        .header("content-type", "application/json")
        .body("\"x\"")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
}

async fn durable_sleep(env: Env) {
    let waiter = WaiterIngressClient::new(env.ingress());
    let started = std::time::Instant::now();
    waiter
        .sleep(SleepRequest { millis: 700 })
        .call()
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "woke after {:?}",
        started.elapsed()
    );
}

async fn cancel_and_kill_through_the_admin_api(env: Env) {
    let waiter = WaiterIngressClient::new(env.ingress());
    let admin = restate_rs::admin::AdminClient::new(&env.admin_url).unwrap();
    let sleeping = waiter
        .sleep(SleepRequest { millis: 3_600_000 })
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    admin.cancel(&sleeping.invocation_id).await.unwrap();
    let err = env
        .ingress()
        .attach::<restate_rs::pbjson_types::Empty, restate_rs::codec::Json>(&sleeping.invocation_id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(409), "{err}");

    let doomed = waiter
        .sleep(SleepRequest { millis: 3_600_000 })
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    admin.kill(&doomed.invocation_id).await.unwrap();
    let err = env
        .ingress()
        .attach::<restate_rs::pbjson_types::Empty, restate_rs::codec::Json>(&doomed.invocation_id)
        .await
        .unwrap_err();
    assert!(err.is_terminal(), "{err}");

    let err = admin.cancel("inv_1nope").await.unwrap_err();
    assert!(
        matches!(err, restate_rs::admin::AdminError::Refused { .. }),
        "{err}"
    );
}

async fn map_object_state_keys_and_clearing(env: Env) {
    use restate_rs_examples::proto::scenarios::v1::{MapEntry, MapKey, MapObjectIngressClient};
    let map = MapObjectIngressClient::new(env.ingress());
    for (k, v) in [("b", "2"), ("a", "1"), ("c", "3")] {
        map.set(
            "m",
            MapEntry {
                key: k.into(),
                value: v.into(),
            },
        )
        .call()
        .await
        .unwrap();
    }
    assert_eq!(
        map.keys("m", Empty {}).call().await.unwrap().keys,
        ["a", "b", "c"]
    );
    assert_eq!(
        map.get("m", MapKey { key: "b".into() })
            .call()
            .await
            .unwrap()
            .value
            .as_deref(),
        Some("2")
    );
    map.clear("m", MapKey { key: "b".into() })
        .call()
        .await
        .unwrap();
    assert_eq!(
        map.get("m", MapKey { key: "b".into() })
            .call()
            .await
            .unwrap()
            .value,
        None
    );
    assert_eq!(
        map.keys("m", Empty {}).call().await.unwrap().keys,
        ["a", "c"]
    );
    map.clear_all("m", Empty {}).call().await.unwrap();
    assert!(
        map.keys("m", Empty {})
            .call()
            .await
            .unwrap()
            .keys
            .is_empty()
    );
    assert!(
        map.keys("other", Empty {})
            .call()
            .await
            .unwrap()
            .keys
            .is_empty()
    );
}

async fn saga_compensates_in_reverse(env: Env) {
    use restate_rs_examples::proto::scenarios::v1::{TripIngressClient, TripRequest};
    let trip = TripIngressClient::new(env.ingress());
    let err = trip
        .book(TripRequest {
            id: "s1".into(),
            fail_at: 2,
        })
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(409));
    assert!(err.to_string().contains("no hotel available"), "{err}");
    let ok = trip
        .book(TripRequest {
            id: "s2".into(),
            fail_at: 0,
        })
        .call()
        .await
        .unwrap();
    assert_eq!(ok.booked, ["flight", "hotel", "car"]);
}

async fn onboarding_clicked_in_time(env: Env) {
    use restate_rs_examples::proto::scenarios::v1::{
        OnboardingClick, OnboardingIngressClient, OnboardingRequest, onboarding_result::Outcome,
    };
    let onboarding = OnboardingIngressClient::new(env.ingress());
    let email = "quick@example.com";
    onboarding
        .submit(
            email,
            OnboardingRequest {
                email: email.into(),
            },
        )
        .await
        .unwrap();
    let status = eventually("the workflow to wait", WAIT, || async {
        let status = onboarding.status(email, Empty {}).call().await.unwrap();
        (status.steps_done == 1).then_some(status)
    })
    .await;
    assert_eq!(status.phase, "waiting for the click");
    // The secret is in the workflow's state; read it as a client would from the email.
    onboarding
        .click(
            email,
            OnboardingClick {
                secret: "wrong".into(),
            },
        )
        .call()
        .await
        .unwrap();
    let result = onboarding.attach(email).await.unwrap();
    assert_eq!(
        (result.outcome(), result.reminders),
        (Outcome::WrongSecret, 0)
    );
}

/// Runs a scenario on restate-server and on the embedded engine, as two tests.
async fn keys_declared_in_the_proto_come_from_the_request(env: Env) {
    use restate_rs_examples::proto::scenarios::v1::{
        Actor, ActorOnboardingIngressClient, LedgerEntry, LedgerQuery, LedgerRelayIngressClient,
        ProjectLedgerIngressClient, Promotion, Tier, TierLedgerIngressClient,
    };
    let entry = |project: &str, build: u64| LedgerEntry {
        project_id: project.to_owned(),
        build_id: build,
        request_id: String::new(),
    };
    let ledger = ProjectLedgerIngressClient::new(env.ingress());
    // The key is the request's project; the idempotency key `deploy-{project_id}-{build_id}`.
    let first = ledger.record(entry("p-1", 7)).call().await.unwrap();
    assert_eq!(
        (first.key.as_str(), first.builds.as_slice()),
        ("p-1", &[7][..])
    );
    let again = ledger.record(entry("p-1", 7)).call().await.unwrap();
    assert_eq!(
        again, first,
        "the same build runs once: the declared idempotency key"
    );
    let sent = ledger.record(entry("p-1", 8)).send().await.unwrap();
    assert_eq!(sent.status, SendStatus::Accepted);
    eventually("build 8 is recorded", WAIT, || async {
        let read = ledger
            .read(LedgerQuery {
                project_id: "p-1".into(),
            })
            .call()
            .await
            .unwrap();
        (read.builds == [7, 8]).then_some(())
    })
    .await;
    // A caller's idempotency key replaces the declared one.
    let own = ledger
        .record(entry("p-1", 7))
        .idempotency_key("my-own")
        .call()
        .await
        .unwrap();
    assert_eq!(own.builds, [7, 8, 7]);
    // The explicit key stays, and wins over the request's field.
    let explicit = ledger
        .record_with_key("p-2", entry("p-1", 9))
        .call()
        .await
        .unwrap();
    assert_eq!(explicit.key, "p-2");

    // Fields left unset: refused before anything is sent, naming them.
    match ledger.record(entry("", 0)).call().await {
        Err(IngressError::EmptyKey(empty)) => {
            assert_eq!(empty.fields, ["project_id"]);
            assert!(
                empty.to_string().contains("`project_id` is unset"),
                "{empty}"
            );
        }
        other => panic!("a request without its key: {other:?}"),
    }
    // The key is set, the idempotency key's fields are not all empty: it goes.
    let zero = ledger.record(entry("p-3", 0)).call().await.unwrap();
    assert_eq!(zero.builds, [0]);

    // Two fields, one an enum (by name, as proto3 JSON), on one handler only.
    let tiers = TierLedgerIngressClient::new(env.ingress());
    let promotion = Promotion {
        app_id: "app".into(),
        tier: Tier::Production as i32,
        actor: None,
    };
    let promoted = tiers.promote(promotion.clone()).call().await.unwrap();
    assert_eq!(promoted.key, "app:TIER_PRODUCTION");
    let described = tiers
        .describe("app:TIER_PRODUCTION", LedgerQuery::default())
        .call()
        .await
        .unwrap();
    assert_eq!(described.builds, [1]);

    // A workflow whose id is a field of a message field.
    let onboarding = ActorOnboardingIngressClient::new(env.ingress());
    let actor = Promotion {
        actor: Some(Actor { id: "ada".into() }),
        ..promotion.clone()
    };
    onboarding.submit(actor).await.unwrap();
    assert_eq!(onboarding.attach("ada").await.unwrap().key, "ada");
    match onboarding.submit(promotion).await {
        Err(IngressError::EmptyKey(empty)) => assert_eq!(empty.fields, ["actor.id"]),
        other => panic!("a workflow without its id: {other:?}"),
    }

    // From inside a handler, through the generated context client without a key.
    let relay = LedgerRelayIngressClient::new(env.ingress());
    let relayed = relay.relay(entry("p-4", 1)).call().await.unwrap();
    assert_eq!(
        (relayed.key.as_str(), relayed.builds.as_slice()),
        ("p-4", &[1][..])
    );
    match relay.relay(entry("", 2)).call().await {
        Err(IngressError::Terminal {
            code: 400, message, ..
        }) => {
            assert!(message.contains("`project_id` is unset"), "{message}")
        }
        other => panic!("a relayed request without its key: {other:?}"),
    }
}

macro_rules! on_both_engines {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn restate_server() {
                    super::$scenario(super::start_on(super::Kind::RestateServer).await).await;
                }

                #[tokio::test]
                async fn embedded_engine() {
                    super::$scenario(super::start_on(super::Kind::Embedded).await).await;
                }
            }
        )*
    };
}

on_both_engines!(
    object_runs_exclusive_handlers_one_at_a_time_per_key,
    shared_handlers_and_other_keys_run_alongside,
    stateless_service_from_ingress_and_from_a_handler,
    signup_workflow,
    send_and_delayed_send_from_ingress,
    send_and_delayed_send_from_a_handler,
    idempotency_key_runs_once,
    terminal_error_reaches_the_caller_and_is_not_retried,
    retryable_error_is_retried_and_completed_steps_do_not_run_again,
    raw_json_like_curl,
    awakeable_resolved_from_outside,
    durable_sleep,
    cancel_and_kill_through_the_admin_api,
    map_object_state_keys_and_clearing,
    saga_compensates_in_reverse,
    onboarding_clicked_in_time,
    keys_declared_in_the_proto_come_from_the_request,
);
