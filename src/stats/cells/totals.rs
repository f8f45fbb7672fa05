//! Cells summed over a range and ranked. A reader keeps a range's totals with the documents they
//! were summed from, so after a change it takes away the changed documents' old figures and adds
//! their new ones instead of summing the whole range again; the daily series of the ranked cells
//! read only their cities' documents.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use foldhash::fast::FixedState;

use crate::generate::cells::{Eci, SITES_PER_CITY};
use crate::store::rollup::by_cell::{CellCounts, CellDay, CellDoc};

/// One cell's day: operator, day start (ms), cell, figures.
pub type Entry<'a> = (&'a str, i64, Eci, &'a CellCounts);

/// The entries of `days`.
pub fn entries(days: &[CellDay]) -> impl Iterator<Item = Entry<'_>> + Clone {
    days.iter().map(|d| (&*d.operator, d.day, d.eci, &d.counts))
}

/// The entries of rollup documents `docs`.
pub fn doc_entries<'a>(
    docs: impl Iterator<Item = &'a Arc<CellDoc>> + Clone,
) -> impl Iterator<Item = Entry<'a>> + Clone {
    docs.flat_map(|d| {
        let operator = &*d.operator;
        d.cells.iter().map(move |(e, c)| (operator, d.day, *e, c))
    })
}

/// A cell's city block.
fn block(eci: Eci) -> u16 {
    (eci / (SITES_PER_CITY << 8)) as u16
}

/// The busiest cells of some totals, and what all of them add up to.
#[derive(Debug)]
pub struct Ranked {
    /// Cells with calls.
    pub cells: usize,
    /// Their calls.
    pub calls: i64,
    /// The first cells, most calls first (ties by operator, then ECI).
    pub top: Vec<((Arc<str>, Eci), CellCounts)>,
    /// Their cities' blocks, per operator.
    blocks: Vec<(Arc<str>, HashSet<u16>)>,
}

impl Ranked {
    /// Whether `doc` holds any of the ranked cells (only those documents feed the series).
    pub fn wants(&self, doc: &CellDoc) -> bool {
        self.blocks
            .iter()
            .any(|(o, b)| **o == *doc.operator && b.contains(&doc.block))
    }
}

/// Cells summed per (operator, ECI), and the documents summed, when they were documents.
#[derive(Debug, Default)]
pub struct Totals {
    operators: Vec<Arc<str>>,
    sums: HashMap<u64, CellCounts, FixedState>,
    docs: HashMap<String, Arc<CellDoc>, FixedState>,
}

impl Totals {
    /// A cell as one number: its operator's place in `operators`, then its ECI.
    fn key(&mut self, operator: &str, eci: Eci) -> u64 {
        let i = match self.operators.iter().position(|o| **o == *operator) {
            Some(i) => i,
            None => {
                self.operators.push(operator.into());
                self.operators.len() - 1
            }
        };
        ((i as u64) << 32) | u64::from(eci)
    }

