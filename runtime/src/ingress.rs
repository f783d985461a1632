//! Typed calls from outside Restate, through its ingress HTTP API, or to an ingress in the
//! same process.
//!
//! An application that is not itself a Restate handler (a web backend, a CLI, a test) reaches
//! services through the ingress, `http://HOST:8080` on a default restate-server and the same
//! paths on the embedded engine. The generated `FooIngressClient` wraps an [`IngressClient`]
//! and names the service and handlers for you; this module is what it stands on, and it can be
//! used directly too.
//!
//! * Create one [`IngressClient`] per ingress and share it: clones are cheap and use one
//!   connection pool. [`IngressClient::builder`] adds a bearer token, headers sent with every
//!   request and timeouts.
//! * [`IngressClient::request`] builds an [`IngressRequest`] for one handler ([`Target`]); then
//!   [`call`](IngressRequest::call) waits for the response, [`send`](IngressRequest::send)
//!   only enqueues the invocation and returns its id, [`send_after`](IngressRequest::send_after)
//!   enqueues it to start after a delay.
//! * An [idempotency key](IngressRequest::idempotency_key) makes the call run once per key;
//!   its result can later be fetched with [`attach_idempotent`](IngressClient::attach_idempotent)
//!   (waits) or [`output_idempotent`](IngressClient::output_idempotent) (does not wait). A sent
//!   invocation is reached by id with [`attach`](IngressClient::attach) and
//!   [`output`](IngressClient::output), a workflow by its id with
//!   [`workflow_attach`](IngressClient::workflow_attach) and
//!   [`workflow_output`](IngressClient::workflow_output).
//!
//! ```no_run
//! use restate_rs::codec::Json;
//! use restate_rs::ingress::{IngressClient, IngressError, Target};
//! use restate_rs::pbjson_types::Struct;
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), IngressError> {
//! let client = IngressClient::builder("http://127.0.0.1:8080")
//!     .bearer_token("secret")
//!     .timeout(Duration::from_secs(30))
//!     .build()?;
//!
//! // Call a virtual object handler and wait for its answer.
//! let target = Target::object("hydra.v1.DeployService", "web-1", "Deploy");
//! let result = client
//!     .request::<Struct, Struct, Json>(target.clone(), Struct::default())
//!     .idempotency_key("deploy-web-1-v42")
//!     .call()
//!     .await;
//! match result {
//!     Ok(response) => println!("deployed: {response:?}"),
//!     // The handler failed with a terminal error: not retried, here is its code and message.
//!     Err(IngressError::Terminal { code, message, .. }) => println!("failed ({code}): {message}"),
//!     Err(other) => return Err(other),
//! }
//!
//! // Fire and forget, then come back for the result later.
//! let sent = client
//!     .request::<Struct, Struct, Json>(target, Struct::default())
//!     .send_after(Duration::from_secs(60))
//!     .await?;
//! let later: Struct = client.attach::<Struct, Json>(&sent.invocation_id).await?;
//! # let _ = later;
//! # Ok(())
//! # }
//! ```
//!
//! ## Errors
//!
//! Every failure is an [`IngressError`] whose message says what failed and where. The answer
//! of the ingress is read as follows:
//!
//! * a 2xx response is decoded with the codec (an empty body is the default message);
//! * an error response that comes from the invocation is its
//!   [`Terminal`](IngressError::Terminal) error, with the code and message of its
//!   `{"code", "message"}` body. restate-server says so with `x-restate-error-source:
//!   invocation`; where that header (and the body's `source`) is missing, a response that
//!   carries `x-restate-id` counts as the invocation's;
//! * any other status 470 is [`NotReady`](IngressError::NotReady): an output was asked for
//!   before the invocation completed;
//! * anything else was raised by the ingress itself: 404 is
//!   [`NotFound`](IngressError::NotFound) (no such service, handler or invocation), any other
//!   status is [`Status`](IngressError::Status), with the `message` of the body (or its text);
//! * when the ingress cannot be reached the error is [`Connect`](IngressError::Connect), which
//!   means the request was not delivered; a request that timed out is
//!   [`Timeout`](IngressError::Timeout), and one that broke off after it went out is
//!   [`Transport`](IngressError::Transport): the invocation may or may not have started.
//!
//! ## Paths
//!
//! Service names, keys, handler names, invocation ids and idempotency keys are percent-encoded
//! into the path, so keys may hold `/`, spaces or any Unicode. The keys `.` and `..` cannot be
//! sent (URLs read them as steps in the path) and are refused with
//! [`InvalidUrl`](IngressError::InvalidUrl). The base URL may end in `/` and may carry a path
//! prefix (`http://gateway/restate/`) under which the ingress paths are appended.
//!
//! ## In process
//!
//! [`IngressClient::in_process`] makes a client of an ingress in the same process, such as
//! the embedded engine (`engine.ingress()`), through the [`IngressTransport`] trait: the
//! request goes as a typed value ([`HandlerRequest`], [`InvocationRef`]) and comes back as one
//! ([`Completion`], [`SendResponse`] or a [`Rejection`]), with no URL, header or status code on
//! the way. The client checks and refuses what it would over HTTP (keys `.` and `..`, header
//! values HTTP does not allow), and reads every answer into the same [`IngressError`] as the
//! HTTP answer of that ingress, with the same message.

use crate::codec::{Codec, DecodeError, EncodeError, Json};
use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The header in which the ingress names the invocation that answered.
const RESTATE_ID: &str = "x-restate-id";
/// The header in which restate-server says who raised an error: `invocation` or `ingress`.
const ERROR_SOURCE: &str = "x-restate-error-source";
/// The header that makes an invocation idempotent.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The status with which the ingress says that an output is not ready yet.
const NOT_READY: u16 = 470;
/// How much of a response body an error message quotes at most.
const QUOTE_LIMIT: usize = 512;

/// A client for the Restate ingress HTTP API.
///
/// Holds one HTTP client with its connection pool; cloning is cheap and clones share the pool,
/// so create one per ingress and pass clones around.
///
/// ```no_run
/// # use restate_rs::ingress::IngressClient;
/// # fn demo() -> Result<(), restate_rs::ingress::IngressError> {
/// let client = IngressClient::new("http://127.0.0.1:8080")?;
/// assert_eq!(client.base_url(), "http://127.0.0.1:8080");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct IngressClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    /// The base URL without a trailing slash; paths are appended to it.
    base: String,
}

/// Where requests go.
enum Transport {
    /// Over HTTP to an ingress.
    Http(reqwest::Client),
    /// Typed, to an ingress in this process (an embedded engine).
    InProcess(Arc<dyn IngressTransport>),
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(http) => f.debug_tuple("Http").field(http).finish(),
            Self::InProcess(_) => f.write_str("InProcess"),
        }
    }
}

/// Configures an [`IngressClient`]: authentication, headers and timeouts.
///
/// Made by [`IngressClient::builder`]; nothing is checked until [`build`](Self::build).
#[must_use = "a builder does nothing until `build` is called"]
pub struct IngressClientBuilder {
    base_url: String,
    bearer_token: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
}

impl fmt::Debug for IngressClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a secret: say only whether there is one.
        f.debug_struct("IngressClientBuilder")
            .field("base_url", &self.base_url)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

impl IngressClientBuilder {
    /// Sends `authorization: Bearer <token>` with every request.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// Sends this header with every request. A header of the same name set on one request
    /// replaces it for that request.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The longest a request may take, from connecting to the last byte of the response, unless
    /// the request sets its own with [`IngressRequest::timeout`]. There is none by default: a
    /// call waits as long as its handler runs.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The longest the client may take to open a connection to the ingress.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Checks the base URL and the headers and builds the client.
    ///
    /// Fails with [`IngressError::InvalidUrl`] for a base URL that is not an `http` or `https`
    /// URL without query or fragment, [`IngressError::InvalidHeader`] for a header name or
    /// value (the token included) that HTTP does not allow.
    pub fn build(self) -> Result<IngressClient, IngressError> {
        let base = normalize_base_url(&self.base_url)?;

        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let (name, value) = parse_header(name, value)?;
            headers.append(name, value);
        }
        if let Some(token) = &self.bearer_token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                IngressError::InvalidHeader {
                    name: AUTHORIZATION.to_string(),
                    reason: "the bearer token holds characters a header value cannot".to_owned(),
                }
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }

        let mut http = reqwest::Client::builder()
            .user_agent(concat!("restate-rs/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers);
        if let Some(timeout) = self.timeout {
            http = http.timeout(timeout);
        }
        if let Some(timeout) = self.connect_timeout {
            http = http.connect_timeout(timeout);
        }
        let http = http
            .build()
            .map_err(|source| IngressError::Build { source })?;

        Ok(IngressClient {
            inner: Arc::new(Inner {
                transport: Transport::Http(http),
                base,
            }),
        })
    }
}

