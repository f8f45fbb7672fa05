//! Pre-aggregated statistics, maintained at ingest: one document per (UTC day, key) holding 24
//! hourly cells, so a dashboard's read costs the number of days × keys in its range, never the
//! number of documents.
//!
//! - `calls_rollup`: key (status, call type); a cell holds `n` (calls), `nd` (calls with a
//!   duration), `d` (total duration, s), `dmin`/`dmax` (duration bounds), `c` (total cost, cents).
//! - `metrics_rollup`: key (category, host); a cell holds `n`, `s` (sum of values in hundredths),
//!   `min`/`max`.
//!
//! Exactness without transactions: every batch's contribution carries a token (the `_id` of the
//! batch's first document) and is applied with `{_id, applied: {$ne: token}}` as the filter and
//! `$push: {applied: token}` in the update. A single-document update is atomic, so a contribution
//! lands at most once per rollup document however often it is retried or repaired; a run that
//! ended cleanly pulls its tokens again. Integer cents and hundredths keep sums exact.

use std::collections::{BTreeMap, HashMap};

use bson::{Bson, Document, RawDocumentBuf, doc, oid::ObjectId};
use futures::TryStreamExt;
use mongodb::Collection;

use super::{DbError, Store};
use crate::generate::{Kind, RunId};

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

/// One document's share of a batch's rollup.
#[derive(Debug, Clone, Copy)]
struct Part {
    cell: u32,
    measure: Option<f64>,
    units: i64,
    cents: i64,
}

/// A batch's contribution to the rollups, one part per document in batch order, so documents the
/// server rejected can be left out once the insert has answered.
#[derive(Debug)]
pub struct BatchRollup {
    kind: Kind,
    keys: Vec<CellKey>,
    index: HashMap<CellKey, u32>,
    parts: Vec<Part>,
}

/// A part for a document without the fields a rollup needs: it counts nowhere.
const NO_CELL: u32 = u32::MAX;

impl BatchRollup {
    /// An empty contribution for documents of `kind`.
    pub fn new(kind: Kind, capacity: usize) -> Self {
        Self {
            kind,
            keys: Vec::new(),
            index: HashMap::new(),
            parts: Vec::with_capacity(capacity),
        }
    }

    /// Adds the next document of the batch.
    pub fn push(&mut self, doc: &RawDocumentBuf) {
        let part = self.part(doc).unwrap_or(Part {
            cell: NO_CELL,
            measure: None,
            units: 0,
            cents: 0,
        });
        self.parts.push(part);
    }

    fn cell_index(&mut self, t: i64, a: &str, b: &str) -> u32 {
        let key = CellKey {
            t: t - t.rem_euclid(HOUR_MS),
            a: a.to_owned(),
            b: b.to_owned(),
        };
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.keys.len() as u32;
        self.keys.push(key.clone());
        self.index.insert(key, i);
        i
    }

    fn part(&mut self, doc: &RawDocumentBuf) -> Option<Part> {
        Some(match self.kind {
            Kind::Calls => {
                let t = doc.get_datetime("start_time").ok()?.timestamp_millis();
                let (status, call_type) =
                    (doc.get_str("status").ok()?, doc.get_str("call_type").ok()?);
                let duration = doc.get_i32("duration").ok();
                let cost = doc.get_f64("cost").ok()?;
                Part {
                    cell: self.cell_index(t, status, call_type),
                    measure: duration.map(f64::from),
                    units: duration.map_or(0, i64::from),
                    cents: (cost * 100.0).round() as i64,
                }
            }
            Kind::Metrics => {
                let t = doc.get_datetime("timestamp").ok()?.timestamp_millis();
                let (category, host) = (doc.get_str("category").ok()?, doc.get_str("host").ok()?);
                let value = doc.get_f64("value").ok()?;
                Part {
                    cell: self.cell_index(t, category, host),
                    measure: Some(value),
                    units: (value * 100.0).round() as i64,
                    cents: 0,
                }
            }
        })
    }

