use std::time::Duration;

use bson::doc;
use serde_json::{Value, json};

use crate::helpers::{TestApp, mongo_uri, poll_until, spawn_app_with, stored_job};
use crate::processes::PrivateServer;

async fn job_app(uri: &str, max_jobs: u32) -> TestApp {
    spawn_app_with(uri, |db, serve| {
        db.batch_size = 2000;
        db.inflight_batches = 2;
        serve.async_threshold = 10_000;
        serve.max_jobs = max_jobs;
    })
    .await
}

/// What every observation of a running job must show: progress is inserted/requested and within
/// 0..=1; the ETA is missing only while there is no rate yet, and is never negative.
fn check_running(job: &Value) {
    let requested = job["requested"].as_u64().unwrap();
    let inserted = job["inserted"].as_u64().unwrap();
    let progress = job["progress"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&progress),
        "progress out of 0..=1: {job}"
    );
    assert!(
        (progress - inserted as f64 / requested as f64).abs() < 1e-9,
        "progress is not inserted/requested: {job}"
    );
    let rate = job["docs_per_second"].as_f64().unwrap();
    assert!(rate >= 0.0, "{job}");
    match &job["eta_seconds"] {
        Value::Null => assert_eq!(rate, 0.0, "no ETA although there is a rate: {job}"),
        eta => assert!(eta.as_f64().is_some_and(|e| e >= 0.0), "bad ETA: {job}"),
    }
}

/// Polls the job until `done(job)` holds or `limit` passes, checking every running observation
/// with [`check_running`]; tolerates 503 while the database is away.
async fn wait_for(
    app: &TestApp,
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    poll_until(limit, "the job to reach the expected state", async || {
        let res = app.get(&format!("/jobs/{id}")).await;
        if res.status() != 200 {
            assert_eq!(
                res.status(),
                503,
                "only an unavailable database excuses a non-200"
            );
            return Err("503: the database is away".to_string());
        }
        let job: Value = res.json().await.unwrap();
        if job["state"] == "running" {
            check_running(&job);
        }
        if done(&job) {
            Ok(job)
        } else {
            Err(job.to_string())
        }
    })
    .await
}

async fn start_job(app: &TestApp, path: &str, body: Value) -> String {
    let res = app.post(path, &body).await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let job: Value = res.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/jobs/{id}"));
    assert_eq!(job["state"], "running");
    id
}

#[tokio::test]
async fn a_large_request_becomes_a_job_that_reports_progress_and_ends_with_exact_counts() {
    // 400 small batches one at a time (about 3 s here): long enough that the job is seen running
    // after its first heartbeat (1 s) has recorded a rate.
    let app = spawn_app_with(&mongo_uri(), |db, serve| {
        db.batch_size = 50;
        db.inflight_batches = 1;
        serve.async_threshold = 10_000;
    })
    .await;
    let count = 20_000;
    let id = start_job(
        &app,
        "/generate/calls",
        json!({ "count": count, "seed": 8 }),
    )
    .await;

    let mid = wait_for(&app, &id, Duration::from_secs(60), |j| {
        j["state"] != "running" || j["docs_per_second"].as_f64().unwrap() > 0.0
    })
    .await;
    assert_eq!(
        mid["state"], "running",
        "the job was never seen running with a rate: {mid}"
    );
    let n = mid["inserted"].as_u64().unwrap();
    assert!(n > 0 && n < count, "progress is visible mid-run: {mid}");
    assert!(
        mid["eta_seconds"].as_f64().is_some_and(|e| e >= 0.0),
        "{mid}"
    );

    let done = wait_for(&app, &id, Duration::from_secs(120), |j| {
        j["state"] != "running"
    })
    .await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["inserted"], count);
    assert_eq!(done["requested"], count);
    assert_eq!(done["progress"], 1.0);
    assert_eq!(done["seed"], 8);
    assert_eq!(done["eta_seconds"], Value::Null);
    assert_eq!(app.count("calls", doc! {}).await, count);

    let list: Vec<Value> = app.get("/jobs").await.json().await.unwrap();
    assert!(list.iter().any(|j| j["id"] == id.as_str()));
}

#[tokio::test]
async fn cancelling_a_job_stops_it_with_the_exact_count() {
    let app = job_app(&mongo_uri(), 2).await;
    let id = start_job(&app, "/generate/metrics", json!({ "count": 5_000_000 })).await;
    // A job this large is still running after its first heartbeats, on any machine: it is seen
    // running with a rate and an ETA.
    let mid = wait_for(&app, &id, Duration::from_secs(60), |j| {
        j["docs_per_second"].as_f64().unwrap() > 0.0
    })
    .await;
    assert_eq!(mid["state"], "running", "{mid}");
    assert!(mid["inserted"].as_u64().unwrap() > 0, "{mid}");
    assert!(
        mid["eta_seconds"].as_f64().is_some_and(|e| e > 0.0),
        "{mid}"
    );

    let res = app.cancel(&id).await;
    assert_eq!(res.status(), 200);
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["state"], "cancelled", "{job}");
    assert_eq!(job["cancel_requested"], true);
    let inserted = job["inserted"].as_u64().unwrap();
    assert!(inserted > 0 && inserted < 5_000_000, "{job}");
    assert_eq!(
        app.count("metrics", doc! {}).await,
        inserted,
        "the count is exact"
    );

    // Cancelling again is harmless; a finished job cannot be cancelled.
    assert_eq!(app.cancel(&id).await.status(), 200);
    // This sleep is the point: give a write that should not happen the time to land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.count("metrics", doc! {}).await,
        inserted,
        "nothing is written after the cancel"
    );
}

