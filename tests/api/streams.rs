//! `GET /calls/stream`: new calls pushed as Server-Sent Events, from the calls feed (resumable
//! with `Last-Event-ID`, any replica's calls, on any server), backfills too from a change stream
//! when asked.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::helpers::{TestApp, mongo_uri, spawn_app_with, spawn_replica};
use crate::live::start_live;
use crate::processes::PrivateServer;

/// One SSE event: type, id, data.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: String,
}

/// A connected SSE client.
pub struct SseClient {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl SseClient {
    /// Connects to `path`, with `Last-Event-ID` when given.
    pub async fn connect(app: &TestApp, path: &str, last_event_id: Option<&str>) -> Self {
        let mut req = app.http.get(format!("{}{path}", app.address));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            body: res.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event (comments skipped), within 20 s.
    pub async fn next(&mut self) -> SseEvent {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..end + 2).collect();
                    let mut e = SseEvent {
                        event: "message".into(),
                        id: String::new(),
                        data: String::new(),
                    };
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event: ") {
                            e.event = v.into();
                        } else if let Some(v) = line.strip_prefix("id: ") {
                            e.id = v.into();
                        } else if let Some(v) = line.strip_prefix("data: ") {
                            e.data.push_str(v);
                        }
                    }
                    if !e.data.is_empty() {
                        return e;
                    }
                    continue;
                }
                let chunk = self.body.next().await.expect("the stream ended").unwrap();
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an event within 20 s")
    }

    /// The next `call` event's id and record.
    pub async fn next_call(&mut self) -> (String, Value) {
        loop {
            let e = self.next().await;
            if e.event == "call" {
                return (e.id, serde_json::from_str(&e.data).unwrap());
            }
        }
    }
}

#[tokio::test]
async fn new_calls_are_pushed_and_a_reconnect_resumes_after_the_last_event() {
    let mut app = spawn_app_with(&mongo_uri(), |_, _| {}).await;
    let mut client = SseClient::connect(&app, "/calls/stream", None).await;
    let id = start_live(&app, &json!({ "calls_per_second": 20, "step_seconds": 0 })).await;
    let mut calls = Vec::new();
    for _ in 0..6 {
        calls.push(client.next_call().await);
    }
    for (_, call) in &calls {
        for field in [
            "id",
            "call_id",
            "caller",
            "callee",
            "status",
            "start_time",
            "inserted_at",
        ] {
            assert!(call.get(field).is_some(), "{field} in {call}");
        }
    }
    // Resuming after the third event starts at the fourth.
    let mut resumed = SseClient::connect(&app, "/calls/stream", Some(&calls[2].0)).await;
    let (_, fourth) = resumed.next_call().await;
    assert_eq!(fourth["call_id"], calls[3].1["call_id"]);
    let (_, fifth) = resumed.next_call().await;
    assert_eq!(fifth["call_id"], calls[4].1["call_id"]);
    // Streams end at shutdown instead of holding it up.
    app.post(&format!("/live/{id}/stop"), &json!({})).await;
    let started = std::time::Instant::now();
    app.shutdown().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn on_a_standalone_server_the_stream_carries_every_replicas_calls_and_resumes() {
    let server = PrivateServer::start_standalone();
    let app = spawn_app_with(&server.uri(), |_, _| {}).await;
    let other = spawn_replica(&app, |_, _| {}).await;
    let mut client = SseClient::connect(&app, "/calls/stream", None).await;
    // The run is the other replica's: the calls reach this one's client through the database.
    let id = start_live(
        &other,
        &json!({ "calls_per_second": 20, "step_seconds": 0 }),
    )
    .await;
    let mut calls = Vec::new();
    for _ in 0..4 {
        calls.push(client.next_call().await);
    }
    let mut resumed = SseClient::connect(&app, "/calls/stream", Some(&calls[1].0)).await;
    let (_, third) = resumed.next_call().await;
    assert_eq!(third["call_id"], calls[2].1["call_id"]);
    // Without change streams, backfills cannot be followed: the client is told, and gets calls
    // as they happen.
    let mut all = SseClient::connect(&app, "/calls/stream?include=backfill", None).await;
    let e = all.next().await;
    assert_eq!(e.event, "reset", "{e:?}");
    let (_, next) = all.next_call().await;
    assert!(next["call_id"].is_string());
    other.post(&format!("/live/{id}/stop"), &json!({})).await;
}

/// A backfill of 2,000 calls ending a day ago.
async fn old_backfill(app: &TestApp) {
    let end = (chrono::Utc::now() - chrono::TimeDelta::days(1)).to_rfc3339();
    let body = json!({ "count": 2_000, "days": 1, "end": end, "seed": 4 });
    assert_eq!(app.post("/generate/calls", &body).await.status(), 201);
}

#[tokio::test]
async fn the_stream_carries_calls_as_they_happen_and_backfills_only_when_asked() {
    let app = spawn_app_with(&mongo_uri(), |_, _| {}).await;
    let mut now = SseClient::connect(&app, "/calls/stream", None).await;
    let mut all = SseClient::connect(&app, "/calls/stream?include=backfill", None).await;
    old_backfill(&app).await;
    // Every backfilled call reaches the opted-in client, counted if not sent: 200 a second.
    let (mut sent, mut skipped) = (0u64, 0u64);
    let mut per_second = std::collections::BTreeMap::<i64, u64>::new();
    while sent + skipped < 2_000 {
        let e = all.next().await;
        match e.event.as_str() {
            "call" => {
                sent += 1;
                let at = chrono::Utc::now().timestamp_millis() / 1000;
                *per_second.entry(at).or_default() += 1;
            }
            "lagged" => {
                let v: Value = serde_json::from_str(&e.data).unwrap();
                skipped += v["skipped"].as_u64().unwrap();
            }
            other => panic!("{other}: {e:?}"),
        }
    }
    assert_eq!(sent + skipped, 2_000);
    assert!(skipped > 0 && sent >= 200, "{sent} sent, {skipped} skipped");
    // (A second of the client's clock may hold the end of one window and the start of the next.)
    assert!(per_second.values().all(|n| *n <= 400), "{per_second:?}");

    // The default client saw none of the backfill: its first call is a live run's, from now.
    let id = start_live(&app, &json!({ "calls_per_second": 20, "step_seconds": 0 })).await;
    for _ in 0..5 {
        let (_, call) = now.next_call().await;
        let start =
            chrono::DateTime::parse_from_rfc3339(call["start_time"].as_str().unwrap()).unwrap();
        let age = chrono::Utc::now() - start.with_timezone(&chrono::Utc);
        assert!(age < chrono::TimeDelta::seconds(60), "{call}");
    }
    app.post(&format!("/live/{id}/stop"), &json!({})).await;

    let res = app.get("/calls/stream?include=everything").await;
    assert_eq!(res.status(), 422);
}
