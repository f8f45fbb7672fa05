//! Bringing a run's rollups in line with the documents it left in the database, after a batch's
//! answer or its rollup update was lost. Idempotent: every batch's contribution is applied under
//! its token, so repairing twice, or repairing a batch that did land, changes nothing.

use std::collections::HashSet;

use bson::oid::ObjectId;

use super::Run;
use crate::store::{DbError, Store};

impl Run {
    /// Regenerates the run's batches (the same documents, since generation is a pure function of
    /// the spec) and, for every batch whose contribution is not in the rollups, applies the
    /// contribution of those of its documents that are in the database. `batch_size` must be the
    /// one the run was written with: it decides the batches and so their tokens.
    pub async fn repair_rollups(&self, store: &Store, batch_size: usize) -> Result<(), DbError> {
        let kind = self.spec.kind();
        let (spec, id) = (self.spec.clone(), self.id);
        let Some(last_index) = store.last_run_index(kind, id, spec.count).await? else {
            return Ok(()); // nothing of the run is in the database
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let producer = tokio::task::spawn_blocking(move || {
            let mut first = 0u64;
            for (docs, rollup) in spec.tallied_batches(id, batch_size) {
                if first > u64::from(last_index) {
                    break; // no document of this batch or any later one reached the database
                }
                first += docs.len() as u64;
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
        let mut result = Ok(());
        while let Some((ids, rollup)) = rx.recv().await {
            let (Some(&token), Some(&last)) = (ids.first(), ids.last()) else {
                continue;
            };
            let everything = rollup.cells(|_| true);
            if store.rollup_applied(kind, token, &everything).await? {
                continue;
            }
            let present: HashSet<ObjectId> = store
                .present_ids(kind, token, last)
                .await?
                .into_iter()
                .collect();
            let cells = rollup.cells(|i| present.contains(&ids[i]));
            if let Err(e) = store.apply_rollup(kind, token, &cells).await {
                result = Err(e);
                break;
            }
        }
        drop(rx);
        let _ = producer.await;
        result
    }
}
