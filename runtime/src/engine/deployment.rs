//! Where the engine's handlers run: a restate-sdk endpoint in this process, or a deployment
//! reached over HTTP/2 (cleartext), as restate-server reaches its deployments.

use super::EngineError;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty};
use restate_sdk::endpoint::Endpoint;

/// A request or response body, whatever carries it.
pub(crate) type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

type Client =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Body>;

/// Where handlers run.
#[derive(Clone)]
pub(crate) enum Deployment {
    /// An endpoint in this process, driven through `Endpoint::handle`.
    InProcess(Endpoint),
    /// A deployment at an HTTP URL, over HTTP/2 with prior knowledge.
    Remote { base: String, client: Box<Client> },
}

impl Deployment {
    pub(crate) fn remote(url: &str) -> Result<Self, EngineError> {
        let base = url.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            return Err(EngineError::Discovery(format!(
                "the deployment URL `{url}` must start with http:// (the engine speaks HTTP/2 cleartext)"
            )));
        }
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .http2_only(true)
                .build_http();
        Ok(Deployment::Remote {
            base,
            client: Box::new(client),
        })
    }

    /// Sends a request to `path` (like `/invoke/svc/handler`) and returns the response with
    /// its body boxed.
    pub(crate) async fn send(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, EngineError> {
        match self {
            Deployment::InProcess(endpoint) => {
                let response = endpoint.handle(request);
                Ok(response.map(BodyExt::boxed_unsync))
            }
            Deployment::Remote { base, client } => {
                let (mut parts, body) = request.into_parts();
                let path = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                parts.uri = format!("{base}{path}")
                    .parse()
                    .map_err(|e| EngineError::Discovery(format!("bad URL {base}{path}: {e}")))?;
                let response = client
                    .request(http::Request::from_parts(parts, body))
                    .await
                    .map_err(|e| {
                        EngineError::Discovery(format!(
                            "cannot reach the deployment at {base}: {e}"
                        ))
                    })?;
                Ok(response.map(|body| {
                    body.map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })
                        .boxed_unsync()
                }))
            }
        }
    }

    /// Where it is, for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Deployment::InProcess(_) => "the in-process endpoint".to_owned(),
            Deployment::Remote { base, .. } => base.clone(),
        }
    }
}

/// An empty body.
pub(crate) fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}
