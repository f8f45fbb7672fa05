//! README "Settings": `MAX_CONCURRENT_REQUESTS` — more synchronous generations at once get `503`;
//! `REQUEST_TIMEOUT_SECS` — requests taking longer get `503`.

use std::time::{Duration, Instant};

use bson::doc;
use serde_json::{Value, json};

use crate::helpers::{TestApp, mongo_uri, spawn_app_with, wait_until};

/// An app whose synchronous generations of 100,000 documents (the largest that is not a job) take
/// far longer than `timeout_secs` on any machine: one document per batch, one batch at a time.
async fn slow_app(max_concurrent: u32, timeout_secs: u64) -> TestApp {
    spawn_app_with(&mongo_uri(), |db, serve| {
        db.batch_size = 1;
        db.inflight_batches = 1;
        serve.max_concurrent_requests = max_concurrent;
        serve.request_timeout_secs = timeout_secs;
    })
    .await
}

/// Checks a 503 with `Retry-After` and error `code`.
async fn assert_503(res: reqwest::Response, code: &str) {
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "2");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
}

#[tokio::test]
async fn a_generation_over_the_concurrency_limit_gets_503_overloaded_and_the_slot_comes_back() {
    let app = slow_app(1, 2).await;
    let busy = {
        let (http, url) = (app.http.clone(), format!("{}/generate/calls", app.address));
        tokio::spawn(async move {
            http.post(url)
                .json(&json!({ "count": 100_000 }))
                .send()
                .await
                .unwrap()
        })
    };
    // Its documents arriving show the first request holds the only slot.
    wait_until(
        Duration::from_secs(10),
        "the first request to write",
        async || app.count("calls", doc! {}).await > 0,
    )
    .await;

    let started = Instant::now();
    let res = app.post("/generate/metrics", &json!({ "count": 10 })).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once"
    );
    assert_503(res, "overloaded").await;
    assert_eq!(
        app.count("metrics", doc! {}).await,
        0,
        "a refusal writes nothing"
    );

    // The first request ends (here by the 2 s timeout) and frees its slot.
    assert_503(busy.await.unwrap(), "timeout").await;
    let res = app.post("/generate/metrics", &json!({ "count": 10 })).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    assert_eq!(app.count("metrics", doc! {}).await, 10);
}

#[tokio::test]
async fn a_request_over_the_timeout_gets_503_timeout_and_the_service_stays_up() {
    let app = slow_app(8, 1).await;
    let started = Instant::now();
    let res = app
        .post("/generate/calls", &json!({ "count": 100_000 }))
        .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "answered after {took:?}"
    );
    assert_503(res, "timeout").await;

    // The abandoned run stops: its count settles well short of the request.
    let mut last = app.count("calls", doc! {}).await;
    wait_until(
        Duration::from_secs(5),
        "the abandoned run to stop writing",
        async || {
            // Consecutive reads 200 ms apart that agree: nothing is being written any more.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = app.count("calls", doc! {}).await;
            std::mem::replace(&mut last, now) == now
        },
    )
    .await;
    assert!(last < 100_000, "{last} documents");

    assert_eq!(app.get("/healthz").await.status(), 200);
    let res = app.post("/generate/calls", &json!({ "count": 5 })).await;
    assert_eq!(res.status(), 201);
}
