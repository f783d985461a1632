//! The embedded engine: durable execution in-process, on one SQLite file, no server.
//!
//! It is a server-side implementation of the Restate service protocol (V6), driving the same
//! restate-sdk endpoint that a Restate server would call, in-process. What runs on it runs
//! on restate-server unchanged.
//!
//! ```no_run
//! # use restate_rs::prelude::*;
//! # async fn demo(endpoint: Endpoint) -> Result<(), restate_rs::engine::EngineError> {
//! use restate_rs::engine::{Engine, Target};
//! let engine = Engine::builder(endpoint).open("restate-rs.db").await?;
//! let output = engine
//!     .call(Target::service("hydra.v1.Greeter", "Greet"), br#"{"name": "Ada"}"#.to_vec())
//!     .await?;
//! engine.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! What it keeps, in one transaction per group of steps: invocations and their status, each
//! invocation's journal, per-key state, workflow promises, timers, idempotency keys, and who
//! waits for whom. After a crash (even `kill -9`), [`EngineBuilder::open`] on the same file
//! resumes every unfinished invocation by replaying its journal: a `ctx.run` whose result was
//! journaled does not run again.
//!
//! Semantics follow restate-server: virtual objects run exclusive handlers one at a time per
//! key in arrival order (a suspended handler keeps its key), shared handlers run alongside; a
//! workflow id runs its run handler once; calls, one-way and delayed sends, sleeps, durable
//! promises, awakeables and signals, cancellation, retries with exponential backoff for
//! retryable errors, terminal errors, idempotency keys, attach and output.

mod clock;
mod deployment;
mod http;
mod ids;
#[doc(hidden)]
pub mod probe;
pub(crate) mod protocol;
#[cfg(test)]
mod recovery_tests;
mod retention;
mod status;
mod store;
mod transport;

pub use self::http::admin::{InvocationDetails, InvocationSummary, JournalEntry, ServiceInfo};
pub use self::http::ingress::{AdminServer, IngressServeError, IngressServer, MAX_REQUEST_BODY};
pub use clock::{Clock, ManualClock, SystemClock};

use self::http::{ingress, metrics};
use bytes::Bytes;
use deployment::Deployment;
use http_body_util::BodyExt;
use protocol::{Frame, FrameDecoder, pb};
use restate_sdk::endpoint::Endpoint;
use rusqlite::Transaction;
use status::{InvocationStatus, Recovery};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::invocations::{self, Invocation, NewInvocation};
use store::waiters::{self, Awaited};
use store::{CommitHook, Store, StoreError, idempotency, journal, outbox, promises, state, timers};
use tokio::sync::{Notify, mpsc, oneshot};

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The database could not be opened, is foreign, or failed.
    #[error(transparent)]
    Store(#[from] StoreErrorPublic),
    /// The endpoint did not describe its services.
    #[error("cannot discover the endpoint's services: {0}")]
    Discovery(String),
    /// No such service or handler is bound.
    #[error("no handler {target}: {reason}")]
    NotFound {
        /// What was asked for.
        target: String,
        /// Why it does not exist.
        reason: String,
    },
    /// No invocation has this id.
    #[error("no invocation {0}")]
    UnknownInvocation(String),
    /// The invocation ended with a terminal error.
    #[error("terminal error {code}: {message}")]
    Terminal {
        /// The error code.
        code: u16,
        /// The message.
        message: String,
    },
    /// An awakeable id that the engine did not issue.
    #[error("invalid awakeable id `{id}`: {reason}")]
    InvalidAwakeable {
        /// The id given.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The engine is shutting down.
    #[error("the engine is shut down")]
    ShutDown,
    /// The engine was configured with a value it cannot use.
    #[error("invalid engine configuration: {0}")]
    Config(String),
    /// The endpoint sent something the engine cannot read.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The invocation is not in a state that allows the operation.
    #[error("invocation {id}: {reason}")]
    Conflict {
        /// The invocation.
        id: String,
        /// Why the operation is refused.
        reason: String,
    },
}

/// A storage failure, as users see it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreErrorPublic(String);

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        EngineError::Store(StoreErrorPublic(e.to_string()))
    }
}

/// What to invoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    service: String,
    key: String,
    handler: String,
}

impl Target {
    /// A handler of a stateless service.
    pub fn service(service: impl Into<String>, handler: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            key: String::new(),
            handler: handler.into(),
        }
    }

    /// A handler of a virtual object or workflow, for `key`.
    pub fn keyed(
        service: impl Into<String>,
        key: impl Into<String>,
        handler: impl Into<String>,
    ) -> Self {
        Self {
            service: service.into(),
            key: key.into(),
            handler: handler.into(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}/{}", self.service, self.handler)
        } else {
            write!(f, "{}/{}/{}", self.service, self.key, self.handler)
        }
    }
}

/// Options of one invocation.
#[derive(Debug, Clone, Default)]
pub struct InvokeOptions {
    /// Run it once per key (within the engine's lifetime of the record).
    pub idempotency_key: Option<String>,
    /// Start it after this delay.
    pub delay: Option<Duration>,
    /// Headers the handler sees.
    pub headers: Vec<(String, String)>,
}

/// An accepted invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// Its id (`inv_...`).
    pub invocation_id: String,
    /// False when an earlier request with the same idempotency key (or the same workflow
    /// id) was accepted, and this is its invocation.
    pub is_new: bool,
}

/// How an invocation ended.
pub type Outcome = Result<Bytes, (u16, String)>;

/// Whether a crash aimed at `target` applies to `invocation` (an empty key: any key).
fn targets(target: &Target, invocation: &Invocation) -> bool {
    target.service == invocation.service
        && target.handler == invocation.handler
        && (target.key.is_empty() || target.key == invocation.key)
}

/// Retry policy for retryable errors, for the handlers whose deployment declares none (a
/// handler's declared `retryPolicy*` fields override it field by field).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First delay.
    pub initial: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// Largest delay.
    pub max: Duration,
    /// Attempts before [`RetryPolicy::on_max_attempts`] applies (`None`: retry for ever).
    pub max_attempts: Option<u32>,
    /// What happens to an invocation once its attempts are used up.
    pub on_max_attempts: OnMaxAttempts,
}

/// What happens to an invocation once its attempts are used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMaxAttempts {
    /// Keep it, stop retrying; [`Engine::resume`] (or the admin API) starts it again.
    Pause,
    /// End it with a terminal error.
    Kill,
}

/// restate-server 1.7's `default-retry-policy`: 500 ms doubling up to 1 min, 70 attempts,
/// then pause. (`restate-server --dump-config` shows it.)
impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            factor: 2.0,
            max: Duration::from_secs(60),
            max_attempts: Some(70),
            on_max_attempts: OnMaxAttempts::Pause,
        }
    }
}

impl RetryPolicy {
    fn delay(&self, attempt: u32) -> Duration {
        let exp = self.factor.powi(attempt.saturating_sub(1).min(60) as i32);
        let ms = (self.initial.as_millis() as f64 * exp).min(self.max.as_millis() as f64);
        Duration::from_millis(ms as u64)
    }
}

/// How long something is kept: a [`Duration`], or text such as `"1d"`, `"12h"`, `"30m"`,
/// `"1h 30m"` or `"500ms"` (read by [`humantime::parse_duration`]). Text that does not read as
/// a duration makes [`EngineBuilder::open`] fail with the reason.
#[derive(Debug, Clone)]
pub struct Retention(Result<Duration, String>);

impl From<Duration> for Retention {
    fn from(duration: Duration) -> Self {
        Retention(Ok(duration))
    }
}

impl From<&str> for Retention {
    fn from(text: &str) -> Self {
        Retention(humantime::parse_duration(text).map_err(|e| format!("`{text}`: {e}")))
    }
}

impl From<String> for Retention {
    fn from(text: String) -> Self {
        Retention::from(text.as_str())
    }
}

/// restate-server 1.7's `default-journal-retention`, `default-idempotency-retention` and
/// `default-workflow-completion-retention`: one day each.
const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// The engine-wide retentions, for handlers that declare none.
#[derive(Debug, Clone, Copy)]
struct Retentions {
    journal: Duration,
    idempotency: Duration,
    workflow: Duration,
}

/// Configures and opens an [`Engine`].
pub struct EngineBuilder {
    deployment: Result<Deployment, String>,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    inactivity_timeout: Duration,
    abort_timeout: Duration,
    durable: bool,
    journal_retention: Retention,
    idempotency_retention: Retention,
    workflow_retention: Retention,
    cleanup_interval: Duration,
    commit_hook: Option<CommitHook>,
}

impl EngineBuilder {
    /// The defaults, for `deployment`.
    fn with_deployment(deployment: Result<Deployment, String>) -> Self {
        EngineBuilder {
            deployment,
            clock: Arc::new(SystemClock),
            retry: RetryPolicy::default(),
            inactivity_timeout: Duration::from_secs(60),
            abort_timeout: Duration::from_secs(600),
            durable: true,
            journal_retention: DEFAULT_RETENTION.into(),
            idempotency_retention: DEFAULT_RETENTION.into(),
            workflow_retention: DEFAULT_RETENTION.into(),
            cleanup_interval: Duration::from_secs(1),
            commit_hook: None,
        }
    }

    /// How long a completed invocation keeps its journal (and, without an idempotency key,
    /// its record: `attach` and `output` by id work until then). Default one day, as
    /// restate-server's `default-journal-retention`; a handler's declared `journalRetention`
    /// (`journal_retention` in the proto options) overrides it.
    pub fn journal_retention(mut self, retention: impl Into<Retention>) -> Self {
        self.journal_retention = retention.into();
        self
    }

    /// How long a completed invocation that was given an idempotency key is remembered: a
    /// request with the same key answers with it (`PreviouslyAccepted`), and attach and output
    /// by key work, until then. Default one day, as restate-server's
    /// `default-idempotency-retention`; a handler's declared `idempotencyRetention` overrides it.
    pub fn idempotency_retention(mut self, retention: impl Into<Retention>) -> Self {
        self.idempotency_retention = retention.into();
        self
    }

    /// How long a completed workflow keeps its result, state and promises; once purged, its
    /// id can run again. Default one day, as restate-server's
    /// `default-workflow-completion-retention`; the run handler's declared
    /// `workflowCompletionRetention` overrides it.
    pub fn workflow_retention(mut self, retention: impl Into<Retention>) -> Self {
        self.workflow_retention = retention.into();
        self
    }

