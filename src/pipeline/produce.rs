//! A run's documents in order, batched, with each batch's rollup contribution summed from the
//! tallies the generator hands over beside the documents.

use std::sync::{Arc, Mutex};

use bson::RawDocumentBuf;

use super::{MAX_BATCH_BYTES, RunSpec};
use crate::generate::{CallGenerator, Params, PointGenerator, RunId, Tally};
use crate::store::rollup::BatchRollup;

impl RunSpec {
    /// The documents of the run in order, batched: every batch holds at most `batch_size`
    /// documents and [`MAX_BATCH_BYTES`] bytes. Pure; used by exports and by benchmarks.
    pub fn batches(
        &self,
        run: RunId,
        batch_size: usize,
    ) -> impl Iterator<Item = Vec<RawDocumentBuf>> + use<> {
        self.batches_reusing(run, batch_size, Spares::none())
    }

    /// [`batches`](Self::batches) written into the buffers of batches given back to `spares`
    /// (the same documents: only where their bytes live differs).
    pub fn batches_reusing(
        &self,
        run: RunId,
        batch_size: usize,
        spares: Spares,
    ) -> impl Iterator<Item = Vec<RawDocumentBuf>> + use<> {
        self.batches_with(run, batch_size, spares, |_| (), |_, _| ())
            .map(|(docs, ())| docs)
    }

    /// [`batches`](Self::batches), each with its contribution to the rollups: what a run
    /// inserts, and what a repair regenerates.
    pub fn tallied_batches(
        &self,
        run: RunId,
        batch_size: usize,
    ) -> impl Iterator<Item = (Vec<RawDocumentBuf>, BatchRollup)> + use<> {
        self.tallied_batches_reusing(run, batch_size, Spares::none())
    }

    /// [`tallied_batches`](Self::tallied_batches) written into the buffers of batches given back
    /// to `spares` once sent.
    pub fn tallied_batches_reusing(
        &self,
        run: RunId,
        batch_size: usize,
        spares: Spares,
    ) -> impl Iterator<Item = (Vec<RawDocumentBuf>, BatchRollup)> + use<> {
        let kind = self.kind();
        self.batches_with(
            run,
            batch_size,
            spares,
            move |n| BatchRollup::new(kind, n),
            |rollup, tally| rollup.add(tally),
        )
    }

    /// The batches, each with what `add` made of its documents' tallies, starting from
    /// `begin(capacity)`, written into the buffers of batches given back to `spares`.
    fn batches_with<T, B, A>(
        &self,
        run: RunId,
        batch_size: usize,
        spares: Spares,
        mut begin: B,
        mut add: A,
    ) -> impl Iterator<Item = (Vec<RawDocumentBuf>, T)> + use<T, B, A>
    where
        B: FnMut(usize) -> T,
        A: FnMut(&mut T, &Tally),
    {
        let mut generator = Generator::new(&self.params, self.seed, self.count);
        let count = self.count;
        let mut next = 0u32;
        std::iter::from_fn(move || {
            if next >= count {
                return None;
            }
            let capacity = batch_size.min((count - next) as usize);
            let (mut batch, mut buffers) = spares.take(capacity);
            let mut sum = begin(capacity);
            let mut bytes = 0;
            while next < count && batch.len() < batch_size && bytes < MAX_BATCH_BYTES {
                let buf = buffers.pop().unwrap_or_default();
                let (doc, tally) = generator.document(run, next, buf);
                add(&mut sum, &tally);
                bytes += doc.as_bytes().len();
                batch.push(doc);
                next += 1;
            }
            Some((batch, sum))
        })
    }
}

/// Batches already sent, kept for their buffers: the producer writes the next batches into them
/// instead of allocating (and later freeing) one buffer per document. Holds at most a few
/// batches, so memory stays what the batches in flight take.
#[derive(Clone, Debug, Default)]
pub struct Spares {
    kept: Arc<Mutex<Vec<Vec<RawDocumentBuf>>>>,
    most: usize,
}

impl Spares {
    /// Keeps up to `most` spent batches.
    pub fn up_to(most: usize) -> Self {
        Self {
            kept: Arc::default(),
            most,
        }
    }

    /// Keeps nothing: every document gets a new buffer.
    pub fn none() -> Self {
        Self::up_to(0)
    }

