//! SIGTERM to the real binary during a large job: exit 0, the job's record matches the database,
//! and the whole shutdown fits in its budget.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bson::{Document, doc};
use serde_json::{Value, json};

use crate::helpers::{TempDb, poll_until, stored_job, unique_db};
use crate::processes::{PrivateServer, Service, sigterm};

#[tokio::test]
async fn sigterm_during_a_job_exits_0_with_the_job_count_matching_the_database() {
    let temp = TempDb::unique();
    let mut service = Service::start(&temp, &[("BATCH_SIZE", "2000")]);
    let http = crate::helpers::http_client();
    service.wait_ready(&http).await;
    let base = service.base.clone();
    let id = service
        .start_job(&http, &json!({ "count": 5_000_000, "async": true }))
        .await;
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

/// The whole shutdown fits in `SHUTDOWN_TIMEOUT_SECS`: a request head held half-sent and a job
/// stuck on a frozen database are abandoned at the deadline, not waited for one after the other.
#[tokio::test]
async fn sigterm_with_a_held_connection_and_a_stuck_job_exits_within_the_shutdown_timeout() {
    let server = PrivateServer::start();
    let temp = TempDb {
        uri: server.uri(),
        name: unique_db(),
    };
    let mut service = Service::start(
        &temp,
        &[
            ("SHUTDOWN_TIMEOUT_SECS", "3"),
            ("HEADER_READ_TIMEOUT_SECS", "60"),
            ("BATCH_SIZE", "2000"),
        ],
    );
    let http = crate::helpers::http_client();
    service.wait_ready(&http).await;
    let base = service.base.clone();
    let id = service
        .start_job(&http, &json!({ "count": 5_000_000, "async": true }))
        .await;
    poll_until(Duration::from_secs(30), "the job to insert", async || {
        let job: Value = http
            .get(format!("{base}/jobs/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if job["inserted"].as_u64().unwrap() > 0 {
            Ok(())
        } else {
            Err(job.to_string())
        }
    })
    .await;
    let mut held = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    held.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    server.freeze();

    let signalled = Instant::now();
    sigterm(service.pid());
    let exit = service.wait_exit(Duration::from_secs(30)).await;
    let took = signalled.elapsed();
    server.thaw();
    assert!(exit.success(), "exit status {exit:?}");
    // The budget, and a margin for the process to exit and this test to notice.
    assert!(
        took < Duration::from_millis(4500),
        "shutdown took {took:?} with a budget of 3 s"
    );
}
