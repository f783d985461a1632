//! Serving an endpoint over HTTP: HTTP/2 cleartext (what restate-server speaks by default)
//! and HTTP/1.1 (for deployments registered with `use_http_11`) on one port.
//!
//! ```no_run
//! # use restate_rs::prelude::*;
//! # async fn demo(endpoint: Endpoint) -> Result<(), restate_rs::serve::ServeError> {
//! // Serve until Ctrl-C or SIGTERM, then finish the requests in flight.
//! restate_rs::serve::serve(endpoint, "127.0.0.1:9080").await?;
//! # Ok(()) }
//! ```
//!
//! A port that is taken is an error that names the address, not a panic:
//!
//! ```text
//! cannot listen on 127.0.0.1:9080: Address already in use (os error 98); is another endpoint running there?
//! ```
//!
//! To refuse requests that a Restate server did not sign, give the endpoint the server's
//! public key (`publickeyv1_...`) with `Endpoint::builder().identity_key(..)`: unsigned
//! requests then get 401.

use futures::future::BoxFuture;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use restate_sdk::endpoint::Endpoint;
use restate_sdk::hyper::HyperEndpoint;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, ToSocketAddrs};

/// The largest request header block a served endpoint accepts, in bytes. Object keys and
/// workflow ids travel in headers; restate-server accepts keys far longer than hyper's default
/// limit of 16 KiB.
const MAX_HEADER_BYTES: u32 = 1024 * 1024;

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address could not be bound (in use, not permitted, not local).
    #[error("cannot listen on {addr}: {source}{hint}", hint = bind_hint(source))]
    Bind {
        /// The address asked for.
        addr: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

fn bind_hint(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => "; is another endpoint running there?",
        std::io::ErrorKind::PermissionDenied => "; ports below 1024 need privileges",
        std::io::ErrorKind::AddrNotAvailable => "; the address is not one of this machine's",
        _ => "",
    }
}

/// Serves `endpoint` on `addr` until Ctrl-C or SIGTERM, then lets requests in flight finish.
pub async fn serve(
    endpoint: Endpoint,
    addr: impl ToSocketAddrs + std::fmt::Display,
) -> Result<(), ServeError> {
    Server::bind(endpoint, addr)
        .await?
        .serve_until(shutdown_signal())
        .await;
    Ok(())
}

/// Resolves on Ctrl-C, or on SIGTERM where there are signals.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// An endpoint bound to a TCP port, not yet serving.
pub struct Server {
    endpoint: Endpoint,
    listener: TcpListener,
    grace: Duration,
}

impl Server {
    /// Binds `addr` (`127.0.0.1:0` picks a free port).
    pub async fn bind(
        endpoint: Endpoint,
        addr: impl ToSocketAddrs + std::fmt::Display,
    ) -> Result<Self, ServeError> {
        let shown = addr.to_string();
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: shown,
                source,
            })?;
        Ok(Self {
            endpoint,
            listener,
            grace: Duration::from_secs(30),
        })
    }

    /// How long requests in flight may take to finish after shutdown starts (default 30 s).
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The URL to register with a Restate server: `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr())
    }

    /// Serves until `signal` resolves, then stops accepting and lets connections finish
    /// (up to the grace period).
    pub async fn serve_until(self, signal: impl Future<Output = ()>) {
        serve_connections(
            self.listener,
            HyperEndpoint::new(self.endpoint),
            signal,
            self.grace,
        )
        .await;
    }

    /// Serves in a background task; the returned handle stops it.
    pub fn spawn(self) -> RunningServer {
        let addr = self.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.serve_until(async {
            let _ = stopped.await;
        }));
        RunningServer::from_parts(addr, stop, task)
    }
}

/// Serves `service` on every connection `listener` accepts (HTTP/2 cleartext and HTTP/1.1)
/// until `signal` resolves, then stops accepting and lets connections finish for up to
/// `grace`. The loop behind [`Server`] and the embedded engine's HTTP servers.
pub(crate) async fn serve_connections<S, B>(
    listener: TcpListener,
    service: S,
    signal: impl Future<Output = ()>,
    grace: Duration,
) where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut signal = std::pin::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let mut builder = auto::Builder::new(TokioExecutor::new());
                // Restate sends an invocation's headers (the object key among them) in the
                // request's header block; hyper's 16 KiB default would answer 431 to long
                // keys for ever.
                builder.http2().max_header_list_size(MAX_HEADER_BYTES);
                builder.http1().max_buf_size(MAX_HEADER_BYTES as usize);
                let connection = builder
                    .serve_connection(TokioIo::new(stream), service.clone())
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!("connection from {remote} ended with an error: {e}");
                    }
                });
            }
            () = &mut signal => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the {grace:?} grace period were dropped");
    }
}

/// A server running in the background; dropping it stops it too.
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<BoxFuture<'static, ()>>,
}

impl RunningServer {
    pub(crate) fn from_parts(
        addr: SocketAddr,
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            addr,
            stop: Some(stop),
            task: Some(Box::pin(async move {
                let _ = task.await;
            })),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to register with a Restate server: `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, waits for connections to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
