//! The generator on a large proto set: time to generate the code (builder, in-process) and
//! time to compile it, against the same services written with restate-sdk's macros.
//!
//! `scripts/gen-large-protos.py` writes, under `target/bench-generator/`, N services × M
//! methods in proto files of 10 services each, a crate `large-generated` that includes what
//! the builder generates from them and implements the generated traits, and a crate
//! `large-macros` with the same services and handler bodies written with
//! `#[restate_sdk::service]` / `#[restate_sdk::object]` on plain serde structs. Both crates
//! build in a workspace of their own (target dir `target/bench-generator/target`), whose
//! dependencies are built once (the first run takes several minutes more for that); then each
//! crate alone is built from scratch (`cargo clean -p`, then `cargo build`) and rebuilt after
//! a one-line edit, the crates taking turns. Writes its figures into docs/BENCHMARKS.md,
//! between the `generator-NxM` markers, so runs of different sizes keep their own sections.
//!
//! The default, 40 services × 4 methods in 2 rounds, fits in about 3 minutes on 2 cores; the
//! full set of the issue takes about 15 minutes for one round:
//!
//! ```sh
//! cargo bench --bench generator
//! GENERATOR_SERVICES=300 GENERATOR_FILES=30 GENERATOR_ROUNDS=1 cargo bench --bench generator
//! ```

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{machine, write_section};

/// A size from the environment, or its default.
fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    let n = v.len();
    if n.is_multiple_of(2) {
        (v[n / 2 - 1] + v[n / 2]) / 2
    } else {
        v[n / 2]
    }
}

/// User + system CPU time of this process's children that have been waited for (and of
/// theirs, reaped in turn: cargo's rustc processes), from `/proc/self/stat`.
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_comm
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // Fields 16 and 17 of stat (cutime, cstime); `fields` starts at field 3.
    let ticks = fields.get(13).copied().unwrap_or(0) + fields.get(14).copied().unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// A cargo command in the throwaway workspace: (wall time, CPU time of cargo and rustc).
fn cargo(work: &Path, args: &[&str]) -> (Duration, Duration) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let cpu_before = children_cpu();
    let started = Instant::now();
    let status = Command::new(cargo)
        .args(args)
        .current_dir(work)
        .env("CARGO_TARGET_DIR", work.join("target"))
        .env_remove("OUT_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    let took = started.elapsed();
    assert!(
        status.success(),
        "cargo {args:?} failed in {}",
        work.display()
    );
    (took, children_cpu() - cpu_before)
}

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn lines_and_bytes(paths: &[PathBuf]) -> (usize, u64) {
    paths.iter().fold((0, 0), |(lines, bytes), p| {
        let text = std::fs::read_to_string(p).unwrap();
        (lines + text.lines().count(), bytes + text.len() as u64)
    })
}

