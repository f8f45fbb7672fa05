//! Faults and load around the service: a database that comes up after the service, a database
//! frozen for a while, and a burst of concurrent generations.

use std::time::{Duration, Instant};

use bson::{Document, doc};
use futures::TryStreamExt;
use serde_json::{Value, json};

use crate::helpers::{TestApp, mongo_uri, poll_until, spawn_app_with, wait_until};
use crate::processes::PrivateServer;

/// Starts a background job of `count` documents at `path`, retrying while the database is still
/// being found again (503), and waits until it is done.
async fn job_done(app: &TestApp, path: &str, count: u32) {
    let id = poll_until(Duration::from_secs(30), "a job to start", async || {
        let res = app
            .post(path, &json!({ "count": count, "async": true }))
            .await;
        let status = res.status();
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        if status == 202 {
            Ok(body["id"].as_str().unwrap().to_string())
        } else {
            Err(format!("{status}: {body}"))
        }
    })
    .await;
    poll_until(Duration::from_secs(60), "the job to be done", async || {
        let job: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
        if job["state"] == "done" {
            Ok(())
        } else {
            Err(job.to_string())
        }
    })
    .await;
}

/// The `$jsonSchema` validator of `name`, if it has one.
async fn validator(app: &TestApp, name: &str) -> Option<Document> {
    let specs: Vec<_> = app
        .db
        .list_collections()
        .filter(doc! { "name": name })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    specs.first().and_then(|s| s.options.validator.clone())
}

#[tokio::test]
async fn jobs_set_the_collections_up_when_the_database_came_up_after_the_service() {
    let mut server = PrivateServer::start();
    server.kill();
    // Set-up at start-up fails: nothing answers.
    let app = spawn_app_with(&server.uri(), |_, _| {}).await;
    server.restart();

    // Only background jobs write: nothing else (like /readyz) gets to run the set-up first.
    job_done(&app, "/generate/calls", 50).await;
    job_done(&app, "/generate/metrics", 50).await;

    for (name, index) in [
        ("calls", "start_time_1_status_1"),
        ("metrics", "category_1_timestamp_1"),
    ] {
        assert!(
            validator(&app, name).await.is_some(),
            "{name} has no validator"
        );
        let indexes = app
            .db
            .collection::<Document>(name)
            .list_index_names()
            .await
            .unwrap();
        assert!(indexes.iter().any(|i| i == index), "{name}: {indexes:?}");
    }
    assert_eq!(app.count("calls", doc! {}).await, 50);
}

#[tokio::test]
async fn a_frozen_database_gets_503_in_time_and_the_service_recovers_by_itself() {
    let server = PrivateServer::start();
    let app = spawn_app_with(&server.uri(), |_, serve| serve.request_timeout_secs = 3).await;
    wait_until(Duration::from_secs(30), "readiness", async || {
        app.get("/readyz").await.status() == 200
    })
    .await;
    assert_eq!(
        app.post("/generate/calls", &json!({ "count": 10 }))
            .await
            .status(),
        201
    );

    server.freeze();
    let frozen = Instant::now();
    // Readiness within MONGO_TIMEOUT_MS (1 s here), a generation within the request timeout.
    let ready = app
        .http
        .get(format!("{}/readyz", app.address))
        .timeout(Duration::from_secs(4))
        .send()
        .await
        .expect("readiness answers within MONGO_TIMEOUT_MS, not after the freeze");
    assert_eq!(ready.status(), 503);
    // Refused before writing (503, retry advised), or sent and unanswered: then the answer says
    // it cannot tell how many arrived and advises no retry (never a silent duplicate).
    let res = app.post("/generate/calls", &json!({ "count": 10 })).await;
    let status = res.status().as_u16();
    let retry = res.headers().get("retry-after").is_some();
    let body: Value = res.json().await.unwrap();
    match status {
        503 => assert!(retry, "{body}"),
        500 => {
            assert_eq!(body["error"]["code"], "partially_written", "{body}");
            assert_eq!(body["error"]["written_exact"], false, "{body}");
            assert!(!retry, "{body}");
        }
        other => panic!("{other}: {body}"),
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
    // The freeze lasts 5 s in all.
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(frozen.elapsed())).await;
    server.thaw();

    wait_until(Duration::from_secs(60), "readiness again", async || {
        app.get("/readyz").await.status() == 200
    })
    .await;
    let res = app.post("/generate/calls", &json!({ "count": 10 })).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
}

#[tokio::test]
async fn two_hundred_concurrent_generations_are_all_answered_and_the_counts_add_up() {
    let app = spawn_app_with(&mongo_uri(), |_, serve| serve.max_jobs = 2).await;
    let http = crate::helpers::http_builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let requests = (0..200).map(|i| {
        let (http, url) = (http.clone(), format!("{}/generate/calls", app.address));
        // Every tenth asks for a background job.
        let body = json!({ "count": 10 + i, "async": i % 10 == 0 });
        async move {
            let res = http.post(url).json(&body).send().await.expect("answered");
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.expect("a JSON body"))
        }
    });
    let answers = futures::future::join_all(requests).await;
    let mut total = 0;
    for (status, body) in &answers {
        match status {
            201 => total += body["inserted"].as_u64().unwrap(),
            202 => {
                let id = body["id"].as_str().unwrap();
                let job = poll_until(Duration::from_secs(60), "the job to end", async || {
                    let job: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
                    if job["state"] == "running" {
                        Err(job.to_string())
                    } else {
                        Ok(job)
                    }
                })
                .await;
                assert_eq!(job["state"], "done", "{job}");
                total += job["inserted"].as_u64().unwrap();
            }
            429 | 503 => assert!(body["error"]["code"].is_string(), "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(answers.iter().any(|(s, _)| *s == 201), "none succeeded");
    assert_eq!(app.count("calls", doc! {}).await, total);
}
