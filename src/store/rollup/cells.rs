//! Rollup cells in memory: the figures of one time slot and key, how a batch's cells split into
//! marginals, and how cells are summed into coarser slots. Pure: no I/O.

use std::collections::BTreeMap;

use crate::generate::Kind;
use crate::store::kinds::{Layout, stored};

/// Cells of a kind kept as marginals (calls) as their two marginals: per first key (`b` empty:
/// per status) and per second key (`a` empty: per call type). No answer needs the joint figures,
/// and a rollup cell per status plus one per type is 7 cells where the joint one is 12 (and the
/// server's update cost grows with the fields updated). Other kinds' cells are returned as they
/// are.
pub fn marginals<K: Key>(kind: Kind, cells: BTreeMap<K, Cell>) -> BTreeMap<K, Cell> {
    if stored(kind).layout != Layout::Marginals {
        return cells;
    }
    let mut out = BTreeMap::new();
    for (k, c) in cells {
        match k.halves() {
            Ok((by_status, by_type)) => {
                add_cell(&mut out, by_status, &c);
                add_cell(&mut out, by_type, &c);
            }
            Err(k) => add_cell(&mut out, k, &c),
        }
    }
    out
}

/// How many documents `cells` count (the first key's marginal alone, for marginal cells).
pub fn documents(kind: Kind, cells: &Cells) -> i64 {
    let marginal = stored(kind).layout == Layout::Marginals;
    cells
        .iter()
        .filter(|(k, _)| !marginal || k.b.is_empty())
        .map(|(_, c)| c.n)
        .sum()
}

/// Which time slot a cell is summed into: `t − ((t − offset) mod width)`. A reader that sums
/// cells into buckets anyway (days for the overview, a series' interval) has them summed while
/// they are read, so it holds a cell per bucket instead of one per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Grouping {
    /// Width of a slot, ms.
    pub width: i64,
    /// Where slots start, ms since the epoch modulo `width` (weeks start on a Monday).
    pub offset: i64,
}

impl Grouping {
    /// Slots of `width` ms aligned to the epoch.
    pub const fn every(width: i64) -> Self {
        Self { width, offset: 0 }
    }

    /// Start of the slot holding `t`.
    pub fn slot(self, t: i64) -> i64 {
        t - (t - self.offset).rem_euclid(self.width)
    }
}

/// `cells` re-keyed to the slots of `grouping` (summing the cells that fall together).
pub fn coarsen<K: Key>(cells: &BTreeMap<K, Cell>, grouping: Grouping) -> BTreeMap<K, Cell> {
    let mut out = BTreeMap::new();
    for (k, c) in cells {
        add_cell(&mut out, k.at(grouping.slot(k.t())), c);
    }
    out
}

/// The two key fields of a rollup document of `kind`.
pub fn key_fields(kind: Kind) -> (&'static str, &'static str) {
    kind.info().key_fields
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

/// A cell's key with its fields borrowed (from a [`CellKey`]): a batch's cells are re-keyed
/// twice on their way to the rollups (marginals, coarser slots), once per batch on the cores the
/// database shares, and a borrowed key copies no text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Place<'a> {
    /// Start of the slot, ms since the epoch.
    pub t: i64,
    /// First key field (status, or category).
    pub a: &'a str,
    /// Second key field (call type, or host).
    pub b: &'a str,
}

impl CellKey {
    /// This key with its fields borrowed.
    pub fn place(&self) -> Place<'_> {
        Place {
            t: self.t,
            a: &self.a,
            b: &self.b,
        }
    }
}

/// What re-keying cells needs of a key, owned ([`CellKey`]) or borrowed ([`Place`]).
pub trait Key: Ord + Sized {
    /// Start of the slot, ms since the epoch.
    fn t(&self) -> i64;
    /// The same key at slot `t`.
    fn at(&self, t: i64) -> Self;
    /// A joint key's two marginals (status alone, type alone); a key with an empty field is
    /// already a marginal and comes back as the error.
    fn halves(self) -> Result<(Self, Self), Self>;
}

impl Key for CellKey {
    fn t(&self) -> i64 {
        self.t
    }

    fn at(&self, t: i64) -> Self {
        CellKey {
            t,
            a: self.a.clone(),
            b: self.b.clone(),
        }
    }

    fn halves(self) -> Result<(Self, Self), Self> {
        if self.a.is_empty() || self.b.is_empty() {
            return Err(self);
        }
        let by_status = CellKey {
            t: self.t,
            a: self.a,
            b: String::new(),
        };
        let by_type = CellKey {
            t: self.t,
            a: String::new(),
            b: self.b,
        };
        Ok((by_status, by_type))
    }
}

impl Key for Place<'_> {
    fn t(&self) -> i64 {
        self.t
    }

    fn at(&self, t: i64) -> Self {
        Place { t, ..*self }
    }

    fn halves(self) -> Result<(Self, Self), Self> {
        if self.a.is_empty() || self.b.is_empty() {
            return Err(self);
        }
        Ok((Place { b: "", ..self }, Place { a: "", ..self }))
    }
}

/// Adds `cell` at `key` into `cells`.
pub fn add_cell<K: Ord>(cells: &mut BTreeMap<K, Cell>, key: K, cell: &Cell) {
    cells.entry(key).or_default().merge(cell);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rollup::{DAY_MS, HOUR_MS};

    fn cell(n: i64) -> Cell {
        Cell {
            n,
            nx: n,
            sx: 10 * n,
            min: Some(n as f64),
            max: Some(n as f64),
            cents: 0,
        }
    }

    #[test]
    fn cells_are_summed_into_the_slots_of_a_grouping() {
        let day = Grouping::every(DAY_MS);
        assert_eq!(day.slot(3 * DAY_MS + 5 * HOUR_MS), 3 * DAY_MS);
        assert_eq!(
            day.slot(-1),
            -DAY_MS,
            "before the epoch, the slot still starts earlier"
        );
        // Weeks starting on Monday 1970-01-05.
        let week = Grouping {
            width: 7 * DAY_MS,
            offset: 4 * DAY_MS,
        };
        assert_eq!(week.slot(12 * DAY_MS), 11 * DAY_MS);
        assert_eq!(week.slot(4 * DAY_MS), 4 * DAY_MS);

        let mut cells = Cells::new();
        for (h, n) in [(1, 1), (2, 2), (25, 4)] {
            let key = CellKey {
                t: h * HOUR_MS,
                a: "x".into(),
                b: String::new(),
            };
            add_cell(&mut cells, key, &cell(n));
        }
        let days = coarsen(&cells, day);
        let sums: Vec<(i64, i64, Option<f64>)> =
            days.iter().map(|(k, c)| (k.t, c.n, c.max)).collect();
        assert_eq!(sums, vec![(0, 3, Some(2.0)), (DAY_MS, 4, Some(4.0))]);
    }
}