impl IngressClient {
    /// A client of an ingress in this process, reached by typed calls instead of HTTP: an
    /// embedded engine (`IngressClient::in_process(engine)`, which is what `engine.ingress()`
    /// returns), or any other [`IngressTransport`]. The same calls, answers and errors, with
    /// no port, no network and no HTTP encoding. [`IngressRequest::timeout`] applies as over
    /// HTTP. (The base URL is a placeholder that is never connected to; errors that name a
    /// URL name one under it.)
    pub fn in_process(transport: impl IngressTransport) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport: Transport::InProcess(Arc::new(transport)),
                base: "http://embedded-engine".to_owned(),
            }),
        }
    }

    /// A client for the ingress at `base_url` (for example `http://127.0.0.1:8080`), with no
    /// authentication and no timeouts; see [`builder`](Self::builder) for those.
    ///
    /// Fails with [`IngressError::InvalidUrl`] if `base_url` is not an `http` or `https` URL
    /// without query or fragment.
    pub fn new(base_url: impl AsRef<str>) -> Result<Self, IngressError> {
        Self::builder(base_url).build()
    }

    /// Starts configuring a client for the ingress at `base_url`.
    pub fn builder(base_url: impl AsRef<str>) -> IngressClientBuilder {
        IngressClientBuilder {
            base_url: base_url.as_ref().to_owned(),
            bearer_token: None,
            headers: Vec::new(),
            timeout: None,
            connect_timeout: None,
        }
    }

    /// The base URL that request paths are appended to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// A request to the handler `target` with the message `request`, to be
    /// [called](IngressRequest::call) or [sent](IngressRequest::send). Payloads travel with the
    /// codec `C` ([`Json`] unless the code was generated for binary protobuf).
    pub fn request<Req, Res, C: Codec<Req> + Codec<Res>>(
        &self,
        target: Target,
        request: Req,
    ) -> IngressRequest<Req, Res, C> {
        IngressRequest {
            client: self.clone(),
            target,
            request,
            idempotency_key: None,
            declared_idempotency_key: None,
            refused: None,
            headers: Vec::new(),
            timeout: None,
            types: PhantomData,
        }
    }

    /// Waits for the invocation `invocation_id` (as [`send`](IngressRequest::send) returned
    /// it) to complete and returns its response, or its terminal error.
    ///
    /// `GET /restate/invocation/{invocation_id}/attach`
    pub async fn attach<Res, C: Codec<Res>>(
        &self,
        invocation_id: &str,
    ) -> Result<Res, IngressError> {
        let op = Op::new(format!("invocation {invocation_id}"), Some(invocation_id));
        let invocation = InvocationRef::Id(invocation_id.to_owned());
        self.lookup::<Res, C>(&op, invocation, true).await
    }

    /// The response of the completed invocation `invocation_id`, without waiting:
    /// [`IngressError::NotReady`] if it has not completed yet. The ingress keeps outputs only
    /// for invocations with an idempotency key and for workflows.
    ///
    /// `GET /restate/invocation/{invocation_id}/output`
    pub async fn output<Res, C: Codec<Res>>(
        &self,
        invocation_id: &str,
    ) -> Result<Res, IngressError> {
        let op = Op::new(format!("invocation {invocation_id}"), Some(invocation_id));
        let invocation = InvocationRef::Id(invocation_id.to_owned());
        self.lookup::<Res, C>(&op, invocation, false).await
    }

    /// Waits for the invocation of `target` made with `idempotency_key` to complete and
    /// returns its response, or its terminal error.
    ///
    /// `GET /restate/invocation/{service}[/{key}]/{handler}/{idempotency_key}/attach`
    pub async fn attach_idempotent<Res, C: Codec<Res>>(
        &self,
        target: &Target,
        idempotency_key: &str,
    ) -> Result<Res, IngressError> {
        self.idempotent::<Res, C>(target, idempotency_key, true)
            .await
    }

    /// The response of the completed invocation of `target` made with `idempotency_key`,
    /// without waiting: [`IngressError::NotReady`] if it has not completed yet.
    ///
    /// `GET /restate/invocation/{service}[/{key}]/{handler}/{idempotency_key}/output`
    pub async fn output_idempotent<Res, C: Codec<Res>>(
        &self,
        target: &Target,
        idempotency_key: &str,
    ) -> Result<Res, IngressError> {
        self.idempotent::<Res, C>(target, idempotency_key, false)
            .await
    }

    /// Waits for the run of the workflow `workflow` with id `id` to complete and returns its
    /// response, or its terminal error.
    ///
    /// `GET /restate/workflow/{workflow}/{id}/attach`
    pub async fn workflow_attach<Res, C: Codec<Res>>(
        &self,
        workflow: &str,
        id: &str,
    ) -> Result<Res, IngressError> {
        self.workflow::<Res, C>(workflow, id, true).await
    }

    /// The response of the completed run of the workflow `workflow` with id `id`, without
    /// waiting: [`IngressError::NotReady`] if it has not completed yet.
    ///
    /// `GET /restate/workflow/{workflow}/{id}/output`
    pub async fn workflow_output<Res, C: Codec<Res>>(
        &self,
        workflow: &str,
        id: &str,
    ) -> Result<Res, IngressError> {
        self.workflow::<Res, C>(workflow, id, false).await
    }

    async fn workflow<Res, C: Codec<Res>>(
        &self,
        workflow: &str,
        id: &str,
        wait: bool,
    ) -> Result<Res, IngressError> {
        let op = Op::new(format!("workflow {workflow}/{id}"), None);
        let invocation = InvocationRef::Workflow {
            name: workflow.to_owned(),
            id: id.to_owned(),
        };
        self.lookup::<Res, C>(&op, invocation, wait).await
    }

    async fn idempotent<Res, C: Codec<Res>>(
        &self,
        target: &Target,
        idempotency_key: &str,
        wait: bool,
    ) -> Result<Res, IngressError> {
        let op = Op::new(
            format!("{target} with idempotency key {idempotency_key}"),
            None,
        );
        let invocation = InvocationRef::Idempotent {
            target: HandlerAddress::from(target),
            idempotency_key: idempotency_key.to_owned(),
        };
        self.lookup::<Res, C>(&op, invocation, wait).await
    }

    /// Attaches to `invocation` (`wait`) or asks for its output.
    async fn lookup<Res, C: Codec<Res>>(
        &self,
        op: &Op<'_>,
        invocation: InvocationRef,
        wait: bool,
    ) -> Result<Res, IngressError> {
        let mut segments = invocation.segments();
        segments.push(if wait { "attach" } else { "output" });
        match &self.inner.transport {
            Transport::InProcess(transport) => {
                self.check_segments(&segments)?;
                let answer = if wait {
                    transport.attach(invocation).await
                } else {
                    transport.output(invocation).await
                };
                completion_into_message::<Res, C>(answer, op)
            }
            Transport::Http(http) => {
                let url = self.url(&segments, None)?;
                let request = http
                    .request(Method::GET, url.clone())
                    .header(ACCEPT, HeaderValue::from_static(C::CONTENT_TYPE));
                exchange(request, &url).await?.into_message::<Res, C>(op)
            }
        }
    }

    /// Refuses the segments `.` and `..`, which a URL cannot carry: a request must be one
    /// that could be sent over HTTP, wherever it goes.
    fn check_segments(&self, segments: &[&str]) -> Result<(), IngressError> {
        match segments.iter().find(|s| matches!(**s, "." | "..")) {
            Some(segment) => Err(IngressError::InvalidUrl {
                url: format!("{}/{}", self.inner.base, segments.join("/")),
                reason: format!(
                    "the path segment `{segment}` cannot be sent, URLs read it as a step in the path"
                ),
            }),
            None => Ok(()),
        }
    }

    /// The URL of `segments` (percent-encoded, one path segment each) under the base URL.
    fn url(&self, segments: &[&str], query: Option<&str>) -> Result<Url, IngressError> {
        self.check_segments(segments)?;
        let mut url = self.inner.base.clone();
        for segment in segments {
            url.push('/');
            push_encoded(&mut url, segment);
        }
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        Url::parse(&url).map_err(|e| IngressError::InvalidUrl {
            url,
            reason: e.to_string(),
        })
    }
}

/// The handler an [`IngressRequest`] is addressed to.
///
/// Displays as the ingress path does, unencoded: `service/handler` or `service/key/handler`.
///
/// ```
/// # use restate_rs::ingress::Target;
/// let target = Target::object("hydra.v1.DeployService", "web-1", "Deploy");
/// assert_eq!(target.to_string(), "hydra.v1.DeployService/web-1/Deploy");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A handler of a stateless service.
    Service {
        /// Fully qualified service name, e.g. `hydra.v1.BuildService`.
        service: String,
        /// Handler name, e.g. `Build`.
        handler: String,
    },
    /// A handler of one virtual object.
    Object {
        /// Fully qualified service name.
        service: String,
        /// The object's key.
        key: String,
        /// Handler name.
        handler: String,
    },
    /// A handler of one workflow (its run handler, or a shared signal or query handler).
    Workflow {
        /// Fully qualified workflow name.
        service: String,
        /// The workflow id.
        key: String,
        /// Handler name.
        handler: String,
    },
}

impl Target {
    /// A handler of a stateless service.
    pub fn service(service: impl Into<String>, handler: impl Into<String>) -> Self {
        Self::Service {
            service: service.into(),
            handler: handler.into(),
        }
    }

