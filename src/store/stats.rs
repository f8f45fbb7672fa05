//! Reading cells for the statistics: from the rollups (whole hours, cheap) or from the raw
//! collections (any slot width, index-served for short ranges, a full scan when asked to be).

use std::time::Duration;

use bson::{Bson, Document, doc};
use futures::TryStreamExt;

use super::rollup::{Cell, CellKey, Cells, Resolution, add_cell, key_fields, marginals};
use super::{DbError, Store};
use crate::generate::Kind;

/// Longest a statistics query may run on the server.
pub const STATS_MAX_TIME: Duration = Duration::from_secs(30);

/// Restricts a read to some values of the key fields (e.g. categories, hosts); `None` means all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KeyFilter {
    /// Allowed values of the first key field (status, or category).
    pub a: Option<Vec<String>>,
    /// Allowed values of the second key field (call type, or host).
    pub b: Option<Vec<String>>,
}

impl KeyFilter {
    fn apply(&self, kind: Kind, filter: &mut Document) {
        let (fa, fb) = key_fields(kind);
        if let Some(a) = &self.a {
            filter.insert(fa, doc! { "$in": a.clone() });
        }
        if let Some(b) = &self.b {
            filter.insert(fb, doc! { "$in": b.clone() });
        }
    }
}

/// The time field of documents of `kind`.
pub fn time_field(kind: Kind) -> &'static str {
    match kind {
        Kind::Calls => "start_time",
        Kind::Metrics => "timestamp",
    }
}

fn range(from: Option<i64>, to: Option<i64>) -> Option<Document> {
    let mut r = Document::new();
    if let Some(f) = from {
        r.insert("$gte", bson::DateTime::from_millis(f));
    }
    if let Some(t) = to {
        r.insert("$lt", bson::DateTime::from_millis(t));
    }
    (!r.is_empty()).then_some(r)
}

/// A number as BSON stores it after `$inc`/`$sum` (int32, int64 or double).
fn num(d: &Document, key: &str) -> Option<f64> {
    match d.get(key)? {
        Bson::Int32(x) => Some(f64::from(*x)),
        Bson::Int64(x) => Some(*x as f64),
        Bson::Double(x) => Some(*x),
        _ => None,
    }
}

fn int(d: &Document, key: &str) -> i64 {
    num(d, key).map_or(0, |x| x.round() as i64)
}

impl Store {
    /// Cells of `[from, to)` (aligned to `res`'s cells; `None` leaves that side open), read from
    /// the rollups at `res`: cost grows with days or hours (× hosts), not with documents.
    pub async fn rollup_cells(
        &self,
        kind: Kind,
        res: Resolution,
        from: Option<i64>,
        to: Option<i64>,
        keys: &KeyFilter,
    ) -> Result<Cells, DbError> {
        let mut filter = Document::new();
        let doc_from = from.map(|f| f - f.rem_euclid(res.doc_ms()));
        if let Some(starts) = range(doc_from, to) {
            filter.insert("start", starts);
        }
        if let (Kind::Metrics, Some(hosts)) = (kind, &keys.b) {
            filter.insert("host", doc! { "$in": hosts.clone() });
        }
        let mut cursor = self
            .rollup(kind, res)
            .find(filter)
            .projection(doc! { "applied": 0 })
            .max_time(STATS_MAX_TIME)
            .await?;
        let allowed = |v: &str, set: &Option<Vec<String>>| {
            set.as_ref().is_none_or(|s| s.iter().any(|x| x == v))
        };
        let mut cells = Cells::new();
        while let Some(d) = cursor.try_next().await? {
            let (Ok(start), Ok(slots)) = (d.get_datetime("start"), d.get_document("c")) else {
                continue;
            };
            let start = start.timestamp_millis();
            for (slot, by_a) in slots {
                let (Ok(slot), Some(by_a)) = (slot.parse::<i64>(), by_a.as_document()) else {
                    continue;
                };
                let t = start + slot * res.cell_ms(kind);
                if from.is_some_and(|f| t < f) || to.is_some_and(|e| t >= e) {
                    continue;
                }
                for (a, inner) in by_a {
                    let Some(inner) = inner.as_document() else {
                        continue;
                    };
                    let mut add = |a: &str, b: &str, cell: &Document| {
                        if allowed(a, &keys.a) && allowed(b, &keys.b) {
                            let key = CellKey {
                                t,
                                a: a.to_owned(),
                                b: b.to_owned(),
                            };
                            add_cell(&mut cells, key, &stored_cell(kind, cell));
                        }
                    };
                    match kind {
                        // Marginal cells: `s.<status>` and `t.<call type>`.
                        Kind::Calls => {
                            for (value, cell) in inner {
                                let Some(cell) = cell.as_document() else {
                                    continue;
                                };
                                match a.as_str() {
                                    "s" => add(value, "", cell),
                                    "t" => add("", value, cell),
                                    _ => {}
                                }
                            }
                        }
                        Kind::Metrics => add(a, d.get_str("host").unwrap_or_default(), inner),
                    }
                }
            }
        }
        Ok(cells)
    }

