//! A live run's schedule: which documents belong to which second (tick), as a function of the
//! record alone, and the batches of a tick.

use std::sync::atomic::{AtomicBool, Ordering};

use bson::{Document, RawDocumentBuf, oid::ObjectId};
use chrono::{DateTime, Utc};

use crate::generate::model::{self, CallModel, MetricModel};
use crate::generate::scenario::Scenario;
use crate::generate::{CallGenerator, Category, Kind, PointGenerator, PointParams, RunId};
use crate::store::live::LiveRecord;
use crate::store::rollup::{BatchRollup, Resolution};
use crate::store::{DbError, RetryPolicy, Store, until_answered};

/// The model a record keeps (the default for records from before models, or one this version
/// cannot read).
pub fn models_of(doc: Option<&Document>) -> (CallModel, MetricModel) {
    model::of_record(doc).unwrap_or_default()
}

/// One tick: the granularity of a live run's batches and checkpoints.
pub const TICK_MS: i64 = 1000;

/// The generators of a run, positioned at a tick.
pub struct Schedule {
    run: RunId,
    start_ms: i64,
    calls: Option<CallGenerator>,
    points: Option<Box<PointGenerator>>,
    step_ms: i64,
    /// Documents per batch, from the record: every replica cuts a second into the same batches,
    /// so a resumed run's rollup tokens are the ones already applied.
    batch_size: usize,
}

impl Schedule {
    /// The schedule of `record` (its parameters were checked when it was created).
    pub fn new(record: &LiveRecord) -> Self {
        let start = record.start.to_chrono();
        let seed = record.seed as u64;
        let scenario = record
            .scenario
            .as_ref()
            .and_then(|d| Scenario::from_doc(d, record.hosts as u32));
        let (call_model, metric_model) = models_of(record.model.as_ref());
        let calls = (record.calls_per_second > 0.0).then(|| {
            CallGenerator::live(
                seed,
                record.subscribers as u32,
                start,
                record.calls_per_second,
                record.shaped,
                scenario,
                call_model,
            )
        });
        let categories = Category::parse_list(&record.categories).unwrap_or_default();
        let points = (record.step_seconds > 0 && !categories.is_empty()).then(|| {
            Box::new(PointGenerator::live(
                &PointParams {
                    end: start,
                    step_seconds: record.step_seconds as u32,
                    categories,
                    hosts: record.hosts as u32,
                    scenario,
                    model: metric_model,
                },
                seed,
                record.shaped || record.calls_per_second == 0.0,
            ))
        });
        Self {
            run: record.run_id(),
            start_ms: start.timestamp_millis(),
            calls,
            points,
            step_ms: record.step_seconds.max(1) * 1000,
            batch_size: record.batch_size.max(1) as usize,
        }
    }

    /// Calls due before the end of tick `k - 1`, i.e. before `start + k` seconds.
    pub fn calls_due(&self, k: i64) -> u64 {
        let t = self.start_ms + k * TICK_MS;
        self.calls.as_ref().map_or(0, |c| c.due_before(t))
    }

    /// Metric points due before `start + k` seconds: every series reports at `start + m × step`.
    pub fn points_due(&self, k: i64) -> u64 {
        let Some(p) = &self.points else { return 0 };
        let elapsed = k * TICK_MS;
        if elapsed <= 0 {
            return 0;
        }
        (elapsed as u64).div_ceil(self.step_ms as u64) * p.series()
    }

