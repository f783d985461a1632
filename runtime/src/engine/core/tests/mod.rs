//! Unit tests of the core, one file per command family, as an endpoint would drive it: each
//! test encodes the commands a handler sends, applies them with [`super::apply`] on an
//! in-memory database with the engine's schema, and checks the frames answered, the effects
//! left for after the commit and what the store holds. No engine, endpoint or task runs.

mod attach;
mod awakeables;
mod calls;
mod finish;
mod promises;
mod state;
mod timers;

use super::{Applied, Command, Delivery, Effect, apply};
use crate::engine::protocol::{Frame, ProtocolMessage, pb};
use crate::engine::status::{Event, InvocationStatus};
use crate::engine::store::invocations::{self, Invocation, NewInvocation};
use crate::engine::store::{self, journal};
use crate::engine::{HandlerKind, Outcome, ids, protocol};
use rusqlite::{Connection, Transaction};
use std::collections::HashMap;

/// The time the tests run at (ms since the epoch).
const NOW: i64 = 1_750_000_000_000;

/// An in-memory store and the handlers its deployment serves.
struct Db {
    connection: Connection,
    kinds: HashMap<(&'static str, &'static str), HandlerKind>,
}

impl Db {
    /// A new store, for a deployment with a service `Greeter` (`greet`), an object `Counter`
    /// (`add` exclusive, `get` shared) and a workflow `Signup` (`run`, `confirm` shared).
    fn new() -> Db {
        Db {
            connection: store::memory_database(),
            kinds: HashMap::from([
                (("Greeter", "greet"), HandlerKind::Stateless),
                (("Counter", "add"), HandlerKind::Exclusive),
                (("Counter", "get"), HandlerKind::Shared),
                (("Signup", "run"), HandlerKind::WorkflowRun),
                (("Signup", "confirm"), HandlerKind::Shared),
            ]),
        }
    }

    /// A running invocation of `service`/`handler` under `key`, with its input journaled.
    fn running(&mut self, service: &str, handler: &str, key: &str) -> Invocation {
        let kind = self
            .kind(service, handler)
            .expect("a handler the deployment serves");
        self.write(|tx| {
            let raw = ids::new_invocation_raw();
            let id = ids::invocation_id(&raw);
            invocations::insert(
                tx,
                &NewInvocation {
                    id: &id,
                    raw_id: &raw,
                    service,
                    handler,
                    key,
                    kind,
                    status: InvocationStatus::Pending,
                    run_at: NOW,
                    idempotency_key: None,
                    random_seed: 1,
                    created_at: NOW,
                },
            )?;
            journal::append_first(tx, &id, protocol::INPUT_COMMAND, &[])?;
            invocations::transition(tx, &id, Event::Admitted { key_free: true })?;
            Ok(invocations::get(tx, &id)?.expect("just inserted"))
        })
    }

    fn kind(&self, service: &str, handler: &str) -> Option<HandlerKind> {
        self.kinds
            .iter()
            .find(|((s, h), _)| *s == service && *h == handler)
            .map(|(_, kind)| *kind)
    }

    /// Sends `message` as the next command of `inv` and commits what it did, as the engine
    /// does: a call learns its target's handler kind first, or that there is no such handler.
    fn apply<M: ProtocolMessage>(&mut self, inv: &Invocation, message: M) -> Applied {
        let frame = Frame::from_message(&message);
        let mut command = Command::decode(&frame).expect("a command that decodes");
        if let Command::Call(call) | Command::OneWayCall(call) = &mut command {
            match self.kind(&call.service, &call.handler) {
                Some(kind) => call.kind = Some(kind),
                None => {
                    call.target_missing =
                        Some(format!("no handler {}/{}", call.service, call.handler))
                }
            }
        }
        self.write(|tx| apply(tx, inv, &frame, command, NOW))
    }

    /// Runs `f` in a transaction that commits.
    fn write<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>) -> T {
        let tx = self.connection.transaction().unwrap();
        let value = f(&tx).unwrap();
        tx.commit().unwrap();
        value
    }

    /// Runs `f` in a transaction that is rolled back: looking changes nothing.
    fn look<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>) -> T {
        let tx = self.connection.transaction().unwrap();
        f(&tx).unwrap()
    }

    /// The message types in the journal of `id`, in order.
    fn journal(&mut self, id: &str) -> Vec<u16> {
        self.look(|tx| journal::read(tx, id))
            .into_iter()
            .map(|entry| entry.ty)
            .collect()
    }

    /// Ends `id` with `outcome`, as the engine does when its handler returns.
    fn complete(&mut self, id: &str, outcome: Outcome) {
        let completed =
            self.write(|tx| invocations::complete(tx, id, NOW, i64::MAX, i64::MAX, Some(&outcome)));
        assert!(completed.is_some(), "a running invocation completes");
    }

    /// How `id` ended; `None` while it runs.
    fn outcome(&mut self, id: &str) -> Option<Outcome> {
        self.look(|tx| invocations::outcome(tx, id))
            .expect("an invocation that exists")
    }
}

/// The one frame answered, decoded as `M` (checking its type).
fn only<M: ProtocolMessage>(frames: &[Frame]) -> M {
    assert_eq!(frames.len(), 1, "one frame answered");
    frames[0].decode().expect("the frame of the type expected")
}

/// The deliveries among `effects`.
fn deliveries(effects: &[Effect]) -> Vec<&Delivery> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Deliver(delivery) => Some(delivery),
            _ => None,
        })
        .collect()
}

fn value(bytes: &[u8]) -> pb::Value {
    pb::Value {
        content: bytes.to_vec(),
    }
}
