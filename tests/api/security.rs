//! docs/operations.md "Security": open by default; with `API_KEY` set, POST and DELETE need
//! `Authorization: Bearer <key>` (`401 unauthorized` otherwise) and reads stay open.

use bson::doc;
use serde_json::{Value, json};

use crate::helpers::{mongo_uri, spawn_app, spawn_app_with};

#[tokio::test]
async fn with_an_api_key_writes_need_it_and_reads_stay_open() {
    let app = spawn_app_with(&mongo_uri(), |_, serve| {
        serve.api_key = Some("s3cret-key".into());
    })
    .await;
    let url = |path: &str| format!("{}{path}", app.address);
    let calls = json!({ "count": 10 });
    for auth in [
        None,
        Some("Bearer wrong-key"),
        Some("Bearer s3cret-ke"),
        Some("s3cret-key"),
        Some("Basic s3cret-key"),
    ] {
        let mut req = app.http.post(url("/generate/calls")).json(&calls);
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    }
    let res = app
        .http
        .delete(url("/jobs/no-such-job"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        app.count("calls", doc! {}).await,
        0,
        "a refused write writes nothing"
    );

    let res = app
        .http
        .post(url("/generate/calls"))
        .header("authorization", "Bearer s3cret-key")
        .json(&calls)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // The scheme is case-insensitive (RFC 7235).
    let res = app
        .http
        .post(url("/generate/calls"))
        .header("authorization", "bearer s3cret-key")
        .json(&calls)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app
        .http
        .delete(url("/jobs/no-such-job"))
        .header("authorization", "Bearer s3cret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    for path in ["/stats", "/jobs", "/healthz", "/openapi.yaml"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    assert_eq!(app.count("calls", doc! {}).await, 20);
}

#[tokio::test]
async fn without_an_api_key_writes_are_open() {
    let app = spawn_app().await;
    let res = app.post("/generate/calls", &json!({ "count": 3 })).await;
    assert_eq!(res.status(), 201);
}
