//! Bringing a run's rollups in line with the documents it left in the database, after a batch's
//! answer or its rollup update was lost. Idempotent: every batch's contribution (and every group's
//! per-cell one) is applied under its token, so repairing twice, or repairing a batch that did
//! land, changes nothing.

use std::collections::HashSet;

use bson::oid::ObjectId;

use super::Run;
use super::batch::{first_id, index_of};
use super::by_cell::{GROUP, group_token};
use crate::generate::Kind;
use crate::store::rollup::BatchRollup;
use crate::store::rollup::by_cell::CellTotals;
use crate::store::{DbError, Store};

/// A regenerated batch: its `_id`s, its rollup contribution, and which of its documents are in
/// the database (once asked).
struct Regenerated {
    ids: Vec<ObjectId>,
    rollup: BatchRollup,
    present: Option<HashSet<ObjectId>>,
}

impl Regenerated {
    /// Asks which of the batch's documents are in the database (once).
    async fn ask(&mut self, store: &Store, kind: Kind) -> Result<(), DbError> {
        if self.present.is_none() {
            let (first, last) = (self.ids[0], self.ids[self.ids.len() - 1]);
            let ids = store.present_ids(kind, first, last).await?;
            self.present = Some(ids.into_iter().collect());
        }
        Ok(())
    }

    /// Whether document `i` is in the database (after [`Regenerated::ask`]).
    fn here(&self, i: usize) -> bool {
        self.present
            .as_ref()
            .is_some_and(|p| p.contains(&self.ids[i]))
    }
}

impl Run {
    /// Regenerates the run's batches (the same documents, since generation is a pure function of
    /// the spec) and, for every batch whose contribution is not in the rollups, applies the
    /// contribution of those of its documents that are in the database; then the same for every
    /// group of batches' per-cell contribution. `batch_size` must be the one the run was written
    /// with: it decides the batches and so their tokens. No document of the run lies at or beyond
    /// `_id` index `within` (what it sent, when known; its whole range otherwise).
    pub async fn repair_rollups(
        &self,
        store: &Store,
        batch_size: usize,
        within: u32,
    ) -> Result<(), DbError> {
        let kind = self.spec.kind();
        let (spec, id) = (self.spec.clone(), self.id);
        let within = within.min(spec.id_count());
        let Some(last_index) = store.last_run_index(kind, id, within).await? else {
            return Ok(()); // nothing of the run is in the database
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let producer = tokio::task::spawn_blocking(move || {
            for (docs, rollup) in spec.tallied_batches(id, batch_size) {
                if index_of(first_id(&docs)) > last_index {
                    break; // no document of this batch or any later one reached the database
                }
                let ids: Vec<ObjectId> = docs
                    .iter()
                    .map(|d| {
                        d.get_object_id("_id")
                            .unwrap_or_else(|_| ObjectId::from_bytes([0; 12]))
                    })
                    .collect();
                if tx.blocking_send((ids, rollup)).is_err() {
                    break;
                }
            }
        });
        let result = self.repair_batches(store, &mut rx).await;
        drop(rx);
        let _ = producer.await;
        result
    }

    async fn repair_batches(
        &self,
        store: &Store,
        rx: &mut tokio::sync::mpsc::Receiver<(Vec<ObjectId>, BatchRollup)>,
    ) -> Result<(), DbError> {
        let kind = self.spec.kind();
        let mut group = Vec::new();
        let mut k = 0;
        while let Some((ids, rollup)) = rx.recv().await {
            let Some(&token) = ids.first() else {
                continue;
            };
            let mut batch = Regenerated {
                ids,
                rollup,
                present: None,
            };
            let everything = batch.rollup.cells(|_| true);
            if !store.rollup_applied(kind, token, &everything).await? {
                batch.ask(store, kind).await?;
                let cells = batch.rollup.cells(|i| batch.here(i));
                store.apply_rollup(kind, token, &cells).await?;
            }
            group.push(batch);
            if group.len() == GROUP as usize {
                self.repair_group(store, k, &mut group).await?;
                group.clear();
                k += 1;
            }
        }
        self.repair_group(store, k, &mut group).await
    }

    /// Adds group `k`'s per-cell contribution (its documents in the database) unless it landed.
    async fn repair_group(
        &self,
        store: &Store,
        k: u32,
        group: &mut [Regenerated],
    ) -> Result<(), DbError> {
        let token = group_token(self.id, k);
        let mut everything = CellTotals::default();
        for b in group.iter() {
            everything.merge(b.rollup.cell_totals(|_| true));
        }
        if everything.is_empty() || store.cell_rollup_applied(token, &everything).await? {
            return Ok(());
        }
        let mut present = CellTotals::default();
        for b in group.iter_mut() {
            b.ask(store, self.spec.kind()).await?;
            present.merge(b.rollup.cell_totals(|i| b.here(i)));
        }
        store.apply_cell_rollup(token, &present).await.map(|_| ())
    }
}
