//! The scheduler: the one task that decides what runs. It owns which keys are held and by
//! which invocation, the queue of invocations waiting for each held key (in the order they
//! were admitted), and which invocations have an attempt starting or running, so that none is
//! started twice. Nothing else reads or changes these; everything else sends it a
//! [`Message`], and it never calls back into whoever sent one.
//!
//! Who sends what:
//! - `submit`, the timer task (a delayed invocation due) and a command's effects (a call or a
//!   send) send [`Message::Admit`] for an invocation written as `pending`.
//! - `submit` (a new invocation of a plain service, with what it starts from), a delivery
//!   that wakes a suspended invocation, a suspension that finds what it awaits arrived, the
//!   timer task (a retry due), `Engine::resume` and recovery send [`Message::Start`] for an
//!   invocation that is `running` on file and needs an attempt.
//! - `finish` (an invocation completed, by itself or killed) sends [`Message::Finished`]: the
//!   key it held goes to the next in line, or is forgotten when nobody waits.
//! - The task of each attempt sends [`Message::AttemptEnded`] when it ends, however it ended:
//!   a start asked for meanwhile (a wake-up racing the end of the attempt that suspended)
//!   starts the next attempt then.
//!
//! It is rebuilt from the store at open: recovery hands it the unfinished invocations
//! ([`Scheduler::recover`]), which applies each status's rule ([`Recovery`]).
//!
//! Why it never waits for the store: a decision needs only what is in memory here. The status
//! changes it decides (admitted and running, or queued behind the key's holder) are staged
//! store jobs, sent before anything that follows from them (the attempt's own job, which reads
//! the invocation and its journal, is sent after its admission); the store runs jobs in the
//! order they were sent, so a status change is written before the attempt reads it, without
//! the scheduler awaiting it. A crash that loses a staged change leaves the invocation in its
//! status before the change, whose recovery rule admits or queues it again. So the task
//! handles a message in memory and moves on: one task serializes the decisions on keys, which
//! the per-key locks did before, at no store round trip per message.
//!
//! What stays outside: the request-body senders of running attempts, the per-invocation
//! journal locks and the in-process watchers of outcomes (`Registry` in `mod.rs`). They are
//! the plumbing of delivery, not decisions: an attempt reaches its sender for every journaled
//! frame, and a message hop there would cost every frame. They are only ever locked briefly,
//! never across an await, and never decide what starts.
//!
//! May use: the engine's shared types, the invoker (to start an attempt), the store (a staged
//! status change) and the status type.

use super::status::{Event, InvocationStatus, Recovery};
use super::store::invocations::{self, Scheduled};
use super::{Engine, HandlerKind, Loaded};
use std::collections::{HashMap, VecDeque};
use tokio::sync::mpsc;

/// What the scheduler is told.
pub(super) enum Message {
    /// A `pending` invocation asks to run: at once when it holds no key or its key is free,
    /// else behind the key's holder and those queued before it.
    Admit {
        id: String,
        service: String,
        key: String,
        kind: HandlerKind,
    },
    /// An invocation that is `running` on file needs an attempt (with what it starts from,
    /// when that is known already). Started once: while an attempt of it is in flight, the
    /// next starts when that one ends.
    Start {
        id: String,
        loaded: Option<Box<Loaded>>,
    },
    /// The invocation has ended: the key it held goes to the next in line; queued, it leaves
    /// its queue. Nothing for an invocation that holds nothing here.
    Finished { id: String },
    /// The attempt of `id` has ended (its task returned).
    AttemptEnded { id: String },
}

/// What the scheduler decided, to be carried out in order.
pub(super) enum Action {
    /// Change the status of the invocation (a staged store job).
    Transition(String, Event),
    /// Start an attempt of the invocation.
    Spawn(String, Option<Box<Loaded>>),
}

/// A key held by an exclusive handler or a workflow's run.
#[derive(Debug)]
struct Held {
    holder: String,
    /// Queued behind the holder, in the order they were admitted.
    waiting: VecDeque<String>,
}

/// The scheduling state (see the module docs); [`Scheduler::on`] is its one way in.
#[derive(Debug, Default)]
pub(super) struct Scheduler {
    /// Held keys: (service, key) -> its holder and who waits for it.
    keys: HashMap<(String, String), Held>,
    /// For each invocation holding or waiting for a key, which one.
    slot_of: HashMap<String, (String, String)>,
    /// Invocations with an attempt starting or running -> whether another was asked for.
    attempts: HashMap<String, bool>,
}

