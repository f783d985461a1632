//! The embedded engine stopped at every commit boundary of a scenario: for N = 1, 2, … the
//! child program (src/bin/engine-sweep-child.rs) kills itself with SIGKILL right after the
//! engine's N-th commit, before anyone waiting on it is told; then it runs again on the same
//! file to the end. Until N passes the scenario's last commit (the child then ends by itself),
//! each run must show:
//!
//! - every invocation acknowledged before the crash is the one the rerun finds (the same id
//!   for the same idempotency key) and completes, with the exact result and state;
//! - no durable step runs again once the handler saw it journaled (steps whose side effect
//!   ran but whose result was not yet journaled may run again, as `ctx.run` allows).
//!
//! One test per scenario, so they run in parallel. `fault-report:` lines give the number of
//! crash points each scenario has.

mod faults_support;

use faults_support::{ChildRun, acks, read_chain_log, report, run_with_deadline};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const CHILD: &str = env!("CARGO_BIN_EXE_engine-sweep-child");
/// What one run may take at most; a run that hangs (an acknowledged invocation that never
/// completes) fails the test instead of blocking it.
const DEADLINE: Duration = Duration::from_secs(60);
/// No scenario commits this often; past it the sweep is broken, not long.
const MAX_POINTS: u64 = 400;

/// Runs the child; `label` names the run in a failure.
fn run(scenario: &str, dir: &Path, crash_after: u64, label: &str) -> ChildRun {
    let mut command = Command::new(CHILD);
    command.args([
        scenario,
        dir.join("engine.db").to_str().unwrap(),
        dir.join("side-effects.log").to_str().unwrap(),
        &crash_after.to_string(),
    ]);
    run_with_deadline(command, DEADLINE)
        .unwrap_or_else(|e| panic!("{scenario}, {label}: the run {e}"))
}

/// Checks a run that went to its end: outcome right, side effects as allowed.
fn check_finished(scenario: &str, point: &str, dir: &Path, finished: &ChildRun) {
    assert!(
        finished.status.success() && finished.stdout.contains("outcome ok"),
        "{scenario}, {point}: the run to the end failed ({}):\n{}\n{}",
        finished.status,
        finished.stdout,
        finished.stderr
    );
    let log = read_chain_log(&dir.join("side-effects.log"));
    assert!(
        log.after_journaled.is_empty(),
        "{scenario}, {point}: {:?}",
        log.after_journaled
    );
}

fn sweep(scenario: &str) {
    let mut reruns = 0u32;
    for crash_after in 1..=MAX_POINTS {
        let dir = tempfile::tempdir().unwrap();
        let point = format!("crash after commit {crash_after}");
        let crashed = run(scenario, dir.path(), crash_after, &point);
        if crashed.status.success() {
            // Fewer commits than `crash_after`: the sweep has covered every boundary.
            let points = crash_after - 1;
            check_finished(scenario, "no crash", dir.path(), &crashed);
            report(
                "engine-crash-sweep",
                &[
                    ("scenario", scenario.to_owned()),
                    ("crash_points", points.to_string()),
                    ("steps_rerun_before_journaling", reruns.to_string()),
                    ("lost", "0".to_owned()),
                    ("duplicated", "0".to_owned()),
                ],
            );
            assert!(
                points >= 3,
                "{scenario}: only {points} commits; the hook is not called"
            );
            return;
        }
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            crashed.status.signal(),
            Some(9),
            "{scenario}, {point}: the child did not stop at the crash ({}):\n{}\n{}",
            crashed.status,
            crashed.stdout,
            crashed.stderr
        );
        let finished = run(scenario, dir.path(), 0, &format!("rerun after the {point}"));
        check_finished(scenario, &point, dir.path(), &finished);
        let after: HashMap<String, String> = acks(&finished.stdout).into_iter().collect();
        for (what, id) in acks(&crashed.stdout) {
            assert_eq!(
                after.get(&what),
                Some(&id),
                "{scenario}, {point}: `{what}` was acknowledged as {id} before the crash; the rerun found {:?}",
                after.get(&what)
            );
        }
        reruns += read_chain_log(&dir.path().join("side-effects.log")).reruns;
    }
    panic!("{scenario}: still crashing after {MAX_POINTS} commits");
}

#[test]
fn sweep_call() {
    sweep("call");
}

#[test]
fn sweep_one_way_send() {
    sweep("send");
}

#[test]
fn sweep_delayed_send() {
    sweep("delayed-send");
}

#[test]
fn sweep_exclusive_queue_on_one_key() {
    sweep("queue");
}

#[test]
fn sweep_workflow_with_a_promise_resolved_by_a_shared_handler() {
    sweep("workflow");
}

#[test]
fn sweep_awakeable() {
    sweep("awakeable");
}

#[test]
fn sweep_sleep() {
    sweep("sleep");
}

#[test]
fn sweep_call_between_services() {
    sweep("service-call");
}

/// Kills while a new file is being created (the first milliseconds of the first open), at
/// offsets from 0 to 40 ms: the next open must take the file as the engine's and go on.
#[test]
fn a_kill_while_the_file_is_created() {
    for offset in (0..40).step_by(2) {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(CHILD)
            .args([
                "call",
                dir.path().join("engine.db").to_str().unwrap(),
                dir.path().join("side-effects.log").to_str().unwrap(),
                "0",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(offset));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let point = format!("killed {offset} ms into the first open");
        let finished = run("call", dir.path(), 0, &point);
        check_finished("call", &point, dir.path(), &finished);
    }
}
