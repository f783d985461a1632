//! The engine's storage: one SQLite file (WAL), written by one thread that runs every job in
//! order in one open transaction and commits only when someone is owed durability.
//!
//! Two kinds of job:
//! - [`Store::run`]: the reply comes once the transaction holding the job has committed. For
//!   what is answered or acknowledged outside the engine (a caller's result, an accepted
//!   invocation, a `ctx.run` result sent to the handler) and for reads shown outside.
//! - [`Store::stage`]: the reply comes as soon as the job has run; it is committed with the
//!   next commit. For what nobody is told about yet (a journaled state write or call, a
//!   status change, an attempt's journal read).
//!
//! Why staging is safe: jobs run in order on one connection and transactions commit in order,
//! so a commit makes everything staged before it durable too. A staged job lost in a crash
//! was therefore never followed by a durable one that depends on it, and nothing that
//! depended on it was shown outside. If a commit fails, or a job fails after it has written
//! (jobs have no savepoint of their own; see [`run_job`]), the store stops: later jobs are
//! refused, so nothing is built on work that was rolled back.
//!
//! The writer commits when a durable job is in the open transaction and no other job is
//! queued, when the group reaches [`MAX_GROUP`] jobs, or when staged work has waited
//! [`MAX_STAGED_WAIT`] (so that other readers of the file see it). Statements are prepared
//! once per connection ([`Sql`]). The schema lives in `schema.rs` with its version; a file of
//! an older version is migrated at open, a newer or foreign one is refused.
//!
//! This module is the only place with SQL on the engine's tables: each table has a file with
//! its statements as typed functions on a connection or transaction ([`invocations`],
//! [`journal`], [`state`], [`promises`], [`idempotency`], [`waiters`], [`timers`],
//! [`outbox`]). Jobs call them; the rest of the engine never sees a SQL string.

pub(crate) mod idempotency;
pub(crate) mod invocations;
pub(crate) mod journal;
pub(crate) mod outbox;
pub(crate) mod promises;
mod schema;
pub(crate) mod state;
pub(crate) mod timers;
pub(crate) mod views;
pub(crate) mod waiters;

use rusqlite::{Connection, Params, Row, Transaction};
pub(crate) use schema::prepare;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// At most this many jobs in one transaction.
const MAX_GROUP: usize = 512;
/// Staged work with no durable job behind it is committed after this long.
const MAX_STAGED_WAIT: Duration = Duration::from_millis(20);
/// Statements kept prepared per connection: more than the engine has.
const STATEMENT_CACHE: usize = 256;

/// Statements run through the connection's cache of prepared statements, so that each is
/// parsed and planned once, not at every use.
pub(crate) trait Sql {
    /// Runs a statement; the number of rows changed.
    fn exec<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    /// Runs a query and maps its first row; `QueryReturnedNoRows` when there is none.
    fn row<T, P: Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
    /// Runs a query and maps every row, in order.
    fn rows<T, P: Params, F: FnMut(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<Vec<T>>;
}

impl Sql for Connection {
    fn exec<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P: Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn rows<T, P: Params, F: FnMut(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<Vec<T>> {
        self.prepare_cached(sql)?.query_map(params, f)?.collect()
    }
}

/// Called on the storage thread after each commit, with the number of commits so far (from
/// 1). Crash tests stop the process there, at every commit boundary in turn.
pub(crate) type CommitHook = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("cannot open the engine database {path}: {message}")]
    Open { path: String, message: String },
    #[error("{path} is not a restate-rs engine database ({reason}); refusing to touch it")]
    Foreign { path: String, reason: String },
    #[error("engine database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the engine's storage thread has stopped")]
    Closed,
    #[error("the engine database could not commit; see the log for the reason")]
    NotCommitted,
}

