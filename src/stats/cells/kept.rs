//! The per-cell rollup's documents a reader keeps between reads, so an answer computed after the
//! data changed fetches only the documents that changed (under time-ordered ingest, today's),
//! not the whole range again. A kept copy is current while its document still carries the mark it
//! was read with (every change sets a fresh one, atomically with the figures): the server is asked
//! for the range's documents whose mark is not one held, and counts the range's documents, so a
//! kept copy of a document that is gone (a rebuild) shows as one too many and the range is read
//! whole. Per process: a replica's copies are a cache, never state another replica needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bson::oid::ObjectId;

use super::totals::Totals;
use crate::store::rollup::by_cell::CellDoc;
use crate::store::{DbError, Store};

/// Most cells kept (about 50 bytes each): a month of ~70,000 cells busy every day. Past it, the
/// copies are dropped and the next read starts over.
const MAX_CELLS: usize = 2_000_000;

/// Most ranges whose totals are kept (dashboards ask a few: the last 7 or 30 days, this month).
const MAX_RANGES: usize = 4;

/// A range's totals, shared by the reads of that range.
type SharedTotals = Arc<Mutex<Totals>>;

/// Documents kept by `_id`, and the totals of the last ranges read.
#[derive(Debug, Default)]
pub struct KeptCellDocs {
    docs: HashMap<String, Arc<CellDoc>>,
    cells: usize,
    totals: Vec<((i64, i64), SharedTotals)>,
}

/// The kept totals of the days `[from_day, to_day)` (new, empty ones when none are kept, the
/// oldest other range's going past [`MAX_RANGES`]). Reads of one range take turns bringing them
/// up to date: each is a few milliseconds, where summing the range afresh is a hundred.
pub fn totals(kept: &Mutex<KeptCellDocs>, days: (i64, i64)) -> SharedTotals {
    let mut k = kept.lock().expect("kept cell documents");
    if let Some((_, t)) = k.totals.iter().find(|(r, _)| *r == days) {
        return t.clone();
    }
    let t = Arc::new(Mutex::new(Totals::default()));
    k.totals.push((days, t.clone()));
    if k.totals.len() > MAX_RANGES {
        k.totals.remove(0);
    }
    t
}

impl KeptCellDocs {
    /// The kept documents of the days `[from_day, to_day)`.
    fn in_range(&self, (from_day, to_day): (i64, i64)) -> Vec<Arc<CellDoc>> {
        self.docs
            .values()
            .filter(|d| (from_day..to_day).contains(&d.day))
            .cloned()
            .collect()
    }

    /// Keeps `fresh` in place of the copies of the same documents.
    fn keep(&mut self, fresh: &[Arc<CellDoc>]) {
        for d in fresh {
            self.cells += d.cells.len();
            if let Some(old) = self.docs.insert(d.id.clone(), d.clone()) {
                self.cells -= old.cells.len();
            }
        }
        if self.cells > MAX_CELLS {
            self.docs.clear();
            self.totals.clear();
            self.cells = 0;
        }
    }

    /// Forgets the copies of the days `[from_day, to_day)`.
    fn forget(&mut self, (from_day, to_day): (i64, i64)) {
        let mut freed = 0;
        self.docs.retain(|_, d| {
            let keep = !(from_day..to_day).contains(&d.day);
            if !keep {
                freed += d.cells.len();
            }
            keep
        });
        self.cells -= freed;
    }
}

/// The current documents of the days `[from_day, to_day)`, from the copies `kept` holds where
/// they are current, the rest fetched (and kept for the next read).
pub async fn current_docs(
    store: &Store,
    kept: &Mutex<KeptCellDocs>,
    days: (i64, i64),
) -> Result<Vec<Arc<CellDoc>>, DbError> {
    // This read's own snapshot of the copies: another read may replace them meanwhile.
    let held = kept.lock().expect("kept cell documents").in_range(days);
    let marks: Vec<ObjectId> = held.iter().filter_map(|d| d.mark).collect();
    // Both at once: each costs the server a pass over the range's index entries.
    let (fresh, count) = tokio::try_join!(
        store.cell_docs(days.0, days.1, &marks),
        store.cell_docs_count(days.0, days.1)
    )?;
    let fresh: Vec<Arc<CellDoc>> = fresh.into_iter().map(Arc::new).collect();
    let mut docs: HashMap<&str, Arc<CellDoc>> =
        held.iter().map(|d| (d.id.as_str(), d.clone())).collect();
    for d in &fresh {
        docs.insert(&d.id, d.clone());
    }
    let mut current: Vec<Arc<CellDoc>> = docs.into_values().collect();
    if current.len() as u64 != count {
        // Some kept copy is of a document that is gone (or the range changed between the two
        // reads): read the range whole.
        current = store
            .cell_docs(days.0, days.1, &[])
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();
        let mut k = kept.lock().expect("kept cell documents");
        k.forget(days);
        k.keep(&current);
        return Ok(current);
    }
    kept.lock().expect("kept cell documents").keep(&fresh);
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rollup::DAY_MS;
    use crate::store::rollup::by_cell::CellCounts;

    fn doc(id: &str, day: i64, cells: usize) -> Arc<CellDoc> {
        Arc::new(CellDoc {
            id: id.into(),
            mark: Some(ObjectId::new()),
            day: day * DAY_MS,
            operator: "311-480".into(),
            block: 0,
            cells: vec![(1, CellCounts::default()); cells],
        })
    }

    #[test]
    fn copies_are_replaced_by_id_counted_and_forgotten_by_day() {
        let mut k = KeptCellDocs::default();
        k.keep(&[doc("a", 1, 3), doc("b", 2, 4)]);
        k.keep(&[doc("a", 1, 5)]);
        assert_eq!((k.docs.len(), k.cells), (2, 9));
        assert_eq!(k.in_range((DAY_MS, 2 * DAY_MS)).len(), 1);
        k.forget((2 * DAY_MS, 3 * DAY_MS));
        assert_eq!((k.docs.len(), k.cells), (1, 5));
        k.keep(&[doc("c", 3, MAX_CELLS)]);
        assert_eq!(
            (k.docs.len(), k.cells),
            (0, 0),
            "over the bound: start over"
        );
    }
}
