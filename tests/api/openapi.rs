//! `openapi.yaml` describes exactly the routes the router serves, and the service serves it.

use std::collections::BTreeSet;

use linq_datagen::error::ErrorCode;
use linq_datagen::http::{OPENAPI_YAML, routes, served_spec};
use serde_yaml_ng::Value;

use crate::helpers::{mongo_uri, spawn_app, spawn_app_with};

fn documented() -> BTreeSet<(String, String)> {
    let spec: Value = serde_yaml_ng::from_str(OPENAPI_YAML).expect("openapi.yaml is YAML");
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if method != "parameters" {
                ops.insert((path.as_str().unwrap().to_string(), method.to_uppercase()));
            }
        }
    }
    ops
}

#[test]
fn the_spec_and_the_router_list_the_same_operations() {
    let served: BTreeSet<(String, String)> = routes()
        .into_iter()
        .map(|(p, m)| (p.to_string(), m.as_str().to_string()))
        .collect();
    assert_eq!(documented(), served);
}

#[test]
fn every_error_code_the_service_uses_is_in_the_spec() {
    let spec: Value = serde_yaml_ng::from_str(OPENAPI_YAML).unwrap();
    let documented: BTreeSet<String> =
        spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_sequence()
            .expect("the Error schema lists its codes")
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
    let used: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(documented, used);
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_the_spec_is_served() {
    let app = spawn_app().await;
    for (path, method) in documented() {
        let url = format!("{}{}", app.address, path.replace("{id}", "no-such-job"));
        let res = app
            .http
            .request(method.parse().unwrap(), url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 405, "{method} {path} is not routed");
        if res.status() == 404 {
            let body: serde_json::Value = res.json().await.unwrap();
            assert_ne!(
                body["error"]["message"], "no such route",
                "{method} {path} is not routed"
            );
        }
    }
    let res = app.get("/openapi.yaml").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), OPENAPI_YAML);
}

#[tokio::test]
async fn metrics_scrape_cleanly_after_traffic() {
    let app = spawn_app().await;
    let res = app
        .post("/generate/calls", &serde_json::json!({ "count": 20 }))
        .await;
    assert_eq!(res.status(), 201);
    app.get("/stats").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for needle in [
        "http_requests_total{",
        "route=\"/generate/calls\"",
        "http_request_duration_seconds_bucket{",
        "documents_generated_total{collection=\"calls\"}",
        "documents_inserted_total{collection=\"calls\"}",
        "insert_batch_duration_seconds_bucket{",
        "jobs_running",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // Every sample line is `name{labels} value` or `name value` with a numeric value.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(
            value.parse::<f64>().is_ok() || value == "+Inf",
            "bad sample: {line}"
        );
    }
}

#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    for i in 0..50 {
        let method = reqwest::Method::from_bytes(format!("M{i}").as_bytes()).unwrap();
        let res = app
            .http
            .request(method, format!("{}/stats", app.address))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        !text.contains("method=\"M1\""),
        "a made-up method became a label"
    );
    assert!(text.contains("method=\"other\""), "{text}");
}

#[tokio::test]
async fn the_served_spec_bounds_count_by_this_instances_max_count() {
    assert_eq!(served_spec(100_000_000, 100_000), OPENAPI_YAML);
    let app = spawn_app_with(&mongo_uri(), |_, serve| serve.max_count = 2000).await;
    let text = app.get("/openapi.yaml").await.text().await.unwrap();
    let spec: Value = serde_yaml_ng::from_str(&text).unwrap();
    for schema in ["CallsRequest", "MetricsRequest"] {
        let count = &spec["components"]["schemas"][schema]["properties"]["count"];
        assert_eq!(count["maximum"].as_u64(), Some(2000), "{schema}");
    }
    let export = &spec["components"]["parameters"]["ExportCount"]["schema"];
    assert_eq!(export["maximum"].as_u64(), Some(2000), "ExportCount");
    let res = app
        .post("/generate/calls", &serde_json::json!({ "count": 2001 }))
        .await;
    assert_eq!(res.status(), 422, "the served bound is the enforced one");
}
