//! The engine's Prometheus metrics, recorded with the `metrics` crate and rendered by
//! `metrics-exporter-prometheus` at `GET /metrics` on the admin port.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `restate_rs_invocations_started_total` | counter | `service`, `handler` |
//! | `restate_rs_invocations_completed_total` | counter | `service`, `handler` |
//! | `restate_rs_invocations_failed_total` | counter | `service`, `handler` (ended with a terminal error, killed included) |
//! | `restate_rs_invocations` | gauge | `status` (the engine's statuses, read from the file when scraped) |
//! | `restate_rs_invocation_duration_seconds` | histogram | `service`, `handler` (acceptance to completion) |
//! | `restate_rs_commit_group_size` | histogram | steps grouped in one transaction |
//! | `restate_rs_commit_duration_seconds` | histogram | time to commit one group |
//!
//! The recorder is installed as the process's global recorder the first time the engine
//! records something or the endpoint is scraped; when the application has installed another
//! one already, the engine's metrics go there and `GET /metrics` says so (503).

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The exporter's handle; `None` when another recorder was installed first.
pub(crate) fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0, 300.0, 3600.0,
            ];
            let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_seconds".to_owned()),
                    &seconds,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full(
                            "restate_rs_commit_group_size".to_owned(),
                        ),
                        &sizes,
                    )
                })
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// The metrics of one handler, registered once: looking a metric up by its name and labels
/// (allocating the labels) at every invocation cost a few percent of the engine's CPU.
struct HandlerMetrics {
    started: metrics::Counter,
    completed: metrics::Counter,
    failed: metrics::Counter,
    duration: metrics::Histogram,
}

/// Handler metrics by service, then handler.
type ByHandler = HashMap<String, HashMap<String, Arc<HandlerMetrics>>>;

static HANDLERS: OnceLock<RwLock<ByHandler>> = OnceLock::new();

fn of_handler(service: &str, handler: &str) -> Arc<HandlerMetrics> {
    handle();
    let handlers = HANDLERS.get_or_init(Default::default);
    let known = handlers
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(service)
        .and_then(|h| h.get(handler))
        .cloned();
    if let Some(known) = known {
        return known;
    }
    let labels = [
        ("service", service.to_owned()),
        ("handler", handler.to_owned()),
    ];
    let made = Arc::new(HandlerMetrics {
        started: metrics::counter!("restate_rs_invocations_started_total", &labels),
        completed: metrics::counter!("restate_rs_invocations_completed_total", &labels),
        failed: metrics::counter!("restate_rs_invocations_failed_total", &labels),
        duration: metrics::histogram!("restate_rs_invocation_duration_seconds", &labels),
    });
    let mut handlers = handlers
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(
        handlers
            .entry(service.to_owned())
            .or_default()
            .entry(handler.to_owned())
            .or_insert(made),
    )
}

/// An invocation was accepted.
pub(crate) fn invocation_started(service: &str, handler: &str) {
    of_handler(service, handler).started.increment(1);
}

/// An invocation completed, `failed` with a terminal error or not, `elapsed` after it was
/// accepted.
pub(crate) fn invocation_finished(service: &str, handler: &str, failed: bool, elapsed: Duration) {
    let metrics = of_handler(service, handler);
    metrics.completed.increment(1);
    if failed {
        metrics.failed.increment(1);
    }
    metrics.duration.record(elapsed.as_secs_f64());
}

/// A group of `size` steps was committed in `elapsed`.
pub(crate) fn commit(size: usize, elapsed: Duration) {
    handle();
    metrics::histogram!("restate_rs_commit_group_size").record(size as f64);
    metrics::histogram!("restate_rs_commit_duration_seconds").record(elapsed.as_secs_f64());
}

/// Invocations per status, as counted when scraped.
pub(crate) fn invocations_by_status(counts: &[(String, i64)]) {
    handle();
    for status in [
        "scheduled",
        "pending",
        "inboxed",
        "running",
        "suspended",
        "backoff",
        "paused",
        "completed",
    ] {
        let count = counts
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n);
        metrics::gauge!("restate_rs_invocations", "status" => status).set(count as f64);
    }
}
