//! What a run tells: its progress while it runs, and how it ended.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::DbError;

/// Counters a run updates as it goes, read by progress reporters while it runs.
#[derive(Debug, Default)]
pub struct Progress {
    written: AtomicU64,
    drawn: AtomicU64,
}

impl Progress {
    /// Draws (threads, sessions) up to the furthest batch answered for: a kind of several
    /// records a draw shows its progress by these, as its records per draw vary.
    pub fn drawn(&self) -> u64 {
        self.drawn.load(Ordering::Relaxed)
    }

    /// Notes that a batch ending before draw `end` was answered for.
    pub(super) fn reached(&self, end: u64) {
        self.drawn.fetch_max(end, Ordering::Relaxed);
    }

    /// Documents acknowledged so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Counts `n` more documents acknowledged.
    pub(super) fn add(&self, n: u64) {
        self.written.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets the count, for runs that count their documents themselves (exports).
    pub fn set(&self, n: u64) {
        self.written.store(n, Ordering::Relaxed);
    }
}

/// Why a run stopped short.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A batch failed in the database.
    #[error(transparent)]
    Database(#[from] DbError),
    /// The generator itself failed (a bug): the run must not pass for a short success.
    #[error("generation failed: {0}")]
    Generation(String),
    /// The run rode through an outage and, counted afterwards, the database holds fewer documents
    /// than it acknowledged: a server that restarted lost writes.
    #[error("the database lost {0} documents it had acknowledged")]
    Lost(u64),
}

/// How a run ended.
#[derive(Debug)]
pub struct RunReport {
    /// The run's documents in the database: exact when `exact`, otherwise those acknowledged (a
    /// lower bound: a batch's answer was lost and the database could not be asked afterwards).
    pub written: u64,
    /// `written` is the exact count.
    pub exact: bool,
    /// The rollups hold exactly this run's written documents (false only when the database went
    /// away before they could be repaired: a job is then settled by the stale-job reaper).
    pub rollups_exact: bool,
    /// The first error, if any; the run stopped at it.
    pub error: Option<RunError>,
    /// The run stopped because it was cancelled.
    pub cancelled: bool,
    /// Wall time of the run, reconciliation included.
    pub elapsed: Duration,
}

impl RunReport {
    /// Documents written per second over the run.
    pub fn docs_per_second(&self) -> f64 {
        self.written as f64 / self.elapsed.as_secs_f64().max(1e-6)
    }
}
