//! The batches a spec makes: their tallies and rollups say what their documents say, and spent
//! buffers change nothing.

use bson::RawDocument;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::generate::scenario::ScenarioRequest;
use crate::generate::{CallParams, Kind, PointParams};
use crate::store::rollup::{Cell, CellKey, Cells, add_cell, fine_ms};

/// A tally as the fields of the document it came with say, read by the `bson` crate.
fn read(doc: &RawDocument, kind: Kind) -> (i64, String, String, Option<f64>, i64) {
    let text = |k: &str| doc.get_str(k).unwrap().to_owned();
    let int = |k: &str| doc.get_i32(k).map(i64::from);
    let time = |k: &str| doc.get_datetime(k).unwrap().timestamp_millis();
    match kind {
        Kind::Calls => {
            let duration = doc.get_i32("duration").ok().map(f64::from);
            let cents = int("cost_cents").unwrap();
            (
                time("start_time"),
                text("status"),
                text("call_type"),
                duration,
                cents,
            )
        }
        Kind::Metrics => {
            let value = doc.get_f64("value").unwrap();
            (
                time("timestamp"),
                text("category"),
                text("host"),
                Some(value),
                0,
            )
        }
        Kind::Sms => {
            let segments = int("segments").map(|s| s as f64).ok();
            let price = int("price_millicents").unwrap();
            (
                time("submit_time"),
                text("status"),
                text("kind"),
                segments,
                price,
            )
        }
    }
}

/// The fine cells of `docs`, summed from what the documents say.
fn cells_of(docs: &[RawDocumentBuf], kind: Kind) -> Cells {
    let mut cells = Cells::new();
    for doc in docs {
        let (t, a, b, measure, cents) = read(doc, kind);
        let units = measure.map_or(0, |m| match kind {
            Kind::Calls => i64::from(doc.get_i32("duration").unwrap()),
            Kind::Metrics => (m * 100.0).round() as i64,
            Kind::Sms => i64::from(doc.get_i32("segments").unwrap()),
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
    specs.push((sms_spec(8_000), false));
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
                assert_eq!(read(doc, spec.kind()), tally, "{spec:?}");
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
        assert_eq!(n as u64, spec.documents());
        // The runs hold what a tally can get wrong: calls without a duration, and documents
        // a scenario altered.
        assert!(!calls || missed > 0, "{spec:?}");
        assert!(!altered || anomalies > 0, "{spec:?}");
    }
}

/// Texts: `threads` threads over two days of 500 subscribers.
fn sms_spec(threads: u32) -> RunSpec {
    let end: DateTime<Utc> = "2026-11-20T13:37:00Z".parse().unwrap();
    let p = crate::generate::sms::TrafficParams::new(Some(2), Some(500), Some(end), None, end);
    RunSpec::new(Params::Sms(p.unwrap()), threads, Some(6))
}

#[test]
fn a_batch_holds_whole_threads_each_record_in_its_slot() {
    let spec = sms_spec(5_000);
    let run = RunId::new(1, 2);
    let slots = Kind::Sms.info().slots;
    let mut all = Vec::new();
    for docs in spec.batches(run, 1_000) {
        assert!(docs.len() >= 1_000 || all.len() + docs.len() == spec.documents() as usize);
        assert!(docs.len() < 1_000 + slots as usize, "{}", docs.len());
        all.extend(docs.iter().map(|d| {
            let id = d.get_object_id("_id").unwrap();
            super::super::batch::index_of(id)
        }));
    }
    // Ascending slots, none past the run's range; a thread's records never split across batches
    // (the next batch starts on a thread of its own).
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    assert!(*all.last().unwrap() < spec.id_count());
    let mut at = 0;
    for docs in spec.batches(run, 1_000) {
        at += docs.len();
        if at < all.len() {
            assert_ne!(
                all[at - 1] / slots,
                all[at] / slots,
                "a thread split at {at}"
            );
        }
    }
    assert_eq!(all.len() as u64, spec.documents());
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
    let sms = sms_spec(3_000);
    for (spec, other) in [(&calls, &points), (&points, &calls), (&sms, &calls)] {
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
        assert_eq!(n as u64, spec.documents());
        // Every marked buffer was written into at least once.
        assert!(
            into_spent >= 1_400,
            "{into_spent} documents written into spent buffers"
        );
    }
}
