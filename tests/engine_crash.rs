//! Kill -9 of the embedded engine at random moments, many times, then a run to the end:
//! every acknowledged invocation completes, no journaled `ctx.run` runs again, no state write
//! is lost or applied twice.
//!
//! Each run draws a fresh seed for the kill times and prints it; `CRASH_SEED=<n>` replays one.
//! The run to the end has a deadline: an acknowledged invocation that never completes fails
//! the test (with the seed) instead of hanging it. `tests/engine_crash_sweep.rs` complements
//! it with a crash at every commit boundary.

mod faults_support;

use faults_support::{acks, read_chain_log, report, run_with_deadline, seed_from};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD: &str = env!("CARGO_BIN_EXE_engine-crash-child");
const CHAINS: u32 = 16;
const STEPS: u32 = 10;
const KILLS: u32 = 16;
/// The run to the end after the last kill: 160 steps take about a second here.
const DEADLINE: Duration = Duration::from_secs(90);

/// A small deterministic generator, so a failure can be replayed with the same kill times.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn kill_9_at_random_points() {
    let seed = seed_from("CRASH_SEED");
    // Shown when the test fails (the harness prints a failing test's output).
    println!("engine crash test: seed {seed} (CRASH_SEED={seed} replays it)");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let log = dir.path().join("side-effects.log");
    let mut rng = Lcg(seed);
    let command = || {
        let mut command = Command::new(CHILD);
        command.args([
            db.to_str().unwrap(),
            log.to_str().unwrap(),
            &CHAINS.to_string(),
            &STEPS.to_string(),
        ]);
        command
    };
    let mut acked: HashMap<String, String> = HashMap::new();
    let record_acks = |text: &str, acked: &mut HashMap<String, String>| {
        for (chain, id) in acks(text) {
            if let Some(previous) = acked.insert(chain.clone(), id.clone()) {
                assert_eq!(
                    previous, id,
                    "chain {chain} got another invocation after a crash (seed {seed})"
                );
            }
        }
    };

    for _ in 0..KILLS {
        let mut process = command()
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the crash child starts");
        std::thread::sleep(Duration::from_millis(20 + rng.next(300)));
        process.kill().unwrap(); // SIGKILL
        let output = process.wait_with_output().unwrap();
        record_acks(&String::from_utf8_lossy(&output.stdout), &mut acked);
    }

    let last = run_with_deadline(command(), DEADLINE).unwrap_or_else(|e| {
        panic!("seed {seed}: the run after the last kill {e}\nacknowledged before: {acked:?}")
    });
    assert!(
        last.status.success(),
        "seed {seed}: the run after the last kill failed ({}):\n{}",
        last.status,
        last.stderr
    );
    record_acks(&last.stdout, &mut acked);
    let results: HashMap<&str, &str> = last
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("result "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    for i in 0..CHAINS {
        assert_eq!(
            results.get(i.to_string().as_str()).copied(),
            Some(format!("{{\"count\":{STEPS}}}").as_str()),
            "chain {i} (seed {seed})"
        );
    }

    // Per step, the side effect ran at least once, and never after the handler had seen the
    // step completed (which it only sees once the result is journaled).
    let log = read_chain_log(&log);
    assert!(
        log.after_journaled.is_empty(),
        "seed {seed}: {:?}",
        log.after_journaled
    );
    assert_eq!(log.steps as u32, CHAINS * STEPS, "seed {seed}");
    report(
        "engine-crash",
        &[
            ("seed", seed.to_string()),
            ("kills", KILLS.to_string()),
            ("acknowledged", acked.len().to_string()),
            ("steps", (CHAINS * STEPS).to_string()),
            ("rerun_before_journaling", log.reruns.to_string()),
            ("lost", "0".to_owned()),
            ("duplicated", "0".to_owned()),
        ],
    );
    // `ctx.run` runs a step at least once until its result is journaled: a kill can interrupt
    // every chain in flight between a side effect and its journal entry, so each kill may
    // cause up to one re-run per chain, never more.
    assert!(
        log.reruns <= KILLS * CHAINS,
        "seed {seed}: more re-runs ({}) than kills × chains ({})",
        log.reruns,
        KILLS * CHAINS
    );
}
