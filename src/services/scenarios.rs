//! The `scenarios.v1` services, with a [`Probe`] through which tests observe what ran.

use crate::proto::scenarios::v1::{
    AddRequest, CounterClient, CounterValue, FanOutRequest, ProxyRequest, WorkRequest, WorkResult,
};
use restate_rs::pbjson_types::Empty;
use restate_rs::prelude::*;
use restate_rs::toolkit::RunsSteps;
use restate_rs::toolkit::state::{ReadsState, WritesState};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// What the scenario services did, for tests to assert on. Cheap to clone; clones share.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    inner: Arc<Mutex<ProbeState>>,
    gates: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
}

#[derive(Debug, Default)]
struct ProbeState {
    in_flight: HashMap<String, i64>,
    max_in_flight: HashMap<String, i64>,
    shared_saw_in_flight: HashMap<String, i64>,
    attempts: HashMap<String, u32>,
    side_effects: HashMap<String, u64>,
    entered: HashMap<String, u64>,
    awakeables: HashMap<String, String>,
}

impl Probe {
    fn gate(&self, name: &str) -> Arc<Notify> {
        Arc::clone(
            self.gates
                .lock()
                .unwrap()
                .entry(name.to_owned())
                .or_default(),
        )
    }

    /// Lets one handler waiting at gate `name` go on (now or when it gets there).
    pub fn open(&self, name: &str) {
        self.gate(name).notify_one();
    }

