//! The only door to MongoDB: the pooled client, collection set-up, batch writes, statistics and job
//! records. No other module imports `mongodb`; callers get domain values and [`DbError`].
//!
//! Files: [`schema`] (collections, validators, indexes), [`write`] (batch inserts, run counting),
//! [`rollup`] (pre-aggregated statistics kept at ingest), [`cells`] (the radio cells runs name), [`stats`] (reading cells from rollups or
//! raw documents), [`jobs`] (job record queries), [`live`] (live run records), [`watch`] (change streams), [`feed`] (the calls feed `/calls/stream`
//! follows), [`idempotency`] (idempotency keys and their answers).

pub mod cells;
pub mod feed;
pub mod idempotency;
pub mod jobs;
pub mod kinds;
pub mod live;
pub mod rollup;
pub mod schema;
pub mod stats;
pub mod watch;
pub mod watchdog;
pub mod write;

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bson::{RawDocumentBuf, doc};
use mongodb::error::{Error, ErrorKind};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

pub use rollup::DataVersion;

use crate::config::DbSettings;
use crate::generate::Kind;

/// The shared database handle: one pooled client for the whole process, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// The database on the current client; replaced by [`Store::watchdog`] when that client
    /// wedges, so every clone of the store moves to the new one.
    db: Arc<RwLock<Database>>,
    /// What a fresh client is built from.
    options: ClientOptions,
    /// Set once [`Store::setup`] has succeeded in this process (see [`Store::ensure_setup`]).
    set_up: Arc<OnceCell<()>>,
    /// `MONGO_TIMEOUT_MS`: how long [`Store::ping`] waits for an answer.
    timeout: Duration,
    /// `MONGO_OP_TIMEOUT_MS`: the longest any bounded operation may take (see [`Store::bounded`]).
    op_timeout: Duration,
    /// When an operation last gave its connection back to the pool: a client whose pings fail
    /// while its operations keep ending is busy, not wedged (see [`Store::watchdog`]).
    answered: Arc<watchdog::LastAnswer>,
    /// Whether anyone listens to the calls feed, and this second's copy budget.
    feed_gate: Arc<feed::FeedGate>,
    /// The radio cells this process has written to `cells`.
    cells_seen: Arc<cells::Seen>,
}

/// A failed database operation, classified once so callers decide on meaning, not driver details.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct DbError {
    unavailable: bool,
    timed_out: bool,
    #[source]
    source: Error,
}

impl DbError {
    /// True when the database cannot be reached right now (retry later), as opposed to a bad
    /// command or document (retrying will not help).
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// True when the server gave up on a query at its time limit (`maxTimeMS`).
    pub fn is_timeout(&self) -> bool {
        self.timed_out
    }

    /// The database did not answer in time: unavailable, whatever the reason.
    fn no_answer(what: String) -> Self {
        Self {
            unavailable: true,
            timed_out: false,
            source: Error::custom(what),
        }
    }
}

impl From<Error> for DbError {
    fn from(source: Error) -> Self {
        let unavailable = is_unavailable(&source);
        // 50: MaxTimeMSExpired.
        let timed_out = matches!(source.kind.as_ref(), ErrorKind::Command(c) if c.code == 50);
        let kind = if unavailable {
            "unavailable"
        } else {
            match source.kind.as_ref() {
                ErrorKind::InsertMany(_) | ErrorKind::Write(_) => "write",
                ErrorKind::Command(_) => "command",
                _ => "other",
            }
        };
        // Counted here, where every database error passes exactly once.
        metrics::counter!("database_errors_total", "kind" => kind).increment(1);
        Self {
            unavailable,
            timed_out,
            source,
        }
    }
}

/// Codes the server answers with while stepping down or shutting down.
const TRANSIENT_CODES: [i32; 10] = [6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435];

fn is_unavailable(e: &Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => true,
        ErrorKind::Command(c) => TRANSIENT_CODES.contains(&c.code),
        _ => {
            e.contains_label("RetryableWriteError") || e.contains_label("TransientTransactionError")
        }
    }
}

/// How long [`until_answered`] keeps trying, and what stops it early.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total time spent waiting between attempts before giving up.
    pub patience: Duration,
    /// Stops retrying at once (the last error is returned) when cancelled, e.g. on shutdown.
    pub stop: CancellationToken,
}

impl RetryPolicy {
    /// Retries for up to `patience`, unstoppable.
    pub fn for_up_to(patience: Duration) -> Self {
        Self {
            patience,
            stop: CancellationToken::new(),
        }
    }
}

/// Runs `op` until the database answers: retries while the error is [`DbError::is_unavailable`]
/// (exponential backoff from 250 ms to 5 s), returns at once on any other (permanent) error, and
/// gives up when the policy's patience is spent — wall time, attempts included, so an attempt
/// hanging on a frozen server cannot hold the caller for ever — or its token is cancelled. The
/// one place that waits out outages.
pub async fn until_answered<T, F, Fut>(
    what: &str,
    policy: &RetryPolicy,
    op: F,
) -> Result<T, DbError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbError>>,
{
    let patience = policy.patience;
    match tokio::time::timeout(patience, answered_within(what, policy, op)).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(?patience, "{what}: the database did not answer; giving up");
            Err(DbError::no_answer(format!(
                "{what}: no answer within {patience:?}"
            )))
        }
    }
}