/// A unit of work: runs in the shared transaction, says whether it succeeded, and hands back
/// what to do once the transaction is committed (or not).
type Work = Box<dyn FnOnce(&Transaction<'_>) -> (bool, Box<dyn FnOnce(bool) + Send>) + Send>;

/// A job and whether its reply waits for the commit.
struct Job {
    work: Work,
    durable: bool,
}

/// A handle to the storage thread. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Store {
    jobs: mpsc::Sender<Job>,
    path: String,
    /// What a read-only query connection opens: the file, or the shared in-memory database.
    reader: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, or an in-memory one for `None`.
    pub(crate) fn open(
        path: Option<&Path>,
        durable: bool,
        hook: Option<CommitHook>,
    ) -> Result<Self, StoreError> {
        let shown = path.map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string());
        // An in-memory database is named and shared, so that queries can read it (admin SQL).
        let reader = path.map_or_else(
            || {
                format!(
                    "file:restate-rs-{}?mode=memory&cache=shared",
                    uuid::Uuid::new_v4().simple()
                )
            },
            |p| p.display().to_string(),
        );
        let connection = match path {
            Some(p) => Connection::open(p),
            None => Connection::open_with_flags(
                &reader,
                rusqlite::OpenFlags::default() | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            ),
        }
        .map_err(|e| StoreError::Open {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        prepare(&connection, &shown, durable)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let (jobs, receiver) = mpsc::channel::<Job>();
        let thread_path = shown.clone();
        std::thread::Builder::new()
            .name("restate-rs-store".to_owned())
            .spawn(move || writer(connection, receiver, thread_path, hook))
            .map_err(|e| StoreError::Open {
                path: shown.clone(),
                message: format!("cannot start the storage thread: {e}"),
            })?;
        Ok(Self {
            jobs,
            path: shown,
            reader,
        })
    }

    /// What a read-only query connection opens (a path or a `file:` URI).
    pub(crate) fn reader(&self) -> &str {
        &self.reader
    }

    /// Runs `work` in a transaction shared with whatever else is queued, and returns its
    /// result once the transaction has committed.
    pub(crate) async fn run<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        self.submit(work, true).await
    }

    /// Runs `work` after everything queued before it, and returns its result at once, before
    /// it is committed: it becomes durable with the next commit. Only for work that nobody
    /// outside the engine is told about until a later durable job (see the module docs).
    pub(crate) async fn stage<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        self.submit(work, false).await
    }

    /// [`Store::stage`] without waiting for the answer: the job is queued before this returns
    /// (so it runs before any job queued after it), and a failure is logged. For a task that
    /// must not wait for the store, whose later jobs depend on this one having run.
    pub(crate) fn stage_detached<F>(&self, work: F)
    where
        F: FnOnce(&Transaction<'_>) -> Result<(), rusqlite::Error> + Send + 'static,
    {
        let work: Work = Box::new(move |tx| {
            let result = work(tx);
            let ok = result.is_ok();
            let reply: Box<dyn FnOnce(bool) + Send> = Box::new(move |_committed: bool| {
                if let Err(e) = result {
                    tracing::error!("engine database: a staged job failed: {e}");
                }
            });
            (ok, reply)
        });
        if self
            .jobs
            .send(Job {
                work,
                durable: false,
            })
            .is_err()
        {
            tracing::error!("engine database: {}", StoreError::Closed);
        }
    }

    /// [`Store::run`] when `durable`, [`Store::stage`] otherwise.
    pub(crate) async fn submit<R, F>(&self, work: F, durable: bool) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<R, StoreError>>();
        let work: Work = Box::new(move |tx| {
            let result = work(tx);
            let ok = result.is_ok();
            let reply: Box<dyn FnOnce(bool) + Send> = Box::new(move |committed: bool| {
                let _ = reply.send(match (result, committed) {
                    (Ok(r), true) => Ok(r),
                    (Ok(_), false) => Err(StoreError::NotCommitted),
                    (Err(e), _) => Err(StoreError::Sql(e)),
                });
            });
            (ok, reply)
        });
        self.jobs
            .send(Job { work, durable })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

fn writer(
    mut connection: Connection,
    jobs: mpsc::Receiver<Job>,
    path: String,
    hook: Option<CommitHook>,
) {
    let mut commits: u64 = 0;
    // The first job of a group; the next one is waited for only while the group may stay open.
    let mut next = jobs.recv().ok();
    while let Some(first) = next.take() {
        let tx = match connection.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!(
                    "engine database {path}: cannot begin a transaction: {e}; the engine stops"
                );
                // Dropping the job (and the receiver) answers it and every later one: closed.
                drop(first);
                return;
            }
        };
        let opened = Instant::now();
        let mut owed = Vec::new();
        let mut size = 0usize;
        let mut job = first;
        let mut broken = None;
        loop {
            size += 1;
            let (reply, ok) = run_job(&tx, job.work);
            if !ok {
                // It failed half-way: what it wrote cannot be taken back alone, and the staged
                // jobs of this group have answered already. Stop, as on a failed commit.
                broken = Some(reply);
                break;
            }
            if job.durable {
                owed.push(reply);
            } else {
                reply(true);
            }
            if size >= MAX_GROUP {
                break;
            }
            // More work queued: it joins this transaction.
            match jobs.try_recv() {
                Ok(more) => {
                    job = more;
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {}
            }
            if !owed.is_empty() {
                break;
            }
            // Only staged work so far: wait for more, a while.
            let left = MAX_STAGED_WAIT.saturating_sub(opened.elapsed());
            match jobs.recv_timeout(left) {
                Ok(more) => job = more,
                Err(_) => break,
            }
        }
        if let Some(reply) = broken {
            tracing::error!(
                "engine database {path}: a job failed after it had written; its transaction is \
                 rolled back and the engine stops"
            );
            drop(tx);
            reply(false);
            for reply in owed {
                reply(false);
            }
            return;
        }
        let committing = Instant::now();
        match tx.commit() {
            Ok(()) => {
                super::metrics::commit(size, committing.elapsed());
                commits += 1;
                if let Some(hook) = &hook {
                    hook(commits);
                }
                for reply in owed {
                    reply(true);
                }
            }
            Err(e) => {
                // Staged work was rolled back with it, and something may have been built on
                // it: refuse everything from now on rather than commit a later job without it.
                tracing::error!("engine database {path}: commit failed: {e}; the engine stops");
                for reply in owed {
                    reply(false);
                }
                return;
            }
        }
        next = jobs.recv().ok();
    }
}

