//! Live runs: the rate is exact, counts are exact when stopped, the rollups equal the raw
//! documents, a database outage delays without dropping or duplicating, another replica takes over
//! a run whose owner died or shut down (or gives it up past the takeover window), the same seed
//! gives the same sequence, and `/calls/stream` pushes new calls and resumes after `Last-Event-ID`.

use std::time::Duration;

use bson::{Document, doc};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::helpers::{TempDb, TestApp, mongo_uri, poll_until, spawn_app_with, spawn_replica};
use crate::processes::{PrivateServer, Service};
use crate::rollups::assert_exact;

async fn live_app(uri: &str) -> TestApp {
    spawn_app_with(uri, |_, serve| serve.live_stale_secs = 2).await
}

/// Starts a live run; returns its id.
pub async fn start_live(app: &TestApp, body: &Value) -> String {
    let res = app.post("/live", body).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let run: Value = res.json().await.unwrap();
    assert_eq!(location, format!("/live/{}", run["id"].as_str().unwrap()));
    assert_eq!(run["state"], "running", "{run}");
    run["id"].as_str().unwrap().to_string()
}

async fn live(app: &TestApp, id: &str) -> Value {
    let res = app.get(&format!("/live/{id}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Waits until the run has written at least `calls` calls.
async fn wait_calls(app: &TestApp, id: &str, calls: i64) -> Value {
    poll_until(Duration::from_secs(60), "calls to be written", async || {
        let run = live(app, id).await;
        if run["calls_written"].as_i64().unwrap() >= calls {
            Ok(run)
        } else {
            Err(run.to_string())
        }
    })
    .await
}

async fn stop(app: &TestApp, id: &str) -> Value {
    let res = app.post(&format!("/live/{id}/stop"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let run: Value = res.json().await.unwrap();
    assert_eq!(run["state"], "stopped", "{run}");
    run
}

/// The run's documents are exactly indices `0..n` of its `_id` range (none missing, none twice),
/// `n` being what the record says; the rollups equal the raw documents.
async fn assert_complete(app: &TestApp, run: &Value) {
    for (collection, field) in [("calls", "calls_written"), ("metrics", "points_written")] {
        let n = run[field].as_i64().unwrap() as u64;
        assert_eq!(
            app.count(collection, doc! {}).await,
            n,
            "{collection}: {run}"
        );
        if n == 0 {
            continue;
        }
        let last = app
            .db
            .collection::<Document>(collection)
            .find_one(doc! {})
            .sort(doc! { "_id": -1 })
            .await
            .unwrap()
            .unwrap();
        let bytes = last.get_object_id("_id").unwrap().bytes();
        let index = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        assert_eq!(u64::from(index) + 1, n, "{collection}: the last index");
    }
    assert_exact(app).await;
}

#[tokio::test]
async fn a_live_run_writes_at_its_rate_and_stops_with_exact_counts() {
    let app = live_app(&mongo_uri()).await;
    let body = json!({ "calls_per_second": 40, "step_seconds": 2, "hosts": 2, "seed": 1 });
    let id = start_live(&app, &body).await;
    wait_calls(&app, &id, 120).await;
    let run = stop(&app, &id).await;
    assert_eq!(run["owned"], true);
    let start = chrono::DateTime::parse_from_rfc3339(run["start"].as_str().unwrap()).unwrap();
    let calls = run["calls_written"].as_i64().unwrap();
    // Whole seconds were written: 40 calls each, and a metric tick (10 points) every 2 s.
    assert_eq!(calls % 40, 0, "{run}");
    let seconds = calls / 40;
    assert_eq!(
        run["points_written"].as_i64().unwrap(),
        (seconds + 1) / 2 * 10,
        "{run}"
    );
    // Every call of second k starts within it.
    let t0 = start.timestamp_millis();
    let lo = bson::DateTime::from_millis(t0);
    let hi = bson::DateTime::from_millis(t0 + seconds * 1000);
    let inside = doc! { "start_time": { "$gte": lo, "$lt": hi } };
    assert_eq!(app.count("calls", inside).await, calls as u64);
    assert_complete(&app, &run).await;
    // A stopped run's rollup tokens are forgotten.
    for c in [
        "calls_rollup",
        "calls_rollup_1m",
        "metrics_rollup",
        "metrics_rollup_5m",
        "cells_rollup",
    ] {
        let with_tokens = doc! { "applied.0": { "$exists": true } };
        assert_eq!(app.count(c, with_tokens).await, 0, "{c}");
    }
    // Stopping again is a no-op; the list shows it.
    let again = stop(&app, &id).await;
    assert_eq!(again["calls_written"], run["calls_written"]);
    let list: Value = app.get("/live").await.json().await.unwrap();
    assert_eq!(list[0]["id"], id.as_str());
}

#[tokio::test]
async fn the_same_seed_gives_the_same_sequence() {
    let (a, b) = (live_app(&mongo_uri()).await, live_app(&mongo_uri()).await);
    let body = json!({ "calls_per_second": 30, "step_seconds": 0, "seed": 99 });
    let (ia, ib) = (start_live(&a, &body).await, start_live(&b, &body).await);
    wait_calls(&a, &ia, 60).await;
    wait_calls(&b, &ib, 60).await;
    stop(&a, &ia).await;
    stop(&b, &ib).await;
    let firsts = async |app: &TestApp| -> Vec<(String, String, String)> {
        let mut cursor = app
            .db
            .collection::<Document>("calls")
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .limit(60)
            .await
            .unwrap();
        let mut out = Vec::new();
        while let Some(d) = cursor.next().await {
            let d = d.unwrap();
            let s = |k| d.get_str(k).unwrap().to_string();
            out.push((s("call_id"), s("caller"), s("status")));
        }
        out
    };
    assert_eq!(firsts(&a).await, firsts(&b).await);
}

#[tokio::test]
async fn a_database_outage_delays_a_live_run_without_loss_or_duplicates() {
    let mut server = PrivateServer::start();
    let app = live_app(&server.uri()).await;
    let id = start_live(
        &app,
        &json!({ "calls_per_second": 50, "step_seconds": 1, "hosts": 1 }),
    )
    .await;
    wait_calls(&app, &id, 100).await;
    server.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.restart();
    // It catches up: the lag falls back under two seconds.
    let caught_up = poll_until(Duration::from_secs(60), "the run to catch up", async || {
        let run = live(&app, &id).await;
        let lag = run["lag_seconds"].as_f64().unwrap();
        if run["calls_written"].as_i64().unwrap() > 300 && lag < 2.0 {
            Ok(run)
        } else {
            Err(run.to_string())
        }
    })
    .await;
    assert_eq!(caught_up["state"], "running");
    let run = stop(&app, &id).await;
    assert_eq!(run["calls_written"].as_i64().unwrap() % 50, 0, "{run}");
    assert_complete(&app, &run).await;
}

#[tokio::test]
async fn a_replica_takes_over_a_run_whose_owner_died() {
    let db = TempDb::unique();
    let env = [("LIVE_STALE_SECS", "2")];
    let http = crate::helpers::http_client();
    let first = Service::start(&db, &env);
    first.wait_ready(&http).await;
    let second = Service::start(&db, &env);
    second.wait_ready(&http).await;
    let res = http
        .post(format!("{}/live", first.base))
        .json(&json!({ "calls_per_second": 25, "step_seconds": 1, "hosts": 1, "seed": 4 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{}/live/{id}", second.base);
    let get = async || -> Value { http.get(&url).send().await.unwrap().json().await.unwrap() };
    poll_until(Duration::from_secs(30), "some calls", async || {
        let run = get().await;
        (run["calls_written"].as_i64().unwrap() >= 50)
            .then_some(())
            .ok_or(run.to_string())
    })
    .await;
    drop(first); // SIGKILL
    let run = poll_until(Duration::from_secs(30), "a takeover", async || {
        let run = get().await;
        let going = run["takeovers"] == 1 && run["lag_seconds"].as_f64().unwrap() < 2.0;
        going.then_some(run.clone()).ok_or(run.to_string())
    })
    .await;
    assert_eq!(run["state"], "running", "{run}");
    let stopped: Value = http
        .post(format!("{url}/stop"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stopped["state"], "stopped", "{stopped}");
    let app = spawn_app_with(&db.uri, |d, _| d.mongo_db = db.name.clone()).await;
    assert_complete(&app, &stopped).await;
}

#[tokio::test]
async fn a_run_is_handed_over_at_shutdown_and_given_up_past_the_takeover_window() {
    let mut first = live_app(&mongo_uri()).await;
    let id = start_live(
        &first,
        &json!({ "calls_per_second": 20, "step_seconds": 0 }),
    )
    .await;
    wait_calls(&first, &id, 20).await;
    let second = spawn_replica(&first, |_, serve| serve.live_stale_secs = 2).await;
    first.shutdown().await.unwrap();
    let run = poll_until(
        Duration::from_secs(30),
        "the run to be taken over",
        async || {
            let run = live(&second, &id).await;
            (run["takeovers"] == 1 && run["owned"] == true)
                .then_some(run.clone())
                .ok_or(run.to_string())
        },
    )
    .await;
    assert_eq!(run["state"], "running");
    // Nobody left to write it: past the takeover window it is given up, not resumed.
    let mut second = second;
    second.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let third = spawn_replica(&first, |_, serve| serve.live_takeover_secs = 1).await;
    let run = poll_until(
        Duration::from_secs(30),
        "the run to be given up",
        async || {
            let run = live(&third, &id).await;
            (run["state"] == "stopped")
                .then_some(run.clone())
                .ok_or(run.to_string())
        },
    )
    .await;
    assert!(
        run["last_error"].as_str().unwrap().contains("given up"),
        "{run}"
    );
    assert_complete(&third, &run).await;
}

#[tokio::test]
async fn live_requests_are_checked() {
    let app = spawn_app_with(&mongo_uri(), |_, serve| {
        serve.max_live_runs = 1;
        serve.live_max_calls_per_second = 100;
    })
    .await;
    for (body, field) in [
        (
            json!({ "calls_per_second": 0, "step_seconds": 0 }),
            "calls_per_second",
        ),
        (json!({ "calls_per_second": 101 }), "calls_per_second"),
        (json!({ "calls_per_second": -1 }), "calls_per_second"),
        (json!({ "hosts": 0 }), "hosts"),
        (json!({ "categories": ["cpu", "gpu"] }), "categories[1]"),
        (json!({ "rate": 5 }), "rate"),
    ] {
        let res = app.post("/live", &body).await;
        assert_eq!(res.status(), 422, "{body}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    let id = start_live(&app, &json!({ "calls_per_second": 5 })).await;
    let res = app.post("/live", &json!({})).await;
    assert_eq!(res.status(), 429);
    assert_eq!(app.get("/live/nope").await.status(), 404);
    let res = app.delete(&format!("/live/{id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["state"], "stopped");
    assert_eq!(app.get(&format!("/live/{id}")).await.status(), 404);
}

#[tokio::test]
async fn seconds_of_several_batches_keep_exact_rollups() {
    // Full batches insert their fine cells as contribution documents, the rest update them.
    let app = spawn_app_with(&mongo_uri(), |db, _| {
        db.batch_size = 16;
        db.inflight_batches = 3;
    })
    .await;
    let body = json!({ "calls_per_second": 100, "step_seconds": 1, "hosts": 5, "seed": 2 });
    let id = start_live(&app, &body).await;
    wait_calls(&app, &id, 300).await;
    let run = stop(&app, &id).await;
    assert_complete(&app, &run).await;
    let contributions = doc! { "_id.k": { "$exists": true } };
    assert!(app.count("calls_rollup_1m", contributions).await > 0);
}
