//! The only door to MongoDB: the pooled client, collection set-up, batch writes, statistics and job
//! records. No other module imports `mongodb`; callers get domain values and [`DbError`].
//!
//! Rooms: [`schema`] (collections, validators, indexes), [`write`] (batch inserts, run counting),
//! [`rollup`] (pre-aggregated statistics kept at ingest), [`stats`] (reading cells from rollups or
//! raw documents), [`jobs`] (job record queries).

pub mod jobs;
pub mod rollup;
pub mod schema;
pub mod stats;
pub mod write;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bson::{RawDocumentBuf, doc};
use mongodb::error::{Error, ErrorKind};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::config::DbSettings;
use crate::generate::Kind;

/// The shared database handle: one pooled client for the whole process, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    db: Database,
    /// Set once [`Store::setup`] has succeeded in this process (see [`Store::ensure_setup`]).
    set_up: Arc<OnceCell<()>>,
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
/// (exponential backoff from 250 ms to 5 s), returns at once on any other error, and gives up when
/// the policy's patience is spent or its token is cancelled. The one place that waits out outages.
pub async fn until_answered<T, F, Fut>(
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
        _ = stop.cancelled() => Err(DbError {
            unavailable: true,
            timed_out: false,
            source: Error::custom(format!("{what}: stopped while waiting for the database")),
        }),
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
        let client = Client::with_options(options)?;
        let db = client.database(&settings.mongo_db);
        Ok(Self {
            client,
            db,
            set_up: Arc::new(OnceCell::new()),
        })
    }

    /// The collection documents of `kind` go to, as raw BSON (no re-encoding on insert).
    fn raw(&self, kind: Kind) -> Collection<RawDocumentBuf> {
        self.db.collection(kind.collection())
    }

    /// Round trip to the server.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.db.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }

    /// Closes the pool's connections; call once, after the last operation.
    pub async fn shutdown(self) {
        self.client.shutdown().await;
    }
}
