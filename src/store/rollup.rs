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
//!   and `c` (total cost, cents). A day document also holds the day's totals at `d.s.S`, `d.t.T`.
//! - metrics: `_id: {start, host}`; the cell of slot N and category C is `c.N.C` with `n`, `s` (sum
//!   of values in hundredths) and `min`/`max`; the day's totals at `d.C`.
//!
//! A reader sums every document it finds for a day or hour (and host), so one or several
//! documents may hold a slot's figures.
//!
//! Exactness without transactions: every batch's contribution carries a token (the `_id` of the
//! batch's first document).
//! - Hourly cells live in one document per day (and host), updated with `{_id, applied: {$ne:
//!   token}}` as the filter and `$push: {applied: token}` in the update. A single-document update is
//!   atomic, so a contribution lands at most once however often it is retried or repaired; a run
//!   that ended cleanly retires its tokens into one watermark per document ([`tokens`]), which
//!   still refuses a contribution delivered late. Few documents, few statements per batch.
//! - Fine cells are inserted: a batch's cells of one hour (and host) become one document
//!   whose `_id` is `{start, host?, k: token}`, so a retry or repair is a duplicate key. An update
//!   of an hour of fine slots' fields costs the server several times what an insert does (its cost
//!   grows with the fields it touches); time-ordered batches add one or two documents per hour, and
//!   only the two edge hours of a range are ever read at this resolution.
//!
//! Integer cents and hundredths keep sums exact.

use bson::{Document, doc, oid::ObjectId};
use futures::TryStreamExt;
use mongodb::Collection;

use super::kinds::{Layout, stored};
use super::{DbError, Store};

mod apply;
mod batch;
pub mod by_cell;
mod cells;
pub mod tokens;
mod version;
mod writes;

use crate::generate::{Kind, RunId};
pub use batch::BatchRollup;
pub use cells::{
    Cell, CellKey, Cells, Grouping, Key, Place, add_cell, coarsen, documents, key_fields, marginals,
};
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
    /// The day's totals, kept in the hourly documents themselves (`d`, next to the hourly cells in
    /// `c`) by the same guarded update, so they are exact whenever the hours are. A long range
    /// reads a few cells per document instead of 24 per key.
    Day,
    /// Hourly cells, one document per day.
    Hour,
    /// Fine cells ([`fine_ms`] wide) per hour: one document per hour and batch.
    Fine,
}

/// Width of `kind`'s fine rollup cells: a minute for calls (dense: the raw documents of a partial
/// cell at a range's edge are few), five minutes for metrics (a cell holds a field set per
/// category and host, and their raw documents are sparse).
pub fn fine_ms(kind: Kind) -> i64 {
    stored(kind).fine_ms
}

impl Resolution {
    /// The stored resolutions, coarse first (day totals live in the hourly documents).
    pub const ALL: [Resolution; 2] = [Resolution::Hour, Resolution::Fine];

    /// The resolutions kept by guarded updates, whose documents list the tokens applied to them
    /// (fine cells are inserted as contribution documents instead, see [`apply`]).
    pub const GUARDED: [Resolution; 1] = [Resolution::Hour];

    /// Width of a cell of `kind`, ms.
    pub fn cell_ms(self, kind: Kind) -> i64 {
        match self {
            Resolution::Day => DAY_MS,
            Resolution::Hour => HOUR_MS,
            Resolution::Fine => fine_ms(kind),
        }
    }

    /// The next finer resolution; `None` below the fine cells (raw documents).
    pub fn finer(self) -> Option<Resolution> {
        match self {
            Resolution::Day => Some(Resolution::Hour),
            Resolution::Hour => Some(Resolution::Fine),
            Resolution::Fine => None,
        }
    }

    /// Span of a document, ms.
    pub fn doc_ms(self) -> i64 {
        match self {
            Resolution::Day | Resolution::Hour => DAY_MS,
            Resolution::Fine => HOUR_MS,
        }
    }

    /// The rollup collection of `kind` at this resolution.
    pub fn collection(self, kind: Kind) -> &'static str {
        let [hours, fine] = stored(kind).rollups;
        match self {
            Resolution::Day | Resolution::Hour => hours,
            Resolution::Fine => fine,
        }
    }
}

