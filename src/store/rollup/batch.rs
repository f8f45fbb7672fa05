//! A batch's contribution to the rollups, computed from its documents before they are sent.

use std::collections::HashMap;

use bson::RawDocumentBuf;

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

/// A batch's contribution to the rollups, one part per document in batch order, so documents the
/// server rejected can be left out once the insert has answered.
#[derive(Debug)]
pub struct BatchRollup {
    kind: Kind,
    keys: Vec<CellKey>,
    index: HashMap<CellKey, u32>,
    parts: Vec<Part>,
}

/// A part for a document without the fields a rollup needs: it counts nowhere.
const NO_CELL: u32 = u32::MAX;

impl BatchRollup {
    /// An empty contribution for documents of `kind`.
    pub fn new(kind: Kind, capacity: usize) -> Self {
        Self {
            kind,
            keys: Vec::new(),
            index: HashMap::new(),
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

    fn cell_index(&mut self, t: i64, a: &str, b: &str) -> u32 {
        let key = CellKey {
            t: t - t.rem_euclid(fine_ms(self.kind)),
            a: a.to_owned(),
            b: b.to_owned(),
        };
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.keys.len() as u32;
        self.keys.push(key.clone());
        self.index.insert(key, i);
        i
    }

    fn part(&mut self, doc: &RawDocumentBuf) -> Option<Part> {
        Some(match self.kind {
            Kind::Calls => {
                let t = doc.get_datetime("start_time").ok()?.timestamp_millis();
                let (status, call_type) =
                    (doc.get_str("status").ok()?, doc.get_str("call_type").ok()?);
                let duration = doc.get_i32("duration").ok();
                // Exact cents where the document has them (all since tariffs), else the display value.
                let cents = match doc.get_i32("cost_cents") {
                    Ok(c) => i64::from(c),
                    Err(_) => (doc.get_f64("cost").ok()? * 100.0).round() as i64,
                };
                Part {
                    cell: self.cell_index(t, status, call_type),
                    measure: duration.map(f64::from),
                    units: duration.map_or(0, i64::from),
                    cents,
                }
            }
            Kind::Metrics => {
                let t = doc.get_datetime("timestamp").ok()?.timestamp_millis();
                let (category, host) = (doc.get_str("category").ok()?, doc.get_str("host").ok()?);
                let value = doc.get_f64("value").ok()?;
                Part {
                    cell: self.cell_index(t, category, host),
                    measure: Some(value),
                    units: (value * 100.0).round() as i64,
                    cents: 0,
                }
            }
        })
    }

    /// The fine cells of the documents for which `present(index)` holds.
    pub fn cells(&self, present: impl Fn(usize) -> bool) -> Cells {
        let mut cells = Cells::new();
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
            add_cell(&mut cells, self.keys[p.cell as usize].clone(), &cell);
        }
        cells
    }
}
