//! The calls' figures per radio cell and UTC day (`cells_rollup`), so `GET /stats/cells` reads
//! days × cities documents, never the calls.
//!
//! One document per day, operator and city: `_id: "<YYYY-MM-DD>|<MCC-MNC>|<city's block>"` (a
//! string: the test server matches an embedded-document `_id` some 30 times slower in an update),
//! and for every cell of that city with calls that day `c.<site>: {n, k, f, s}` (calls,
//! completed, failed, seconds of duration), `<site>` being the cell's place in its city's block
//! ([`site_in_city`], at most 4,096 sites × 3 sectors). A city's day therefore holds at most
//! 12,288 cells of ~40 bytes, about 0.5 MB: far below the 16 MB document limit however many cells
//! the network has (100k cells are ~8 cities' worth of blocks spread over 224).
//!
//! Exact as the hourly rollups are: every contribution is a guarded update carrying a token
//! (`applied: {$ne: token}`, `$push: {applied: token}`, retired into a watermark: [`tokens`]). A job sums groups of consecutive batches
//! in memory ([`CellTotals`]) and adds each group under a token of its own, counting down from the
//! top of the run's `_id` range ([`flush_token`]), which a repair can add again; a live run adds
//! every batch under the batch's token.
//!
//! Every update also sets `w` to a fresh `ObjectId`, in the same atomic update as the figures, so a
//! reader that keeps documents between reads asks only for those whose mark is not one it holds
//! ([`Store::cell_docs`]).

use std::collections::{BTreeMap, HashMap};

use bson::{Bson, Document, doc, oid::ObjectId};
use chrono::{DateTime, Datelike};

mod read;

pub use read::{CellDay, CellDoc};

use super::{DAY_MS, tokens};
use crate::generate::cells::{Eci, SITES_PER_CITY, site_in_city};
use crate::generate::{Kind, RunId};
use crate::store::{DbError, Store};

/// The collection of per-cell daily figures.
pub const CELLS_ROLLUP: &str = "cells_rollup";

/// One cell's calls over a day: counts and seconds, summed exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellCounts {
    /// Calls that started in the cell.
    pub calls: i64,
    /// Of those, completed.
    pub completed: i64,
    /// Of those, failed.
    pub failed: i64,
    /// Their total duration, seconds.
    pub seconds: i64,
}

impl CellCounts {
    /// One call with `status` and `seconds` of duration.
    pub fn call(status: &str, seconds: i64) -> Self {
        Self {
            calls: 1,
            completed: i64::from(status == "completed"),
            failed: i64::from(status == "failed"),
            seconds,
        }
    }

    /// The figures as stored: `n`, `k`, `f` and `s`, each read by `field`.
    fn from_fields(field: impl Fn(&str) -> i64) -> Self {
        Self {
            calls: field("n"),
            completed: field("k"),
            failed: field("f"),
            seconds: field("s"),
        }
    }

    /// Adds `o`.
    pub fn merge(&mut self, o: &CellCounts) {
        self.calls += o.calls;
        self.completed += o.completed;
        self.failed += o.failed;
        self.seconds += o.seconds;
    }

    /// Takes `o` away again (what [`CellCounts::merge`] added).
    pub fn unmerge(&mut self, o: &CellCounts) {
        self.calls -= o.calls;
        self.completed -= o.completed;
        self.failed -= o.failed;
        self.seconds -= o.seconds;
    }
}

/// Calls summed per (UTC day start, ECI) on one operator: a batch's or a run's contribution.
#[derive(Debug, Default, Clone)]
pub struct CellTotals {
    operator: Option<Box<str>>,
    sums: HashMap<(i64, Eci), CellCounts>,
}

impl CellTotals {
    /// Adds a call that started at `time_ms` in cell `eci` of `operator`.
    pub fn add(&mut self, operator: &str, time_ms: i64, eci: Eci, counts: &CellCounts) {
        if self.operator.is_none() {
            self.operator = Some(operator.into());
        }
        let day = time_ms - time_ms.rem_euclid(DAY_MS);
        self.sums.entry((day, eci)).or_default().merge(counts);
    }

    /// Adds everything of `other` (a run has one operator).
    pub fn merge(&mut self, other: CellTotals) {
        if self.operator.is_none() {
            self.operator = other.operator;
        }
        for (k, c) in other.sums {
            self.sums.entry(k).or_default().merge(&c);
        }
    }

