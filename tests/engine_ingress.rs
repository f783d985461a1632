//! The embedded engine's ingress reached two ways on the same engine: in process
//! (`engine.ingress()`, typed requests through `IngressTransport`, no HTTP) and over HTTP
//! (`IngressServer`). Every request gets the same answer from both, or the same error with the
//! same message; requests made one way are seen the other way (an idempotency key, an id).

mod support;

use restate_rs::codec::{Binary, Json};
use restate_rs::ingress::{IngressClient, IngressError, SendResponse, SendStatus, Target};
use restate_rs_examples::proto::hydra::v1::{
    ClickRequest, GreetRequest, GreetResponse, SignupRequest, SignupResult,
};
use restate_rs_examples::proto::scenarios::v1::{
    AwakeableRequest, AwakeableResult, SleepRequest, WorkRequest, WorkResult,
};
use serde_json::{Value, json};
use std::fmt::Debug;
use std::time::Duration;
use support::{Kind, eventually, start_on};

const GREETER: &str = "hydra.v1.Greeter";
const COUNTER: &str = "scenarios.v1.Counter";
const SIGNUP: &str = "hydra.v1.SignupWorkflow";
const WAITER: &str = "scenarios.v1.Waiter";
const FLAKY: &str = "scenarios.v1.Flaky";
/// An invocation id of the engine's form that no invocation has.
const UNKNOWN_ID: &str = "inv_1ll4Nz6jmUXk3wy04unz4iMk0ppnE5iwTb";

/// The two clients of one engine.
struct Clients {
    env: support::Env,
    in_process: IngressClient,
    http: IngressClient,
}

async fn clients() -> Clients {
    let env = start_on(Kind::Embedded).await;
    let in_process = env.engine.as_ref().expect("an embedded engine").ingress();
    let http = IngressClient::new(&env.ingress_url).unwrap();
    Clients {
        env,
        in_process,
        http,
    }
}

/// What a caller sees, comparable between the two clients: the answer, or the error's variant,
/// code, message and whether it names an invocation.
fn seen<T: Debug>(result: &Result<T, IngressError>) -> String {
    match result {
        Ok(value) => format!("ok {value:?}"),
        Err(e) => {
            let debug = format!("{e:?}");
            let variant = debug.split([' ', '{', '(']).next().unwrap_or_default();
            let id = e.invocation_id().map(|_| " (with id)").unwrap_or_default();
            format!("{variant} {:?}{id}: {e}", e.code())
        }
    }
}

/// Runs `$body` with `$c` bound to the in-process client, then to the HTTP one, checks that
/// both saw the same, and returns both results (in process first).
macro_rules! same {
    ($clients:expr, |$c:ident| $body:expr) => {{
        let in_process = {
            let $c = &$clients.in_process;
            $body.await
        };
        let over_http = {
            let $c = &$clients.http;
            $body.await
        };
        assert_eq!(
            seen(&in_process),
            seen(&over_http),
            "in process (left) and over HTTP (right) differ"
        );
        (in_process, over_http)
    }};
}

fn greet(name: &str) -> GreetRequest {
    GreetRequest { name: name.into() }
}

#[tokio::test]
async fn a_call_and_a_terminal_error() {
    let c = clients().await;
    let (reply, _) = same!(c, |client| client
        .request::<_, GreetResponse, Json>(Target::service(GREETER, "Greet"), greet("Ada"))
        .call());
    assert_eq!(reply.unwrap().message, "Hello, Ada!");

    // The same bytes with the binary codec.
    let (reply, _) = same!(c, |client| client
        .request::<_, GreetResponse, Binary>(Target::service(GREETER, "Greet"), greet("Bo"))
        .call());
    assert!(reply.is_err(), "the handler takes JSON: {reply:?}");

    let failing = |id: &str| WorkRequest {
        id: id.into(),
        terminal_code: 409,
        terminal_message: "already done".into(),
        ..Default::default()
    };
    let (in_process, over_http) = same!(c, |client| client
        .request::<_, WorkResult, Json>(Target::service(FLAKY, "Work"), failing("t"))
        .call());
    for err in [in_process.unwrap_err(), over_http.unwrap_err()] {
        assert!(err.is_terminal(), "{err:?}");
        assert_eq!(
            err.to_string(),
            "terminal error 409 from scenarios.v1.Flaky/Work: already done"
        );
        assert!(err.invocation_id().unwrap().starts_with("inv_"));
    }
}

