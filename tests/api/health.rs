use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with};
use crate::processes::ClosedPort;

#[tokio::test]
async fn health_and_readiness_answer_when_the_database_is_up() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn a_request_id_is_propagated() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn a_stopped_database_gets_a_quick_503_and_the_process_stays_up() {
    let closed = ClosedPort::bind();
    let app = spawn_app_with(&closed.mongo_uri(), |_, _| {}).await;
    // The four at once: each waits out the 1 s server-selection timeout on its own.
    let answers = futures::future::join_all(
        [
            ("GET", "/readyz"),
            ("POST", "/generate/calls"),
            ("POST", "/generate/metrics"),
            ("GET", "/stats"),
        ]
        .map(|(method, path)| {
            let app = &app;
            async move {
                let started = Instant::now();
                let res = if method == "GET" {
                    app.get(path).await
                } else {
                    app.post(path, &json!({ "count": 10 })).await
                };
                (path, started.elapsed(), res)
            }
        }),
    )
    .await;
    for (path, took, res) in answers {
        // The driver's own default would wait 30 s; the configured timeout is 1 s.
        assert!(took < Duration::from_secs(10), "{path} took {took:?}");
        assert_eq!(res.status(), 503, "{path}");
        assert_eq!(res.headers()["retry-after"], "2");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], "database_unavailable",
            "{path}: {body}"
        );
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
}
