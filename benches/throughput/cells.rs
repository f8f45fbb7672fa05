//! Scenario `cells`: `GET /cells` as a map reads it, over database `BENCH_CELLS_DB` (default
//! `bench_cells`) holding at least `BENCH_CELLS` radio cells (default 100,000; filled by runs of
//! 200,000 mobile calls when it holds fewer, and kept between runs): `BENCH_POLLERS` clients (default
//! 32) for `BENCH_POLL_SECS` (default 60), each once a second, alternating a city's box (New York,
//! what a map zoomed on a city asks) and 500 cells by ECGI (what the page asks for the cells of the
//! calls it is shown); latency percentiles, errors, features per answer, the server's CPU. Then
//! `GET /stats/cells` for `BENCH_CELL_STATS_SECS` (default 30) twice (see [`crate::cell_stats`]).

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::Client;
use serde_json::{Value, json};

use crate::service::Service;
use crate::shared::{Settings, cpu_seconds, env_or, latencies};

/// New York City's box, west, south, east, north.
const CITY_BOX: &str = "-74.3,40.5,-73.7,40.95";
/// Cells a page asks for at once.
const IDS_PER_ASK: usize = 500;

pub async fn run(s: &Settings) {
    let pollers: usize = env_or("BENCH_POLLERS", 32);
    let poll_secs: u64 = env_or("BENCH_POLL_SECS", 60);
    let target: u64 = env_or("BENCH_CELLS", 100_000);
    let db = std::env::var("BENCH_CELLS_DB").unwrap_or_else(|_| "bench_cells".into());
    let svc = Service::start(&s.uri, &db, s.batch, s.inflight);
    let http = reqwest::Client::new();
    svc.wait_ready(&http).await;
    let ids = fill(s, &svc, &http, &db, target).await;
    println!(
        "cells: {pollers} clients for {poll_secs} s, each once a second, alternating GET \
         /cells?bbox={CITY_BOX} and GET /cells?ecgi=<{IDS_PER_ASK} cells>"
    );
    let cpu_before = s.server_pid.map(cpu_seconds);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(poll_secs);
    let tasks: Vec<_> = (0..pollers)
        .map(|p| {
            let offset = Duration::from_millis(1000 * p as u64 / pollers as u64);
            let asks: Vec<String> = ids
                .chunks(IDS_PER_ASK)
                .skip(p)
                .step_by(pollers.max(1))
                .map(|c| c.join(","))
                .collect();
            tokio::spawn(client(
                http.clone(),
                svc.base.clone(),
                asks,
                offset,
                deadline,
            ))
        })
        .collect();
    let (mut boxed, mut by_id, mut errors, mut features) = (Vec::new(), Vec::new(), 0, [0, 0]);
    for t in tasks {
        let (b, i, e, f) = t.await.unwrap();
        boxed.extend(b);
        by_id.extend(i);
        errors += e;
        features = [features[0].max(f[0]), features[1].max(f[1])];
    }
    let secs = started.elapsed().as_secs_f64();
    for (name, xs, n) in [
        ("GET /cells?bbox=<New York>", &mut boxed, features[0]),
        ("GET /cells?ecgi=<500>", &mut by_id, features[1]),
    ] {
        println!(
            "  {name}: {n} features an answer, {} (target p99 ≤ 50 ms)",
            latencies(xs)
        );
    }
    println!("  errors: {errors} (target 0)");
    if let (Some(pid), Some(before)) = (s.server_pid, cpu_before) {
        println!(
            "  database server CPU while reading: {:.1} % of one core",
            100.0 * (cpu_seconds(pid) - before) / secs
        );
    }
    let stats_secs = env_or("BENCH_CELL_STATS_SECS", 30);
    crate::cell_stats::run(s, &svc, &http, &db, (pollers, stats_secs)).await;
}

/// Fills `db` to `target` cells with runs of mobile calls (at most ten), and answers every
/// cell's ECGI.
async fn fill(
    s: &Settings,
    svc: &Service,
    http: &reqwest::Client,
    db: &str,
    target: u64,
) -> Vec<String> {
    let cells = Client::with_uri_str(&s.uri)
        .await
        .unwrap()
        .database(db)
        .collection::<bson::Document>("cells");
    for seed in 0..10 {
        let have = cells.count_documents(bson::doc! {}).await.unwrap();
        if have >= target {
            println!("  {have} cells in {db}");
            break;
        }
        let started = Instant::now();
        let body =
            json!({ "count": 200_000, "seed": 100 + seed, "subscribers": 50_000, "async": true });
        let res = http
            .post(format!("{}/generate/calls", svc.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202, "{:?}", res.text().await);
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(900);
        while !svc.job_done(http, &id, 200_000).await {
            assert!(
                Instant::now() < deadline,
                "the filling job took over 15 minutes"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let now = cells.count_documents(bson::doc! {}).await.unwrap();
        println!(
            "  200,000 calls (seed {}) took {:.1} s and added {} cells ({now} now)",
            100 + seed,
            started.elapsed().as_secs_f64(),
            now - have
        );
    }
    let all: Vec<bson::Document> = cells
        .find(bson::doc! {})
        .projection(bson::doc! { "_id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    all.iter()
        .filter_map(|d| d.get_str("_id").ok().map(str::to_owned))
        .collect()
}

/// One map client from `offset` into the first second until `deadline`: the milliseconds of its
/// box reads and of its reads by id, how many failed, and the most features an answer held.
async fn client(
    http: reqwest::Client,
    base: String,
    asks: Vec<String>,
    offset: Duration,
    deadline: Instant,
) -> (Vec<f64>, Vec<f64>, u64, [usize; 2]) {
    let (mut boxed, mut by_id, mut errors, mut features) = (Vec::new(), Vec::new(), 0u64, [0, 0]);
    tokio::time::sleep(offset).await;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut i = 0usize;
    while Instant::now() < deadline {
        tick.tick().await;
        let which = i % 2;
        let url = match (which, asks.get((i / 2) % asks.len().max(1))) {
            (1, Some(ids)) => format!("{base}/cells?ecgi={ids}"),
            _ => format!("{base}/cells?bbox={CITY_BOX}"),
        };
        let t = Instant::now();
        let body = match http.get(&url).timeout(Duration::from_secs(30)).send().await {
            Ok(r) if r.status() == 200 => r.bytes().await.ok(),
            _ => None,
        };
        // The answer whole, before it is parsed here.
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let answer = body.and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        match answer {
            Some(v) => {
                let n = v["features"].as_array().map_or(0, Vec::len);
                features[which] = features[which].max(n);
            }
            None => errors += 1,
        }
        if which == 0 {
            boxed.push(ms)
        } else {
            by_id.push(ms)
        }
        i += 1;
    }
    (boxed, by_id, errors, features)
}
