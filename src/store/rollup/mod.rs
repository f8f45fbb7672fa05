//! Pre-aggregated statistics, maintained at ingest, so a dashboard's read costs the number of days
//! (and hosts) in its range, never the number of documents.
//!
//! Two resolutions of the same figures ([`Resolution`]): hourly cells in one document per UTC day
//! (`calls_rollup`, `metrics_rollup`), and fine cells per UTC hour: a minute wide for calls
//! (`calls_rollup_1m`), five minutes for metrics (`metrics_rollup_5m`, whose raw documents are
//! sparser: a point per host and category per step), so a range that does not start or end on an
//! hour reads at most two hours of fine cells and scans less than one fine cell of raw documents at
//! each edge.
//!
//! - calls: `_id: {start}` (the document's day or hour); slot N (hour of the day, or minute of
//!   the hour) holds a cell per status S at `c.N.s.S` and one per call type T at `c.N.t.T`
//!   (see [`marginals`]), with `n` (calls), `nd` (calls with a duration), `d` (total duration, s)
//!   and `c` (total cost, cents).
//! - metrics: `_id: {start, host}`; the cell of slot N and category C is `c.N.C` with `n`, `s` (sum
//!   of values in hundredths) and `min`/`max`.
//!
//! A reader sums every document it finds for a day or hour (and host), so one or several
//! documents may hold a slot's figures.
//!
//! Exactness without transactions: every batch's contribution carries a token (the `_id` of the
//! batch's first document).
//! - Hourly cells live in one document per day (and host), updated with `{_id, applied: {$ne:
//!   token}}` as the filter and `$push: {applied: token}` in the update. A single-document update is
//!   atomic, so a contribution lands at most once however often it is retried or repaired; a run
//!   that ended cleanly pulls its tokens again. Few documents, few statements per batch.
//! - Fine cells are inserted: a batch's cells of one hour (and host) become one document
//!   whose `_id` is `{start, host?, k: token}`, so a retry or repair is a duplicate key. An update
//!   of an hour of fine slots' fields costs the server several times what an insert does (its cost
//!   grows with the fields it touches); time-ordered batches add one or two documents per hour, and
//!   only the two edge hours of a range are ever read at this resolution.
//!
//! Integer cents and hundredths keep sums exact.

use std::collections::BTreeMap;

use bson::{Document, doc, oid::ObjectId};
use futures::TryStreamExt;
use mongodb::Collection;

use super::{DbError, Store};

mod apply;
mod batch;
mod version;

use crate::generate::{Kind, RunId};
pub use batch::BatchRollup;
pub use version::{DataVersion, VERSIONS};

/// Milliseconds in an hour, the width of a rollup cell.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in a day, the span of one rollup document.
pub const DAY_MS: i64 = 86_400_000;

/// Milliseconds in a minute.
pub const MINUTE_MS: i64 = 60_000;
/// Milliseconds in five minutes, the width of a fine metrics rollup cell.
pub const FIVE_MINUTES_MS: i64 = 5 * MINUTE_MS;

/// How fine a rollup's cells are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// Hourly cells, one document per day.
    Hour,
    /// Fine cells ([`fine_ms`] wide) per hour: one document per hour and batch.
    Fine,
}

/// Width of `kind`'s fine rollup cells: a minute for calls (dense: the raw documents of a partial
/// cell at a range's edge are few), five minutes for metrics (a cell holds a field set per
/// category and host, and their raw documents are sparse).
pub fn fine_ms(kind: Kind) -> i64 {
    match kind {
        Kind::Calls => MINUTE_MS,
        Kind::Metrics => FIVE_MINUTES_MS,
    }
}

impl Resolution {
    /// Both resolutions, coarse first.
    pub const ALL: [Resolution; 2] = [Resolution::Hour, Resolution::Fine];

    /// The resolutions kept by guarded updates, whose documents list the tokens applied to them
    /// (fine cells are inserted as contribution documents instead, see [`apply`]).
    pub const GUARDED: [Resolution; 1] = [Resolution::Hour];

    /// Width of a cell of `kind`, ms.
    pub fn cell_ms(self, kind: Kind) -> i64 {
        match self {
            Resolution::Hour => HOUR_MS,
            Resolution::Fine => fine_ms(kind),
        }
    }

    /// Span of a document, ms.
    pub fn doc_ms(self) -> i64 {
        match self {
            Resolution::Hour => DAY_MS,
            Resolution::Fine => HOUR_MS,
        }
    }

