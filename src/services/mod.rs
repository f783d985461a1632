//! Implementations of the services in `proto/hydra/v1`, used by the examples and the tests.

mod deployment;
mod greeter;
pub mod keys;
pub mod scenarios;
mod signup;
pub mod sweep;
pub mod toolkit;

pub use deployment::Deployments;
pub use greeter::Greetings;
pub use signup::{Outbox, Signups};