impl Scheduler {
    /// The state recovery rebuilds from the unfinished invocations (in arrival order), by the
    /// rule of each status; with the status changes to commit before anything starts and the
    /// invocations to start.
    pub(super) fn recover(rows: &[Scheduled]) -> (Scheduler, Vec<(String, Event)>, Vec<String>) {
        let mut sched = Scheduler::default();
        let mut changes = Vec::new();
        let mut start = Vec::new();
        // First the keys already held, then the others in arrival order.
        for row in rows {
            if row.kind.holds_key() && row.status.holds_key() {
                sched.take_key(&row.id, &row.service, &row.key);
            }
        }
        for row in rows {
            let id = &row.id;
            match row.status.recovery() {
                Recovery::Restart => {
                    changes.push((id.clone(), Event::Restarted));
                    start.push(id.clone());
                }
                Recovery::Admit | Recovery::Queue => {
                    if !row.kind.holds_key() {
                        changes.push((id.clone(), Event::Admitted { key_free: true }));
                        start.push(id.clone());
                        continue;
                    }
                    let slot = (row.service.clone(), row.key.clone());
                    match sched.keys.get_mut(&slot) {
                        None => {
                            sched.take_key(id, &row.service, &row.key);
                            changes.push((id.clone(), Event::Admitted { key_free: true }));
                            start.push(id.clone());
                        }
                        Some(held) => {
                            held.waiting.push_back(id.clone());
                            sched.slot_of.insert(id.clone(), slot);
                            if row.status != InvocationStatus::Inboxed {
                                changes.push((id.clone(), Event::Admitted { key_free: false }));
                            }
                        }
                    }
                }
                Recovery::AwaitDelivery | Recovery::Timer | Recovery::Hold | Recovery::Nothing => {}
            }
        }
        (sched, changes, start)
    }

    fn take_key(&mut self, id: &str, service: &str, key: &str) {
        let slot = (service.to_owned(), key.to_owned());
        self.slot_of.insert(id.to_owned(), slot.clone());
        self.keys.insert(
            slot,
            Held {
                holder: id.to_owned(),
                waiting: VecDeque::new(),
            },
        );
    }

    /// Decides what `message` leads to, appending it to `out` in the order to carry it out.
    pub(super) fn on(&mut self, message: Message, out: &mut Vec<Action>) {
        match message {
            Message::Admit {
                id,
                service,
                key,
                kind,
            } => self.admit(id, service, key, kind, out),
            Message::Start { id, loaded } => self.start(id, loaded, out),
            Message::Finished { id } => self.finished(&id, out),
            Message::AttemptEnded { id } => {
                if self.attempts.remove(&id) == Some(true) {
                    self.start(id, None, out);
                }
            }
        }
    }

    fn admit(
        &mut self,
        id: String,
        service: String,
        key: String,
        kind: HandlerKind,
        out: &mut Vec<Action>,
    ) {
        if kind.holds_key() {
            if self.slot_of.contains_key(&id) {
                // Admitted already (holding its key or queued).
                return;
            }
            let slot = (service, key);
            if let Some(held) = self.keys.get_mut(&slot) {
                held.waiting.push_back(id.clone());
                self.slot_of.insert(id.clone(), slot);
                out.push(Action::Transition(id, Event::Admitted { key_free: false }));
                return;
            }
            self.take_key(&id, &slot.0, &slot.1);
        }
        out.push(Action::Transition(
            id.clone(),
            Event::Admitted { key_free: true },
        ));
        self.start(id, None, out);
    }

    fn start(&mut self, id: String, loaded: Option<Box<Loaded>>, out: &mut Vec<Action>) {
        match self.attempts.get_mut(&id) {
            // Its attempt is ending (it suspended, failed, or is being replaced): the next
            // starts when it has, from the journal.
            Some(again) => *again = true,
            None => {
                self.attempts.insert(id.clone(), false);
                out.push(Action::Spawn(id, loaded));
            }
        }
    }

    fn finished(&mut self, id: &str, out: &mut Vec<Action>) {
        let Some(slot) = self.slot_of.remove(id) else {
            return;
        };
        let Some(held) = self.keys.get_mut(&slot) else {
            return;
        };
        if held.holder != id {
            // Ended while queued (killed): it leaves the queue.
            held.waiting.retain(|waiting| waiting != id);
            return;
        }
        match held.waiting.pop_front() {
            Some(next) => {
                held.holder = next.clone();
                out.push(Action::Transition(
                    next.clone(),
                    Event::Admitted { key_free: true },
                ));
                self.start(next, None, out);
            }
            None => {
                // Nobody waits: the key is forgotten.
                self.keys.remove(&slot);
            }
        }
    }
}