    /// (day, cell) entries held.
    pub fn len(&self) -> usize {
        self.sums.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// The guarded updates these totals make, one per rollup document, in `_id` order (days
    /// outside years 0–9999 have no document: the generators never write them).
    fn updates(&self, token: ObjectId) -> Vec<(Bson, Document)> {
        let Some(operator) = self.operator.as_deref() else {
            return Vec::new();
        };
        let mut by_doc: BTreeMap<(i64, u32), Document> = BTreeMap::new();
        for (&(day, eci), c) in &self.sums {
            let inc = by_doc
                .entry((day, eci / (SITES_PER_CITY << 8)))
                .or_default();
            let site = site_in_city(eci);
            for (f, v) in [
                ("n", c.calls),
                ("k", c.completed),
                ("f", c.failed),
                ("s", c.seconds),
            ] {
                inc.insert(format!("c.{site}.{f}"), v);
            }
        }
        by_doc
            .into_iter()
            .filter_map(|((d, b), inc)| {
                let id = doc_id(d, operator, b)?;
                Some((
                    id.into(),
                    // A fresh mark with every change: a reader's kept copy is current while the
                    // document still carries the mark it was read with.
                    doc! { "$inc": inc, "$push": { "applied": token }, "$set": { "w": ObjectId::new() } },
                ))
            })
            .collect()
    }
}

/// The `_id` of the document of `day` (ms), `operator` and city `block`.
fn doc_id(day: i64, operator: &str, block: u32) -> Option<String> {
    Some(format!("{}|{operator}|{block:03}", day_key(day)?))
}

/// A day as the documents' `_id`s start: `YYYY-MM-DD`, which sorts as the days do.
fn day_key(day: i64) -> Option<String> {
    let t = DateTime::from_timestamp_millis(day)?;
    (0..=9999)
        .contains(&t.year())
        .then(|| t.format("%Y-%m-%d").to_string())
}

/// Every token run `run` can have used: its batches' and its contributions'.
pub fn run_tokens(run: RunId) -> (ObjectId, ObjectId) {
    let at = |i| ObjectId::from_bytes(run.object_id(i));
    (at(0), at(u32::MAX))
}

/// The token of a job's `n`th group of batches: from the top of the run's `_id` range down, where
/// no batch's token (its first document's `_id`) reaches.
pub fn flush_token(run: RunId, n: u32) -> ObjectId {
    ObjectId::from_bytes(run.object_id(u32::MAX - n))
}

impl Store {
    /// Adds `totals` under `token`, at most once (see the module documentation); returns the `_id`s
    /// of the documents it touched, whose tokens [`Store::prune_cell_tokens`] forgets later.
    pub async fn apply_cell_rollup(
        &self,
        token: ObjectId,
        totals: &CellTotals,
    ) -> Result<Vec<Bson>, DbError> {
        let todo = totals.updates(token);
        if todo.is_empty() {
            return Ok(Vec::new());
        }
        let ids = todo.iter().map(|(id, _)| id.clone()).collect();
        self.bounded("adding calls to the per-cell rollup", async {
            self.guarded_upserts(CELLS_ROLLUP, token, todo).await?;
            self.bump_version(Kind::Calls).await
        })
        .await?;
        Ok(ids)
    }

    /// Whether every document `totals` would touch already holds `token`.
    pub async fn cell_rollup_applied(
        &self,
        token: ObjectId,
        totals: &CellTotals,
    ) -> Result<bool, DbError> {
        let ids: Vec<Bson> = totals
            .updates(token)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        if ids.is_empty() {
            return Ok(true);
        }
        let n = self
            .db()
            .collection::<Document>(CELLS_ROLLUP)
            .count_documents({
                let mut held = doc! { "_id": { "$in": &ids } };
                held.extend(tokens::applied(token));
                held
            })
            .await?;
        Ok(n as usize == ids.len())
    }

    /// Retires the tokens in `[first, last]` (a run's, or a live run's batches that can no
    /// longer be written again; see [`tokens`]) in the documents `ids` (all of them when `None`: a scan of
    /// the collection, after a repair or for a stopped live run).
    pub async fn prune_cell_tokens(
        &self,
        (first, last): (ObjectId, ObjectId),
        ids: Option<&[Bson]>,
    ) -> Result<(), DbError> {
        let filter = match ids {
            Some([]) => return Ok(()),
            Some(ids) => doc! { "_id": { "$in": ids } },
            None => doc! { "applied": { "$elemMatch": { "$gte": first, "$lte": last } } },
        };
        self.db()
            .collection::<Document>(CELLS_ROLLUP)
            .update_many(filter, tokens::retire(first, last))
            .await?;
        Ok(())
    }

    /// Empties the per-cell rollup (the first step of a rebuild of the calls' rollups).
    pub async fn clear_cell_rollup(&self) -> Result<(), DbError> {
        self.db()
            .collection::<Document>(CELLS_ROLLUP)
            .delete_many(doc! {})
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::cells::eci_in;

    #[test]
    fn a_days_cells_of_one_city_share_a_document_that_names_them() {
        let mut t = CellTotals::default();
        let (a, b) = (eci_in(7, 12), eci_in(7, 13));
        let noon = 20_000 * DAY_MS + DAY_MS / 2;
        t.add("311-480", noon, a, &CellCounts::call("completed", 60));
        t.add("311-480", noon + 1, a, &CellCounts::call("failed", 0));
        t.add("311-480", noon, b, &CellCounts::call("missed", 0));
        t.add(
            "311-480",
            noon + DAY_MS,
            eci_in(9, 1),
            &CellCounts::call("busy", 0),
        );
        let token = ObjectId::from_bytes([1; 12]);
        let updates = t.updates(token);
        let ids: Vec<&str> = updates.iter().map(|(id, _)| id.as_str().unwrap()).collect();
        assert_eq!(
            ids,
            vec!["2024-10-04|311-480|007", "2024-10-05|311-480|009"]
        );
        let inc = updates[0].1.get_document("$inc").unwrap();
        let site = site_in_city(a);
        assert_eq!(inc.get_i64(format!("c.{site}.n")).unwrap(), 2);
        assert_eq!(inc.get_i64(format!("c.{site}.k")).unwrap(), 1);
        assert_eq!(inc.get_i64(format!("c.{site}.f")).unwrap(), 1);
        assert_eq!(inc.get_i64(format!("c.{site}.s")).unwrap(), 60);
        assert_eq!(
            read::parse_id(ids[0]),
            Some((20_000 * DAY_MS, "311-480", 7)),
            "an _id reads back"
        );
        assert_eq!(eci_in(7, site), a);
    }
}
