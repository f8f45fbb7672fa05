//! A batch's contribution to the rollups, summed from its documents' tallies before they are sent.
//!
//! It runs once per document on the service's own cores, which the database shares, so the
//! generator hands over each document's figures ([`Tally`]) instead of the document being read
//! back, and cells are kept by small integer keys: a document costs no allocation, and the owned
//! keys are built once per cell when the batch is applied.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use super::by_cell::{CellCounts, CellTotals};
use super::{Cell, CellKey, Cells, add_cell, fine_ms};
use crate::generate::{Kind, Radio, Tally};

/// One document's share of a batch's rollup.
#[derive(Debug, Clone, Copy)]
struct Part {
    cell: u32,
    measure: Option<f64>,
    units: i64,
    cents: i64,
    /// The caller's start cell (a mobile call), or [`Radio::NONE`].
    start: u32,
}

/// A cell of the batch: its slot's start and its two key fields, as indexes into the batch's names.
type Slot = (i64, u32, u32);

/// A batch's contribution to the rollups, one part per document in batch order, so documents the
/// server rejected can be left out once the insert has answered.
#[derive(Debug)]
pub struct BatchRollup {
    kind: Kind,
    /// The key fields' values seen in the batch (statuses and call types, or categories and
    /// hosts).
    names: Vec<Box<str>>,
    name_index: HashMap<Box<str>, u32, FixedState>,
    /// The batch's cells in the order first seen.
    slots: Vec<Slot>,
    slot_index: HashMap<Slot, u32, FixedState>,
    parts: Vec<Part>,
    /// The radio cells the batch's calls name, with repeats, and their operator.
    radio: Vec<u32>,
    operator: Option<&'static str>,
}

impl BatchRollup {
    /// An empty contribution for documents of `kind`.
    pub fn new(kind: Kind, capacity: usize) -> Self {
        Self {
            kind,
            names: Vec::new(),
            name_index: HashMap::default(),
            slots: Vec::new(),
            slot_index: HashMap::default(),
            parts: Vec::with_capacity(capacity),
            radio: Vec::new(),
            operator: None,
        }
    }

    /// Adds the next document of the batch, by its tally. The measure is summed in its integer
    /// unit: whole seconds of a call's duration, hundredths of a point's value.
    #[inline]
    pub fn add(&mut self, tally: &Tally) {
        let units = tally
            .measure
            .map_or(0, |m| self.kind.info().measure.units(m));
        let part = Part {
            cell: self.cell_index(tally.time_ms, tally.a, tally.b),
            measure: tally.measure,
            units,
            cents: tally.cents,
            start: tally.radio.map_or(Radio::NONE, |r| r.cells[0]),
        };
        self.parts.push(part);
        if let Some(r) = tally.radio {
            self.operator = Some(r.operator);
            for c in r.cells {
                // A call's cells mostly repeat the previous one: skip those here.
                if c != Radio::NONE && self.radio.last() != Some(&c) {
                    self.radio.push(c);
                }
            }
        }
    }

    /// The radio cells the batch's documents name, as named (a cell may repeat), with their
    /// operator; `None` for a batch without any. A run gathers them in a set of its own.
    pub fn radio_named(&self) -> Option<(&'static str, &[u32])> {
        Some((self.operator?, &self.radio))
    }

    /// The radio cells the batch's documents name (each once, in ECI order), with their
    /// operator; `None` for a batch without any.
    pub fn radio_cells(&self) -> Option<(&'static str, Vec<u32>)> {
        let operator = self.operator?;
        let mut cells = self.radio.clone();
        cells.sort_unstable();
        cells.dedup();
        Some((operator, cells))
    }

    /// The calls of the documents for which `present(index)` holds, per day and start cell (see
    /// [`by_cell`](super::by_cell)); empty for a batch without mobile calls.
    pub fn cell_totals(&self, present: impl Fn(usize) -> bool) -> CellTotals {
        let mut totals = CellTotals::default();
        let Some(operator) = self.operator else {
            return totals;
        };
        for (i, p) in self.parts.iter().enumerate() {
            if p.start == Radio::NONE || !present(i) {
                continue;
            }
            let (t, status, _) = self.slots[p.cell as usize];
            let counts = CellCounts::call(&self.names[status as usize], p.units);
            totals.add(operator, t, p.start, &counts);
        }
        totals
    }

