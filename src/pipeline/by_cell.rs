//! A job's per-cell totals on their way to the per-cell rollup. A batch's own contribution would
//! be one update per city and day it touches (hundreds a batch), so the run sums groups of
//! [`GROUP`] consecutive batches in memory and adds each group once, under a token of the group's
//! own. The groups depend only on the batch size, so a repair (after a lost answer, or of a job
//! whose instance vanished) can regenerate any group and add it again under the same token: a
//! group that landed, partly or wholly, is completed and never counted twice.

use std::collections::{BTreeMap, HashSet};

use bson::{Bson, oid::ObjectId};

use crate::generate::RunId;
use crate::store::rollup::by_cell::{CellTotals, flush_token};
use crate::store::{DbError, RetryPolicy, Store, until_answered};

/// Batches summed into one contribution: with batches of 10,000 calls, at most 200,000 entries of
/// (day, cell) held per group, ~10 MB.
pub const GROUP: u32 = 20;

/// The group of the batch starting at document `first`.
pub fn group_of(first: u32, batch_size: usize) -> u32 {
    first / batch_size.max(1) as u32 / GROUP
}

/// The token of group `group`'s contribution.
pub fn group_token(run: RunId, group: u32) -> ObjectId {
    flush_token(run, group)
}

/// One group of batches being summed.
#[derive(Debug, Default)]
struct Group {
    totals: CellTotals,
    done: u32,
    /// A batch of it whose outcome or rollup is in doubt: the run's repair adds the group.
    tainted: bool,
}

/// What a job has summed and not yet added.
#[derive(Debug, Default)]
pub(super) struct RunTotals {
    batch_size: usize,
    /// Batches in the run.
    batches: u32,
    open: BTreeMap<u32, Group>,
    /// The rollup documents touched, whose tokens are pruned once the run is done.
    pub(super) touched: Vec<Bson>,
    seen: HashSet<String>,
}

impl RunTotals {
    /// Totals for a run of `count` documents in batches of `batch_size`.
    pub(super) fn new(count: u32, batch_size: usize) -> Self {
        let size = batch_size.max(1) as u32;
        Self {
            batch_size,
            batches: count.div_ceil(size),
            ..Self::default()
        }
    }

    /// Sums the batch starting at document `first`: its totals, or `None` when its outcome or
    /// its other rollups are in doubt.
    pub(super) fn add(&mut self, first: u32, totals: Option<CellTotals>) {
        let g = self
            .open
            .entry(group_of(first, self.batch_size))
            .or_default();
        g.done += 1;
        match totals {
            Some(t) => g.totals.merge(t),
            None => g.tainted = true,
        }
    }

    /// Batches in group `k`.
    fn expected(&self, k: u32) -> u32 {
        self.batches.saturating_sub(k * GROUP).min(GROUP)
    }

    /// Takes out every whole group (with `all`, every group: the run has ended, so a group is all
    /// it will be) that has no batch in doubt, to be added under [`group_token`].
    pub(super) fn ready(&mut self, all: bool) -> Vec<(u32, CellTotals)> {
        let ready: Vec<u32> = self
            .open
            .iter()
            .filter(|&(&k, g)| !g.tainted && (all || g.done == self.expected(k)))
            .map(|(&k, _)| k)
            .collect();
        ready
            .into_iter()
            .filter_map(|k| Some((k, self.open.remove(&k)?.totals)))
            .collect()
    }

    /// Records what adding group `k`'s `totals` came to: the documents it touched, or, when it
    /// failed, the group back as it was, to be added again, exactly as it was, by [`Self::finish`].
    pub(super) fn added(
        &mut self,
        k: u32,
        totals: CellTotals,
        result: Result<Vec<Bson>, DbError>,
    ) -> Result<(), DbError> {
        match result {
            Ok(touched) => {
                for id in touched {
                    if self.seen.insert(id.to_string()) {
                        self.touched.push(id);
                    }
                }
                Ok(())
            }
            Err(e) => {
                let done = self.expected(k);
                self.open.insert(
                    k,
                    Group {
                        totals,
                        done,
                        tainted: false,
                    },
                );
                Err(e)
            }
        }
    }

    /// Adds every group left once the run has ended (through outages with `policy`).
    pub(super) async fn finish(
        &mut self,
        store: &Store,
        run: RunId,
        policy: Option<&RetryPolicy>,
    ) -> Result<(), DbError> {
        for (k, totals) in self.ready(true) {
            let result = add_group(store, run, policy, k, &totals).await;
            self.added(k, totals, result)?;
        }
        Ok(())
    }
}

/// Adds group `k`'s `totals` under its token, through outages with `policy`; the documents it
/// touched.
pub(super) async fn add_group(
    store: &Store,
    run: RunId,
    policy: Option<&RetryPolicy>,
    k: u32,
    totals: &CellTotals,
) -> Result<Vec<Bson>, DbError> {
    let token = group_token(run, k);
    let apply = || store.apply_cell_rollup(token, totals);
    match policy {
        Some(p) => until_answered("adding calls to the per-cell rollup", p, apply).await,
        None => apply().await,
    }
}