#[tokio::test]
async fn jobs_over_the_limit_get_429_and_small_async_requests_work() {
    let app = job_app(&mongo_uri(), 1).await;
    let first = start_job(&app, "/generate/calls", json!({ "count": 5_000_000 })).await;
    let res = app
        .post("/generate/calls", &json!({ "count": 50_000 }))
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_jobs");
    // Small synchronous requests are not jobs and still go through.
    assert_eq!(
        app.post("/generate/calls", &json!({ "count": 10 }))
            .await
            .status(),
        201
    );

    let cancelled: Value = app.cancel(&first).await.json().await.unwrap();
    assert_eq!(cancelled["state"], "cancelled");
    let small = start_job(
        &app,
        "/generate/calls",
        json!({ "count": 10, "async": true }),
    )
    .await;
    let done = wait_for(&app, &small, Duration::from_secs(30), |j| {
        j["state"] != "running"
    })
    .await;
    assert_eq!(done["state"], "done");
    assert_eq!(done["inserted"], 10);
    let res = app.cancel(&small).await;
    assert_eq!(res.status(), 409, "a finished job cannot be cancelled");
}

#[tokio::test]
async fn a_job_rides_out_a_database_outage_and_its_count_stays_exact() {
    let mut server = PrivateServer::start();
    let app = job_app(&server.uri(), 2).await;
    let id = start_job(&app, "/generate/calls", json!({ "count": 5_000_000 })).await;
    let before = wait_for(&app, &id, Duration::from_secs(60), |j| {
        j["inserted"].as_u64().unwrap() >= 4000
    })
    .await["inserted"]
        .as_u64()
        .unwrap();

    // Down well past what the driver rides out by itself (a retry plus back-off retries within
    // the 1 s server-selection timeout), so batches fail and the job has to send them again. This
    // sleep is the point of the test; no condition to wait for can replace it.
    server.kill();
    tokio::time::sleep(Duration::from_secs(10)).await;
    server.restart();

    // It goes on writing, then stops when told, with the count the database holds.
    wait_for(&app, &id, Duration::from_secs(60), |j| {
        j["inserted"].as_u64().unwrap() >= before + 20_000
    })
    .await;
    assert_eq!(app.cancel(&id).await.status(), 200);
    let job = wait_for(&app, &id, Duration::from_secs(60), |j| {
        j["state"] != "running"
    })
    .await;
    // Cancelled, or failed saying how many acknowledged writes the killed server lost.
    match job["state"].as_str().unwrap() {
        "cancelled" => {}
        "failed" => assert!(
            job["last_error"].as_str().unwrap().contains("lost"),
            "{job}"
        ),
        _ => panic!("{job}"),
    }
    let inserted = job["inserted"].as_u64().unwrap();
    assert!(inserted < 5_000_000);
    assert_eq!(
        app.count("calls", doc! {}).await,
        inserted,
        "the job's count is what the database holds"
    );
}

#[tokio::test]
async fn shutdown_during_a_job_leaves_a_truthful_record() {
    let mut app = job_app(&mongo_uri(), 2).await;
    let id = start_job(&app, "/generate/calls", json!({ "count": 5_000_000 })).await;
    wait_for(&app, &id, Duration::from_secs(60), |j| {
        j["inserted"].as_u64().unwrap() > 0
    })
    .await;

    app.shutdown().await.expect("the service stops cleanly");

    let record = stored_job(&app.db, &id).await;
    assert_eq!(record.get_str("state").unwrap(), "failed", "{record}");
    assert!(record.get_str("last_error").unwrap().contains("shut down"));
    let inserted = record.get_i64("inserted").unwrap() as u64;
    assert!(inserted > 0 && inserted < 5_000_000);
    assert_eq!(app.count("calls", doc! {}).await, inserted);
}

#[tokio::test]
async fn deleting_a_job_removes_its_record_once_it_has_ended_and_keeps_its_documents() {
    let app = job_app(&mongo_uri(), 2).await;
    let id = start_job(&app, "/generate/calls", json!({ "count": 5_000_000 })).await;
    let res = app.delete(&format!("/jobs/{id}")).await;
    assert_eq!(res.status(), 409, "a running job is cancelled, not deleted");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conflict", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/cancel"),
        "{body}"
    );

    let res = app.cancel(&id).await;
    assert_eq!(res.status(), 200);
    let job: Value = res.json().await.unwrap();
    let inserted = job["inserted"].as_u64().unwrap();

    let res = app.delete(&format!("/jobs/{id}")).await;
    assert_eq!(res.status(), 204);
    for res in [
        app.get(&format!("/jobs/{id}")).await,
        app.delete(&format!("/jobs/{id}")).await,
        app.cancel(&id).await,
    ] {
        assert_eq!(res.status(), 404);
    }
    let jobs: Value = app.get("/jobs").await.json().await.unwrap();
    assert_eq!(jobs, json!([]));
    assert_eq!(
        app.count("calls", doc! {}).await,
        inserted,
        "the job's documents stay"
    );
}