    /// Cells of `[from, to)` computed from the raw collection, in slots of `slot_ms` aligned to
    /// the epoch (call cells as their [`marginals`], like the rollups'). Index-served for a bounded
    /// range; with both sides open it scans everything.
    pub async fn raw_cells(
        &self,
        kind: Kind,
        from: Option<i64>,
        to: Option<i64>,
        slot_ms: i64,
        keys: &KeyFilter,
    ) -> Result<Cells, DbError> {
        let field = time_field(kind);
        let mut filter = Document::new();
        if let Some(r) = range(from, to) {
            filter.insert(field, r);
        }
        keys.apply(kind, &mut filter);
        let at = format!("${field}");
        let ms = doc! { "$toLong": &at };
        let slot = doc! { "$subtract": [ms.clone(), { "$mod": [ms, slot_ms] }] };
        let (fa, fb) = key_fields(kind);
        let mut group = doc! {
            "_id": { "t": slot, "a": format!("${fa}"), "b": format!("${fb}") },
            "n": { "$sum": 1 },
        };
        match kind {
            Kind::Calls => group.extend(doc! {
                "nx": { "$sum": { "$cond": [{ "$eq": [{ "$type": "$duration" }, "missing"] }, 0, 1] } },
                "sx": { "$sum": "$duration" },
                "min": { "$min": "$duration" },
                "max": { "$max": "$duration" },
                "cents": { "$sum": { "$round": [{ "$multiply": ["$cost", 100] }, 0] } },
            }),
            Kind::Metrics => group.extend(doc! {
                "nx": { "$sum": 1 },
                "sx": { "$sum": { "$round": [{ "$multiply": ["$value", 100] }, 0] } },
                "min": { "$min": "$value" },
                "max": { "$max": "$value" },
            }),
        }
        let mut cursor = self
            .db
            .collection::<Document>(kind.collection())
            .aggregate([doc! { "$match": filter }, doc! { "$group": group }])
            .max_time(STATS_MAX_TIME)
            .await?;
        let mut cells = Cells::new();
        while let Some(d) = cursor.try_next().await? {
            let Ok(id) = d.get_document("_id") else {
                continue;
            };
            let key = CellKey {
                t: int(id, "t"),
                a: id.get_str("a").unwrap_or_default().to_owned(),
                b: id.get_str("b").unwrap_or_default().to_owned(),
            };
            let cell = Cell {
                n: int(&d, "n"),
                nx: int(&d, "nx"),
                sx: int(&d, "sx"),
                min: num(&d, "min"),
                max: num(&d, "max"),
                cents: int(&d, "cents"),
            };
            add_cell(&mut cells, key, &cell);
        }
        Ok(marginals(kind, cells))
    }

    /// The earliest document time of `kind` at or after `from` (index-served), to skip gaps.
    pub async fn first_time_from(&self, kind: Kind, from: i64) -> Result<Option<i64>, DbError> {
        let field = time_field(kind);
        let found = self
            .db
            .collection::<Document>(kind.collection())
            .find_one(doc! { field: { "$gte": bson::DateTime::from_millis(from) } })
            .sort(doc! { field: 1 })
            .projection(doc! { field: 1 })
            .await?;
        Ok(found.and_then(|d| d.get_datetime(field).ok().map(|t| t.timestamp_millis())))
    }

    /// The earliest and latest document time of `kind`, read from the time index (used to walk a
    /// rebuild day by day).
    pub async fn time_bounds(&self, kind: Kind) -> Result<Option<(i64, i64)>, DbError> {
        let field = time_field(kind);
        let coll = self.db.collection::<Document>(kind.collection());
        let edge = |dir: i32| {
            coll.find_one(doc! { field: { "$type": "date" } })
                .sort(doc! { field: dir })
                .projection(doc! { field: 1 })
        };
        let (first, last) = (edge(1).await?, edge(-1).await?);
        let t = |d: Option<Document>| {
            d.and_then(|d| d.get_datetime(field).ok().map(|t| t.timestamp_millis()))
        };
        Ok(t(first).zip(t(last)))
    }
}

/// A stored rollup cell in the common shape.
fn stored_cell(kind: Kind, c: &Document) -> Cell {
    match kind {
        Kind::Calls => Cell {
            n: int(c, "n"),
            nx: int(c, "nd"),
            sx: int(c, "d"),
            min: None,
            max: None,
            cents: int(c, "c"),
        },
        Kind::Metrics => Cell {
            n: int(c, "n"),
            nx: int(c, "n"),
            sx: int(c, "s"),
            min: num(c, "min"),
            max: num(c, "max"),
            cents: 0,
        },
    }
}
