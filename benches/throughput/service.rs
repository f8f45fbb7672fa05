//! The service under test: the release binary on a free loopback port, its memory, and one job
//! over HTTP polled until done.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mongodb::Client;
use serde_json::{Value, json};

/// The release binary serving on a free loopback port; killed when dropped.
pub struct Service {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Service {
    /// `serve` against database `db` with the given batching.
    pub fn start(uri: &str, db: &str, batch_size: usize, inflight: usize) -> Self {
        let (batch, inflight) = (batch_size.to_string(), inflight.to_string());
        Self::start_with(
            uri,
            db,
            &[("BATCH_SIZE", &batch), ("INFLIGHT_BATCHES", &inflight)],
        )
    }

    /// `serve` against database `db` with extra environment variables.
    pub fn start_with(uri: &str, db: &str, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bin = std::env::var("BENCH_SERVICE_BIN")
            .unwrap_or_else(|_| "target/release/linq-datagen".into());
        let child = Command::new(bin)
            .arg("serve")
            .env("MONGO_URI", uri)
            .env("MONGO_DB", db)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("LOG_LEVEL", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .expect("service binary runs (build it with cargo build --release)");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits (up to 30 s) until `/readyz` answers 200.
    pub async fn wait_ready(&self, http: &reqwest::Client) {
        for _ in 0..300 {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the service never became ready");
    }

    /// Peak resident memory so far, MB.
    pub fn peak_rss_mb(&self) -> f64 {
        self.status_mb("VmHWM:")
    }

    /// Resident memory now, MB.
    pub fn rss_mb(&self) -> f64 {
        self.status_mb("VmRSS:")
    }

    fn status_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one job over HTTP measured.
pub struct Job {
    /// Documents per second from request to done.
    pub rate: f64,
    /// Status reads the benchmark sent (`GET /jobs/{id}`).
    pub polls: u64,
    /// `count` commands the benchmark sent itself (waiting for the first 100,000).
    pub counts: u64,
}

/// One background job of `count` documents (`POST path`, seed 7) on `svc`, writing database `db`
/// of server `uri`, polled until done; a busy server may stall a status read, which is reported
/// and read again.
pub async fn job(
    svc: &Service,
    http: &reqwest::Client,
    path: &str,
    count: u64,
    uri: &str,
    db: &str,
) -> Job {
    svc.wait_ready(http).await;
    let coll = Client::with_uri_str(uri)
        .await
        .unwrap()
        .database(db)
        .collection::<bson::Document>(if path.ends_with("calls") {
            "calls"
        } else {
            "metrics"
        });
    let before = coll.estimated_document_count().await.unwrap();
    let started = Instant::now();
    let res = http
        .post(format!("{}{path}", svc.base))
        .json(&json!({ "count": count, "seed": 7, "async": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let job: Value = res.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    let (mut first_100k, mut polls, mut counts) = (false, 0, 0);
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        assert!(
            Instant::now() < deadline,
            "job did not finish in 30 minutes"
        );
        if !first_100k {
            counts += 1;
            let n = coll.estimated_document_count().await.unwrap_or(0);
            first_100k = n >= before + 100_000.min(count);
        }
        polls += 1;
        if svc.job_done(http, &id, count).await {
            break;
        }
        let pause = if first_100k { 250 } else { 100 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    Job {
        rate: count as f64 / started.elapsed().as_secs_f64(),
        polls,
        counts,
    }
}

impl Service {
    /// Reads job `id`'s status once: whether it is done (with all `count` documents inserted);
    /// a failed job fails the benchmark.
    pub async fn job_done(&self, http: &reqwest::Client, id: &str, count: u64) -> bool {
        let res = http
            .get(format!("{}/jobs/{id}", self.base))
            .send()
            .await
            .unwrap();
        if res.status() != 200 {
            eprintln!(
                "  status read answered {}: {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            return false;
        }
        let job: Value = res.json().await.unwrap();
        if job["state"] == "running" {
            return false;
        }
        assert_eq!(job["state"], "done", "{job}");
        assert_eq!(job["inserted"].as_u64().unwrap(), count);
        true
    }
}
