//! Replicas whose clocks disagree: staleness is judged by the database's clock, so a replica whose
//! clock runs ahead does not reap a live job; and a job that was settled as lost stays failed,
//! whatever its own instance does afterwards (it stops, and only corrects the count).

use std::time::{Duration, Instant};

use bson::{Document, doc};
use serde_json::{Value, json};

use crate::helpers::{TestApp, mongo_uri, poll_until, spawn_app_with, stored_job};

/// An app writing in small batches (jobs take a while) on database `name` (its own if `None`), its
/// clock `offset_secs` off.
async fn replica(name: Option<&str>, offset_secs: i64) -> TestApp {
    let name = name.map(str::to_owned);
    spawn_app_with(&mongo_uri(), move |db, serve| {
        db.batch_size = 2000;
        db.inflight_batches = 2;
        serve.async_threshold = 5_000;
        serve.clock_offset_secs = offset_secs;
        if let Some(name) = name {
            db.mongo_db = name;
        }
    })
    .await
}

async fn job(app: &TestApp, id: &str) -> Value {
    let res = app.get(&format!("/jobs/{id}")).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn wait_inserting(app: &TestApp, id: &str) {
    poll_until(Duration::from_secs(30), "the job to insert", async || {
        let job = job(app, id).await;
        if job["inserted"].as_u64().unwrap_or(0) > 0 {
            Ok(())
        } else {
            Err(job.to_string())
        }
    })
    .await;
}

#[tokio::test]
async fn a_replica_whose_clock_runs_ahead_neither_reaps_a_live_job_nor_loses_its_cancel() {
    let a = replica(None, 0).await;
    // A minute ahead: twice the stale-job time.
    let b = replica(Some(a.db.name()), 60).await;
    let id = a
        .start_job("/generate/calls", &json!({ "count": 2_000_000, "seed": 3 }))
        .await;
    wait_inserting(&a, &id).await;

    // Every read on the replica ahead may reap the job: none must.
    for _ in 0..5 {
        let seen = job(&b, &id).await;
        assert_eq!(seen["state"], "running", "{seen}");
        tokio::time::sleep(Duration::from_millis(200)).await; // reads spread over heartbeats
    }
    let res = b.post(&format!("/jobs/{id}/cancel"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let cancelled: Value = res.json().await.unwrap();
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    let record = stored_job(&a.db, &id).await;
    assert_eq!(record.get_str("state").unwrap(), "cancelled", "{record}");
    assert_eq!(
        record.get_i64("inserted").unwrap() as u64,
        a.count("calls", doc! {}).await
    );
}

#[tokio::test]
async fn a_job_settled_as_lost_stays_failed_and_its_count_ends_exact() {
    let a = replica(None, 0).await;
    let b = replica(Some(a.db.name()), 0).await;
    let id = a
        .start_job("/generate/calls", &json!({ "count": 300_000, "seed": 3 }))
        .await;
    wait_inserting(&a, &id).await;

    // Another replica settles the job as lost (as the reaper does when a heartbeat is late: the
    // owner stalled, or, before heartbeats took the database's time, its clock was behind).
    a.db.collection::<Document>("jobs")
        .update_one(
            doc! { "_id": &id, "state": "running" },
            doc! { "$set": {
                "state": "failed",
                "last_error": "the instance running this job stopped responding",
                "finished_at": bson::DateTime::now(),
            } },
        )
        .await
        .unwrap();
    assert_eq!(job(&b, &id).await["state"], "failed");

    // The owner stops (its record is no longer its own) and records the exact count, and nothing
    // brings the job back to life.
    let mut last = (u64::MAX, Instant::now());
    let record = poll_until(Duration::from_secs(60), "the owner to stop", async || {
        let in_db = a.count("calls", doc! {}).await;
        if in_db != last.0 {
            last = (in_db, Instant::now());
        }
        let record = stored_job(&a.db, &id).await;
        let inserted = record.get_i64("inserted").unwrap() as u64;
        if inserted == in_db && last.1.elapsed() > Duration::from_secs(2) {
            Ok(record)
        } else {
            Err(format!("{in_db} in the database: {record}"))
        }
    })
    .await;
    assert_eq!(record.get_str("state").unwrap(), "failed", "{record}");
    assert!(a.count("calls", doc! {}).await < 300_000);
    let res = a.post(&format!("/jobs/{id}/cancel"), &json!({})).await;
    assert_eq!(res.status(), 409);
    assert_eq!(job(&a, &id).await["state"], "failed");
}
