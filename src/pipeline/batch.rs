//! One batch on its way: inserted, sent again across an outage when the run waits outages out,
//! then, its documents let go, added to the rollups under its token.

use std::time::Instant;

use bson::RawDocumentBuf;
use bson::oid::ObjectId;

use super::Spares;
use crate::generate::Kind;
use crate::store::rollup::BatchRollup;
use crate::store::rollup::by_cell::CellTotals;
use crate::store::write::BatchOutcome;
use crate::store::{DbError, RetryPolicy, Store, until_answered};

/// The `_id` of a batch's first document (generated documents always have one).
pub(super) fn first_id(docs: &[RawDocumentBuf]) -> ObjectId {
    docs.first()
        .and_then(|d| d.get_object_id("_id").ok())
        .unwrap_or_else(|| ObjectId::from_bytes([0; 12]))
}

/// The index within its run of the document with `_id` `id` (see [`crate::generate::RunId::object_id`]).
pub(super) fn index_of(id: ObjectId) -> u32 {
    let b = id.bytes();
    u32::from_be_bytes([b[8], b[9], b[10], b[11]])
}

/// One batch on its way to the database: its documents and their contribution to the rollups.
pub(super) struct Batch {
    kind: Kind,
    /// Its first draw's index.
    first: u32,
    /// The index after its last draw that wrote a document.
    end: u32,
    token: ObjectId,
    pub(super) docs: Vec<RawDocumentBuf>,
    rollup: BatchRollup,
    spares: Spares,
}

impl Batch {
    /// Batch of `docs` (at least one), whole draws of a run, which add `rollup` to the rollups;
    /// once the database has answered for them, the documents go back to `spares` for their
    /// buffers. Its token is its first document's `_id`.
    pub(super) fn new(
        kind: Kind,
        (docs, rollup): (Vec<RawDocumentBuf>, BatchRollup),
        spares: Spares,
    ) -> Self {
        let token = first_id(&docs);
        let slots = kind.info().slots;
        let last = docs.last().and_then(|d| d.get_object_id("_id").ok());
        Self {
            kind,
            first: index_of(token) / slots,
            end: last.map_or(0, |id| index_of(id) / slots + 1),
            token,
            docs,
            rollup,
            spares,
        }
    }

    /// The index after its last document's `_id` within the run.
    pub(super) fn id_end(&self) -> u32 {
        self.docs
            .last()
            .and_then(|d| d.get_object_id("_id").ok())
            .map_or(0, |id| index_of(id) + 1)
    }

    /// Inserts the documents (with `outage`, a batch the unreachable database did not take is
    /// sent again, whole, until it answers: its `_id`s already in are recognised, so the second
    /// answer is exact), then gives them back to the run's spares. What is left is the batch's
    /// rollup contribution, applied by [`Inserted::apply`] without holding one of the run's
    /// insert slots, so the server always has the run's inserts to work on.
    pub(super) async fn insert(self, store: &Store, outage: Option<&RetryPolicy>) -> Inserted {
        let kind = self.kind;
        let mut outcome = store.insert_batch(kind, &self.docs).await;
        let mut resent = false;
        if let Some(policy) = outage.filter(|_| outcome.unavailable()) {
            resent = true;
            let again = until_answered("sending a batch again", policy, || async {
                let outcome = store.insert_batch(kind, &self.docs).await;
                match outcome.error {
                    Some(e) if e.is_unavailable() => Err(e),
                    _ => Ok(outcome),
                }
            })
            .await;
            if let Ok(again) = again {
                outcome = again;
            }
        }
        self.spares.give(self.docs);
        Inserted {
            kind,
            first: self.first,
            end: self.end,
            token: self.token,
            rollup: self.rollup,
            outcome,
            resent,
        }
    }
}

/// A batch the server has answered for: its outcome and its contribution to the rollups.
pub(super) struct Inserted {
    kind: Kind,
    first: u32,
    end: u32,
    token: ObjectId,
    rollup: BatchRollup,
    outcome: BatchOutcome,
    resent: bool,
}

impl Inserted {
    /// Adds what the server accepted to the rollups (when the insert's answer was lost, the
    /// rollups wait for the run's repair instead).
    pub(super) async fn apply(self, store: &Store, outage: Option<&RetryPolicy>) -> Applied {
        let Inserted {
            kind,
            first,
            end,
            token,
            rollup,
            outcome,
            resent,
        } = self;
        // The cells are wanted whatever came of the insert: a cell's document depends only on
        // its id, so one no call names yet harms nothing.
        let radio = rollup.radio_named().map(|(o, cells)| (o, cells.to_vec()));
        if outcome.uncertain || outcome.written == 0 {
            // Nothing written adds nothing; an answer lost leaves the batch to the repair.
            let by_cell = (!outcome.uncertain).then(CellTotals::default);
            return Applied {
                outcome,
                applied: Ok(()),
                resent,
                radio,
                first,
                end,
                by_cell,
            };
        }
        let started = Instant::now();
        let cells = rollup.cells(|i| !outcome.rejected.contains(&i));
        let apply = || store.apply_rollup(kind, token, &cells);
        // The update is guarded by the batch's token: applying it again is a no-op.
        let applied = match outage {
            Some(policy) => until_answered("adding a batch to the rollups", policy, apply).await,
            None => apply().await,
        };
        metrics::histogram!("rollup_apply_duration_seconds", "collection" => kind.collection())
            .record(started.elapsed().as_secs_f64());
        // Summed into the run's per-cell totals only with the rest of its rollup: a batch whose
        // rollup update failed is left to the run's repair, which adds both.
        let by_cell = applied
            .is_ok()
            .then(|| rollup.cell_totals(|i| !outcome.rejected.contains(&i)));
        Applied {
            outcome,
            applied,
            resent,
            radio,
            first,
            end,
            by_cell,
        }
    }
}

/// A batch done with: the server's answer, whether its rollup contribution was applied, whether it
/// was sent again, the radio cells its documents name (written once the run's calls are in), its
/// first draw's index and the index after its last, and its per-cell totals (`None` when they are in doubt: the batch's
/// answer was lost or its rollup update failed).
pub(super) struct Applied {
    pub(super) outcome: BatchOutcome,
    pub(super) applied: Result<(), DbError>,
    pub(super) resent: bool,
    pub(super) radio: Option<(&'static str, Vec<u32>)>,
    pub(super) first: u32,
    pub(super) end: u32,
    pub(super) by_cell: Option<CellTotals>,
}