/// Makes a one-line edit in the crate's lib.rs (a different constant each time), so the next
/// build is an incremental rebuild after a real change.
fn edit(lib: &Path, n: usize) {
    let text = std::fs::read_to_string(lib).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("pub const BENCH_EDIT"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(lib, format!("{kept}pub const BENCH_EDIT: usize = {n};\n")).unwrap();
}

struct Crate {
    name: &'static str,
    label: &'static str,
    lib: PathBuf,
    clean_build: Vec<Duration>,
    rebuild: Vec<Duration>,
    clean_build_cpu: Vec<Duration>,
    rebuild_cpu: Vec<Duration>,
}

fn main() {
    let services = size("GENERATOR_SERVICES", 40);
    let methods = size("GENERATOR_METHODS", 4);
    let files = size("GENERATOR_FILES", services.div_ceil(10));
    let generate_runs = size("GENERATOR_GENERATE_RUNS", 3);
    let build_rounds = size("GENERATOR_ROUNDS", 2);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = root.join("target/bench-generator");
    std::fs::create_dir_all(&work).unwrap();

    // 1. The proto set and the two crates.
    let status = Command::new("python3")
        .arg(root.join("scripts/gen-large-protos.py"))
        .arg("--out")
        .arg(&work)
        .args(["--services", &services.to_string()])
        .args(["--methods", &methods.to_string()])
        .args(["--files", &files.to_string()])
        .arg("--restate-rs")
        .arg(root.join("runtime"))
        .arg("--lock")
        .arg(root.join("Cargo.lock"))
        .status()
        .expect("python3 runs scripts/gen-large-protos.py");
    assert!(status.success());
    let protos = files_with(&work.join("proto"), "proto");
    let (proto_lines, _) = lines_and_bytes(&protos);

    // 2. Generation with the builder (protox parsing, prost + pbjson messages, our services),
    //    in-process, as build.rs runs it.
    let gen_dir = work.join("generated/gen");
    let mut generate = Vec::new();
    for _ in 0..generate_runs {
        let _ = std::fs::remove_dir_all(&gen_dir);
        let started = Instant::now();
        protoc_gen_restate_rs::configure()
            .emit_rerun_if_changed(false)
            .out_dir(&gen_dir)
            .compile_protos(&protos, &[work.join("proto")])
            .expect("the large proto set generates");
        generate.push(started.elapsed());
    }
    let generate_median = median(generate.clone());
    let generated_files: Vec<PathBuf> = files_with(&gen_dir, "rs");
    let (gen_lines, gen_bytes) = lines_and_bytes(&generated_files);
    let services_files: Vec<PathBuf> = generated_files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".restate.rs"))
        .cloned()
        .collect();
    let (service_lines, _) = lines_and_bytes(&services_files);
    let serde_files: Vec<PathBuf> = generated_files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".serde.rs"))
        .cloned()
        .collect();
    let (serde_lines, _) = lines_and_bytes(&serde_files);
    let message_lines = gen_lines - service_lines - serde_lines;
    println!(
        "generate {services} services x {methods} methods in {files} files ({proto_lines} proto lines): median {} of {generate_runs} (min {}, max {}); {gen_lines} lines of Rust ({service_lines} of them services), {} KiB",
        secs(generate_median),
        secs(*generate.iter().min().unwrap()),
        secs(*generate.iter().max().unwrap()),
        gen_bytes / 1024
    );

    // 3. Build: dependencies once, then each crate alone, alternating.
    let mut crates = [
        Crate {
            name: "large-generated",
            label: "generated (protoc-gen-restate-rs, restate-rs)",
            lib: work.join("generated/src/lib.rs"),
            clean_build: Vec::new(),
            rebuild: Vec::new(),
            clean_build_cpu: Vec::new(),
            rebuild_cpu: Vec::new(),
        },
        Crate {
            name: "large-macros",
            label: "hand-written (restate-sdk macros, serde)",
            lib: work.join("macros/src/lib.rs"),
            clean_build: Vec::new(),
            rebuild: Vec::new(),
            clean_build_cpu: Vec::new(),
            rebuild_cpu: Vec::new(),
        },
    ];
    let (macro_lines, _) = lines_and_bytes(&[crates[1].lib.clone()]);
    let (impl_lines, _) = lines_and_bytes(&[crates[0].lib.clone()]);
    let started = Instant::now();
    cargo(
        &work,
        &[
            "build",
            "--quiet",
            "-p",
            "large-generated",
            "-p",
            "large-macros",
        ],
    );
    println!(
        "dependencies (and a first build of both crates): {}",
        secs(started.elapsed())
    );
    let mut edits = 0;
    for round in 0..build_rounds {
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let c = &mut crates[i];
            cargo(&work, &["clean", "--quiet", "-p", c.name]);
            let (took, cpu) = cargo(&work, &["build", "--quiet", "-p", c.name]);
            println!(
                "{}: build of the crate alone {} (CPU {})",
                c.name,
                secs(took),
                secs(cpu)
            );
            c.clean_build.push(took);
            c.clean_build_cpu.push(cpu);
            edits += 1;
            edit(&c.lib, edits);
            let (took, cpu) = cargo(&work, &["build", "--quiet", "-p", c.name]);
            println!(
                "{}: rebuild after a one-line edit {} (CPU {})",
                c.name,
                secs(took),
                secs(cpu)
            );
            c.rebuild.push(took);
            c.rebuild_cpu.push(cpu);
        }
    }
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();

    let mut table = String::from(
        "| crate | source the crate holds | build of the crate alone (deps built): wall, median [min, max] | its CPU time (cargo + rustc), median | rebuild after a one-line edit: wall, median [min, max] | its CPU time, median |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for c in &crates {
        let source = if c.name == "large-generated" {
            format!("{gen_lines} generated lines (included) + {impl_lines} lines of trait impls")
        } else {
            format!("{macro_lines} lines (structs + macro services)")
        };
        table.push_str(&format!(
            "| {} | {source} | {} [{}, {}] | {} | {} [{}, {}] | {} |\n",
            c.label,
            secs(median(c.clean_build.clone())),
            secs(*c.clean_build.iter().min().unwrap()),
            secs(*c.clean_build.iter().max().unwrap()),
            secs(median(c.clean_build_cpu.clone())),
            secs(median(c.rebuild.clone())),
            secs(*c.rebuild.iter().min().unwrap()),
            secs(*c.rebuild.iter().max().unwrap()),
            secs(median(c.rebuild_cpu.clone())),
        ));
    }
    let ratio = |f: fn(&Crate) -> &Vec<Duration>| {
        median(f(&crates[0]).clone()).as_secs_f64() / median(f(&crates[1]).clone()).as_secs_f64()
    };
    let ratio_build = ratio(|c| &c.clean_build);
    let ratio_rebuild = ratio(|c| &c.rebuild);
    let ratio_build_cpu = ratio(|c| &c.clean_build_cpu);
    let ratio_rebuild_cpu = ratio(|c| &c.rebuild_cpu);
    println!("{table}");
    println!(
        "ratio generated / macros: build {ratio_build:.2} (CPU {ratio_build_cpu:.2}), rebuild {ratio_rebuild:.2} (CPU {ratio_rebuild_cpu:.2})"
    );

    let command = if (services, methods, files) == (40, 4, 4) {
        "cargo bench --bench generator".to_owned()
    } else {
        format!(
            "GENERATOR_SERVICES={services} GENERATOR_METHODS={methods} GENERATOR_FILES={files} GENERATOR_ROUNDS={build_rounds} cargo bench --bench generator"
        )
    };
    let body = format!(
        "## Generator: {services} services × {methods} methods\n\n\
         Measured by `{command}` on this machine ({machine}), {rustc}, dev profile.\n\n\
         `scripts/gen-large-protos.py` writes {services} services × {methods} methods in {files} proto files ({proto_lines} lines; services alternate between `SERVICE` and `VIRTUAL_OBJECT`, whose `Get` is `SHARED`; every method has its own request, with a string, an int64, a repeated string, a map, an enum and a nested message, and its own response), and the same services written with restate-sdk's macros (`#[restate_sdk::service]` / `#[restate_sdk::object]` on impl blocks, `#[handler(name = ...)]`, requests and responses as plain `#[derive(Serialize, Deserialize)]` structs through `restate_sdk::serde::Json`), with the same handler bodies.\n\n\
         **Generate**: `protoc_gen_restate_rs::configure().out_dir(..).compile_protos(..)` in-process, as build.rs runs it (parsing with protox, messages with prost-build, their JSON mapping with pbjson-build, services with our generator): **{}** median of {generate_runs} (min {}, max {}), writing {gen_lines} lines ({} KiB) of Rust: {message_lines} lines of prost messages (`<pkg>.rs`, derives expanded by the compiler), {serde_lines} lines of their proto3 JSON mapping (`<pkg>.serde.rs`, pbjson, written out in full) and {service_lines} lines of services (`<pkg>.restate.rs`: traits, servers, clients, ingress clients, JSON schemas). The macro side's serde derives and services are expanded by the compiler from {macro_lines} lines.\n\n\
         **Compile**: each set is a crate of its own in one throwaway workspace (`target/bench-generator`): `large-generated` depends on restate-rs by path and includes the generated files, with an implementation of every generated trait; `large-macros` depends on restate-sdk and serde. Both also bind every service into one `Endpoint`. Dependencies are built once; then, in {build_rounds} round(s) with the crates taking turns (the other one first every other round), each crate alone is built from scratch (`cargo clean -p <crate>`, `cargo build -p <crate>`) and then rebuilt after a one-line edit of its lib.rs (incremental compilation).\n\n{table}\n\
         Ratio generated / macros, medians: build of the crate **{ratio_build:.2}** in wall time, **{ratio_build_cpu:.2}** in CPU time; rebuild after an edit **{ratio_rebuild:.2}** in wall time, **{ratio_rebuild_cpu:.2}** in CPU time. Other work on this shared 2-core machine stretches wall time; CPU time (of cargo and rustc, from `/proc/self/stat` after each build) is less disturbed by it.\n",
        secs(generate_median),
        secs(*generate.iter().min().unwrap()),
        secs(*generate.iter().max().unwrap()),
        gen_bytes / 1024,
        machine = machine(),
    );
    write_section(&format!("generator-{services}x{methods}"), &body);
}
