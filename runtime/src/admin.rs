//! Registering deployments with a Restate server's admin API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), restate_rs::admin::AdminError> {
//! let admin = restate_rs::admin::AdminClient::new("http://127.0.0.1:9070")?;
//! let deployment = admin.register("http://127.0.0.1:9080").await?;
//! println!("registered {} with {:?}", deployment.id, deployment.services);
//! # Ok(()) }
//! ```

use serde_json::{Value, json};
use std::time::Duration;

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The admin URL is not a URL.
    #[error("invalid admin URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The admin API could not be reached.
    #[error("cannot reach the Restate admin API at {url}: {source}")]
    Connect {
        /// The URL tried.
        url: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The server refused; `message` is what it said.
    #[error("the Restate server refused {what} ({status}): {message}")]
    Refused {
        /// What was asked.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server answered something we could not read.
    #[error("unexpected answer from the Restate admin API: {0}")]
    InvalidResponse(String),
}

/// A registered deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The deployment id (`dp_...`).
    pub id: String,
    /// Names of the services it serves.
    pub services: Vec<String>,
}

/// How to register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterOptions {
    /// Replace an existing registration at the same URI (default `true`).
    pub force: bool,
    /// Talk HTTP/1.1 request-response to the deployment instead of HTTP/2 (default `false`).
    pub use_http_11: bool,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        Self {
            force: true,
            use_http_11: false,
        }
    }
}

/// A client of a Restate server's admin API (port 9070 by default).
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client for the admin API at `url`.
    pub fn new(url: impl AsRef<str>) -> Result<Self, AdminError> {
        let url = url.as_ref().trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(AdminError::InvalidUrl {
                url,
                reason: "it must start with http:// or https://".to_owned(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| AdminError::InvalidResponse(e.to_string()))?;
        Ok(Self { base: url, http })
    }

    /// The admin API's URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Registers (or, by default, re-registers) the deployment at `uri`; the server calls its
    /// discovery endpoint and learns its services.
    pub async fn register(&self, uri: &str) -> Result<Deployment, AdminError> {
        self.register_with(uri, RegisterOptions::default()).await
    }

    /// [`register`](Self::register) with options.
    pub async fn register_with(
        &self,
        uri: &str,
        options: RegisterOptions,
    ) -> Result<Deployment, AdminError> {
        let mut body = json!({ "uri": uri, "force": options.force });
        if options.use_http_11 {
            body["use_http_11"] = json!(true);
        }
        let value = self
            .send(
                self.http
                    .post(format!("{}/deployments", self.base))
                    .header("content-type", "application/json")
                    .body(body.to_string()),
                &format!("registering {uri}"),
            )
            .await?;
        let id = value["id"].as_str().unwrap_or_default().to_owned();
        if id.is_empty() {
            return Err(AdminError::InvalidResponse(format!(
                "no deployment id in {value}"
            )));
        }
        let services = value["services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str().map(str::to_owned))
            .collect();
        Ok(Deployment { id, services })
    }

    /// What the server knows about a service (`GET /services/{name}`), as JSON.
    pub async fn service(&self, name: &str) -> Result<Value, AdminError> {
        self.send(
            self.http.get(format!("{}/services/{name}", self.base)),
            &format!("describing {name}"),
        )
        .await
    }

    /// Cancels an invocation (`PATCH /invocations/{id}/cancel`): it sees the cancellation at
    /// its next await and, by default, ends with a terminal error 409. Works with
    /// restate-server and with the embedded engine's admin API.
    pub async fn cancel(&self, invocation_id: &str) -> Result<(), AdminError> {
        self.patch_invocation(invocation_id, "cancel").await
    }

    /// Kills an invocation (`PATCH /invocations/{id}/kill`): it ends at once, without running
    /// anything more.
    pub async fn kill(&self, invocation_id: &str) -> Result<(), AdminError> {
        self.patch_invocation(invocation_id, "kill").await
    }

    async fn patch_invocation(&self, invocation_id: &str, action: &str) -> Result<(), AdminError> {
        let url = format!("{}/invocations/{invocation_id}/{action}", self.base);
        self.send_text(
            self.http.patch(&url),
            &format!("{action} of {invocation_id}"),
        )
        .await
        .map(drop)
    }

    /// Whether the admin API answers its health check.
    pub async fn healthy(&self) -> bool {
        matches!(self.http.get(format!("{}/health", self.base)).send().await, Ok(r) if r.status().is_success())
    }

    /// Sends `request`; the body of a success, or [`AdminError::Refused`] with the message the
    /// admin API gave.
    async fn send_text(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<String, AdminError> {
        let connect = |source| AdminError::Connect {
            url: self.base.clone(),
            source,
        };
        let response = request.send().await.map_err(connect)?;
        let status = response.status();
        let text = response.text().await.map_err(connect)?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or(text);
            return Err(AdminError::Refused {
                what: what.to_owned(),
                status: status.as_u16(),
                message,
            });
        }
        Ok(text)
    }

    /// [`send_text`](Self::send_text), the body read as JSON.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Value, AdminError> {
        let text = self.send_text(request, what).await?;
        serde_json::from_str(&text).map_err(|e| AdminError::InvalidResponse(format!("{e}: {text}")))
    }
}
