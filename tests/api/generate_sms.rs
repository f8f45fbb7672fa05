//! `POST /generate/sms`, `GET /preview/sms` and `GET /export/sms`: texts from the same network as
//! the calls, a thread (a message and perhaps its reply) a draw of up to four records, stored
//! validated with exact rollups, synchronously and as a job.

use bson::{Document, doc};
use chrono::{DateTime, Utc};
use linq_datagen::generate::Params;
use linq_datagen::generate::sms::{self, TrafficParams};
use linq_datagen::pipeline::RunSpec;
use serde_json::{Value, json};

use crate::helpers::{mongo_uri, spawn_app, spawn_app_with};
use crate::rollups::assert_exact;

const END: &str = "2026-11-01T00:00:00Z";

/// The spec a request of `threads` threads over `days` days of `subscribers` asks for.
fn spec(threads: u32, days: i64, subscribers: i64, seed: u64) -> RunSpec {
    let end: DateTime<Utc> = END.parse().unwrap();
    let p = TrafficParams::new(Some(days), Some(subscribers), Some(end), None, end).unwrap();
    RunSpec::new(Params::Sms(p), threads, Some(seed))
}

#[tokio::test]
async fn texts_land_validated_with_every_record_of_every_thread_and_exact_rollups() {
    let app = spawn_app().await;
    let body = json!({ "count": 3_000, "days": 2, "subscribers": 5_000, "end": END, "seed": 5 });
    let res = app.post("/generate/sms", &body).await;
    assert_eq!(res.status(), 201);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["collection"], "sms", "{answer}");
    // Every record the generator makes of the 3,000 threads, no more: MO and MT records, replies.
    let expected = spec(3_000, 2, 5_000, 5).documents();
    assert!(expected > 4_000 && expected < 12_000, "{expected}");
    assert_eq!(answer["inserted"], expected, "{answer}");
    assert_eq!(app.count("sms", doc! {}).await, expected);
    let mo = app.count("sms", doc! { "direction": "mo" }).await;
    let replies = app
        .count("sms", doc! { "in_reply_to": { "$exists": true } })
        .await;
    assert!(mo > 0 && mo < expected && replies > 0, "{mo} {replies}");
    // A message's records share its id: never more than its two directions.
    let pairs: Vec<Document> = futures::TryStreamExt::try_collect(
        app.db
            .collection::<Document>("sms")
            .aggregate(vec![
                doc! { "$group": { "_id": "$message_id", "n": { "$sum": 1 } } },
                doc! { "$match": { "n": { "$gt": 2 } } },
            ])
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(pairs.is_empty(), "{pairs:?}");
    assert_exact(&app).await;

    // The validator holds: a delivered text without a delivery time is refused.
    let forged = app
        .db
        .collection::<Document>("sms")
        .insert_one(
            doc! { "message_id": "x".repeat(36), "direction": "mo", "kind": "p2p",
            "sender": "+15550001", "recipient": "+15550002", "status": "delivered",
            "submit_time": bson::DateTime::now(), "segments": 1, "price_cents": 0.0,
            "price_millicents": 0 },
        )
        .await;
    assert!(
        forged.is_err(),
        "a delivered text names when it was delivered"
    );
}

#[tokio::test]
async fn without_a_count_the_subscribers_send_their_daily_texts_as_a_job() {
    let app = spawn_app_with(&mongo_uri(), |_, serve| serve.async_threshold = 2_000).await;
    let body = json!({ "days": 1, "subscribers": 1_000, "end": END, "seed": 9 });
    let id = app.start_job("/generate/sms", &body).await;
    let job: Value = crate::helpers::poll_until(
        std::time::Duration::from_secs(60),
        "the job to finish",
        async || {
            let j: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
            (j["state"] == "done")
                .then_some(j.clone())
                .ok_or(j.to_string())
        },
    )
    .await;
    let end: DateTime<Utc> = END.parse().unwrap();
    let p = TrafficParams::new(Some(1), Some(1_000), Some(end), None, end).unwrap();
    let threads = sms::daily_threads(&p);
    assert_eq!(job["requested"], threads, "{job}");
    assert_eq!(job["kind"], "sms", "{job}");
    assert_eq!(job["progress"], 1.0, "{job}");
    let expected = spec(threads, 1, 1_000, 9).documents();
    assert_eq!(job["inserted"], expected, "{job}");
    assert_eq!(app.count("sms", doc! {}).await, expected);
    // About 10.4 messages a subscriber a day, each one or two records on the network.
    let messages = f64::from(threads) * sms::messages_per_thread();
    assert!(
        (messages / 1_000.0 - sms::DAILY_MESSAGES).abs() < 0.1,
        "{messages}"
    );
    assert_exact(&app).await;
}

#[tokio::test]
async fn bad_texts_requests_name_their_field_and_write_nothing() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({ "count": 10, "model": "enterprise" }), "model"),
        (json!({ "count": 0 }), "count"),
        (json!({ "count": 10, "days": 0 }), "days"),
        (json!({ "subscribers": 10_000_000, "days": 3_650 }), "count"),
        (json!({ "count": 10, "step_seconds": 5 }), "step_seconds"),
    ] {
        let res = app.post("/generate/sms", &body).await;
        assert_eq!(res.status(), 422, "{body}");
        let error: Value = res.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    assert_eq!(app.count("sms", doc! {}).await, 0);
}

#[tokio::test]
async fn a_preview_and_an_export_are_the_records_a_generation_writes() {
    let app = spawn_app().await;
    let query = format!("count=200&seed=4&days=1&subscribers=2000&end={END}");
    let preview: Value = app
        .get(&format!("/preview/sms?{query}"))
        .await
        .json()
        .await
        .unwrap();
    let docs = preview["documents"].as_array().unwrap();
    let expected = spec(200, 1, 2_000, 4).documents();
    assert_eq!(docs.len() as u64, expected, "{preview}");
    assert_eq!(preview["collection"], "sms");
    let res = app.get(&format!("/export/sms?{query}")).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert_eq!(text.lines().count() as u64, expected);
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("_id");
        v
    };
    assert_eq!(strip(first), strip(docs[0].clone()));
}
