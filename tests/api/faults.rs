//! Faults of the database around the service: a database that comes up after the service.

use std::time::Duration;

use bson::{Document, doc};
use futures::TryStreamExt;
use serde_json::{Value, json};

use crate::helpers::{TestApp, poll_until, spawn_app_with};
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
