//! Reading the per-cell rollup back, and summing the raw calls per cell and day the same way (what
//! a rebuild writes and what the tests compare the rollup with).

use std::sync::Arc;

use bson::raw::RawBsonRef;
use bson::{Bson, Document, RawDocument, RawDocumentBuf, doc, oid::ObjectId};
use chrono::NaiveDate;
use futures::TryStreamExt;

use super::{CELLS_ROLLUP, CellCounts, day_key};
use crate::generate::Kind;
use crate::generate::cells::{Eci, eci_in};
use crate::store::rollup::{DAY_MS, tokens};
use crate::store::{DbError, Store};

/// `(day, operator, block)` of a document's `_id`.
pub(super) fn parse_id(id: &str) -> Option<(i64, &str, u16)> {
    let mut parts = id.split('|');
    let (day, operator, block) = (parts.next()?, parts.next()?, parts.next()?);
    let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    let ms = day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some((ms, operator, block.parse().ok()?))
}

/// A stored day of one cell, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellDay {
    /// The operator's `MCC-MNC` (shared: a network has one, a database a few).
    pub operator: Arc<str>,
    /// Start of the UTC day, ms.
    pub day: i64,
    /// The cell's ECI.
    pub eci: Eci,
    /// Its figures that day.
    pub counts: CellCounts,
}

/// One stored (day, operator, city) document as read back: what a reader keeps between reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellDoc {
    /// Its `_id`.
    pub id: String,
    /// The mark of its last change (`None` for a document written before marks were).
    pub mark: Option<ObjectId>,
    /// Start of its UTC day, ms.
    pub day: i64,
    /// The operator's `MCC-MNC` (shared: a network has one, a database a few).
    pub operator: Arc<str>,
    /// Its city's block of eNodeB ids (see [`site_in_city`](crate::generate::cells::site_in_city)).
    pub block: u16,
    /// Its cells' figures that day.
    pub cells: Vec<(Eci, CellCounts)>,
}

/// A document read raw (a month of a large network is millions of cells, each parsed in place),
/// its operator shared with the others of the read.
fn parse_doc(d: &RawDocument, operators: &mut Vec<Arc<str>>) -> Option<CellDoc> {
    let id = d.get_str("_id").ok()?;
    let (day, operator, b) = parse_id(id)?;
    let operator = match operators.iter().find(|o| ***o == *operator) {
        Some(o) => o.clone(),
        None => {
            operators.push(operator.into());
            operators[operators.len() - 1].clone()
        }
    };
    let mut cells = Vec::new();
    for (site, c) in d.get_document("c").ok()?.into_iter().flatten() {
        let (Ok(site), Some(c)) = (site.parse::<u16>(), c.as_document()) else {
            continue;
        };
        let n = |f: &str| match c.get(f) {
            Ok(Some(RawBsonRef::Int64(v))) => v,
            Ok(Some(RawBsonRef::Int32(v))) => i64::from(v),
            _ => 0,
        };
        cells.push((eci_in(b, site), CellCounts::from_fields(n)));
    }
    Some(CellDoc {
        id: id.to_owned(),
        mark: d.get_object_id("w").ok(),
        day,
        operator,
        block: b,
        cells,
    })
}

/// The documents of the UTC days starting in `[from_day, to_day)`: an `_id` range.
fn days_filter(from_day: i64, to_day: i64) -> Option<Document> {
    let (a, b) = (day_key(from_day)?, day_key(to_day)?);
    Some(doc! { "_id": { "$gte": a, "$lt": b } })
}

impl Store {
    /// The documents of the UTC days starting in `[from_day, to_day)` but those still carrying one
    /// of the marks `known` (a reader's kept copies, which are then current). The server checks the
    /// marks: a month of documents it need not send costs a few tens of milliseconds.
    pub async fn cell_docs(
        &self,
        from_day: i64,
        to_day: i64,
        known: &[ObjectId],
    ) -> Result<Vec<CellDoc>, DbError> {
        let Some(mut filter) = days_filter(from_day, to_day) else {
            return Ok(Vec::new());
        };
        if !known.is_empty() {
            filter.insert("w", doc! { "$nin": known });
        }
        let mut cursor = self
            .db()
            .collection::<RawDocumentBuf>(CELLS_ROLLUP)
            .find(filter)
            .projection(doc! { "applied": 0, tokens::WATERMARKS: 0 })
            .await?;
        let (mut out, mut operators) = (Vec::new(), Vec::new());
        while let Some(d) = cursor.try_next().await? {
            out.extend(parse_doc(&d, &mut operators));
        }
        Ok(out)
    }

    /// How many documents the UTC days starting in `[from_day, to_day)` have (an `_id` index
    /// count): a reader whose kept copies outnumber them holds some that are gone.
    pub async fn cell_docs_count(&self, from_day: i64, to_day: i64) -> Result<u64, DbError> {
        let Some(filter) = days_filter(from_day, to_day) else {
            return Ok(0);
        };
        Ok(self
            .db()
            .collection::<Document>(CELLS_ROLLUP)
            .count_documents(filter)
            .await?)
    }

    /// The calls of `[from, to)` summed per (day, cell) from the raw documents (a rebuild's day),
    /// with their operator.
    pub async fn raw_cell_totals(&self, from: i64, to: i64) -> Result<Vec<CellDay>, DbError> {
        let range = doc! { "$gte": bson::DateTime::from_millis(from), "$lt": bson::DateTime::from_millis(to) };
        let ms = doc! { "$toLong": "$start_time" };
        let pipeline = [
            doc! { "$match": { "start_time": range, "caller_cell_start": { "$type": "string" } } },
            doc! { "$group": {
                "_id": {
                    "d": { "$subtract": [ms.clone(), { "$mod": [ms, DAY_MS] }] },
                    "c": "$caller_cell_start",
                },
                "n": { "$sum": 1 },
                "k": { "$sum": { "$cond": [{ "$eq": ["$status", "completed"] }, 1, 0] } },
                "f": { "$sum": { "$cond": [{ "$eq": ["$status", "failed"] }, 1, 0] } },
                "s": { "$sum": "$duration" },
            } },
        ];
        let mut cursor = self
            .db()
            .collection::<Document>(Kind::Calls.collection())
            .aggregate(pipeline)
            .await?;
        let mut out = Vec::new();
        while let Some(g) = cursor.try_next().await? {
            let Ok(id) = g.get_document("_id") else {
                continue;
            };
            let (Ok(day), Ok(ecgi)) = (id.get_i64("d"), id.get_str("c")) else {
                continue;
            };
            let Some((operator, eci)) = ecgi
                .rsplit_once('-')
                .and_then(|(o, e)| Some((o, e.parse::<Eci>().ok()?)))
            else {
                continue;
            };
            let n = |f: &str| match g.get(f) {
                Some(Bson::Int64(v)) => *v,
                Some(Bson::Int32(v)) => i64::from(*v),
                Some(Bson::Double(v)) => *v as i64,
                _ => 0,
            };
            out.push(CellDay {
                operator: operator.into(),
                day,
                eci,
                counts: CellCounts::from_fields(n),
            });
        }
        Ok(out)
    }
}
