//! A run's documents in order, batched, with each batch's rollup contribution summed from the
//! tallies the generator hands over beside the documents.

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
        self.batches_with(run, batch_size, |_| (), |_, _| ())
            .map(|(docs, ())| docs)
    }

    /// [`batches`](Self::batches), each with its contribution to the rollups: what a run
    /// inserts, and what a repair regenerates.
    pub fn tallied_batches(
        &self,
        run: RunId,
        batch_size: usize,
    ) -> impl Iterator<Item = (Vec<RawDocumentBuf>, BatchRollup)> + use<> {
        let kind = self.kind();
        self.batches_with(
            run,
            batch_size,
            move |n| BatchRollup::new(kind, n),
            |rollup, tally| rollup.add(tally),
        )
    }

    /// The batches, each with what `add` made of its documents' tallies, starting from
    /// `begin(capacity)`.
    fn batches_with<T, B, A>(
        &self,
        run: RunId,
        batch_size: usize,
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
            let (mut batch, mut sum) = (Vec::with_capacity(capacity), begin(capacity));
            let mut bytes = 0;
            while next < count && batch.len() < batch_size && bytes < MAX_BATCH_BYTES {
                let (doc, tally) = generator.document(run, next);
                add(&mut sum, &tally);
                bytes += doc.as_bytes().len();
                batch.push(doc);
                next += 1;
            }
            Some((batch, sum))
        })
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
    fn document(&mut self, run: RunId, index: u32) -> (RawDocumentBuf, Tally<'_>) {
        match self {
            Generator::Calls(g) => g.tallied_document(run, index),
            Generator::Points(g) => g.next_tallied_document(run, index),
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
            let tallies = spec.batches_with(run, 3_000, |_| Vec::new(), |v, t| v.push(owned(t)));
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
}
