//! Call models through the API and the command line: one word picks a preset, a JSON object tunes
//! it, the job and live records keep the whole model, previews follow it, and a bad model is a 422
//! (or a usage error) naming its field before anything is written.

use std::time::Duration;

use bson::doc;
use serde_json::{Value, json};

use crate::cli::generate_without_database;
use crate::helpers::{poll_until, spawn_app};

#[tokio::test]
async fn a_preset_is_one_word_and_the_job_keeps_the_whole_model() {
    let app = spawn_app().await;
    let body = json!({ "count": 3_000, "days": 7, "seed": 5, "end": "2026-11-02T00:00:00Z",
                       "model": { "preset": "enterprise", "calls": { "status": { "missed": 0.3 } } },
                       "async": true });
    let id = app.start_job("/generate/calls", &body).await;
    let job: Value = poll_until(Duration::from_secs(60), "the job to finish", async || {
        let j: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
        (j["state"] == "done")
            .then_some(j.clone())
            .ok_or(j.to_string())
    })
    .await;
    let model = &job["params"]["model"];
    assert_eq!(model["preset"], "enterprise", "{job}");
    assert_eq!(model["calls"]["status"]["missed"], 0.3, "{job}");
    assert_eq!(model["calls"]["call_type"]["conference"], 0.25, "{job}");
    // Conference-heavy, as the preset says (25 % ± a few points on 3,000 calls).
    let conference = app.count("calls", doc! { "call_type": "conference" }).await as f64;
    assert!((conference / 3_000.0 - 0.25).abs() < 0.04, "{conference}");

    // A preview with the same parameters and model shows the documents the job wrote.
    let query = "count=20&days=7&seed=5&end=2026-11-02T00:00:00Z\
                 &model=%7B%22preset%22%3A%22enterprise%22%2C%22calls%22%3A%7B%22status%22%3A%7B%22missed%22%3A0.3%7D%7D%7D";
    let preview: Value = app
        .get(&format!("/preview/calls?{query}"))
        .await
        .json()
        .await
        .unwrap();
    let docs = preview["documents"].as_array().expect("documents");
    // A 20-call run is stratified over 20 calls, so compare what does not depend on the count.
    let written: Vec<bson::Document> = {
        use futures::TryStreamExt;
        app.db
            .collection::<bson::Document>("calls")
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .limit(20)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap()
    };
    for (d, w) in docs.iter().zip(&written) {
        assert_eq!(d["call_id"], w.get_str("call_id").unwrap());
        assert_eq!(d["status"], w.get_str("status").unwrap());
        assert_eq!(d["call_type"], w.get_str("call_type").unwrap());
    }
}