    /// The cells of the documents for which `present(index)` holds.
    pub fn cells(&self, present: impl Fn(usize) -> bool) -> Cells {
        let mut cells = Cells::new();
        for (i, p) in self.parts.iter().enumerate() {
            if p.cell == NO_CELL || !present(i) {
                continue;
            }
            let cell = Cell {
                n: 1,
                nx: i64::from(p.measure.is_some()),
                sx: p.units,
                min: p.measure,
                max: p.measure,
                cents: p.cents,
            };
            add_cell(&mut cells, self.keys[p.cell as usize].clone(), &cell);
        }
        cells
    }
}

/// The `_id` of the rollup document holding `key`'s cell.
fn doc_id(kind: Kind, key: &CellKey) -> Document {
    let (fa, fb) = key_fields(kind);
    let day = key.t - key.t.rem_euclid(DAY_MS);
    doc! { "day": bson::DateTime::from_millis(day), fa: &key.a, fb: &key.b }
}

/// The update adding `cells` (all of one rollup document) under `token`.
fn cell_update(kind: Kind, cells: &[(&CellKey, &Cell)], token: ObjectId) -> Document {
    let (mut inc, mut min, mut max) = (Document::new(), Document::new(), Document::new());
    for (key, cell) in cells {
        let hour = key.t.rem_euclid(DAY_MS) / HOUR_MS;
        let f = |name: &str| format!("h.{hour}.{name}");
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
    let mut update = doc! { "$inc": inc, "$push": { "applied": token } };
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
        let mut by_doc: BTreeMap<Vec<u8>, (Document, Vec<(&CellKey, &Cell)>)> = BTreeMap::new();
        for (key, cell) in cells {
            let id = doc_id(kind, key);
            let raw = bson::to_vec(&id).unwrap_or_default();
            by_doc
                .entry(raw)
                .or_insert_with(|| (id, Vec::new()))
                .1
                .push((key, cell));
        }
        // Pass 1: make sure every document exists (a pure equality upsert, safe to race).
        let creates: Vec<Document> = by_doc
            .values()
            .map(|(id, _)| {
                let mut fields = id.clone();
                fields.insert("applied", Bson::Array(Vec::new()));
                doc! { "q": { "_id": id }, "u": { "$setOnInsert": fields }, "upsert": true }
            })
            .collect();
        self.update_command(kind, creates, true).await?;
        // Pass 2: the guarded increments.
        let adds: Vec<Document> = by_doc
            .values()
            .map(|(id, cells)| {
                doc! {
                    "q": { "_id": id, "applied": { "$ne": token } },
                    "u": cell_update(kind, cells, token),
                }
            })
            .collect();
        self.update_command(kind, adds, false).await
    }

    /// One `update` command with many statements, unordered; duplicate-key errors are ignored when
    /// `creating` (another writer created the document first).
    async fn update_command(
        &self,
        kind: Kind,
        updates: Vec<Document>,
        creating: bool,
    ) -> Result<(), DbError> {
        for chunk in updates.chunks(1000) {
            let reply = self
                .db
                .run_command(doc! {
                    "update": collection_name(kind),
                    "updates": chunk.to_vec(),
                    "ordered": false,
                })
                .await?;
            if let Ok(errors) = reply.get_array("writeErrors") {
                let fatal = errors
                    .iter()
                    .filter_map(Bson::as_document)
                    .find(|e| !(creating && e.get_i32("code").ok() == Some(11000)));
                if let Some(e) = fatal {
                    return Err(mongodb::error::Error::custom(format!(
                        "rollup update failed: {e}"
                    ))
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Whether every rollup document `cells` touch already holds `token`'s contribution.
    pub async fn rollup_applied(
        &self,
        kind: Kind,
        token: ObjectId,
        cells: &Cells,
    ) -> Result<bool, DbError> {
        let mut ids: Vec<Document> = cells.keys().map(|k| doc_id(kind, k)).collect();
        ids.dedup();
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
        self.rollup(kind)
            .update_many(
                doc! { "applied": { "$elemMatch": range.clone() } },
                doc! { "$pull": { "applied": range } },
            )
            .await?;
        Ok(())
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
