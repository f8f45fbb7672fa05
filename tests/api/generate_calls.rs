use std::collections::BTreeSet;

use bson::{Document, doc};
use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_small_and_large_batching};

#[tokio::test]
async fn generated_calls_are_all_in_the_database_and_keep_the_invariants() {
    let app = spawn_app().await;
    let res = app
        .post("/generate/calls", &json!({ "count": 2500, "days": 7 }))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["inserted"], 2500);
    assert!(body["seed"].as_u64().is_some(), "seed reported: {body}");
    assert_eq!(body["collection"], "calls");

    let docs = app.all("calls").await;
    assert_eq!(docs.len(), 2500);
    let end = chrono::DateTime::parse_from_rfc3339(body["end"].as_str().unwrap()).unwrap();
    let window_start = end.timestamp_millis() - 7 * 86_400_000;
    let mut statuses = std::collections::HashSet::new();
    for d in &docs {
        let status = d.get_str("status").unwrap();
        statuses.insert(status.to_string());
        assert!(["voice", "video", "conference"].contains(&d.get_str("call_type").unwrap()));
        let caller = d.get_str("caller").unwrap();
        let callee = d.get_str("callee").unwrap();
        assert_ne!(caller, callee);
        assert!(caller.starts_with("+1") && caller.len() == 12, "{caller}");
        uuid::Uuid::parse_str(d.get_str("call_id").unwrap()).unwrap();
        // BSON dates, not strings: dashboards group on them.
        let start = d.get_datetime("start_time").unwrap().timestamp_millis();
        let stop = d.get_datetime("end_time").unwrap().timestamp_millis();
        assert!(
            start >= window_start && start < end.timestamp_millis(),
            "{d}"
        );
        assert!(stop >= start);
        let cost = d.get_f64("cost").unwrap();
        if status == "completed" {
            let duration = d.get_i32("duration").unwrap();
            assert!((1..=7200).contains(&duration));
            assert_eq!(stop - start, i64::from(duration) * 1000);
            assert!(cost > 0.0);
        } else {
            assert!(
                !d.contains_key("duration"),
                "a {status} call has no duration field: {d}"
            );
            assert_eq!(cost, 0.0);
        }
    }
    assert_eq!(
        statuses.len(),
        4,
        "all statuses appear in 2500 calls: {statuses:?}"
    );
}

