//! SIGTERM to the real binary during a large job: exit 0, and the job's record matches the database.

use std::time::Duration;

use bson::{Document, doc};
use serde_json::{Value, json};

use crate::helpers::{TempDb, poll_until, stored_job};
use crate::processes::{Service, sigterm};

#[tokio::test]
async fn sigterm_during_a_job_exits_0_with_the_job_count_matching_the_database() {
    let temp = TempDb::unique();
    let mut service = Service::start(&temp, &[("BATCH_SIZE", "2000")]);
    let http = reqwest::Client::new();
    service.wait_ready(&http).await;
    let base = service.base.clone();
    let res = http
        .post(format!("{base}/generate/calls"))
        .json(&json!({ "count": 5_000_000, "async": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{base}/jobs/{id}");
    poll_until(
        Duration::from_secs(30),
        "the job to insert something",
        async || {
            let job: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
            if job["inserted"].as_u64().unwrap() > 0 {
                Ok(())
            } else {
                Err(job.to_string())
            }
        },
    )
    .await;

    sigterm(service.pid());
    let exit = service.wait_exit(Duration::from_secs(30)).await;
    assert!(exit.success(), "exit status {exit:?}");

    let db = temp.handle().await;
    let record = stored_job(&db, &id).await;
    assert_eq!(record.get_str("state").unwrap(), "failed", "{record}");
    let inserted = record.get_i64("inserted").unwrap() as u64;
    let in_db = db
        .collection::<Document>("calls")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(inserted, in_db);
    assert!(inserted > 0 && inserted < 5_000_000);
}
