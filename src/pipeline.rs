//! The one way to run a generation: a [`Run`] owns its `_id` range, streams generated batches into
//! the database with a few inserts in flight, honours cancellation, and ends with a [`RunReport`]
//! whose count is exact. The CLI, the synchronous HTTP path and background jobs all call it.
//!
//! One producer thread generates batches in document order (so the output depends only on the
//! run's parameters and seed) and hands them over a channel of one; the async side keeps up to
//! `inflight` unordered `insert_many` calls running at once. Memory stays flat whatever the count;
//! the database, not the generator, sets the pace.

use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::generate::{RunId, rng};
use crate::store::cells::RunCells;
use crate::store::rollup::by_cell::run_tokens;
use crate::store::write::BatchOutcome;
use crate::store::{DbError, RetryPolicy, Store, until_answered};

mod batch;
mod by_cell;
mod produce;
mod rebuild;
mod repair;
mod report;
mod spec;

pub use produce::Spares;
pub use rebuild::rebuild;
pub use report::{Progress, RunError, RunReport};
pub use spec::{RunSpec, Tuning, id_count, now_millis};

use batch::{Applied, Batch, Inserted};
use by_cell::{RunTotals, add_group};

/// Largest encoded size of one batch: far below the server's 48,000,000-byte message limit, so the
/// driver never has to split a batch (a split would make a failed batch's outcome harder to know).
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// One run: a spec and the `_id` range its documents occupy, known before it starts so a job can
/// record it (and anyone can count the run's documents later).
#[derive(Debug, Clone)]
pub struct Run {
    spec: RunSpec,
    id: RunId,
}

impl Run {
    /// A run of `spec` starting now, with a fresh `_id` range.
    pub fn new(spec: RunSpec) -> Self {
        let id = RunId::new(Utc::now().timestamp() as u32, rng::random_seed() as u32);
        Self { spec, id }
    }

    /// A run that already started with `_id` range `id` (a job's, read back from its record).
    pub fn resume(spec: RunSpec, id: RunId) -> Self {
        Self { spec, id }
    }

    /// The run's `_id` range.
    pub fn id(&self) -> RunId {
        self.id
    }

    /// What the run generates.
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// Generates and inserts the run. Stops at the first failed batch or when `cancel` fires;
    /// either way the batches already sent are waited for, and when a batch's answer was lost the
    /// run's `_id` range is counted (retrying per `reconcile`), so the reported count is exact.
    pub async fn execute(
        &self,
        store: &Store,
        tuning: Tuning,
        progress: &Progress,
        cancel: &CancellationToken,
        reconcile: &RetryPolicy,
    ) -> RunReport {
        let started = Instant::now();
        let outage = tuning.wait_out_outages.then_some(reconcile);
        let process = store.server_process().await.ok().flatten();
        let mut streamed = self.stream(store, tuning, progress, cancel, outage).await;
        // A server restart the run rode through without an error (the driver retried, or it fell
        // between batches) may have lost writes it had acknowledged: count the run, check its
        // rollups.
        if let Some(before) = process {
            let now = until_answered("asking which server answers", reconcile, || {
                store.server_process()
            })
            .await;
            if matches!(now, Ok(Some(now)) if now != before) {
                tracing::warn!("the database server restarted during the run; counting the run");
                streamed.uncertain = true;
                streamed.rollups_pending = true;
            }
        }
        // The cells after the calls: on a server whose `2dsphere` inserts are slow, writing them
        // per batch would hold the calls back. A run that stops early settles first and leaves
        // its cells to a task of their own, so a cancel or a failure is reported at once.
        let radio = std::mem::take(&mut streamed.radio);
        if streamed.cancelled || streamed.error.is_some() {
            let (store, reconcile) = (store.clone(), reconcile.clone());
            tokio::spawn(async move { record_cells(&store, &radio, &reconcile).await });
        } else {
            record_cells(store, &radio, reconcile).await;
        }
        let (kind, id, count) = (self.spec.kind(), self.id, self.spec.id_count());
        let (written, exact) = if streamed.uncertain {
            match store
                .count_run(kind, id, streamed.sent.min(count), Some(reconcile))
                .await
            {
                Ok(n) => (n, true),
                Err(_) => (streamed.acknowledged, false),
            }
        } else {
            (streamed.acknowledged, true)
        };
        if exact && written < streamed.acknowledged && streamed.error.is_none() {
            streamed.error = Some(RunError::Lost(streamed.acknowledged - written));
        }
        let rollups_exact = self
            .settle_rollups(store, tuning, reconcile, &mut streamed, exact)
            .await;
        RunReport {
            written,
            exact,
            rollups_exact,
            error: streamed.error,
            cancelled: streamed.cancelled,
            elapsed: started.elapsed(),
        }
    }

