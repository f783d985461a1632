//! Shared pieces of the fault tests: a seeded generator for kill times, the service process
//! that the tests kill, the check of the side-effect log written by `scenarios.v1.Chain`, and
//! the report line each test prints (`scripts/faults.sh` collects them).

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../support/mod.rs"]
mod base;
// Not every fault test uses both.
#[allow(unused_imports)]
pub use base::{TOOLS, eventually};

/// Retries of restate-server kept short, so that an invocation whose deployment was down is
/// tried again within a second of it coming back (the default backs off up to a minute).
pub const FAST_RETRY: &str = r#"
[default-retry-policy]
initial-interval = "100ms"
exponentiation-factor = 2.0
max-interval = "1s"
max-attempts = 100000
on-max-attempts = "pause"
"#;

/// A small deterministic generator, so that a failure can be replayed with the same kill
/// times (`FAULT_SEED=<n>`).
pub struct Lcg(u64);

impl Lcg {
    /// Seeded from `FAULT_SEED`, or `default`.
    pub fn from_env(default: u64) -> (Self, u64) {
        let seed = std::env::var("FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        (Lcg(seed), seed)
    }

    /// A number in `0..bound`.
    pub fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound.max(1)
    }

    /// A duration between `min` and `max` milliseconds.
    pub fn millis(&mut self, min: u64, max: u64) -> Duration {
        Duration::from_millis(min + self.next(max.saturating_sub(min) + 1))
    }
}

/// A free loopback port (free when asked; the caller binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `fault-service` child: `scenarios.v1.Chain` served on a fixed address.
pub struct ServiceProcess {
    binary: PathBuf,
    addr: String,
    log: PathBuf,
    child: Option<Child>,
    /// How many times it was killed with SIGKILL.
    pub kills: u32,
}

impl ServiceProcess {
    /// Starts `binary ADDR LOG` and waits until it listens.
    pub fn start(binary: &str, port: u16, log: &Path) -> Self {
        let mut process = ServiceProcess {
            binary: PathBuf::from(binary),
            addr: format!("127.0.0.1:{port}"),
            log: log.to_path_buf(),
            child: None,
            kills: 0,
        };
        process.spawn();
        process
    }

    /// The URL to register.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spawn(&mut self) {
        let started = Instant::now();
        loop {
            let mut child = Command::new(&self.binary)
                .args([self.addr.as_str(), self.log.to_str().unwrap()])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the fault service starts");
            let mut line = String::new();
            let mut stdout = BufReader::new(child.stdout.take().unwrap());
            let _ = stdout.read_line(&mut line);
            if line.starts_with("listening") {
                self.child = Some(child);
                return;
            }
            // The port may be held for a moment after a kill: try again, for a while.
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the fault service does not start on {}: {}",
                self.addr,
                String::from_utf8_lossy(&output.stderr)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            let _ = child.wait();
            self.kills += 1;
        }
    }

    /// Starts it again on the same address and log.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What the side-effect log of `scenarios.v1.Chain` says.
#[derive(Debug, Default)]
pub struct LogReport {
    /// Distinct (key, step) pairs whose side effect ran.
    pub steps: usize,
    /// Side effects that ran more than once because a crash came between the side effect
    /// and its journal entry (allowed: the result was not journaled yet).
    pub reruns: u32,
    /// Side effects that ran after the handler had seen the step completed (journaled): must
    /// be none.
    pub after_journaled: Vec<String>,
}