    /// How many Add handlers on `key` ever ran at the same time.
    pub fn max_in_flight(&self, key: &str) -> i64 {
        self.inner
            .lock()
            .unwrap()
            .max_in_flight
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// How many Add handlers were running on `key` when Get last ran there.
    pub fn shared_saw_in_flight(&self, key: &str) -> i64 {
        self.inner
            .lock()
            .unwrap()
            .shared_saw_in_flight
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// How many times Add was entered for `key` (attempts included).
    pub fn entered(&self, key: &str) -> u64 {
        self.inner
            .lock()
            .unwrap()
            .entered
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// Attempts of Flaky.Work for `id`.
    pub fn attempts(&self, id: &str) -> u32 {
        self.inner
            .lock()
            .unwrap()
            .attempts
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// The awakeable id that Waiter.AwaitAwakeable published under `tag`.
    pub fn awakeable(&self, tag: &str) -> Option<String> {
        self.inner.lock().unwrap().awakeables.get(tag).cloned()
    }

    /// Side effects (durable steps that really ran) of Flaky.Work for `id`.
    pub fn side_effects(&self, id: &str) -> u64 {
        self.inner
            .lock()
            .unwrap()
            .side_effects
            .get(id)
            .copied()
            .unwrap_or(0)
    }
}

/// `scenarios.v1.Counter`.
#[derive(Debug, Clone, Default)]
pub struct Counter {
    /// Shared with the test.
    pub probe: Probe,
}

impl crate::proto::scenarios::v1::Counter for Counter {
    async fn add(
        &self,
        ctx: ObjectContext<'_>,
        request: AddRequest,
    ) -> HandlerResult<CounterValue> {
        let key = ctx.key().to_owned();
        {
            let mut state = self.probe.inner.lock().unwrap();
            *state.entered.entry(key.clone()).or_default() += 1;
            let now = {
                let n = state.in_flight.entry(key.clone()).or_default();
                *n += 1;
                *n
            };
            let max = state.max_in_flight.entry(key.clone()).or_default();
            *max = (*max).max(now);
        }
        if !request.gate.is_empty() {
            self.probe.gate(&request.gate).notified().await;
        } else {
            // Long enough for overlapping calls to show if exclusivity were broken.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let value = ctx.get::<i64>("value").await?.unwrap_or(0) + request.delta;
        ctx.set("value", value);
        *self
            .probe
            .inner
            .lock()
            .unwrap()
            .in_flight
            .entry(key)
            .or_default() -= 1;
        Ok(CounterValue { value })
    }

    async fn get(
        &self,
        ctx: SharedObjectContext<'_>,
        _request: Empty,
    ) -> HandlerResult<CounterValue> {
        let in_flight = self
            .probe
            .inner
            .lock()
            .unwrap()
            .in_flight
            .get(ctx.key())
            .copied()
            .unwrap_or(0);
        self.probe
            .inner
            .lock()
            .unwrap()
            .shared_saw_in_flight
            .insert(ctx.key().to_owned(), in_flight);
        Ok(CounterValue {
            value: ctx.get::<i64>("value").await?.unwrap_or(0),
        })
    }
}

/// `scenarios.v1.Proxy`: calls the counter through the generated `CounterClient`.
#[derive(Debug, Clone, Default)]
pub struct Proxy;

impl crate::proto::scenarios::v1::Proxy for Proxy {
    async fn call_add(
        &self,
        ctx: Context<'_>,
        request: ProxyRequest,
    ) -> HandlerResult<CounterValue> {
        let mut call = ctx
            .object_client::<CounterClient<'_>>(request.key)
            .add(AddRequest {
                delta: request.delta,
                gate: String::new(),
            });
        if !request.idempotency_key.is_empty() {
            call = call.idempotency_key(request.idempotency_key);
        }
        Ok(call.call().await?)
    }

    async fn send_add(&self, ctx: Context<'_>, request: ProxyRequest) -> HandlerResult<Empty> {
        let call = ctx
            .object_client::<CounterClient<'_>>(request.key)
            .add(AddRequest {
                delta: request.delta,
                gate: String::new(),
            });
        if request.delay_ms > 0 {
            call.send_after(Duration::from_millis(request.delay_ms));
        } else {
            call.send();
        }
        Ok(Empty {})
    }

    async fn fan_out(
        &self,
        ctx: Context<'_>,
        request: FanOutRequest,
    ) -> HandlerResult<CounterValue> {
        // At most two calls in flight; results come back in the keys' order.
        let values = restate_rs::toolkit::fan_out::try_fan_out(request.keys, 2, |key| {
            ctx.object_client::<CounterClient<'_>>(key)
                .add(AddRequest {
                    delta: request.delta,
                    gate: String::new(),
                })
                .call()
        })
        .await?;
        let total: i64 = values.iter().map(|v| v.value).sum();
        Ok(CounterValue { value: total })
    }
}

/// `scenarios.v1.Flaky`.
#[derive(Debug, Clone, Default)]
pub struct Flaky {
    /// Shared with the test.
    pub probe: Probe,
}

impl crate::proto::scenarios::v1::Flaky for Flaky {
    async fn work(&self, ctx: Context<'_>, request: WorkRequest) -> HandlerResult<WorkResult> {
        let attempt = {
            let mut state = self.probe.inner.lock().unwrap();
            let n = state.attempts.entry(request.id.clone()).or_default();
            *n += 1;
            *n
        };
        let probe = self.probe.clone();
        let id = request.id.clone();
        if request.nondeterministic && attempt > 1 {
            // A nondeterministic handler does something else on retries than the journal
            // recorded: a sleep where a step was.
            ctx.sleep(Duration::from_millis(1)).await?;
        } else {
            ctx.run(|| async move {
                *probe
                    .inner
                    .lock()
                    .unwrap()
                    .side_effects
                    .entry(id)
                    .or_default() += 1;
                Ok(())
            })
            .name("side effect")
            .await?;
        }
        if request.nondeterministic {
            return Err(HandlerError::from(
                "fails on purpose, to be retried".to_owned(),
            ));
        }
        if request.terminal_code != 0 {
            return Err(TerminalError::new_with_code(
                request.terminal_code as u16,
                request.terminal_message,
            )
            .into());
        }
        if attempt < request.succeed_on_attempt {
            return Err(HandlerError::from(format!(
                "attempt {attempt} fails on purpose"
            )));
        }
        Ok(WorkResult {
            attempts: attempt,
            side_effects: self.probe.side_effects(&request.id),
        })
    }
}

/// `scenarios.v1.Chain`: durable steps whose side effects go to a log file.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// Where each step's side effect is recorded (`exec <key> <step>`), and each step seen
    /// completed by the handler (`done <key> <step>`). Appended and synced line by line.
    pub log: Option<std::path::PathBuf>,
}

pub(crate) fn log_line(path: &Option<std::path::PathBuf>, line: &str) {
    if let Some(path) = path {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the chain log opens");
        file.write_all(format!("{line}\n").as_bytes())
            .expect("the chain log is writable");
        file.sync_data().expect("the chain log syncs");
    }
}

/// `steps` durable steps on `$ctx`, each logged before (`exec`, inside the step) and after
/// (`done`, once its result is journaled), each counted in the state under `count`; evaluates
/// to the count. (A macro, not a function generic over the context: the handler's future must
/// be `Send` for the context's lifetime, which a generic `async fn` holding the context cannot
/// show.)
macro_rules! run_chain {
    ($ctx:expr, $log:expr, $key:expr, $steps:expr) => {{
        let (ctx, log, key) = (&$ctx, $log, $key);
        for step in 0..$steps {
            let (step_log, step_key) = (log.clone(), key.clone());
            ctx.run_step(format!("step {step}"), move || async move {
                log_line(&step_log, &format!("exec {step_key} {step}"));
                Ok(())
            })
            .await?;
            log_line(log, &format!("done {key} {step}"));
            let count = ctx.read::<u32>("count").await?.unwrap_or(0) + 1;
            ctx.write("count", count);
        }
        ctx.read::<u32>("count").await?.unwrap_or(0)
    }};
}

impl crate::proto::scenarios::v1::Chain for Chain {
    async fn run(
        &self,
        ctx: ObjectContext<'_>,
        request: crate::proto::scenarios::v1::ChainRequest,
    ) -> HandlerResult<crate::proto::scenarios::v1::ChainResult> {
        let key = ctx.key().to_owned();
        let count = run_chain!(ctx, &self.log, key, request.steps);
        Ok(crate::proto::scenarios::v1::ChainResult { count })
    }
}

/// `scenarios.v1.ChainWorkflow`: the chain as a workflow, logged like [`Chain`] (keyed by the
/// workflow id).
#[derive(Debug, Clone, Default)]
pub struct ChainWorkflow {
    /// As [`Chain::log`].
    pub log: Option<std::path::PathBuf>,
}

impl crate::proto::scenarios::v1::ChainWorkflow for ChainWorkflow {
    async fn run(
        &self,
        ctx: WorkflowContext<'_>,
        request: crate::proto::scenarios::v1::ChainRequest,
    ) -> HandlerResult<crate::proto::scenarios::v1::ChainResult> {
        let key = ctx.key().to_owned();
        let count = run_chain!(ctx, &self.log, key, request.steps);
        Ok(crate::proto::scenarios::v1::ChainResult { count })
    }
}

/// `scenarios.v1.Waiter`.
#[derive(Debug, Clone, Default)]
pub struct Waiter {
    /// Shared with the test.
    pub probe: Probe,
}

impl crate::proto::scenarios::v1::Waiter for Waiter {
    async fn await_awakeable(
        &self,
        ctx: Context<'_>,
        request: crate::proto::scenarios::v1::AwakeableRequest,
    ) -> HandlerResult<crate::proto::scenarios::v1::AwakeableResult> {
        let (id, value) = ctx.awakeable::<String>();
        self.probe
            .inner
            .lock()
            .unwrap()
            .awakeables
            .insert(request.tag, id);
        Ok(crate::proto::scenarios::v1::AwakeableResult {
            value: value.await?,
        })
    }

    async fn sleep(
        &self,
        ctx: Context<'_>,
        request: crate::proto::scenarios::v1::SleepRequest,
    ) -> HandlerResult<Empty> {
        ctx.sleep(Duration::from_millis(request.millis)).await?;
        Ok(Empty {})
    }
}

/// `scenarios.v1.MapObject`: state as a map.
#[derive(Debug, Clone, Default)]
pub struct MapObject;

impl crate::proto::scenarios::v1::MapObject for MapObject {
    async fn set(
        &self,
        ctx: ObjectContext<'_>,
        request: crate::proto::scenarios::v1::MapEntry,
    ) -> HandlerResult<Empty> {
        ctx.set(&request.key, request.value);
        Ok(Empty {})
    }

    async fn get(
        &self,
        ctx: SharedObjectContext<'_>,
        request: crate::proto::scenarios::v1::MapKey,
    ) -> HandlerResult<crate::proto::scenarios::v1::MapValue> {
        Ok(crate::proto::scenarios::v1::MapValue {
            value: ctx.get::<String>(&request.key).await?,
        })
    }

    async fn keys(
        &self,
        ctx: SharedObjectContext<'_>,
        _request: Empty,
    ) -> HandlerResult<crate::proto::scenarios::v1::MapKeys> {
        let mut keys = ctx.get_keys().await?;
        keys.sort();
        Ok(crate::proto::scenarios::v1::MapKeys { keys })
    }

    async fn clear(
        &self,
        ctx: ObjectContext<'_>,
        request: crate::proto::scenarios::v1::MapKey,
    ) -> HandlerResult<Empty> {
        ctx.clear(&request.key);
        Ok(Empty {})
    }

    async fn clear_all(&self, ctx: ObjectContext<'_>, _request: Empty) -> HandlerResult<Empty> {
        ctx.clear_all();
        Ok(Empty {})
    }
}
