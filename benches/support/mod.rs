//! What the comparison benchmarks share: statistics, an interleaved driver, the disk's fsync
//! floor, a description of the machine and the rewriting of one marked section of
//! docs/BENCHMARKS.md. Each bench uses part of it.
#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// CPU time this thread has run (`CLOCK_THREAD_CPUTIME_ID`).
pub(crate) fn thread_cpu() -> Option<Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(Duration::new(
        u64::try_from(t.tv_sec).ok()?,
        u32::try_from(t.tv_nsec).ok()?,
    ))
}

/// Latencies of the calls of one round and how long the round took.
#[derive(Debug, Default, Clone)]
pub(crate) struct Round {
    /// One latency per call.
    pub(crate) samples: Vec<Duration>,
    /// Wall time of the round.
    pub(crate) elapsed: Duration,
}

/// The rounds of one side of a comparison, pooled.
#[derive(Debug, Default, Clone)]
pub(crate) struct Side {
    /// Every call's latency, all rounds together.
    pub(crate) samples: Vec<Duration>,
    /// Total wall time of the rounds.
    pub(crate) elapsed: Duration,
    /// Units (calls, steps) done per round, for throughput.
    pub(crate) units: usize,
    /// Per-round medians and throughputs, for paired ratios.
    pub(crate) rounds: Vec<(Duration, f64)>,
    /// CPU time of this process and of another one (a server) over the rounds, in ns.
    pub(crate) cpu_ns: (u64, u64),
    /// Per-round CPU time per unit of both processes together, in ns, for paired ratios.
    pub(crate) round_cpu: Vec<f64>,
}

impl Side {
    /// Adds one round that did `units` units of work.
    pub(crate) fn add(&mut self, mut round: Round, units: usize) {
        round.samples.sort();
        let median = quantile(&round.samples, 0.5);
        self.rounds
            .push((median, units as f64 / round.elapsed.as_secs_f64()));
        self.samples.extend(round.samples);
        self.elapsed += round.elapsed;
        self.units += units;
    }

    /// Records the CPU time the last round took in this process and in another one.
    pub(crate) fn add_cpu(&mut self, own_ns: u64, other_ns: u64, units: usize) {
        self.cpu_ns.0 += own_ns;
        self.cpu_ns.1 += other_ns;
        self.round_cpu
            .push((own_ns + other_ns) as f64 / units as f64);
    }

    /// CPU µs per unit: (this process, the other one).
    pub(crate) fn cpu_us(&self) -> (f64, f64) {
        let units = self.units.max(1) as f64;
        (
            self.cpu_ns.0 as f64 / units / 1000.0,
            self.cpu_ns.1 as f64 / units / 1000.0,
        )
    }

    /// Median, p99 and throughput (units per second) over all rounds.
    pub(crate) fn figures(&self) -> Figures {
        let mut samples = self.samples.clone();
        samples.sort();
        Figures {
            median: quantile(&samples, 0.5),
            p99: quantile(&samples, 0.99),
            per_second: self.units as f64 / self.elapsed.as_secs_f64(),
            calls: samples.len(),
        }
    }
}

/// What a side of a comparison measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figures {
    /// Median latency.
    pub(crate) median: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Units of work per second.
    pub(crate) per_second: f64,
    /// How many latencies these figures are over.
    pub(crate) calls: usize,
}

/// The `q` quantile of sorted samples (nearest rank).
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// The median of some numbers.
pub(crate) fn median_f64(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// Paired per-round ratios `a / b` of the rounds' medians and throughputs: (median of the
/// latency ratios, min, max) and (median of the throughput ratios, min, max).
pub(crate) fn paired_ratios(a: &Side, b: &Side) -> ((f64, f64, f64), (f64, f64, f64)) {
    let lat: Vec<f64> = a
        .rounds
        .iter()
        .zip(&b.rounds)
        .map(|(x, y)| x.0.as_secs_f64() / y.0.as_secs_f64())
        .collect();
    let tput: Vec<f64> = a
        .rounds
        .iter()
        .zip(&b.rounds)
        .map(|(x, y)| x.1 / y.1)
        .collect();
    let spread = |v: &[f64]| {
        (
            median_f64(v),
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    (spread(&lat), spread(&tput))
}

/// Median over rounds of the ratio of CPU time per unit of `a` to that of `b`, with the
/// smallest and largest.
pub(crate) fn paired_cpu_ratio(a: &Side, b: &Side) -> (f64, f64, f64) {
    let v: Vec<f64> = a
        .round_cpu
        .iter()
        .zip(&b.round_cpu)
        .map(|(x, y)| x / y)
        .collect();
    (
        median_f64(&v),
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

/// CPU time used so far by the live threads of process `pid` ("self" for this one), in ns,
/// from `/proc/<pid>/task/*/schedstat` (0 where that is not available).
pub(crate) fn cpu_ns(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Milliseconds with two decimals.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `total` calls of `call(i)`, `concurrency` at a time (each task makes its share in
/// sequence); the latency of every call and the wall time of the whole.
pub(crate) async fn drive<F, Fut>(concurrency: usize, total: usize, call: F) -> Round
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(total / concurrency + 1);
                let mut i = task;
                while i < total {
                    let begun = Instant::now();
                    call(i).await;
                    samples.push(begun.elapsed());
                    i += concurrency;
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(total);
    for task in tasks {
        samples.extend(task.await.expect("a benchmark task panicked"));
    }
    Round {
        samples,
        elapsed: started.elapsed(),
    }
}

/// Median time of a 4 KiB write followed by fdatasync, in `dir` (the approach of
/// `benches/engine.rs`).
pub(crate) fn fsync_floor(dir: &Path) -> Duration {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .expect("the fsync probe file opens");
    let block = vec![7u8; 4096];
    let mut samples = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        file.write_all(&block).unwrap();
        file.sync_data().unwrap();
        samples.push(started.elapsed());
    }
    let _ = std::fs::remove_file(path);
    samples.sort();
    quantile(&samples, 0.5)
}

/// "2 cores, <CPU model>" for the docs.
pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores, {model}")
}

/// Replaces the section between `<!-- {name}:begin -->` and `<!-- {name}:end -->` in
/// docs/BENCHMARKS.md with `body` (appending it when the markers are not there yet), leaving
/// every other section as it is.
pub(crate) fn write_section(name: &str, body: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/BENCHMARKS.md");
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let section = format!("{begin}\n{}\n{end}\n", body.trim_end());
    let current = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# Benchmarks\n\nFigures from real runs; each section says the command that reproduces it.\n\n"
            .to_owned()
    });
    let updated = match (current.find(&begin), current.find(&end)) {
        (Some(start), Some(stop)) if stop > start => {
            let mut after = stop + end.len();
            if current[after..].starts_with('\n') {
                after += 1;
            }
            format!("{}{}{}", &current[..start], section, &current[after..])
        }
        _ => {
            let sep = if current.ends_with("\n\n") {
                ""
            } else if current.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{current}{sep}{section}")
        }
    };
    std::fs::write(&path, updated).expect("docs/BENCHMARKS.md is writable");
    println!("wrote the `{name}` section of {}", path.display());
}