    /// A handler of the virtual object `service` with key `key`.
    pub fn object(
        service: impl Into<String>,
        key: impl Into<String>,
        handler: impl Into<String>,
    ) -> Self {
        Self::Object {
            service: service.into(),
            key: key.into(),
            handler: handler.into(),
        }
    }

    /// A handler of the workflow `service` with id `key`.
    pub fn workflow(
        service: impl Into<String>,
        key: impl Into<String>,
        handler: impl Into<String>,
    ) -> Self {
        Self::Workflow {
            service: service.into(),
            key: key.into(),
            handler: handler.into(),
        }
    }

    /// The service (or object, or workflow) name.
    pub fn service_name(&self) -> &str {
        match self {
            Self::Service { service, .. }
            | Self::Object { service, .. }
            | Self::Workflow { service, .. } => service,
        }
    }

    /// The object key or workflow id; `None` for a stateless service.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Service { .. } => None,
            Self::Object { key, .. } | Self::Workflow { key, .. } => Some(key),
        }
    }

    /// The handler name.
    pub fn handler_name(&self) -> &str {
        match self {
            Self::Service { handler, .. }
            | Self::Object { handler, .. }
            | Self::Workflow { handler, .. } => handler,
        }
    }

    /// The path segments naming the handler, unencoded.
    fn segments(&self) -> Vec<&str> {
        match self {
            Self::Service { service, handler } => vec![service, handler],
            Self::Object {
                service,
                key,
                handler,
            }
            | Self::Workflow {
                service,
                key,
                handler,
            } => vec![service, key, handler],
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments().join("/"))
    }
}

/// A boxed future of an [`IngressTransport`]: its answer, or why the ingress refused the
/// request.
pub type TransportFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Rejection>> + Send + 'a>>;

/// An ingress in this process, reached by typed calls instead of HTTP.
///
/// [`IngressClient::in_process`] sends its requests to one: the embedded engine implements
/// it (`restate_rs::engine::Engine`, feature `engine`). Each method is one request of the
/// ingress HTTP API, with what the client would have encoded in its path, headers and body
/// as fields, and what it would have read from the response as a typed answer. The
/// implementation refuses what restate-server refuses, with a [`Rejection`] that the client
/// turns into the [`IngressError`] an HTTP answer with the same status would give.
pub trait IngressTransport: Send + Sync + 'static {
    /// Invokes the handler and waits for the invocation to end.
    ///
    /// As `POST /{service}[/{key}]/{handler}`.
    fn call(&self, request: HandlerRequest) -> TransportFuture<'_, Completion>;

    /// Enqueues an invocation of the handler, to start after `delay` if there is one, and
    /// answers without waiting for it.
    ///
    /// As `POST /{service}[/{key}]/{handler}/send[?delay=...]`.
    fn send(
        &self,
        request: HandlerRequest,
        delay: Option<Duration>,
    ) -> TransportFuture<'_, SendResponse>;

    /// Waits for the invocation to end.
    ///
    /// As `GET /restate/invocation/.../attach` or `GET /restate/workflow/.../attach`.
    fn attach(&self, invocation: InvocationRef) -> TransportFuture<'_, Completion>;

    /// How the invocation ended, without waiting: [`Rejection::NotReady`] if it has not.
    ///
    /// As `GET /restate/invocation/.../output` or `GET /restate/workflow/.../output`.
    fn output(&self, invocation: InvocationRef) -> TransportFuture<'_, Completion>;
}

/// A handler as the ingress addresses it: what a [`Target`] becomes on the way, without
/// saying whether a key is an object's or a workflow's (the ingress knows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerAddress {
    /// Fully qualified service name.
    pub service: String,
    /// The key of a virtual object, or the id of a workflow; `None` for a stateless service.
    pub key: Option<String>,
    /// Handler name.
    pub handler: String,
}

impl HandlerAddress {
    /// The path segments naming the handler, unencoded.
    pub(crate) fn segments(&self) -> Vec<&str> {
        let mut segments = vec![self.service.as_str()];
        segments.extend(self.key.as_deref());
        segments.push(&self.handler);
        segments
    }
}

impl From<&Target> for HandlerAddress {
    fn from(target: &Target) -> Self {
        Self {
            service: target.service_name().to_owned(),
            key: target.key().map(str::to_owned),
            handler: target.handler_name().to_owned(),
        }
    }
}

impl fmt::Display for HandlerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments().join("/"))
    }
}

/// A call or send of a handler, as an [`IngressTransport`] receives it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HandlerRequest {
    /// The handler.
    pub target: HandlerAddress,
    /// The encoded request message.
    pub input: Bytes,
    /// The content type of `input` (the request's `content-type`).
    pub content_type: Option<String>,
    /// The content type the caller accepts back (the request's `accept`).
    pub accept: Option<String>,
    /// The idempotency key (header `idempotency-key`).
    pub idempotency_key: Option<String>,
    /// The headers set on the request with [`IngressRequest::header`]. (The embedded
    /// engine does not hand them to the handler, as its HTTP ingress does not.)
    pub headers: Vec<(String, String)>,
}

/// An invocation to attach to, or whose output to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvocationRef {
    /// By its id (`inv_...`).
    Id(String),
    /// The run of a workflow.
    Workflow {
        /// The workflow's name.
        name: String,
        /// The workflow id.
        id: String,
    },
    /// The invocation of a handler made with an idempotency key.
    Idempotent {
        /// The handler.
        target: HandlerAddress,
        /// The idempotency key.
        idempotency_key: String,
    },
}

impl InvocationRef {
    /// The path segments of the ingress naming it, unencoded, without the action.
    fn segments(&self) -> Vec<&str> {
        match self {
            Self::Id(id) => vec!["restate", "invocation", id],
            Self::Workflow { name, id } => vec!["restate", "workflow", name, id],
            Self::Idempotent {
                target,
                idempotency_key,
            } => {
                let mut segments = vec!["restate", "invocation"];
                segments.extend(target.segments());
                segments.push(idempotency_key);
                segments
            }
        }
    }
}

/// How an invocation ended, as an [`IngressTransport`] answers a call, an attach or an
/// output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The invocation.
    pub invocation_id: String,
    /// Its output (encoded), or its terminal failure.
    pub result: Result<Bytes, TerminalFailure>,
}

/// The terminal error an invocation ended with; the client reports it as
/// [`IngressError::Terminal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerminalFailure {
    /// The error code (an HTTP status by convention).
    pub code: u16,
    /// The message.
    pub message: String,
}

/// Why an ingress refused a request, or could not answer it. Each is what an HTTP ingress
/// answers with the status [`status`](Self::status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The request is malformed or not allowed: a target of the wrong shape, a private
    /// handler, an input its handler does not accept, a bad delay or invocation id (400).
    BadRequest(String),
    /// No such service, handler, invocation, workflow run or idempotent request (404).
    NotFound(String),
    /// The input is larger than the ingress accepts (413).
    TooLarge(String),
    /// The output was asked for before the invocation ended (470).
    NotReady {
        /// The invocation.
        invocation_id: String,
    },
    /// The ingress is shutting down (503).
    Unavailable(String),
    /// The ingress failed (500).
    Failed(String),
}

impl Rejection {
    /// The HTTP status an ingress answers it with, which [`IngressError::code`] reports.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::NotFound(_) => 404,
            Self::TooLarge(_) => 413,
            Self::NotReady { .. } => NOT_READY,
            Self::Unavailable(_) => 503,
            Self::Failed(_) => 500,
        }
    }

    /// What the ingress says about it.
    pub fn message(&self) -> &str {
        match self {
            Self::BadRequest(message)
            | Self::NotFound(message)
            | Self::TooLarge(message)
            | Self::Unavailable(message)
            | Self::Failed(message) => message,
            Self::NotReady { .. } => "the invocation exists but has not completed yet",
        }
    }

    /// The error the client reports, the same as for this answer over HTTP.
    fn into_error(self, op: &Op<'_>) -> IngressError {
        let target = op.target.clone();
        match self {
            Self::NotReady { invocation_id } => IngressError::NotReady {
                target,
                invocation_id: Some(invocation_id),
            },
            other => raised_by_ingress(target, other.status(), other.message().to_owned()),
        }
    }
}

/// One request to a handler, made by [`IngressClient::request`] (or a generated
/// `FooIngressClient`): set an idempotency key, headers or a timeout, then
/// [`call`](Self::call), [`send`](Self::send) or [`send_after`](Self::send_after).
#[must_use = "a request does nothing until it is called or sent"]
pub struct IngressRequest<Req, Res, C = Json> {
    client: IngressClient,
    target: Target,
    request: Req,
    idempotency_key: Option<String>,
    /// The idempotency key the proto declares, built from the request: used when the caller
    /// sets none.
    declared_idempotency_key: Option<Result<Option<String>, crate::keys::EmptyKey>>,
    /// Why the request must not be sent (its declared key came out empty).
    refused: Option<crate::keys::EmptyKey>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    types: PhantomData<fn() -> (Res, C)>,
}