/// The sending side, kept in the engine.
pub(super) type Sender = mpsc::UnboundedSender<Message>;
/// The receiving side, handed to [`run`].
pub(super) type Receiver = mpsc::UnboundedReceiver<Message>;

/// Messages handled per turn of the task, at most.
const BATCH: usize = 128;

/// The scheduler task: handles messages until the engine shuts down.
pub(super) async fn run(engine: Engine, mut sched: Scheduler, mut inbox: Receiver) {
    let mut shutdown = engine.inner.shutdown.subscribe();
    let mut messages = Vec::with_capacity(BATCH);
    let mut actions = Vec::new();
    loop {
        if engine.is_shut_down() {
            return;
        }
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            received = inbox.recv_many(&mut messages, BATCH) => if received == 0 {
                return;
            },
        }
        for message in messages.drain(..) {
            sched.on(message, &mut actions);
            for action in actions.drain(..) {
                match action {
                    Action::Transition(id, event) => {
                        engine.inner.store.stage_detached(move |tx| {
                            invocations::transition(tx, &id, event).map(drop)
                        });
                    }
                    Action::Spawn(id, loaded) => engine.spawn_attempt(id, loaded),
                }
            }
        }
    }
}

impl Engine {
    /// Tells the scheduler (nothing once it has stopped, at shutdown).
    pub(super) fn schedule(&self, message: Message) {
        let _ = self.inner.scheduler.send(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit(id: &str, key: &str) -> Message {
        Message::Admit {
            id: id.to_owned(),
            service: "Counter".to_owned(),
            key: key.to_owned(),
            kind: HandlerKind::Exclusive,
        }
    }

    fn start(id: &str) -> Message {
        Message::Start {
            id: id.to_owned(),
            loaded: None,
        }
    }

    fn finished(id: &str) -> Message {
        Message::Finished { id: id.to_owned() }
    }

    fn ended(id: &str) -> Message {
        Message::AttemptEnded { id: id.to_owned() }
    }

    /// What `messages` lead to, written out (`id: event` or `spawn id`).
    fn decide(sched: &mut Scheduler, messages: impl IntoIterator<Item = Message>) -> Vec<String> {
        let mut out = Vec::new();
        for message in messages {
            sched.on(message, &mut out);
        }
        out.into_iter()
            .map(|action| match action {
                Action::Transition(id, event) => format!("{id}: {event:?}"),
                Action::Spawn(id, _) => format!("spawn {id}"),
            })
            .collect()
    }

    fn is_empty(sched: &Scheduler) -> bool {
        sched.keys.is_empty() && sched.slot_of.is_empty() && sched.attempts.is_empty()
    }

    #[test]
    fn a_key_goes_to_those_waiting_in_the_order_they_were_admitted() {
        let mut sched = Scheduler::default();
        assert_eq!(
            decide(
                &mut sched,
                [admit("a", "k"), admit("b", "k"), admit("c", "k")]
            ),
            [
                "a: Admitted { key_free: true }",
                "spawn a",
                "b: Admitted { key_free: false }",
                "c: Admitted { key_free: false }",
            ]
        );
        // Another key is not held by the first.
        assert_eq!(
            decide(&mut sched, [admit("x", "other")]),
            ["x: Admitted { key_free: true }", "spawn x"]
        );
        assert_eq!(
            decide(&mut sched, [ended("a"), finished("a")]),
            ["b: Admitted { key_free: true }", "spawn b"]
        );
        // A finish reported twice (a kill, then the attempt's own end) hands the key once.
        assert!(decide(&mut sched, [finished("a")]).is_empty());
        assert_eq!(
            decide(&mut sched, [finished("b"), ended("b")]),
            ["c: Admitted { key_free: true }", "spawn c"]
        );
        assert!(
            decide(
                &mut sched,
                [finished("c"), ended("c"), finished("x"), ended("x")]
            )
            .is_empty()
        );
        // Released with nobody waiting: forgotten.
        assert!(is_empty(&sched), "{sched:?}");
    }

    #[test]
    fn a_queued_invocation_that_ends_leaves_the_queue() {
        let mut sched = Scheduler::default();
        decide(
            &mut sched,
            [admit("a", "k"), admit("b", "k"), admit("c", "k")],
        );
        // `b` is killed while queued: it gets nothing, and `a` still holds the key.
        assert!(decide(&mut sched, [finished("b")]).is_empty());
        assert_eq!(
            decide(&mut sched, [finished("a")]),
            ["c: Admitted { key_free: true }", "spawn c"]
        );
        decide(&mut sched, [ended("a"), finished("c"), ended("c")]);
        assert!(is_empty(&sched), "{sched:?}");
    }

    #[test]
    fn invocations_that_hold_no_key_start_at_once() {
        let mut sched = Scheduler::default();
        let shared = |id: &str, kind| Message::Admit {
            id: id.to_owned(),
            service: "Counter".to_owned(),
            key: "k".to_owned(),
            kind,
        };
        assert_eq!(
            decide(
                &mut sched,
                [
                    admit("a", "k"),
                    shared("s", HandlerKind::Shared),
                    shared("t", HandlerKind::Stateless)
                ]
            ),
            [
                "a: Admitted { key_free: true }",
                "spawn a",
                "s: Admitted { key_free: true }",
                "spawn s",
                "t: Admitted { key_free: true }",
                "spawn t",
            ]
        );
        // Their end frees nothing.
        assert!(decide(&mut sched, [finished("s"), ended("s"), ended("t")]).is_empty());
        assert_eq!(sched.keys.len(), 1);
    }

    #[test]
    fn an_invocation_is_never_started_twice() {
        let mut sched = Scheduler::default();
        assert_eq!(decide(&mut sched, [start("a")]), ["spawn a"]);
        // Woken (twice, say) while its attempt is still ending: one more attempt, once the
        // first has ended.
        assert!(decide(&mut sched, [start("a"), start("a")]).is_empty());
        assert_eq!(decide(&mut sched, [ended("a")]), ["spawn a"]);
        assert!(decide(&mut sched, [ended("a")]).is_empty());
        // Admitted twice: started once.
        assert_eq!(
            decide(&mut sched, [admit("b", "k"), admit("b", "k")]),
            ["b: Admitted { key_free: true }", "spawn b"]
        );
        decide(&mut sched, [finished("b"), ended("b")]);
        assert!(is_empty(&sched), "{sched:?}");
    }

    #[test]
    fn a_killed_holder_hands_its_key_at_once_and_its_late_end_changes_nothing() {
        // Recovery: `a` holds the key (backoff) and its retry is started; `b` waits. Then a
        // kill ends `a` while its attempt is in flight: `b` starts at once (as it would after
        // any kill), and `a`'s late end changes nothing.
        let rows = [
            row("a", "k", HandlerKind::Exclusive, InvocationStatus::Backoff),
            row("b", "k", HandlerKind::Exclusive, InvocationStatus::Inboxed),
        ];
        let (mut sched, changes, starts) = Scheduler::recover(&rows);
        assert!(changes.is_empty() && starts.is_empty());
        assert_eq!(decide(&mut sched, [start("a")]), ["spawn a"]);
        assert_eq!(
            decide(&mut sched, [finished("a")]),
            ["b: Admitted { key_free: true }", "spawn b"]
        );
        assert!(decide(&mut sched, [ended("a")]).is_empty());
    }

    /// Carries out the status changes of `actions` as the task does (queued, not awaited);
    /// the invocations it would start.
    fn carry(store: &crate::engine::store::Store, actions: &mut Vec<Action>) -> Vec<String> {
        let mut spawned = Vec::new();
        for action in actions.drain(..) {
            match action {
                Action::Transition(id, event) => store
                    .stage_detached(move |tx| invocations::transition(tx, &id, event).map(drop)),
                Action::Spawn(id, _) => spawned.push(id),
            }
        }
        spawned
    }

    /// The status on file of each of `ids`, and the first inboxed on `Counter/k`, read by a
    /// job queued after everything carried out so far.
    async fn on_file(
        store: &crate::engine::store::Store,
        ids: &'static [&'static str],
    ) -> (Vec<String>, Option<String>) {
        store
            .run(move |tx| {
                let mut statuses = Vec::new();
                for id in ids {
                    let status = invocations::status(tx, id)?.expect("on file");
                    statuses.push(format!("{id} {status}"));
                }
                Ok((statuses, invocations::next_inboxed(tx, "Counter", "k")?))
            })
            .await
            .unwrap()
    }

    /// Driven against a store in memory: the status changes it decides, queued without
    /// waiting, are on file before anything read after them, and the store's order of the
    /// queue (what recovery rebuilds it from) is the scheduler's.
    #[tokio::test]
    async fn its_decisions_reach_the_store_in_order() {
        use crate::engine::store::{Store, invocations::NewInvocation};
        let store = Store::open(None, false, None).unwrap();
        const IDS: &[&str] = &["a", "b", "c"];
        store
            .run(|tx| {
                for id in IDS {
                    invocations::insert(
                        tx,
                        &NewInvocation {
                            id,
                            raw_id: id.as_bytes(),
                            service: "Counter",
                            handler: "Add",
                            key: "k",
                            kind: HandlerKind::Exclusive,
                            status: InvocationStatus::Pending,
                            run_at: 0,
                            idempotency_key: None,
                            random_seed: 0,
                            created_at: 0,
                        },
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let mut sched = Scheduler::default();
        let mut actions = Vec::new();
        for id in IDS {
            sched.on(admit(id, "k"), &mut actions);
        }
        assert_eq!(carry(&store, &mut actions), ["a"]);
        assert_eq!(
            on_file(&store, IDS).await,
            (
                vec![
                    "a running".to_owned(),
                    "b inboxed".to_owned(),
                    "c inboxed".to_owned()
                ],
                Some("b".to_owned())
            )
        );
        // `a` ends: `b` is admitted, and is started after its status is on file.
        store
            .run(|tx| invocations::transition(tx, "a", Event::Ended).map(drop))
            .await
            .unwrap();
        sched.on(finished("a"), &mut actions);
        sched.on(ended("a"), &mut actions);
        assert_eq!(carry(&store, &mut actions), ["b"]);
        assert_eq!(
            on_file(&store, IDS).await,
            (
                vec![
                    "a completed".to_owned(),
                    "b running".to_owned(),
                    "c inboxed".to_owned()
                ],
                Some("c".to_owned())
            )
        );
    }

    fn row(id: &str, key: &str, kind: HandlerKind, status: InvocationStatus) -> Scheduled {
        Scheduled {
            id: id.to_owned(),
            service: "Counter".to_owned(),
            key: key.to_owned(),
            kind,
            status,
        }
    }

    #[test]
    fn recovery_applies_the_rule_of_each_status() {
        use HandlerKind::{Exclusive, Shared};
        use InvocationStatus::*;
        // In arrival order. `k`: `p1` pending arrived before the holder `r` was seen; it waits
        // all the same, as the holder keeps its key. `m`: free, so the first pending takes it.
        let rows = [
            row("p1", "k", Exclusive, Pending),
            row("i1", "k", Exclusive, Inboxed),
            row("r", "k", Exclusive, Running),
            row("i2", "m", Exclusive, Inboxed),
            row("p2", "m", Exclusive, Pending),
            row("s", "n", Exclusive, Suspended),
            row("sh", "n", Shared, Pending),
            row("d", "n", Exclusive, Scheduled),
            row("w", "o", Exclusive, Paused),
        ];
        let (mut sched, changes, starts) = Scheduler::recover(&rows);
        let changes: Vec<String> = changes
            .into_iter()
            .map(|(id, event)| format!("{id}: {event:?}"))
            .collect();
        assert_eq!(
            changes,
            [
                "p1: Admitted { key_free: false }",
                "r: Restarted",
                "i2: Admitted { key_free: true }",
                "p2: Admitted { key_free: false }",
                "sh: Admitted { key_free: true }",
            ]
        );
        assert_eq!(starts, ["r", "i2", "sh"]);
        // `k` goes to `p1` then `i1`, `m` to `p2`; nobody waits for `n` and `o`.
        assert_eq!(
            decide(&mut sched, [finished("r")]),
            ["p1: Admitted { key_free: true }", "spawn p1"]
        );
        assert_eq!(
            decide(&mut sched, [finished("p1")]),
            ["i1: Admitted { key_free: true }", "spawn i1"]
        );
        assert_eq!(
            decide(&mut sched, [finished("i2")]),
            ["p2: Admitted { key_free: true }", "spawn p2"]
        );
        assert!(decide(&mut sched, [finished("s"), finished("w")]).is_empty());
        assert_eq!(sched.keys.len(), 2, "{sched:?}");
    }
}
