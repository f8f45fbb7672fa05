//! Pre-aggregated statistics, maintained at ingest, so a dashboard's read costs the number of days
//! (and hosts) in its range, never the number of documents.
//!
//! - `calls_rollup`: one document per UTC day, `_id: {day}`; the cell of hour H, status S and call
//!   type T is `h.H.S.T` with `n` (calls), `nd` (calls with a duration), `d` (total duration, s),
//!   `dmin`/`dmax` (duration bounds) and `c` (total cost, cents).
//! - `metrics_rollup`: one document per UTC day and host, `_id: {day, host}`; the cell of hour H and
//!   category C is `h.H.C` with `n`, `s` (sum of values in hundredths) and `min`/`max`.
//!
//! One document per day keeps a batch's update to one or two statements when calls arrive in time
//! order (a statement costs about a millisecond on the test server, whatever it holds).
//!
//! Exactness without transactions: every batch's contribution carries a token (the `_id` of the
//! batch's first document) and is applied with `{_id, applied: {$ne: token}}` as the filter and
//! `$push: {applied: token}` in the update. A single-document update is atomic, so a contribution
//! lands at most once per rollup document however often it is retried or repaired; a run that
//! ended cleanly pulls its tokens again. Integer cents and hundredths keep sums exact.

use std::collections::BTreeMap;

use bson::{Bson, Document, doc, oid::ObjectId};
use futures::TryStreamExt;
use mongodb::Collection;

use super::{DbError, Store};

mod batch;

use crate::generate::{Kind, RunId};
pub use batch::BatchRollup;

/// Milliseconds in an hour, the width of a rollup cell.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in a day, the span of one rollup document.
pub const DAY_MS: i64 = 86_400_000;

/// The rollup collection of `kind`.
pub fn collection_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Calls => "calls_rollup",
        Kind::Metrics => "metrics_rollup",
    }
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
type DocCells<'a> = (Document, Vec<(&'a CellKey, &'a Cell)>);

/// The `_id` of the rollup document holding `key`'s cell.
fn doc_id(kind: Kind, key: &CellKey) -> Document {
    let day = bson::DateTime::from_millis(key.t - key.t.rem_euclid(DAY_MS));
    match kind {
        Kind::Calls => doc! { "day": day },
        Kind::Metrics => doc! { "day": day, "host": &key.b },
    }
}

/// The path of `key`'s cell inside its rollup document.
fn cell_path(kind: Kind, key: &CellKey) -> String {
    let hour = key.t.rem_euclid(DAY_MS) / HOUR_MS;
    match kind {
        Kind::Calls => format!("h.{hour}.{}.{}", key.a, key.b),
        Kind::Metrics => format!("h.{hour}.{}", key.a),
    }
}

/// The update adding `cells` (all of one rollup document) under `token`.
fn cell_update(
    kind: Kind,
    id: &Document,
    cells: &[(&CellKey, &Cell)],
    token: ObjectId,
) -> Document {
    let (mut inc, mut min, mut max) = (Document::new(), Document::new(), Document::new());
    for (key, cell) in cells {
        let path = cell_path(kind, key);
        let f = |name: &str| format!("{path}.{name}");
        inc.insert(f("n"), cell.n);
        match kind {
            Kind::Calls => {
                inc.insert(f("nd"), cell.nx);
                inc.insert(f("d"), cell.sx);
                inc.insert(f("c"), cell.cents);
                if let (Some(lo), Some(hi)) = (cell.min, cell.max) {
                    min.insert(f("dmin"), lo as i64);
                    max.insert(f("dmax"), hi as i64);
                }
            }
            Kind::Metrics => {
                inc.insert(f("s"), cell.sx);
                if let (Some(lo), Some(hi)) = (cell.min, cell.max) {
                    min.insert(f("min"), lo);
                    max.insert(f("max"), hi);
                }
            }
        }
    }
    let mut update = doc! {
        "$inc": inc,
        "$push": { "applied": token },
        "$setOnInsert": id.clone(),
    };
    if !min.is_empty() {
        update.insert("$min", min);
        update.insert("$max", max);
    }
    update
}

impl Store {
    pub(super) fn rollup(&self, kind: Kind) -> Collection<Document> {
        self.db.collection(collection_name(kind))
    }

