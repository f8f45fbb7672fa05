//! Reading cells for the statistics: from the rollups (whole hours, cheap) or from the raw
//! collections (any slot width, index-served for short ranges, a full scan when asked to be).

use std::time::Duration;

use bson::{Bson, Document, RawBsonRef, RawDocument, RawDocumentBuf, doc};
use futures::TryStreamExt;
use std::collections::HashMap;

use super::kinds::{Layout, raw_sums, read_figure, stored};
use super::rollup::{
    Cell, CellKey, Cells, DAY_MS, DAYS_FIELD, Grouping, Resolution, add_cell, key_fields, marginals,
};
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
    kind.info().time_field
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
    /// the rollups at `res` and summed into the slots of `grouping` while they are read: cost grows
    /// with days or hours (× hosts), not with documents. The documents are read as raw BSON and
    /// key values interned, so a cell costs no allocation.
    pub async fn rollup_cells(
        &self,
        kind: Kind,
        res: Resolution,
        (from, to): (Option<i64>, Option<i64>),
        keys: &KeyFilter,
        grouping: Grouping,
    ) -> Result<Cells, DbError> {
        let mut filter = Document::new();
        let doc_from = from.map(|f| f - f.rem_euclid(res.doc_ms()));
        if let Some(starts) = range(doc_from, to) {
            filter.insert("start", starts);
        }
        let per_b = stored(kind).layout == Layout::PerSecondKey;
        let b_field = key_fields(kind).1;
        if let (true, Some(b)) = (per_b, &keys.b) {
            filter.insert(b_field, doc! { "$in": b.clone() });
        }
        let mut cursor = self
            .rollup(kind, res)
            .clone_with_type::<RawDocumentBuf>()
            .find(filter)
            // No projection: the server answers whole documents several times faster than it
            // projects them (SecantusDB: 23 ms against 220 ms for 700 metric day documents),
            // and `applied` lists are short (a finished run prunes its tokens).
            .max_time(STATS_MAX_TIME)
            .await?;
        let mut sums = Sums::default();
        while let Some(d) = cursor.try_next().await? {
            let Ok(start) = d.get_datetime("start") else {
                continue;
            };
            let start = start.timestamp_millis();
            let b = if per_b {
                d.get_str(b_field).unwrap_or_default()
            } else {
                ""
            };
            let mut add = |t: i64, cells: &RawDocument| {
                if from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e) {
                    sums.add_slot(kind, keys, grouping.slot(t), b, cells);
                }
            };
            if res == Resolution::Day
                && d.get_bool(DAYS_FIELD).unwrap_or(false)
                && let Ok(totals) = d.get_document("d")
            {
                add(start, totals);
                continue;
            }
            let Ok(slots) = d.get_document("c") else {
                continue;
            };
            for (slot, cells) in slots.into_iter().flatten() {
                let (Ok(slot), Some(cells)) = (slot.parse::<i64>(), cells.as_document()) else {
                    continue;
                };
                match res {
                    // A document older than day totals: its day summed from its hours.
                    Resolution::Day => add(start, cells),
                    _ => add(start + slot * res.cell_ms(kind), cells),
                }
            }
        }
        Ok(sums.into_cells())
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
        };
        group.extend(raw_sums(kind));
        let mut cursor = self
            .db()
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
        let coll = self.db().collection::<Document>(kind.collection());
        // The next day first: a rebuild walks data that is usually dense, and a bounded range is
        // cheap on every server, while SecantusDB answers an open-ended sorted `find_one` by
        // materialising every match (25–60 s at 10 million documents, measured).
        for end in [Some(from.saturating_add(DAY_MS)), None] {
            let mut range = doc! { "$gte": bson::DateTime::from_millis(from) };
            if let Some(end) = end {
                range.insert("$lt", bson::DateTime::from_millis(end));
            }
            let found = coll
                .find_one(doc! { field: range })
                .sort(doc! { field: 1 })
                .projection(doc! { field: 1 })
                .await?;
            if let Some(t) =
                found.and_then(|d| d.get_datetime(field).ok().map(|t| t.timestamp_millis()))
            {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    /// The earliest and latest document time of `kind`, read from the time index (used to walk a
    /// rebuild day by day).
    pub async fn time_bounds(&self, kind: Kind) -> Result<Option<(i64, i64)>, DbError> {
        let field = time_field(kind);
        let coll = self.db().collection::<Document>(kind.collection());
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

/// A stored rollup cell in the common shape, read in one pass over its few fields.
fn stored_cell(kind: Kind, c: &RawDocument) -> Cell {
    let measure = kind.info().measure;
    let mut cell = Cell::default();
    for (name, value) in c.into_iter().flatten() {
        let x = match value {
            RawBsonRef::Int32(x) => f64::from(x),
            RawBsonRef::Int64(x) => x as f64,
            RawBsonRef::Double(x) => x,
            _ => continue,
        };
        read_figure(measure, &mut cell, name, x);
    }
    cell
}

/// Cells summed while they are read, keyed by interned key values (a handful of statuses,
/// categories and hosts), so the loop over a rollup's cells allocates nothing per cell.
#[derive(Default)]
struct Sums {
    names: Vec<String>,
    cells: HashMap<(i64, u32, u32), Cell>,
}

impl Sums {
    /// A handful of names: a scan beats hashing them.
    fn id(&mut self, name: &str) -> u32 {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return i as u32;
        }
        self.names.push(name.to_owned());
        (self.names.len() - 1) as u32
    }

    fn add(&mut self, t: i64, a: &str, b: &str, cell: &Cell) {
        let key = (t, self.id(a), self.id(b));
        self.cells.entry(key).or_default().merge(cell);
    }

    /// Adds the cells of one slot at `t`, those `keys` allows: `{s: {<a>: cell}, t: {<b>: cell}}`
    /// for marginal cells (calls: statuses and call types), `{<a>: cell}` in the document of
    /// second key `b` (metrics: categories of a host).
    fn add_slot(&mut self, kind: Kind, keys: &KeyFilter, t: i64, b: &str, slot: &RawDocument) {
        let allowed = |v: &str, set: &Option<Vec<String>>| {
            set.as_ref().is_none_or(|s| s.iter().any(|x| x == v))
        };
        for (a, inner) in slot.into_iter().flatten() {
            let Some(inner) = inner.as_document() else {
                continue;
            };
            match stored(kind).layout {
                Layout::Marginals => {
                    for (value, cell) in inner.into_iter().flatten() {
                        let Some(cell) = cell.as_document() else {
                            continue;
                        };
                        let (a, b) = match a {
                            "s" => (value, ""),
                            "t" => ("", value),
                            _ => continue,
                        };
                        if allowed(a, &keys.a) && allowed(b, &keys.b) {
                            self.add(t, a, b, &stored_cell(kind, cell));
                        }
                    }
                }
                Layout::PerSecondKey => {
                    if allowed(a, &keys.a) && allowed(b, &keys.b) {
                        self.add(t, a, b, &stored_cell(kind, inner));
                    }
                }
            }
        }
    }

    fn into_cells(self) -> Cells {
        let names = self.names;
        self.cells
            .into_iter()
            .map(|((t, a, b), c)| {
                let key = CellKey {
                    t,
                    a: names[a as usize].clone(),
                    b: names[b as usize].clone(),
                };
                (key, c)
            })
            .collect()
    }
}