    /// How often the engine looks for expired records to purge (default 1 s, so a record goes
    /// about a second after its expiry; restate-server's `cleanup-interval` is an hour). A look
    /// that finds nothing writes nothing; purging runs in batches of a few hundred records, each
    /// a short transaction among the others, so that it costs calls a steady few percent rather
    /// than a pause now and then.
    pub fn cleanup_interval(mut self, interval: Duration) -> Self {
        self.cleanup_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Calls `hook` on the storage thread right after each commit, with the number of commits
    /// so far (from 1), before anyone waiting for that commit is told. For crash tests, which
    /// end the process there to stop the engine at every commit boundary in turn.
    #[doc(hidden)]
    pub fn on_commit(mut self, hook: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.commit_hook = Some(Arc::new(hook));
        self
    }

    fn retentions(&self) -> Result<Retentions, EngineError> {
        let read = |what: &str, r: &Retention| {
            r.0.clone()
                .map_err(|e| EngineError::Config(format!("{what} retention {e}")))
        };
        Ok(Retentions {
            journal: read("journal", &self.journal_retention)?,
            idempotency: read("idempotency", &self.idempotency_retention)?,
            workflow: read("workflow", &self.workflow_retention)?,
        })
    }

    /// The clock timers and delays follow (default: the system clock). Tests use a
    /// [`ManualClock`] to skip time.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The retry policy for retryable errors. Default: restate-server's (500 ms doubling up to
    /// 1 min, 70 attempts, then pause), so that a handler fails the same way on both engines;
    /// tests may want a shorter first delay.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How long an invocation may wait with nothing happening before it is suspended (its
    /// resources released; it resumes by replay when what it waits for arrives). Default 60 s.
    pub fn inactivity_timeout(mut self, timeout: Duration) -> Self {
        self.inactivity_timeout = timeout;
        self
    }

    /// How long an attempt asked to suspend (after the inactivity timeout) may go on before
    /// the engine aborts it and retries: what bounds a step that never returns. Default 10 min,
    /// as restate-server's `abort-timeout`; a handler's declared `abortTimeout` overrides it.
    pub fn abort_timeout(mut self, timeout: Duration) -> Self {
        self.abort_timeout = timeout;
        self
    }

    /// Opens (creating if needed) the engine database at `path` and starts the engine,
    /// resuming whatever was unfinished.
    pub async fn open(self, path: impl AsRef<Path>) -> Result<Engine, EngineError> {
        self.retentions()?;
        let store = Store::open(Some(path.as_ref()), self.durable, self.commit_hook.clone())?;
        Engine::start(self, store).await
    }

    /// An engine whose state lives in memory only, for tests.
    pub async fn in_memory(mut self) -> Result<Engine, EngineError> {
        self.retentions()?;
        self.durable = false;
        let store = Store::open(None, false, self.commit_hook.clone())?;
        Engine::start(self, store).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServiceKind {
    Service,
    Object,
    Workflow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HandlerKind {
    Stateless,
    Exclusive,
    Shared,
    WorkflowRun,
}

impl HandlerKind {
    fn holds_key(self) -> bool {
        matches!(self, HandlerKind::Exclusive | HandlerKind::WorkflowRun)
    }
}

#[derive(Debug)]
struct ServiceMeta {
    kind: ServiceKind,
    handlers: HashMap<String, HandlerKind>,
    /// What the manifest declares per handler (the service's values, overridden by the
    /// handler's).
    configs: HashMap<String, HandlerConfig>,
    /// What each handler accepts as input, checked by the ingress.
    inputs: HashMap<String, ingress::InputRule>,
}

/// The configuration a deployment declares for a handler, as the engine honours it.
#[derive(Debug, Clone, Default)]
struct HandlerConfig {
    retry_initial: Option<Duration>,
    retry_max: Option<Duration>,
    retry_factor: Option<f64>,
    retry_max_attempts: Option<u32>,
    /// On reaching the maximum attempts: pause (keep, stop retrying) or kill; `None`: as the
    /// engine's policy says.
    on_max_attempts: Option<OnMaxAttempts>,
    inactivity_timeout: Option<Duration>,
    abort_timeout: Option<Duration>,
    ingress_private: bool,
    /// `enableLazyState`: the invocation starts without its key's state, which the endpoint
    /// fetches entry by entry when the handler reads it.
    lazy_state: bool,
    journal_retention: Option<Duration>,
    idempotency_retention: Option<Duration>,
    workflow_retention: Option<Duration>,
}

impl HandlerConfig {
    /// Reads the manifest fields of `object` over `base`.
    fn from_manifest(object: &serde_json::Value, base: &HandlerConfig) -> HandlerConfig {
        let ms = |name: &str| object[name].as_u64().map(Duration::from_millis);
        HandlerConfig {
            retry_initial: ms("retryPolicyInitialInterval").or(base.retry_initial),
            retry_max: ms("retryPolicyMaxInterval").or(base.retry_max),
            retry_factor: object["retryPolicyExponentiationFactor"]
                .as_f64()
                .or(base.retry_factor),
            retry_max_attempts: object["retryPolicyMaxAttempts"]
                .as_u64()
                .map(|n| n.min(u64::from(u32::MAX)) as u32)
                .or(base.retry_max_attempts),
            on_max_attempts: match object["retryPolicyOnMaxAttempts"].as_str() {
                Some(value) if value.eq_ignore_ascii_case("pause") => Some(OnMaxAttempts::Pause),
                Some(_) => Some(OnMaxAttempts::Kill),
                None => base.on_max_attempts,
            },
            inactivity_timeout: ms("inactivityTimeout").or(base.inactivity_timeout),
            abort_timeout: ms("abortTimeout").or(base.abort_timeout),
            ingress_private: object["ingressPrivate"]
                .as_bool()
                .unwrap_or(base.ingress_private),
            lazy_state: object["enableLazyState"]
                .as_bool()
                .unwrap_or(base.lazy_state),
            journal_retention: ms("journalRetention").or(base.journal_retention),
            idempotency_retention: ms("idempotencyRetention").or(base.idempotency_retention),
            workflow_retention: ms("workflowCompletionRetention").or(base.workflow_retention),
        }
    }

    /// The engine's policy with what the deployment declared on top.
    fn retry_policy(&self, engine: &RetryPolicy) -> RetryPolicy {
        RetryPolicy {
            initial: self.retry_initial.unwrap_or(engine.initial),
            factor: self.retry_factor.unwrap_or(engine.factor),
            max: self.retry_max.unwrap_or(engine.max),
            max_attempts: self.retry_max_attempts.or(engine.max_attempts),
            on_max_attempts: self.on_max_attempts.unwrap_or(engine.on_max_attempts),
        }
    }
}

/// The engine. Cheap to clone; every clone drives the same engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store)
            .finish()
    }
}

struct Inner {
    store: Store,
    deployment: Deployment,
    /// The protocol's content type, negotiated at discovery.
    content_type: String,
    services: HashMap<String, ServiceMeta>,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    inactivity_timeout: Duration,
    abort_timeout: Duration,
    retention: Retentions,
    cleanup_interval: Duration,
    sched: Mutex<Sched>,
    /// Crashes the test harness asked for, each fired once.
    crashes: Mutex<Vec<(Target, CrashPoint)>>,
    timer_wake: Arc<Notify>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

#[derive(Default)]
struct Sched {
    /// Invocations with an attempt in flight: the sender of its request body.
    running: HashMap<String, mpsc::UnboundedSender<Bytes>>,
    /// Per-invocation locks that keep journal appends and their delivery in one order.
    journal_locks: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// Per-key locks that make "queue behind the holder" and "release the key to the next in
    /// line" one step each: without them an invocation could be queued just after the holder
    /// looked for a successor, and wait forever.
    key_locks: HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>,
    /// In-process waiters for completion.
    watchers: HashMap<String, Vec<oneshot::Sender<Outcome>>>,
    /// Keys held by an exclusive invocation: (service, key) -> invocation id.
    held: HashMap<(String, String), String>,
    /// Invocations whose attempt is being started (avoid starting twice).
    starting: HashSet<String>,
}

fn now_ms(clock: &dyn Clock) -> i64 {
    clock.now_millis() as i64
}

/// The notification that completes the awakeable `awakeable_id`, for the invocation that
/// created it.
fn awakeable_delivery(
    tx: &Transaction<'_>,
    awakeable_id: &str,
    outcome: &Outcome,
) -> rusqlite::Result<Result<Delivery, EngineError>> {
    let invalid = |reason: String| EngineError::InvalidAwakeable {
        id: awakeable_id.to_owned(),
        reason,
    };
    let (raw, index) = match protocol::parse_awakeable_id(awakeable_id) {
        Ok(parsed) => parsed,
        Err(e) => return Ok(Err(invalid(e.to_string()))),
    };
    let target = invocations::id_by_raw(tx, &raw)?;
    let Some(target) = target else {
        return Ok(Err(invalid(
            "no invocation of this engine issued it".to_owned(),
        )));
    };
    let (value, failure) = value_result(outcome);
    Ok(Ok(Delivery::direct(
        target,
        Frame::new(
            protocol::SIGNAL_NOTIFICATION,
            &pb::SignalNotificationMessage {
                signal_id: Some(pb::signal_notification_message::SignalId::Idx(index)),
                result: Some(match (value, failure) {
                    (Some(v), _) => pb::signal_notification_message::Result::Value(v),
                    (_, Some(f)) => pb::signal_notification_message::Result::Failure(f),
                    _ => pb::signal_notification_message::Result::Void(pb::Void {}),
                }),
            },
        ),
    )))
}

/// A notification to append to an invocation's journal and deliver.
/// What an attempt starts from: the invocation, its journal (type, payload), its key's state
/// (unless lazy) and whether the state is lazy.
type Loaded = (
    Invocation,
    Vec<(u16, Vec<u8>)>,
    Vec<pb::start_message::StateEntry>,
    bool,
);

struct Delivery {
    /// Its row in the outbox, when it was produced by a transaction of its own: delivering
    /// removes the row in the transaction that journals the notification, so that it is
    /// journaled exactly once, crash or not.
    outbox: Option<i64>,
    invocation_id: String,
    frame: Frame,
}

impl Delivery {
    /// A notification delivered in a transaction of its own (nothing to remove).
    fn direct(invocation_id: String, frame: Frame) -> Self {
        Delivery {
            outbox: None,
            invocation_id,
            frame,
        }
    }
}

/// Writes a notification for another invocation into the outbox, in the transaction that
/// produced it; [`Engine::deliver`] journals it at its target once that has committed, and
/// recovery delivers what a crash left in the outbox.
fn enqueue(
    tx: &Transaction<'_>,
    invocation_id: String,
    frame: Frame,
) -> rusqlite::Result<Delivery> {
    let row = outbox::push(tx, &invocation_id, frame.ty, &frame.payload)?;
    Ok(Delivery {
        outbox: Some(row),
        invocation_id,
        frame,
    })
}

fn value_result(outcome: &Outcome) -> (Option<pb::Value>, Option<pb::Failure>) {
    match outcome {
        Ok(bytes) => (
            Some(pb::Value {
                content: bytes.to_vec(),
            }),
            None,
        ),
        Err((code, message)) => (
            None,
            Some(pb::Failure {
                code: *code as u32,
                message: message.clone(),
                metadata: vec![],
            }),
        ),
    }
}

impl Engine {
    /// Starts configuring an engine that serves the services bound into `endpoint`.
    pub fn builder(endpoint: Endpoint) -> EngineBuilder {
        EngineBuilder::with_deployment(Ok(Deployment::InProcess(endpoint)))
    }

    /// Starts configuring an engine whose handlers run in a deployment reached over HTTP/2
    /// at `url` (for example a restate-sdk `HttpServer`, or an endpoint of another SDK), as
    /// restate-server reaches its deployments.
    pub fn builder_remote(url: &str) -> EngineBuilder {
        EngineBuilder::with_deployment(Deployment::remote(url).map_err(|e| e.to_string()))
    }

    async fn start(builder: EngineBuilder, store: Store) -> Result<Engine, EngineError> {
        let retention = builder.retentions()?;
        let deployment = builder.deployment.map_err(EngineError::Discovery)?;
        let (services, content_type) = discover(&deployment).await?;
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let inner = Arc::new(Inner {
            store,
            deployment,
            content_type,
            services,
            clock: builder.clock,
            retry: builder.retry,
            inactivity_timeout: builder.inactivity_timeout,
            abort_timeout: builder.abort_timeout,
            retention,
            cleanup_interval: builder.cleanup_interval,
            sched: Mutex::new(Sched::default()),
            crashes: Mutex::new(Vec::new()),
            timer_wake: Arc::new(Notify::new()),
            shutdown,
        });
        inner.clock.set_waker(Arc::clone(&inner.timer_wake));
        let engine = Engine { inner };
        engine.recover().await?;
        let timers = engine.clone();
        tokio::spawn(async move { timers.timer_loop().await });
        let cleaner = engine.clone();
        tokio::spawn(async move { cleaner.cleanup_loop().await });
        Ok(engine)
    }

    /// Resumes what a previous run left unfinished, by the recovery rule of each status (see
    /// [`InvocationStatus::recovery`]), then delivers what was left in the outbox.
    async fn recover(&self) -> Result<(), EngineError> {
        let rows = self
            .inner
            .store
            .run(|tx| invocations::unfinished(tx))
            .await?;
        let mut to_start = Vec::new();
        let mut to_queue = Vec::new();
        {
            let mut sched = self.inner.sched.lock().unwrap();
            // First the keys already held, then the others in arrival order.
            for row in &rows {
                if row.kind.holds_key() && row.status.holds_key() {
                    let slot = (row.service.clone(), row.key.clone());
                    sched.held.insert(slot, row.id.clone());
                }
            }
            for row in &rows {
                let id = &row.id;
                match row.status.recovery() {
                    Recovery::Restart => to_start.push(id.clone()),
                    Recovery::Admit | Recovery::Queue => {
                        if !row.kind.holds_key() {
                            to_start.push(id.clone());
                            continue;
                        }
                        match sched.held.entry((row.service.clone(), row.key.clone())) {
                            std::collections::hash_map::Entry::Vacant(free) => {
                                free.insert(id.clone());
                                to_start.push(id.clone());
                            }
                            std::collections::hash_map::Entry::Occupied(_) => {
                                if row.status != InvocationStatus::Inboxed {
                                    to_queue.push(id.clone());
                                }
                            }
                        }
                    }
                    Recovery::AwaitDelivery
                    | Recovery::Timer
                    | Recovery::Hold
                    | Recovery::Nothing => {}
                }
            }
        }
        let (starting, queued) = (to_start.clone(), to_queue);
        let outbox: Vec<Delivery> = self
            .inner
            .store
            .run(move |tx| {
                for id in &starting {
                    invocations::set_status(tx, id, InvocationStatus::Running)?;
                }
                for id in &queued {
                    invocations::set_status(tx, id, InvocationStatus::Inboxed)?;
                }
                Ok(outbox::all(tx)?
                    .into_iter()
                    .map(|m| Delivery {
                        outbox: Some(m.id),
                        invocation_id: m.invocation_id,
                        frame: raw_frame(m.ty, Bytes::from(m.payload)),
                    })
                    .collect())
            })
            .await?;
        for id in to_start {
            self.spawn_attempt(id);
        }
        self.deliver(outbox).await
    }

    fn handler_kind(&self, target: &Target) -> Result<HandlerKind, EngineError> {
        let not_found = |reason: String| EngineError::NotFound {
            target: target.to_string(),
            reason,
        };
        let meta = self.inner.services.get(&target.service).ok_or_else(|| {
            not_found(format!(
                "the service `{}` is not bound to this engine",
                target.service
            ))
        })?;
        let kind = *meta.handlers.get(&target.handler).ok_or_else(|| {
            not_found(format!(
                "the service `{}` has no handler `{}`",
                target.service, target.handler
            ))
        })?;
        match (meta.kind, target.key.is_empty()) {
            (ServiceKind::Service, false) => {
                Err(not_found("a stateless service takes no key".to_owned()))
            }
            (ServiceKind::Object | ServiceKind::Workflow, true) => Err(not_found(
                "virtual objects and workflows need a key".to_owned(),
            )),
            _ => Ok(kind),
        }
    }

    /// Accepts an invocation; it runs in the background. It is on file when this returns.
    pub async fn invoke(
        &self,
        target: Target,
        input: impl Into<Bytes>,
        options: InvokeOptions,
    ) -> Result<Submitted, EngineError> {
        let (submitted, _) = self.submit(target, input.into(), options, true).await?;
        Ok(submitted)
    }

    /// Accepts an invocation and waits for its outcome, with the invocation's id. The
    /// invocation is not committed on its own: nobody is told about it before its outcome,
    /// which is committed before it is handed out (see `store`), so a crash before then loses
    /// nothing that was acknowledged.
    pub(crate) async fn call_outcome(
        &self,
        target: Target,
        input: Bytes,
        options: InvokeOptions,
    ) -> Result<(String, Result<Outcome, EngineError>), EngineError> {
        let (submitted, watcher) = self.submit(target, input, options, false).await?;
        let outcome = match watcher {
            Some(watcher) => watcher.await.map_err(|_| EngineError::ShutDown),
            None => self.attach_outcome(&submitted.invocation_id).await,
        };
        Ok((submitted.invocation_id, outcome))
    }

    /// Accepts an invocation: committed before this returns when `durable`; otherwise staged,
    /// with a watcher of its outcome when it is new.
    async fn submit(
        &self,
        target: Target,
        input: Bytes,
        options: InvokeOptions,
        durable: bool,
    ) -> Result<(Submitted, Option<oneshot::Receiver<Outcome>>), EngineError> {
        let kind = self.handler_kind(&target)?;
        let now = now_ms(&*self.inner.clock);
        let run_at = now.saturating_add(
            options
                .delay
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        );
        let raw = ids::new_invocation_raw();
        let id = ids::invocation_id(&raw);
        let watcher = (!durable).then(|| {
            let (sender, receiver) = oneshot::channel();
            self.inner
                .sched
                .lock()
                .unwrap()
                .watchers
                .insert(id.clone(), vec![sender]);
            receiver
        });
        let watched = id.clone();
        let seed: u64 = u64::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8]
                .try_into()
                .unwrap_or_default(),
        );
        let input_frame = Frame::new(
            protocol::INPUT_COMMAND,
            &pb::InputCommandMessage {
                headers: options
                    .headers
                    .iter()
                    .map(|(k, v)| pb::Header {
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect(),
                value: Some(pb::Value {
                    content: input.to_vec(),
                }),
                name: String::new(),
            },
        );
        let delayed = options.delay.is_some_and(|d| !d.is_zero());
        // A new invocation of a plain service starts at once, from what is known here: no
        // key to wait for, no state to read, a journal of its input alone.
        let direct = !delayed && target.key.is_empty() && !kind.holds_key();
        let start_entry = (input_frame.ty, input_frame.payload.to_vec());
        let t = target.clone();
        let idem = options.idempotency_key.clone();
        let accepted = self
            .inner
            .store
            .submit(
                move |tx| {
                    let idem_key = idem.as_deref().map(|idempotency_key| idempotency::Key {
                        service: &t.service,
                        key: &t.key,
                        handler: &t.handler,
                        idempotency_key,
                    });
                    if let Some(idem_key) = idem_key
                        && let Some(existing) = idempotency::find(tx, idem_key)?
                    {
                        return Ok((
                            Submitted {
                                invocation_id: existing,
                                is_new: false,
                            },
                            false,
                        ));
                    }
                    if kind == HandlerKind::WorkflowRun
                        && let Some(existing) = invocations::workflow_run(tx, &t.service, &t.key)?
                    {
                        return Ok((
                            Submitted {
                                invocation_id: existing,
                                is_new: false,
                            },
                            false,
                        ));
                    }
                    let status = if delayed {
                        InvocationStatus::Scheduled
                    } else if direct {
                        InvocationStatus::Running
                    } else {
                        InvocationStatus::Pending
                    };
                    invocations::insert(
                        tx,
                        &NewInvocation {
                            id: &id,
                            raw_id: &raw,
                            service: &t.service,
                            handler: &t.handler,
                            key: &t.key,
                            kind,
                            status,
                            run_at,
                            idempotency_key: idem.as_deref(),
                            random_seed: seed,
                            created_at: now,
                        },
                    )?;
                    journal::append(tx, &id, input_frame.ty, &input_frame.payload)?;
                    if let Some(idem_key) = idem_key {
                        idempotency::insert(tx, idem_key, &id)?;
                    }
                    Ok((
                        Submitted {
                            invocation_id: id,
                            is_new: true,
                        },
                        !delayed,
                    ))
                },
                durable,
            )
            .await;
        let watcher = match &accepted {
            Ok((submitted, _)) if submitted.is_new => watcher,
            _ => {
                self.inner.sched.lock().unwrap().watchers.remove(&watched);
                None
            }
        };
        let (submitted, start_now) = accepted?;
        if submitted.is_new {
            metrics::invocation_started(&target.service, &target.handler);
        }
        if direct && submitted.is_new {
            let invocation = Invocation {
                id: submitted.invocation_id.clone(),
                raw_id: raw.to_vec(),
                service: target.service.clone(),
                handler: target.handler.clone(),
                key: String::new(),
                kind,
                status: InvocationStatus::Running,
                random_seed: seed,
                attempts: 0,
                idempotency_key: options.idempotency_key.clone(),
            };
            let lazy = self.config_of(&invocation).lazy_state;
            let loaded = (invocation, vec![start_entry], Vec::new(), lazy);
            self.spawn_attempt_with(submitted.invocation_id.clone(), Some(loaded));
        } else if delayed {
            self.inner.timer_wake.notify_one();
        } else if start_now {
            self.admit(&submitted.invocation_id, &target.service, &target.key, kind)
                .await?;
        }
        Ok((submitted, watcher))
    }

    /// Starts a pending invocation, or queues it behind the holder of its key.
    async fn admit(
        &self,
        id: &str,
        service: &str,
        key: &str,
        kind: HandlerKind,
    ) -> Result<(), EngineError> {
        let key_lock = kind.holds_key().then(|| self.key_lock(service, key));
        let _held = match &key_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let start = if kind.holds_key() {
            let mut sched = self.inner.sched.lock().unwrap();
            let slot = (service.to_owned(), key.to_owned());
            match sched.held.entry(slot) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(free) => {
                    free.insert(id.to_owned());
                    true
                }
            }
        } else {
            true
        };
        let status = if start {
            InvocationStatus::Running
        } else {
            InvocationStatus::Inboxed
        };
        let owned = id.to_owned();
        self.inner
            .store
            .stage(move |tx| invocations::set_status(tx, &owned, status))
            .await?;
        if start {
            self.spawn_attempt(id.to_owned());
        }
        Ok(())
    }

    /// Accepts an invocation and waits for its outcome.
    pub async fn call(
        &self,
        target: Target,
        input: impl Into<Bytes>,
    ) -> Result<Bytes, EngineError> {
        let (_, outcome) = self
            .call_outcome(target, input.into(), InvokeOptions::default())
            .await?;
        outcome_to_result(outcome?)
    }

    /// Waits for the invocation to end and returns its output.
    pub async fn attach(&self, invocation_id: &str) -> Result<Bytes, EngineError> {
        let (sender, mut receiver) = oneshot::channel();
        self.inner
            .sched
            .lock()
            .unwrap()
            .watchers
            .entry(invocation_id.to_owned())
            .or_default()
            .push(sender);
        match self.output(invocation_id).await {
            Ok(Some(outcome)) => outcome_to_result(outcome),
            Ok(None) => match receiver.await {
                Ok(outcome) => outcome_to_result(outcome),
                Err(_) => Err(EngineError::ShutDown),
            },
            // Completed and purged at once (a retention of zero): the outcome was handed to
            // the watchers before the purge.
            Err(EngineError::UnknownInvocation(id)) => match receiver.try_recv() {
                Ok(outcome) => outcome_to_result(outcome),
                Err(_) => Err(EngineError::UnknownInvocation(id)),
            },
            Err(e) => Err(e),
        }
    }

    /// The output if the invocation has ended, `None` if it has not.
    pub async fn output(&self, invocation_id: &str) -> Result<Option<Outcome>, EngineError> {
        let id = invocation_id.to_owned();
        let found = self
            .inner
            .store
            .run(move |tx| invocations::outcome(tx, &id))
            .await?;
        found.ok_or_else(|| EngineError::UnknownInvocation(invocation_id.to_owned()))
    }

    /// The invocation of a workflow's run, or of an idempotent request.
    pub async fn find(
        &self,
        target: &Target,
        idempotency_key: Option<&str>,
    ) -> Result<Option<String>, EngineError> {
        let t = target.clone();
        let idem = idempotency_key.map(str::to_owned);
        Ok(self
            .inner
            .store
            .run(move |tx| match idem {
                Some(idempotency_key) => idempotency::find(
                    tx,
                    idempotency::Key {
                        service: &t.service,
                        key: &t.key,
                        handler: &t.handler,
                        idempotency_key: &idempotency_key,
                    },
                ),
                None => invocations::workflow_run(tx, &t.service, &t.key),
            })
            .await?)
    }

    /// Resolves an awakeable (the id a handler got from `ctx.awakeable()`) with a payload.
    pub async fn resolve_awakeable(
        &self,
        awakeable_id: &str,
        payload: impl Into<Bytes>,
    ) -> Result<(), EngineError> {
        self.complete_awakeable(awakeable_id, Ok(payload.into()))
            .await
    }

    /// Rejects an awakeable with a terminal failure.
    pub async fn reject_awakeable(
        &self,
        awakeable_id: &str,
        code: u16,
        message: &str,
    ) -> Result<(), EngineError> {
        self.complete_awakeable(awakeable_id, Err((code, message.to_owned())))
            .await
    }

    async fn complete_awakeable(
        &self,
        awakeable_id: &str,
        outcome: Outcome,
    ) -> Result<(), EngineError> {
        let delivery = self.awakeable_delivery(awakeable_id, &outcome).await?;
        self.deliver(vec![delivery]).await
    }

    async fn awakeable_delivery(
        &self,
        awakeable_id: &str,
        outcome: &Outcome,
    ) -> Result<Delivery, EngineError> {
        let (id, outcome) = (awakeable_id.to_owned(), outcome.clone());
        self.inner
            .store
            .run(move |tx| awakeable_delivery(tx, &id, &outcome))
            .await?
    }

    /// Cancels an invocation: it sees a cancellation at its next await, and its handler
    /// decides what to do (by default it ends with a terminal error 409).
    pub async fn cancel(&self, invocation_id: &str) -> Result<(), EngineError> {
        let id = invocation_id.to_owned();
        let status: Option<InvocationStatus> = self
            .inner
            .store
            .run(move |tx| invocations::status(tx, &id))
            .await?;
        match status {
            None => Err(EngineError::UnknownInvocation(invocation_id.to_owned())),
            Some(InvocationStatus::Completed) => Ok(()),
            Some(_) => {
                let frame = Frame::new(
                    protocol::SIGNAL_NOTIFICATION,
                    &pb::SignalNotificationMessage {
                        signal_id: Some(pb::signal_notification_message::SignalId::Idx(
                            protocol::CANCEL_SIGNAL_INDEX,
                        )),
                        result: Some(pb::signal_notification_message::Result::Void(pb::Void {})),
                    },
                );
                self.deliver(vec![Delivery::direct(invocation_id.to_owned(), frame)])
                    .await
            }
        }
    }

    /// A client of this engine with the same API as a Restate server's ingress client, so
    /// the generated `FooIngressClient`s work on it unchanged: `FooIngressClient::new(engine.ingress())`.
    pub fn ingress(&self) -> crate::ingress::IngressClient {
        crate::ingress::IngressClient::in_process(self.clone())
    }

    /// Reads state of a virtual object or workflow (for tests and tools).
    pub async fn state(
        &self,
        service: &str,
        key: &str,
    ) -> Result<Vec<(String, Bytes)>, EngineError> {
        let (s, k) = (service.to_owned(), key.to_owned());
        Ok(self
            .inner
            .store
            .run(move |tx| {
                Ok(state::all(tx, &s, &k)?
                    .into_iter()
                    .map(|e| {
                        (
                            String::from_utf8_lossy(&e.name).into_owned(),
                            Bytes::from(e.value),
                        )
                    })
                    .collect())
            })
            .await?)
    }

    /// Stops the engine: attempts in flight are dropped (they resume by replay when the file
    /// is opened again), timers stop.
    pub async fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        let running: Vec<_> = self.inner.sched.lock().unwrap().running.drain().collect();
        drop(running);
        self.inner.timer_wake.notify_waiters();
    }

    fn is_shut_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    fn journal_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(
            self.inner
                .sched
                .lock()
                .unwrap()
                .journal_locks
                .entry(id.to_owned())
                .or_default(),
        )
    }

