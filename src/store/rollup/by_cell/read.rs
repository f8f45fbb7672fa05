//! Reading the per-cell rollup back, and summing the raw calls per cell and day the same way (what
//! a rebuild writes and what the tests compare the rollup with).

use std::sync::Arc;

use bson::raw::RawBsonRef;
use bson::{Bson, Document, RawDocumentBuf, doc};
use chrono::NaiveDate;
use futures::TryStreamExt;

use super::{CELLS_ROLLUP, CellCounts, day_key};
use crate::generate::Kind;
use crate::generate::cells::{Eci, eci_in};
use crate::store::rollup::DAY_MS;
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

impl Store {
    /// Every cell's figures on the UTC days starting in `[from_day, to_day)`, from the documents of
    /// those days (an `_id` range: reads grow with days and cities, not calls).
    pub async fn cell_days(&self, from_day: i64, to_day: i64) -> Result<Vec<CellDay>, DbError> {
        let (Some(a), Some(b)) = (day_key(from_day), day_key(to_day)) else {
            return Ok(Vec::new());
        };
        let filter = doc! { "_id": { "$gte": a, "$lt": b } };
        // Read raw: a month of a large network is millions of cells, each parsed in place.
        let mut cursor = self
            .db()
            .collection::<RawDocumentBuf>(CELLS_ROLLUP)
            .find(filter)
            .projection(doc! { "applied": 0 })
            .await?;
        let mut out = Vec::new();
        let mut operators: Vec<Arc<str>> = Vec::new();
        while let Some(d) = cursor.try_next().await? {
            let Some((day, operator, b)) = d.get_str("_id").ok().and_then(parse_id) else {
                continue;
            };
            let operator = match operators.iter().find(|o| ***o == *operator) {
                Some(o) => o.clone(),
                None => {
                    operators.push(operator.into());
                    operators[operators.len() - 1].clone()
                }
            };
            let Ok(cells) = d.get_document("c") else {
                continue;
            };
            for (site, c) in cells.into_iter().flatten() {
                let (Ok(site), Some(c)) = (site.parse::<u16>(), c.as_document()) else {
                    continue;
                };
                let n = |f: &str| match c.get(f) {
                    Ok(Some(RawBsonRef::Int64(v))) => v,
                    Ok(Some(RawBsonRef::Int32(v))) => i64::from(v),
                    _ => 0,
                };
                out.push(CellDay {
                    operator: operator.clone(),
                    day,
                    eci: eci_in(b, site),
                    counts: CellCounts::from_fields(n),
                });
            }
        }
        Ok(out)
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