    /// Brings the rollups of a run that ended in line with what it wrote: adds its last per-cell
    /// totals, repairs what a lost answer or update left out (when the run's count is `exact`),
    /// and forgets the tokens once all is exact. Whether the rollups are exact.
    async fn settle_rollups(
        &self,
        store: &Store,
        tuning: Tuning,
        reconcile: &RetryPolicy,
        streamed: &mut Streamed,
        exact: bool,
    ) -> bool {
        let (kind, id, count) = (self.spec.kind(), self.id, self.spec.id_count());
        // The per-cell totals of the batches applied, even for a run that stopped early: its
        // other rollups count those batches too.
        let by_cell = &mut streamed.by_cell;
        let mut rollups_exact = by_cell
            .finish(store, id, Some(reconcile))
            .await
            .inspect_err(|e| tracing::error!(error = %e, "per-cell rollup of a run left inexact"))
            .is_ok();
        if streamed.rollups_pending && exact {
            let batch_size = tuning.batch_size.max(1);
            rollups_exact &= until_answered("repairing rollups", reconcile, || {
                self.repair_rollups(store, batch_size, streamed.sent)
            })
            .await
            .inspect_err(|e| tracing::error!(error = %e, "rollups of a run left for repair"))
            .is_ok();
        }
        if exact && rollups_exact {
            // Tokens only guard against applying a batch twice; a finished run needs none. A
            // repair adds per-cell figures to documents of its own: then every document is looked at.
            let touched = (!streamed.rollups_pending).then_some(by_cell.touched.as_slice());
            let pruned = match store.prune_rollup_tokens(kind, id, count).await {
                Ok(()) => store.prune_cell_tokens(run_tokens(id), touched).await,
                Err(e) => Err(e),
            };
            if let Err(e) = pruned {
                tracing::warn!(error = %e, "rollup tokens of a finished run not pruned");
            }
        }
        rollups_exact
    }

    /// Inserts the run's batches as they are generated, `inflight` at once, each batch's rollup
    /// contribution applied after its insert; stops taking batches at the first error or when
    /// `cancel` fires, and waits for those already sent.
    async fn stream(
        &self,
        store: &Store,
        tuning: Tuning,
        progress: &Progress,
        cancel: &CancellationToken,
        outage: Option<&RetryPolicy>,
    ) -> Streamed {
        let inflight = tuning.inflight.max(1);
        // One batch generated ahead is enough: a batch takes milliseconds to generate and a
        // hundred or more to insert.
        let (tx, mut rx) = mpsc::channel::<Batch>(1);
        // Sent batches come back for their buffers: as many as can be on their way at once.
        let producer = self.produce(tuning, tx, Spares::up_to(inflight + 2));

        // A batch holds an insert slot only while it is inserted; its rollup contribution is
        // applied apart (as many at once as there are slots), so `inflight` inserts keep the
        // server busy while earlier batches' rollups land.
        let mut inserting = FuturesUnordered::new();
        let mut applying = FuturesUnordered::new();
        let mut adding = FuturesUnordered::new();
        let mut out = Streamed {
            by_cell: RunTotals::new(self.spec.count, tuning.batch_size),
            ..Streamed::default()
        };
        let mut accepting = true;
        loop {
            tokio::select! {
                biased;
                Some(inserted) = inserting.next(), if !inserting.is_empty() => {
                    let inserted: Inserted = inserted;
                    applying.push(inserted.apply(store, outage));
                }
                Some(done) = applying.next(), if !applying.is_empty() => {
                    let done: Applied = done;
                    out.radio.add(done.radio);
                    progress.reached(u64::from(done.end));
                    let failed = out.count(done.outcome, done.applied, done.resent, progress);
                    out.by_cell.add(done.first, done.by_cell);
                    // Added beside the inserts, never awaited here: a batch in flight holds a
                    // pooled connection only this loop drives, and a small pool would deadlock.
                    for (k, totals) in out.by_cell.ready(false) {
                        adding.push(async move {
                            let result = add_group(store, self.id, outage, k, &totals).await;
                            (k, totals, result)
                        });
                    }
                    if failed {
                        accepting = false;
                        rx.close();
                    }
                }
                Some((k, totals, result)) = adding.next(), if !adding.is_empty() => {
                    if let Err(e) = out.by_cell.added(k, totals, result) {
                        out.error.get_or_insert(RunError::Database(e));
                        accepting = false;
                        rx.close();
                    }
                }
                _ = cancel.cancelled(), if accepting => {
                    out.cancelled = true;
                    accepting = false;
                    rx.close();
                }
                batch = rx.recv(), if accepting
                    && inserting.len() < inflight
                    && applying.len() < inflight => match batch {
                    Some(batch) => {
                        out.sent = out.sent.max(batch.id_end());
                        inserting.push(batch.insert(store, outage))
                    }
                    None => accepting = false,
                },
                else => break,
            }
        }
        // Dropping the receiver discards any batch still queued and ends the producer at its next send.
        drop(rx);
        if let Err(e) = producer.await {
            out.error.get_or_insert(RunError::Generation(e.to_string()));
        }
        out
    }

