//! docs/api.md "Preview": `GET /preview/*` answers with exactly the documents a generation with the
//! same parameters, seed and end writes (parsed back from Extended JSON with the `bson` crate and
//! compared field by field with what the generation stored), writes nothing, and refuses bad
//! parameters with the generate endpoints' 422s. `generate --dry-run` prints the same documents.

use bson::Document;
use serde_json::{Value, json};

use crate::cli::generate_without_database;
use crate::helpers::spawn_app;

/// The preview's documents without their `_id`s (which identify a run, not its content).
fn previewed(body: &Value) -> Vec<Document> {
    body["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| {
            let bson::Bson::Document(mut d) =
                bson::Bson::try_from(d.clone()).expect("Extended JSON")
            else {
                panic!("a document: {d}")
            };
            assert!(d.get_object_id("_id").is_ok(), "{d}");
            d.remove("_id");
            d
        })
        .collect()
}

#[tokio::test]
async fn a_preview_shows_what_the_generation_writes_and_writes_nothing() {
    let app = spawn_app().await;
    let end = "2026-11-01T00:00:00Z";
    let calls = format!(
        "/preview/calls?count=300&seed=42&days=3&end={end}&scenario[kind]=fraud_burst&scenario[minutes]=600"
    );
    let metrics = format!(
        "/preview/metrics?count=240&seed=7&step_seconds=60&hosts=2&categories=cpu,latency&end={end}\
         &scenario[kind]=outage&scenario[host]=2"
    );
    let (calls, metrics): (Value, Value) = (
        app.get(&calls).await.json().await.unwrap(),
        app.get(&metrics).await.json().await.unwrap(),
    );
    assert_eq!(
        (calls["seed"].as_u64(), calls["collection"].as_str()),
        (Some(42), Some("calls"))
    );
    assert_eq!(
        app.count("calls", bson::doc! {}).await,
        0,
        "a preview writes nothing"
    );
    assert_eq!(app.count("metrics", bson::doc! {}).await, 0);

    let body = json!({"count": 300, "seed": 42, "days": 3, "end": end,
                      "scenario": {"kind": "fraud_burst", "minutes": 600}});
    assert_eq!(app.post("/generate/calls", &body).await.status(), 201);
    let body = json!({"count": 240, "seed": 7, "step_seconds": 60, "hosts": 2, "end": end,
                      "categories": ["cpu", "latency"], "scenario": {"kind": "outage", "host": 2}});
    assert_eq!(app.post("/generate/metrics", &body).await.status(), 201);

    let (shown, stored) = (previewed(&calls), app.generated("calls").await);
    assert_eq!(shown.len(), 300);
    assert_eq!(
        shown, stored,
        "previewed calls equal the stored ones, field by field"
    );
    assert!(
        shown.iter().any(|d| d.get_str("anomaly").is_ok()),
        "the scenario applies"
    );
    let (shown, stored) = (previewed(&metrics), app.generated("metrics").await);
    assert_eq!(shown.len(), 240);
    assert_eq!(shown, stored);
    assert!(shown.iter().any(|d| d.get_str("anomaly") == Ok("outage")));
}

#[tokio::test]
async fn a_preview_refuses_what_the_generate_endpoint_refuses_and_names_the_parameter() {
    let app = spawn_app().await;
    for (path, field, part) in [
        ("/preview/calls?count=1001", "count", "between 1 and 1000"),
        ("/preview/calls?count=0", "count", "between 1 and 1000"),
        ("/preview/calls?days=0", "days", "between 1 and 3650"),
        ("/preview/calls?seed=abc", "seed", "expected an integer"),
        ("/preview/calls?colour=red", "colour", "unknown parameter"),
        ("/preview/calls?seed=1&seed=2", "seed", "duplicate"),
        ("/preview/calls?end=", "end", "expected a value"),
        ("/preview/calls?end=yesterday", "end", ""),
        ("/preview/calls?scenario[kind]=flood", "scenario.kind", ""),
        (
            "/preview/calls?scenario[kind]=surge&scenario[minutes]=null",
            "scenario[minutes]",
            "expected an integer",
        ),
        (
            "/preview/metrics?categories=cpu,%20memory",
            "categories[1]",
            "unknown category",
        ),
        (
            "/preview/metrics?categories=cpu,gpu",
            "categories[1]",
            "unknown category",
        ),
        (
            "/preview/metrics?hosts=2&scenario[kind]=outage&scenario[host]=3",
            "scenario.host",
            "",
        ),
        (
            "/preview/metrics?count=1000&step_seconds=31536000&hosts=1&categories=cpu",
            "step_seconds",
            "1970",
        ),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 422, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(part), "{path}: {message}");
    }
    // Defaults: ten documents, a random seed and the current end, reported back.
    let body: Value = app
        .get("/preview/metrics?_=123")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["documents"].as_array().unwrap().len(), 10);
    assert!(body["seed"].is_u64() && body["end"].is_string(), "{body}");
}

#[tokio::test]
async fn generate_dry_run_prints_the_previewed_documents_without_a_database() {
    let app = spawn_app().await;
    let preview: Value = app
        .get("/preview/calls?count=25&seed=9&end=2026-11-01T00:00:00Z")
        .await
        .json()
        .await
        .unwrap();
    let out = generate_without_database(&[
        "calls",
        "--count",
        "25",
        "--seed",
        "9",
        "--end",
        "2026-11-01T00:00:00Z",
        "--dry-run",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("25 documents for calls (not written), seed 9"),
        "{stderr}"
    );
    let printed: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
        .collect();
    assert_eq!(
        previewed(&json!({ "documents": printed })),
        previewed(&preview)
    );
}