impl<Req: fmt::Debug, Res, C> fmt::Debug for IngressRequest<Req, Res, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IngressRequest")
            .field("base_url", &self.client.base_url())
            .field("target", &self.target)
            .field("request", &self.request)
            .field("idempotency_key", &self.idempotency_key)
            .field("headers", &self.headers)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<Req, Res, C: Codec<Req> + Codec<Res>> IngressRequest<Req, Res, C> {
    /// Makes the invocation idempotent (header `idempotency-key`): Restate runs it once per
    /// key and target (within the service's idempotency retention) and answers repeats with the
    /// first result; a repeated [`send`](Self::send) answers
    /// [`SendStatus::PreviouslyAccepted`] with the first invocation id. Workflows are
    /// idempotent by their id already and refuse the header.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Adds a header to this request, which the handler sees in its request headers. It
    /// replaces a header of the same name set earlier or on the client.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The longest this request may take, replacing the client's default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The idempotency key the proto declares for the handler, built from the request by the
    /// generated client; [`idempotency_key`](Self::idempotency_key) replaces it.
    #[doc(hidden)]
    pub fn declared_idempotency_key(
        mut self,
        key: Result<Option<String>, crate::keys::EmptyKey>,
    ) -> Self {
        self.declared_idempotency_key = Some(key);
        self
    }

    /// Makes the request fail with `why` when it is sent, sending nothing.
    #[doc(hidden)]
    pub fn refuse(mut self, why: crate::keys::EmptyKey) -> Self {
        self.refused = Some(why);
        self
    }

    /// Invokes the handler and waits for its response.
    ///
    /// A terminal error of the handler is [`IngressError::Terminal`]. Without an idempotency
    /// key, a call that fails with [`Timeout`](IngressError::Timeout) or
    /// [`Transport`](IngressError::Transport) may have started an invocation that goes on.
    ///
    /// `POST /{service}/{handler}` or `POST /{service}/{key}/{handler}`
    pub async fn call(self) -> Result<Res, IngressError> {
        let op = Op::new(self.target.to_string(), None);
        let segments = self.target.segments();
        let (idempotency_key, body) = self.prepare()?;
        match &self.client.inner.transport {
            Transport::InProcess(transport) => {
                let request = self.typed(&segments, idempotency_key, body)?;
                let answer = self
                    .in_time(&segments, None, transport.call(request))
                    .await?;
                completion_into_message::<Res, C>(answer, &op)
            }
            Transport::Http(http) => self
                .post(http, &segments, None, idempotency_key, body)
                .await?
                .into_message::<Res, C>(&op),
        }
    }

    /// Enqueues the invocation without waiting for it, and returns its id: keep it to
    /// [attach](IngressClient::attach) later.
    ///
    /// `POST /{service}[/{key}]/{handler}/send`
    pub async fn send(self) -> Result<SendResponse, IngressError> {
        self.send_with(None).await
    }

    /// Like [`send`](Self::send), with the invocation starting after `delay` (whole
    /// milliseconds; the timer is durable).
    ///
    /// `POST /{service}[/{key}]/{handler}/send?delay={millis}ms`
    pub async fn send_after(self, delay: Duration) -> Result<SendResponse, IngressError> {
        self.send_with(Some(delay)).await
    }

    async fn send_with(self, delay: Option<Duration>) -> Result<SendResponse, IngressError> {
        let op = Op::new(self.target.to_string(), None);
        let mut segments = self.target.segments();
        segments.push("send");
        let query = delay.map(|delay| format!("delay={}ms", delay.as_millis()));
        let (idempotency_key, body) = self.prepare()?;
        match &self.client.inner.transport {
            Transport::InProcess(transport) => {
                let request = self.typed(&segments, idempotency_key, body)?;
                let answer = transport.send(request, delay);
                let answer = self.in_time(&segments, query.as_deref(), answer).await?;
                answer.map_err(|rejection| rejection.into_error(&op))
            }
            Transport::Http(http) => self
                .post(http, &segments, query.as_deref(), idempotency_key, body)
                .await?
                .into_send_response(&op),
        }
    }

    /// Checks that the request may go, and encodes it: the idempotency key (the caller's, or
    /// the one the proto declares) and the body.
    fn prepare(&self) -> Result<(Option<&str>, Bytes), IngressError> {
        if let Some(why) = &self.refused {
            return Err(why.clone().into());
        }
        let idempotency_key = match (&self.idempotency_key, &self.declared_idempotency_key) {
            (Some(key), _) | (None, Some(Ok(Some(key)))) => Some(key.as_str()),
            (None, Some(Err(why))) => return Err(why.clone().into()),
            (None, Some(Ok(None)) | None) => None,
        };
        let body = <C as Codec<Req>>::encode(&self.request).map_err(IngressError::Encode)?;
        Ok((idempotency_key, body))
    }

    /// The idempotency key and the request's own headers, checked as HTTP headers: a request
    /// must be one that could go over HTTP, wherever it goes.
    fn headers(
        &self,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, IngressError> {
        let key = idempotency_key.map(|key| (IDEMPOTENCY_KEY, key));
        let own = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        key.into_iter()
            .chain(own)
            .map(|(name, value)| parse_header(name, value))
            .collect()
    }

    /// The typed request for a transport in this process.
    fn typed(
        &self,
        segments: &[&str],
        idempotency_key: Option<&str>,
        input: Bytes,
    ) -> Result<HandlerRequest, IngressError> {
        self.client.check_segments(segments)?;
        self.headers(idempotency_key)?;
        Ok(HandlerRequest {
            target: HandlerAddress::from(&self.target),
            input,
            content_type: Some(<C as Codec<Req>>::CONTENT_TYPE.to_owned()),
            accept: Some(<C as Codec<Res>>::CONTENT_TYPE.to_owned()),
            idempotency_key: idempotency_key.map(str::to_owned),
            headers: self.headers.clone(),
        })
    }

    /// Waits for a transport in this process, within the request's timeout.
    async fn in_time<T>(
        &self,
        segments: &[&str],
        query: Option<&str>,
        answer: TransportFuture<'_, T>,
    ) -> Result<Result<T, Rejection>, IngressError> {
        let Some(timeout) = self.timeout else {
            return Ok(answer.await);
        };
        tokio::time::timeout(timeout, answer).await.map_err(|_| {
            let url = self.client.url(segments, query);
            IngressError::Timeout {
                url: url.map_or_else(|e| e.to_string(), |url| url.to_string()),
            }
        })
    }

    /// Posts the encoded request to `segments`; the answer if it is a response at all.
    async fn post(
        &self,
        http: &reqwest::Client,
        segments: &[&str],
        query: Option<&str>,
        idempotency_key: Option<&str>,
        body: Bytes,
    ) -> Result<Answer, IngressError> {
        let url = self.client.url(segments, query)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(<C as Codec<Req>>::CONTENT_TYPE),
        );
        headers.insert(
            ACCEPT,
            HeaderValue::from_static(<C as Codec<Res>>::CONTENT_TYPE),
        );
        for (name, value) in self.headers(idempotency_key)? {
            headers.insert(name, value);
        }
        let mut request = http
            .request(Method::POST, url.clone())
            .headers(headers)
            .body(body);
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        exchange(request, &url).await
    }
}

/// What the ingress answered to [`IngressRequest::send`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendResponse {
    /// The id of the invocation, for [`IngressClient::attach`] and
    /// [`IngressClient::output`].
    pub invocation_id: String,
    /// Whether this request started the invocation or an earlier one with the same
    /// idempotency key did.
    pub status: SendStatus,
}

/// Whether a send started a new invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendStatus {
    /// A new invocation was enqueued (`"Accepted"`).
    Accepted,
    /// An invocation with the same idempotency key was enqueued before; its id is returned
    /// (`"PreviouslyAccepted"`).
    PreviouslyAccepted,
}

impl SendStatus {
    /// The name the ingress uses: `Accepted` or `PreviouslyAccepted`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Accepted => "Accepted",
            Self::PreviouslyAccepted => "PreviouslyAccepted",
        }
    }
}

impl fmt::Display for SendStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SendStatus {
    type Err = IngressError;

    /// Reads the ingress's name for the status; any other string is
    /// [`IngressError::InvalidResponse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Accepted" => Ok(Self::Accepted),
            "PreviouslyAccepted" => Ok(Self::PreviouslyAccepted),
            other => Err(IngressError::InvalidResponse {
                message: format!(
                    "unknown send status `{other}`, expected `Accepted` or `PreviouslyAccepted`"
                ),
            }),
        }
    }
}

