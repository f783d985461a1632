//! The official Restate CLI (`restate` 1.7.12, npm `@restatedev/restate`, installed into
//! `.tools/` by `scripts/install-tools.sh`) against the embedded engine's admin API and
//! against restate-server, with the same services and the same commands; then what the
//! engine's SQL refuses, and its metrics.
//!
//! `docs/CLI.md` holds the table of what matches and what differs.

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Env, Kind, TOOLS};

/// How long one CLI command may take before the test gives up on it.
const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

/// The CLI binary; installed from npm (the version pinned in `.tools/package.json`) when
/// missing.
fn cli_binary() -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let binary = Path::new(TOOLS).join("node_modules/@restatedev/restate-linux-x64/bin/restate");
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !binary.exists() {
        let status = Command::new("npm")
            .args([
                "install",
                "--no-package-lock",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(TOOLS)
            .status()
            .expect("npm runs (scripts/install-tools.sh installs the CLI)");
        assert!(status.success(), "npm install of the Restate CLI failed");
    }
    binary
}

/// What one CLI command did.
#[derive(Debug)]
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `restate <args>` against `admin_url`, with a home and a config of its own, colours off,
/// killed if it outlives [`COMMAND_DEADLINE`].
fn restate(admin_url: &str, home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let out = tempfile::NamedTempFile::new_in(home).unwrap();
    let err = tempfile::NamedTempFile::new_in(home).unwrap();
    let mut child = Command::new(cli_binary())
        .args(args)
        .env("RESTATE_ADMIN_URL", admin_url)
        .env("HOME", home)
        .env("RESTATE_CLI_CONFIG_HOME", home.join("config"))
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap())
        .spawn()
        .expect("the Restate CLI starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > COMMAND_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`restate {}` did not finish within {COMMAND_DEADLINE:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let strip = |path: &Path| strip_ansi(&std::fs::read_to_string(path).unwrap_or_default());
    Run {
        ok: status.success(),
        stdout: strip(out.path()),
        stderr: strip(err.path()),
    }
}

/// Without terminal colour sequences (the CLI writes some even to a pipe).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The CLI, from a blocking thread.
async fn cli(env: &Env, home: &Path, args: &[&str]) -> Run {
    cli_with(env, home, args, &[]).await
}

async fn cli_with(env: &Env, home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let (url, home) = (env.admin_url.clone(), home.to_owned());
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        restate(&url, &home, &args, &envs)
    })
    .await
    .unwrap()
}