    /// Appends notifications to their invocations' journals and delivers them: to the
    /// attempt in flight, or by resuming a suspended invocation. A delivery from the outbox
    /// leaves it in the same transaction, so it is journaled once.
    ///
    /// A delivery from the outbox is staged: the outbox row was written before it, so a crash
    /// before the next commit leaves the row, or loses it together with the work that wrote
    /// it. A direct one (a `ctx.run` result, a cancellation) is committed before its frame
    /// goes out: nothing else on file would bring it back.
    async fn deliver(&self, deliveries: Vec<Delivery>) -> Result<(), EngineError> {
        for delivery in deliveries {
            let lock = self.journal_lock(&delivery.invocation_id);
            let _guard = lock.lock().await;
            let id = delivery.invocation_id.clone();
            let outbox = delivery.outbox;
            let (ty, payload) = (delivery.frame.ty, delivery.frame.payload.clone());
            let status: Option<InvocationStatus> = self
                .inner
                .store
                .submit(
                    move |tx| {
                        if let Some(row) = outbox
                            && !outbox::take(tx, row)?
                        {
                            // Delivered already (by recovery, or before a crash).
                            return Ok(None);
                        }
                        let status = invocations::status(tx, &id)?;
                        match status {
                            None | Some(InvocationStatus::Completed) => {}
                            Some(InvocationStatus::Suspended) => {
                                journal::append(tx, &id, ty, &payload)?;
                                invocations::set_status(tx, &id, InvocationStatus::Running)?;
                            }
                            Some(_) => {
                                journal::append(tx, &id, ty, &payload)?;
                            }
                        }
                        Ok(status)
                    },
                    outbox.is_none(),
                )
                .await?;
            match status {
                Some(InvocationStatus::Suspended) => {
                    self.spawn_attempt(delivery.invocation_id.clone())
                }
                Some(InvocationStatus::Completed) | None => {}
                Some(_) => self.send_to_attempt(&delivery.invocation_id, [delivery.frame]),
            }
        }
        Ok(())
    }

