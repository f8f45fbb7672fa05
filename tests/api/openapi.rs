//! `openapi.yaml` describes exactly the routes the router serves, and the service serves it.

use std::collections::BTreeSet;

use linq_datagen::config::ServeSettings;
use linq_datagen::error::ErrorCode;
use linq_datagen::http::{OPENAPI_YAML, SECURITY_LINES, bounds, routes, served_spec};
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
    let served = res.text().await.unwrap();
    assert_eq!(served, served_spec(&ServeSettings::for_tests()));
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

/// Every schema marked `x-bound`, as (path in the spec, setting, maximum).
fn marked_bounds(spec: &Value) -> Vec<(String, String, Value)> {
    fn walk(v: &Value, path: &str, out: &mut Vec<(String, String, Value)>) {
        match v {
            Value::Mapping(m) => {
                if let Some(name) = m.get("x-bound").and_then(Value::as_str) {
                    out.push((path.into(), name.into(), m["maximum"].clone()));
                }
                for (k, v) in m {
                    let key = k.as_str().map_or_else(|| format!("{k:?}"), str::to_owned);
                    walk(v, &format!("{path}/{key}"), out);
                }
            }
            Value::Sequence(s) => {
                for (i, v) in s.iter().enumerate() {
                    walk(v, &format!("{path}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(spec, "", &mut out);
    out
}

/// (path, method) of operations.
type Operations = BTreeSet<(String, String)>;

/// Every operation with a `security` requirement, and every one with a 401.
fn secured(spec: &Value) -> (Operations, Operations) {
    let (mut security, mut unauthorized) = (BTreeSet::new(), BTreeSet::new());
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            let key = (
                path.as_str().unwrap().to_string(),
                method.as_str().unwrap().to_uppercase(),
            );
            if op.get("security").is_some() {
                security.insert(key.clone());
            }
            if op.get("responses").is_some_and(|r| r.get("401").is_some()) {
                unauthorized.insert(key);
            }
        }
    }
    (security, unauthorized)
}

fn writes() -> Operations {
    documented()
        .into_iter()
        .filter(|(_, m)| m == "POST" || m == "DELETE")
        .collect()
}

#[test]
fn the_spec_file_states_the_default_bounds_and_every_bound_is_a_setting() {
    let mut settings = ServeSettings::for_tests();
    settings.api_key = Some("key".into());
    assert_eq!(served_spec(&settings), OPENAPI_YAML);
    let defaults: std::collections::BTreeMap<_, _> = bounds(&settings).into_iter().collect();
    let spec: Value = serde_yaml_ng::from_str(OPENAPI_YAML).unwrap();
    let marked = marked_bounds(&spec);
    assert!(marked.len() >= 4, "{marked:?}");
    for (path, name, maximum) in &marked {
        let value = defaults.get(name.as_str());
        assert!(value.is_some(), "{path}: x-bound {name} is no setting");
        assert_eq!(
            maximum.as_u64().map(|m| m.to_string()).as_ref(),
            value,
            "{path}"
        );
    }
    let named: BTreeSet<&str> = marked.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(
        named,
        defaults.keys().copied().collect(),
        "a setting bounds nothing"
    );
}

#[tokio::test]
async fn the_served_spec_states_this_instances_bounds() {
    let app = spawn_app_with(&mongo_uri(), |_, serve| {
        serve.max_count = 2000;
        serve.live_max_calls_per_second = 50;
    })
    .await;
    let text = app.get("/openapi.yaml").await.text().await.unwrap();
    let spec: Value = serde_yaml_ng::from_str(&text).unwrap();
    for schema in ["CallsRequest", "MetricsRequest"] {
        let count = &spec["components"]["schemas"][schema]["properties"]["count"];
        assert_eq!(count["maximum"].as_u64(), Some(2000), "{schema}");
    }
    let export = &spec["components"]["parameters"]["ExportCount"]["schema"];
    assert_eq!(export["maximum"].as_u64(), Some(2000), "ExportCount");
    let rate = &spec["components"]["schemas"]["LiveRequest"]["properties"]["calls_per_second"];
    assert_eq!(rate["maximum"].as_u64(), Some(50), "calls_per_second");
    for (path, name, maximum) in marked_bounds(&spec) {
        let want = if name == "MAX_COUNT" { 2000 } else { 50 };
        assert_eq!(maximum.as_u64(), Some(want), "{path}");
    }
    let res = app
        .post("/generate/calls", &serde_json::json!({ "count": 2001 }))
        .await;
    assert_eq!(res.status(), 422, "the served bound is the enforced one");
    let res = app
        .post("/live", &serde_json::json!({ "calls_per_second": 51 }))
        .await;
    assert_eq!(res.status(), 422, "the served rate is the enforced one");
}

#[tokio::test]
async fn without_an_api_key_the_served_spec_asks_for_no_authorization() {
    let file: Value = serde_yaml_ng::from_str(OPENAPI_YAML).unwrap();
    assert_eq!(
        secured(&file),
        (writes(), writes()),
        "the file: every write"
    );
    let app = spawn_app().await;
    let text = app.get("/openapi.yaml").await.text().await.unwrap();
    for line in SECURITY_LINES {
        assert!(OPENAPI_YAML.contains(line), "{line:?} is not in the file");
    }
    let spec: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(secured(&spec), (BTreeSet::new(), BTreeSet::new()));
    let res = app
        .post("/generate/calls", &serde_json::json!({ "count": 1 }))
        .await;
    assert_eq!(
        res.status(),
        201,
        "a write without a key is accepted, as served"
    );
}

#[tokio::test]
async fn with_an_api_key_the_served_spec_secures_every_write() {
    let app = spawn_app_with(&mongo_uri(), |_, serve| {
        serve.api_key = Some("s3cret".into());
    })
    .await;
    let text = app.get("/openapi.yaml").await.text().await.unwrap();
    let spec: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(secured(&spec), (writes(), writes()));
    for (path, method) in writes() {
        let op = &spec["paths"][path.as_str()][method.to_lowercase().as_str()];
        assert_eq!(
            op["security"][0]["apiKey"],
            Value::Sequence(vec![]),
            "{method} {path}"
        );
        let url = format!("{}{}", app.address, path.replace("{id}", "no-such-id"));
        let res = app
            .http
            .request(method.parse().unwrap(), url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method} {path} is secured as served");
    }
}

#[test]
fn the_query_scenario_is_the_body_scenario_without_nulls() {
    let spec: Value = serde_yaml_ng::from_str(OPENAPI_YAML).unwrap();
    let schemas = &spec["components"]["schemas"];
    let strip = |v: &Value| {
        let mut v = v.clone();
        let m = v.as_mapping_mut().unwrap();
        m.remove("nullable");
        m.remove("description");
        v
    };
    let body = schemas["Scenario"]["properties"].as_mapping().unwrap();
    let query = schemas["ScenarioQuery"]["properties"].as_mapping().unwrap();
    assert_eq!(body.len(), query.len());
    for (name, field) in body {
        assert_eq!(strip(field), strip(&query[name]), "{name:?}");
    }
    assert_eq!(
        schemas["Scenario"]["required"],
        schemas["ScenarioQuery"]["required"]
    );
}

#[test]
fn every_event_stream_is_described_event_by_event_and_read_briefly_by_the_fuzzer() {
    let spec: Value = serde_yaml_ng::from_str(OPENAPI_YAML).unwrap();
    let fuzz_config = include_str!("../../scripts/schemathesis.toml");
    assert!(fuzz_config.contains("include-path-regex = \"/stream$\""));
    let mut streams = 0;
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for (_, op) in item.as_mapping().unwrap() {
            let Some(responses) = op.get("responses") else {
                continue;
            };
            for (_, response) in responses.as_mapping().unwrap() {
                let Some(sse) = response
                    .get("content")
                    .and_then(|c| c.get("text/event-stream"))
                else {
                    continue;
                };
                streams += 1;
                let path = path.as_str().unwrap();
                assert!(
                    path.ends_with("/stream"),
                    "{path}: the fuzzer reads it for a minute"
                );
                let reference = sse["schema"]["$ref"].as_str().unwrap_or_default();
                let name = reference.rsplit('/').next().unwrap();
                let event = &spec["components"]["schemas"][name];
                let variants = match event.get("oneOf") {
                    Some(v) => v.as_sequence().unwrap().clone(),
                    None => vec![event.clone()],
                };
                for v in variants {
                    assert!(
                        v["properties"]["event"]["enum"].is_sequence(),
                        "{path}: {v:?}"
                    );
                    assert_eq!(
                        v["properties"]["data"]["contentMediaType"],
                        "application/json"
                    );
                }
            }
        }
    }
    assert_eq!(streams, 2);
}
