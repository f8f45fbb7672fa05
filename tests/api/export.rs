//! docs/api.md "Export": `GET /export/*` streams the documents a generation with the same seed
//! writes (NDJSON parsed back with the `bson` crate, CSV parsed here on its own, both compared
//! field by field with what the generation stored), by `Accept`, gzip when asked; bad parameters
//! get the generate endpoints' 422s; exports are bounded and stop when their client goes away.

use std::time::Duration;

use bson::{Bson, Document};
use serde_json::{Value, json};

use crate::cli::generate_without_database;
use crate::helpers::{mongo_uri, spawn_app, spawn_app_with, wait_until};

/// NDJSON lines as documents, without their `_id`s.
fn from_ndjson(text: &str) -> Vec<Document> {
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("a JSON line");
            let Ok(Bson::Document(mut d)) = Bson::try_from(value) else {
                panic!("an Extended JSON document: {line}")
            };
            assert!(d.get_object_id("_id").is_ok());
            d.remove("_id");
            d
        })
        .collect()
}

/// CSV with a typed header (`name.type()`) as documents; an empty cell is an absent field.
fn from_csv(text: &str) -> Vec<Document> {
    let mut lines = text.lines();
    let header: Vec<(String, String)> = lines
        .next()
        .expect("a header line")
        .split(',')
        .map(|c| {
            let (name, ty) = c.split_once('.').expect("name.type()");
            (name.to_string(), ty.split('(').next().unwrap().to_string())
        })
        .collect();
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{line}");
            let mut d = Document::new();
            for ((name, ty), cell) in header.iter().zip(cells) {
                if cell.is_empty() {
                    continue;
                }
                let value = match ty.as_str() {
                    "string" => Bson::String(cell.to_string()),
                    "int32" => Bson::Int32(cell.parse().unwrap()),
                    "double" => Bson::Double(cell.parse().unwrap()),
                    "date" => Bson::DateTime(bson::DateTime::from_chrono(
                        chrono::DateTime::parse_from_rfc3339(cell).unwrap(),
                    )),
                    other => panic!("column type {other}"),
                };
                d.insert(name, value);
            }
            d
        })
        .collect()
}

#[tokio::test]
async fn exports_are_exactly_what_a_generation_with_the_seed_writes() {
    let app = spawn_app().await;
    let end = "2026-11-01T00:00:00Z";
    let query =
        format!("count=3000&seed=5&days=2&end={end}&scenario[kind]=surge&scenario[factor]=3");
    let res = app.get(&format!("/export/calls?{query}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    assert_eq!(res.headers()["x-seed"], "5");
    let ndjson = res.text().await.unwrap();
    let res = app
        .http
        .get(format!("{}/export/calls?{query}", app.address))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    assert_eq!(
        app.count("calls", bson::doc! {}).await,
        0,
        "an export writes nothing"
    );

    let body = json!({"count": 3000, "seed": 5, "days": 2, "end": end,
                      "scenario": {"kind": "surge", "factor": 3}});
    assert_eq!(app.post("/generate/calls", &body).await.status(), 201);
    let stored = app.generated("calls").await;
    assert_eq!(
        from_ndjson(&ndjson),
        stored,
        "NDJSON equals the stored calls"
    );
    assert_eq!(from_csv(&csv), stored, "CSV equals the stored calls");
    assert!(stored.iter().any(|d| d.get_str("anomaly").is_ok()));
    assert!(stored.iter().any(|d| !d.contains_key("duration")));

    let query =
        format!("count=500&seed=8&hosts=2&step_seconds=60&categories=cpu,network&end={end}");
    let ndjson = app
        .get(&format!("/export/metrics?{query}"))
        .await
        .text()
        .await
        .unwrap();
    let body = json!({"count": 500, "seed": 8, "hosts": 2, "step_seconds": 60, "end": end,
                      "categories": ["cpu", "network"]});
    assert_eq!(app.post("/generate/metrics", &body).await.status(), 201);
    assert_eq!(from_ndjson(&ndjson), app.generated("metrics").await);
}

#[tokio::test]
async fn exports_refuse_bad_parameters_and_compress_when_asked() {
    let app = spawn_app().await;
    for (path, field) in [
        ("/export/calls", "count"),
        ("/export/calls?count=0", "count"),
        ("/export/calls?count=100000001", "count"),
        ("/export/calls?count=10&days=0", "days"),
        (
            "/export/metrics?count=10&categories=cpu,gpu",
            "categories[1]",
        ),
        ("/export/metrics?count=10&format=csv", "format"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 422, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
    let res = app
        .http
        .get(format!("{}/export/calls?count=2000", app.address))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..2], [0x1f, 0x8b], "a gzip stream");
}

#[tokio::test]
async fn exports_are_bounded_and_stop_when_the_client_goes_away() {
    let app = spawn_app_with(&mongo_uri(), |_, s| s.max_exports = 1).await;
    let url = format!("{}/export/calls?count=100000000", app.address);
    let mut first = app.http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.chunk().await.unwrap().is_some(), "the export streams");

    // Its slot is taken: a second export is refused with Retry-After, and writes nothing.
    let second = app.get("/export/calls?count=10").await;
    assert_eq!(second.status(), 503);
    assert!(second.headers().contains_key("retry-after"));
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded");

    // The client goes away after a few chunks of 100 million: the generation stops and frees its
    // slot long before it could have finished.
    drop(first);
    wait_until(
        Duration::from_secs(10),
        "the export's slot to free",
        async || app.get("/export/calls?count=10").await.status() == 200,
    )
    .await;
}

#[tokio::test]
async fn the_command_line_writes_the_same_files_gzip_included() {
    let app = spawn_app().await;
    let dir = std::env::temp_dir().join(format!("linq-export-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (gz, csv) = (dir.join("calls.ndjson.gz"), dir.join("calls.csv"));
    let common = [
        "--count",
        "2500",
        "--seed",
        "3",
        "--end",
        "2026-11-01T00:00:00Z",
    ];
    for (file, format) in [(&gz, "ndjson"), (&csv, "csv")] {
        let mut args = vec![
            "calls",
            "--format",
            format,
            "--output",
            file.to_str().unwrap(),
        ];
        args.extend(common);
        let out = generate_without_database(&args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("exported 2500 documents (calls, "),
            "{stderr}"
        );
    }
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()),
        &mut text,
    )
    .expect("a gzip file");
    let csv = std::fs::read_to_string(&csv).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let query = "/export/calls?count=2500&seed=3&end=2026-11-01T00:00:00Z";
    let served = app.get(query).await.text().await.unwrap();
    assert_eq!(from_ndjson(&text), from_ndjson(&served));
    assert_eq!(from_csv(&csv), from_ndjson(&served));
}