/// [`until_answered`] without its overall deadline.
async fn answered_within<T, F, Fut>(
    what: &str,
    policy: &RetryPolicy,
    mut op: F,
) -> Result<T, DbError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
        .with_total_delay(Some(policy.patience));
    let stop = &policy.stop;
    // Always one attempt, even when already stopped: a shutting-down job still records its end.
    match op().await {
        Err(e) if e.is_unavailable() && !stop.is_cancelled() => {
            tracing::warn!(error = %e, "{what}: database unavailable; retrying");
        }
        answered => return answered,
    }
    let retried = op
        .retry(backoff)
        .when(|e: &DbError| e.is_unavailable() && !stop.is_cancelled())
        .notify(
            |e, wait| tracing::warn!(error = %e, ?wait, "{what}: database unavailable; retrying"),
        );
    tokio::select! {
        result = retried => result,
        _ = stop.cancelled() => Err(DbError::no_answer(format!(
            "{what}: stopped while waiting for the database"
        ))),
    }
}

impl Store {
    /// Builds the client. No connection is opened until the first operation, so the service can
    /// start while the database is still down and report it through `/readyz`.
    pub async fn connect(settings: &DbSettings) -> anyhow::Result<Self> {
        let mut options = ClientOptions::parse(&settings.mongo_uri).await?;
        options.app_name = Some("linq-datagen".into());
        options.max_pool_size = Some(settings.pool_size);
        options.server_selection_timeout = Some(settings.timeout());
        options.connect_timeout = Some(settings.timeout());
        let answered = Arc::new(watchdog::LastAnswer::default());
        options.cmap_event_handler = Some(watchdog::LastAnswer::handler(answered.clone()));
        let client = Client::with_options(options.clone())?;
        let db = client.database(&settings.mongo_db);
        Ok(Self {
            db: Arc::new(RwLock::new(db)),
            options,
            set_up: Arc::new(OnceCell::new()),
            feed_gate: Arc::default(),
            cells_seen: Arc::default(),
            timeout: settings.timeout(),
            op_timeout: settings.op_timeout(),
            answered,
        })
    }

    /// The database, on whichever client is current.
    fn db(&self) -> Database {
        self.db.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The collection documents of `kind` go to, as raw BSON (no re-encoding on insert).
    fn raw(&self, kind: Kind) -> Collection<RawDocumentBuf> {
        self.db().collection(kind.collection())
    }

    /// Runs `op` for at most `MONGO_OP_TIMEOUT_MS`. The driver has no socket timeout: an
    /// operation on a connection that went silent (a dropped route, a stalled server) would wait
    /// for ever, holding its pool slot and the task that awaits it. Given up, the operation is
    /// unavailable (retry later) and its connection is closed, not reused.
    pub async fn bounded<T>(
        &self,
        what: &str,
        op: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, DbError> {
        match tokio::time::timeout(self.op_timeout, op).await {
            Ok(answer) => answer,
            Err(_) => {
                metrics::counter!("database_operations_timed_out_total").increment(1);
                Err(DbError::no_answer(format!(
                    "{what}: no answer within {:?}",
                    self.op_timeout
                )))
            }
        }
    }

    /// Round trip to the server, within `MONGO_TIMEOUT_MS`: a server that accepts connections but
    /// does not answer (frozen, overloaded) is unavailable too.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.ping_on(&self.db()).await
    }

    /// [`Store::ping`] on `db`, which may be on another client than the store's.
    async fn ping_on(&self, db: &Database) -> Result<(), DbError> {
        match tokio::time::timeout(self.timeout, db.run_command(doc! { "ping": 1 })).await {
            Ok(answer) => answer.map(|_| ()).map_err(DbError::from),
            Err(_) => Err(DbError::no_answer(format!(
                "no answer to a ping within {:?}",
                self.timeout
            ))),
        }
    }

    /// Closes the pool's connections; call once, after the last operation.
    pub async fn shutdown(self) {
        self.db().client().clone().shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    use super::*;

    fn unavailable() -> DbError {
        Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)).into()
    }

    #[tokio::test]
    async fn a_hung_attempt_is_given_up_when_patience_runs_out() {
        let policy = RetryPolicy::for_up_to(Duration::from_millis(300));
        let attempt = || std::future::pending::<Result<(), DbError>>();
        let outcome = tokio::time::timeout(
            Duration::from_secs(10),
            until_answered("waiting", &policy, attempt),
        )
        .await
        .expect("until_answered returns");
        assert!(outcome.unwrap_err().is_unavailable());
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried_and_outages_only_within_patience() {
        let policy = RetryPolicy::for_up_to(Duration::from_millis(600));
        let attempts = AtomicU32::new(0);
        let outcome: Result<(), DbError> = until_answered("a bad command", &policy, || async {
            attempts.fetch_add(1, Ordering::Relaxed);
            Err(Error::custom("bad command").into())
        })
        .await;
        assert!(!outcome.unwrap_err().is_unavailable());
        assert_eq!(attempts.load(Ordering::Relaxed), 1);

        let attempts = AtomicU32::new(0);
        let started = Instant::now();
        let outcome: Result<(), DbError> = until_answered("an outage", &policy, || async {
            attempts.fetch_add(1, Ordering::Relaxed);
            Err(unavailable())
        })
        .await;
        assert!(outcome.unwrap_err().is_unavailable());
        assert!(attempts.load(Ordering::Relaxed) > 1);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
