//! Scenario `polling`: `BENCH_POLLERS` dashboards (default 32) polling the statistics for
//! `BENCH_POLL_SECS` (default 60), each once a second, over `BENCH_BIG_COUNT` calls and as many
//! metric points in database `BENCH_POLL_DB` (default `bench_poll`, filled by service jobs when it
//! holds fewer and kept between runs): latency percentiles, errors, the server's CPU, and the
//! service's peak memory through the filling and the polling.

use std::time::{Duration, Instant};

use chrono::Utc;
use mongodb::Client;

use crate::service::{Service, job};
use crate::shared::{Settings, cpu_seconds, env_or, latencies};

pub async fn run(s: &Settings) {
    let pollers: usize = env_or("BENCH_POLLERS", 32);
    let poll_secs: u64 = env_or("BENCH_POLL_SECS", 60);
    let db = std::env::var("BENCH_POLL_DB").unwrap_or_else(|_| "bench_poll".into());
    let svc = Service::start(&s.uri, &db, s.batch, s.inflight);
    let http = reqwest::Client::new();
    svc.wait_ready(&http).await;
    fill(s, &svc, &http, &db).await;
    println!(
        "polling: {pollers} dashboards for {poll_secs} s, each once a second, alternating GET \
         /stats and GET /stats/calls/series?from=<now-30d>&to=<now>&interval=1h (epoch ms, \
         moving, so no two requests share an answer)"
    );
    let cpu_before = s.server_pid.map(cpu_seconds);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(poll_secs);
    let tasks: Vec<_> = (0..pollers)
        .map(|p| {
            // Spread the pollers over the second, as independent dashboards would be.
            let offset = Duration::from_millis(1000 * p as u64 / pollers as u64);
            tokio::spawn(dashboard(http.clone(), svc.base.clone(), offset, deadline))
        })
        .collect();
    let (mut overview, mut series, mut errors) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        let (o, s, e) = t.await.unwrap();
        overview.extend(o);
        series.extend(s);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    for (name, xs) in [
        ("GET /stats", &mut overview),
        ("GET /stats/calls/series 1h/30d", &mut series),
    ] {
        println!("  {name}: {}", latencies(xs));
    }
    println!("  errors: {errors} (target 0)");
    if let (Some(pid), Some(before)) = (s.server_pid, cpu_before) {
        println!(
            "  database server CPU while polling: {:.1} % of one core",
            100.0 * (cpu_seconds(pid) - before) / secs
        );
    }
    println!(
        "  peak RSS of the service through the filling and the polling: {:.1} MB (target ≤ 150 MB)",
        svc.peak_rss_mb()
    );
}

/// Fills database `db` to `BENCH_BIG_COUNT` calls and as many metric points with service jobs.
async fn fill(s: &Settings, svc: &Service, http: &reqwest::Client, db: &str) {
    let client = Client::with_uri_str(&s.uri).await.unwrap();
    for (path, coll) in [
        ("/generate/calls", "calls"),
        ("/generate/metrics", "metrics"),
    ] {
        let have = client
            .database(db)
            .collection::<bson::Document>(coll)
            .estimated_document_count()
            .await
            .unwrap();
        if have < u64::from(s.big) {
            let done = job(svc, http, path, u64::from(s.big) - have, &s.uri, db).await;
            println!("  filled {coll} to {}: {:.0} docs/s", s.big, done.rate);
        } else {
            println!("  {coll}: {have} documents already");
        }
    }
}

/// One dashboard from `offset` into the first second until `deadline`: the milliseconds of its
/// overview reads and of its series reads, and how many failed.
async fn dashboard(
    http: reqwest::Client,
    base: String,
    offset: Duration,
    deadline: Instant,
) -> (Vec<f64>, Vec<f64>, u64) {
    let (mut overview, mut series, mut errors) = (Vec::new(), Vec::new(), 0u64);
    tokio::time::sleep(offset).await;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut i = 0u64;
    while Instant::now() < deadline {
        tick.tick().await;
        let now = Utc::now().timestamp_millis();
        let url = if i.is_multiple_of(2) {
            format!("{base}/stats")
        } else {
            format!(
                "{base}/stats/calls/series?from={}&to={now}&interval=1h",
                now - 30 * 86_400_000
            )
        };
        let t = Instant::now();
        let ok = http
            .get(&url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if !ok {
            errors += 1;
        }
        if i.is_multiple_of(2) {
            overview.push(ms)
        } else {
            series.push(ms)
        }
        i += 1;
    }
    (overview, series, errors)
}