    fn spawn_attempt(&self, id: String) {
        self.spawn_attempt_with(id, None);
    }

    /// Starts an attempt of `id`, with what it needs from the store when that is known
    /// already (a new invocation), or read first.
    fn spawn_attempt_with(&self, id: String, loaded: Option<Loaded>) {
        if self.is_shut_down() {
            return;
        }
        if !self.inner.sched.lock().unwrap().starting.insert(id.clone()) {
            return;
        }
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.attempt(&id, loaded).await {
                // Not even the failure could be recorded (the store failed): the invocation
                // is still `running` on file, so an attempt later is what recovery would do.
                tracing::error!("invocation {id}: {e}; trying again in 1 s");
                if !engine.is_shut_down() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    engine.spawn_attempt(id);
                }
            }
        });
    }

    /// One attempt: replay the journal into the endpoint and process what it sends.
    async fn attempt(&self, id: &str, preloaded: Option<Loaded>) -> Result<(), EngineError> {
        let lock = self.journal_lock(id);
        let (sender, receiver) = mpsc::unbounded_channel::<Bytes>();
        let invocation = {
            let _guard = lock.lock().await;
            let owned = id.to_owned();
            let engine = self.clone();
            let loaded = match preloaded {
                Some(loaded) => Ok(Some(loaded)),
                None => {
                    self.inner
                        .store
                        .stage(move |tx| {
                            let Some(invocation) = invocations::get(tx, &owned)? else {
                                return Ok(None);
                            };
                            let lazy = engine.config_of(&invocation).lazy_state;
                            let journal = journal::read(tx, &owned)?
                                .into_iter()
                                .map(|e| (e.ty, e.payload))
                                .collect();
                            let state = if invocation.key.is_empty() || lazy {
                                Vec::new()
                            } else {
                                state::all(tx, &invocation.service, &invocation.key)?
                                    .into_iter()
                                    .map(|e| pb::start_message::StateEntry {
                                        key: e.name,
                                        value: e.value,
                                    })
                                    .collect()
                            };
                            Ok(Some((invocation, journal, state, lazy)))
                        })
                        .await
                }
            };
            self.inner.sched.lock().unwrap().starting.remove(id);
            let Some((invocation, journal, state, lazy)) = loaded? else {
                tracing::warn!("invocation {id} is gone (purged); no attempt");
                return Ok(());
            };
            if invocation.status.is_completed() {
                return Ok(());
            }
            let start = pb::StartMessage {
                id: invocation.raw_id.clone(),
                debug_id: invocation.id.clone(),
                known_entries: journal.len() as u32,
                state_map: state,
                // Lazy: the state map is empty on purpose; the endpoint asks for each entry.
                partial_state: lazy,
                key: invocation.key.clone(),
                retry_count_since_last_stored_entry: invocation.attempts,
                duration_since_last_stored_entry: 0,
                random_seed: invocation.random_seed,
            };
            let _ = sender.send(Frame::new(protocol::START, &start).to_bytes());
            for (ty, payload) in journal {
                let _ = sender.send(raw_frame(ty, Bytes::from(payload)).to_bytes());
            }
            self.inner
                .sched
                .lock()
                .unwrap()
                .running
                .insert(id.to_owned(), sender);
            invocation
        };
        match self.drive(&invocation, &lock, receiver).await {
            // An error of the engine's own (a frame that does not decode, a store that fails)
            // ends the attempt like any failure: retried, or failed, with the reason.
            Err(e) if !self.is_shut_down() => {
                self.inner.sched.lock().unwrap().running.remove(id);
                self.attempt_failed(&invocation, e.to_string(), None).await
            }
            other => other,
        }
    }

    /// Runs one attempt of `invocation` whose journal was queued into `receiver`: sends the
    /// request, processes what the endpoint answers, and records how the attempt ended.
    async fn drive(
        &self,
        invocation: &Invocation,
        lock: &tokio::sync::Mutex<()>,
        receiver: mpsc::UnboundedReceiver<Bytes>,
    ) -> Result<(), EngineError> {
        let id = invocation.id.as_str();
        // Fused: the endpoint may poll the request body again after it ended.
        let body = http_body_util::StreamBody::new(futures::StreamExt::fuse(
            futures::stream::unfold(receiver, |mut rx| async move {
                rx.recv().await.map(|b| {
                    (
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http_body::Frame::data(
                            b,
                        )),
                        rx,
                    )
                })
            }),
        ));
        let request = ::http::Request::builder()
            .method("POST")
            .uri(format!(
                "/invoke/{}/{}",
                invocation.service, invocation.handler
            ))
            .header("content-type", self.inner.content_type.as_str())
            .header("accept", self.inner.content_type.as_str())
            .body(BodyExt::boxed_unsync(body))
            .expect("a valid request");
        let response = match self.inner.deployment.send(request).await {
            Ok(response) => response,
            Err(e) => {
                self.inner.sched.lock().unwrap().running.remove(id);
                return self.attempt_failed(invocation, e.to_string(), None).await;
            }
        };
        let status = response.status();
        let mut body = response.into_body();
        if !status.is_success() {
            self.inner.sched.lock().unwrap().running.remove(id);
            let text = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            return self
                .attempt_failed(
                    invocation,
                    format!(
                        "the endpoint answered {status}: {}",
                        String::from_utf8_lossy(&text)
                    ),
                    None,
                )
                .await;
        }

        let config = self.config_of(invocation);
        let inactivity = config
            .inactivity_timeout
            .unwrap_or(self.inner.inactivity_timeout);
        let abort = config.abort_timeout.unwrap_or(self.inner.abort_timeout);
        // Once the request is closed for inactivity, the attempt must end by then.
        let mut abort_at: Option<tokio::time::Instant> = None;
        let mut decoder = FrameDecoder::new();
        let mut ended = false;
        // Commands that answer nothing, journaled with the next job of this attempt; those
        // of an attempt that fails are dropped, as a crash would drop them.
        let mut silent = Silent::new();
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            let wait = match abort_at {
                None => inactivity,
                Some(at) => at.saturating_duration_since(tokio::time::Instant::now()),
            };
            let next = tokio::select! {
                next = tokio::time::timeout(wait, body.frame()) => next,
                _ = shutdown.changed() => return Ok(()),
            };
            let chunk = match next {
                Err(_) if abort_at.is_none() => {
                    // Nothing happened for a while: close the request so the SDK suspends.
                    self.inner.sched.lock().unwrap().running.remove(id);
                    abort_at = Some(tokio::time::Instant::now() + abort);
                    continue;
                }
                Err(_) => {
                    // Asked to suspend and still going: abort this attempt (dropping the
                    // response ends the exchange) and retry.
                    drop(body);
                    return self
                        .attempt_failed(
                            invocation,
                            format!(
                                "aborted: no progress for the inactivity timeout ({inactivity:?}), then no suspension within the abort timeout ({abort:?})"
                            ),
                            None,
                        )
                        .await;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    self.inner.sched.lock().unwrap().running.remove(id);
                    return self
                        .attempt_failed(
                            invocation,
                            format!("the response stream failed: {e}"),
                            None,
                        )
                        .await;
                }
                Ok(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
            };
            decoder.push(&chunk);
            loop {
                let frame = match decoder.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(e) => {
                        self.inner.sched.lock().unwrap().running.remove(id);
                        return self
                            .attempt_failed(invocation, format!("protocol error: {e}"), None)
                            .await;
                    }
                };
                let step = if frame.ty == protocol::PROPOSE_RUN_COMPLETION {
                    self.step_name(invocation, &frame).await?
                } else {
                    None
                };
                if let Some(name) = &step
                    && self.take_crash(
                        invocation,
                        |p| matches!(p, CrashPoint::BeforeStepCompletes(n) if n == name),
                    )
                {
                    self.inner.sched.lock().unwrap().running.remove(id);
                    return self
                        .attempt_failed(
                            invocation,
                            "injected crash (before a step's result was journaled)".to_owned(),
                            None,
                        )
                        .await;
                }
                match self.on_frame(invocation, lock, frame, &mut silent).await? {
                    FrameOutcome::Continue
                        if self.crash_after(invocation, step.as_deref()).await? =>
                    {
                        self.inner.sched.lock().unwrap().running.remove(id);
                        return self
                            .attempt_failed(invocation, "injected crash".to_owned(), None)
                            .await;
                    }
                    FrameOutcome::Continue => {}
                    FrameOutcome::Ended => ended = true,
                    FrameOutcome::Suspended(awaited) => {
                        self.inner.sched.lock().unwrap().running.remove(id);
                        return self.suspend(invocation, awaited, silent).await;
                    }
                    FrameOutcome::Failed(message, delay) => {
                        self.inner.sched.lock().unwrap().running.remove(id);
                        return self.attempt_failed(invocation, message, delay).await;
                    }
                }
            }
            if ended {
                break;
            }
        }
        self.inner.sched.lock().unwrap().running.remove(id);
        if ended {
            self.finish(invocation, None, silent).await
        } else {
            self.attempt_failed(
                invocation,
                "the endpoint closed the stream without ending the invocation".to_owned(),
                None,
            )
            .await
        }
    }

    async fn on_frame(
        &self,
        invocation: &Invocation,
        lock: &tokio::sync::Mutex<()>,
        frame: Frame,
        silent: &mut Silent,
    ) -> Result<FrameOutcome, EngineError> {
        match frame.ty {
            protocol::END => return Ok(FrameOutcome::Ended),
            protocol::SUSPENSION => {
                let message: pb::SuspensionMessage = frame.decode_as().unwrap_or_default();
                return Ok(FrameOutcome::Suspended(message));
            }
            protocol::ERROR => {
                let message: pb::ErrorMessage = frame.decode_as().unwrap_or_default();
                let text = if message
                    .related_command_name
                    .as_deref()
                    .unwrap_or("")
                    .is_empty()
                {
                    format!("[{}] {}", message.code, message.message)
                } else {
                    format!(
                        "[{}] {} (at `{}`)",
                        message.code,
                        message.message,
                        message.related_command_name.unwrap_or_default()
                    )
                };
                return Ok(FrameOutcome::Failed(
                    text,
                    message.next_retry_delay.map(Duration::from_millis),
                ));
            }
            protocol::PROPOSE_RUN_COMPLETION => {
                let message: pb::ProposeRunCompletionMessage =
                    frame.decode_as().map_err(|e| undecodable(&frame, e))?;
                let result = match message.result {
                    Some(pb::propose_run_completion_message::Result::Value(v)) => {
                        pb::run_completion_notification_message::Result::Value(pb::Value {
                            content: v,
                        })
                    }
                    Some(pb::propose_run_completion_message::Result::Failure(f)) => {
                        pb::run_completion_notification_message::Result::Failure(f)
                    }
                    None => pb::run_completion_notification_message::Result::Value(pb::Value {
                        content: vec![],
                    }),
                };
                let notification = Frame::new(
                    protocol::RUN_COMPLETION_NOTIFICATION,
                    &pb::RunCompletionNotificationMessage {
                        completion_id: message.result_completion_id,
                        result: Some(result),
                    },
                );
                self.complete_run(invocation, lock, std::mem::take(silent), notification)
                    .await?;
                return Ok(FrameOutcome::Continue);
            }
            ty if protocol::is_command(ty) => {}
            _ => return Ok(FrameOutcome::Continue),
        }
        let command = Command::decode(&frame).map_err(|e| undecodable(&frame, e))?;
        // Under an injected crash every command is journaled at once: the crash points
        // count entries.
        if command.is_silent() && !self.crash_targets(invocation) {
            silent.push((frame, command));
            return Ok(FrameOutcome::Continue);
        }
        let effects = {
            let _guard = lock.lock().await;
            self.on_command(invocation, frame, command, std::mem::take(silent))
                .await?
        };
        for effect in effects {
            self.apply(effect).await?;
        }
        Ok(FrameOutcome::Continue)
    }

    /// Journals a command and applies what belongs to this invocation in the same
    /// transaction; returns what must happen to other invocations afterwards.
    async fn on_command(
        &self,
        invocation: &Invocation,
        frame: Frame,
        mut command: Command,
        silent: Silent,
    ) -> Result<Vec<Effect>, EngineError> {
        let inv = invocation.clone();
        let now = now_ms(&*self.inner.clock);
        if let Command::Call(call) | Command::OneWayCall(call) = &mut command {
            let target =
                Target::keyed(call.service.clone(), call.key.clone(), call.handler.clone());
            match self.handler_kind(&target) {
                Ok(kind) => call.kind = Some(kind),
                Err(e) => call.target_missing = Some(e.to_string()),
            }
        }
        let engine = self.clone();
        // Staged: a command needs no acknowledgement, and what it answers at once goes only
        // to this invocation's handler; the next commit makes it durable.
        let (immediate, effects) = self
            .inner
            .store
            .stage(move |tx| {
                engine.journal_silent(tx, &inv, silent, now)?;
                journal::append(tx, &inv.id, frame.ty, &frame.payload)?;
                engine.command_effects(tx, &inv, command, now)
            })
            .await?;
        // Notifications for this invocation itself: already journaled, send them now.
        self.send_to_attempt(&invocation.id, immediate);
        Ok(effects)
    }

    /// Sends journaled frames to the attempt of `id` in flight, if there is one (otherwise
    /// the next attempt replays them from the journal).
    fn send_to_attempt(&self, id: &str, frames: impl IntoIterator<Item = Frame>) {
        let mut frames = frames.into_iter().peekable();
        if frames.peek().is_none() {
            return;
        }
        let sender = self.inner.sched.lock().unwrap().running.get(id).cloned();
        if let Some(sender) = sender {
            for frame in frames {
                let _ = sender.send(frame.to_bytes());
            }
        }
    }

    /// Journals and applies the commands held back since the attempt's last job, in order.
    /// They answer nothing and affect no other invocation.
    fn journal_silent(
        &self,
        tx: &Transaction<'_>,
        inv: &Invocation,
        silent: Silent,
        now: i64,
    ) -> rusqlite::Result<()> {
        for (frame, command) in silent {
            journal::append(tx, &inv.id, frame.ty, &frame.payload)?;
            let (own, effects) = self.command_effects(tx, inv, command, now)?;
            debug_assert!(
                own.is_empty() && effects.is_empty(),
                "a silent command answered"
            );
        }
        Ok(())
    }

    /// Journals a `ctx.run` result, with the commands held back before it, and hands it to
    /// the handler once committed: the handler may act on it outside, so it must not be
    /// lost.
    async fn complete_run(
        &self,
        invocation: &Invocation,
        lock: &tokio::sync::Mutex<()>,
        silent: Silent,
        notification: Frame,
    ) -> Result<(), EngineError> {
        let _guard = lock.lock().await;
        let (engine, inv) = (self.clone(), invocation.clone());
        let now = now_ms(&*self.inner.clock);
        let (ty, payload) = (notification.ty, notification.payload.clone());
        self.inner
            .store
            .run(move |tx| {
                engine.journal_silent(tx, &inv, silent, now)?;
                journal::append(tx, &inv.id, ty, &payload).map(drop)
            })
            .await?;
        self.send_to_attempt(&invocation.id, [notification]);
        Ok(())
    }

    fn command_effects(
        &self,
        tx: &Transaction<'_>,
        inv: &Invocation,
        command: Command,
        now: i64,
    ) -> rusqlite::Result<(Vec<Frame>, Vec<Effect>)> {
        let mut own = Vec::new();
        let mut effects = Vec::new();
        let mut notify_own = |tx: &Transaction<'_>, frame: Frame| -> rusqlite::Result<()> {
            journal::append(tx, &inv.id, frame.ty, &frame.payload)?;
            own.push(frame);
            Ok(())
        };
        match command {
            Command::Output(result) => {
                invocations::set_output(tx, &inv.id, &result)?;
            }
            Command::SetState(name, value) => {
                state::set(tx, &inv.service, &inv.key, &name, &value)?;
            }
            Command::ClearState(name) => {
                state::clear(tx, &inv.service, &inv.key, &name)?;
            }
            Command::ClearAllState => {
                state::clear_all(tx, &inv.service, &inv.key)?;
            }
            Command::GetLazyState(name, completion_id) => {
                let value = state::get(tx, &inv.service, &inv.key, &name)?;
                notify_own(
                    tx,
                    Frame::new(
                        protocol::GET_LAZY_STATE_COMPLETION_NOTIFICATION,
                        &pb::GetLazyStateCompletionNotificationMessage {
                            completion_id,
                            result: Some(match value {
                                Some(v) => pb::get_lazy_state_completion_notification_message::Result::Value(pb::Value { content: v }),
                                None => pb::get_lazy_state_completion_notification_message::Result::Void(pb::Void {}),
                            }),
                        },
                    ),
                )?;
            }
            Command::GetLazyStateKeys(completion_id) => {
                let keys = state::names(tx, &inv.service, &inv.key)?;
                notify_own(
                    tx,
                    Frame::new(
                        protocol::GET_LAZY_STATE_KEYS_COMPLETION_NOTIFICATION,
                        &pb::GetLazyStateKeysCompletionNotificationMessage {
                            completion_id,
                            state_keys: Some(pb::StateKeys { keys }),
                        },
                    ),
                )?;
            }
            Command::Sleep(wake_up_time, completion_id) => {
                timers::add(tx, wake_up_time as i64, &inv.id, completion_id)?;
                effects.push(Effect::WakeTimers);
            }
            Command::Call(call) | Command::OneWayCall(call) if call.target_missing.is_some() => {
                let message = call.target_missing.clone().unwrap_or_default();
                if let Some(completion_id) = call.result_completion_id {
                    notify_own(
                        tx,
                        Frame::new(
                            protocol::CALL_INVOCATION_ID_COMPLETION_NOTIFICATION,
                            &pb::CallInvocationIdCompletionNotificationMessage {
                                completion_id: call.invocation_id_notification_idx,
                                invocation_id: String::new(),
                            },
                        ),
                    )?;
                    notify_own(
                        tx,
                        Frame::new(
                            protocol::CALL_COMPLETION_NOTIFICATION,
                            &pb::CallCompletionNotificationMessage {
                                completion_id,
                                result: Some(
                                    pb::call_completion_notification_message::Result::Failure(
                                        pb::Failure {
                                            code: 404,
                                            message,
                                            metadata: vec![],
                                        },
                                    ),
                                ),
                            },
                        ),
                    )?;
                } else {
                    notify_own(
                        tx,
                        Frame::new(
                            protocol::CALL_INVOCATION_ID_COMPLETION_NOTIFICATION,
                            &pb::CallInvocationIdCompletionNotificationMessage {
                                completion_id: call.invocation_id_notification_idx,
                                invocation_id: String::new(),
                            },
                        ),
                    )?;
                }
            }
            Command::Call(call) | Command::OneWayCall(call) => {
                let child = self.insert_child(tx, &call, now)?;
                if let Some(completion_id) = call.result_completion_id {
                    waiters::add(tx, Awaited::Call, &child.0, &inv.id, completion_id)?;
                }
                notify_own(
                    tx,
                    Frame::new(
                        protocol::CALL_INVOCATION_ID_COMPLETION_NOTIFICATION,
                        &pb::CallInvocationIdCompletionNotificationMessage {
                            completion_id: call.invocation_id_notification_idx,
                            invocation_id: child.0.clone(),
                        },
                    ),
                )?;
                match child.1 {
                    ChildStart::Now(kind) => effects.push(Effect::Admit {
                        id: child.0,
                        service: call.service,
                        key: call.key,
                        kind,
                    }),
                    ChildStart::Later => effects.push(Effect::WakeTimers),
                    ChildStart::Existing(Some(outcome)) => {
                        if let Some(completion_id) = call.result_completion_id {
                            let frame = call_completion_frame(completion_id, &outcome);
                            effects.push(Effect::Deliver(enqueue(tx, inv.id.clone(), frame)?));
                        }
                    }
                    ChildStart::Existing(None) => {}
                }
            }
            Command::Run => {}
            Command::GetPromise(name, completion_id) => {
                match promises::get(tx, &inv.service, &inv.key, &name)? {
                    Some(outcome) => notify_own(
                        tx,
                        promise_frame(
                            protocol::GET_PROMISE_COMPLETION_NOTIFICATION,
                            completion_id,
                            Some(&outcome),
                        ),
                    )?,
                    None => {
                        let target = promise_target(&inv.service, &inv.key, &name);
                        waiters::add(tx, Awaited::Promise, &target, &inv.id, completion_id)?;
                    }
                }
            }
            Command::PeekPromise(name, completion_id) => {
                let outcome = promises::get(tx, &inv.service, &inv.key, &name)?;
                notify_own(
                    tx,
                    promise_frame(
                        protocol::PEEK_PROMISE_COMPLETION_NOTIFICATION,
                        completion_id,
                        outcome.as_ref(),
                    ),
                )?;
            }
            Command::CompletePromise(name, outcome, completion_id) => {
                let existing = promises::get(tx, &inv.service, &inv.key, &name)?;
                let reply = if existing.is_some() {
                    pb::complete_promise_completion_notification_message::Result::Failure(
                        pb::Failure {
                            code: 409,
                            message: format!("promise `{name}` is already completed"),
                            metadata: vec![],
                        },
                    )
                } else {
                    promises::insert(tx, &inv.service, &inv.key, &name, &outcome)?;
                    let target = promise_target(&inv.service, &inv.key, &name);
                    for waiter in waiters::take(tx, Awaited::Promise, &target)? {
                        let frame = promise_frame(
                            protocol::GET_PROMISE_COMPLETION_NOTIFICATION,
                            waiter.completion_id,
                            Some(&outcome),
                        );
                        effects.push(Effect::Deliver(enqueue(tx, waiter.invocation_id, frame)?));
                    }
                    pb::complete_promise_completion_notification_message::Result::Void(pb::Void {})
                };
                notify_own(
                    tx,
                    Frame::new(
                        protocol::COMPLETE_PROMISE_COMPLETION_NOTIFICATION,
                        &pb::CompletePromiseCompletionNotificationMessage {
                            completion_id,
                            result: Some(reply),
                        },
                    ),
                )?;
            }
            Command::SendSignal { target, frame } => {
                effects.push(Effect::Deliver(enqueue(tx, target, frame)?));
            }
            Command::CompleteAwakeable { id, outcome } => {
                match awakeable_delivery(tx, &id, &outcome)? {
                    Ok(delivery) => effects.push(Effect::Deliver(enqueue(
                        tx,
                        delivery.invocation_id,
                        delivery.frame,
                    )?)),
                    Err(e) => tracing::warn!(
                        "invocation {} completed an awakeable that cannot be delivered: {e}",
                        inv.id
                    ),
                }
            }
            Command::Attach(target, completion_id) | Command::GetOutput(target, completion_id) => {
                let (completion_id, attach) = completion_id;
                let target_id = resolve_target(tx, &target)?;
                let outcome = match &target_id {
                    Some(id) => invocations::outcome(tx, id)?.flatten(),
                    None => None,
                };
                match (attach, target_id, outcome) {
                    (_, None, _) => {
                        let frame = output_frame(
                            attach,
                            completion_id,
                            Some(&Err((404, "no such invocation".to_owned()))),
                        );
                        notify_own(tx, frame)?;
                    }
                    (_, Some(_), Some(outcome)) => {
                        notify_own(tx, output_frame(attach, completion_id, Some(&outcome)))?
                    }
                    (true, Some(target_id), None) => {
                        waiters::add(tx, Awaited::Attach, &target_id, &inv.id, completion_id)?;
                    }
                    (false, Some(_), None) => {
                        notify_own(tx, output_frame(false, completion_id, None))?
                    }
                }
            }
            Command::Other => {}
        }
        Ok((own, effects))
    }

    fn insert_child(
        &self,
        tx: &Transaction<'_>,
        call: &CallSpec,
        now: i64,
    ) -> rusqlite::Result<(String, ChildStart)> {
        let kind = call.kind.unwrap_or(HandlerKind::Stateless);
        let idem_key = call
            .idempotency_key
            .as_deref()
            .map(|idempotency_key| idempotency::Key {
                service: &call.service,
                key: &call.key,
                handler: &call.handler,
                idempotency_key,
            });
        if let Some(idem_key) = idem_key
            && let Some(existing) = idempotency::find(tx, idem_key)?
        {
            let outcome = invocations::outcome(tx, &existing)?.flatten();
            return Ok((existing, ChildStart::Existing(outcome)));
        }
        if kind == HandlerKind::WorkflowRun
            && let Some(existing) = invocations::workflow_run(tx, &call.service, &call.key)?
        {
            let outcome = invocations::outcome(tx, &existing)?.flatten();
            return Ok((existing, ChildStart::Existing(outcome)));
        }
        let raw = ids::new_invocation_raw();
        let id = ids::invocation_id(&raw);
        let seed: u64 = u64::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..8]
                .try_into()
                .unwrap_or_default(),
        );
        let later = call.invoke_time.is_some_and(|t| t as i64 > now);
        let run_at = call.invoke_time.map_or(now, |t| (t as i64).max(now));
        invocations::insert(
            tx,
            &NewInvocation {
                id: &id,
                raw_id: &raw,
                service: &call.service,
                handler: &call.handler,
                key: &call.key,
                kind,
                status: if later {
                    InvocationStatus::Scheduled
                } else {
                    InvocationStatus::Pending
                },
                run_at,
                idempotency_key: call.idempotency_key.as_deref(),
                random_seed: seed,
                created_at: now,
            },
        )?;
        metrics::invocation_started(&call.service, &call.handler);
        let input = Frame::new(
            protocol::INPUT_COMMAND,
            &pb::InputCommandMessage {
                headers: call.headers.clone(),
                value: Some(pb::Value {
                    content: call.parameter.clone(),
                }),
                name: String::new(),
            },
        );
        journal::append(tx, &id, input.ty, &input.payload)?;
        if let Some(idem_key) = idem_key {
            idempotency::insert(tx, idem_key, &id)?;
        }
        Ok((
            id,
            if later {
                ChildStart::Later
            } else {
                ChildStart::Now(kind)
            },
        ))
    }

    async fn apply(&self, effect: Effect) -> Result<(), EngineError> {
        match effect {
            Effect::WakeTimers => {
                self.inner.timer_wake.notify_one();
                Ok(())
            }
            Effect::Admit {
                id,
                service,
                key,
                kind,
            } => self.admit(&id, &service, &key, kind).await,
            Effect::Deliver(delivery) => self.deliver(vec![delivery]).await,
        }
    }

    async fn suspend(
        &self,
        invocation: &Invocation,
        awaited: pb::SuspensionMessage,
        silent: Silent,
    ) -> Result<(), EngineError> {
        let id = invocation.id.clone();
        let (engine, inv) = (self.clone(), invocation.clone());
        let now = now_ms(&*self.inner.clock);
        let completions = awaited.waiting_completions.clone();
        let signals = awaited.waiting_signals.clone();
        // Anything awaited that already arrived means: resume at once.
        let resume_now = self
            .inner
            .store
            .stage(move |tx| {
                engine.journal_silent(tx, &inv, silent, now)?;
                let arrived = journal::notifications(tx, &id)?;
                let ready = arrived.into_iter().any(|entry| {
                    let frame = raw_frame(entry.ty, Bytes::from(entry.payload));
                    match notification_id(&frame) {
                        Some(NotificationId::Completion(c)) => completions.contains(&c),
                        Some(NotificationId::Signal(s)) => signals.contains(&s),
                        _ => false,
                    }
                });
                let status = if ready {
                    InvocationStatus::Running
                } else {
                    InvocationStatus::Suspended
                };
                invocations::set_status_unless_completed(tx, &id, status)?;
                Ok(ready)
            })
            .await?;
        if resume_now {
            self.spawn_attempt(invocation.id.clone());
        }
        Ok(())
    }

    async fn attempt_failed(
        &self,
        invocation: &Invocation,
        message: String,
        delay: Option<Duration>,
    ) -> Result<(), EngineError> {
        if self.is_shut_down() {
            return Ok(());
        }
        let attempts = invocation.attempts + 1;
        let config = self.config_of(invocation);
        let policy = config.retry_policy(&self.inner.retry);
        let give_up = policy.max_attempts.is_some_and(|max| attempts >= max);
        let pause = give_up && policy.on_max_attempts == OnMaxAttempts::Pause;
        let delay = delay.unwrap_or_else(|| policy.delay(attempts));
        tracing::warn!(
            "invocation {} ({}/{}) attempt {attempts} failed: {message}",
            invocation.id,
            invocation.service,
            invocation.handler
        );
        if give_up && !pause {
            // Killed by the policy: the failure and the completion in one transaction.
            return self
                .finish(invocation, Some((attempts, (500, message))), Silent::new())
                .await;
        }
        let id = invocation.id.clone();
        let run_at = now_ms(&*self.inner.clock) + delay.as_millis() as i64;
        let (status, next) = if pause {
            (InvocationStatus::Paused, None)
        } else {
            (InvocationStatus::Backoff, Some(run_at))
        };
        self.inner
            .store
            .run(move |tx| {
                invocations::record_failed_attempt(tx, &id, status, attempts, next, &message)
            })
            .await?;
        if pause {
            tracing::warn!(
                "invocation {} paused after {attempts} attempts; resume it from the admin API",
                invocation.id
            );
        } else {
            self.inner.timer_wake.notify_one();
        }
        Ok(())
    }

    /// What the deployment declared for the invocation's handler.
    fn config_of(&self, invocation: &Invocation) -> HandlerConfig {
        self.inner
            .services
            .get(&invocation.service)
            .and_then(|s| s.configs.get(&invocation.handler))
            .cloned()
            .unwrap_or_default()
    }

    /// Resumes a paused invocation (one that exhausted its attempts under a pausing retry
    /// policy): it gets a fresh attempt.
    pub async fn resume(&self, invocation_id: &str) -> Result<(), EngineError> {
        let id = invocation_id.to_owned();
        let resumed = self
            .inner
            .store
            .run(move |tx| invocations::resume_paused(tx, &id))
            .await?;
        if resumed {
            self.spawn_attempt(invocation_id.to_owned());
            Ok(())
        } else {
            Err(EngineError::UnknownInvocation(format!(
                "{invocation_id} (not paused)"
            )))
        }
    }

    /// How long a completed invocation keeps its journal, and its record (what `attach`,
    /// `output` and the idempotency key see), as restate-server: a workflow's run for the
    /// workflow retention, a call with an idempotency key for the idempotency retention,
    /// others for the journal retention.
    fn retention_of(&self, invocation: &Invocation) -> (Duration, Duration) {
        let config = self.config_of(invocation);
        let defaults = &self.inner.retention;
        let journal = config.journal_retention.unwrap_or(defaults.journal);
        let record = if invocation.kind == HandlerKind::WorkflowRun {
            config.workflow_retention.unwrap_or(defaults.workflow)
        } else if invocation.idempotency_key.is_some() {
            config.idempotency_retention.unwrap_or(defaults.idempotency)
        } else {
            journal
        };
        (journal.min(record), record)
    }

    /// Marks the invocation completed (with `failure`, the attempts so far and a terminal
    /// error, when it did not end by itself), tells whoever waits, and frees its key. What
    /// waits in other invocations is told through the outbox, in the same transaction.
    async fn finish(
        &self,
        invocation: &Invocation,
        failure: Option<(u32, (u16, String))>,
        silent: Silent,
    ) -> Result<(), EngineError> {
        let id = invocation.id.clone();
        let (engine, inv) = (self.clone(), invocation.clone());
        let now = now_ms(&*self.inner.clock);
        let (journal, record) = self.retention_of(invocation);
        let expires =
            |d: Duration| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let (journal_expires, record_expires) = (expires(journal), expires(record));
        let (outcome, deliveries, created) = self
            .inner
            .store
            .run(move |tx| {
                engine.journal_silent(tx, &inv, silent, now)?;
                if let Some((attempts, (code, message))) = &failure {
                    invocations::set_failed(tx, &id, *attempts, *code, message)?;
                }
                invocations::complete(tx, &id, now, journal_expires, record_expires)?;
                // What it still waited for will never matter.
                timers::remove_for(tx, &id)?;
                waiters::remove_for(tx, &id)?;
                let outcome = invocations::outcome(tx, &id)?
                    .flatten()
                    .unwrap_or(Ok(Bytes::new()));
                let mut deliveries = Vec::new();
                for waiter in waiters::take(tx, Awaited::Call, &id)? {
                    let frame = call_completion_frame(waiter.completion_id, &outcome);
                    deliveries.push(enqueue(tx, waiter.invocation_id, frame)?);
                }
                for waiter in waiters::take(tx, Awaited::Attach, &id)? {
                    let frame = output_frame(true, waiter.completion_id, Some(&outcome));
                    deliveries.push(enqueue(tx, waiter.invocation_id, frame)?);
                }
                let created = invocations::created_at(tx, &id)?; // metrics
                retention::purge_if_expired(tx, &id, now, journal_expires, record_expires)?;
                Ok((outcome, deliveries, created))
            })
            .await?;
        let elapsed = Duration::from_millis(now.saturating_sub(created).max(0) as u64);
        metrics::invocation_finished(
            &invocation.service,
            &invocation.handler,
            outcome.is_err(),
            elapsed,
        );
        let watchers = self
            .inner
            .sched
            .lock()
            .unwrap()
            .watchers
            .remove(&invocation.id)
            .unwrap_or_default();
        for watcher in watchers {
            let _ = watcher.send(outcome.clone());
        }
        self.deliver(deliveries).await?;
        self.inner
            .sched
            .lock()
            .unwrap()
            .journal_locks
            .remove(&invocation.id);
        if invocation.kind.holds_key() {
            self.release_key(&invocation.service, &invocation.key, &invocation.id)
                .await?;
        }
        Ok(())
    }

    fn key_lock(&self, service: &str, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(
            self.inner
                .sched
                .lock()
                .unwrap()
                .key_locks
                .entry((service.to_owned(), key.to_owned()))
                .or_default(),
        )
    }

    async fn release_key(&self, service: &str, key: &str, holder: &str) -> Result<(), EngineError> {
        let key_lock = self.key_lock(service, key);
        let _held = key_lock.lock().await;
        let (s, k) = (service.to_owned(), key.to_owned());
        let next: Option<String> = self
            .inner
            .store
            .stage(move |tx| {
                let next = invocations::next_inboxed(tx, &s, &k)?;
                if let Some(next) = &next {
                    invocations::set_status(tx, next, InvocationStatus::Running)?;
                }
                Ok(next)
            })
            .await?;
        {
            let mut sched = self.inner.sched.lock().unwrap();
            let slot = (service.to_owned(), key.to_owned());
            if sched.held.get(&slot).map(String::as_str) == Some(holder) {
                match &next {
                    Some(next) => {
                        sched.held.insert(slot, next.clone());
                    }
                    None => {
                        sched.held.remove(&slot);
                    }
                }
            }
        }
        match next {
            Some(next) => self.spawn_attempt(next),
            None => {
                // Nobody waits: forget the key's lock unless someone else holds a handle to it.
                let mut sched = self.inner.sched.lock().unwrap();
                let slot = (service.to_owned(), key.to_owned());
                if Arc::strong_count(&key_lock) <= 2 {
                    sched.key_locks.remove(&slot);
                }
            }
        }
        Ok(())
    }

    /// Fires timers, starts delayed invocations and retries, as their time comes.
    async fn timer_loop(&self) {
        let mut shutdown = self.inner.shutdown.subscribe();
        loop {
            if self.is_shut_down() {
                return;
            }
            let now = now_ms(&*self.inner.clock);
            let due = self
                .inner
                .store
                .run(move |tx| {
                    // Fired timers become notifications in the outbox, in the transaction that
                    // removes them: a crash in between loses neither.
                    let fired = timers::take_due(tx, now)?;
                    let mut deliveries = Vec::with_capacity(fired.len());
                    for timers::Fired {
                        invocation_id,
                        completion_id,
                    } in fired
                    {
                        let frame = Frame::new(
                            protocol::SLEEP_COMPLETION_NOTIFICATION,
                            &pb::SleepCompletionNotificationMessage {
                                completion_id,
                                void: Some(pb::Void {}),
                            },
                        );
                        deliveries.push(enqueue(tx, invocation_id, frame)?);
                    }
                    let started = invocations::due(tx, now)?;
                    for invocations::Scheduled { id, status, .. } in &started {
                        let next = if *status == InvocationStatus::Backoff {
                            InvocationStatus::Running
                        } else {
                            InvocationStatus::Pending
                        };
                        invocations::set_status(tx, id, next)?;
                    }
                    let next = timers::next_due(tx)?;
                    Ok((deliveries, started, next))
                })
                .await;
            let (deliveries, started, next) = match due {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!("engine timers: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if let Err(e) = self.deliver(deliveries).await {
                tracing::error!("engine timers: {e}");
            }
            for invocations::Scheduled {
                id,
                service,
                key,
                kind,
                status,
            } in started
            {
                let result = if status == InvocationStatus::Backoff {
                    self.spawn_attempt(id);
                    Ok(())
                } else {
                    self.admit(&id, &service, &key, kind).await
                };
                if let Err(e) = result {
                    tracing::error!("engine timers: {e}");
                }
            }
            let wait = next.map(|t| (t - now_ms(&*self.inner.clock)).max(0) as u64);
            let notified = self.inner.timer_wake.notified();
            tokio::select! {
                () = self.inner.clock.sleep(wait.map(Duration::from_millis)) => {}
                () = notified => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Where the test harness makes an invocation's attempt crash (see [`Engine::inject_crash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrashPoint {
    /// Once its journal holds at least this many entries (the input is entry 0).
    AfterEntries(u32),
    /// When the step (`ctx.run(..).name(..)`) with this name has run but its result is not yet
    /// journaled: the step runs again after the crash.
    BeforeStepCompletes(String),
    /// Right after the result of the step with this name is journaled: the step does not run
    /// again after the crash.
    AfterStepCompletes(String),
}

impl Engine {
    /// Makes the next invocation of `target` (any key when the target's key is empty) crash
    /// once at `point`: its attempt is dropped as if the process had died there, and the
    /// engine recovers it by replaying its journal. For tests of what runs once.
    pub fn inject_crash(&self, target: Target, point: CrashPoint) {
        self.inner.crashes.lock().unwrap().push((target, point));
    }

    /// Whether a crash the harness asked for targets `invocation`.
    fn crash_targets(&self, invocation: &Invocation) -> bool {
        self.inner
            .crashes
            .lock()
            .unwrap()
            .iter()
            .any(|(target, _)| targets(target, invocation))
    }

    /// Removes the first crash for `invocation` whose point `matches`; whether there was one.
    fn take_crash(&self, invocation: &Invocation, matches: impl Fn(&CrashPoint) -> bool) -> bool {
        let mut crashes = self.inner.crashes.lock().unwrap();
        let found = crashes
            .iter()
            .position(|(target, point)| targets(target, invocation) && matches(point));
        found.map(|i| crashes.remove(i)).is_some()
    }

    /// The name of the step a run proposal completes.
    async fn step_name(
        &self,
        invocation: &Invocation,
        frame: &Frame,
    ) -> Result<Option<String>, EngineError> {
        // Only a crash at a named step needs the name: no journal read otherwise.
        if !self.crash_targets(invocation) {
            return Ok(None);
        }
        let completion = frame
            .decode_as::<pb::ProposeRunCompletionMessage>()
            .map(|m| m.result_completion_id)
            .ok();
        let id = invocation.id.clone();
        let runs: Vec<Vec<u8>> = self
            .inner
            .store
            .run(move |tx| journal::payloads_of_type(tx, &id, protocol::RUN_COMMAND))
            .await?;
        Ok(runs.iter().find_map(|payload| {
            let run: pb::RunCommandMessage = prost::Message::decode(payload.as_slice()).ok()?;
            (Some(run.result_completion_id) == completion).then_some(run.name)
        }))
    }

    async fn crash_after(
        &self,
        invocation: &Invocation,
        step: Option<&str>,
    ) -> Result<bool, EngineError> {
        if !self.crash_targets(invocation) {
            return Ok(false);
        }
        if let Some(name) = step
            && self.take_crash(
                invocation,
                |p| matches!(p, CrashPoint::AfterStepCompletes(n) if n == name),
            )
        {
            return Ok(true);
        }
        let id = invocation.id.clone();
        let entries: i64 = self
            .inner
            .store
            .run(move |tx| journal::len(tx, &id))
            .await?;
        Ok(self.take_crash(
            invocation,
            |p| matches!(p, CrashPoint::AfterEntries(n) if entries >= i64::from(*n)),
        ))
    }

    /// When the next timer, delayed invocation or retry is due, if any.
    pub async fn next_timer(&self) -> Result<Option<std::time::SystemTime>, EngineError> {
        let next: Option<i64> = self.inner.store.run(|tx| timers::next_due(tx)).await?;
        Ok(next.map(|ms| std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)))
    }

    /// Sets state of a virtual object or workflow directly (seeding tests).
    pub async fn set_state(
        &self,
        service: &str,
        key: &str,
        name: &str,
        value: impl Into<Bytes>,
    ) -> Result<(), EngineError> {
        let (s, k, n, v) = (
            service.to_owned(),
            key.to_owned(),
            name.as_bytes().to_vec(),
            value.into().to_vec(),
        );
        self.inner
            .store
            .run(move |tx| state::set(tx, &s, &k, &n, &v))
            .await?;
        Ok(())
    }

    /// The outcome of a workflow's durable promise, if it was completed.
    pub async fn promise(
        &self,
        workflow: &str,
        key: &str,
        name: &str,
    ) -> Result<Option<Outcome>, EngineError> {
        let (s, k, n) = (workflow.to_owned(), key.to_owned(), name.to_owned());
        Ok(self
            .inner
            .store
            .run(move |tx| promises::get(tx, &s, &k, &n))
            .await?)
    }

    /// Completes a workflow's durable promise from outside (seeding tests), waking whoever
    /// waits on it. Returns false when it was already completed.
    pub async fn complete_promise(
        &self,
        workflow: &str,
        key: &str,
        name: &str,
        outcome: Outcome,
    ) -> Result<bool, EngineError> {
        let (s, k, n) = (workflow.to_owned(), key.to_owned(), name.to_owned());
        let o = outcome.clone();
        let waiters = self
            .inner
            .store
            .run(move |tx| {
                if promises::get(tx, &s, &k, &n)?.is_some() {
                    return Ok(None);
                }
                promises::insert(tx, &s, &k, &n, &o)?;
                let mut deliveries = Vec::new();
                for waiter in waiters::take(tx, Awaited::Promise, &promise_target(&s, &k, &n))? {
                    let frame = promise_frame(
                        protocol::GET_PROMISE_COMPLETION_NOTIFICATION,
                        waiter.completion_id,
                        Some(&o),
                    );
                    deliveries.push(enqueue(tx, waiter.invocation_id, frame)?);
                }
                Ok(Some(deliveries))
            })
            .await?;
        let Some(deliveries) = waiters else {
            return Ok(false);
        };
        self.deliver(deliveries).await?;
        Ok(true)
    }
}

enum FrameOutcome {
    Continue,
    Ended,
    Suspended(pb::SuspensionMessage),
    Failed(String, Option<Duration>),
}

enum Effect {
    WakeTimers,
    Admit {
        id: String,
        service: String,
        key: String,
        kind: HandlerKind,
    },
    /// A notification for another invocation, in the outbox already.
    Deliver(Delivery),
}

enum ChildStart {
    Now(HandlerKind),
    Later,
    Existing(Option<Outcome>),
}

struct CallSpec {
    service: String,
    handler: String,
    key: String,
    parameter: Vec<u8>,
    headers: Vec<pb::Header>,
    idempotency_key: Option<String>,
    invocation_id_notification_idx: u32,
    result_completion_id: Option<u32>,
    invoke_time: Option<u64>,
    kind: Option<HandlerKind>,
    target_missing: Option<String>,
}

enum AttachTarget {
    Id(String),
    Idempotent {
        service: String,
        key: String,
        handler: String,
        idempotency_key: String,
    },
    Workflow {
        service: String,
        key: String,
    },
}

fn resolve_target(tx: &Transaction<'_>, target: &AttachTarget) -> rusqlite::Result<Option<String>> {
    match target {
        AttachTarget::Id(id) => Ok(invocations::exists(tx, id)?.then(|| id.clone())),
        AttachTarget::Idempotent {
            service,
            key,
            handler,
            idempotency_key,
        } => idempotency::find(
            tx,
            idempotency::Key {
                service,
                key,
                handler,
                idempotency_key,
            },
        ),
        AttachTarget::Workflow { service, key } => invocations::workflow_run(tx, service, key),
    }
}

/// A command as the engine acts on it.
/// Commands held back to be journaled with the attempt's next job, as received.
type Silent = Vec<(Frame, Command)>;

enum Command {
    Output(Outcome),
    SetState(Vec<u8>, Vec<u8>),
    ClearState(Vec<u8>),
    ClearAllState,
    GetLazyState(Vec<u8>, u32),
    GetLazyStateKeys(u32),
    Sleep(u64, u32),
    Call(CallSpec),
    OneWayCall(CallSpec),
    Run,
    GetPromise(String, u32),
    PeekPromise(String, u32),
    CompletePromise(String, Outcome, u32),
    SendSignal {
        target: String,
        frame: Frame,
    },
    CompleteAwakeable {
        id: String,
        outcome: Outcome,
    },
    /// (target, (completion id, attach = true / get output = false))
    Attach(AttachTarget, (u32, bool)),
    GetOutput(AttachTarget, (u32, bool)),
    Other,
}

fn failure_outcome(f: pb::Failure) -> Outcome {
    Err((f.code as u16, f.message))
}

impl Command {
    /// Answers nothing and touches no other invocation: may wait for the attempt's next job.
    fn is_silent(&self) -> bool {
        matches!(
            self,
            Command::Output(_)
                | Command::SetState(..)
                | Command::ClearState(_)
                | Command::ClearAllState
                | Command::Run
        )
    }

    fn decode(frame: &Frame) -> Result<Command, protocol::ProtocolError> {
        Ok(match frame.ty {
            protocol::OUTPUT_COMMAND => {
                let m: pb::OutputCommandMessage = frame.decode_as()?;
                Command::Output(match m.result {
                    Some(pb::output_command_message::Result::Value(v)) => {
                        Ok(Bytes::from(v.content))
                    }
                    Some(pb::output_command_message::Result::Failure(f)) => failure_outcome(f),
                    None => Ok(Bytes::new()),
                })
            }
            protocol::SET_STATE_COMMAND => {
                let m: pb::SetStateCommandMessage = frame.decode_as()?;
                Command::SetState(m.key, m.value.map(|v| v.content).unwrap_or_default())
            }
            protocol::CLEAR_STATE_COMMAND => {
                Command::ClearState(frame.decode_as::<pb::ClearStateCommandMessage>()?.key)
            }
            protocol::CLEAR_ALL_STATE_COMMAND => Command::ClearAllState,
            protocol::GET_LAZY_STATE_COMMAND => {
                let m: pb::GetLazyStateCommandMessage = frame.decode_as()?;
                Command::GetLazyState(m.key, m.result_completion_id)
            }
            protocol::GET_LAZY_STATE_KEYS_COMMAND => Command::GetLazyStateKeys(
                frame
                    .decode_as::<pb::GetLazyStateKeysCommandMessage>()?
                    .result_completion_id,
            ),
            protocol::SLEEP_COMMAND => {
                let m: pb::SleepCommandMessage = frame.decode_as()?;
                Command::Sleep(m.wake_up_time, m.result_completion_id)
            }
            protocol::CALL_COMMAND => {
                let m: pb::CallCommandMessage = frame.decode_as()?;
                Command::Call(CallSpec {
                    service: m.service_name,
                    handler: m.handler_name,
                    key: m.key,
                    parameter: m.parameter,
                    headers: m.headers,
                    idempotency_key: m.idempotency_key,
                    invocation_id_notification_idx: m.invocation_id_notification_idx,
                    result_completion_id: Some(m.result_completion_id),
                    invoke_time: None,
                    kind: None,
                    target_missing: None,
                })
            }
            protocol::ONE_WAY_CALL_COMMAND => {
                let m: pb::OneWayCallCommandMessage = frame.decode_as()?;
                Command::OneWayCall(CallSpec {
                    service: m.service_name,
                    handler: m.handler_name,
                    key: m.key,
                    parameter: m.parameter,
                    headers: m.headers,
                    idempotency_key: m.idempotency_key,
                    invocation_id_notification_idx: m.invocation_id_notification_idx,
                    result_completion_id: None,
                    invoke_time: (m.invoke_time > 0).then_some(m.invoke_time),
                    kind: None,
                    target_missing: None,
                })
            }
            protocol::RUN_COMMAND => Command::Run,
            protocol::GET_PROMISE_COMMAND => {
                let m: pb::GetPromiseCommandMessage = frame.decode_as()?;
                Command::GetPromise(m.key, m.result_completion_id)
            }
            protocol::PEEK_PROMISE_COMMAND => {
                let m: pb::PeekPromiseCommandMessage = frame.decode_as()?;
                Command::PeekPromise(m.key, m.result_completion_id)
            }
            protocol::COMPLETE_PROMISE_COMMAND => {
                let m: pb::CompletePromiseCommandMessage = frame.decode_as()?;
                let outcome = match m.completion {
                    Some(pb::complete_promise_command_message::Completion::CompletionValue(v)) => {
                        Ok(Bytes::from(v.content))
                    }
                    Some(pb::complete_promise_command_message::Completion::CompletionFailure(
                        f,
                    )) => failure_outcome(f),
                    None => Ok(Bytes::new()),
                };
                Command::CompletePromise(m.key, outcome, m.result_completion_id)
            }
            protocol::SEND_SIGNAL_COMMAND => {
                let m: pb::SendSignalCommandMessage = frame.decode_as()?;
                let signal_id = m.signal_id.map(|s| match s {
                    pb::send_signal_command_message::SignalId::Idx(i) => {
                        pb::signal_notification_message::SignalId::Idx(i)
                    }
                    pb::send_signal_command_message::SignalId::Name(n) => {
                        pb::signal_notification_message::SignalId::Name(n)
                    }
                });
                let result = m.result.map(|r| match r {
                    pb::send_signal_command_message::Result::Void(v) => {
                        pb::signal_notification_message::Result::Void(v)
                    }
                    pb::send_signal_command_message::Result::Value(v) => {
                        pb::signal_notification_message::Result::Value(v)
                    }
                    pb::send_signal_command_message::Result::Failure(f) => {
                        pb::signal_notification_message::Result::Failure(f)
                    }
                });
                Command::SendSignal {
                    target: m.target_invocation_id,
                    frame: Frame::new(
                        protocol::SIGNAL_NOTIFICATION,
                        &pb::SignalNotificationMessage { signal_id, result },
                    ),
                }
            }
            protocol::COMPLETE_AWAKEABLE_COMMAND => {
                let m: pb::CompleteAwakeableCommandMessage = frame.decode_as()?;
                Command::CompleteAwakeable {
                    id: m.awakeable_id,
                    outcome: match m.result {
                        Some(pb::complete_awakeable_command_message::Result::Value(v)) => {
                            Ok(Bytes::from(v.content))
                        }
                        Some(pb::complete_awakeable_command_message::Result::Failure(f)) => {
                            failure_outcome(f)
                        }
                        None => Ok(Bytes::new()),
                    },
                }
            }
            protocol::ATTACH_INVOCATION_COMMAND => {
                let m: pb::AttachInvocationCommandMessage = frame.decode_as()?;
                Command::Attach(
                    attach_target(m.target.map(AttachKind::Attach)),
                    (m.result_completion_id, true),
                )
            }
            protocol::GET_INVOCATION_OUTPUT_COMMAND => {
                let m: pb::GetInvocationOutputCommandMessage = frame.decode_as()?;
                Command::GetOutput(
                    attach_target(m.target.map(AttachKind::Output)),
                    (m.result_completion_id, false),
                )
            }
            _ => Command::Other,
        })
    }
}

enum AttachKind {
    Attach(pb::attach_invocation_command_message::Target),
    Output(pb::get_invocation_output_command_message::Target),
}

fn attach_target(target: Option<AttachKind>) -> AttachTarget {
    use pb::attach_invocation_command_message::Target as A;
    use pb::get_invocation_output_command_message::Target as O;
    let idempotent = |t: pb::IdempotentRequestTarget| AttachTarget::Idempotent {
        service: t.service_name,
        key: t.service_key.unwrap_or_default(),
        handler: t.handler_name,
        idempotency_key: t.idempotency_key,
    };
    let workflow = |t: pb::WorkflowTarget| AttachTarget::Workflow {
        service: t.workflow_name,
        key: t.workflow_key,
    };
    match target {
        Some(AttachKind::Attach(A::InvocationId(id)))
        | Some(AttachKind::Output(O::InvocationId(id))) => AttachTarget::Id(id),
        Some(AttachKind::Attach(A::IdempotentRequestTarget(t)))
        | Some(AttachKind::Output(O::IdempotentRequestTarget(t))) => idempotent(t),
        Some(AttachKind::Attach(A::WorkflowTarget(t)))
        | Some(AttachKind::Output(O::WorkflowTarget(t))) => workflow(t),
        None => AttachTarget::Id(String::new()),
    }
}

fn promise_target(service: &str, key: &str, name: &str) -> String {
    format!("{service}\u{0}{key}\u{0}{name}")
}

fn promise_frame(ty: u16, completion_id: u32, outcome: Option<&Outcome>) -> Frame {
    match ty {
        protocol::GET_PROMISE_COMPLETION_NOTIFICATION => {
            use pb::get_promise_completion_notification_message::Result as R;
            let result = match outcome {
                Some(Ok(v)) => R::Value(pb::Value {
                    content: v.to_vec(),
                }),
                Some(Err((c, m))) => R::Failure(pb::Failure {
                    code: *c as u32,
                    message: m.clone(),
                    metadata: vec![],
                }),
                None => R::Value(pb::Value { content: vec![] }),
            };
            Frame::new(
                ty,
                &pb::GetPromiseCompletionNotificationMessage {
                    completion_id,
                    result: Some(result),
                },
            )
        }
        _ => {
            use pb::peek_promise_completion_notification_message::Result as R;
            let result = match outcome {
                Some(Ok(v)) => R::Value(pb::Value {
                    content: v.to_vec(),
                }),
                Some(Err((c, m))) => R::Failure(pb::Failure {
                    code: *c as u32,
                    message: m.clone(),
                    metadata: vec![],
                }),
                None => R::Void(pb::Void {}),
            };
            Frame::new(
                protocol::PEEK_PROMISE_COMPLETION_NOTIFICATION,
                &pb::PeekPromiseCompletionNotificationMessage {
                    completion_id,
                    result: Some(result),
                },
            )
        }
    }
}

fn call_completion_frame(completion_id: u32, outcome: &Outcome) -> Frame {
    use pb::call_completion_notification_message::Result as R;
    let result = match outcome {
        Ok(v) => R::Value(pb::Value {
            content: v.to_vec(),
        }),
        Err((c, m)) => R::Failure(pb::Failure {
            code: *c as u32,
            message: m.clone(),
            metadata: vec![],
        }),
    };
    Frame::new(
        protocol::CALL_COMPLETION_NOTIFICATION,
        &pb::CallCompletionNotificationMessage {
            completion_id,
            result: Some(result),
        },
    )
}

fn output_frame(attach: bool, completion_id: u32, outcome: Option<&Outcome>) -> Frame {
    if attach {
        use pb::attach_invocation_completion_notification_message::Result as R;
        let result = match outcome {
            Some(Ok(v)) => R::Value(pb::Value {
                content: v.to_vec(),
            }),
            Some(Err((c, m))) => R::Failure(pb::Failure {
                code: *c as u32,
                message: m.clone(),
                metadata: vec![],
            }),
            None => R::Value(pb::Value { content: vec![] }),
        };
        Frame::new(
            protocol::ATTACH_INVOCATION_COMPLETION_NOTIFICATION,
            &pb::AttachInvocationCompletionNotificationMessage {
                completion_id,
                result: Some(result),
            },
        )
    } else {
        use pb::get_invocation_output_completion_notification_message::Result as R;
        let result = match outcome {
            Some(Ok(v)) => R::Value(pb::Value {
                content: v.to_vec(),
            }),
            Some(Err((c, m))) => R::Failure(pb::Failure {
                code: *c as u32,
                message: m.clone(),
                metadata: vec![],
            }),
            None => R::Void(pb::Void {}),
        };
        Frame::new(
            protocol::GET_INVOCATION_OUTPUT_COMPLETION_NOTIFICATION,
            &pb::GetInvocationOutputCompletionNotificationMessage {
                completion_id,
                result: Some(result),
            },
        )
    }
}

fn outcome_to_result(outcome: Outcome) -> Result<Bytes, EngineError> {
    outcome.map_err(|(code, message)| EngineError::Terminal { code, message })
}

fn raw_frame(ty: u16, payload: Bytes) -> Frame {
    Frame {
        ty,
        flags: 0,
        payload,
    }
}

enum NotificationId {
    Completion(u32),
    Signal(u32),
}

/// Which completion or signal a journaled notification answers.
fn notification_id(frame: &Frame) -> Option<NotificationId> {
    if frame.ty == protocol::SIGNAL_NOTIFICATION {
        let message: pb::SignalNotificationMessage = frame.decode_as().ok()?;
        return match message.signal_id? {
            pb::signal_notification_message::SignalId::Idx(i) => Some(NotificationId::Signal(i)),
            pb::signal_notification_message::SignalId::Name(_) => None,
        };
    }
    // Every completion notification keeps its completion id in field 1; read just that.
    let message: pb::SleepCompletionNotificationMessage = frame.decode_as().ok()?;
    Some(NotificationId::Completion(message.completion_id))
}

/// The error for a message from the endpoint that does not decode.
fn undecodable(frame: &Frame, error: impl std::fmt::Display) -> EngineError {
    EngineError::Protocol(format!(
        "the endpoint sent a {} that does not decode: {error}",
        protocol::type_name(frame.ty)
    ))
}

/// Asks the endpoint for its services, as a Restate server does at registration.
async fn discover(
    deployment: &Deployment,
) -> Result<(HashMap<String, ServiceMeta>, String), EngineError> {
    let request = ::http::Request::builder()
        .method("GET")
        .uri("/discover")
        .header("accept", protocol::DISCOVERY_ACCEPT)
        .body(deployment::empty())
        .expect("a valid request");
    let response = deployment.send(request).await?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| EngineError::Discovery(format!("{}: {e}", deployment.describe())))?
        .to_bytes();
    if !status.is_success() {
        return Err(EngineError::Discovery(format!(
            "{} answered {status}: {}",
            deployment.describe(),
            String::from_utf8_lossy(&body)
        )));
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| EngineError::Discovery(e.to_string()))?;
    // Speak the newest version both sides know; the engine implements V5 and V6.
    let min = manifest["minProtocolVersion"].as_u64().unwrap_or(5);
    let max = manifest["maxProtocolVersion"].as_u64().unwrap_or(5);
    let version = max.min(6);
    if version < 5 || version < min {
        return Err(EngineError::Discovery(format!(
            "{} speaks service protocol versions {min} to {max}; the engine speaks 5 and 6",
            deployment.describe()
        )));
    }
    let content_type = format!("application/vnd.restate.invocation.v{version}");
    let mut services = HashMap::new();
    for service in manifest["services"].as_array().into_iter().flatten() {
        let name = service["name"].as_str().unwrap_or_default().to_owned();
        let kind = match service["ty"].as_str() {
            Some("VIRTUAL_OBJECT") => ServiceKind::Object,
            Some("WORKFLOW") => ServiceKind::Workflow,
            _ => ServiceKind::Service,
        };
        let mut handlers = HashMap::new();
        let mut configs = HashMap::new();
        let mut inputs = HashMap::new();
        let service_config = HandlerConfig::from_manifest(service, &HandlerConfig::default());
        for handler in service["handlers"].as_array().into_iter().flatten() {
            let name = handler["name"].as_str().unwrap_or_default().to_owned();
            configs.insert(
                name.clone(),
                HandlerConfig::from_manifest(handler, &service_config),
            );
            inputs.insert(
                name.clone(),
                ingress::InputRule::from_manifest(&handler["input"]),
            );
            let handler_kind = match (kind, handler["ty"].as_str()) {
                (ServiceKind::Service, _) => HandlerKind::Stateless,
                (_, Some("SHARED")) => HandlerKind::Shared,
                (ServiceKind::Workflow, _) => HandlerKind::WorkflowRun,
                (ServiceKind::Object, _) => HandlerKind::Exclusive,
            };
            handlers.insert(name, handler_kind);
        }
        services.insert(
            name,
            ServiceMeta {
                kind,
                handlers,
                configs,
                inputs,
            },
        );
    }
    Ok((services, content_type))
}