#[tokio::test]
async fn sends_with_one_idempotency_key_attach_and_output() {
    let c = clients().await;
    let target = Target::service(GREETER, "Greet");
    let send = |client: &IngressClient, key: &str| {
        client
            .request::<_, GreetResponse, Json>(target.clone(), greet("Cy"))
            .idempotency_key(key)
            .send()
    };

    // New in process, then the same key over HTTP and in process: the first invocation.
    let first = send(&c.in_process, "k-1").await.unwrap();
    assert_eq!(first.status, SendStatus::Accepted);
    let (in_process, over_http) = same!(c, |client| send(client, "k-1"));
    for again in [in_process.unwrap(), over_http.unwrap()] {
        assert_eq!(
            again,
            SendResponse {
                invocation_id: first.invocation_id.clone(),
                status: SendStatus::PreviouslyAccepted
            }
        );
    }
    // New over HTTP, then the same key in process.
    let second = send(&c.http, "k-2").await.unwrap();
    assert_eq!(second.status, SendStatus::Accepted);
    let again = send(&c.in_process, "k-2").await.unwrap();
    assert_eq!(again.invocation_id, second.invocation_id);
    assert_eq!(again.status, SendStatus::PreviouslyAccepted);

    // Attach and output, by id and by idempotency key.
    let id = first.invocation_id.as_str();
    let (attached, _) = same!(c, |client| client.attach::<GreetResponse, Json>(id));
    assert_eq!(attached.unwrap().message, "Hello, Cy!");
    let (output, _) = same!(c, |client| client.output::<GreetResponse, Json>(id));
    assert_eq!(output.unwrap().message, "Hello, Cy!");
    let (attached, _) = same!(c, |client| client
        .attach_idempotent::<GreetResponse, Json>(&target, "k-2"));
    assert_eq!(attached.unwrap().message, "Hello, Cy!");
    let (output, _) = same!(c, |client| client
        .output_idempotent::<GreetResponse, Json>(&target, "k-1"));
    assert_eq!(output.unwrap().message, "Hello, Cy!");
    let (unknown, _) = same!(c, |client| client
        .output_idempotent::<GreetResponse, Json>(&target, "k-never"));
    assert!(
        matches!(unknown, Err(IngressError::NotFound { .. })),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_workflow_and_its_output() {
    let c = clients().await;
    let email = "ada@example.com";
    let run = Target::workflow(SIGNUP, email, "Run");
    let request = SignupRequest {
        name: "Ada".into(),
        email: email.into(),
    };
    let submitted = c
        .in_process
        .request::<_, SignupResult, Json>(run.clone(), request)
        .send()
        .await
        .unwrap();
    eventually(
        "the verification email",
        Duration::from_secs(10),
        || async { c.env.outbox.secret_for(email) },
    )
    .await;

    // Waiting for the click: not ready, on both, naming the run.
    let (in_process, over_http) = same!(c, |client| client
        .workflow_output::<SignupResult, Json>(SIGNUP, email));
    for err in [in_process.unwrap_err(), over_http.unwrap_err()] {
        assert!(matches!(err, IngressError::NotReady { .. }), "{err:?}");
        assert_eq!(err.invocation_id(), Some(submitted.invocation_id.as_str()));
    }
    let (in_process, _) = same!(c, |client| client
        .output::<SignupResult, Json>(&submitted.invocation_id));
    assert!(
        matches!(in_process, Err(IngressError::NotReady { .. })),
        "{in_process:?}"
    );

    let secret = c.env.outbox.secret_for(email).unwrap();
    c.in_process
        .request::<_, Value, Json>(
            Target::workflow(SIGNUP, email, "Click"),
            ClickRequest { secret },
        )
        .call()
        .await
        .unwrap();
    let (attached, _) = same!(c, |client| client
        .workflow_attach::<SignupResult, Json>(SIGNUP, email));
    assert!(attached.unwrap().verified);
    let (output, _) = same!(c, |client| client
        .workflow_output::<SignupResult, Json>(SIGNUP, email));
    assert_eq!(output.unwrap().user_id, format!("user-{email}"));
    let (never, _) = same!(c, |client| client
        .workflow_output::<SignupResult, Json>(SIGNUP, "nobody@example.com"));
    assert!(
        matches!(never, Err(IngressError::NotFound { .. })),
        "{never:?}"
    );
}

#[tokio::test]
async fn refusals_are_the_same_errors() {
    let c = clients().await;
    let call = |client: &IngressClient, target: Target, body: Value| {
        client.request::<_, Value, Json>(target, body).call()
    };

    let (unknown, _) = same!(c, |client| call(
        client,
        Target::service("nope.v1.Nope", "Greet"),
        json!({})
    ));
    let err = unknown.unwrap_err();
    assert!(matches!(err, IngressError::NotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the Restate ingress found no nope.v1.Nope/Greet: service 'nope.v1.Nope' not found: no deployment of this engine serves it"
    );

    let (unknown, _) = same!(c, |client| call(
        client,
        Target::service(GREETER, "Nope"),
        json!({})
    ));
    assert!(
        matches!(&unknown, Err(IngressError::NotFound { message, .. }) if message.contains("has no handler 'Nope'")),
        "{unknown:?}"
    );

    // Targets of the wrong shape name the path they would take.
    let (no_key, _) = same!(c, |client| call(
        client,
        Target::service(COUNTER, "Add"),
        json!({})
    ));
    assert_eq!(
        no_key.unwrap_err().to_string(),
        "the Restate ingress answered 400 to scenarios.v1.Counter/Add: bad path /scenarios.v1.Counter/Add: 'scenarios.v1.Counter' is keyed, called at /scenarios.v1.Counter/<key>/<handler>"
    );
    let (keyed, _) = same!(c, |client| client
        .request::<_, Value, Json>(Target::object(GREETER, "a b", "Greet"), json!({}))
        .send());
    assert!(keyed.unwrap_err().to_string().contains(
        "bad path /hydra.v1.Greeter/a%20b/Greet/send: 'hydra.v1.Greeter' is a service without keys"
    ),);

    // An empty key is an empty path segment over HTTP, which the ingress skips: no key.
    let (empty, _) = same!(c, |client| call(
        client,
        Target::object(COUNTER, "", "Add"),
        json!({})
    ));
    assert!(
        empty
            .unwrap_err()
            .to_string()
            .contains("bad path /scenarios.v1.Counter//Add: 'scenarios.v1.Counter' is keyed"),
    );
    let (greeted, _) = same!(c, |client| call(
        client,
        Target::object(GREETER, "", "Greet"),
        json!({"name": "Di"})
    ));
    assert_eq!(greeted.unwrap(), json!({"message": "Hello, Di!"}));

    // Input the handler does not take: refused by the ingress (a content type it does not
    // declare), or by the handler (JSON that is not its message).
    let (binary, _) = same!(c, |client| client
        .request::<_, GreetResponse, Binary>(Target::service(GREETER, "Greet"), greet("x"))
        .send());
    assert!(
        matches!(&binary, Err(IngressError::Status { status: 400, message, .. }) if message.starts_with("input validation error for hydra.v1.Greeter/Greet")),
        "{binary:?}"
    );
    let (malformed, _) = same!(c, |client| call(
        client,
        Target::service(GREETER, "Greet"),
        json!({"name": 5})
    ));
    assert!(malformed.is_err(), "{malformed:?}");

    // A delay longer than a century.
    let (delayed, _) = same!(c, |client| client
        .request::<_, Value, Json>(Target::service(GREETER, "Greet"), json!({"name": "x"}))
        .send_after(Duration::from_secs(200 * 365 * 86_400)));
    assert!(
        matches!(&delayed, Err(IngressError::Status { status: 400, message, .. }) if message.ends_with("longer than 100 years")),
        "{delayed:?}"
    );

    // Ids: unknown, and not the engine's.
    let (output, _) = same!(c, |client| client.output::<Value, Json>(UNKNOWN_ID));
    assert!(
        matches!(&output, Err(IngressError::NotFound { message, .. }) if message == "invocation not found"),
        "{output:?}"
    );
    let (attached, _) = same!(c, |client| client.attach::<Value, Json>(UNKNOWN_ID));
    assert!(
        matches!(&attached, Err(IngressError::Terminal { code: 404, .. })),
        "{attached:?}"
    );
    let (garbage, _) = same!(c, |client| client.attach::<Value, Json>("garbage"));
    assert!(
        matches!(&garbage, Err(IngressError::Status { status: 400, .. })),
        "{garbage:?}"
    );
}

#[tokio::test]
async fn output_of_an_invocation_still_running() {
    let c = clients().await;
    let sent = c
        .http
        .request::<_, AwakeableResult, Json>(
            Target::service(WAITER, "AwaitAwakeable"),
            AwakeableRequest { tag: "w".into() },
        )
        .send()
        .await
        .unwrap();
    let id = sent.invocation_id.as_str();
    let (in_process, over_http) = same!(c, |client| client.output::<AwakeableResult, Json>(id));
    for err in [in_process.unwrap_err(), over_http.unwrap_err()] {
        assert!(matches!(err, IngressError::NotReady { .. }), "{err:?}");
        assert_eq!(err.invocation_id(), Some(id));
        assert_eq!(
            err.to_string(),
            format!(
                "the output of invocation {id} is not ready: the invocation has not completed yet"
            )
        );
    }
}

#[tokio::test]
async fn request_timeouts_apply_in_process() {
    let c = clients().await;
    let sleep = |client: &IngressClient| {
        client
            .request::<_, Value, Json>(
                Target::service(WAITER, "Sleep"),
                SleepRequest { millis: 10_000 },
            )
            .timeout(Duration::from_millis(100))
            .call()
    };
    let err = sleep(&c.in_process).await.unwrap_err();
    match &err {
        IngressError::Timeout { url } => {
            assert_eq!(url, "http://embedded-engine/scenarios.v1.Waiter/Sleep")
        }
        other => panic!("{other:?}"),
    }
    let err = sleep(&c.http).await.unwrap_err();
    assert!(matches!(err, IngressError::Timeout { .. }), "{err:?}");
}
