//! The state every handler is given ([`AppState`]) and what handlers share: a bound on status
//! reads and the heartbeat of Server-Sent Event streams.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::config::ServeSettings;
use crate::error::ApiError;
use crate::jobs::JobManager;
use crate::live::feed::CallsFeed;
use crate::live::{LiveManager, LiveSettings};
use crate::pipeline::Tuning;
use crate::stats::StatsReader;
use crate::stats::feed::OverviewFeed;
use crate::store::Store;

/// Everything a handler may need; cloned per request (all fields are handles).
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The serve settings.
    pub settings: Arc<ServeSettings>,
    /// Batch size and in-flight batches per run.
    pub tuning: Tuning,
    /// Slots for synchronous generation requests.
    pub limiter: Arc<Semaphore>,
    /// Slots for exports.
    pub exports: Arc<Semaphore>,
    /// Background jobs.
    pub jobs: JobManager,
    /// Statistics reads, shared and bounded.
    pub stats: StatsReader,
    /// The overview pushed to `GET /stats/stream` clients.
    pub feed: Arc<OverviewFeed>,
    /// Live runs.
    pub live: LiveManager,
    /// New calls pushed to `GET /calls/stream` clients.
    pub calls_feed: Arc<CallsFeed>,
}

impl AppState {
    /// State for `store` with `settings`.
    pub fn new(store: Store, settings: ServeSettings, tuning: Tuning) -> Self {
        // Installed before anything records a metric (the job gauge starts at 0 right below).
        crate::telemetry::prometheus();
        let jobs = JobManager::new(
            store.clone(),
            tuning,
            settings.max_jobs,
            Duration::from_secs(settings.job_stale_secs),
            chrono::TimeDelta::seconds(settings.clock_offset_secs),
        );
        let stats = StatsReader::new(store.clone(), settings.stats_max_concurrent as usize);
        let calls_feed = CallsFeed::new(store.clone());
        let live = LiveManager::new(
            store.clone(),
            tuning,
            LiveSettings {
                max_runs: settings.max_live_runs,
                stale_after: Duration::from_secs(settings.live_stale_secs),
                takeover_window: Duration::from_secs(settings.live_takeover_secs),
            },
        );
        Self {
            live,
            calls_feed,
            feed: Arc::new(OverviewFeed::new(stats.clone())),
            stats,
            limiter: Arc::new(Semaphore::new(settings.max_concurrent_requests as usize)),
            exports: Arc::new(Semaphore::new(settings.max_exports as usize)),
            store,
            tuning,
            jobs,
            settings: Arc::new(settings),
        }
    }

    /// Runs collection set-up unless it already succeeded (the service may start before its
    /// database); see [`Store::ensure_setup`].
    pub async fn ensure_setup(&self) -> Result<(), ApiError> {
        Ok(self.store.ensure_setup().await?)
    }
}

/// Heartbeat comment interval of the Server-Sent Event streams (`GET /stats/stream`,
/// `GET /calls/stream`), so proxies keep the connection open.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// How long a status read (a job, readiness) may take before it is answered 503: a stalled database
/// should not hold a polling dashboard for the whole request timeout.
pub const STATUS_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a status read within [`STATUS_READ_TIMEOUT`].
pub async fn bounded<T>(read: impl Future<Output = Result<T, ApiError>>) -> Result<T, ApiError> {
    tokio::time::timeout(STATUS_READ_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::DatabaseUnavailable {
                message: format!(
                    "the database did not answer within {} s; retry later",
                    STATUS_READ_TIMEOUT.as_secs()
                ),
                source: None,
            })
        })
}
