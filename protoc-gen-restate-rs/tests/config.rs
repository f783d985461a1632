//! The configuration a service declares with `(restate_rs.service)` and `(restate_rs.handler)`:
//! read into the model, and the options file supplied by the builder when the include path
//! lacks it. (The checks are in `broken.rs`, the generated code in `expected/`.)

mod support;

use protoc_gen_restate_rs::{Config, OnMaxAttempts, Options, RetryPolicy, ServiceKind, services};
use std::time::Duration;
use support::*;

fn secs(s: u64) -> Option<Duration> {
    Some(Duration::from_secs(s))
}

#[test]
fn the_model_holds_the_configuration() {
    let files = vec!["hydra/v1/configured.proto".to_owned()];
    let pool = compile(&[proto_dir()], &files);
    let services = services(&pool, &files, &Options::default()).unwrap();
    let vault = &services[0];
    assert_eq!(vault.full_name, "hydra.v1.Vault");
    assert_eq!(
        vault.config,
        Config {
            idempotency_retention: secs(86_400),
            journal_retention: secs(12 * 3600),
            workflow_retention: None,
            inactivity_timeout: secs(90),
            abort_timeout: secs(300),
            ingress_private: Some(true),
            enable_lazy_state: Some(true),
            retry_policy: RetryPolicy {
                initial_interval: Some(Duration::from_millis(250)),
                max_interval: secs(30),
                max_attempts: Some(8),
                exponentiation_factor: Some(1.5),
                on_max_attempts: Some(OnMaxAttempts::Kill),
            },
            ..Config::default()
        }
    );
    let store = &vault.handlers[0];
    assert_eq!(
        store.config,
        Config {
            inactivity_timeout: secs(600),
            retry_policy: RetryPolicy {
                max_attempts: Some(3),
                on_max_attempts: Some(OnMaxAttempts::Pause),
                ..RetryPolicy::default()
            },
            ..Config::default()
        }
    );
    let count = &vault.handlers[1];
    assert_eq!(count.config.journal_retention, secs(3600));
    assert_eq!(count.config.enable_lazy_state, Some(false));

    let report = &services[1];
    assert_eq!(report.kind, ServiceKind::Workflow);
    assert_eq!(report.config.workflow_retention, secs(86_400));
    assert_eq!(report.config.idempotency_retention, secs(7200));
    let run = &report.handlers[0];
    assert_eq!(run.config.workflow_retention, secs(3 * 86_400));
    assert_eq!(run.config.retry_policy.exponentiation_factor, Some(2.0));
    let progress = &report.handlers[1];
    assert_eq!(progress.config.idempotency_retention, secs(1800));
    assert_eq!(progress.config.ingress_private, Some(false));
}

#[test]
fn services_without_the_options_have_no_configuration() {
    let files = vec!["hydra/v1/greeter.proto".to_owned()];
    let pool = compile(&[proto_dir()], &files);
    let services = services(&pool, &files, &Options::default()).unwrap();
    assert!(services[0].config.is_empty());
    assert!(services[0].handlers.iter().all(|h| h.config.is_empty()));
}

/// A project whose include path has neither options file: the builder supplies both.
#[test]
fn the_builder_supplies_the_options_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("timed.proto"),
        r#"syntax = "proto3";
package timed.v1;
import "dev/restate/sdk/go.proto";
import "restate_rs/options.proto";

service Timed {
  option (dev.restate.sdk.go.service_type) = VIRTUAL_OBJECT;
  option (restate_rs.service).inactivity_timeout = "30s";
  rpc Tick(M) returns (M) {
    option (restate_rs.handler).retry_policy = { max_attempts: 2 on_max_attempts: KILL };
  }
}

message M {}
"#,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    protoc_gen_restate_rs::configure()
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile_protos(&[dir.path().join("timed.proto")], &[dir.path()])
        .unwrap();
    let code = std::fs::read_to_string(out.path().join("timed.v1.restate.rs")).unwrap();
    assert!(
        code.contains("inactivity_timeout_ms: ::core::option::Option::Some(30000)"),
        "{code}"
    );
    assert!(
        code.contains("::restate_rs::__codegen::OnMaxAttempts::Kill"),
        "{code}"
    );
    assert!(
        code.contains("/// * the service: `inactivity_timeout = \"30s\"`\n/// * `Tick`: `retry_policy.max_attempts = 2`, `retry_policy.on_max_attempts = KILL`"),
        "{code}"
    );
    let supplied = out
        .path()
        .join("restate-rs-include")
        .join(protoc_gen_restate_rs::RESTATE_RS_OPTIONS_PATH);
    assert_eq!(
        std::fs::read_to_string(supplied).unwrap(),
        protoc_gen_restate_rs::RESTATE_RS_OPTIONS_PROTO
    );
}

/// The same with protoc as the parser: the builder puts the supplied files on protoc's
/// include path.
#[test]
fn the_builder_supplies_the_options_file_to_protoc() {
    let protoc = tool("PROTOC", "protoc");
    let files = ["hydra/v1/configured.proto"];
    let out = tempfile::tempdir().unwrap();
    let only_hydra = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(only_hydra.path().join("hydra/v1")).unwrap();
    std::fs::copy(proto_dir().join(files[0]), only_hydra.path().join(files[0])).unwrap();
    protoc_gen_restate_rs::configure()
        .protoc(&protoc)
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile_protos(&[only_hydra.path().join(files[0])], &[only_hydra.path()])
        .unwrap();
    let code = std::fs::read_to_string(out.path().join("hydra.v1.restate.rs")).unwrap();
    assert!(
        code.contains("workflow_retention_ms: ::core::option::Option::Some(259200000)"),
        "{code}"
    );
}
