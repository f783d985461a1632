//! The in-process test harness: the embedded engine in memory, with virtual time and crash
//! injection, in one line.
//!
//! ```no_run
//! # use restate_rs::prelude::*;
//! # async fn demo(endpoint: Endpoint) -> Result<(), Box<dyn std::error::Error>> {
//! use restate_rs::engine::{CrashPoint, Target};
//! use restate_rs::harness::TestEngine;
//! use std::time::Duration;
//!
//! let test = TestEngine::start(endpoint).await?;
//! // Crash the next run of the workflow right after its "charge card" step is journaled:
//! test.crash(Target::service("shop.v1.Checkout", "Run"), CrashPoint::AfterStepCompletes("charge card".into()));
//! // ... call it with the generated clients: `CheckoutIngressClient::new(test.ingress())` ...
//! // Seven days pass in an instant:
//! test.advance(Duration::from_secs(7 * 24 * 3600));
//! // Or skip to whatever timer is due next:
//! test.advance_to_next_timer().await?;
//! # Ok(()) }
//! ```
//!
//! Inspect and seed with the engine's own methods (`test` derefs to [`Engine`]): `state`,
//! `set_state`, `promise`, `complete_promise`, `describe` (the journal), `invocations`.

use crate::engine::{CrashPoint, Engine, EngineError, ManualClock, Target};
use crate::ingress::IngressClient;
use restate_sdk::endpoint::Endpoint;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// An in-memory engine on a manual clock.
#[derive(Debug, Clone)]
pub struct TestEngine {
    engine: Engine,
    clock: Arc<ManualClock>,
}

impl TestEngine {
    /// Starts an in-memory engine serving `endpoint`, on a manual clock, suspending idle
    /// invocations after 100 ms so that tests exercise suspension and replay.
    pub async fn start(endpoint: Endpoint) -> Result<Self, EngineError> {
        let clock = ManualClock::new();
        let engine = Engine::builder(endpoint)
            .clock(clock.clone())
            .inactivity_timeout(Duration::from_millis(100))
            .in_memory()
            .await?;
        Ok(Self { engine, clock })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The clock.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// An ingress client for the generated `FooIngressClient`s.
    pub fn ingress(&self) -> IngressClient {
        self.engine.ingress()
    }

    /// Moves time forward: due timers fire, delayed calls start.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Moves time to the next timer, delayed invocation or retry that is due, if any; returns
    /// whether there was one.
    pub async fn advance_to_next_timer(&self) -> Result<bool, EngineError> {
        let Some(next) = self.engine.next_timer().await? else {
            return Ok(false);
        };
        let now = SystemTime::UNIX_EPOCH
            + Duration::from_millis(crate::engine::Clock::now_millis(&*self.clock));
        if let Ok(ahead) = next.duration_since(now) {
            self.clock.advance(ahead + Duration::from_millis(1));
        } else {
            self.clock.advance(Duration::from_millis(1));
        }
        Ok(true)
    }

    /// Makes the next invocation of `target` crash once at `point`; the engine recovers it by
    /// replay.
    pub fn crash(&self, target: Target, point: CrashPoint) {
        self.engine.inject_crash(target, point);
    }
}

impl std::ops::Deref for TestEngine {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}
