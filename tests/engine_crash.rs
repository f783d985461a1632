//! Kill -9 of the embedded engine at random moments, many times, then a run to the end:
//! every acknowledged invocation completes, no journaled `ctx.run` runs again, no state write
//! is lost or applied twice.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = env!("CARGO_BIN_EXE_engine-crash-child");
const CHAINS: u32 = 16;
const STEPS: u32 = 10;
const KILLS: u32 = 16;

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
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let log = dir.path().join("side-effects.log");
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261121u64);
    let mut rng = Lcg(seed);
    let mut acks: HashMap<String, String> = HashMap::new();
    let child = |stdout: Stdio| {
        Command::new(CHILD)
            .args([
                db.to_str().unwrap(),
                log.to_str().unwrap(),
                &CHAINS.to_string(),
                &STEPS.to_string(),
            ])
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .expect("the crash child starts")
    };
    let record_acks = |text: &str, acks: &mut HashMap<String, String>| {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("ack ") {
                let (i, id) = rest.split_once(' ').unwrap();
                if let Some(previous) = acks.insert(i.to_owned(), id.to_owned()) {
                    assert_eq!(
                        previous, id,
                        "chain {i} got another invocation after a crash"
                    );
                }
            }
        }
    };

    for _ in 0..KILLS {
        let mut process = child(Stdio::piped());
        std::thread::sleep(Duration::from_millis(20 + rng.next(300)));
        process.kill().unwrap(); // SIGKILL
        let output = process.wait_with_output().unwrap();
        record_acks(&String::from_utf8_lossy(&output.stdout), &mut acks);
    }

    let started = Instant::now();
    let output = child(Stdio::piped()).wait_with_output().unwrap();
    assert!(output.status.success(), "the final run failed");
    assert!(started.elapsed() < Duration::from_secs(120));
    let text = String::from_utf8_lossy(&output.stdout);
    record_acks(&text, &mut acks);
    let results: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("result "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    for i in 0..CHAINS {
        assert_eq!(
            results.get(i.to_string().as_str()).copied(),
            Some(format!("{{\"count\":{STEPS}}}").as_str()),
            "chain {i}"
        );
    }

    // Per step, the side effect ran at least once, and never after the handler had seen the
    // step completed (which it only sees once the result is journaled).
    let log = std::fs::read_to_string(&log).unwrap();
    let mut completed: HashMap<(String, String), bool> = HashMap::new();
    let mut executions: HashMap<(String, String), u32> = HashMap::new();
    for line in log.lines() {
        let mut parts = line.split(' ');
        let (kind, key, step) = (
            parts.next().unwrap(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        );
        match kind {
            "exec" => {
                assert!(
                    !completed
                        .get(&(key.clone(), step.clone()))
                        .copied()
                        .unwrap_or(false),
                    "{key} step {step} ran again after it had completed (seed {seed})"
                );
                *executions.entry((key, step)).or_default() += 1;
            }
            "done" => {
                completed.insert((key, step), true);
            }
            other => panic!("unexpected log line {other}"),
        }
    }
    assert_eq!(executions.len() as u32, CHAINS * STEPS);
    let reruns: u32 = executions.values().map(|n| n - 1).sum();
    println!(
        "{KILLS} kills, {} acknowledged chains, {} steps, {reruns} steps re-run because a kill came between the side effect and its journal entry",
        acks.len(),
        CHAINS * STEPS
    );
    assert!(
        reruns <= KILLS,
        "more re-runs ({reruns}) than kills ({KILLS})"
    );
}
