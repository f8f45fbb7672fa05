use bson::doc;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

async fn assert_error(
    res: reqwest::Response,
    status: u16,
    code: &str,
    field: Option<&str>,
) -> Value {
    assert_eq!(res.status().as_u16(), status);
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    if let Some(f) = field {
        assert_eq!(body["error"]["field"], f, "{body}");
    }
    body
}

#[tokio::test]
async fn bad_generation_requests_get_4xx_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/generate/calls", json!({ "count": 0 }), "count"),
        ("/generate/calls", json!({ "count": -3 }), "count"),
        ("/generate/calls", json!({ "count": 100_000_001 }), "count"),
        ("/generate/calls", json!({ "count": "ten" }), "count"),
        ("/generate/calls", json!({ "count": 1.5 }), "count"),
        ("/generate/calls", json!({}), "count"),
        (
            "/generate/calls",
            json!({ "count": 5, "colour": "red" }),
            "colour",
        ),
        ("/generate/calls", json!({ "count": 5, "days": 0 }), "days"),
        (
            "/generate/calls",
            json!({ "count": 5, "days": 4000 }),
            "days",
        ),
        ("/generate/calls", json!({ "count": 5, "seed": -1 }), "seed"),
        (
            "/generate/calls",
            json!({ "count": 5, "end": "yesterday" }),
            "end",
        ),
        (
            "/generate/calls",
            json!({ "count": 5, "days": 30, "end": "1970-01-02T00:00:00Z" }),
            "end",
        ),
        ("/generate/calls", json!([1, 2]), "body"),
        ("/generate/metrics", json!({ "count": 0 }), "count"),
        (
            "/generate/metrics",
            json!({ "count": 5, "step_seconds": 0 }),
            "step_seconds",
        ),
        (
            "/generate/metrics",
            json!({ "count": 5, "categories": [] }),
            "categories",
        ),
        (
            "/generate/metrics",
            json!({ "count": 5, "categories": ["cpu", "gpu"] }),
            "categories[1]",
        ),
        (
            "/generate/metrics",
            json!({ "count": 5, "categories": "cpu" }),
            "categories",
        ),
        (
            "/generate/metrics",
            json!({ "count": 5, "hosts": 0 }),
            "hosts",
        ),
        (
            "/generate/metrics",
            json!({ "count": 5, "unknown": true }),
            "unknown",
        ),
        (
            "/generate/metrics",
            json!({ "count": 5, "end": "1969-12-31T23:59:59Z" }),
            "end",
        ),
        (
            "/generate/metrics",
            json!({ "count": 1, "end": "1900-01-01T00:00:00Z" }),
            "end",
        ),
        // 20 ticks of 30 s back from 10 s after the epoch: the chosen end is at fault.
        (
            "/generate/metrics",
            json!({ "count": 100, "end": "1970-01-01T00:00:10Z" }),
            "end",
        ),
    ];
    for (path, body, field) in cases {
        let res = app.post(path, &body).await;
        let err = assert_error(res, 422, "invalid_field", Some(field)).await;
        let message = err["error"]["message"].as_str().unwrap();
        if field == "count" && body["count"].is_i64() {
            assert!(
                message.contains("between 1 and 100000000"),
                "names the bound: {message}"
            );
        }
    }

    let raw = |path: &str, body: &'static str, content_type: &'static str| {
        app.http
            .post(format!("{}{path}", app.address))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_error(
        raw("/generate/calls", "{\"count\": ", "application/json")
            .await
            .unwrap(),
        400,
        "malformed_request",
        None,
    )
    .await;
    // A duplicated key is named, not blamed on the whole body.
    for (path, body, field) in [
        ("/generate/calls", "{\"count\": 5, \"count\": 6}", "count"),
        (
            "/generate/calls",
            "{\"count\": 5, \"seed\": 1, \"seed\": 2}",
            "seed",
        ),
        (
            "/generate/metrics",
            "{\"count\": 5, \"hosts\": 1, \"hosts\": 1}",
            "hosts",
        ),
    ] {
        let res = raw(path, body, "application/json").await.unwrap();
        let err = assert_error(res, 422, "invalid_field", Some(field)).await;
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("duplicate"), "{message}");
    }
    assert_error(
        raw("/generate/calls", "{\"count\": 5}", "text/plain")
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
        None,
    )
    .await;
    let huge: &'static str =
        Box::leak(format!("{{\"count\": 5, \"seed\": {}}}", "1".repeat(40_000)).into_boxed_str());
    assert_error(
        raw("/generate/calls", huge, "application/json")
            .await
            .unwrap(),
        413,
        "payload_too_large",
        None,
    )
    .await;

    assert_eq!(app.count("calls", doc! {}).await, 0);
    assert_eq!(app.count("metrics", doc! {}).await, 0);
}

#[tokio::test]
async fn bad_queries_routes_and_methods_get_json_errors() {
    let app = spawn_app().await;
    assert_error(
        app.get("/stats?from=last-week").await,
        422,
        "invalid_field",
        Some("from"),
    )
    .await;
    assert_error(
        app.get("/stats?from=2026-01-02&to=2026-01-01").await,
        422,
        "invalid_field",
        Some("to"),
    )
    .await;
    // Dashboards add cache busters (`_=…`) and send empty variables: both are accepted.
    assert_eq!(
        app.get("/stats?_=1700000000000&from=&to=").await.status(),
        200
    );
    for (query, field) in [
        ("/stats?from=2026-01-01&from=2026-01-02", "from"),
        ("/stats/calls/series?interval=1h&interval=2h", "interval"),
        ("/jobs?limit=3&limit=4", "limit"),
    ] {
        let err = assert_error(app.get(query).await, 422, "invalid_field", Some(field)).await;
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("duplicate"), "{query}: {message}");
    }
    assert_error(
        app.get("/stats?source=cache").await,
        422,
        "invalid_field",
        Some("source"),
    )
    .await;
    assert_error(
        app.get("/stats/calls/series?interval=1M").await,
        422,
        "invalid_field",
        Some("interval"),
    )
    .await;
    assert_error(
        app.get("/stats/calls/series?from=2026-01-01&to=2026-01-05&interval=5m")
            .await,
        422,
        "invalid_field",
        Some("interval"),
    )
    .await;
    assert_error(
        app.get("/jobs?limit=0").await,
        422,
        "invalid_field",
        Some("limit"),
    )
    .await;
    assert_error(app.get("/nowhere").await, 404, "not_found", None).await;
    assert_error(
        app.get("/jobs/00000000-0000-0000-0000-000000000000").await,
        404,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.get("/generate/calls").await,
        405,
        "method_not_allowed",
        None,
    )
    .await;
}