    /// The rollup collection of `kind` at this resolution.
    pub fn collection(self, kind: Kind) -> &'static str {
        match (kind, self) {
            (Kind::Calls, Resolution::Hour) => "calls_rollup",
            (Kind::Calls, Resolution::Fine) => "calls_rollup_1m",
            (Kind::Metrics, Resolution::Hour) => "metrics_rollup",
            (Kind::Metrics, Resolution::Fine) => "metrics_rollup_5m",
        }
    }
}

/// Call cells as their two marginals: per status (`b` empty) and per call type (`a` empty). No
/// answer needs the joint figures, and a rollup cell per status plus one per type is 7 cells where
/// the joint one is 12 (and the server's update cost grows with the fields updated). Metric cells
/// are returned as they are.
pub fn marginals(kind: Kind, cells: Cells) -> Cells {
    if kind == Kind::Metrics {
        return cells;
    }
    let mut out = Cells::new();
    for (k, c) in cells {
        if k.a.is_empty() || k.b.is_empty() {
            add_cell(&mut out, k, &c);
            continue;
        }
        let by_status = CellKey {
            t: k.t,
            a: k.a.clone(),
            b: String::new(),
        };
        let by_type = CellKey {
            t: k.t,
            a: String::new(),
            b: k.b,
        };
        add_cell(&mut out, by_status, &c);
        add_cell(&mut out, by_type, &c);
    }
    out
}

/// How many documents `cells` count (the status marginal alone, for call cells).
pub fn documents(kind: Kind, cells: &Cells) -> i64 {
    cells
        .iter()
        .filter(|(k, _)| kind == Kind::Metrics || k.b.is_empty())
        .map(|(_, c)| c.n)
        .sum()
}

/// `cells` re-keyed to slots of `width` ms (summing the cells that fall together).
pub fn coarsen(cells: &Cells, width: i64) -> Cells {
    let mut out = Cells::new();
    for (k, c) in cells {
        let key = CellKey {
            t: k.t - k.t.rem_euclid(width),
            a: k.a.clone(),
            b: k.b.clone(),
        };
        add_cell(&mut out, key, c);
    }
    out
}

/// The two key fields of a rollup document of `kind`.
pub fn key_fields(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Calls => ("status", "call_type"),
        Kind::Metrics => ("category", "host"),
    }
}

/// Aggregates of one time slot of one key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    /// Documents.
    pub n: i64,
    /// Documents with a measure (calls with a duration; every metric point).
    pub nx: i64,
    /// Sum of the measure in its integer unit (seconds of duration; hundredths of a value).
    pub sx: i64,
    /// Smallest measure.
    pub min: Option<f64>,
    /// Largest measure.
    pub max: Option<f64>,
    /// Sum of costs in cents (calls only).
    pub cents: i64,
}

impl Cell {
    /// Adds `other` into this cell.
    pub fn merge(&mut self, other: &Cell) {
        self.n += other.n;
        self.nx += other.nx;
        self.sx += other.sx;
        self.cents += other.cents;
        self.min = min_of(self.min, other.min);
        self.max = max_of(self.max, other.max);
    }
}

fn min_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// Where a cell sits: its slot's start (ms since the epoch) and its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    /// Start of the slot, ms since the epoch.
    pub t: i64,
    /// First key field (status, or category).
    pub a: String,
    /// Second key field (call type, or host).
    pub b: String,
}

/// Cells by key, ordered by time then key.
pub type Cells = BTreeMap<CellKey, Cell>;

/// Adds `cell` at `key` into `cells`.
pub fn add_cell(cells: &mut Cells, key: CellKey, cell: &Cell) {
    cells.entry(key).or_default().merge(cell);
}

/// A rollup document's `_id` and the cells a batch adds to it.
pub(super) type DocCells<'a> = (Document, Vec<(&'a CellKey, &'a Cell)>);

/// The `_id` of the rollup document holding `key`'s cell at `res`.
pub(super) fn doc_id(kind: Kind, res: Resolution, key: &CellKey) -> Document {
    let start = bson::DateTime::from_millis(key.t - key.t.rem_euclid(res.doc_ms()));
    match kind {
        Kind::Calls => doc! { "start": start },
        Kind::Metrics => doc! { "start": start, "host": &key.b },
    }
}

