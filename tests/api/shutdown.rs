//! SIGTERM to the real binary during a large job: exit 0, and the job's record matches the database.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bson::{Document, doc};
use serde_json::{Value, json};

use crate::helpers::{mongo_uri, stored_job, unique_db};

#[tokio::test]
async fn sigterm_during_a_job_exits_0_with_the_job_count_matching_the_database() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db_name = unique_db();
    let mut child = Command::new(env!("CARGO_BIN_EXE_linq-datagen"))
        .arg("serve")
        .env("MONGO_URI", mongo_uri())
        .env("MONGO_DB", &db_name)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("BATCH_SIZE", "2000")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "service never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    loop {
        let job: Value = http
            .get(format!("{base}/jobs/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if job["inserted"].as_u64().unwrap() > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "job made no progress: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stop_deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < stop_deadline,
            "service did not stop within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");

    let client = mongodb::Client::with_uri_str(mongo_uri()).await.unwrap();
    let db = client.database(&db_name);
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
    db.drop().await.unwrap();
}