    /// Adds `entries`.
    pub fn add<'a>(&mut self, entries: impl Iterator<Item = Entry<'a>>) {
        for (o, _, eci, c) in entries {
            let k = self.key(o, eci);
            self.sums.entry(k).or_default().merge(c);
        }
    }

    /// Takes a document's figures away; a cell left without calls is no longer counted.
    fn take(&mut self, doc: &CellDoc) {
        for (eci, c) in &doc.cells {
            let k = self.key(&doc.operator, *eci);
            if let Some(sum) = self.sums.get_mut(&k) {
                sum.unmerge(c);
                if *sum == CellCounts::default() {
                    self.sums.remove(&k);
                }
            }
        }
    }

    /// Brings the totals to the sum of `docs`: a document summed before is taken away when it
    /// changed (another copy) or is gone, and a new or changed one added. Returns how many
    /// documents changed.
    pub fn update(&mut self, docs: &[Arc<CellDoc>]) -> usize {
        let mut changed = 0;
        let mut now: HashMap<String, Arc<CellDoc>, FixedState> = HashMap::default();
        for d in docs {
            let old = self.docs.remove(&d.id);
            if !old.as_ref().is_some_and(|o| Arc::ptr_eq(o, d)) {
                if let Some(o) = old {
                    self.take(&o);
                }
                self.add(doc_entries(std::iter::once(d)));
                changed += 1;
            }
            now.insert(d.id.clone(), d.clone());
        }
        for gone in std::mem::take(&mut self.docs).into_values() {
            self.take(&gone);
            changed += 1;
        }
        self.docs = now;
        changed
    }

    /// The first `top` cells.
    pub fn ranked(&self, top: usize) -> Ranked {
        let mut all: Vec<(u64, CellCounts)> = self.sums.iter().map(|(k, c)| (*k, *c)).collect();
        let cell = |k: u64| (&self.operators[(k >> 32) as usize], k as Eci);
        let order = |a: &(u64, CellCounts), b: &(u64, CellCounts)| {
            b.1.calls
                .cmp(&a.1.calls)
                .then_with(|| cell(a.0).cmp(&cell(b.0)))
        };
        let calls = all.iter().map(|(_, c)| c.calls).sum();
        let cells = all.len();
        // Only the first `top` need sorting: select them, then sort those.
        if all.len() > top {
            all.select_nth_unstable_by(top, order);
            all.truncate(top);
        }
        all.sort_unstable_by(order);
        let top: Vec<((Arc<str>, Eci), CellCounts)> = all
            .into_iter()
            .map(|(k, c)| {
                let (o, e) = cell(k);
                ((o.clone(), e), c)
            })
            .collect();
        let mut blocks: Vec<(Arc<str>, HashSet<u16>)> = Vec::new();
        for ((o, e), _) in &top {
            match blocks.iter_mut().find(|(x, _)| x == o) {
                Some((_, b)) => {
                    b.insert(block(*e));
                }
                None => blocks.push((o.clone(), HashSet::from([block(*e)]))),
            }
        }
        Ranked {
            cells,
            calls,
            top,
            blocks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::cells::eci_in;
    use bson::oid::ObjectId;

    fn doc(id: &str, block: u16, cells: &[(u16, i64)]) -> Arc<CellDoc> {
        Arc::new(CellDoc {
            id: id.into(),
            mark: Some(ObjectId::new()),
            day: 0,
            operator: "311-480".into(),
            block,
            cells: cells
                .iter()
                .map(|&(site, n)| {
                    let c = CellCounts {
                        calls: n,
                        completed: n,
                        failed: 0,
                        seconds: 60 * n,
                    };
                    (eci_in(block, site), c)
                })
                .collect(),
        })
    }

    #[test]
    fn totals_follow_changed_and_gone_documents_as_a_fresh_sum_would() {
        let (a, b, c) = (
            doc("a", 1, &[(4, 5), (8, 1)]),
            doc("b", 2, &[(4, 2)]),
            doc("c", 3, &[(1, 9)]),
        );
        let mut kept = Totals::default();
        assert_eq!(kept.update(&[a.clone(), b.clone()]), 2);
        // `a` changes (a new copy), `b` goes, `c` comes; `a`'s second cell has no calls now.
        let a2 = doc("a", 1, &[(4, 7)]);
        assert_eq!(kept.update(&[a2.clone(), c.clone()]), 3);
        assert_eq!(kept.update(&[a2.clone(), c.clone()]), 0, "nothing changed");
        let mut fresh = Totals::default();
        fresh.update(&[a2, c]);
        let (k, f) = (kept.ranked(10), fresh.ranked(10));
        assert_eq!((k.cells, k.calls, &k.top), (f.cells, f.calls, &f.top));
        assert_eq!((k.cells, k.calls), (2, 16));
        assert_eq!(k.top[0].0.1, eci_in(3, 1), "most calls first");
        assert!(!k.wants(&b) && k.wants(&doc("x", 3, &[])));
        assert_eq!(kept.ranked(1).top.len(), 1);
    }
}