    /// Adds a batch's `cells` to the rollups of `kind`, at most once per `token` (see the module
    /// documentation); safe to call again with the same token after any failure.
    pub async fn apply_rollup(
        &self,
        kind: Kind,
        token: ObjectId,
        cells: &Cells,
    ) -> Result<(), DbError> {
        if cells.is_empty() {
            return Ok(());
        }
        let mut by_doc: BTreeMap<Vec<u8>, DocCells> = BTreeMap::new();
        for (key, cell) in cells {
            let id = doc_id(kind, key);
            let raw = bson::to_vec(&id).unwrap_or_default();
            by_doc
                .entry(raw)
                .or_insert_with(|| (id, Vec::new()))
                .1
                .push((key, cell));
        }
        let mut todo: Vec<(Document, Document)> = by_doc
            .into_values()
            .map(|(id, cells)| {
                let update = cell_update(kind, &id, &cells, token);
                (id, update)
            })
            .collect();
        // One guarded upsert per document. A duplicate-key error means the document exists: either
        // it already holds this token (done) or another writer created it meanwhile (go again,
        // now as a plain guarded update of an existing document).
        for _ in 0..3 {
            let statements: Vec<Document> = todo
                .iter()
                .map(|(id, u)| {
                    doc! { "q": { "_id": id, "applied": { "$ne": token } }, "u": u, "upsert": true }
                })
                .collect();
            let clashed = self.update_command(kind, statements).await?;
            if clashed.is_empty() {
                return Ok(());
            }
            let ids: Vec<Document> = clashed.iter().map(|&i| todo[i].0.clone()).collect();
            let done: Vec<Document> = self
                .rollup(kind)
                .find(doc! { "_id": { "$in": ids }, "applied": token })
                .projection(doc! { "_id": 1 })
                .await?
                .try_collect()
                .await?;
            let done: Vec<Bson> = done
                .into_iter()
                .filter_map(|d| d.get("_id").cloned())
                .collect();
            todo = clashed
                .into_iter()
                .map(|i| todo[i].clone())
                .filter(|(id, _)| !done.contains(&Bson::Document(id.clone())))
                .collect();
            if todo.is_empty() {
                return Ok(());
            }
        }
        Err(mongodb::error::Error::custom(
            "rollup update kept clashing with other writers".to_string(),
        )
        .into())
    }

    /// One `update` command with many statements, unordered; returns the positions of the
    /// statements that failed on a duplicate key, and fails on any other write error.
    async fn update_command(
        &self,
        kind: Kind,
        updates: Vec<Document>,
    ) -> Result<Vec<usize>, DbError> {
        let mut clashed = Vec::new();
        for (c, chunk) in updates.chunks(1000).enumerate() {
            let reply = self
                .db
                .run_command(doc! {
                    "update": collection_name(kind),
                    "updates": chunk.to_vec(),
                    "ordered": false,
                })
                .await?;
            for e in reply.get_array("writeErrors").into_iter().flatten() {
                let Some(e) = e.as_document() else { continue };
                if e.get_i32("code").ok() == Some(11000) {
                    let index = e.get_i32("index").unwrap_or_default() as usize;
                    clashed.push(c * 1000 + index);
                } else {
                    return Err(mongodb::error::Error::custom(format!(
                        "rollup update failed: {e}"
                    ))
                    .into());
                }
            }
        }
        Ok(clashed)
    }

    /// Whether every rollup document `cells` touch already holds `token`'s contribution.
    pub async fn rollup_applied(
        &self,
        kind: Kind,
        token: ObjectId,
        cells: &Cells,
    ) -> Result<bool, DbError> {
        let mut seen = std::collections::BTreeSet::new();
        let ids: Vec<Document> = cells
            .keys()
            .map(|k| doc_id(kind, k))
            .filter(|id| seen.insert(bson::to_vec(id).unwrap_or_default()))
            .collect();
        if ids.is_empty() {
            return Ok(true);
        }
        let n = self
            .rollup(kind)
            .count_documents(doc! { "_id": { "$in": ids.clone() }, "applied": token })
            .await?;
        Ok(n as usize == ids.len())
    }

    /// Forgets the tokens of a run that ended cleanly, so `applied` lists stay short.
    pub async fn prune_rollup_tokens(
        &self,
        kind: Kind,
        run: RunId,
        count: u32,
    ) -> Result<(), DbError> {
        if count == 0 {
            return Ok(());
        }
        let (first, last) = run.id_range(count);
        let range = doc! {
            "$gte": ObjectId::from_bytes(first),
            "$lte": ObjectId::from_bytes(last),
        };
        // Few documents (one per day, or per day and host): a scan is cheaper than keeping an
        // index on `applied` up to date with every batch.
        self.rollup(kind)
            .update_many(
                doc! { "applied": { "$elemMatch": range.clone() } },
                doc! { "$pull": { "applied": range } },
            )
            .await?;
        Ok(())
    }

    /// Empties the rollups of `kind` (the first step of a rebuild).
    pub async fn clear_rollup(&self, kind: Kind) -> Result<(), DbError> {
        self.rollup(kind).delete_many(doc! {}).await?;
        Ok(())
    }

    /// Forgets every token of `kind`'s rollups (the last step of a rebuild, whose days need none).
    pub async fn clear_rollup_tokens(&self, kind: Kind) -> Result<(), DbError> {
        self.rollup(kind)
            .update_many(doc! {}, doc! { "$set": { "applied": [] } })
            .await?;
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
