//! What the store keeps of each kind of record, in one table ([`StoredKind`]): its rollup
//! collections and how they are laid out, how fine its fine cells are, how a cell's figures are
//! stored and read back, how its raw documents are summed, its validator and indexes, and which of
//! the calls' extras (the live feed, the per-cell rollup) it has. The store reads the table instead
//! of matching on the kind, so a new kind is one row here (see `generate/kind.rs` for the rest).

use bson::{Document, doc};

use super::rollup::{Cell, FIVE_MINUTES_MS, MINUTE_MS};
use super::schema::{calls_validator, metrics_validator, sms_validator};
use crate::generate::Kind;
use crate::generate::kind::Measure;

/// How a kind's rollup documents hold its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A document per time span (`_id: {start}`), a slot's cells split into their two marginals:
    /// per first key at `s.<a>`, per second key at `t.<b>` (see `rollup::marginals`). For keys
    /// whose joint figures no answer needs, and whose values are few.
    Marginals,
    /// A document per time span and second key value (`_id: {start, <b's field>}`), a slot's
    /// cells per first key at `<a>`. For a second key with many values (hosts) that readers
    /// filter by.
    PerSecondKey,
}

/// The store's facts of one kind.
#[derive(Debug)]
pub struct StoredKind {
    /// The rollup collections: hourly cells (with the day's totals), and fine cells.
    pub rollups: [&'static str; 2],
    /// Width of a fine rollup cell, ms.
    pub fine_ms: i64,
    /// How the rollup documents hold the cells.
    pub layout: Layout,
    /// The collection's `$jsonSchema` validator.
    pub validator: fn() -> Document,
    /// The raw collection's indexes (key specs), beside those every kind has.
    pub indexes: fn() -> Vec<Document>,
    /// Whether written documents are copied to the live feed (`/calls/stream`).
    pub feed: bool,
    /// Whether its documents name radio cells, summed per cell and day (`cells_rollup`).
    pub per_cell: bool,
}

/// Calls: a minute fine (dense: the raw documents of a partial cell at a range's edge are few),
/// marginal cells (the joint status × type figures are 12 cells where the marginals are 7).
const CALLS: StoredKind = StoredKind {
    rollups: ["calls_rollup", "calls_rollup_1m"],
    fine_ms: MINUTE_MS,
    layout: Layout::Marginals,
    validator: calls_validator,
    indexes: || vec![doc! { "start_time": 1, "status": 1 }],
    feed: true,
    per_cell: true,
};

/// Metrics: five minutes fine (a cell holds a field set per category and host, and the raw
/// documents are sparse), a document per host.
const METRICS: StoredKind = StoredKind {
    rollups: ["metrics_rollup", "metrics_rollup_5m"],
    fine_ms: FIVE_MINUTES_MS,
    layout: Layout::PerSecondKey,
    validator: metrics_validator,
    indexes: || {
        vec![
            doc! { "category": 1, "timestamp": 1 },
            doc! { "timestamp": 1 },
        ]
    },
    feed: false,
    per_cell: false,
};

/// Texts: a minute fine, as calls (a text is as dense in time), marginal cells (status × kind).
const SMS: StoredKind = StoredKind {
    rollups: ["sms_rollup", "sms_rollup_1m"],
    fine_ms: MINUTE_MS,
    layout: Layout::Marginals,
    validator: sms_validator,
    indexes: || vec![doc! { "submit_time": 1, "status": 1 }],
    feed: false,
    per_cell: false,
};

/// The store's facts of `kind`.
pub fn stored(kind: Kind) -> &'static StoredKind {
    match kind {
        Kind::Calls => &CALLS,
        Kind::Metrics => &METRICS,
        Kind::Sms => &SMS,
    }
}