/// Why a request through the ingress failed.
///
/// The messages say what failed and where, e.g.
/// `terminal error 409 from hydra.v1.DeployService/web-1/Deploy: already deploying`.
/// The `target` fields name what was called or looked up: `service/key/handler`,
/// `invocation inv_...`, `workflow name/id`, or a target with its idempotency key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngressError {
    /// The invocation ended with a terminal error (the handler's, or Restate's when it gave
    /// up on it). Retrying the same request gives the same answer.
    #[error("terminal error {code} from {target}: {message}")]
    Terminal {
        /// What was called or looked up.
        target: String,
        /// The error code the handler chose (an HTTP status by convention).
        code: u16,
        /// The handler's message.
        message: String,
        /// The invocation that failed, when the ingress said it.
        invocation_id: Option<String>,
    },
    /// The output was asked for before the invocation completed (status 470); ask again
    /// later, or attach to wait for it.
    #[error("the output of {target} is not ready: the invocation has not completed yet")]
    NotReady {
        /// What was looked up.
        target: String,
        /// The invocation, when known.
        invocation_id: Option<String>,
    },
    /// The ingress knows no such service, handler or invocation (status 404).
    #[error("the Restate ingress found no {target}: {message}")]
    NotFound {
        /// What was called or looked up.
        target: String,
        /// The ingress's explanation.
        message: String,
    },
    /// The ingress refused or failed the request itself, with a status other than 404 and
    /// 470 (400 for a bad path or a private service, 503 when unavailable, ...).
    #[error("the Restate ingress answered {status} to {target}: {message}")]
    Status {
        /// What was called or looked up.
        target: String,
        /// The HTTP status.
        status: u16,
        /// The ingress's explanation.
        message: String,
    },
    /// The ingress could not be reached: the request was not delivered.
    #[error("cannot connect to the Restate ingress at {url}")]
    Connect {
        /// The URL of the request.
        url: String,
        /// What went wrong.
        source: reqwest::Error,
    },
    /// The request took longer than its timeout (or the connect timeout).
    #[error("the request to the Restate ingress at {url} timed out")]
    Timeout {
        /// The URL of the request.
        url: String,
    },
    /// The exchange with the ingress broke off after the request went out; the invocation
    /// may or may not have started.
    #[error("the request to the Restate ingress at {url} failed")]
    Transport {
        /// The URL of the request.
        url: String,
        /// What went wrong.
        source: reqwest::Error,
    },
    /// The request message could not be encoded.
    #[error("cannot encode the request: {0}")]
    Encode(EncodeError),
    /// A key or idempotency key that the proto declares as request fields came out empty
    /// (the fields were unset); nothing was sent.
    #[error(transparent)]
    EmptyKey(#[from] crate::keys::EmptyKey),
    /// The response message could not be decoded with the expected codec and type.
    #[error("cannot decode the response of the Restate ingress: {0}")]
    Decode(DecodeError),
    /// The base URL, or a URL built from it, is not usable.
    #[error("invalid Restate ingress URL {url}: {reason}")]
    InvalidUrl {
        /// The URL as given, or as built.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name or value (the bearer token and idempotency key included) is not allowed
    /// in HTTP.
    #[error("invalid header `{name}`: {reason}")]
    InvalidHeader {
        /// The header name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The ingress answered something this client does not understand, such as a send
    /// acknowledgement that is not the expected JSON.
    #[error("unexpected answer from the Restate ingress: {message}")]
    InvalidResponse {
        /// What was unexpected, and where.
        message: String,
    },
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client for the Restate ingress")]
    Build {
        /// What went wrong.
        source: reqwest::Error,
    },
}

impl IngressError {
    /// The error code or HTTP status the error carries: the terminal error's code, 470 for
    /// [`NotReady`](Self::NotReady), 404 for [`NotFound`](Self::NotFound), the status of
    /// [`Status`](Self::Status); `None` for the others.
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Terminal { code, .. } => Some(*code),
            Self::NotReady { .. } => Some(NOT_READY),
            Self::NotFound { .. } => Some(404),
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is the invocation's terminal error ([`Terminal`](Self::Terminal)).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Terminal { .. })
    }

    /// The id of the invocation the error came from, when known.
    pub fn invocation_id(&self) -> Option<&str> {
        match self {
            Self::Terminal { invocation_id, .. } | Self::NotReady { invocation_id, .. } => {
                invocation_id.as_deref()
            }
            _ => None,
        }
    }
}

/// What a request was, for error messages.
struct Op<'a> {
    /// What was called or looked up, as error messages name it.
    target: String,
    /// The invocation id, when the caller gave it.
    invocation_id: Option<&'a str>,
}

impl<'a> Op<'a> {
    fn new(target: String, invocation_id: Option<&'a str>) -> Self {
        Self {
            target,
            invocation_id,
        }
    }
}

/// Who raised an error response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// The invocation: its outcome is an error.
    Invocation,
    /// The ingress itself.
    Ingress,
}

/// A response of the ingress, read whole.
struct Answer {
    status: u16,
    /// The `x-restate-id` header.
    restate_id: Option<String>,
    /// The `x-restate-error-source` header.
    error_source: Option<String>,
    body: Bytes,
}

impl Answer {
    /// Decodes a 2xx body as the message, or classifies the error.
    fn into_message<Res, C: Codec<Res>>(self, op: &Op<'_>) -> Result<Res, IngressError> {
        if !(200..300).contains(&self.status) {
            return Err(self.into_error(op));
        }
        C::decode(&self.body).map_err(IngressError::Decode)
    }

    /// Reads a 2xx body as a send acknowledgement, or classifies the error.
    fn into_send_response(self, op: &Op<'_>) -> Result<SendResponse, IngressError> {
        if !(200..300).contains(&self.status) {
            return Err(self.into_error(op));
        }
        let invalid = |what: String| IngressError::InvalidResponse {
            message: format!(
                "send to {} answered {} with {what}: {}",
                op.target,
                self.status,
                quote(&self.body)
            ),
        };
        let json: serde_json::Value = serde_json::from_slice(&self.body)
            .map_err(|e| invalid(format!("a body that is not JSON ({e})")))?;
        let Some(invocation_id) = json.get("invocationId").and_then(|v| v.as_str()) else {
            return Err(invalid("no string `invocationId`".to_owned()));
        };
        let Some(status) = json.get("status").and_then(|v| v.as_str()) else {
            return Err(invalid("no string `status`".to_owned()));
        };
        let status = status
            .parse::<SendStatus>()
            .map_err(|_| invalid(format!("the unknown status `{status}`")))?;
        Ok(SendResponse {
            invocation_id: invocation_id.to_owned(),
            status,
        })
    }

    /// Classifies a response that is not 2xx.
    fn into_error(self, op: &Op<'_>) -> IngressError {
        let json: Option<serde_json::Value> = serde_json::from_slice(&self.body).ok();
        let field = |name: &str| json.as_ref().and_then(|j| j.get(name));
        let target = op.target.clone();
        let invocation_id = self
            .restate_id
            .clone()
            .or_else(|| op.invocation_id.map(str::to_owned));
        let declared = declared_origin(
            self.error_source
                .as_deref()
                .or_else(|| field("source").and_then(|s| s.as_str())),
        );

        // 470 is the ingress saying "not completed yet", unless the invocation itself is said
        // to have failed with that code.
        if self.status == NOT_READY && declared != Some(Origin::Invocation) {
            return IngressError::NotReady {
                target,
                invocation_id,
            };
        }

        let code = field("code")
            .and_then(|c| c.as_u64())
            .and_then(|c| u16::try_from(c).ok());
        let message = field("message")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| self.body_text());

        let origin = declared.unwrap_or(if self.restate_id.is_some() {
            Origin::Invocation
        } else {
            Origin::Ingress
        });
        match origin {
            Origin::Invocation => IngressError::Terminal {
                target,
                code: code.unwrap_or(self.status),
                message,
                invocation_id,
            },
            Origin::Ingress => raised_by_ingress(target, self.status, message),
        }
    }

    /// The body as text for a message, or the status's reason if it is empty.
    fn body_text(&self) -> String {
        let text = quote(&self.body);
        if text.is_empty() {
            reqwest::StatusCode::from_u16(self.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no message")
                .to_owned()
        } else {
            text
        }
    }
}

/// An error the ingress raised itself, with its status: 404 is
/// [`NotFound`](IngressError::NotFound), any other [`Status`](IngressError::Status).
fn raised_by_ingress(target: String, status: u16, message: String) -> IngressError {
    if status == 404 {
        IngressError::NotFound { target, message }
    } else {
        IngressError::Status {
            target,
            status,
            message,
        }
    }
}

/// The typed answer of a transport in this process, read as [`Answer::into_message`] reads
/// the same answer over HTTP.
fn completion_into_message<Res, C: Codec<Res>>(
    answer: Result<Completion, Rejection>,
    op: &Op<'_>,
) -> Result<Res, IngressError> {
    match answer {
        Ok(Completion {
            result: Ok(output), ..
        }) => C::decode(&output).map_err(IngressError::Decode),
        Ok(Completion {
            invocation_id,
            result: Err(TerminalFailure { code, message }),
        }) => Err(IngressError::Terminal {
            target: op.target.clone(),
            code,
            message,
            invocation_id: Some(invocation_id),
        }),
        Err(rejection) => Err(rejection.into_error(op)),
    }
}

/// Who raised an error, if the `x-restate-error-source` header or the body's `source` says.
fn declared_origin(source: Option<&str>) -> Option<Origin> {
    match source {
        Some(source) if source.eq_ignore_ascii_case("invocation") => Some(Origin::Invocation),
        Some(source) if source.eq_ignore_ascii_case("ingress") => Some(Origin::Ingress),
        _ => None,
    }
}

/// Sends `request` and reads the whole response.
async fn exchange(request: reqwest::RequestBuilder, url: &Url) -> Result<Answer, IngressError> {
    let response = request.send().await.map_err(|e| transport_error(url, e))?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let restate_id = header(RESTATE_ID);
    let error_source = header(ERROR_SOURCE);
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_error(url, e))?;
    Ok(Answer {
        status,
        restate_id,
        error_source,
        body,
    })
}

