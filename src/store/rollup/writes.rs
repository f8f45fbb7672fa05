//! What a batch's cells become in the rollups: the fine and hourly cells, the guarded update of an
//! hourly document and the contribution document of a fine one. Pure: no I/O.

use std::collections::BTreeMap;

use bson::{Document, RawDocumentBuf, doc, oid::ObjectId};

use super::{
    Cell, Cells, DAY_MS, DAYS_FIELD, Grouping, HOUR_MS, Key, Place, Resolution, add_cell,
    cell_name, cell_path, coarsen, fine_ms, marginals, slot_name,
};
use crate::generate::Kind;
use crate::store::kinds::{self, Figure};

/// A batch's cells keyed by [`Place`]s borrowed from its [`Cells`].
pub(super) type Sums<'a> = BTreeMap<Place<'a>, Cell>;

/// The cells of one rollup document, in key order.
pub(super) type DocCells<'a, 'b> = [(Place<'a>, &'b Cell)];

/// A batch's `cells` as the rollups keep them: fine marginal cells and hourly ones. A key field
/// that cannot be a field name (holding `.` or NUL, or starting with `$`) counts nowhere, like a
/// document whose field has another type: the generators never write one.
pub(super) fn resolutions(kind: Kind, cells: &Cells) -> (Sums<'_>, Sums<'_>) {
    let fine_slot = Grouping::every(fine_ms(kind));
    let mut fine = Sums::new();
    for (key, cell) in cells {
        let place = key.place();
        if [place.a, place.b].iter().all(|name| usable(name)) {
            add_cell(&mut fine, place.at(fine_slot.slot(place.t)), cell);
        }
    }
    let fine = marginals(kind, fine);
    let hours = coarsen(&fine, Grouping::every(HOUR_MS));
    (fine, hours)
}

fn usable(name: &str) -> bool {
    !name.starts_with('$') && !name.contains(['.', '\0'])
}

/// The figures of `cell` as a rollup stores them.
fn figures(kind: Kind, cell: &Cell) -> RawDocumentBuf {
    let mut out = RawDocumentBuf::new();
    for f in kinds::figures(kind.info().measure, cell) {
        match f {
            Figure::Sum(name, v) => out.append(name, v),
            Figure::Min(name, v) | Figure::Max(name, v) => out.append(name, v),
        }
    }
    out
}

/// The update adding `cells` (all of one rollup document) under `token`. An hourly document's
/// update also adds the cells' day totals (`d`), in the same atomic update.
pub(super) fn cell_update(
    kind: Kind,
    res: Resolution,
    id: &Document,
    cells: &DocCells,
    token: ObjectId,
) -> Document {
    let (mut inc, mut min, mut max) = (Document::new(), Document::new(), Document::new());
    let mut add = |path: String, cell: &Cell| {
        let f = |name: &str| format!("{path}.{name}");
        for figure in kinds::figures(kind.info().measure, cell) {
            match figure {
                Figure::Sum(name, v) => inc.insert(f(name), v),
                Figure::Min(name, v) => min.insert(f(name), v),
                Figure::Max(name, v) => max.insert(f(name), v),
            };
        }
    };
    for &(place, cell) in cells {
        add(cell_path(kind, res, place), cell);
    }
    let mut on_insert = id.clone();
    if res == Resolution::Hour {
        let hours: Sums = cells.iter().map(|&(p, c)| (p, c.clone())).collect();
        for (&place, cell) in &coarsen(&hours, Grouping::every(DAY_MS)) {
            add(cell_path(kind, Resolution::Day, place), cell);
        }
        on_insert.insert(DAYS_FIELD, true);
    }
    let mut update = doc! {
        "$inc": inc,
        "$push": { "applied": token },
        "$setOnInsert": on_insert,
    };
    if !min.is_empty() {
        update.insert("$min", min);
        update.insert("$max", max);
    }
    update
}

