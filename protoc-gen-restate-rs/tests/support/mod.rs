//! Shared by the generator's tests: fixture locations, compiling protos, expected files.

#![allow(dead_code, unreachable_pub)]

use prost_reflect::DescriptorPool;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `proto/` at the workspace root: the fixtures that must generate.
pub fn proto_dir() -> PathBuf {
    workspace().join("proto")
}

/// Every file under `dir`, as paths relative to it with `/` separators, sorted; none when
/// `dir` does not exist.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `.proto` files under `dir`, relative to it, sorted.
pub fn protos_under(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter(|f| f.ends_with(".proto"))
        .collect()
}

/// The fixtures that have services (everything under `proto/` except the options files and
/// the service protocol).
pub fn service_fixtures() -> Vec<String> {
    protos_under(&proto_dir())
        .into_iter()
        .filter(|f| !f.starts_with("dev/restate/") && !f.starts_with("restate_rs/"))
        .collect()
}

/// Compiles `files` (relative to `includes[0]` or another include) with protox, keeping
/// comments and options, into a descriptor pool.
pub fn compile(includes: &[PathBuf], files: &[String]) -> DescriptorPool {
    let mut compiler = protox::Compiler::new(includes).unwrap();
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(files).unwrap_or_else(|e| panic!("{e}"));
    DescriptorPool::decode(compiler.encode_file_descriptor_set().as_slice()).unwrap()
}

/// Whether expected files are to be rewritten (`BLESS=1 cargo test`).
pub fn blessing() -> bool {
    std::env::var_os("BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Compares `actual` with the file at `expected`; with `BLESS=1`, writes it instead. A
/// mismatch fails with a unified diff.
pub fn assert_expected(expected: &Path, actual: &str) {
    if blessing() {
        std::fs::create_dir_all(expected.parent().unwrap()).unwrap();
        std::fs::write(expected, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(expected).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run `BLESS=1 cargo test -p protoc-gen-restate-rs` to create it",
            expected.display()
        )
    });
    if want != actual {
        let diff = similar::TextDiff::from_lines(want.as_str(), actual)
            .unified_diff()
            .header(&expected.display().to_string(), "generated")
            .to_string();
        panic!(
            "generated output differs from {} (run `BLESS=1 cargo test -p protoc-gen-restate-rs` to accept):\n{diff}",
            expected.display()
        );
    }
}

/// A tool from the environment variable `var`, the project's `.tools` install, or `PATH`.
pub fn tool(var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let local = workspace().join(".tools/node_modules/.bin").join(name);
    if local.exists() {
        return local;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed: run `scripts/install-tools.sh` (or set {var} to its path)"
        )
    })
}

/// Runs a command, returning (success, stdout, stderr).
pub fn run(command: &mut Command) -> (bool, String, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
