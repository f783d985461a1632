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
mod core;
mod crash;
mod deployment;
mod effects;
mod http;
mod ids;
mod invoker;
#[doc(hidden)]
pub mod probe;
pub(crate) mod protocol;
mod recovery;
#[cfg(test)]
mod recovery_tests;
mod retention;
mod scheduler;
#[cfg(test)]
mod scheduler_tests;
mod status;
mod store;
mod timers;
mod transport;

pub use self::http::admin::{InvocationDetails, InvocationSummary, JournalEntry, ServiceInfo};
pub use self::http::ingress::{AdminServer, IngressServeError, IngressServer, MAX_REQUEST_BODY};
pub use clock::{Clock, ManualClock, SystemClock};
pub use crash::CrashPoint;

use self::core::{Delivery, awakeable_delivery, enqueue, promise_frame, promise_target};
use self::http::{ingress, metrics};
use bytes::Bytes;
use deployment::Deployment;
use protocol::{Frame, pb};
use recovery::discover;
use restate_sdk::endpoint::Endpoint;
use status::InvocationStatus;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::invocations::{self, Invocation, NewInvocation};
use store::waiters::{self, Awaited};
use store::{CommitHook, Store, StoreError, idempotency, journal, promises, state};
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
    /// The plumbing of delivery (see [`Registry`]).
    registry: Mutex<Registry>,
    /// The scheduler task's inbox: admissions, starts, ends (see `scheduler.rs`).
    scheduler: scheduler::Sender,
    /// Crashes the test harness asked for, each fired once.
    crashes: Mutex<Vec<(Target, CrashPoint)>>,
    timer_wake: Arc<Notify>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// The plumbing of delivery, shared by the attempts, deliveries and the API: what reaches an
/// attempt in flight and who waits for an outcome. It decides nothing about what runs (the
/// scheduler task does); each lock is held for a map operation, never across an await.
#[derive(Default)]
struct Registry {
    /// Invocations with an attempt in flight: the sender of its request body.
    running: HashMap<String, mpsc::UnboundedSender<Bytes>>,
    /// Per-invocation locks that keep journal appends and their delivery in one order.
    journal_locks: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// In-process waiters for completion.
    watchers: HashMap<String, Vec<oneshot::Sender<Outcome>>>,
}

fn now_ms(clock: &dyn Clock) -> i64 {
    clock.now_millis() as i64
}

/// What an attempt starts from: the invocation, its journal (type, payload), its key's state
/// (unless lazy) and whether the state is lazy.
type Loaded = (
    Invocation,
    Vec<(u16, Vec<u8>)>,
    Vec<pb::start_message::StateEntry>,
    bool,
);

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
        let (scheduler, inbox) = mpsc::unbounded_channel();
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
            registry: Mutex::new(Registry::default()),
            scheduler,
            crashes: Mutex::new(Vec::new()),
            timer_wake: Arc::new(Notify::new()),
            shutdown,
        });
        inner.clock.set_waker(Arc::clone(&inner.timer_wake));
        let engine = Engine { inner };
        if let Err(e) = engine.recover(inbox).await {
            engine.shutdown().await;
            return Err(e);
        }
        let timers = engine.clone();
        tokio::spawn(async move { timers.timer_loop().await });
        let cleaner = engine.clone();
        tokio::spawn(async move { cleaner.cleanup_loop().await });
        Ok(engine)
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
                .registry
                .lock()
                .unwrap()
                .watchers
                .insert(id.clone(), vec![sender]);
            receiver
        });
        let watched = id.clone();
        let seed = ids::random_seed();
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
                    journal::append_first(tx, &id, input_frame.ty, &input_frame.payload)?;
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
                self.inner
                    .registry
                    .lock()
                    .unwrap()
                    .watchers
                    .remove(&watched);
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
            self.schedule(scheduler::Message::Start {
                id: submitted.invocation_id.clone(),
                loaded: Some(Box::new(loaded)),
            });
        } else if delayed {
            self.inner.timer_wake.notify_one();
        } else if start_now {
            self.admit(
                submitted.invocation_id.clone(),
                target.service.clone(),
                target.key.clone(),
                kind,
            );
        }
        Ok((submitted, watcher))
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
            .registry
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
    /// is opened again), the scheduler and timers stop.
    pub async fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        let running: Vec<_> = self
            .inner
            .registry
            .lock()
            .unwrap()
            .running
            .drain()
            .collect();
        drop(running);
        self.inner.timer_wake.notify_waiters();
    }

    fn is_shut_down(&self) -> bool {
        *self.inner.shutdown.borrow()
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
    /// policy): it gets a fresh attempt. [`EngineError::Conflict`] for an invocation that is
    /// not paused (nothing changes), [`EngineError::UnknownInvocation`] for one that does not
    /// exist.
    pub async fn resume(&self, invocation_id: &str) -> Result<(), EngineError> {
        let id = invocation_id.to_owned();
        let resumed = self
            .inner
            .store
            .run(move |tx| invocations::resume_paused(tx, &id))
            .await?;
        match resumed {
            Ok(()) => {
                self.schedule(scheduler::Message::Start {
                    id: invocation_id.to_owned(),
                    loaded: None,
                });
                Ok(())
            }
            Err(None) => Err(EngineError::UnknownInvocation(invocation_id.to_owned())),
            Err(Some(status)) => Err(EngineError::Conflict {
                id: invocation_id.to_owned(),
                reason: format!("it is {status}, not paused: only a paused invocation resumes"),
            }),
        }
    }
}

impl Engine {
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

fn outcome_to_result(outcome: Outcome) -> Result<Bytes, EngineError> {
    outcome.map_err(|(code, message)| EngineError::Terminal { code, message })
}
