//! docs/operations.md "Scaling out": two replicas of the real binary on one database. A job started on one is
//! listed, followed and cancelled from the other; the job limit is per replica; idempotency keys
//! hold across them; a replica that dies mid-job has its job settled by the other.

use std::time::Duration;

use bson::{Document, doc};
use serde_json::{Value, json};

use crate::helpers::{TempDb, poll_until};
use crate::processes::Service;

/// POSTs `body` to `url`, with an `Idempotency-Key` when given; status and body.
async fn post(http: &reqwest::Client, url: String, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = http.post(url).json(&body);
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Polls `GET url` until `done(job)` holds.
async fn job_until(
    http: &reqwest::Client,
    url: String,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    poll_until(Duration::from_secs(60), what, async || {
        let job: Value = http
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if done(&job) {
            Ok(job)
        } else {
            Err(job.to_string())
        }
    })
    .await
}

#[tokio::test]
async fn two_replicas_share_jobs_and_keys_keep_their_own_limits_and_settle_each_others_jobs() {
    let db = TempDb::unique();
    let env = [
        ("JOB_STALE_SECS", "2"),
        ("BATCH_SIZE", "500"),
        ("INFLIGHT_BATCHES", "2"),
        ("MAX_JOBS", "1"),
    ];
    let http = crate::helpers::http_client();
    let a = Service::start(&db, &env);
    let b = Service::start(&db, &env);
    a.wait_ready(&http).await;
    b.wait_ready(&http).await;
    let calls = db.handle().await.collection::<Document>("calls");

    // A job started on A is listed and followed on B.
    let big = json!({ "count": 5_000_000 });
    let (status, job) = post(
        &http,
        format!("{}/generate/calls", a.base),
        None,
        big.clone(),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let on_b = format!("{}/jobs/{id}", b.base);
    job_until(&http, on_b.clone(), "B to see A's job progress", |j| {
        j["state"] == "running" && j["inserted"].as_u64().unwrap() > 0
    })
    .await;
    let listed: Value = http
        .get(format!("{}/jobs", b.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == id.as_str()),
        "{listed}"
    );

    // MAX_JOBS is per replica: A runs its one job and refuses another; B takes it. Its key holds
    // on A too: the same job, nothing new.
    let small = json!({ "count": 5000, "async": true });
    let (status, _) = post(
        &http,
        format!("{}/generate/metrics", a.base),
        None,
        small.clone(),
    )
    .await;
    assert_eq!(status, 429);
    let (status, on_b_job) = post(
        &http,
        format!("{}/generate/metrics", b.base),
        Some("k1"),
        small.clone(),
    )
    .await;
    assert_eq!(status, 202, "{on_b_job}");
    let (status, again) = post(
        &http,
        format!("{}/generate/metrics", a.base),
        Some("k1"),
        small,
    )
    .await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["id"], on_b_job["id"]);

    // B cancels A's job, with the exact count.
    let res = http
        .post(format!("{}/jobs/{id}/cancel", b.base))
        .send()
        .await
        .unwrap();
    // 200 once A has stopped it; 202 when A's heartbeat (how it hears of the cancel) comes later
    // than the cancel waits, as on a loaded machine: then it is cancelled soon after.
    let status = res.status();
    assert!(status == 200 || status == 202, "{status}");
    let mut cancelled: Value = res.json().await.unwrap();
    if status == 202 {
        cancelled = crate::helpers::poll_until(
            std::time::Duration::from_secs(30),
            "the job to stop",
            async || {
                let url = format!("{}/jobs/{id}", b.base);
                let j: Value = http
                    .get(url)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                (j["state"] != "running")
                    .then_some(j.clone())
                    .ok_or(j.to_string())
            },
        )
        .await;
    }
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    let first = cancelled["inserted"].as_u64().unwrap();
    assert_eq!(first, calls.count_documents(doc! {}).await.unwrap());

    // A's slot is free again; A dies mid-job and B settles the job once its heartbeat is stale.
    let (status, job) = post(&http, format!("{}/generate/calls", a.base), None, big).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    job_until(
        &http,
        format!("{}/jobs/{id}", b.base),
        "the job to write",
        |j| j["inserted"].as_u64().unwrap() > 0,
    )
    .await;
    drop(a); // SIGKILL
    let settled = job_until(
        &http,
        format!("{}/jobs/{id}", b.base),
        "B to settle it",
        |j| j["state"] != "running",
    )
    .await;
    assert_eq!(settled["state"], "failed", "{settled}");
    let in_db = calls.count_documents(doc! {}).await.unwrap();
    assert_eq!(
        settled["inserted"].as_u64().unwrap(),
        in_db - first,
        "{settled}"
    );
}