/// A batch's cells of one fine rollup document as a document of its own: the key of the document
/// it belongs to plus the token make its `_id`, so inserting it again is a duplicate key, which
/// means "already applied". An insert costs the server far less than an update touching every
/// field of an hour's fine slots, and a time-ordered batch adds one or two of them per hour.
/// Written as BSON directly: a batch spread over days makes hundreds of them.
pub(super) fn contribution(
    kind: Kind,
    id: &Document,
    cells: &DocCells,
    token: ObjectId,
) -> RawDocumentBuf {
    // The `_id` [`Store::rollup_applied`] looks for, from the same key; a few small documents per
    // batch. Their keys are literals, so they always encode.
    let raw = |d: &Document| RawDocumentBuf::from_document(d).expect("literal keys encode");
    let mut out = RawDocumentBuf::new();
    out.append("_id", raw(&contribution_id(id, token)));
    for (name, value) in raw(id).iter().flatten() {
        out.append_ref(name, value);
    }
    // `c.<slot>.<...>`: the same nesting the guarded updates create, a slot's cells in key order
    // (for calls, per-type cells before per-status ones).
    let mut slots = RawDocumentBuf::new();
    for run in cells.chunk_by(|x, y| x.0.t == y.0.t) {
        let mut slot = RawDocumentBuf::new();
        let mut groups: Vec<(&str, RawDocumentBuf)> = Vec::new();
        for &(place, cell) in run {
            let (in_group, name) = cell_name(kind, place);
            let Some(g) = in_group else {
                slot.append(name, figures(kind, cell));
                continue;
            };
            let at = match groups.iter().position(|(at, _)| *at == g) {
                Some(i) => i,
                None => {
                    groups.push((g, RawDocumentBuf::new()));
                    groups.len() - 1
                }
            };
            groups[at].1.append(name, figures(kind, cell));
        }
        for (at, group) in groups {
            slot.append(at, group);
        }
        slots.append(slot_name(kind, Resolution::Fine, run[0].0), slot);
    }
    out.append("c", slots);
    out
}

