//! Scenarios through the API: labelled documents pass the validators, land only in the window,
//! and are kept in the job's parameters; the rollups stay exact.

use bson::doc;
use serde_json::{Value, json};

use crate::helpers::{mongo_uri, spawn_app_with};
use crate::rollups::assert_exact;

#[tokio::test]
async fn backfills_and_live_runs_carry_their_scenario_labels() {
    let app = spawn_app_with(&mongo_uri(), |_, serve| serve.async_threshold = 5_000).await;
    let scenario =
        json!({ "kind": "fraud_burst", "start": "2026-10-30T12:00:00Z", "minutes": 120 });
    let body = json!({ "count": 20_000, "days": 3, "end": "2026-11-01T00:00:00Z", "seed": 3,
                       "scenario": scenario });
    let id = app.start_job("/generate/calls", &body).await;
    let job: Value = crate::helpers::poll_until(
        std::time::Duration::from_secs(60),
        "the job to finish",
        async || {
            let j: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
            (j["state"] == "done")
                .then_some(j.clone())
                .ok_or(j.to_string())
        },
    )
    .await;
    assert_eq!(job["params"]["scenario"]["kind"], "fraud_burst", "{job}");
    let labelled = app.count("calls", doc! { "anomaly": "fraud_burst" }).await;
    assert!(labelled > 100, "{labelled}");
    let window = doc! { "start_time": {
        "$gte": bson::DateTime::parse_rfc3339_str("2026-10-30T12:00:00Z").unwrap(),
        "$lt": bson::DateTime::parse_rfc3339_str("2026-10-30T14:00:00Z").unwrap(),
    } };
    let mut outside = doc! { "anomaly": { "$exists": true } };
    outside.insert("$nor", vec![window]);
    assert_eq!(app.count("calls", outside).await, 0);

    // An outage on metrics: only host 2's points in the window are labelled.
    let body = json!({ "count": 3_000, "step_seconds": 60, "hosts": 3, "seed": 3,
                       "end": "2026-11-01T00:00:00Z",
                       "scenario": { "kind": "outage", "host": 2, "minutes": 20 } });
    assert_eq!(app.post("/generate/metrics", &body).await.status(), 201);
    let labelled = app.count("metrics", doc! { "anomaly": "outage" }).await;
    assert_eq!(labelled, 20 * 5, "20 ticks × 5 categories of one host");
    assert_eq!(
        app.count(
            "metrics",
            doc! { "anomaly": "outage", "host": { "$ne": "host-02" } }
        )
        .await,
        0
    );
    // A bad scenario names its field; an unknown label never reaches the database.
    let bad = json!({ "count": 10, "scenario": { "kind": "outage", "host": 4 } });
    let res = app.post("/generate/calls", &bad).await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["field"],
        "scenario.host"
    );
    let forged = app
        .db
        .collection::<bson::Document>("metrics")
        .insert_one(doc! { "category": "cpu", "value": 1.0, "unit": "percent",
        "timestamp": bson::DateTime::now(), "host": "h", "anomaly": "alien" })
        .await;
    assert!(forged.is_err(), "the validator admits only scenario labels");

    // A live surge starting now: its window's calls are labelled.
    let body = json!({ "calls_per_second": 20, "step_seconds": 0,
                       "scenario": { "kind": "surge", "start": chrono::Utc::now().to_rfc3339(), "factor": 3 } });
    let res = app.post("/live", &body).await;
    assert_eq!(res.status(), 201);
    let run: Value = res.json().await.unwrap();
    assert_eq!(run["scenario"]["kind"], "surge", "{run}");
    let id = run["id"].as_str().unwrap();
    crate::helpers::wait_until(
        std::time::Duration::from_secs(60),
        "surge calls",
        async || app.count("calls", doc! { "anomaly": "surge" }).await > 600,
    )
    .await;
    let stopped: Value = app
        .post(&format!("/live/{id}/stop"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    // Three times the rate while the surge lasts: exactly 60 calls a second, two thirds labelled.
    let written = stopped["calls_written"].as_i64().unwrap();
    assert!(written >= 60 && written % 60 == 0, "{stopped}");
    let start = bson::DateTime::parse_rfc3339_str(stopped["start"].as_str().unwrap()).unwrap();
    let live = doc! { "start_time": { "$gte": start } };
    let mut surge = live.clone();
    surge.insert("anomaly", "surge");
    // Each call is labelled with probability 2/3 on its own: a binomial share, held to 4.5 σ
    // (a false alarm once in 150,000 runs; ±0.07 at the 900 or so calls the wait gives).
    let n = app.count("calls", live).await as f64;
    let share = app.count("calls", surge).await as f64 / n;
    let sigma = (2.0 / 9.0 / n).sqrt();
    assert!((share - 2.0 / 3.0).abs() < 4.5 * sigma, "{share} of {n}");
    assert_exact(&app).await;
}

/// A cell outage through the API: its ground truth (the dark sites) is in the job's record, and
/// the calls labelled are exactly those that started in one of those sites' cells in the window,
/// or were moved out of them, each saying which; the rollups and `/stats/cells` stay exact.
#[tokio::test]
async fn a_cell_outage_labels_exactly_the_calls_of_its_dark_sites() {
    let app = spawn_app_with(&mongo_uri(), |_, serve| serve.async_threshold = 5_000).await;
    let scenario = json!({ "kind": "cell_outage", "start": "2026-10-30T00:00:00Z",
                           "minutes": 1440, "area_code": 212, "radius_m": 8000 });
    let body = json!({ "count": 30_000, "days": 3, "end": "2026-11-01T00:00:00Z", "seed": 8,
                       "subscribers": 20_000, "scenario": scenario });
    let id = app.start_job("/generate/calls", &body).await;
    let job: Value = crate::helpers::poll_until(
        std::time::Duration::from_secs(120),
        "the job to finish",
        async || {
            let j: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
            (j["state"] == "done")
                .then_some(j.clone())
                .ok_or(j.to_string())
        },
    )
    .await;
    let truth = &job["params"]["scenario"];
    assert_eq!(truth["kind"], "cell_outage", "{job}");
    let sites: Vec<u64> = truth["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert!(sites.len() > 400, "{truth}");
    let (lo, hi) = ("2026-10-30T00:00:00Z", "2026-10-31T00:00:00Z");
    let in_window = |t: &bson::DateTime| {
        (bson::DateTime::parse_rfc3339_str(lo).unwrap()
            ..bson::DateTime::parse_rfc3339_str(hi).unwrap())
            .contains(t)
    };
    let (mut failed, mut moved) = (0, 0);
    for c in app.all("calls").await {
        let site = |field: &str| {
            c.get_str(field)
                .ok()
                .map(|e| e.rsplit('-').next().unwrap().parse::<u64>().unwrap() >> 8)
        };
        let dark = site("caller_cell_start").is_some_and(|s| sites.contains(&s));
        let t = c.get_datetime("start_time").unwrap();
        match (c.get_str("anomaly").ok(), c.get_str("outage_effect").ok()) {
            (Some("cell_outage"), Some("failed")) => {
                assert!(dark && in_window(t), "{c}");
                assert_eq!(c.get_str("status").unwrap(), "failed");
                failed += 1;
            }
            (Some("cell_outage"), Some("reselected")) => {
                assert!(!dark && in_window(t), "{c}");
                moved += 1;
            }
            (None, None) => assert!(!(dark && in_window(t)), "unlabelled in the dark: {c}"),
            other => panic!("{other:?}: {c}"),
        }
    }
    assert!(failed > 20 && moved > 20, "{failed} failed, {moved} moved");
    assert_exact(&app).await;
    // A bad place names its field.
    let bad = json!({ "count": 10, "scenario": { "kind": "cell_outage", "area_code": 200 } });
    let res = app.post("/generate/calls", &bad).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "scenario.area_code", "{body}");
}