/// Runs one job in the open transaction; its reply, and `false` if it failed after it had
/// changed rows.
///
/// Jobs run without a savepoint of their own: a savepoint per job made SQLite copy every page
/// the job touched to a sub-journal (14% of the engine's CPU in a profile). A job that fails
/// before it writes (a lookup that finds nothing, a row that does not decode) leaves no trace
/// and the group goes on. A job that fails after writing leaves its group half-done; that
/// takes an SQLite error (disk full, I/O) or a broken invariant, and the caller stops the
/// store.
fn run_job(tx: &Transaction<'_>, work: Work) -> (Box<dyn FnOnce(bool) + Send>, bool) {
    let before = tx.total_changes();
    let (ok, reply) = work(tx);
    (reply, ok || tx.total_changes() == before)
}

/// An in-memory database with the engine's schema, for unit tests.
#[cfg(test)]
pub(crate) fn memory_database() -> Connection {
    let connection = Connection::open_in_memory().expect("an in-memory database");
    prepare(&connection, ":memory:", false).expect("the engine's schema");
    connection
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;
    use std::future::Future;

    /// An in-memory database with the engine's schema, for the tests of each table.
    pub(super) fn database() -> Connection {
        memory_database()
    }

    /// The statements the engine runs for every invocation, bound with changing values, are
    /// planned once. A text parameter compared with the leading column of an index that the
    /// statement then orders by makes SQLite (with STAT4, as bundled) plan the statement again
    /// at every run, unless the parameter is wrapped in `CAST(? AS TEXT)`: that cost 12% of
    /// the engine's CPU.
    #[test]
    fn statements_run_per_invocation_are_planned_once() {
        let connection = database();
        let runs = 20;
        for i in 0..runs {
            let id = format!("inv_{i}");
            connection
                .exec(
                    "INSERT INTO journal (invocation_id, idx, ty, payload) VALUES (?1, 0, 1, x'00')",
                    [&id],
                )
                .unwrap();
            let _: i64 = connection
                .row(journal::NEXT_INDEX, [&id], |r| r.get(0))
                .unwrap();
            let mut read = connection.prepare_cached(journal::READ).unwrap();
            let _ = read
                .query_map([&id], |r| r.get::<_, i64>(0))
                .unwrap()
                .count();
            let mut next = connection
                .prepare_cached(invocations::NEXT_INBOXED)
                .unwrap();
            let _ = next
                .query_map(params![format!("s{i}"), format!("k{i}"), "inboxed"], |r| {
                    r.get::<_, String>(0)
                })
                .unwrap()
                .count();
        }
        for sql in [
            journal::NEXT_INDEX,
            journal::READ,
            invocations::NEXT_INBOXED,
        ] {
            let statement = connection.prepare_cached(sql).unwrap();
            assert_eq!(
                statement.get_status(rusqlite::StatementStatus::Run),
                runs,
                "{sql}"
            );
            assert_eq!(
                statement.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "planned again at every run: {sql}"
            );
        }
    }

    fn count_meta(store: &Store) -> impl Future<Output = Result<i64, StoreError>> + '_ {
        store.run(|tx| tx.row("SELECT COUNT(*) FROM meta", [], |r| r.get(0)))
    }

    /// A job that fails before writing anything leaves no trace, and the jobs around it go on.
    #[tokio::test]
    async fn a_job_that_fails_before_writing_leaves_the_others_alone() {
        let store = Store::open(None, false, None).unwrap();
        let before = count_meta(&store).await.unwrap();
        store
            .stage(|tx| tx.exec("INSERT INTO meta (name, value) VALUES ('a', '1')", []))
            .await
            .unwrap();
        let missing = store
            .run(|tx| {
                tx.row("SELECT value FROM meta WHERE name = 'none'", [], |r| {
                    r.get::<_, String>(0)
                })
            })
            .await;
        assert!(matches!(
            missing,
            Err(StoreError::Sql(rusqlite::Error::QueryReturnedNoRows))
        ));
        store
            .run(|tx| tx.exec("INSERT INTO meta (name, value) VALUES ('b', '2')", []))
            .await
            .unwrap();
        assert_eq!(count_meta(&store).await.unwrap(), before + 2);
    }

    /// A job that fails after it has written cannot be undone alone: its transaction is rolled
    /// back (with the staged jobs before it) and the store refuses every later job, so that no
    /// later commit makes durable work built on what was rolled back.
    #[tokio::test]
    async fn a_job_that_fails_after_writing_stops_the_store() {
        let store = Store::open(None, false, None).unwrap();
        let before = count_meta(&store).await.unwrap();
        let reader = Connection::open_with_flags(
            store.reader(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        store
            .stage(|tx| tx.exec("INSERT INTO meta (name, value) VALUES ('staged', '1')", []))
            .await
            .unwrap();
        let half = store
            .run(|tx| {
                tx.exec("INSERT INTO meta (name, value) VALUES ('half', '1')", [])?;
                // The same primary key again: the job fails after its first write.
                tx.exec("INSERT INTO meta (name, value) VALUES ('half', '2')", [])
            })
            .await;
        assert!(matches!(half, Err(StoreError::Sql(_))), "{half:?}");
        assert!(matches!(count_meta(&store).await, Err(StoreError::Closed)));
        let on_file: i64 = reader
            .query_row("SELECT COUNT(*) FROM meta", [], |r| r.get(0))
            .unwrap();
        assert_eq!(on_file, before, "nothing of the failed group was committed");
    }
}
