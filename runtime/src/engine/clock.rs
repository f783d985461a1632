//! Time as the engine sees it: the system clock, or a manual one that tests move forward.

use futures::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// The engine's source of time for timers, delayed sends and retries.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    /// Resolves after `duration` of this clock's time (never, for `None`). The engine also
    /// wakes on its own when time is moved or timers change.
    fn sleep(&self, duration: Option<Duration>) -> BoxFuture<'static, ()>;

    /// Gives the clock the engine's waker, to call when time jumps.
    fn set_waker(&self, _waker: Arc<Notify>) {}
}

/// Real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn sleep(&self, duration: Option<Duration>) -> BoxFuture<'static, ()> {
        match duration {
            Some(d) => Box::pin(tokio::time::sleep(d)),
            None => Box::pin(std::future::pending()),
        }
    }
}

/// Time that moves only when told: a workflow that sleeps for a week finishes as soon as
/// the test calls [`advance`](ManualClock::advance) by a week.
///
/// Note that restate-sdk computes a sleep's wake-up time from the system clock, so the manual
/// clock starts at the system time and only ever moves ahead of it.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset: AtomicU64,
    waker: Mutex<Option<Arc<Notify>>>,
}

impl ManualClock {
    /// A clock at the current system time.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Moves time forward; due timers fire.
    pub fn advance(&self, by: Duration) {
        self.offset
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
        if let Some(waker) = self.waker.lock().unwrap().as_ref() {
            waker.notify_one();
        }
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        SystemClock.now_millis() + self.offset.load(Ordering::SeqCst)
    }

    fn sleep(&self, duration: Option<Duration>) -> BoxFuture<'static, ()> {
        // Real time still passes (the SDK stamps sleeps with the system clock), so wake at
        // least at the real deadline; advancing wakes earlier.
        SystemClock.sleep(duration)
    }

    fn set_waker(&self, waker: Arc<Notify>) {
        *self.waker.lock().unwrap() = Some(waker);
    }
}
