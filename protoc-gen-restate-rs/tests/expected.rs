//! Generated code for every fixture under `proto/`, compared with `tests/expected/`.
//! `BLESS=1 cargo test -p protoc-gen-restate-rs` rewrites the expected files; review the diff.

mod support;

use protoc_gen_restate_rs::{Encoding, Layout, Options, generate};
use support::*;

fn check(options: &Options, subdir: &str) {
    let files = service_fixtures();
    let pool = compile(&[proto_dir()], &files);
    let generated = generate(&pool, &files, options, Layout::PerFile).unwrap();
    let expected_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(subdir);
    let mut seen = Vec::new();
    for file in &generated {
        assert_expected(&expected_dir.join(&file.name), &file.content);
        seen.push(file.name.clone());
    }
    // Every fixture with services has an output, and no stale expected file lingers.
    let on_disk: Vec<String> = files_under(&expected_dir)
        .into_iter()
        .filter(|f| !subdir.is_empty() || !f.starts_with("binary/"))
        .collect();
    assert_eq!(
        on_disk,
        seen,
        "expected files and generated files differ in {}",
        expected_dir.display()
    );
}

#[test]
fn json_defaults() {
    check(&Options::default(), "");
}

#[test]
fn binary_with_default_stubs() {
    let options = Options {
        encoding: Encoding::Binary,
        default_stubs: true,
        ..Options::default()
    };
    check(&options, "binary");
}

#[test]
fn parts_can_be_left_out() {
    let files = vec!["hydra/v1/greeter.proto".to_owned()];
    let pool = compile(&[proto_dir()], &files);
    let options = Options {
        server: false,
        ingress_client: false,
        ..Options::default()
    };
    let out = generate(&pool, &files, &options, Layout::PerFile).unwrap();
    let code = &out[0].content;
    assert!(code.contains("pub struct GreeterClient<'ctx>"));
    assert!(!code.contains("pub trait Greeter"));
    assert!(!code.contains("GreeterServer"));
    assert!(!code.contains("GreeterIngressClient"));
}

#[test]
fn service_attributes_and_extern_paths() {
    let files = vec!["hydra/v1/kitchen_sink.proto".to_owned()];
    let pool = compile(&[proto_dir()], &files);
    let options = Options {
        service_attributes: vec![(
            ".hydra.v1.Ledger".to_owned(),
            "#[doc(alias = \"accounts\")]".to_owned(),
        )],
        extern_paths: vec![(
            ".common.v1".to_owned(),
            "::shared_protos::common".to_owned(),
        )],
        ..Options::default()
    };
    let out = generate(&pool, &files, &options, Layout::PerFile).unwrap();
    let code = &out[0].content;
    assert!(
        code.contains("#[doc(alias = \"accounts\")]\npub trait Ledger"),
        "{code}"
    );
    assert!(!code.contains("#[doc(alias = \"accounts\")]\npub trait Keywords"));
    assert!(
        code.contains("request: ::shared_protos::common::Money"),
        "{code}"
    );

    let bad = Options {
        service_attributes: vec![(".".to_owned(), "not an attribute".to_owned())],
        ..Options::default()
    };
    let err = generate(&pool, &files, &bad, Layout::PerFile)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid option: service attribute `not an attribute` for `.` is not a Rust attribute such as `#[allow(missing_docs)]`"
    );
}

#[test]
fn per_package_layout_groups_files() {
    let files = service_fixtures();
    let pool = compile(&[proto_dir()], &files);
    let out = generate(&pool, &files, &Options::default(), Layout::PerPackage).unwrap();
    let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["hydra.v1.restate.rs", "scenarios.v1.restate.rs"]);
    for service in [
        "DeploymentService",
        "SignupWorkflow",
        "Greeter",
        "Keywords",
        "Ledger",
        "Provisioning",
    ] {
        assert!(
            out[0].content.contains(&format!("pub trait {service}:")),
            "{service}"
        );
    }
}