    /// Gives back a batch the database has answered for; dropped when enough are kept.
    pub fn give(&self, batch: Vec<RawDocumentBuf>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < self.most {
            kept.push(batch);
        }
    }

    /// An empty batch for `capacity` documents, and the buffers of a spent batch to write them
    /// into (none when nothing was given back).
    fn take(&self, capacity: usize) -> (Vec<RawDocumentBuf>, Vec<Vec<u8>>) {
        let spent = self.kept.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match spent {
            Some(mut batch) => {
                let buffers = batch.drain(..).map(RawDocumentBuf::into_bytes).collect();
                batch.reserve(capacity);
                (batch, buffers)
            }
            None => (Vec::with_capacity(capacity), Vec::new()),
        }
    }
}

/// The generator of either kind, behind one call.
enum Generator {
    Calls(Box<CallGenerator>),
    Points(PointGenerator),
}

impl Generator {
    fn new(params: &Params, seed: u64, count: u32) -> Self {
        match params {
            Params::Calls(p) => Generator::Calls(Box::new(CallGenerator::new(*p, seed, count))),
            Params::Metrics(p) => Generator::Points(PointGenerator::new(p, seed)),
        }
    }

    #[inline]
    fn document(&mut self, run: RunId, index: u32, buf: Vec<u8>) -> (RawDocumentBuf, Tally<'_>) {
        match self {
            Generator::Calls(g) => g.tallied_document_in(run, index, buf),
            Generator::Points(g) => g.next_tallied_document_in(run, index, buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::RawDocument;
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;
    use crate::generate::scenario::ScenarioRequest;
    use crate::generate::{CallParams, Kind, PointParams};
    use crate::store::rollup::{Cell, CellKey, Cells, add_cell, fine_ms};

    /// A tally as the fields of the document it came with say, read by the `bson` crate.
    fn read(doc: &RawDocument, calls: bool) -> (i64, String, String, Option<f64>, i64) {
        let text = |k: &str| doc.get_str(k).unwrap().to_owned();
        if calls {
            let duration = doc.get_i32("duration").ok().map(f64::from);
            let time = doc.get_datetime("start_time").unwrap().timestamp_millis();
            let cents = i64::from(doc.get_i32("cost_cents").unwrap());
            (time, text("status"), text("call_type"), duration, cents)
        } else {
            let time = doc.get_datetime("timestamp").unwrap().timestamp_millis();
            let value = doc.get_f64("value").unwrap();
            (time, text("category"), text("host"), Some(value), 0)
        }
    }

    /// The fine cells of `docs`, summed from what the documents say.
    fn cells_of(docs: &[RawDocumentBuf], kind: Kind) -> Cells {
        let mut cells = Cells::new();
        for doc in docs {
            let (t, a, b, measure, cents) = read(doc, kind == Kind::Calls);
            let units = measure.map_or(0, |m| match kind {
                Kind::Calls => i64::from(doc.get_i32("duration").unwrap()),
                Kind::Metrics => (m * 100.0).round() as i64,
            });
            let key = CellKey {
                t: t - t.rem_euclid(fine_ms(kind)),
                a,
                b,
            };
            let cell = Cell {
                n: 1,
                nx: i64::from(measure.is_some()),
                sx: units,
                min: measure,
                max: measure,
                cents,
            };
            add_cell(&mut cells, key, &cell);
        }
        cells
    }

    fn scenario(kind: &str) -> ScenarioRequest {
        serde_json::from_value(json!({ "kind": kind, "minutes": 600, "factor": 5 })).unwrap()
    }

    #[test]
    fn every_tally_and_every_batch_rollup_says_what_the_documents_say() {
        let end: DateTime<Utc> = "2026-11-20T13:37:00Z".parse().unwrap();
        let calls = CallParams::new(Some(2), Some(500), Some(end), end).unwrap();
        // Each spec, and whether a scenario alters some of its documents.
        let mut specs = vec![(RunSpec::new(Params::Calls(calls), 30_000, Some(7)), false)];
        for model in ["mobile", "enterprise", "call_center"] {
            let p = calls.with_model(Some(&json!(model))).unwrap();
            specs.push((RunSpec::new(Params::Calls(p), 5_000, Some(3)), false));
        }
        for kind in ["surge", "outage", "fraud_burst"] {
            let p = calls.with_scenario(Some(&scenario(kind))).unwrap();
            specs.push((RunSpec::new(Params::Calls(p), 20_000, Some(2)), true));
        }
        let points = PointParams::new(20_000, None, None, Some(4), Some(end), end).unwrap();
        for kind in ["surge", "outage"] {
            let p = points
                .clone()
                .with_scenario(20_000, Some(&scenario(kind)))
                .unwrap();
            specs.push((RunSpec::new(Params::Metrics(p), 20_000, Some(4)), true));
        }
        for (spec, altered) in &specs {
            let calls = spec.kind() == Kind::Calls;
            let run = RunId::new(1, 2);
            let owned = |t: &Tally| (t.time_ms, t.a.into(), t.b.into(), t.measure, t.cents);
            let tallies = spec.batches_with(
                run,
                3_000,
                Spares::none(),
                |_| Vec::new(),
                |v, t| v.push(owned(t)),
            );
            let (mut missed, mut anomalies, mut n) = (0, 0, 0);
            for ((docs, rollup), (_, tallies)) in spec.tallied_batches(run, 3_000).zip(tallies) {
                for (doc, tally) in docs.iter().zip(tallies) {
                    assert_eq!(read(doc, calls), tally, "{spec:?}");
                    missed += usize::from(tally.3.is_none());
                    anomalies += usize::from(doc.get_str("anomaly").is_ok());
                    n += 1;
                }
                assert_eq!(
                    rollup.cells(|_| true),
                    cells_of(&docs, spec.kind()),
                    "{spec:?}"
                );
            }
            assert_eq!(n, spec.count);
            // The runs hold what a tally can get wrong: calls without a duration, and documents
            // a scenario altered.
            assert!(!calls || missed > 0, "{spec:?}");
            assert!(!altered || anomalies > 0, "{spec:?}");
        }
    }

    /// The capacity of a [`marked`] buffer.
    const MARK: usize = 4_099;

    /// A copy of `bytes` in a buffer of capacity [`MARK`].
    fn marked(bytes: &[u8]) -> RawDocumentBuf {
        let mut v = Vec::with_capacity(MARK);
        v.extend_from_slice(bytes);
        RawDocumentBuf::from_bytes(v).unwrap()
    }

    #[test]
    fn batches_written_into_spent_buffers_are_the_same_batches() {
        let end: DateTime<Utc> = "2026-11-20T13:37:00Z".parse().unwrap();
        let calls = CallParams::new(Some(2), Some(500), Some(end), end).unwrap();
        let calls = RunSpec::new(Params::Calls(calls), 5_500, Some(7));
        let points = PointParams::new(5_500, None, None, Some(4), Some(end), end).unwrap();
        let points = RunSpec::new(Params::Metrics(points), 5_500, Some(4));
        let run = RunId::new(1, 2);
        for (spec, other) in [(&calls, &points), (&points, &calls)] {
            // Spent batches of the other kind, each document in a buffer of a capacity no
            // document is written with, so a document written into one can be told apart.
            let spares = Spares::up_to(2);
            for batch in other.batches(run, 700).take(2) {
                spares.give(batch.iter().map(|d| marked(d.as_bytes())).collect());
            }
            let fresh = spec.tallied_batches(run, 1_000);
            let reused = spec.tallied_batches_reusing(run, 1_000, spares.clone());
            let (mut n, mut into_spent) = (0, 0);
            for ((a, a_rollup), (b, b_rollup)) in fresh.zip(reused) {
                let bytes = |docs: &[RawDocumentBuf]| -> Vec<Vec<u8>> {
                    docs.iter().map(|d| d.as_bytes().to_vec()).collect()
                };
                assert_eq!(bytes(&a), bytes(&b), "{spec:?}");
                assert_eq!(a_rollup.cells(|_| true), b_rollup.cells(|_| true));
                n += b.len();
                let b: Vec<Vec<u8>> = b.into_iter().map(RawDocumentBuf::into_bytes).collect();
                into_spent += b.iter().filter(|v| v.capacity() == MARK).count();
                spares.give(
                    b.into_iter()
                        .map(|v| RawDocumentBuf::from_bytes(v).unwrap())
                        .collect(),
                );
            }
            assert_eq!(n, spec.count as usize);
            // Every marked buffer was written into at least once.
            assert!(
                into_spent >= 1_400,
                "{into_spent} documents written into spent buffers"
            );
        }
    }
}
