//! The engine over HTTP: the ingress and admin servers, the admin API the official CLI reads,
//! `POST /query` and the Prometheus metrics.
//!
//! Owns nothing of the engine's state: every route calls [`Engine`](super::Engine)'s methods,
//! the typed checks of [`transport`](super::transport) and, for reads, the store's typed
//! functions. The engine reaches in only for `ingress::InputRule` (a handler's declared input)
//! and the `metrics` recorders.

pub(super) mod admin;
pub(super) mod admin_api;
pub(super) mod ingress;
pub(super) mod metrics;
pub(super) mod query;