/// The path of `key`'s cell inside its rollup document at `res`.
pub(super) fn cell_path(kind: Kind, res: Resolution, key: &CellKey) -> String {
    let slot = key.t.rem_euclid(res.doc_ms()) / res.cell_ms(kind);
    match kind {
        Kind::Calls if key.b.is_empty() => format!("c.{slot}.s.{}", key.a),
        Kind::Calls => format!("c.{slot}.t.{}", key.b),
        Kind::Metrics => format!("c.{slot}.{}", key.a),
    }
}

impl Store {
    pub(super) fn rollup(&self, kind: Kind, res: Resolution) -> Collection<Document> {
        self.db.collection(res.collection(kind))
    }

    /// Whether every rollup document (of both resolutions) `cells` touch already holds `token`'s
    /// contribution.
    pub async fn rollup_applied(
        &self,
        kind: Kind,
        token: ObjectId,
        cells: &Cells,
    ) -> Result<bool, DbError> {
        for res in Resolution::ALL {
            let mut seen = std::collections::BTreeSet::new();
            let ids: Vec<Document> = cells
                .keys()
                .map(|k| doc_id(kind, res, k))
                .filter(|id| seen.insert(bson::to_vec(id).unwrap_or_default()))
                .collect();
            if ids.is_empty() {
                continue;
            }
            let filter = match res {
                Resolution::Hour => doc! { "_id": { "$in": ids.clone() }, "applied": token },
                Resolution::Fine => {
                    let ids: Vec<Document> = ids
                        .iter()
                        .map(|id| apply::contribution_id(id, token))
                        .collect();
                    doc! { "_id": { "$in": ids } }
                }
            };
            let n = self.rollup(kind, res).count_documents(filter).await?;
            if n as usize != ids.len() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Forgets the tokens of a run that ended cleanly, so `applied` lists stay short.
    pub async fn prune_rollup_tokens(
        &self,
        kind: Kind,
        run: RunId,
        count: u32,
    ) -> Result<(), DbError> {
        self.prune_tokens(kind, run, count, &Resolution::GUARDED)
            .await
    }

    /// Pulls the tokens of the run's first `count` documents from the `applied` lists of `kind`'s
    /// rollups at `resolutions`.
    pub(super) async fn prune_tokens(
        &self,
        kind: Kind,
        run: RunId,
        count: u32,
        resolutions: &[Resolution],
    ) -> Result<(), DbError> {
        if count == 0 {
            return Ok(());
        }
        let (first, last) = run.id_range(count);
        let range = doc! {
            "$gte": ObjectId::from_bytes(first),
            "$lte": ObjectId::from_bytes(last),
        };
        // Few documents (one per day and host): a scan is cheaper than keeping an index on
        // `applied` up to date with every batch.
        for &res in resolutions {
            self.rollup(kind, res)
                .update_many(
                    doc! { "applied": { "$elemMatch": range.clone() } },
                    doc! { "$pull": { "applied": range.clone() } },
                )
                .await?;
        }
        Ok(())
    }

    /// Empties the rollups of `kind` (the first step of a rebuild).
    pub async fn clear_rollup(&self, kind: Kind) -> Result<(), DbError> {
        for res in Resolution::ALL {
            self.rollup(kind, res).delete_many(doc! {}).await?;
        }
        self.bump_version(kind).await
    }

    /// Forgets every token of `kind`'s rollups (the last step of a rebuild, whose days need none).
    pub async fn clear_rollup_tokens(&self, kind: Kind) -> Result<(), DbError> {
        for res in Resolution::GUARDED {
            self.rollup(kind, res)
                .update_many(doc! {}, doc! { "$set": { "applied": [] } })
                .await?;
        }
        Ok(())
    }

    /// The number of documents of `kind`, from the collection's metadata (no scan).
    pub async fn estimated_count(&self, kind: Kind) -> Result<u64, DbError> {
        Ok(self
            .db
            .collection::<Document>(kind.collection())
            .estimated_document_count()
            .await?)
    }

    /// Which `_id`s of the run's documents `first..=last` are in the collection of `kind`.
    pub async fn present_ids(
        &self,
        kind: Kind,
        first: ObjectId,
        last: ObjectId,
    ) -> Result<Vec<ObjectId>, DbError> {
        let docs: Vec<Document> = self
            .db
            .collection::<Document>(kind.collection())
            .find(doc! { "_id": { "$gte": first, "$lte": last } })
            .projection(doc! { "_id": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| d.get_object_id("_id").ok())
            .collect())
    }
}
