//! The streaming write path: generate a batch, insert it, keep a few batches in flight, never hold
//! more than that. Memory stays flat whatever the count; the database, not the generator, sets the
//! pace.
//!
//! One producer thread generates batches in document order (so the output depends only on the
//! run's parameters and seed) and hands them over a bounded channel; the async side keeps up to
//! `inflight` unordered `insert_many` calls running at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bson::RawDocumentBuf;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::DbSettings;
use crate::generate::{CallGenerator, CallParams, PointGenerator, PointParams, RunId, rng};
use crate::store::{Store, Target};

/// Largest encoded size of one batch: far below the server's 48,000,000-byte message limit, so the
/// driver never has to split a batch (a split would make a failed batch's outcome harder to know).
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub enum Dataset {
    /// Call records.
    Calls(CallParams),
    /// Metric points.
    Metrics(PointParams),
}

/// A complete description of one run: the same spec gives the same documents.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// What to generate and how.
    pub dataset: Dataset,
    /// How many documents (at most `u32::MAX`, the size of the index part of an `_id`).
    pub count: u32,
    /// The seed.
    pub seed: u64,
}

impl RunSpec {
    /// The collection the run writes to.
    pub fn target(&self) -> Target {
        match self.dataset {
            Dataset::Calls(_) => Target::Calls,
            Dataset::Metrics(_) => Target::Metrics,
        }
    }

    /// The documents of the run in order, batched: every batch holds at most `batch_size`
    /// documents and [`MAX_BATCH_BYTES`] bytes. Pure; used by the pipeline and by benchmarks.
    pub fn batches(
        &self,
        run: RunId,
        batch_size: usize,
    ) -> impl Iterator<Item = Vec<RawDocumentBuf>> {
        let mut source = DocSource::new(&self.dataset, self.seed, self.count);
        let count = self.count;
        let mut next = 0u32;
        std::iter::from_fn(move || {
            if next >= count {
                return None;
            }
            let mut batch = Vec::with_capacity(batch_size.min((count - next) as usize));
            let mut bytes = 0;
            while next < count && batch.len() < batch_size && bytes < MAX_BATCH_BYTES {
                let doc = source.document(run, next);
                bytes += doc.as_bytes().len();
                batch.push(doc);
                next += 1;
            }
            Some(batch)
        })
    }
}

enum DocSource {
    Calls(CallGenerator),
    Metrics(Box<PointGenerator>),
}

impl DocSource {
    fn new(dataset: &Dataset, seed: u64, count: u32) -> Self {
        match dataset {
            Dataset::Calls(p) => DocSource::Calls(CallGenerator::new(*p, seed, count)),
            Dataset::Metrics(p) => DocSource::Metrics(Box::new(PointGenerator::new(p, seed))),
        }
    }

    #[inline]
    fn document(&mut self, run: RunId, index: u32) -> RawDocumentBuf {
        match self {
            DocSource::Calls(g) => g.document(run, index),
            DocSource::Metrics(g) => g.next_document(run, index),
        }
    }
}

/// How a run is spread over the database.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Documents per `insert_many`.
    pub batch_size: usize,
    /// `insert_many` calls in flight at once.
    pub inflight: usize,
}

impl From<&DbSettings> for Tuning {
    fn from(db: &DbSettings) -> Self {
        Self {
            batch_size: db.batch_size as usize,
            inflight: db.inflight_batches as usize,
        }
    }
}

/// The `_id` range of a run starting now (the generators themselves never read the clock).
pub fn new_run_id() -> RunId {
    RunId::new(Utc::now().timestamp() as u32, rng::random_seed() as u32)
}

/// The default end of a generation window: now, in whole milliseconds, which is what BSON stores,
/// so the reported `end` reproduces the run exactly.
pub fn now_millis() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}

/// Counters a run updates as it goes, read by progress reporters.
#[derive(Debug, Default)]
pub struct Progress {
    inserted: AtomicU64,
}

impl Progress {
    /// Documents acknowledged so far.
    pub fn inserted(&self) -> u64 {
        self.inserted.load(Ordering::Relaxed)
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    /// Documents the server acknowledged.
    pub acknowledged: u64,
    /// The first error, if any; the run stopped at it.
    pub error: Option<mongodb::error::Error>,
    /// A batch failed without an answer: the exact count needs [`Store::count_run`].
    pub uncertain: bool,
    /// The run stopped because it was cancelled.
    pub cancelled: bool,
}

impl RunOutcome {
    /// How many of the run's documents are in the database: the acknowledged count, or, when a
    /// batch's answer was lost, a count of the run's `_id` range (which needs the database).
    pub async fn written(
        &self,
        store: &Store,
        spec: &RunSpec,
        run: RunId,
    ) -> Result<u64, mongodb::error::Error> {
        if self.uncertain {
            store.count_run(spec.target(), run, spec.count).await
        } else {
            Ok(self.acknowledged)
        }
    }
}

/// Generates and inserts `spec` as run `run`. Stops at the first failed batch or when `cancel`
/// fires; either way the batches already sent are waited for, so the counts are final.
pub async fn run(
    store: &Store,
    spec: &RunSpec,
    run: RunId,
    tuning: Tuning,
    progress: Arc<Progress>,
    cancel: &CancellationToken,
) -> RunOutcome {
    let inflight = tuning.inflight.max(1);
    let (tx, mut rx) = mpsc::channel::<Vec<RawDocumentBuf>>(inflight);
    let producer_spec = spec.clone();
    let collection = spec.target().collection();
    let producer = tokio::task::spawn_blocking(move || {
        for batch in producer_spec.batches(run, tuning.batch_size.max(1)) {
            metrics::counter!("documents_generated_total", "collection" => collection)
                .increment(batch.len() as u64);
            if tx.blocking_send(batch).is_err() {
                break; // the consumer stopped: cancelled or failed
            }
        }
    });

    let target = spec.target();
    let mut pending = FuturesUnordered::new();
    let mut outcome = RunOutcome {
        acknowledged: 0,
        error: None,
        uncertain: false,
        cancelled: false,
    };
    let mut accepting = true;
    loop {
        tokio::select! {
            biased;
            Some(done) = pending.next(), if !pending.is_empty() => {
                let done: crate::store::BatchOutcome = done;
                outcome.acknowledged += done.inserted;
                progress.inserted.fetch_add(done.inserted, Ordering::Relaxed);
                if let Some(e) = done.error {
                    outcome.uncertain |= done.uncertain;
                    if outcome.error.is_none() {
                        outcome.error = Some(e);
                    }
                    accepting = false;
                    rx.close();
                }
            }
            _ = cancel.cancelled(), if accepting => {
                outcome.cancelled = true;
                accepting = false;
                rx.close();
            }
            batch = rx.recv(), if accepting && pending.len() < inflight => match batch {
                Some(docs) => pending.push(store.insert_batch(target, docs)),
                None => accepting = false,
            },
            else => break,
        }
    }
    // Dropping the receiver discards any batch still queued and ends the producer at its next send.
    drop(rx);
    if let Err(e) = producer.await
        && outcome.error.is_none()
    {
        // A generator bug must not pass for a short but successful run.
        outcome.error = Some(mongodb::error::Error::custom(format!(
            "generation failed: {e}"
        )));
    }
    outcome
}