/// A figure of a stored cell: a count or sum kept by `$inc`, or an extreme kept by `$min`/`$max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Figure {
    /// Added up.
    Sum(&'static str, i64),
    /// The smallest seen.
    Min(&'static str, f64),
    /// The largest seen.
    Max(&'static str, f64),
}

/// The figures of `cell` as a rollup of a kind measured by `measure` stores them: `n` (documents),
/// then for seconds `nd` (documents with a duration), `d` (seconds) and `c` (cents), for
/// hundredths `s` (their sum) and `min`/`max`, for a count `d` (its sum) and `c` (the price).
pub fn figures(measure: Measure, cell: &Cell) -> impl Iterator<Item = Figure> {
    let n = Some(Figure::Sum("n", cell.n));
    let rest = match measure {
        Measure::Seconds => [
            Some(Figure::Sum("nd", cell.nx)),
            Some(Figure::Sum("d", cell.sx)),
            Some(Figure::Sum("c", cell.cents)),
        ],
        Measure::Hundredths => {
            let both = cell.min.zip(cell.max);
            [
                Some(Figure::Sum("s", cell.sx)),
                both.map(|(lo, _)| Figure::Min("min", lo)),
                both.map(|(_, hi)| Figure::Max("max", hi)),
            ]
        }
        Measure::Count => [
            Some(Figure::Sum("d", cell.sx)),
            Some(Figure::Sum("c", cell.cents)),
            None,
        ],
    };
    std::iter::once(n).chain(rest).flatten()
}

/// Reads the stored figure `name` (with value `x`) into `cell`: the inverse of [`figures`].
pub fn read_figure(measure: Measure, cell: &mut Cell, name: &str, x: f64) {
    let i = x.round() as i64;
    match (measure, name) {
        (_, "n") => {
            cell.n = i;
            if measure.always_present() {
                cell.nx = i;
            }
        }
        (Measure::Seconds, "nd") => cell.nx = i,
        (Measure::Seconds | Measure::Count, "d") => cell.sx = i,
        (Measure::Seconds | Measure::Count, "c") => cell.cents = i,
        (Measure::Hundredths, "s") => cell.sx = i,
        (Measure::Hundredths, "min") => cell.min = Some(x),
        (Measure::Hundredths, "max") => cell.max = Some(x),
        _ => {}
    }
}

/// The `$group` accumulators summing raw documents of `kind` into a cell's figures (`n`, `nx`,
/// `sx`, `min`, `max`, `cents`), the same way ingest sums them.
pub fn raw_sums(kind: Kind) -> Document {
    let info = kind.info();
    let m = format!("${}", info.measure_field);
    let mut group = doc! { "n": { "$sum": 1 } };
    match info.measure {
        Measure::Seconds => group.extend(doc! {
            "nx": { "$sum": { "$cond": [{ "$eq": [{ "$type": &m }, "missing"] }, 0, 1] } },
            "sx": { "$sum": &m },
        }),
        Measure::Hundredths => group.extend(doc! {
            "nx": { "$sum": 1 },
            "sx": { "$sum": { "$round": [{ "$multiply": [&m, 100] }, 0] } },
        }),
        Measure::Count => group.extend(doc! {
            "nx": { "$sum": 1 },
            "sx": { "$sum": &m },
        }),
    }
    group.extend(doc! { "min": { "$min": &m }, "max": { "$max": &m } });
    if let Some((price, scale)) = info.price_field {
        let units = doc! { "$round": [{ "$multiply": [format!("${price}"), scale] }, 0] };
        group.insert("cents", doc! { "$sum": units });
    }
    group
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rollup::HOUR_MS;

    #[test]
    fn every_kind_writes_collections_of_its_own() {
        let mut names: Vec<&str> = Kind::ALL
            .iter()
            .flat_map(|&k| [k.collection()].into_iter().chain(stored(k).rollups))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "{names:?}");
        for k in Kind::ALL {
            assert!(!(stored(k).indexes)().is_empty(), "{k:?} has a time index");
            assert!(HOUR_MS % stored(k).fine_ms == 0, "fine cells tile an hour");
        }
    }

    #[test]
    fn a_cells_figures_read_back_as_they_were_stored() {
        let cell = Cell {
            n: 5,
            nx: 4,
            sx: 300,
            min: Some(1.5),
            max: Some(99.0),
            cents: 720,
        };
        for (measure, want) in [
            (
                Measure::Seconds,
                Cell {
                    min: None,
                    max: None,
                    ..cell.clone()
                },
            ),
            (
                Measure::Hundredths,
                Cell {
                    nx: 5,
                    cents: 0,
                    ..cell.clone()
                },
            ),
            (
                Measure::Count,
                Cell {
                    nx: 5,
                    min: None,
                    max: None,
                    ..cell.clone()
                },
            ),
        ] {
            let mut back = Cell::default();
            for f in figures(measure, &cell) {
                let (name, x) = match f {
                    Figure::Sum(n, v) => (n, v as f64),
                    Figure::Min(n, v) | Figure::Max(n, v) => (n, v),
                };
                read_figure(measure, &mut back, name, x);
            }
            assert_eq!(back, want, "{measure:?}");
        }
    }
}
