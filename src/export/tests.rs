use bson::{Bson, RawDocumentBuf, doc};

use super::*;
use crate::generate::{CallParams, Params, PointParams};

fn call_spec(count: u32) -> RunSpec {
    let end = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let p = CallParams::new(Some(3), None, Some(end), end).unwrap();
    RunSpec::new(Params::Calls(p), count, Some(42))
}

fn all(spec: &RunSpec, format: Format) -> String {
    let mut out = Vec::new();
    stream(
        spec,
        RunId::new(1, 2),
        format,
        |_| (),
        |chunk| {
            out.extend_from_slice(&chunk);
            Ok::<(), ()>(())
        },
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn ndjson_is_the_relaxed_extended_json_bson_writes() {
    let spec = call_spec(2000);
    let text = all(&spec, Format::Ndjson);
    let docs: Vec<RawDocumentBuf> = spec.batches(RunId::new(1, 2), 1000).flatten().collect();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), docs.len());
    for (line, doc) in lines.iter().zip(&docs) {
        let ours: serde_json::Value = serde_json::from_str(line).unwrap();
        let back = Bson::try_from(ours).expect("Extended JSON");
        assert_eq!(back, Bson::Document(doc.to_document().unwrap()), "{line}");
    }
}

#[test]
fn values_are_written_as_extended_json_and_csv_cells() {
    let d = doc! {
        "s": "a \"q\"\n,\u{1}", "i": 7_i32, "l": -3_i64, "f": 65.0, "g": 0.1,
        "t": bson::DateTime::from_millis(1_795_219_200_123), "e": bson::DateTime::from_millis(0),
        "b": true,
    };
    let raw = RawDocumentBuf::from_document(&d).unwrap();
    let mut out = Vec::new();
    text::json_document(&raw, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"s":"a \"q\"\n,\u0001","i":7,"l":-3,"f":65.0,"g":0.1,"t":{"$date":"2026-11-21T00:00:00.123Z"},"e":{"$date":"1970-01-01T00:00:00.000Z"},"b":true}"#
    );
    let cells: Vec<String> = raw
        .iter()
        .map(|e| {
            let mut out = Vec::new();
            text::csv_value(e.unwrap().1, &mut out);
            String::from_utf8(out).unwrap()
        })
        .collect();
    assert_eq!(
        cells,
        [
            "\"a \"\"q\"\"\n,\u{1}\"",
            "7",
            "-3",
            "65.0",
            "0.1",
            "2026-11-21T00:00:00.123Z",
            "1970-01-01T00:00:00.000Z",
            ""
        ]
    );
}

#[test]
fn csv_has_a_typed_header_and_one_row_per_document() {
    let text = all(&call_spec(500), Format::Csv);
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "call_id.string(),caller.string(),callee.string(),call_type.string(),status.string(),\
         start_time.date(2006-01-02T15:04:05.000Z),end_time.date(2006-01-02T15:04:05.000Z),\
         duration.int32(),cost.double(),cost_cents.int32(),anomaly.string(),\
         caller_imsi.string(),caller_imei.string(),callee_imsi.string(),callee_network.string(),\
         caller_cell_start.string(),caller_cell_end.string(),handovers.int32(),callee_cell.string(),\
         outage_effect.string()"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 500);
    assert!(rows.iter().all(|r| r.len() == 20));
    // A mobile call has the caller's identities, and the callee's IMSI or network, never both.
    assert!(rows.iter().all(|r| r[11].len() == 15 && r[12].len() == 15));
    assert!(rows.iter().all(|r| r[13].is_empty() != r[14].is_empty()));
    // Every mobile call has its caller's cells; an on-net callee has its cell, an off-net one not.
    assert!(
        rows.iter()
            .all(|r| r[15].starts_with("311-480-") && r[16].starts_with("311-480-"))
    );
    assert!(rows.iter().all(|r| r[13].is_empty() == r[18].is_empty()));
    // A call that did not connect has no duration: an empty cell.
    assert!(rows.iter().any(|r| r[4] != "completed" && r[7].is_empty()));
    assert!(
        rows.iter()
            .all(|r| r[4] != "completed" || r[7].parse::<i32>().is_ok())
    );

    let end = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let p = PointParams::new(10, Some(60), None, Some(2), Some(end), end).unwrap();
    let text = all(&RunSpec::new(Params::Metrics(p), 10, Some(1)), Format::Csv);
    assert!(text.starts_with("category.string(),host.string(),value.double(),unit.string(),"));
    assert_eq!(text.lines().count(), 11);
}

#[test]
fn a_failing_sink_stops_the_stream() {
    let mut chunks = 0;
    let result = stream(
        &call_spec(100_000),
        RunId::new(1, 2),
        Format::Ndjson,
        |_| (),
        |_| {
            chunks += 1;
            if chunks == 2 { Err("gone") } else { Ok(()) }
        },
    );
    assert_eq!(result, Err("gone"));
    assert_eq!(chunks, 2);
}

/// Export speed on one core, generation included: what `--output /dev/null` can reach. Not a
/// pass/fail check: `cargo test --release --lib export::tests::speed -- --ignored --nocapture`.
#[test]
#[ignore = "timing report, run in release"]
fn speed() {
    for format in [Format::Ndjson, Format::Csv] {
        let spec = call_spec(1_000_000);
        let mut best: f64 = 0.0;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let mut bytes = 0;
            stream(
                &spec,
                RunId::new(1, 2),
                format,
                |_| (),
                |chunk| {
                    bytes += chunk.len();
                    Ok::<(), ()>(())
                },
            )
            .unwrap();
            assert!(bytes > 0);
            best = best.max(1e6 / started.elapsed().as_secs_f64());
        }
        println!("{format:?}: {best:.0} calls/s");
    }
}