#[tokio::test]
async fn a_bad_model_is_a_422_naming_its_field_everywhere() {
    let app = spawn_app().await;
    let bad = json!({ "calls": { "status": { "missed": -1 } } });
    let res = app
        .post("/generate/calls", &json!({ "count": 10, "model": bad }))
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["field"], "model.calls.status.missed",
        "{body}"
    );
    let res = app
        .post("/live", &json!({ "calls_per_second": 5, "model": "pbx" }))
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["field"],
        "model"
    );
    let res = app
        .get("/preview/calls?model=%7B%22calls%22%3A%7B%22hour_weights%22%3A%5B1%5D%7D%7D")
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["field"],
        "model.calls.hour_weights"
    );
    // A network code that is not one, or not one of the table, names the field and the rule.
    for (code, says) in [
        ("31026x", "5 or 6 digits"),
        ("1234567", "5 or 6 digits"),
        ("999-99", "not a network of the table"),
    ] {
        let model = json!({ "network": { "operator": code } });
        let res = app
            .post("/generate/calls", &json!({ "count": 10, "model": model }))
            .await;
        assert_eq!(res.status(), 422, "{code}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["field"], "model.network.operator", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{code}: {message}");
    }
    assert_eq!(app.count("calls", doc! {}).await, 0, "nothing was written");

    // A live run keeps its model and shows its preset.
    let res = app
        .post(
            "/live",
            &json!({ "calls_per_second": 5, "step_seconds": 0, "model": "call_center" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let run: Value = res.json().await.unwrap();
    assert_eq!(run["preset"], "call_center", "{run}");
    assert_eq!(run["model"]["calls"]["hubs"], 20, "{run}");
    let id = run["id"].as_str().unwrap();
    let again: Value = app.get(&format!("/live/{id}")).await.json().await.unwrap();
    assert_eq!(again["model"], run["model"]);
    assert_eq!(app.delete(&format!("/live/{id}")).await.status(), 200);
}

#[tokio::test]
async fn the_command_line_takes_a_preset_a_json_model_or_a_file() {
    let out = generate_without_database(&[
        "calls",
        "--count",
        "200",
        "--seed",
        "3",
        "--model",
        "call_center",
        "--dry-run",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 200);
    // No video-heavy mix and no conference calls in a call centre.
    assert!(docs.iter().all(|d| d["call_type"] != "conference"));

    let file = std::env::temp_dir().join(format!("model-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        r#"{"preset": "mobile", "calls": {"status": {"missed": -1}}}"#,
    )
    .unwrap();
    let out = generate_without_database(&[
        "calls",
        "--count",
        "5",
        "--dry-run",
        "--model",
        file.to_str().unwrap(),
    ])
    .await;
    std::fs::remove_file(&file).ok();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value for --model: model.calls.status.missed: must be ≥ 0"),
        "{err}"
    );
    let out = generate_without_database(&[
        "calls",
        "--count",
        "5",
        "--dry-run",
        "--model",
        r#"{"calls": {"time_zone": "Asia/Kolkata"}}"#,
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("model.calls.time_zone"));
}

#[tokio::test]
async fn metrics_take_the_models_metrics_part() {
    let app = spawn_app().await;
    let body = json!({ "count": 600, "hosts": 4, "seed": 9, "step_seconds": 60,
                       "model": { "metrics": { "host_skew": 0, "cpu": { "daily": 0.1 } } } });
    let res = app.post("/generate/metrics", &body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let preview: Value = app
        .get("/preview/metrics?count=600&hosts=4&seed=9&step_seconds=60&model=%7B%22metrics%22%3A%7B%22host_skew%22%3A0%7D%7D")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["documents"].as_array().map(Vec::len), Some(600));
    let res = app
        .post(
            "/generate/metrics",
            &json!({ "count": 10, "model": { "metrics": { "cpu": { "base": [50, 10] } } } }),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "model.metrics.cpu.base", "{body}");
    assert_eq!(app.count("metrics", doc! {}).await, 600);
}

/// The operator a model names is in every caller's IMSI and in no callee's network; desk phones
/// carry no identities. The validator takes both shapes.
#[tokio::test]
async fn a_network_shows_in_the_identities_and_desk_phones_have_none() {
    let app = spawn_app().await;
    let model = json!({ "network": { "operator": "302720" } });
    let res = app
        .post(
            "/generate/calls",
            &json!({ "count": 300, "seed": 4, "model": model }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let calls = app.all("calls").await;
    assert_eq!(calls.len(), 300);
    for c in &calls {
        assert!(
            c.get_str("caller_imsi").unwrap().starts_with("302720"),
            "{c}"
        );
        assert_eq!(c.get_str("caller_imei").unwrap().len(), 15, "{c}");
        match (c.get_str("callee_imsi"), c.get_str("callee_network")) {
            (Ok(imsi), Err(_)) => assert!(imsi.starts_with("302720"), "{c}"),
            (Err(_), Ok(network)) => assert_ne!(network, "302-720", "{c}"),
            _ => panic!("a callee with both or neither: {c}"),
        }
    }
    let res = app
        .post(
            "/generate/calls",
            &json!({ "count": 100, "seed": 4, "model": "enterprise" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let desk = app
        .count("calls", doc! { "caller_imsi": { "$exists": false } })
        .await;
    assert_eq!(desk, 100);
}
