//! A batch's contribution to the rollups, computed from its documents before they are sent.
//!
//! It runs once per document on the service's own cores, which the database shares, so it reads
//! each document in one pass and keeps its cells by small integer keys: a document costs no
//! allocation, and the owned keys are built once per cell when the batch is applied.

use std::collections::HashMap;

use bson::RawDocumentBuf;
use foldhash::fast::FixedState;

use super::{Cell, CellKey, Cells, add_cell, fine_ms};
use crate::generate::Kind;

/// One document's share of a batch's rollup.
#[derive(Debug, Clone, Copy)]
struct Part {
    cell: u32,
    measure: Option<f64>,
    units: i64,
    cents: i64,
}

/// A cell of the batch: its slot's start and its two key fields, as indexes into the batch's names.
type Slot = (i64, u32, u32);

/// A batch's contribution to the rollups, one part per document in batch order, so documents the
/// server rejected can be left out once the insert has answered.
#[derive(Debug)]
pub struct BatchRollup {
    kind: Kind,
    /// The key fields' values seen in the batch (statuses and call types, or categories and
    /// hosts), as the document's bytes: checked as text once per name, not once per document.
    names: Vec<Box<[u8]>>,
    name_index: HashMap<Box<[u8]>, u32, FixedState>,
    /// The batch's cells in the order first seen.
    slots: Vec<Slot>,
    slot_index: HashMap<Slot, u32, FixedState>,
    parts: Vec<Part>,
}

/// A part for a document without the fields a rollup needs: it counts nowhere.
const NO_CELL: u32 = u32::MAX;