/// Reads the log: `exec <key> <step>` for each side effect, `done <key> <step>` each time the
/// handler saw the step completed.
pub fn read_chain_log(path: &Path) -> LogReport {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut completed: HashMap<(String, u32), bool> = HashMap::new();
    let mut executions: BTreeMap<(String, u32), u32> = BTreeMap::new();
    let mut report = LogReport::default();
    for line in text.lines() {
        let mut parts = line.split(' ');
        let (Some(kind), Some(key), Some(step)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("a torn line in the side-effect log: {line:?}");
        };
        let step: u32 = step
            .parse()
            .unwrap_or_else(|_| panic!("a torn line: {line:?}"));
        let id = (key.to_owned(), step);
        match kind {
            "exec" => {
                if completed.get(&id).copied().unwrap_or(false) {
                    report.after_journaled.push(format!(
                        "{key} step {step} ran again after it was journaled"
                    ));
                }
                *executions.entry(id).or_default() += 1;
            }
            "done" => {
                completed.insert(id, true);
            }
            other => panic!("unexpected log line {other}"),
        }
    }
    report.steps = executions.len();
    report.reruns = executions.values().map(|n| n - 1).sum();
    report
}

/// Chains whose last step (`steps - 1`) the handler has not seen completed yet, among those
/// that started.
pub fn chains_in_flight(path: &Path, steps: u32) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut started: HashMap<&str, bool> = HashMap::new();
    let last = (steps - 1).to_string();
    for line in text.lines() {
        let mut parts = line.split(' ');
        if let (Some(kind), Some(key), Some(step)) = (parts.next(), parts.next(), parts.next()) {
            let finished = kind == "done" && step == last;
            let entry = started.entry(key).or_default();
            *entry = *entry || finished;
        }
    }
    started.values().filter(|finished| !**finished).count()
}

/// Prints the line `scripts/faults.sh` collects into its summary.
pub fn report(name: &str, fields: &[(&str, String)]) {
    let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("fault-report: {name} {}", fields.join(" "));
}

/// Submits chain `i` (`scenarios.v1.Chain/Run` on key `chain-<i>`, idempotency key `run-<i>`)
/// to `ingresses[first]`, then to the next ones in turn, until one acknowledges it; fails after
/// `limit`. Returns the invocation id, its status and how many submissions failed first.
pub async fn submit_chain(
    ingresses: &[restate_rs::ingress::IngressClient],
    first: usize,
    i: u32,
    steps: u32,
    limit: Duration,
) -> (String, restate_rs::ingress::SendStatus, u32) {
    use restate_rs_examples::proto::scenarios::v1::{ChainIngressClient, ChainRequest};
    let started = Instant::now();
    let (mut node, mut failures) = (first, 0);
    loop {
        match ChainIngressClient::new(ingresses[node % ingresses.len()].clone())
            .run(format!("chain-{i}"), ChainRequest { steps })
            .idempotency_key(format!("run-{i}"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(sent) => return (sent.invocation_id, sent.status, failures),
            Err(e) => {
                failures += 1;
                assert!(
                    started.elapsed() < limit,
                    "chain {i} was never acknowledged: {e}"
                );
                node += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// How a child program ended.
pub struct ChildRun {
    /// Its exit status.
    pub status: std::process::ExitStatus,
    /// What it printed.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Runs `command` to its end with its output captured; a run past `deadline` is killed
/// (SIGKILL) and reported as `Err` with what it had printed, instead of hanging the test.
pub fn run_with_deadline(mut command: Command, deadline: Duration) -> Result<ChildRun, String> {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(deadline) {
        Ok(output) => output,
        Err(_) => {
            if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            let output = receiver.recv().expect("the killed child is reaped");
            let stdout = output
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            return Err(format!(
                "still running after {deadline:?}; killed. It had printed:\n{stdout}"
            ));
        }
    };
    let output = output.expect("the child's output is readable");
    Ok(ChildRun {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// A seed for a test of crashes: `var` when set (to replay a failure), a fresh one otherwise.
pub fn seed_from(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            nanos ^ (u64::from(std::process::id()) << 32)
        })
}

/// The `ack <what> <invocation id>` lines a crash child printed.
pub fn acks(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ack "))
        .filter_map(|l| l.split_once(' '))
        .map(|(what, id)| (what.to_owned(), id.to_owned()))
        .collect()
}