/// Which rollup document at `res` holds the cell at `place`: its start and, when the kind has a
/// document per second key (metrics: per host), that key's value (else empty).
pub(super) fn doc_key<'a>(kind: Kind, res: Resolution, place: Place<'a>) -> (i64, &'a str) {
    let start = place.t - place.t.rem_euclid(res.doc_ms());
    match stored(kind).layout {
        Layout::Marginals => (start, ""),
        Layout::PerSecondKey => (start, place.b),
    }
}

/// The `_id` of the rollup document [`doc_key`] names.
pub(super) fn doc_id(kind: Kind, (start, b): (i64, &str)) -> Document {
    let start = bson::DateTime::from_millis(start);
    match stored(kind).layout {
        Layout::Marginals => doc! { "start": start },
        Layout::PerSecondKey => doc! { "start": start, kind.info().key_fields.1: b },
    }
}

/// The name of the slot holding `place`'s cell inside its rollup document at `res`: `d` for the
/// day totals, else its position in the document (`c.<slot>`).
pub(super) fn slot_name(kind: Kind, res: Resolution, place: Place) -> String {
    match res {
        Resolution::Day => "d".to_owned(),
        _ => (place.t.rem_euclid(res.doc_ms()) / res.cell_ms(kind)).to_string(),
    }
}

/// Where `place`'s cell sits inside its slot: `s.<a>` or `t.<b>` for marginal cells (calls:
/// `s.<status>`, `t.<call type>`, see [`marginals`]), `<a>` in a document per second key
/// (metrics: `<category>`).
pub(super) fn cell_name<'a>(kind: Kind, place: Place<'a>) -> (Option<&'static str>, &'a str) {
    match stored(kind).layout {
        Layout::Marginals if place.b.is_empty() => (Some("s"), place.a),
        Layout::Marginals => (Some("t"), place.b),
        Layout::PerSecondKey => (None, place.a),
    }
}

/// The path of `place`'s cell inside its rollup document at `res`.
/// (Day totals are at `d.<…>`, cells of other resolutions at `c.<slot>.<…>`.)
pub(super) fn cell_path(kind: Kind, res: Resolution, place: Place) -> String {
    let slot = match res {
        Resolution::Day => slot_name(kind, res, place),
        _ => format!("c.{}", slot_name(kind, res, place)),
    };
    match cell_name(kind, place) {
        (Some(group), name) => format!("{slot}.{group}.{name}"),
        (None, name) => format!("{slot}.{name}"),
    }
}

/// The field a rollup document created since day totals exist carries (`true`): its `d` holds
/// every contribution. An older document's day totals are summed from its hours instead.
pub const DAYS_FIELD: &str = "days";

impl Store {
    pub(super) fn rollup(&self, kind: Kind, res: Resolution) -> Collection<Document> {
        self.db().collection(res.collection(kind))
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
            let docs: std::collections::BTreeSet<_> = cells
                .keys()
                .map(|k| doc_key(kind, res, k.place()))
                .collect();
            let ids: Vec<Document> = docs.into_iter().map(|d| doc_id(kind, d)).collect();
            if ids.is_empty() {
                continue;
            }
            let filter = match res {
                Resolution::Day | Resolution::Hour => {
                    let mut held = doc! { "_id": { "$in": ids.clone() } };
                    held.extend(tokens::applied(token));
                    held
                }
                Resolution::Fine => {
                    let ids: Vec<Document> = ids
                        .iter()
                        .map(|id| writes::contribution_id(id, token))
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

    /// Retires the tokens of a run that ended cleanly, so `applied` lists stay short (see
    /// [`tokens`]).
    pub async fn prune_rollup_tokens(
        &self,
        kind: Kind,
        run: RunId,
        count: u32,
    ) -> Result<(), DbError> {
        self.prune_tokens(kind, run, count, &Resolution::GUARDED)
            .await
    }

    /// Retires the tokens of the run's first `count` documents in `kind`'s rollups at
    /// `resolutions`.
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
        // Few documents (one per day and host): a scan is cheaper than keeping an index on
        // `applied` up to date with every batch.
        let (first, last) = (ObjectId::from_bytes(first), ObjectId::from_bytes(last));
        for &res in resolutions {
            self.rollup(kind, res)
                .update_many(
                    doc! { "applied": { "$elemMatch": { "$gte": first, "$lte": last } } },
                    tokens::retire(first, last),
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

    /// The number of documents of `kind`, from the collection's metadata (no scan).
    pub async fn estimated_count(&self, kind: Kind) -> Result<u64, DbError> {
        Ok(self
            .db()
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
            .db()
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