    /// The index of name `s`.
    fn name(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.name_index.get(s) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.name_index.insert(s.into(), i);
        i
    }

    fn cell_index(&mut self, t: i64, a: &str, b: &str) -> u32 {
        let slot = (
            t - t.rem_euclid(fine_ms(self.kind)),
            self.name(a),
            self.name(b),
        );
        let next = self.slots.len() as u32;
        let i = *self.slot_index.entry(slot).or_insert(next);
        if i == next {
            self.slots.push(slot);
        }
        i
    }

    /// The fine cells of the documents for which `present(index)` holds.
    pub fn cells(&self, present: impl Fn(usize) -> bool) -> Cells {
        let mut sums: Vec<Option<Cell>> = vec![None; self.slots.len()];
        for (i, p) in self.parts.iter().enumerate() {
            if !present(i) {
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
            sums[p.cell as usize]
                .get_or_insert_with(Cell::default)
                .merge(&cell);
        }
        let mut cells = Cells::new();
        for (&(t, a, b), sum) in self.slots.iter().zip(&sums) {
            if let Some(sum) = sum {
                let text = |i: u32| String::from(&*self.names[i as usize]);
                let key = CellKey {
                    t,
                    a: text(a),
                    b: text(b),
                };
                add_cell(&mut cells, key, sum);
            }
        }
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(t: i64, status: &'a str, kind: &'a str, duration: Option<u32>) -> Tally<'a> {
        Tally {
            time_ms: t,
            a: status,
            b: kind,
            measure: duration.map(f64::from),
            cents: 25,
            radio: None,
        }
    }

    #[test]
    fn documents_land_in_their_cells_once_each() {
        let minute = fine_ms(Kind::Calls);
        let mut b = BatchRollup::new(Kind::Calls, 8);
        b.add(&call(0, "completed", "voice", Some(60)));
        // The same name from another buffer is the same key.
        let completed = String::from("completed");
        b.add(&call(minute - 1, &completed, "voice", Some(30)));
        b.add(&call(minute, "completed", "voice", Some(10)));
        b.add(&call(5, "missed", "video", None));
        b.add(&call(-1, "missed", "video", None));
        let cells = b.cells(|_| true);
        let got: Vec<(i64, &str, &str, i64, i64, i64, i64)> = cells
            .iter()
            .map(|(k, c)| (k.t, k.a.as_str(), k.b.as_str(), c.n, c.nx, c.sx, c.cents))
            .collect();
        assert_eq!(
            got,
            vec![
                (-minute, "missed", "video", 1, 0, 0, 25),
                (0, "completed", "voice", 2, 2, 90, 50),
                (0, "missed", "video", 1, 0, 0, 25),
                (minute, "completed", "voice", 1, 1, 10, 25),
            ]
        );
        let first = &cells.values().nth(1).unwrap();
        assert_eq!((first.min, first.max), (Some(30.0), Some(60.0)));
        // Documents the server rejected are left out.
        let kept = b.cells(|i| i != 0 && i != 2);
        let n: Vec<i64> = kept.values().map(|c| c.n).collect();
        assert_eq!(n, vec![1, 1, 1]);
    }

    #[test]
    fn metric_points_sum_in_hundredths_per_category_and_host() {
        let mut b = BatchRollup::new(Kind::Metrics, 3);
        for (v, host) in [(1.234, "a"), (2.0, "a"), (5.0, "b")] {
            b.add(&Tally {
                time_ms: 0,
                a: "cpu",
                b: host,
                measure: Some(v),
                cents: 0,
                radio: None,
            });
        }
        let cells = b.cells(|_| true);
        let got: Vec<(&str, i64, i64, Option<f64>)> = cells
            .iter()
            .map(|(k, c)| (k.b.as_str(), c.n, c.sx, c.max))
            .collect();
        assert_eq!(
            got,
            vec![("a", 2, 323, Some(2.0)), ("b", 1, 500, Some(5.0))]
        );
    }
}