#[tokio::test]
async fn same_seed_and_end_give_the_same_calls_whatever_the_batching() {
    let (small, large) = spawn_small_and_large_batching().await;
    let req = json!({ "count": 777, "seed": 12345, "end": "2026-06-01T00:00:00Z" });
    assert_eq!(small.post("/generate/calls", &req).await.status(), 201);
    assert_eq!(large.post("/generate/calls", &req).await.status(), 201);
    let a: Vec<Document> = small.generated("calls").await;
    let b: Vec<Document> = large.generated("calls").await;
    assert_eq!(a.len(), 777);
    assert_eq!(a, b);

    // Another seed gives other calls.
    let other = spawn_app().await;
    let res = other
        .post(
            "/generate/calls",
            &json!({ "count": 10, "seed": 54321, "end": "2026-06-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let c: Vec<Document> = other.generated("calls").await;
    assert_ne!(c[0], a[0]);
}

#[tokio::test]
async fn a_reported_seed_reproduces_the_run() {
    let app = spawn_app().await;
    let first: Value = app
        .post("/generate/calls", &json!({ "count": 50 }))
        .await
        .json()
        .await
        .unwrap();
    let again = json!({ "count": 50, "seed": first["seed"], "end": first["end"] });
    let second: Value = app
        .post("/generate/calls", &again)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["seed"], first["seed"]);
    let docs = app.generated("calls").await;
    assert_eq!(docs.len(), 100);
    let (a, b) = docs.split_at(50);
    assert_eq!(a, b);
}

#[tokio::test]
async fn the_calls_validator_rejects_bad_documents_written_directly() {
    let app = spawn_app().await;
    let calls = app.db.collection::<Document>("calls");
    let good = doc! {
        "call_id": "6f1d3a52-8c1e-4f7a-9b0e-1a2b3c4d5e6f",
        "caller": "+12025550123",
        "callee": "+13105550199",
        "call_type": "voice",
        "status": "completed",
        "start_time": bson::DateTime::from_millis(1_700_000_000_000),
        "end_time": bson::DateTime::from_millis(1_700_000_060_000),
        "duration": 60,
        "cost": 0.07,
        "cost_cents": 7,
    };
    calls
        .insert_one(good.clone())
        .await
        .expect("a valid call is accepted");

    let mut missed_with_duration = good.clone();
    missed_with_duration.insert("status", "missed");
    let mut completed_without_duration = good.clone();
    completed_without_duration.remove("duration");
    let mut string_date = good.clone();
    string_date.insert("start_time", "2026-01-01T00:00:00Z");
    let mut bad_status = good.clone();
    bad_status.insert("status", "dropped");
    let mut negative_cost = good.clone();
    negative_cost.insert("cost", -1.0);
    let mut double_cents = good.clone();
    double_cents.insert("cost_cents", 7.0);
    let mut missed_with_cents = good.clone();
    missed_with_cents.insert("status", "missed");
    missed_with_cents.remove("duration");
    missed_with_cents.insert("cost", 0.0);
    let mut no_cents = good.clone();
    no_cents.remove("cost_cents");
    for bad in [
        double_cents,
        missed_with_cents,
        no_cents,
        missed_with_duration,
        completed_without_duration,
        string_date,
        bad_status,
        negative_cost,
    ] {
        let err = calls
            .insert_one(bad.clone())
            .await
            .expect_err(&format!("rejected: {bad}"));
        assert!(
            err.to_string().contains("121") || err.to_string().contains("validation"),
            "{err}"
        );
    }
    assert_eq!(app.count("calls", doc! {}).await, 1);
}

#[tokio::test]
async fn seeds_chosen_by_the_service_are_below_2_pow_53_and_differ() {
    let app = spawn_app().await;
    let mut seeds = BTreeSet::new();
    for i in 0..50 {
        let path = if i % 2 == 0 {
            "/generate/calls"
        } else {
            "/generate/metrics"
        };
        // Every tenth as a job: a job's seed is chosen the same way.
        let res = app
            .post(path, &json!({ "count": 1, "async": i % 10 == 9 }))
            .await;
        assert!(
            res.status() == 201 || res.status() == 202,
            "{}",
            res.status()
        );
        let body: Value = res.json().await.unwrap();
        let seed = body["seed"]
            .as_u64()
            .unwrap_or_else(|| panic!("an integer seed: {body}"));
        assert!(seed < 1 << 53, "seed {seed} is not below 2^53: {body}");
        // Exactly representable as a double, as JavaScript and jq read it.
        assert_eq!(seed as f64 as u64, seed);
        seeds.insert(seed);
    }
    assert_eq!(seeds.len(), 50, "50 runs, 50 different seeds: {seeds:?}");
}

/// Calls are placed by the subscribers of a population of the requested size (to each other, or to
/// people on other networks), and a population too small to call anyone else is refused, naming
/// the field.
#[tokio::test]
async fn calls_are_placed_within_the_requested_population() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/generate/calls",
            &json!({ "count": 500, "subscribers": 3, "seed": 8 }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let calls = app.all("calls").await;
    // The operator's subscribers place the calls and take those on its network; a callee on
    // another network is somebody else, one in each subscriber's place.
    let on_net: BTreeSet<&str> = calls
        .iter()
        .flat_map(|d| {
            let callee = d
                .contains_key("callee_imsi")
                .then(|| d.get_str("callee").unwrap());
            std::iter::once(d.get_str("caller").unwrap()).chain(callee)
        })
        .collect();
    assert!(on_net.len() <= 3, "{on_net:?}");
    let off_net: BTreeSet<&str> = calls
        .iter()
        .filter(|d| d.contains_key("callee_network"))
        .map(|d| d.get_str("callee").unwrap())
        .collect();
    assert!(!off_net.is_empty() && off_net.len() <= 3, "{off_net:?}");
    assert!(
        off_net.iter().all(|n| !on_net.contains(*n)),
        "{off_net:?} {on_net:?}"
    );

    let res = app
        .post("/generate/calls", &json!({ "count": 5, "subscribers": 1 }))
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "subscribers", "{body}");
}