/// The fields of a document a rollup reads, taken in one pass (the first of each name counts).
#[derive(Default)]
struct Fields<'a> {
    t: Option<i64>,
    a: Option<&'a [u8]>,
    b: Option<&'a [u8]>,
    int: Option<i32>,
    cents: Option<i32>,
    double: Option<f64>,
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

    /// The index of name `s`; `None` if it is not text (such a document counts nowhere, as one
    /// whose field has another type).
    fn name(&mut self, s: &[u8]) -> Option<u32> {
        if let Some(&i) = self.name_index.get(s) {
            return Some(i);
        }
        std::str::from_utf8(s).ok()?;
        let i = self.names.len() as u32;
        self.names.push(s.into());
        self.name_index.insert(s.into(), i);
        Some(i)
    }

    fn cell_index(&mut self, t: i64, a: &[u8], b: &[u8]) -> Option<u32> {
        let slot = (
            t - t.rem_euclid(fine_ms(self.kind)),
            self.name(a)?,
            self.name(b)?,
        );
        let next = self.slots.len() as u32;
        let i = *self.slot_index.entry(slot).or_insert(next);
        if i == next {
            self.slots.push(slot);
        }
        Some(i)
    }

    /// The fields `time`, `a`, `b`, `int`, `cents` and `double` name, where they have the type a
    /// rollup reads (a field of another type is as good as absent).
    fn fields<'a>(doc: &'a RawDocumentBuf, names: [&str; 6]) -> Fields<'a> {
        let [time, a, b, int, cents, double] = names.map(str::as_bytes);
        let mut f = Fields::default();
        walk(doc.as_bytes(), |key, tag, value| match tag {
            DATETIME if key == time && f.t.is_none() => f.t = Some(i64_at(value)),
            STRING if key == a && f.a.is_none() => f.a = string(value),
            STRING if key == b && f.b.is_none() => f.b = string(value),
            INT32 if key == int && f.int.is_none() => f.int = Some(i32_at(value)),
            INT32 if key == cents && f.cents.is_none() => f.cents = Some(i32_at(value)),
            DOUBLE if key == double && f.double.is_none() => {
                f.double = Some(f64::from_bits(i64_at(value) as u64))
            }
            _ => {}
        });
        f
    }

    fn part(&mut self, doc: &RawDocumentBuf) -> Option<Part> {
        Some(match self.kind {
            Kind::Calls => {
                let f = Self::fields(
                    doc,
                    [
                        "start_time",
                        "status",
                        "call_type",
                        "duration",
                        "cost_cents",
                        "cost",
                    ],
                );
                let (t, status, call_type) = (f.t?, f.a?, f.b?);
                let duration = f.int;
                // Exact cents where the document has them (all since tariffs), else the display value.
                let cents = match f.cents {
                    Some(c) => i64::from(c),
                    None => (f.double? * 100.0).round() as i64,
                };
                Part {
                    cell: self.cell_index(t, status, call_type)?,
                    measure: duration.map(f64::from),
                    units: duration.map_or(0, i64::from),
                    cents,
                }
            }
            Kind::Metrics => {
                let f = Self::fields(doc, ["timestamp", "category", "host", "", "", "value"]);
                let (t, category, host, value) = (f.t?, f.a?, f.b?, f.double?);
                Part {
                    cell: self.cell_index(t, category, host)?,
                    measure: Some(value),
                    units: (value * 100.0).round() as i64,
                    cents: 0,
                }
            }
        })
    }

    /// The fine cells of the documents for which `present(index)` holds.
    pub fn cells(&self, present: impl Fn(usize) -> bool) -> Cells {
        let mut sums: Vec<Option<Cell>> = vec![None; self.slots.len()];
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
            sums[p.cell as usize]
                .get_or_insert_with(Cell::default)
                .merge(&cell);
        }
        let mut cells = Cells::new();
        for (&(t, a, b), sum) in self.slots.iter().zip(&sums) {
            if let Some(sum) = sum {
                let text = |i: u32| String::from_utf8_lossy(&self.names[i as usize]).into_owned();
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

const DOUBLE: u8 = 0x01;
const STRING: u8 = 0x02;
const DATETIME: u8 = 0x09;
const INT32: u8 = 0x10;

/// Calls `f(key, type, value)` for each top-level element of the BSON document `doc`, stopping
/// at the first malformed one. The `bson` crate's iterator checks every key and string as UTF-8
/// and builds a value per element, several times the cost of this walk, which runs once per
/// document on cores the database shares.
fn walk<'a>(doc: &'a [u8], mut f: impl FnMut(&'a [u8], u8, &'a [u8])) {
    let end = doc.len().saturating_sub(1);
    let mut at = 4;
    while at < end {
        let tag = doc[at];
        let Some(nul) = doc[at + 1..end].iter().position(|&b| b == 0) else {
            return;
        };
        let key = &doc[at + 1..at + 1 + nul];
        let start = at + 2 + nul;
        let len = |extra: usize| {
            let n = i32::from_le_bytes(doc.get(start..start + 4)?.try_into().ok()?);
            usize::try_from(n).ok()?.checked_add(extra)
        };
        let size = match tag {
            0x06 | 0x0A | 0x7F | 0xFF => Some(0),
            0x08 => Some(1),
            0x10 => Some(4),
            0x01 | 0x09 | 0x11 | 0x12 => Some(8),
            0x07 => Some(12),
            0x13 => Some(16),
            0x02 | 0x0D | 0x0E => len(4),
            0x03 | 0x04 | 0x0F => len(0),
            0x05 => len(5),
            0x0C => len(16),
            // Regular expressions (two C strings) and anything unknown end the walk.
            _ => None,
        };
        let Some(value) = size.and_then(|n| doc.get(start..start.checked_add(n)?)) else {
            return;
        };
        f(key, tag, value);
        at = start + value.len();
    }
}

fn i32_at(value: &[u8]) -> i32 {
    i32::from_le_bytes(value[..4].try_into().unwrap_or_default())
}

fn i64_at(value: &[u8]) -> i64 {
    i64::from_le_bytes(value[..8].try_into().unwrap_or_default())
}

/// The bytes of a BSON string value (length, bytes, NUL), not yet checked as text.
fn string(value: &[u8]) -> Option<&[u8]> {
    value.get(4..value.len().checked_sub(1)?)
}

#[cfg(test)]
mod tests {
    use bson::{DateTime, rawdoc};

    use super::*;

    fn call(t: i64, status: &str, kind: &str, duration: Option<i32>) -> RawDocumentBuf {
        let mut d = rawdoc! {
            "_id": 1,
            "call_type": kind,
            "status": status,
            "start_time": DateTime::from_millis(t),
        };
        if let Some(s) = duration {
            d.append("duration", s);
        }
        d.append("cost", 0.25);
        d.append("cost_cents", 25);
        d
    }

    #[test]
    fn documents_land_in_their_cells_once_each() {
        let minute = fine_ms(Kind::Calls);
        let mut b = BatchRollup::new(Kind::Calls, 8);
        b.push(&call(0, "completed", "voice", Some(60)));
        b.push(&call(minute - 1, "completed", "voice", Some(30)));
        b.push(&call(minute, "completed", "voice", Some(10)));
        b.push(&call(5, "missed", "video", None));
        // Older documents without exact cents count their display cost.
        b.push(&rawdoc! {
            "status": "missed", "call_type": "video",
            "start_time": DateTime::from_millis(7), "cost": 1.5,
        });
        // Without a status, or with a start time of another type, a document counts nowhere.
        b.push(&rawdoc! { "call_type": "voice", "start_time": DateTime::from_millis(1) });
        b.push(&rawdoc! { "status": "busy", "call_type": "voice", "start_time": 3_i64 });
        let cells = b.cells(|_| true);
        let got: Vec<(i64, &str, &str, i64, i64, i64, i64)> = cells
            .iter()
            .map(|(k, c)| (k.t, k.a.as_str(), k.b.as_str(), c.n, c.nx, c.sx, c.cents))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, "completed", "voice", 2, 2, 90, 50),
                (0, "missed", "video", 2, 0, 0, 175),
                (minute, "completed", "voice", 1, 1, 10, 25),
            ]
        );
        let first = &cells.values().next().unwrap();
        assert_eq!((first.min, first.max), (Some(30.0), Some(60.0)));
        // Documents the server rejected are left out.
        let kept = b.cells(|i| i != 0 && i != 2);
        let n: Vec<i64> = kept.values().map(|c| c.n).collect();
        assert_eq!(n, vec![1, 2]);
    }

    #[test]
    fn the_walk_reads_past_every_type_and_stops_at_a_broken_element() {
        use bson::spec::BinarySubtype;
        use bson::{Binary, Decimal128, Timestamp, oid::ObjectId};
        let doc = rawdoc! {
            "_id": ObjectId::new(), "null": bson::RawBson::Null, "yes": true,
            "list": [1, "x", { "k": 2 }], "sub": { "status": "no" },
            "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "big": 5_i64, "ts": Timestamp { time: 1, increment: 2 },
            "dec": Decimal128::from_bytes([0; 16]), "status": "busy", "call_type": "voice",
            "start_time": DateTime::from_millis(-61_000), "cost": 0.0, "cost_cents": 0,
        };
        let mut seen = Vec::new();
        walk(doc.as_bytes(), |key, _, _| {
            seen.push(String::from_utf8_lossy(key).into_owned())
        });
        let keys: Vec<String> = doc.iter().map(|e| e.unwrap().0.to_string()).collect();
        assert_eq!(seen, keys);
        let mut b = BatchRollup::new(Kind::Calls, 1);
        b.push(&doc);
        let key = b.cells(|_| true).into_keys().next().unwrap();
        assert_eq!((key.t, key.a.as_str()), (-120_000, "busy"));
        // A string whose length runs past the end: the walk stops there, nothing is read.
        let mut bytes = rawdoc! { "a": 1, "status": "busy", "b": 2 }.into_bytes();
        let at = bytes.windows(7).position(|w| w == b"status\0").unwrap() + 7;
        bytes[at..at + 4].copy_from_slice(&1000_i32.to_le_bytes());
        let mut seen = Vec::new();
        walk(&bytes, |key, _, _| seen.push(key.to_vec()));
        assert_eq!(seen, vec![b"a".to_vec()]);
    }

    #[test]
    fn metric_points_sum_in_hundredths_per_category_and_host() {
        let mut b = BatchRollup::new(Kind::Metrics, 3);
        for (v, host) in [(1.234, "a"), (2.0, "a"), (5.0, "b")] {
            b.push(&rawdoc! {
                "timestamp": DateTime::from_millis(0), "category": "cpu", "host": host,
                "value": v,
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