    /// Generates the run's batches on a blocking thread, in order, and sends them to `tx` until
    /// all are sent or the receiver stops taking them (cancelled or failed).
    fn produce(
        &self,
        tuning: Tuning,
        tx: mpsc::Sender<Batch>,
        spares: Spares,
    ) -> tokio::task::JoinHandle<()> {
        let (spec, id) = (self.spec.clone(), self.id);
        let kind = spec.kind();
        tokio::task::spawn_blocking(move || {
            let size = tuning.batch_size.max(1);
            for batch in spec.tallied_batches_reusing(id, size, spares.clone()) {
                metrics::counter!("documents_generated_total", "collection" => kind.collection())
                    .increment(batch.0.len() as u64);
                let batch = Batch::new(kind, batch, spares.clone());
                if tx.blocking_send(batch).is_err() {
                    break; // the consumer stopped: cancelled or failed
                }
            }
        })
    }
}

/// Writes the radio cells a run named (see [`Store::record_run_cells`]), through outages as
/// `reconcile` allows; a failure is logged: the calls are in, and a later run naming the same
/// cells writes them.
async fn record_cells(store: &Store, radio: &RunCells, reconcile: &RetryPolicy) {
    if radio.is_empty() {
        return;
    }
    let started = Instant::now();
    let written = until_answered("recording the run's cells", reconcile, || {
        store.record_run_cells(radio)
    })
    .await;
    match written {
        Ok(()) => tracing::info!(
            cells = radio.len(),
            secs = started.elapsed().as_secs_f64(),
            "recorded the radio cells the run named"
        ),
        Err(e) => tracing::error!(error = %e, "the radio cells of a run were not recorded"),
    }
}

/// What streaming a run's batches came to, before reconciliation.
#[derive(Debug, Default)]
struct Streamed {
    acknowledged: u64,
    /// The index after the last `_id` of any batch sent: no document of the run lies beyond.
    sent: u32,
    /// The radio cells the run's calls name, for the `cells` collection.
    radio: RunCells,
    /// The calls per cell and day, for the per-cell rollup.
    by_cell: RunTotals,
    uncertain: bool,
    rollups_pending: bool,
    error: Option<RunError>,
    cancelled: bool,
}

impl Streamed {
    /// Counts a batch that was inserted and whose rollup contribution was applied (or not);
    /// `true` when it failed, so the run takes no more batches.
    fn count(
        &mut self,
        done: BatchOutcome,
        applied: Result<(), DbError>,
        resent: bool,
        progress: &Progress,
    ) -> bool {
        self.acknowledged += done.written;
        progress.add(done.written);
        // A batch sent again crossed an outage, and a server that went away may have lost writes
        // it had acknowledged: count the run and check its rollups at the end.
        self.uncertain |= done.uncertain || resent;
        self.rollups_pending |= done.uncertain || resent;
        let error = match (done.error, applied) {
            (Some(e), _) => Some(e),
            (None, Err(e)) => {
                self.rollups_pending = true;
                Some(e)
            }
            (None, Ok(())) => None,
        };
        let Some(e) = error else {
            return false;
        };
        // A server that went away may also have lost rollup updates it had acknowledged: check
        // every batch's token before the run ends.
        self.rollups_pending = true;
        self.error.get_or_insert(RunError::Database(e));
        true
    }
}
