//! The plugin binary through real protoc and real buf: the same output as the library, errors
//! as protoc and buf print them, and the command line.

mod support;

use std::path::Path;
use std::process::Command;
use support::*;

const PLUGIN: &str = env!("CARGO_BIN_EXE_protoc-gen-restate-rs");

fn expected_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected")
}

/// Every file the plugin wrote under `out`, compared with the expected files (which the
/// library test keeps current).
fn compare_tree(out: &Path, expected: &Path) {
    let written = files_under(out);
    assert!(
        !written.is_empty(),
        "nothing was generated in {}",
        out.display()
    );
    for name in &written {
        let actual = std::fs::read_to_string(out.join(name)).unwrap();
        let want = std::fs::read_to_string(expected.join(name))
            .unwrap_or_else(|_| panic!("the plugin wrote {name}, which has no expected file"));
        assert!(
            actual == want,
            "{name} from the plugin differs from {}",
            expected.join(name).display()
        );
    }
}

fn protoc() -> Command {
    let mut command = Command::new(tool("PROTOC", "protoc"));
    command.arg(format!("--plugin=protoc-gen-restate-rs={PLUGIN}"));
    command
}

#[test]
fn protoc_generates_what_the_library_generates() {
    let out = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(protoc()
        .arg(format!("--restate-rs_out={}", out.path().display()))
        .arg("-I")
        .arg(proto_dir())
        .args(service_fixtures()));
    assert!(ok, "protoc failed:\n{stderr}");
    compare_tree(out.path(), &expected_dir());
    // The file with no services produced nothing.
    assert!(!out.path().join("common/v1/common.restate.rs").exists());
}

#[test]
fn protoc_passes_parameters() {
    let out = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(protoc()
        .arg(format!("--restate-rs_out={}", out.path().display()))
        .arg("--restate-rs_opt=encoding=binary,default_stubs")
        .arg("-I")
        .arg(proto_dir())
        .args(service_fixtures()));
    assert!(ok, "protoc failed:\n{stderr}");
    compare_tree(out.path(), &expected_dir().join("binary"));
}

#[test]
fn protoc_reports_broken_services() {
    let out = tempfile::tempdir().unwrap();
    let broken = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let (ok, _, stderr) = run(protoc()
        .arg(format!("--restate-rs_out={}", out.path().display()))
        .arg("-I")
        .arg(&broken)
        .arg("-I")
        .arg(proto_dir())
        .arg(broken.join("workflow_two_runs.proto")));
    assert!(!ok, "protoc accepted a broken workflow");
    assert!(
        stderr.contains("--restate-rs_out: 1 problem in the Restate services:\n  workflow_two_runs.proto: broken.v1.Onboarding: is a WORKFLOW with 2 run handlers (Run, Begin); a workflow has exactly one"),
        "{stderr}"
    );
}

#[test]
fn protoc_reports_unknown_parameters() {
    let out = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(protoc()
        .arg(format!("--restate-rs_out={}", out.path().display()))
        .arg("--restate-rs_opt=binary,colour=blue")
        .arg("-I")
        .arg(proto_dir())
        .arg("hydra/v1/greeter.proto"));
    assert!(!ok);
    assert!(
        stderr.contains(
            "--restate-rs_out: invalid option: unknown parameter `colour=blue`; known parameters:"
        ),
        "{stderr}"
    );
}

#[test]
fn protoc_accepts_proto3_optional() {
    // kitchen_sink.proto has `optional` fields: protoc refuses plugins that do not declare
    // support for them.
    let out = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(protoc()
        .arg(format!("--restate-rs_out={}", out.path().display()))
        .arg("-I")
        .arg(proto_dir())
        .arg("hydra/v1/kitchen_sink.proto"));
    assert!(ok, "{stderr}");
}

#[test]
fn buf_generate_with_a_local_plugin() {
    let work = tempfile::tempdir().unwrap();
    copy_dir(&proto_dir(), &work.path().join("proto"));
    let (ok, stdout, stderr) = buf_generate(work.path(), "strategy: all");
    assert!(ok, "buf generate failed:\n{stdout}\n{stderr}");
    compare_tree(&work.path().join("gen"), &expected_dir());
}

#[test]
fn buf_reports_broken_services() {
    let work = tempfile::tempdir().unwrap();
    copy_dir(&proto_dir().join("dev"), &work.path().join("proto/dev"));
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken/streaming.proto"),
        work.path().join("proto/streaming.proto"),
    )
    .unwrap();
    let (ok, stdout, stderr) = buf_generate(work.path(), "opt: require_service_type");
    assert!(!ok, "buf accepted streaming methods:\n{stdout}");
    assert!(
        stderr.contains("streaming.proto: broken.v1.Streams.Upload: client streaming methods are not supported by Restate"),
        "{stderr}"
    );
}

#[test]
fn version_and_help() {
    let (ok, stdout, _) = run(Command::new(PLUGIN).arg("--version"));
    assert!(ok);
    assert_eq!(
        stdout.trim(),
        format!("protoc-gen-restate-rs {}", env!("CARGO_PKG_VERSION"))
    );
    let (ok, stdout, _) = run(Command::new(PLUGIN).arg("--help"));
    assert!(ok);
    assert!(stdout.contains("--restate-rs_out=OUT"), "{stdout}");
    assert!(stdout.contains("require_service_type"), "{stdout}");
    let (ok, _, stderr) = run(Command::new(PLUGIN).arg("--frobnicate"));
    assert!(!ok);
    assert!(
        stderr.contains("unexpected argument '--frobnicate'"),
        "{stderr}"
    );
}

/// Runs the plugin binary on `stdin`; it must exit 0 and answer a response (its bytes).
fn plugin_on(stdin: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new(PLUGIN)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn garbage_on_stdin_is_reported_not_a_panic() {
    let text = plugin_on(b"\xff\xff\xff not a request");
    assert!(
        text.contains("cannot decode the CodeGeneratorRequest on standard input"),
        "{text}"
    );
}

/// A request whose one file declares `syntax = "editions"` (protoc sends that only to plugins
/// that declare editions support; a hand-made request can send anything).
#[test]
fn a_file_in_another_syntax_is_reported_not_a_panic() {
    // CodeGeneratorRequest { proto_file: [FileDescriptorProto { name: "e.proto", syntax: "editions" }] }
    let file = b"\x0a\x07e.proto\x62\x08editions";
    let request = [&[0x7a, file.len() as u8][..], file].concat();
    let text = plugin_on(&request);
    assert!(
        text.contains(
            "`e.proto` declares syntax \"editions\": protobuf editions are not supported yet"
        ),
        "{text}"
    );
}

/// `buf generate` in `work` (which holds `proto/`), with our plugin and one more plugin option
/// line; returns (success, stdout, stderr).
fn buf_generate(work: &Path, plugin_option: &str) -> (bool, String, String) {
    std::fs::write(
        work.join("buf.yaml"),
        "version: v2\nmodules:\n  - path: proto\n",
    )
    .unwrap();
    std::fs::write(
        work.join("buf.gen.yaml"),
        format!("version: v2\nplugins:\n  - local: {PLUGIN}\n    out: gen\n    {plugin_option}\n"),
    )
    .unwrap();
    run(Command::new(tool("BUF", "buf"))
        .arg("generate")
        .current_dir(work)
        .env("BUF_CACHE_DIR", work.join(".cache")))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
