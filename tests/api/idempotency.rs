//! docs/api.md "Idempotency keys": a repeat of `POST /generate/*` with the same `Idempotency-Key`, on
//! any replica within a day, gets the first answer and writes nothing; the same key with another
//! body is a `422`; two at once: one does the work, the other waits for its answer.

use bson::doc;
use serde_json::{Value, json};

use crate::helpers::{TestApp, mongo_uri, spawn_app_with, spawn_replica};

/// POSTs `body` to `path` with `Idempotency-Key: key`.
async fn keyed(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.address))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_repeat_on_any_replica_gets_the_first_answer_and_writes_nothing() {
    let a = spawn_app_with(&mongo_uri(), |_, _| {}).await;
    let b = spawn_replica(&a, |_, _| {}).await;
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({ "count": 500, "days": 3 });

    let first = keyed(&a, "/generate/calls", &key, &body).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    // The same request with its keys in another order and other spacing is the same request.
    let same = json!({ "days": 3, "count": 500 });
    for app in [&a, &b, &b] {
        let res = keyed(app, "/generate/calls", &key, &same).await;
        assert_eq!(res.status(), 201);
        assert_eq!(res.headers()["idempotent-replayed"], "true");
        let again: Value = res.json().await.unwrap();
        assert_eq!(again, first, "the very same answer");
    }
    assert_eq!(a.count("calls", doc! {}).await, 500, "written once");

    // Without a key, the same body is a new request.
    assert_eq!(a.post("/generate/calls", &body).await.status(), 201);
    assert_eq!(a.count("calls", doc! {}).await, 1000);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_422_and_writes_nothing() {
    let app = spawn_app_with(&mongo_uri(), |_, _| {}).await;
    let key = "order-7";
    assert_eq!(
        keyed(&app, "/generate/calls", key, &json!({ "count": 10 }))
            .await
            .status(),
        201
    );
    for (path, body) in [
        ("/generate/calls", json!({ "count": 11 })),
        ("/generate/metrics", json!({ "count": 10 })),
    ] {
        let res = keyed(&app, path, key, &body).await;
        assert_eq!(res.status(), 422, "{path}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "invalid_field", "{err}");
        assert_eq!(err["error"]["field"], "Idempotency-Key", "{err}");
    }
    assert_eq!(app.count("calls", doc! {}).await, 10);
    assert_eq!(app.count("metrics", doc! {}).await, 0);

    // A key must be 1 to 255 visible ASCII characters.
    for bad in ["x".repeat(256), "a b".to_string()] {
        let res = keyed(&app, "/generate/calls", &bad, &json!({ "count": 1 })).await;
        assert_eq!(res.status(), 422);
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["field"], "Idempotency-Key", "{err}");
    }
    assert_eq!(app.count("calls", doc! {}).await, 10);
}

#[tokio::test]
async fn two_requests_with_one_key_at_once_write_once_and_get_one_answer() {
    let a = spawn_app_with(&mongo_uri(), |db, _| db.batch_size = 500).await;
    let b = spawn_replica(&a, |db, _| db.batch_size = 500).await;
    let body = json!({ "count": 30_000 });
    let (x, y) = tokio::join!(
        keyed(&a, "/generate/calls", "together", &body),
        keyed(&b, "/generate/calls", "together", &body),
    );
    assert_eq!(x.status(), 201);
    assert_eq!(y.status(), 201);
    let replayed = [&x, &y]
        .iter()
        .filter(|r| r.headers().contains_key("idempotent-replayed"))
        .count();
    assert_eq!(replayed, 1, "one did the work, the other got its answer");
    let (x, y): (Value, Value) = (x.json().await.unwrap(), y.json().await.unwrap());
    assert_eq!(x, y);
    assert_eq!(a.count("calls", doc! {}).await, 30_000);
}

#[tokio::test]
async fn a_keyed_job_is_the_same_job_and_a_refusal_frees_the_key() {
    let a = spawn_app_with(&mongo_uri(), |_, serve| serve.max_jobs = 1).await;
    let b = spawn_replica(&a, |_, serve| serve.max_jobs = 1).await;
    let big = json!({ "count": 5_000_000 });
    let res = keyed(&a, "/generate/metrics", "big", &big).await;
    assert_eq!(res.status(), 202);
    let job: Value = res.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();

    // The repeat, on the other replica, answers with the same job as it is now.
    let res = keyed(&b, "/generate/metrics", "big", &big).await;
    assert_eq!(res.status(), 202);
    assert_eq!(res.headers()["location"], format!("/jobs/{id}").as_str());
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["id"], id.as_str());
    let jobs: Value = b.get("/jobs").await.json().await.unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");

    // A request refused before writing anything (429: this replica runs its one job) does not
    // keep its key: the retry does the work.
    let small = json!({ "count": 10, "async": true });
    assert_eq!(
        keyed(&a, "/generate/calls", "small", &small).await.status(),
        429
    );
    let res = keyed(&b, "/generate/calls", "small", &small).await;
    assert_eq!(res.status(), 202);
    assert!(res.headers().get("idempotent-replayed").is_none());

    assert_eq!(a.cancel(&id).await.status(), 200);
}
