//! Every check the generator makes, on broken fixtures under `tests/broken/`, through the
//! build.rs builder, with the message a user reads compared with `tests/broken/<name>.stderr`
//! (`BLESS=1` rewrites them).

mod support;

use std::path::Path;
use support::*;

fn error_for(name: &str) -> String {
    let proto = format!("tests/broken/{name}.proto");
    let first_line = std::fs::read_to_string(&proto).unwrap();
    let require = first_line
        .lines()
        .next()
        .unwrap_or("")
        .contains("require_service_type");
    let out = tempfile::tempdir().unwrap();
    let result = protoc_gen_restate_rs::configure()
        .require_service_type(require)
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile_protos(&[&proto], &["tests/broken", "../proto"]);
    match result {
        Ok(()) => panic!("{proto} generated without error"),
        Err(e) => e.to_string(),
    }
}

fn check(name: &str) {
    let actual = error_for(name);
    assert_expected(
        &Path::new("tests/broken").join(format!("{name}.stderr")),
        &format!("{actual}\n"),
    );
}

#[test]
fn streaming_methods() {
    check("streaming");
}

#[test]
fn handler_type_that_does_not_fit_the_service_type() {
    check("handler_type_mismatch");
}

#[test]
fn workflow_without_run() {
    check("workflow_without_run");
}

#[test]
fn workflow_with_two_runs() {
    check("workflow_two_runs");
}

#[test]
fn rust_name_collisions() {
    check("name_collision");
}

#[test]
fn missing_service_type_when_required() {
    check("missing_service_type");
}

#[test]
fn proto_syntax_error() {
    check("syntax_error");
}

#[test]
fn unknown_import() {
    check("unknown_import");
}

#[test]
fn configuration_durations_that_are_not_durations() {
    check("config_durations");
}

#[test]
fn configuration_values_out_of_range() {
    check("config_values");
}

#[test]
fn configuration_in_the_wrong_place() {
    check("config_misplaced");
}

#[test]
fn keys_that_cannot_be_built_from_the_requests() {
    check("keys");
}

#[test]
fn missing_service_type_is_fine_by_default() {
    let out = tempfile::tempdir().unwrap();
    protoc_gen_restate_rs::configure()
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile_protos(
            &["tests/broken/missing_service_type.proto"],
            &["tests/broken", "../proto"],
        )
        .unwrap();
    let code = std::fs::read_to_string(out.path().join("broken.v1.restate.rs")).unwrap();
    assert!(
        code.contains("The Restate service `broken.v1.Implicit`"),
        "{code}"
    );
}

#[test]
fn every_broken_fixture_has_a_test() {
    let tests = include_str!("broken.rs");
    for file in protos_under(Path::new("tests/broken")) {
        let name = file.trim_end_matches(".proto");
        assert!(
            tests.contains(&format!("check(\"{name}\")")),
            "tests/broken/{file} is not checked"
        );
    }
}

/// With a protoc binary, the builder generates the same code, and reports protoc's errors.
#[test]
fn builder_with_protoc() {
    let protoc = tool("PROTOC", "protoc");
    let files = service_fixtures();
    let paths: Vec<_> = files.iter().map(|f| proto_dir().join(f)).collect();
    let (with_protoc, with_protox) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    protoc_gen_restate_rs::configure()
        .protoc(&protoc)
        .emit_rerun_if_changed(false)
        .out_dir(with_protoc.path())
        .compile_protos(&paths, &[proto_dir()])
        .unwrap();
    protoc_gen_restate_rs::configure()
        .emit_rerun_if_changed(false)
        .out_dir(with_protox.path())
        .compile_protos(&paths, &[proto_dir()])
        .unwrap();
    for name in [
        "hydra.v1.restate.rs",
        "hydra.v1.rs",
        "hydra.v1.serde.rs",
        "hydra.v1.mod.rs",
        "common.v1.rs",
    ] {
        let a = std::fs::read_to_string(with_protoc.path().join(name)).unwrap();
        let b = std::fs::read_to_string(with_protox.path().join(name)).unwrap();
        assert!(a == b, "{name} differs between protoc and protox");
    }

    let out = tempfile::tempdir().unwrap();
    let err = protoc_gen_restate_rs::configure()
        .protoc(&protoc)
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile_protos(
            &["tests/broken/syntax_error.proto"],
            &["tests/broken", "../proto"],
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("protoc `{}` failed", protoc.display())),
        "{err}"
    );
    assert!(err.contains("syntax_error.proto:6:1"), "{err}");

    let err = protoc_gen_restate_rs::configure()
        .protoc("/nonexistent/protoc")
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile_protos(&["tests/broken/syntax_error.proto"], &["tests/broken"])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("running protoc `/nonexistent/protoc`: "),
        "{err}"
    );
}
