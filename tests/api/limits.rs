//! docs/operations.md "Settings": `MAX_CONCURRENT_REQUESTS` — more synchronous generations at once get `503`;
//! `REQUEST_TIMEOUT_SECS` — requests taking longer get `503`, except generations, which always
//! answer with what they wrote.

use std::time::{Duration, Instant};

use bson::doc;
use serde_json::{Value, json};

use crate::helpers::{TestApp, mongo_uri, spawn_app_with, wait_until};

/// An app whose synchronous generations are slow (one document per batch, one batch at a time),
/// with `timeout_secs` as `REQUEST_TIMEOUT_SECS`.
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
    let app = slow_app(1, 120).await;
    let busy = {
        let (http, url) = (app.http.clone(), format!("{}/generate/calls", app.address));
        tokio::spawn(async move {
            http.post(url)
                .json(&json!({ "count": 1_000 }))
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

    // The first request ends and frees its slot.
    assert_eq!(busy.await.unwrap().status(), 201);
    let res = app.post("/generate/metrics", &json!({ "count": 10 })).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    assert_eq!(app.count("metrics", doc! {}).await, 10);
}

/// docs/operations.md "Settings": `REQUEST_TIMEOUT_SECS` bounds every request but a generation. Cutting a
/// synchronous run after it wrote used to answer 503 with `Retry-After` while tens of thousands of
/// documents were already in: a client following the advice duplicated them.
#[tokio::test]
async fn the_request_timeout_never_cuts_a_generation_that_writes() {
    let app = spawn_app_with(&mongo_uri(), |db, serve| {
        db.batch_size = 100;
        db.inflight_batches = 1;
        serve.request_timeout_secs = 1;
    })
    .await;
    let started = Instant::now();
    let res = app
        .post("/generate/calls", &json!({ "count": 100_000 }))
        .await;
    let took = started.elapsed();
    assert!(
        took > Duration::from_secs(1),
        "the run must outlast the timeout for this test to mean anything ({took:?})"
    );
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    assert!(res.headers().get("retry-after").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["inserted"], 100_000, "{body}");
    assert_eq!(app.count("calls", doc! {}).await, 100_000);

    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// A synchronous generation the database stops part-way answers `500 partially_written` with the
/// exact count it wrote and no `Retry-After`: nothing advises repeating writes.
#[tokio::test]
async fn a_generation_cut_by_the_database_tells_what_it_wrote_and_advises_no_retry() {
    let app = spawn_app_with(&mongo_uri(), |db, _| {
        db.batch_size = 10;
        db.inflight_batches = 1;
    })
    .await;
    let request = {
        let (http, url) = (app.http.clone(), format!("{}/generate/calls", app.address));
        tokio::spawn(async move {
            http.post(url)
                .json(&json!({ "count": 100_000 }))
                .send()
                .await
                .unwrap()
        })
    };
    wait_until(
        Duration::from_secs(10),
        "the request to write",
        async || app.count("calls", doc! {}).await > 0,
    )
    .await;
    // From now on the database refuses every call document (as a full disk or a stricter
    // validator put in place by an operator would).
    app.db
        .run_command(doc! {
            "collMod": "calls",
            "validator": { "no_such_field": { "$exists": true } },
        })
        .await
        .expect("collMod");

    let res = request.await.unwrap();
    assert_eq!(res.status(), 500);
    assert!(
        res.headers().get("retry-after").is_none(),
        "no retry advice after writes"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "partially_written", "{body}");
    assert_eq!(body["error"]["written_exact"], true, "{body}");
    let written = body["error"]["written"].as_u64().unwrap();
    assert!(written > 0 && written < 100_000, "{body}");
    assert_eq!(written, app.count("calls", doc! {}).await, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{written} of 100000")),
        "{message}"
    );
}
