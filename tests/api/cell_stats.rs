//! `GET /stats/cells`: the per-cell figures equal what the raw calls say (computed here, with the
//! driver), after every way a run can end (the rollup tests call [`assert_cells_exact`]); the
//! ranking, the daily series and the bounds.

use std::collections::HashMap;

use bson::doc;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Per ECGI: (calls, completed, failed, seconds), from the raw calls; and their start times' span.
async fn raw_cells(app: &TestApp) -> (HashMap<String, [i64; 4]>, Option<(i64, i64)>) {
    let mut out: HashMap<String, [i64; 4]> = HashMap::new();
    let mut span: Option<(i64, i64)> = None;
    for c in app.all("calls").await {
        let Ok(cell) = c.get_str("caller_cell_start") else {
            continue;
        };
        let t = c.get_datetime("start_time").unwrap().timestamp_millis();
        span = Some(span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        let status = c.get_str("status").unwrap();
        let e = out.entry(cell.to_owned()).or_default();
        e[0] += 1;
        e[1] += i64::from(status == "completed");
        e[2] += i64::from(status == "failed");
        e[3] += i64::from(c.get_i32("duration").unwrap_or(0));
    }
    (out, span)
}

/// The answer to `GET /stats/cells?{query}`. A 503 ("retry later": a cold read of a large range
/// that did not finish within the bounds of a loaded server) is asked again, twice at most.
async fn cell_stats(app: &TestApp, query: &str) -> Value {
    for _ in 0..2 {
        let res = app.get(&format!("/stats/cells?{query}")).await;
        if res.status() != 503 {
            assert_eq!(res.status(), 200, "{query}");
            return res.json().await.unwrap();
        }
        eprintln!(
            "/stats/cells?{query}: 503 {}",
            res.text().await.unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    let res = app.get(&format!("/stats/cells?{query}")).await;
    assert_eq!(res.status(), 200, "{query}");
    res.json().await.unwrap()
}

/// `GET /stats/cells` over the days of every mobile call equals the raw calls: the number of
/// cells and calls, and every ranked cell's figures; and (on small sets) the service's scanning
/// answer.
pub async fn assert_cells_exact(app: &TestApp) {
    let (raw, span) = raw_cells(app).await;
    let Some((first, last)) = span else {
        let body = cell_stats(app, "").await;
        assert_eq!(body["calls"], 0, "{body}");
        return;
    };
    let query = format!("from={first}&to={}&top=1000", last + 1);
    let body = cell_stats(app, &query).await;
    assert_eq!(body["cells"].as_u64().unwrap() as usize, raw.len(), "cells");
    let calls: i64 = raw.values().map(|v| v[0]).sum();
    assert_eq!(body["calls"].as_i64().unwrap(), calls, "calls");
    let top = body["top"].as_array().unwrap();
    assert_eq!(top.len(), raw.len().min(1000));
    for row in top {
        let [n, k, f, s] = raw[row["ecgi"].as_str().unwrap()];
        assert_eq!(row["calls"].as_i64().unwrap(), n, "{row}");
        assert_eq!(row["completed"].as_i64().unwrap(), k, "{row}");
        assert_eq!(row["failed"].as_i64().unwrap(), f, "{row}");
        let minutes = (s as f64 / 60.0 * 100.0).round() / 100.0;
        assert_eq!(row["minutes"].as_f64().unwrap(), minutes, "{row}");
    }
    // The service's own scan agrees (on small sets: it reads every call of the range, and on a
    // busy server a large scan is answered 503 rather than held).
    if calls <= 20_000 {
        let raw_answer = cell_stats(app, &format!("{query}&source=raw")).await;
        assert_eq!(body, raw_answer);
    }
}

#[tokio::test]
async fn the_busiest_cells_come_ranked_with_shares_and_daily_series() {
    let app = spawn_app().await;
    let body = json!({ "count": 4000, "seed": 5, "end": "2026-11-01T00:00:00Z", "days": 5 });
    assert_eq!(app.post("/generate/calls", &body).await.status(), 201);
    assert_cells_exact(&app).await;
    // A finished job leaves no tokens behind.
    let with_tokens = doc! { "applied.0": { "$exists": true } };
    assert_eq!(app.count("cells_rollup", with_tokens).await, 0);

    let q = "from=2026-10-27&to=2026-11-01&top=5";
    let body = cell_stats(&app, q).await;
    assert_eq!(body["from"], "2026-10-27T00:00:00Z");
    assert_eq!(body["to"], "2026-11-01T00:00:00Z");
    let top = body["top"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    for pair in top.windows(2) {
        assert!(
            pair[0]["calls"].as_i64() >= pair[1]["calls"].as_i64(),
            "{body}"
        );
    }
    for row in top {
        let series = row["series"].as_array().unwrap();
        assert_eq!(series.len(), 5, "every day listed: {row}");
        assert_eq!(series[0]["day"], "2026-10-27");
        let sum: i64 = series.iter().map(|d| d["calls"].as_i64().unwrap()).sum();
        assert_eq!(sum, row["calls"].as_i64().unwrap(), "{row}");
        let n = row["calls"].as_f64().unwrap();
        let share = (row["completed"].as_f64().unwrap() / n * 1e4).round() / 1e4;
        assert_eq!(row["completed_share"].as_f64().unwrap(), share, "{row}");
        assert!(
            row["city"].is_string() && row["area_code"].is_u64(),
            "{row}"
        );
    }
    // A partial day reads as the whole day it falls in.
    let partial = cell_stats(
        &app,
        "from=2026-10-27T13:00:00Z&to=2026-10-31T01:00:00Z&top=5",
    )
    .await;
    assert_eq!(partial, body);

    // Another replica's run adds to the same cells; the figures stay exact.
    let more = json!({ "count": 2000, "seed": 6, "end": "2026-11-01T00:00:00Z", "days": 5 });
    assert_eq!(app.post("/generate/calls", &more).await.status(), 201);
    assert_cells_exact(&app).await;
}

#[tokio::test]
async fn cell_stats_refuse_what_they_cannot_answer() {
    let app = spawn_app().await;
    for (query, field, says) in [
        ("top=0", "top", "from 1 to 1000"),
        ("top=1001", "top", "from 1 to 1000"),
        ("top=ten", "top", "from 1 to 1000"),
        ("from=2026-01-01&to=2026-06-01", "to", "at most 93"),
        ("from=2026-06-01&to=2026-01-01", "to", "later than from"),
    ] {
        let res = app.get(&format!("/stats/cells?{query}")).await;
        assert_eq!(res.status(), 422, "{query}");
        let body: Value = res.json().await.unwrap();
        let text = body.to_string();
        assert!(
            text.contains(field) && text.contains(says),
            "{query}: {body}"
        );
    }
    // Nothing written: an empty answer over the last 30 days.
    let body = cell_stats(&app, "").await;
    assert_eq!(
        (body["cells"].as_u64(), body["calls"].as_u64()),
        (Some(0), Some(0))
    );
}