/// Calls the ingress; answers the invocation id and the body.
async fn call(env: &Env, path: &str, body: Value) -> (String, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/{path}", env.ingress_url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let id = response
        .headers()
        .get("x-restate-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap();
    let id = id.unwrap_or_else(|| {
        serde_json::from_str::<Value>(&text).unwrap()["invocationId"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    (id, text)
}

/// The status of one invocation, through `restate sql`.
async fn status_of(env: &Env, home: &Path, id: &str) -> Option<String> {
    let run = cli(
        env,
        home,
        &[
            "sql",
            "--json",
            &format!("select status from sys_invocation where id = '{id}'"),
        ],
    )
    .await;
    assert!(run.ok, "{}", run.all());
    let json = run.stdout.trim();
    let end = json.rfind(']').map_or(json.len(), |i| i + 1);
    let rows: Vec<Value> = serde_json::from_str(&json[..end]).unwrap_or_default();
    rows.first()
        .and_then(|r| r["status"].as_str())
        .map(str::to_owned)
}

/// Every command of the issue, on one engine; the same checks on both.
async fn commands_on(kind: Kind) {
    let env = support::start_on(kind).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();

    let (counter, _) = call(&env, "scenarios.v1.Counter/c1/Add", json!({"delta": 4})).await;
    let (map, _) = call(
        &env,
        "scenarios.v1.MapObject/m1/Set",
        json!({"key": "a", "value": "x"}),
    )
    .await;
    let (sleeper, _) = call(
        &env,
        "scenarios.v1.Waiter/Sleep/send",
        json!({"millis": "3600000"}),
    )
    .await;
    let (doomed, _) = call(
        &env,
        "scenarios.v1.Waiter/Sleep/send",
        json!({"millis": "3600000"}),
    )
    .await;
    for id in [&sleeper, &doomed] {
        support::eventually("the sleeper runs", Duration::from_secs(20), || async {
            (status_of(&env, h, id).await.as_deref() == Some("running")).then_some(())
        })
        .await;
    }

    let run = cli(&env, h, &["services", "list"]).await;
    assert!(run.ok, "{}", run.all());
    for want in [
        "scenarios.v1.Counter",
        "virtual object",
        "hydra.v1.SignupWorkflow",
        "workflow",
        "scenarios.v1.Waiter",
    ] {
        assert!(
            run.stdout.contains(want),
            "services list: {want}\n{}",
            run.all()
        );
    }
    assert!(!run.stderr.contains("Warning"), "{}", run.all());

    let run = cli(&env, h, &["services", "describe", "scenarios.v1.Counter"]).await;
    assert!(run.ok, "{}", run.all());
    for want in [
        "VirtualObject",
        "Add",
        "JSON 'scenarios.v1.AddRequest'",
        "JSON 'scenarios.v1.CounterValue'",
        "restate-sdk-rust",
    ] {
        assert!(run.stdout.contains(want), "describe: {want}\n{}", run.all());
    }

    let deployments: Value = reqwest::get(format!("{}/v4/deployments", env.admin_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deployment = deployments["deployments"][0]["id"].as_str().unwrap();
    let run = cli(&env, h, &["deployments", "list"]).await;
    assert!(run.ok, "{}", run.all());
    assert!(run.stdout.contains(deployment), "{}", run.all());
    assert!(
        run.stdout.contains("scenarios.v1.Counter [1]"),
        "{}",
        run.all()
    );

    let run = cli(&env, h, &["invocations", "list", "--all"]).await;
    assert!(run.ok, "{}", run.all());
    for id in [&counter, &map, &sleeper, &doomed] {
        assert!(
            run.stdout.contains(id.as_str()),
            "list: {id}\n{}",
            run.all()
        );
    }
    assert!(
        run.stdout.contains("scenarios.v1.Counter/c1/Add"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("completed with success"),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("running"), "{}", run.all());

    let run = cli(&env, h, &["invocations", "describe", &counter]).await;
    assert!(run.ok, "{}", run.all());
    for want in [
        "scenarios.v1.Counter/c1/Add",
        "completed with success",
        "Command: Input",
        "Command: SetState key value",
        "Command: Output",
    ] {
        assert!(run.stdout.contains(want), "describe: {want}\n{}", run.all());
    }
    let run = cli(&env, h, &["invocations", "describe", &sleeper]).await;
    assert!(run.ok, "{}", run.all());
    assert!(run.stdout.contains("Command: Sleep until"), "{}", run.all());

    let run = cli(&env, h, &["services", "status"]).await;
    assert!(run.ok, "{}", run.all());
    assert!(run.stdout.contains("scenarios.v1.Waiter"), "{}", run.all());
    assert!(run.stdout.contains(&counter), "{}", run.all());

    let run = cli(&env, h, &["state", "get", "scenarios.v1.Counter", "c1"]).await;
    assert!(run.ok, "{}", run.all());
    assert!(has_row(&run.stdout, &["value", "4"]), "{}", run.all());

    // state edit opens $EDITOR on the state as JSON: a script edits it without a terminal.
    let editor = h.join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/: 4/: 7/' \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = cli_with(
        &env,
        h,
        &["state", "edit", "--yes", "scenarios.v1.Counter", "c1"],
        &[("EDITOR", editor.to_str().unwrap())],
    )
    .await;
    assert!(run.ok, "{}", run.all());
    assert!(
        run.all().contains("Successfully submitted state update"),
        "{}",
        run.all()
    );
    support::eventually("the edited state", Duration::from_secs(20), || async {
        let run = cli(&env, h, &["state", "get", "scenarios.v1.Counter", "c1"]).await;
        has_row(&run.stdout, &["value", "7"]).then_some(())
    })
    .await;

    let run = cli(
        &env,
        h,
        &[
            "sql",
            "select id, target, status from sys_invocation order by created_at",
        ],
    )
    .await;
    assert!(run.ok, "{}", run.all());
    assert!(
        has_row(
            &run.stdout,
            &[&counter, "scenarios.v1.Counter/c1/Add", "completed"]
        ),
        "{}",
        run.all()
    );
    assert!(
        has_row(
            &run.stdout,
            &[&sleeper, "scenarios.v1.Waiter/Sleep", "running"]
        ),
        "{}",
        run.all()
    );

    let run = cli(&env, h, &["invocations", "cancel", "--yes", &sleeper]).await;
    assert!(run.ok, "{}", run.all());
    assert!(
        run.all().contains("Cancelled 1 invocations"),
        "{}",
        run.all()
    );
    let run = cli(&env, h, &["invocations", "kill", "--yes", &doomed]).await;
    assert!(run.ok, "{}", run.all());
    assert!(run.all().contains("Killed 1 invocations"), "{}", run.all());
    for id in [&sleeper, &doomed] {
        support::eventually(
            "cancelled and killed end",
            Duration::from_secs(20),
            || async {
                (status_of(&env, h, id).await.as_deref() == Some("completed")).then_some(())
            },
        )
        .await;
    }
    let run = cli(&env, h, &["invocations", "list", "--all"]).await;
    assert!(run.ok, "{}", run.all());
    assert!(
        run.stdout.contains("completed with failure"),
        "{}",
        run.all()
    );

    let run = cli(&env, h, &["invocations", "purge", "--yes", &map]).await;
    assert!(run.ok, "{}", run.all());
    assert!(run.all().contains("Purged 1 invocations"), "{}", run.all());
    support::eventually(
        "the purged invocation is gone",
        Duration::from_secs(20),
        || async { status_of(&env, h, &map).await.is_none().then_some(()) },
    )
    .await;

    // Bad input: the CLI says what the server said and fails. The engine answers 400 with
    // SQLite's reason; restate-server answers 400 for a syntax error and 500 for an unknown
    // table, with DataFusion's.
    let engine = kind == Kind::Embedded;
    for (bad, on_engine, on_server) in [
        ("selec 1", "syntax error", "400 Bad Request"),
        (
            "select * from no_such_table",
            "no such table: no_such_table",
            "table 'restate.public.no_such_table' not found",
        ),
    ] {
        let run = cli(&env, h, &["sql", bad]).await;
        assert!(!run.ok, "{bad}: {}", run.all());
        let want = if engine { on_engine } else { on_server };
        assert!(run.all().contains(want), "{bad}: {}", run.all());
        if engine {
            assert!(
                run.all().contains("400 Bad Request"),
                "{bad}: {}",
                run.all()
            );
        }
    }
    let run = cli(&env, h, &["services", "list"]).await;
    assert!(run.ok, "still serving: {}", run.all());
}

/// Whether a line of a CLI table has these cells, in this order.
fn has_row(table: &str, cells: &[&str]) -> bool {
    table.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut at = 0;
        cells
            .iter()
            .all(|cell| match words[at..].iter().position(|w| w == cell) {
                Some(i) => {
                    at += i + 1;
                    true
                }
                None => false,
            })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_on_the_embedded_engine() {
    tokio::time::timeout(Duration::from_secs(240), commands_on(Kind::Embedded))
        .await
        .expect("the CLI scenario finishes on the embedded engine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_on_restate_server() {
    tokio::time::timeout(Duration::from_secs(240), commands_on(Kind::RestateServer))
        .await
        .expect("the CLI scenario finishes on restate-server");
}

/// What the engine's SQL refuses, with its reasons, and that it goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_refusals_and_limits_on_the_embedded_engine() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let env = support::start_on(Kind::Embedded).await;
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        call(&env, "scenarios.v1.Counter/c1/Add", json!({"delta": 1})).await;
        let http = reqwest::Client::new();
        let query = |sql: &str| {
            http.post(format!("{}/query", env.admin_url))
                .header("accept", "application/json")
                .json(&json!({ "query": sql }))
                .send()
        };
        for (sql, reason) in [
            ("selec 1", "syntax error"),
            ("select * from no_such_table", "no such table: no_such_table"),
            ("delete from state", "only queries that read are allowed"),
            ("insert into invocations default values", "only queries that read are allowed"),
            (
                "with x as (select 1) delete from main.timers",
                "this statement would write",
            ),
            ("pragma query_only = 0", "only queries that read are allowed"),
            ("attach 'elsewhere.db' as other", "only queries that read are allowed"),
            ("select 1; select 2", "one statement at a time"),
            (
                "with recursive c(x) as (select 1 union all select x + 1 from c limit 200000) select x from c",
                "more than 100000 rows",
            ),
        ] {
            let response = query(sql).await.unwrap();
            assert_eq!(response.status(), 400, "{sql}");
            let body: Value = response.json().await.unwrap();
            let message = body["message"].as_str().unwrap();
            assert!(message.contains(reason), "{sql}: {message}");
        }

        // Past the time limit: stopped, said so. Meanwhile the query reads the engine's tables
        // and the engine goes on writing: calls finish as quickly as ever.
        let started = Instant::now();
        let long = {
            let (url, home) = (env.admin_url.clone(), h.to_owned());
            tokio::task::spawn_blocking(move || {
                restate(
                    &url,
                    &home,
                    &[
                        "sql",
                        "with recursive c(x) as (select 1 union all select x + 1 from c) \
                         select count(*) from c, sys_invocation, state",
                    ],
                    &[],
                )
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        for delta in 0..10 {
            let call_started = Instant::now();
            call(&env, "scenarios.v1.Counter/c1/Add", json!({ "delta": delta })).await;
            assert!(
                call_started.elapsed() < Duration::from_secs(2),
                "a call took {:?} while a query ran",
                call_started.elapsed()
            );
        }
        assert!(!long.is_finished(), "the long query ended before the calls");
        let run = long.await.unwrap();
        assert!(!run.ok, "{}", run.all());
        assert!(
            run.all().contains("the query was stopped after its time limit of 5000 ms"),
            "{}",
            run.all()
        );
        assert!(started.elapsed() < Duration::from_secs(12), "{:?}", started.elapsed());
        let run = cli(&env, h, &["sql", "select count(*) as n from sys_invocation"]).await;
        assert!(run.ok, "{}", run.all());
        assert!(has_row(&run.stdout, &["11"]), "{}", run.all());
        call(&env, "scenarios.v1.Counter/c1/Add", json!({"delta": 1})).await;

        // Arrow IPC unless JSON is asked for; the tables the CLI probes are listed.
        let arrow = http
            .post(format!("{}/query", env.admin_url))
            .json(&json!({ "query": "select count(*) from information_schema.columns where table_name = 'sys_journal'" }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            arrow.headers()["content-type"],
            "application/vnd.apache.arrow.stream"
        );
        let tables = query("select distinct table_name from information_schema.columns order by table_name")
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        let names: Vec<&str> = tables["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["table_name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "state",
                "sys_deployment",
                "sys_inbox",
                "sys_invocation",
                "sys_invocation_state",
                "sys_invocation_status",
                "sys_journal",
                "sys_keyed_service_status",
                "sys_promise",
                "sys_service"
            ]
        );
    })
    .await
    .expect("the SQL checks finish");
}

/// Prometheus metrics on the admin port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_the_admin_port() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let env = support::start_on(Kind::Embedded).await;
        call(&env, "scenarios.v1.Counter/m/Add", json!({"delta": 1})).await;
        let response = reqwest::get(format!("{}/metrics", env.admin_url)).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        let text = response.text().await.unwrap();
        for want in [
            "restate_rs_invocations_started_total{service=\"scenarios.v1.Counter\",handler=\"Add\"}",
            "restate_rs_invocations_completed_total{service=\"scenarios.v1.Counter\",handler=\"Add\"}",
            "restate_rs_invocation_duration_seconds_bucket{service=\"scenarios.v1.Counter\",handler=\"Add\",le=",
            "restate_rs_invocations{status=\"completed\"}",
            "restate_rs_commit_group_size_bucket{le=",
            "restate_rs_commit_duration_seconds_count",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    })
    .await
    .expect("the metrics check finishes");
}

/// Queries on an engine that keeps its file: a read-only connection of their own, while the
/// engine writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_on_an_engine_file() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let dir = tempfile::tempdir().unwrap();
        let (probe, outbox) = Default::default();
        let engine = restate_rs::engine::Engine::builder(support::endpoint(&probe, &outbox))
            .open(dir.path().join("engine.db"))
            .await
            .unwrap();
        let admin = restate_rs::engine::AdminServer::bind(engine.clone(), "127.0.0.1:0")
            .await
            .unwrap()
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let writer = {
            let engine = engine.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    engine
                        .call(
                            restate_rs::engine::Target::keyed("scenarios.v1.Counter", "f", "Add"),
                            json!({ "delta": i }).to_string(),
                        )
                        .await
                        .unwrap();
                }
            })
        };
        let mut seen = 0;
        while !writer.is_finished() {
            let rows: Value = http
                .post(format!("{}/v4/query", admin.url()))
                .header("accept", "application/json")
                .json(&json!({ "query": "select count(*) as n from sys_invocation where status = 'completed'" }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let n = rows["rows"][0]["n"].as_i64().unwrap();
            assert!(n >= seen, "{n} after {seen}");
            seen = n;
        }
        writer.await.unwrap();
        let home = tempfile::tempdir().unwrap();
        let (url, h) = (admin.url(), home.path().to_owned());
        let run = tokio::task::spawn_blocking(move || {
            restate(&url, &h, &["state", "get", "scenarios.v1.Counter", "f"], &[])
        })
        .await
        .unwrap();
        assert!(run.ok, "{}", run.all());
        assert!(has_row(&run.stdout, &["value", &(0..200).sum::<i64>().to_string()]), "{}", run.all());
    })
    .await
    .expect("the file checks finish");
}

/// The other admin routes of restate-server's API, as the engine answers them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_as_restate_server() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let env = support::start_on(Kind::Embedded).await;
        let http = reqwest::Client::new();
        let admin = |path: &str| format!("{}{path}", env.admin_url);

        let version: Value = http
            .get(admin("/version"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(version["version"], "1.7.12");
        assert_eq!(version["max_admin_api_version"], 4);
        assert_eq!(
            http.get(admin("/v4/health")).send().await.unwrap().status(),
            200
        );

        let counter: Value = http
            .get(admin("/v4/services/scenarios.v1.Counter"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for field in [
            "name",
            "ty",
            "handlers",
            "documentation",
            "deployment_id",
            "revision",
            "public",
            "idempotency_retention",
            "journal_retention",
            "inactivity_timeout",
            "abort_timeout",
            "enable_lazy_state",
            "retry_policy",
        ] {
            assert!(counter.get(field).is_some(), "{field} in {counter:#}");
        }
        assert_eq!(counter["retry_policy"]["on_max_attempts"], "Pause");
        assert_eq!(counter["journal_retention"], "1d");
        let get: Value = http
            .get(admin("/v4/services/scenarios.v1.Counter/handlers/Get"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(get["ty"], "Shared");
        assert_eq!(get["input_description"], "JSON 'google.protobuf.Empty'");
        assert_eq!(
            http.get(admin("/v4/services/nope"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );

        // Settings come from the deployment: a patch that changes nothing is fine.
        let same = http
            .patch(admin("/v4/services/scenarios.v1.Counter"))
            .json(&json!({ "public": true }))
            .send()
            .await
            .unwrap();
        assert_eq!(same.status(), 200);
        let change = http
            .patch(admin("/v4/services/scenarios.v1.Counter"))
            .json(&json!({ "public": false }))
            .send()
            .await
            .unwrap();
        assert_eq!(change.status(), 400);
        let message = change.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            message.contains("cannot change [\"public\"] at run time"),
            "{message}"
        );

        let other = http
            .post(admin("/v4/deployments"))
            .json(&json!({ "uri": "http://127.0.0.1:1" }))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 400);
        let deployments: Value = http
            .get(admin("/v4/deployments"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = deployments["deployments"][0]["id"].as_str().unwrap();
        assert!(id.starts_with("dp_1") && id.len() == 26, "{id}");
        let detail: Value = http
            .get(admin(&format!("/v4/deployments/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(detail["services"][0]["handlers"].is_array(), "{detail:#}");
        assert_eq!(
            http.delete(admin(&format!("/v4/deployments/{id}")))
                .send()
                .await
                .unwrap()
                .status(),
            409
        );

        // Pause is for an invocation between retries; a running one is refused.
        let (sleeper, _) = call(
            &env,
            "scenarios.v1.Waiter/Sleep/send",
            json!({"millis": "3600000"}),
        )
        .await;
        let pause = http
            .patch(admin(&format!("/v4/invocations/{sleeper}/pause")))
            .send()
            .await
            .unwrap();
        assert_eq!(pause.status(), 409);
        assert_eq!(
            http.patch(admin("/v4/invocations/inv_1nope/pause"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        // The engine's own routes answer under the prefix too.
        let listed: Value = http
            .get(admin("/v4/invocations"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            listed["invocations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["id"] == sleeper.as_str())
        );
    })
    .await
    .expect("the route checks finish");
}