fn transport_error(url: &Url, error: reqwest::Error) -> IngressError {
    let url = url.to_string();
    if error.is_timeout() {
        IngressError::Timeout { url }
    } else if error.is_connect() {
        IngressError::Connect { url, source: error }
    } else {
        IngressError::Transport { url, source: error }
    }
}

/// Checks a base URL and returns it without a trailing slash.
fn normalize_base_url(base_url: &str) -> Result<String, IngressError> {
    let invalid = |reason: String| IngressError::InvalidUrl {
        url: base_url.to_owned(),
        reason,
    };
    let url = Url::parse(base_url.trim()).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme must be http or https, not {}",
            url.scheme()
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "a base URL cannot have a query or a fragment".to_owned(),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn parse_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), IngressError> {
    let invalid = |reason: String| IngressError::InvalidHeader {
        name: name.to_owned(),
        reason,
    };
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| invalid("not a valid header name".to_owned()))?;
    let header_value = HeaderValue::from_str(value)
        .map_err(|_| invalid("the value holds characters a header value cannot".to_owned()))?;
    Ok((header_name, header_value))
}

/// Appends `segment` to `out`, percent-encoding every byte but the unreserved characters of
/// RFC 3986 (letters, digits, `-`, `.`, `_`, `~`).
pub(crate) fn push_encoded(out: &mut String, segment: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in segment.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

/// A response body as text for an error message, trimmed and cut to a readable length.
fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbjson_types::{Struct, Value, value::Kind};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // ---- a tiny HTTP/1.1 server on loopback ----

    /// A request as the test server received it.
    #[derive(Clone, Debug)]
    struct Seen {
        method: String,
        /// The request target as sent: path and query, still encoded.
        target: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// A canned answer.
    struct Reply {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
        delay: Duration,
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    impl Reply {
        fn with_id(mut self, id: &str) -> Self {
            self.headers.push((RESTATE_ID, id.to_owned()));
            self
        }
    }

    type Responder = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

    struct TestServer {
        base: String,
        seen: Arc<Mutex<Vec<Seen>>>,
        connections: Arc<AtomicUsize>,
    }

    impl TestServer {
        fn start(respond: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let seen = Arc::new(Mutex::new(Vec::new()));
            let connections = Arc::new(AtomicUsize::new(0));
            let respond: Responder = Arc::new(respond);
            let (seen2, connections2) = (Arc::clone(&seen), Arc::clone(&connections));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    connections2.fetch_add(1, Ordering::SeqCst);
                    let (seen, respond) = (Arc::clone(&seen2), Arc::clone(&respond));
                    std::thread::spawn(move || serve_connection(stream, &seen, &respond));
                }
            });
            Self {
                base,
                seen,
                connections,
            }
        }

        fn client(&self) -> IngressClient {
            IngressClient::new(&self.base).unwrap()
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }

        fn last(&self) -> Seen {
            self.seen().pop().expect("the server saw no request")
        }
    }

    /// Answers requests on one keep-alive connection until the client closes it.
    fn serve_connection(stream: TcpStream, seen: &Mutex<Vec<Seen>>, respond: &Responder) {
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let target = parts.next().unwrap_or_default().to_owned();
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap();
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map_or(0, |(_, v)| v.parse::<usize>().unwrap());
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let request = Seen {
                method,
                target,
                headers,
                body,
            };
            seen.lock().unwrap().push(request.clone());
            let reply = respond(&request);
            std::thread::sleep(reply.delay);
            let mut out = format!(
                "HTTP/1.1 {} Canned\r\ncontent-length: {}\r\n",
                reply.status,
                reply.body.len()
            );
            for (name, value) in &reply.headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&reply.body);
            if writer.write_all(out.as_bytes()).is_err() {
                return;
            }
        }
    }

    fn text(s: &str) -> Value {
        Value {
            kind: Some(Kind::StringValue(s.to_owned())),
        }
    }

    fn message(pairs: &[(&str, &str)]) -> Struct {
        Struct {
            fields: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), text(v)))
                .collect(),
        }
    }

    // ---- paths and names ----

    #[test]
    fn base_urls_are_normalized() {
        let c = IngressClient::new("http://127.0.0.1:8080").unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:8080");
        let c = IngressClient::new("http://127.0.0.1:8080/").unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:8080");
        let c = IngressClient::new("http://127.0.0.1:8080/prefix/restate/").unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:8080/prefix/restate");
        let url = c.url(&["svc", "h"], None).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/prefix/restate/svc/h");
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for (url, needle) in [
            ("127.0.0.1:8080", ""),
            ("not a url", ""),
            ("ftp://127.0.0.1/", "scheme"),
            ("http://127.0.0.1:8080/?a=b", "query"),
            ("http://127.0.0.1:8080/#x", "fragment"),
        ] {
            match IngressClient::new(url) {
                Err(IngressError::InvalidUrl { url: u, reason }) => {
                    assert_eq!(u, url);
                    assert!(reason.contains(needle), "{reason}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        let err = IngressClient::new("ftp://x/").unwrap_err().to_string();
        assert!(
            err.starts_with("invalid Restate ingress URL ftp://x/: the scheme"),
            "{err}"
        );
    }

    #[test]
    fn segments_are_percent_encoded() {
        let c = IngressClient::new("http://127.0.0.1:8080").unwrap();
        let url = c
            .url(&["hydra.v1.Svc", "a/b c?d#e%f", "ü€", "Run_~-"], None)
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/hydra.v1.Svc/a%2Fb%20c%3Fd%23e%25f/%C3%BC%E2%82%AC/Run_~-"
        );
        let url = c.url(&["s", "h", "send"], Some("delay=5ms")).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/s/h/send?delay=5ms");
        // `..` would be read as a step up; `...` is an ordinary segment.
        assert!(c.url(&["s", "...", "h"], None).is_ok());
        for dots in [".", ".."] {
            match c.url(&["s", dots, "h"], None) {
                Err(IngressError::InvalidUrl { reason, .. }) => {
                    assert!(reason.contains(&format!("`{dots}`")), "{reason}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn targets_display_and_expose_their_parts() {
        let s = Target::service("hydra.v1.Build", "Build");
        assert_eq!(s.to_string(), "hydra.v1.Build/Build");
        assert_eq!(
            (s.service_name(), s.key(), s.handler_name()),
            ("hydra.v1.Build", None, "Build")
        );
        let o = Target::object("hydra.v1.DeployService", "abc", "Deploy");
        assert_eq!(o.to_string(), "hydra.v1.DeployService/abc/Deploy");
        assert_eq!(o.key(), Some("abc"));
        let w = Target::workflow("hydra.v1.Release", "r/1", "Run");
        assert_eq!(w.to_string(), "hydra.v1.Release/r/1/Run");
        assert_eq!(
            w,
            Target::Workflow {
                service: "hydra.v1.Release".into(),
                key: "r/1".into(),
                handler: "Run".into()
            }
        );
        assert_ne!(w, Target::object("hydra.v1.Release", "r/1", "Run"));
    }

    #[test]
    fn send_status_parses_known_names_only() {
        assert_eq!(
            "Accepted".parse::<SendStatus>().unwrap(),
            SendStatus::Accepted
        );
        assert_eq!(
            "PreviouslyAccepted".parse::<SendStatus>().unwrap(),
            SendStatus::PreviouslyAccepted
        );
        assert_eq!(
            SendStatus::PreviouslyAccepted.to_string(),
            "PreviouslyAccepted"
        );
        let err = "accepted".parse::<SendStatus>().unwrap_err();
        assert!(
            matches!(err, IngressError::InvalidResponse { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("`accepted`"), "{err}");
    }

    #[test]
    fn headers_are_checked() {
        match IngressClient::builder("http://127.0.0.1:1")
            .header("bad name", "v")
            .build()
        {
            Err(IngressError::InvalidHeader { name, .. }) => assert_eq!(name, "bad name"),
            other => panic!("{other:?}"),
        }
        match IngressClient::builder("http://127.0.0.1:1")
            .bearer_token("a\nb")
            .build()
        {
            Err(IngressError::InvalidHeader { name, .. }) => assert_eq!(name, "authorization"),
            other => panic!("{other:?}"),
        }
        let builder = IngressClient::builder("http://127.0.0.1:1").bearer_token("hush");
        assert!(!format!("{builder:?}").contains("hush"));
    }

    // ---- error classification ----

    /// Classifies a response with the given `x-restate-id` and `x-restate-error-source`.
    fn classify(
        status: u16,
        restate_id: Option<&str>,
        error_source: Option<&str>,
        body: &str,
        op: &Op<'_>,
    ) -> IngressError {
        Answer {
            status,
            restate_id: restate_id.map(str::to_owned),
            error_source: error_source.map(str::to_owned),
            body: Bytes::from(body.to_owned()),
        }
        .into_error(op)
    }

    // The bodies and headers below are those restate-server 1.7.12 sends.

    #[test]
    fn terminal_errors_come_from_the_invocation() {
        let call = Op::new("hydra.v1.DeployService/abc/Deploy".to_owned(), None);
        let e = classify(
            409,
            Some("inv_1"),
            Some("invocation"),
            r#"{"code":409,"message":"already deploying","source":"invocation"}"#,
            &call,
        );
        assert_eq!(
            e.to_string(),
            "terminal error 409 from hydra.v1.DeployService/abc/Deploy: already deploying"
        );
        assert!(e.is_terminal());
        assert_eq!(e.code(), Some(409));
        assert_eq!(e.invocation_id(), Some("inv_1"));

        // Without the source header, `x-restate-id` says it is the invocation's.
        let e = classify(
            409,
            Some("inv_1"),
            None,
            r#"{"code":409,"message":"m"}"#,
            &call,
        );
        assert!(e.is_terminal(), "{e:?}");
        // The code comes from the body, even when the status differs.
        let e = classify(
            500,
            Some("inv_1"),
            None,
            r#"{"code":599,"message":"odd"}"#,
            &call,
        );
        assert_eq!(e.code(), Some(599));
        // A body that is not the JSON error: the status and the raw text.
        let e = classify(502, Some("inv_1"), None, "  upstream hiccup\n", &call);
        match &e {
            IngressError::Terminal { code, message, .. } => {
                assert_eq!((*code, message.as_str()), (502, "upstream hiccup"))
            }
            other => panic!("{other:?}"),
        }
        // A handler that chose the code 470 is not "not ready".
        let e = classify(
            470,
            Some("inv_2"),
            Some("invocation"),
            r#"{"code":470,"message":"odd code","source":"invocation"}"#,
            &call,
        );
        assert!(e.is_terminal(), "{e:?}");
        assert_eq!(e.code(), Some(470));

        // An attach by id names the invocation even if the response does not.
        let attach = Op::new("invocation inv_9".to_owned(), Some("inv_9"));
        let e = classify(
            418,
            None,
            None,
            r#"{"code":418,"message":"teapot","source":"invocation"}"#,
            &attach,
        );
        assert!(e.is_terminal(), "{e:?}");
        assert_eq!(e.invocation_id(), Some("inv_9"));
        assert_eq!(
            e.to_string(),
            "terminal error 418 from invocation inv_9: teapot"
        );
    }

    #[test]
    fn ingress_errors_are_not_terminal() {
        let call = Op::new("Nope/x".to_owned(), None);
        let e = classify(
            404,
            None,
            Some("ingress"),
            r#"{"code":404,"message":"service 'Nope' not found, make sure to register the service before calling it.","source":"ingress"}"#,
            &call,
        );
        assert!(
            matches!(&e, IngressError::NotFound { message, .. } if message.starts_with("service 'Nope' not found")),
            "{e:?}"
        );
        assert_eq!(e.code(), Some(404));
        assert!(!e.is_terminal());
        assert_eq!(e.invocation_id(), None);
        assert!(
            e.to_string()
                .starts_with("the Restate ingress found no Nope/x: service 'Nope' not found"),
            "{e}"
        );

        // The source header wins over `x-restate-id`.
        let e = classify(
            400,
            Some("inv_1"),
            Some("ingress"),
            r#"{"code":400,"message":"bad delay query parameter","source":"ingress"}"#,
            &call,
        );
        assert!(
            matches!(&e, IngressError::Status { status: 400, .. }),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "the Restate ingress answered 400 to Nope/x: bad delay query parameter"
        );
        // So does the body's `source` when there is no header.
        let e = classify(
            500,
            Some("inv_1"),
            None,
            r#"{"code":500,"message":"m","source":"ingress"}"#,
            &call,
        );
        assert!(
            matches!(&e, IngressError::Status { status: 500, .. }),
            "{e:?}"
        );
        // Neither header: the ingress; its message or its text.
        let e = classify(
            400,
            None,
            None,
            r#"{"message":"the invoked service is not public"}"#,
            &call,
        );
        assert!(
            matches!(&e, IngressError::Status { message, .. } if message == "the invoked service is not public")
        );
        let e = classify(404, None, None, "no such thing", &call);
        assert!(matches!(&e, IngressError::NotFound { message, .. } if message == "no such thing"));
        let e = classify(503, None, None, "", &call);
        assert!(
            matches!(&e, IngressError::Status { status: 503, message, .. } if message == "Service Unavailable"),
            "{e:?}"
        );
    }

    #[test]
    fn not_ready() {
        let lookup = Op::new("invocation inv_9".to_owned(), Some("inv_9"));
        let e = classify(
            470,
            None,
            Some("ingress"),
            r#"{"code":470,"message":"the invocation exists but has not completed yet","source":"ingress"}"#,
            &lookup,
        );
        assert!(matches!(e, IngressError::NotReady { .. }), "{e:?}");
        assert_eq!(e.invocation_id(), Some("inv_9"));
        assert_eq!(e.code(), Some(470));
        assert!(!e.is_terminal());
        assert_eq!(
            e.to_string(),
            "the output of invocation inv_9 is not ready: the invocation has not completed yet"
        );
        // Any 470 that the invocation does not claim, with the id if the response has one.
        let workflow = Op::new("workflow W/1".to_owned(), None);
        let e = classify(470, None, None, "", &workflow);
        assert!(
            matches!(
                e,
                IngressError::NotReady {
                    invocation_id: None,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = classify(470, Some("inv_3"), None, "", &workflow);
        assert!(matches!(e, IngressError::NotReady { .. }), "{e:?}");
        assert_eq!(e.invocation_id(), Some("inv_3"));
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "x".repeat(2000);
        let e = classify(500, None, None, &body, &Op::new("s/h".to_owned(), None));
        let IngressError::Status { message, .. } = e else {
            panic!("{e:?}")
        };
        assert_eq!(message.len(), QUOTE_LIMIT + 3);
    }

    // ---- over loopback ----

    #[tokio::test]
    async fn call_posts_the_message_and_decodes_the_answer() {
        let server = TestServer::start(|req| {
            assert_eq!(req.method, "POST");
            reply(200, r#"{"greeting":"hello"}"#).with_id("inv_1")
        });
        let client = IngressClient::builder(format!("{}/", server.base))
            .bearer_token("t0ken")
            .header("x-team", "hydra")
            .build()
            .unwrap();
        let out: Struct = client
            .request::<Struct, Struct, Json>(
                Target::object("hydra.v1.Greeter", "a/b c", "Greet"),
                message(&[("name", "Ann")]),
            )
            .idempotency_key("k 1")
            .header("x-trace", "t-1")
            .call()
            .await
            .unwrap();
        assert_eq!(out, message(&[("greeting", "hello")]));

        let seen = server.last();
        assert_eq!(seen.target, "/hydra.v1.Greeter/a%2Fb%20c/Greet");
        assert_eq!(seen.header("content-type"), Some("application/json"));
        assert_eq!(seen.header("accept"), Some("application/json"));
        assert_eq!(seen.header("authorization"), Some("Bearer t0ken"));
        assert_eq!(seen.header("x-team"), Some("hydra"));
        assert_eq!(seen.header("x-trace"), Some("t-1"));
        assert_eq!(seen.header("idempotency-key"), Some("k 1"));
        let sent: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
        assert_eq!(sent, serde_json::json!({"name": "Ann"}));
    }

    #[tokio::test]
    async fn empty_answers_decode_as_default_and_bad_ones_fail() {
        let server = TestServer::start(|req| match req.target.as_str() {
            "/svc/Empty" => reply(200, ""),
            _ => reply(200, r#"{"seconds": "x"#),
        });
        let client = server.client();
        let out: pbjson_types::Duration = client
            .request::<Struct, _, Json>(Target::service("svc", "Empty"), Struct::default())
            .call()
            .await
            .unwrap();
        assert_eq!(out, pbjson_types::Duration::default());
        let err = client
            .request::<Struct, pbjson_types::Duration, Json>(
                Target::service("svc", "Bad"),
                Struct::default(),
            )
            .call()
            .await
            .unwrap_err();
        assert!(matches!(err, IngressError::Decode(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("cannot decode the response of the Restate ingress: invalid application/json payload for Duration"),
            "{err}"
        );
        // Without a header, no authorization is sent.
        assert_eq!(server.last().header("authorization"), None);
        assert_eq!(server.last().header("idempotency-key"), None);
    }

    #[tokio::test]
    async fn terminal_and_ingress_errors_over_the_wire() {
        let server = TestServer::start(|req| match req.target.as_str() {
            "/hydra.v1.DeployService/abc/Deploy" => {
                reply(409, r#"{"code":409,"message":"already deploying"}"#).with_id("inv_7")
            }
            _ => reply(
                404,
                r#"{"message":"service 'nope' not found, make sure to register the service before calling it."}"#,
            ),
        });
        let client = server.client();
        let err = client
            .request::<Struct, Struct, Json>(
                Target::object("hydra.v1.DeployService", "abc", "Deploy"),
                Struct::default(),
            )
            .call()
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "terminal error 409 from hydra.v1.DeployService/abc/Deploy: already deploying"
        );
        assert_eq!(err.invocation_id(), Some("inv_7"));

        let err = client
            .request::<Struct, Struct, Json>(Target::service("nope", "Do"), Struct::default())
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, IngressError::NotFound { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("the Restate ingress found no nope/Do: service 'nope' not found"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn send_and_send_after() {
        let server = TestServer::start(|req| {
            if req.header("idempotency-key").is_some() {
                reply(
                    200,
                    r#"{"invocationId":"inv_2","status":"PreviouslyAccepted"}"#,
                )
            } else if req.target.ends_with("Weird/send") {
                reply(202, r#"{"invocationId":"inv_3","status":"Queued"}"#)
            } else if req.target.ends_with("Html/send") {
                reply(202, "<html>hello</html>")
            } else {
                reply(
                    202,
                    r#"{"invocationId":"inv_1","status":"Accepted","executionTime":"2025-01-01T00:00:00Z"}"#,
                )
            }
        });
        let client = server.client();
        let req = || {
            client.request::<Struct, Struct, Json>(
                Target::workflow("hydra.v1.Release", "r1", "Run"),
                message(&[("v", "1")]),
            )
        };

        let sent = req().send().await.unwrap();
        assert_eq!(
            sent,
            SendResponse {
                invocation_id: "inv_1".into(),
                status: SendStatus::Accepted
            }
        );
        let seen = server.last();
        assert_eq!(
            (seen.method.as_str(), seen.target.as_str()),
            ("POST", "/hydra.v1.Release/r1/Run/send")
        );
        assert_eq!(seen.header("content-type"), Some("application/json"));

        req().send_after(Duration::from_millis(1500)).await.unwrap();
        assert_eq!(
            server.last().target,
            "/hydra.v1.Release/r1/Run/send?delay=1500ms"
        );

        let again = client
            .request::<Struct, Struct, Json>(Target::service("svc", "H"), Struct::default())
            .idempotency_key("once")
            .send()
            .await
            .unwrap();
        assert_eq!(again.status, SendStatus::PreviouslyAccepted);
        assert_eq!(again.invocation_id, "inv_2");

        for handler in ["Weird", "Html"] {
            let err = client
                .request::<Struct, Struct, Json>(Target::service("svc", handler), Struct::default())
                .send()
                .await
                .unwrap_err();
            let IngressError::InvalidResponse { message } = &err else {
                panic!("{err:?}")
            };
            assert!(
                message.starts_with(&format!("send to svc/{handler} answered 202 with")),
                "{message}"
            );
        }
    }

    #[tokio::test]
    async fn attach_and_output_paths() {
        let server = TestServer::start(|req| {
            assert_eq!(req.method, "GET");
            assert!(req.body.is_empty());
            if req.target.ends_with("/output") && req.target.contains("pending") {
                reply(
                    470,
                    r#"{"message":"the invocation exists but has not completed yet"}"#,
                )
            } else if req.target.contains("failed") {
                let mut r = reply(
                    500,
                    r#"{"code":500,"message":"gave up","source":"invocation"}"#,
                )
                .with_id("inv_failed");
                r.headers.push((ERROR_SOURCE, "invocation".to_owned()));
                r
            } else if req.target.contains("never") {
                let mut r = reply(
                    404,
                    r#"{"code":404,"message":"invocation not found","source":"ingress"}"#,
                );
                r.headers.push((ERROR_SOURCE, "ingress".to_owned()));
                r
            } else {
                reply(200, r#"{"done":"yes"}"#).with_id("inv_x")
            }
        });
        let client = server.client();
        let done = message(&[("done", "yes")]);

        let out: Struct = client.attach::<Struct, Json>("inv_1abc").await.unwrap();
        assert_eq!(out, done);
        assert_eq!(server.last().target, "/restate/invocation/inv_1abc/attach");
        assert_eq!(server.last().header("accept"), Some("application/json"));
        assert_eq!(server.last().header("content-type"), None);

        client.output::<Struct, Json>("inv_1abc").await.unwrap();
        assert_eq!(server.last().target, "/restate/invocation/inv_1abc/output");

        let err = client
            .output::<Struct, Json>("inv_pending")
            .await
            .unwrap_err();
        assert!(matches!(err, IngressError::NotReady { .. }), "{err:?}");
        assert_eq!(err.invocation_id(), Some("inv_pending"));

        let err = client
            .attach::<Struct, Json>("inv_failed")
            .await
            .unwrap_err();
        assert!(err.is_terminal(), "{err:?}");
        assert_eq!(
            err.to_string(),
            "terminal error 500 from invocation inv_failed: gave up"
        );

        let target = Target::object("hydra.v1.Deploy", "k/1", "Deploy");
        client
            .attach_idempotent::<Struct, Json>(&target, "id key")
            .await
            .unwrap();
        assert_eq!(
            server.last().target,
            "/restate/invocation/hydra.v1.Deploy/k%2F1/Deploy/id%20key/attach"
        );
        client
            .output_idempotent::<Struct, Json>(&Target::service("svc", "H"), "k")
            .await
            .unwrap();
        assert_eq!(server.last().target, "/restate/invocation/svc/H/k/output");
        let err = client
            .output_idempotent::<Struct, Json>(&Target::service("svc", "H"), "pending")
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the output of svc/H with idempotency key pending is not ready: the invocation has not completed yet"
        );

        client
            .workflow_attach::<Struct, Json>("hydra.v1.Release", "r 1")
            .await
            .unwrap();
        assert_eq!(
            server.last().target,
            "/restate/workflow/hydra.v1.Release/r%201/attach"
        );
        client
            .workflow_output::<Struct, Json>("hydra.v1.Release", "r1")
            .await
            .unwrap();
        assert_eq!(
            server.last().target,
            "/restate/workflow/hydra.v1.Release/r1/output"
        );
        let err = client
            .workflow_attach::<Struct, Json>("hydra.v1.Release", "failed")
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "terminal error 500 from workflow hydra.v1.Release/failed: gave up"
        );
        assert_eq!(err.invocation_id(), Some("inv_failed"));
        let err = client
            .workflow_output::<Struct, Json>("hydra.v1.Release", "never")
            .await
            .unwrap_err();
        assert!(matches!(err, IngressError::NotFound { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the Restate ingress found no workflow hydra.v1.Release/never: invocation not found"
        );
    }

    #[tokio::test]
    async fn requests_share_one_connection() {
        let server = TestServer::start(|_| reply(200, "{}"));
        let client = server.client();
        let clone = client.clone();
        for c in [&client, &clone, &client] {
            c.request::<Struct, Struct, Json>(Target::service("s", "h"), Struct::default())
                .call()
                .await
                .unwrap();
        }
        assert_eq!(server.seen().len(), 3);
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn timeouts() {
        let server = TestServer::start(|req| {
            let mut r = reply(200, "{}");
            if req.target.contains("slow") {
                r.delay = Duration::from_millis(400);
            }
            r
        });
        // Per-request timeout.
        let err = server
            .client()
            .request::<Struct, Struct, Json>(Target::service("s", "slow"), Struct::default())
            .timeout(Duration::from_millis(50))
            .call()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, IngressError::Timeout { url } if url.ends_with("/s/slow")),
            "{err:?}"
        );
        assert!(err.to_string().contains("timed out"), "{err}");

        // The client's default, and a request that overrides it.
        let client = IngressClient::builder(&server.base)
            .timeout(Duration::from_millis(50))
            .connect_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let err = client.attach::<Struct, Json>("slow").await.unwrap_err();
        assert!(matches!(err, IngressError::Timeout { .. }), "{err:?}");
        client
            .request::<Struct, Struct, Json>(Target::service("s", "slow"), Struct::default())
            .timeout(Duration::from_secs(5))
            .call()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn unreachable_ingress_is_a_connect_error() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let client = IngressClient::new(format!("http://127.0.0.1:{port}")).unwrap();
        let err = client
            .request::<Struct, Struct, Json>(Target::service("s", "h"), Struct::default())
            .call()
            .await
            .unwrap_err();
        let url = format!("http://127.0.0.1:{port}/s/h");
        match &err {
            IngressError::Connect { url: u, .. } => assert_eq!(u, &url),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!("cannot connect to the Restate ingress at {url}")
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[tokio::test]
    async fn bad_request_headers_fail_before_sending() {
        let server = TestServer::start(|_| reply(200, "{}"));
        let err = server
            .client()
            .request::<Struct, Struct, Json>(Target::service("s", "h"), Struct::default())
            .header("x-ok", "line\nbreak")
            .call()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, IngressError::InvalidHeader { name, .. } if name == "x-ok"),
            "{err:?}"
        );
        let err = server
            .client()
            .request::<Struct, Struct, Json>(Target::object("s", "..", "h"), Struct::default())
            .call()
            .await
            .unwrap_err();
        assert!(matches!(err, IngressError::InvalidUrl { .. }), "{err:?}");
        assert!(server.seen().is_empty());
    }

    #[test]
    fn futures_are_send() {
        fn is_send<T: Send>(_: &T) {}
        let client = IngressClient::new("http://127.0.0.1:1").unwrap();
        let req =
            client.request::<Struct, Struct, Json>(Target::service("s", "h"), Struct::default());
        is_send(&req.call());
        is_send(&client.attach::<Struct, Json>("inv"));
        let target = Target::service("s", "h");
        is_send(&client.attach_idempotent::<Struct, Json>(&target, "k"));
    }
}
