//! Scenario `live`: how closely a live run holds its rate at 1, 100 and 10,000 calls/s and above
//! the database's ceiling over 60 s (`BENCH_LIVE_RATES`); how long a call takes from its insert
//! to 100 connected `/calls/stream` clients (`BENCH_SSE_CLIENTS`, `BENCH_SSE_RATE`,
//! `BENCH_SSE_SECS`); whether watching slows writing (a 1,000,000-call job with 10
//! `/calls/stream` clients against none: `BENCH_WATCH_COUNT`, `BENCH_WATCH_CLIENTS`,
//! `BENCH_WATCH_REPS`); and the service's memory with 1,000 idle SSE clients connected
//! (`BENCH_IDLE_CLIENTS`, `BENCH_IDLE_SECS`).

use std::time::{Duration, Instant};

use bson::doc;
use futures::StreamExt;
use mongodb::Client;
use serde_json::{Value, json};

use crate::service::Service;
use crate::shared::{answer, env_or, percentile};

/// Seconds a rate is measured over, after a warm-up.
const WINDOW: u64 = 60;
const WARMUP: u64 = 5;

async fn start_live(http: &reqwest::Client, svc: &Service, body: Value) -> Value {
    let res = http
        .post(format!("{}/live", svc.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.json().await.unwrap()
}

async fn live(http: &reqwest::Client, svc: &Service, id: &str) -> Value {
    http.get(format!("{}/live/{id}", svc.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// One row of the rate table: (target, calls reaching the database per second of wall time,
/// calls stamped in the window per second, largest lag seen).
async fn rate_row(uri: &str, client: &Client, target: f64) -> (f64, f64, f64, f64) {
    let db = format!("bench_live_{}", target as u64);
    let _ = client.database(&db).drop().await;
    let svc = Service::start_with(uri, &db, &[]);
    let http = reqwest::Client::new();
    svc.wait_ready(&http).await;
    let run = start_live(
        &http,
        &svc,
        json!({ "calls_per_second": target, "step_seconds": 0, "seed": 1 }),
    )
    .await;
    let id = run["id"].as_str().unwrap().to_string();
    let start = chrono::DateTime::parse_from_rfc3339(run["start"].as_str().unwrap()).unwrap();
    let calls = client.database(&db).collection::<bson::Document>("calls");
    tokio::time::sleep(Duration::from_secs(WARMUP)).await;
    let (t0, c0) = (
        Instant::now(),
        calls.estimated_document_count().await.unwrap(),
    );
    let mut max_lag: f64 = 0.0;
    while t0.elapsed() < Duration::from_secs(WINDOW) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let lag = live(&http, &svc, &id).await["lag_seconds"]
            .as_f64()
            .unwrap_or(0.0);
        max_lag = max_lag.max(lag);
    }
    let (t1, c1) = (
        t0.elapsed(),
        calls.estimated_document_count().await.unwrap(),
    );
    let wall = (c1 - c0) as f64 / t1.as_secs_f64();
    let _ = http
        .post(format!("{}/live/{id}/stop", svc.base))
        .send()
        .await
        .unwrap();
    // A run behind the clock completes the second it is writing first.
    let mut stopped = live(&http, &svc, &id).await;
    for _ in 0..240 {
        if stopped["state"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        stopped = live(&http, &svc, &id).await;
    }
    assert_eq!(stopped["state"], "stopped", "{stopped}");
    // Calls whose start time falls in the window [start + warm-up, + WINDOW), all written by now
    // unless the run fell behind.
    let lo = start.timestamp_millis() + WARMUP as i64 * 1000;
    let hi = lo + WINDOW as i64 * 1000;
    let stamped = calls
        .count_documents(doc! { "start_time": {
            "$gte": bson::DateTime::from_millis(lo),
            "$lt": bson::DateTime::from_millis(hi),
        } })
        .await
        .unwrap() as f64
        / WINDOW as f64;
    let _ = client.database(&db).drop().await;
    (target, wall, stamped, max_lag)
}

/// Reads `call` events from one `/calls/stream` client until `until`, returning (insert →
/// received, start time → received) in ms for each.
async fn sse_client(base: String, until: Instant) -> Vec<(f64, f64)> {
    let res = reqwest::Client::new()
        .get(format!("{base}/calls/stream"))
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let Ok(Some(Ok(chunk))) = tokio::time::timeout(left, body.next()).await else {
            return out;
        };
        let now = chrono::Utc::now();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            let Ok(call) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            let ms = |field: &str| {
                call[field]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| (now - t.with_timezone(&chrono::Utc)).as_seconds_f64() * 1000.0)
            };
            if let (Some(inserted), Some(started)) = (ms("inserted_at"), ms("start_time")) {
                out.push((inserted, started));
            }
        }
    }
}

/// Seconds a `count`-call background job takes on a fresh service and database with `clients`
/// `/calls/stream` clients connected, and the call events they received.
async fn job_watched(uri: &str, client: &Client, count: u64, clients: usize) -> (f64, usize) {
    let db = "bench_live_watched";
    let _ = client.database(db).drop().await;
    let svc = Service::start_with(uri, db, &[]);
    let http = reqwest::Client::new();
    svc.wait_ready(&http).await;
    let until = Instant::now() + Duration::from_secs(900);
    let events = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let readers: Vec<_> = (0..clients)
        .map(|_| {
            let (url, events) = (format!("{}/calls/stream", svc.base), events.clone());
            tokio::spawn(async move {
                let res = reqwest::Client::new().get(url).send().await.unwrap();
                let mut body = res.bytes_stream();
                while let Some(Ok(chunk)) = body.next().await {
                    let n = String::from_utf8_lossy(&chunk)
                        .matches("event: call")
                        .count();
                    events.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let job: Value = answer(
        http.post(format!("{}/generate/calls", svc.base))
            .json(&json!({ "count": count, "seed": 7, "async": true })),
    )
    .await;
    let id = job["id"].as_str().expect("a job id").to_string();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(res) = http.get(format!("{}/jobs/{id}", svc.base)).send().await else {
            continue;
        };
        let job: Value = res.json().await.unwrap_or_default();
        if job["state"] != "running" {
            assert_eq!(job["state"], "done", "{job}");
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    for r in readers {
        r.abort();
    }
    drop(svc);
    let _ = client.database(db).drop().await;
    (secs, events.load(std::sync::atomic::Ordering::Relaxed))
}

/// Where the stream latency and idle clients' service writes.
const SSE_DB: &str = "bench_live_sse";

pub async fn run(uri: &str) {
    let client = Client::with_uri_str(uri).await.unwrap();
    rates(uri, &client).await;
    let svc = stream_latency(uri, &client).await;
    watching(uri, &client).await;
    idle(&svc).await;
    let _ = client.database(SSE_DB).drop().await;
}

/// The rate table: one live run at each of `BENCH_LIVE_RATES` calls per second.
async fn rates(uri: &str, client: &Client) {
    let rates: Vec<f64> = std::env::var("BENCH_LIVE_RATES")
        .unwrap_or_else(|_| "1,100,10000,100000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    println!(
        "\n== live rate accuracy ({WINDOW} s after a {WARMUP} s warm-up; 100000/s = above the ceiling) =="
    );
    println!(
        "| target calls/s | reached the database /s | stamped in the window /s | achieved / target | largest lag (s) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for target in rates {
        let (t, wall, stamped, lag) = rate_row(uri, client, target).await;
        println!(
            "| {t:.0} | {wall:.1} | {stamped:.1} | {:.3} | {lag:.1} |",
            wall / t
        );
    }
}

/// Insert-to-client latency for `BENCH_SSE_CLIENTS` `/calls/stream` clients of a live run; gives
/// back the service, which the idle clients then connect to.
async fn stream_latency(uri: &str, client: &Client) -> Service {
    let clients: usize = env_or("BENCH_SSE_CLIENTS", 100);
    let rate: f64 = env_or("BENCH_SSE_RATE", 100.0);
    let secs: u64 = env_or("BENCH_SSE_SECS", 30);
    let _ = client.database(SSE_DB).drop().await;
    let svc = Service::start_with(uri, SSE_DB, &[("MAX_CONNECTIONS", "4096")]);
    let http = reqwest::Client::new();
    svc.wait_ready(&http).await;
    let until = Instant::now() + Duration::from_secs(secs + 3);
    let readers: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(sse_client(svc.base.clone(), until)))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let run = start_live(
        &http,
        &svc,
        json!({ "calls_per_second": rate, "step_seconds": 0 }),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let id = run["id"].as_str().unwrap();
    let _ = http
        .post(format!("{}/live/{id}/stop", svc.base))
        .send()
        .await;
    let mut inserted = Vec::new();
    let mut started = Vec::new();
    for r in readers {
        for (i, s) in r.await.unwrap() {
            inserted.push(i);
            started.push(s);
        }
    }
    println!("\n== /calls/stream: {clients} clients, a live run at {rate} calls/s for {secs} s ==");
    println!(
        "events received: {} ({:.0} per client)",
        inserted.len(),
        inserted.len() as f64 / clients as f64
    );
    println!(
        "insert → client (ms): p50 {:.0}, p99 {:.0}, max {:.0}",
        percentile(&mut inserted, 50.0),
        percentile(&mut inserted, 99.0),
        percentile(&mut inserted, 100.0)
    );
    println!(
        "start time → client (ms, includes waiting for the second to end): p50 {:.0}, p99 {:.0}",
        percentile(&mut started, 50.0),
        percentile(&mut started, 99.0)
    );
    svc
}

/// Does watching slow writing: alternating rounds of a job without and with stream clients.
async fn watching(uri: &str, client: &Client) {
    let count: u64 = env_or("BENCH_WATCH_COUNT", 1_000_000);
    let watchers: usize = env_or("BENCH_WATCH_CLIENTS", 10);
    let reps: usize = env_or("BENCH_WATCH_REPS", 3);
    println!(
        "\n== does watching slow writing? a {count}-call job, alternating rounds without and with {watchers} /calls/stream clients =="
    );
    println!("| round | no clients (s) | {watchers} clients (s) | call events sent |");
    println!("| ---: | ---: | ---: | ---: |");
    let (mut alone, mut watched) = (Vec::new(), Vec::new());
    for round in 1..=reps {
        let (a, _) = job_watched(uri, client, count, 0).await;
        let (w, events) = job_watched(uri, client, count, watchers).await;
        println!("| {round} | {a:.1} | {w:.1} | {events} |");
        alone.push(a);
        watched.push(w);
    }
    let (a, w) = (percentile(&mut alone, 50.0), percentile(&mut watched, 50.0));
    println!(
        "median: {a:.1} s alone, {w:.1} s watched: {:+.1} % (goal: within 10 %)",
        (w / a - 1.0) * 100.0
    );
}

/// The service's memory with `BENCH_IDLE_CLIENTS` idle SSE clients connected for
/// `BENCH_IDLE_SECS`, half on `/calls/stream` and half on `/stats/stream`.
async fn idle(svc: &Service) {
    let idle: usize = env_or("BENCH_IDLE_CLIENTS", 1000);
    let hold: u64 = env_or("BENCH_IDLE_SECS", 60);
    let before = svc.rss_mb();
    let until = Instant::now() + Duration::from_secs(hold + 30);
    let conns: Vec<_> = (0..idle)
        .map(|i| {
            let path = if i % 2 == 0 {
                "calls/stream"
            } else {
                "stats/stream"
            };
            tokio::spawn(idle_client(format!("{}/{path}", svc.base), until))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let connected = svc.rss_mb();
    let mut samples = vec![connected];
    for _ in 0..hold / 10 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        samples.push(svc.rss_mb());
    }
    let after = svc.rss_mb();
    for c in &conns {
        c.abort();
    }
    println!(
        "\n== {idle} idle SSE clients (half /calls/stream, half /stats/stream) for {hold} s =="
    );
    println!(
        "service RSS (MB): before {before:.1}, connected {connected:.1}, every 10 s {:?}, at the end {after:.1}; peak {:.1}",
        samples
            .iter()
            .map(|m| (m * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
        svc.peak_rss_mb()
    );
}

/// One idle SSE client of `url` until `until`: the bytes it received.
async fn idle_client(url: String, until: Instant) -> Option<usize> {
    let res = reqwest::Client::new().get(url).send().await.ok()?;
    let mut body = res.bytes_stream();
    let mut bytes = 0usize;
    while let Ok(Some(Ok(chunk))) =
        tokio::time::timeout(until.saturating_duration_since(Instant::now()), body.next()).await
    {
        bytes += chunk.len();
    }
    Some(bytes)
}