/// The `_id` of `token`'s contribution to the fine rollup document `id`.
pub(super) fn contribution_id(id: &Document, token: ObjectId) -> Document {
    let mut key = id.clone();
    key.insert("k", token);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rollup::{CellKey, MINUTE_MS, doc_id};

    fn cell(n: i64, measure: Option<i64>) -> Cell {
        Cell {
            n,
            nx: n * i64::from(measure.is_some()),
            sx: n * measure.unwrap_or_default(),
            min: measure.map(|m| m as f64),
            max: measure.map(|m| m as f64),
            cents: 7 * n,
        }
    }

    fn key(t: i64, a: &str, b: &str) -> CellKey {
        CellKey {
            t,
            a: a.into(),
            b: b.into(),
        }
    }

    fn cells(entries: &[(CellKey, Cell)]) -> Cells {
        let mut out = Cells::new();
        for (k, c) in entries {
            add_cell(&mut out, k.clone(), c);
        }
        out
    }

    #[test]
    fn a_call_contribution_nests_the_marginals_of_each_minute() {
        let hour = 5 * HOUR_MS;
        let batch = cells(&[
            (
                key(hour + 3 * MINUTE_MS + 10, "completed", "local"),
                cell(2, Some(60)),
            ),
            (
                key(hour + 3 * MINUTE_MS + 20, "missed", "local"),
                cell(1, None),
            ),
            (
                key(hour + 3 * MINUTE_MS + 30, "completed", "mobile"),
                cell(1, Some(30)),
            ),
            (key(hour + 59 * MINUTE_MS, "busy", "local"), cell(1, None)),
        ]);
        let (fine, hours) = resolutions(Kind::Calls, &batch);
        assert_eq!(
            fine.len(),
            6,
            "2 statuses and 2 types at minute 3, 1 + 1 at 59"
        );
        assert_eq!(hours.len(), 5);
        let all: Vec<(Place, &Cell)> = fine.iter().map(|(&p, c)| (p, c)).collect();
        let token = ObjectId::from_bytes([1; 12]);
        let got = contribution(Kind::Calls, &doc_id(Kind::Calls, (hour, "")), &all, token)
            .to_document()
            .unwrap();
        let start = bson::DateTime::from_millis(hour);
        let f = |n: i64, nd: i64, d: i64| doc! { "n": n, "nd": nd, "d": d, "c": 7 * n };
        let want = doc! {
            "_id": { "start": start, "k": token },
            "start": start,
            "c": {
                "3": {
                    "t": { "local": f(3, 2, 120), "mobile": f(1, 1, 30) },
                    "s": { "completed": f(3, 3, 150), "missed": f(1, 0, 0) },
                },
                "59": { "t": { "local": f(1, 0, 0) }, "s": { "busy": f(1, 0, 0) } },
            },
        };
        assert_eq!(got, want);
    }

    #[test]
    fn a_metric_contribution_is_keyed_by_host_and_holds_extremes() {
        let mut batch = cells(&[
            (key(4 * MINUTE_MS, "cpu", "web-1"), cell(1, Some(20))),
            (key(6 * MINUTE_MS, "cpu", "web-1"), cell(1, Some(90))),
        ]);
        add_cell(
            &mut batch,
            key(MINUTE_MS, "cpu", "web-1"),
            &cell(1, Some(50)),
        );
        let (fine, _) = resolutions(Kind::Metrics, &batch);
        let all: Vec<(Place, &Cell)> = fine.iter().map(|(&p, c)| (p, c)).collect();
        let token = ObjectId::from_bytes([2; 12]);
        let got = contribution(
            Kind::Metrics,
            &doc_id(Kind::Metrics, (0, "web-1")),
            &all,
            token,
        )
        .to_document()
        .unwrap();
        let start = bson::DateTime::from_millis(0);
        let want = doc! {
            "_id": { "start": start, "host": "web-1", "k": token },
            "start": start,
            "host": "web-1",
            "c": {
                "0": { "cpu": { "n": 2_i64, "s": 70_i64, "min": 20.0, "max": 50.0 } },
                "1": { "cpu": { "n": 1_i64, "s": 90_i64, "min": 90.0, "max": 90.0 } },
            },
        };
        assert_eq!(got, want);
    }

    #[test]
    fn names_that_cannot_be_field_names_count_nowhere() {
        let batch = cells(&[
            (key(0, "completed", "local"), cell(1, None)),
            (key(0, "a.b", "local"), cell(1, None)),
            (key(0, "completed", "$x"), cell(1, None)),
            (key(0, "nul\0", "local"), cell(1, None)),
        ]);
        let (fine, hours) = resolutions(Kind::Calls, &batch);
        let names: Vec<(&str, &str, i64)> = fine.iter().map(|(p, c)| (p.a, p.b, c.n)).collect();
        assert_eq!(names, vec![("", "local", 1), ("completed", "", 1)]);
        assert_eq!(hours.values().map(|c| c.n).sum::<i64>(), 2);
    }

    #[test]
    fn an_hourly_update_adds_the_day_totals_under_the_token() {
        let batch = cells(&[
            (key(HOUR_MS, "missed", "local"), cell(1, None)),
            (key(3 * HOUR_MS, "missed", "local"), cell(2, None)),
        ]);
        let (_, hours) = resolutions(Kind::Calls, &batch);
        let all: Vec<(Place, &Cell)> = hours.iter().map(|(&p, c)| (p, c)).collect();
        let token = ObjectId::from_bytes([3; 12]);
        let id = doc! { "start": bson::DateTime::from_millis(0) };
        let update = cell_update(Kind::Calls, Resolution::Hour, &id, &all, token);
        let inc = update.get_document("$inc").unwrap();
        assert_eq!(inc.get_i64("c.1.s.missed.n"), Ok(1));
        assert_eq!(inc.get_i64("c.3.t.local.n"), Ok(2));
        assert_eq!(inc.get_i64("d.s.missed.n"), Ok(3));
        assert_eq!(inc.get_i64("d.t.local.c"), Ok(21));
        assert_eq!(
            update
                .get_document("$push")
                .unwrap()
                .get_object_id("applied"),
            Ok(token)
        );
        let on_insert = update.get_document("$setOnInsert").unwrap();
        assert_eq!(on_insert.get_bool(DAYS_FIELD), Ok(true));
    }
}
