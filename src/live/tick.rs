//! Writing one second (tick) of a live run: its batches, a few at once, and the rollup documents
//! they touched, remembered until their tokens can be pruned.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bson::{Document, oid::ObjectId};
use futures::StreamExt;
use tokio::time::Instant;

use crate::generate::{Kind, RunId};
use crate::pipeline::Tuning;
use crate::store::live::Checkpoint;
use crate::store::rollup::Resolution;
use crate::store::{DbError, RetryPolicy, Store};

use super::schedule::{Batch, Schedule};

/// Rollup documents touched, per collection kind and resolution (`None`: the per-cell rollup).
pub type TouchedDocs = Vec<(Kind, Option<Resolution>, Document)>;

/// Writes the batches of tick `k`, a few at once, each generated when a slot frees (memory holds
/// at most `inflight` batches whatever the rate); returns the rollup documents they touched.
pub async fn write_tick(
    store: &Store,
    schedule: &mut Schedule,
    k: i64,
    tuning: Tuning,
    policy: &RetryPolicy,
    trouble: &AtomicBool,
) -> Result<TouchedDocs, String> {
    let plan = schedule.plan(k)?;
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut queue = plan.into_iter();
    let mut touched = Vec::new();
    loop {
        while pending.len() < tuning.inflight.max(1) {
            let Some((kind, first, end)) = queue.next() else {
                break;
            };
            let batch = schedule.make(kind, first, end);
            pending.push(write_one(store, batch, policy, trouble));
        }
        match pending.next().await {
            Some(Ok((t, _))) => touched.extend(t),
            Some(Err(e)) => return Err(e.to_string()),
            None => break,
        }
    }
    Ok(touched)
}

async fn write_one(
    store: &Store,
    b: Batch,
    policy: &RetryPolicy,
    trouble: &AtomicBool,
) -> Result<(TouchedDocs, Batch), DbError> {
    let docs = b.write(store, policy, trouble).await?;
    let touched = docs.into_iter().map(|(r, d)| (b.kind, r, d)).collect();
    Ok((touched, b))
}

/// Rollup documents a run touched since its tokens were last pruned.
#[derive(Default)]
pub struct Touched {
    docs: TouchedDocs,
    since: Option<Instant>,
}

impl Touched {
    /// Remembers documents touched by the batches of a tick.
    pub fn add(&mut self, docs: TouchedDocs) {
        for d in docs {
            if !self.docs.contains(&d) {
                self.docs.push(d);
            }
        }
        self.since.get_or_insert_with(Instant::now);
    }

    /// Forgets the tokens of every batch before checkpoint `at` (persisted: no one writes those
    /// batches again), at most every ten seconds.
    pub async fn prune(&mut self, store: &Store, run: RunId, at: Checkpoint) {
        if self
            .since
            .is_none_or(|t| t.elapsed() < Duration::from_secs(10))
        {
            return;
        }
        let first = ObjectId::from_bytes(run.object_id(0));
        for (kind, written) in [(Kind::Calls, at.calls), (Kind::Metrics, at.points)] {
            let last = match u32::try_from(written) {
                Ok(0) | Err(_) => continue,
                Ok(n) => ObjectId::from_bytes(run.object_id(n - 1)),
            };
            let docs: Vec<_> = self
                .docs
                .iter()
                .filter(|(k, _, _)| *k == kind)
                .filter_map(|(_, r, d)| Some(((*r)?, d.clone())))
                .collect();
            let per_cell: Vec<bson::Bson> = self
                .docs
                .iter()
                .filter(|(k, r, _)| *k == kind && r.is_none())
                .filter_map(|(_, _, d)| d.get("_id").cloned())
                .collect();
            let pruned = match store.prune_live_tokens(kind, &docs, first, last).await {
                Ok(()) => {
                    store
                        .prune_cell_tokens((first, last), Some(&per_cell))
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = pruned {
                tracing::warn!(error = %e, "tokens of a live run not pruned; retried later");
                return;
            }
        }
        self.docs.clear();
        self.since = None;
    }
}