    /// When tick `k` is over, and its documents may be written (none of them is in the future).
    pub fn tick_end(&self, k: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.start_ms + (k + 1) * TICK_MS).unwrap_or_default()
    }

    /// The batches of tick `k` as `_id` index ranges, calls then points, each at most
    /// the run's batch size. Fails when the run has used up its `_id` range (2³² documents of a
    /// kind).
    pub fn plan(&self, k: i64) -> Result<Vec<(Kind, u32, u32)>, String> {
        let batch_size = self.batch_size;
        let mut out = Vec::new();
        let ranges = [
            (Kind::Calls, self.calls_due(k), self.calls_due(k + 1)),
            (Kind::Metrics, self.points_due(k), self.points_due(k + 1)),
        ];
        for (kind, from, to) in ranges {
            let (mut i, to) = (index(from)?, index(to)?);
            while i < to {
                let end = to.min(i.saturating_add(batch_size as u32));
                out.push((kind, i, end));
                i = end;
            }
        }
        Ok(out)
    }

    /// The batch of documents `first..end` of `kind`; metric batches must be made in order (the
    /// walk is sequential: a resumed run walks its series up to `first` first).
    pub fn make(&mut self, kind: Kind, first: u32, end: u32) -> Batch {
        let full = (end - first) as usize >= self.batch_size;
        let mut rollup = BatchRollup::new(kind, (end - first) as usize);
        let docs = match (kind, &self.calls, &mut self.points) {
            (Kind::Calls, Some(calls), _) => (first..end)
                .map(|n| {
                    let (doc, tally) = calls.tallied_document(self.run, n);
                    rollup.add(&tally);
                    doc
                })
                .collect(),
            (Kind::Metrics, _, Some(points)) => {
                while points.position() < u64::from(first) {
                    points.next_point();
                }
                (first..end)
                    .map(|n| {
                        let (doc, tally) = points.next_tallied_document(self.run, n);
                        rollup.add(&tally);
                        doc
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let mut batch = Batch::new(kind, self.run, first, docs, rollup);
        batch.full = full;
        batch
    }
}

fn index(n: u64) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| "the run used up its 2^32 document ids; start a new one".into())
}

/// One batch of a tick, with its rollup contribution and token.
pub struct Batch {
    /// Collection written.
    pub kind: Kind,
    token: ObjectId,
    docs: Vec<RawDocumentBuf>,
    rollup: BatchRollup,
    /// Holds the run's full batch size (its fine cells are inserted, not updated).
    full: bool,
}

impl Batch {
    fn new(
        kind: Kind,
        run: RunId,
        first: u32,
        docs: Vec<RawDocumentBuf>,
        rollup: BatchRollup,
    ) -> Self {
        Self {
            kind,
            token: ObjectId::from_bytes(run.object_id(first)),
            docs,
            rollup,
            full: false,
        }
    }

    /// The batch's documents (the `/calls/stream` fallback publishes them once written).
    pub fn docs(&self) -> &[RawDocumentBuf] {
        &self.docs
    }

    /// Inserts the batch (documents already there count as written) and adds it to the rollups
    /// (the per-cell one too, under the batch's token: a second at a live rate touches few cities),
    /// retrying through outages (and saying so in `trouble`); returns the rollup documents
    /// touched, `None` standing for the per-cell rollup.
    pub(super) async fn write(
        &self,
        store: &Store,
        policy: &RetryPolicy,
        trouble: &AtomicBool,
    ) -> Result<Vec<(Option<Resolution>, Document)>, DbError> {
        let seen = |r: Result<(), DbError>| {
            if r.is_err() {
                trouble.store(true, Ordering::Relaxed);
            }
            r
        };
        until_answered("writing a live batch", policy, || async {
            let outcome = store.insert_batch(self.kind, &self.docs).await;
            seen(outcome.error.map_or(Ok(()), Err))
        })
        .await?;
        let cells = self.rollup.cells(|_| true);
        let by_cell = self.rollup.cell_totals(|_| true);
        until_answered("adding a live batch to the rollups", policy, || async {
            let applied = async {
                store.record_batch_cells(&self.rollup).await?;
                let touched = store
                    .apply_live_rollup(self.kind, self.token, &cells, self.full)
                    .await?;
                let per_cell = store.apply_cell_rollup(self.token, &by_cell).await?;
                let touched = touched.into_iter().map(|(r, d)| (Some(r), d));
                let per_cell = per_cell
                    .into_iter()
                    .map(|id| (None, bson::doc! { "_id": id }));
                Ok(touched.chain(per_cell).collect())
            }
            .await;
            if applied.is_err() {
                trouble.store(true, Ordering::Relaxed);
            }
            applied
        })
        .await
    }
}
