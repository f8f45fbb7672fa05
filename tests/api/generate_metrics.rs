use std::collections::HashMap;

use bson::{Document, doc};
use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_small_and_large_batching};

#[tokio::test]
async fn metric_series_are_spaced_by_the_step_and_within_bounds() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/generate/metrics",
            &json!({ "count": 600, "step_seconds": 30, "hosts": 2 }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["inserted"], 600);
    assert_eq!(body["collection"], "metrics");
    let end = chrono::DateTime::parse_from_rfc3339(body["end"].as_str().unwrap()).unwrap();

    let docs = app.all("metrics").await;
    assert_eq!(docs.len(), 600);
    let mut series: HashMap<(String, String), Vec<i64>> = HashMap::new();
    for d in &docs {
        let category = d.get_str("category").unwrap().to_string();
        let value = d.get_f64("value").unwrap();
        let (unit, max) = match category.as_str() {
            "cpu" | "memory" | "disk" => ("percent", 100.0),
            "latency" => ("ms", 60_000.0),
            "network" => ("Mbit/s", 10_000.0),
            other => panic!("unexpected category {other}"),
        };
        assert_eq!(d.get_str("unit").unwrap(), unit);
        assert!((0.0..=max).contains(&value), "{d}");
        let host = d.get_str("host").unwrap().to_string();
        let ts = d.get_datetime("timestamp").unwrap().timestamp_millis();
        series.entry((host, category)).or_default().push(ts);
    }
    assert_eq!(series.len(), 10, "2 hosts × 5 categories");
    for (key, mut ts) in series {
        ts.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(ts[0], end.timestamp_millis(), "{key:?} starts at end");
        assert_eq!(ts.len(), 60);
        for w in ts.windows(2) {
            assert_eq!(w[0] - w[1], 30_000, "{key:?}");
        }
    }
}

#[tokio::test]
async fn only_the_requested_categories_are_generated() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/generate/metrics",
            &json!({ "count": 100, "categories": ["latency", "cpu", "latency"], "seed": 3 }),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.count("metrics", doc! {}).await, 100);
    assert_eq!(
        app.count(
            "metrics",
            doc! { "category": { "$in": ["cpu", "latency"] } }
        )
        .await,
        100
    );
}

#[tokio::test]
async fn the_metrics_validator_rejects_bad_documents_written_directly() {
    let app = spawn_app().await;
    let metrics = app.db.collection::<Document>("metrics");
    let good = doc! {
        "category": "cpu",
        "host": "host-01",
        "value": 42.5,
        "unit": "percent",
        "timestamp": bson::DateTime::now(),
    };
    metrics
        .insert_one(good.clone())
        .await
        .expect("a valid point is accepted");
    let mut unknown = good.clone();
    unknown.insert("category", "gpu");
    let mut too_high = good.clone();
    too_high.insert("value", 150.0);
    let mut string_time = good.clone();
    string_time.insert("timestamp", "now");
    let mut no_host = good.clone();
    no_host.remove("host");
    let mut wrong_unit = good.clone();
    wrong_unit.insert("unit", "ms");
    for bad in [unknown, too_high, string_time, no_host, wrong_unit] {
        metrics
            .insert_one(bad.clone())
            .await
            .expect_err(&format!("rejected: {bad}"));
    }
    assert_eq!(app.count("metrics", doc! {}).await, 1);
}

#[tokio::test]
async fn same_seed_and_end_give_the_same_metrics_whatever_the_batching() {
    // The walks carry state from point to point: batching must not cut them differently.
    let (small, large) = spawn_small_and_large_batching().await;
    let req = json!({ "count": 1234, "seed": 99, "hosts": 4, "end": "2026-06-01T00:00:00Z" });
    assert_eq!(small.post("/generate/metrics", &req).await.status(), 201);
    assert_eq!(large.post("/generate/metrics", &req).await.status(), 201);
    let a = small.generated("metrics").await;
    assert_eq!(a.len(), 1234);
    assert_eq!(a, large.generated("metrics").await);
}
