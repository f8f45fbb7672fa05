//! The `cells` scenario's second part: `GET /stats/cells` over the same database, as a dashboard
//! panel of the busiest cells reads it. The per-cell rollup is rebuilt first when the database's
//! calls predate it. Four figures: the first answer after the service started (nothing kept), then
//! `BENCH_POLLERS` clients once a second asking the same thing (kept answers), then the same
//! clients each asking another `top` every time (no answer kept: every request sums the days'
//! documents again, joined only by identical concurrent requests, though the documents themselves
//! are kept and only changed ones fetched), then the same query while a live run writes calls.

use std::time::{Duration, Instant};

use mongodb::Client;
use serde_json::{Value, json};

use crate::service::Service;
use crate::shared::{Settings, answer, latencies};

pub async fn run(
    s: &Settings,
    svc: &Service,
    http: &reqwest::Client,
    db: &str,
    (pollers, secs): (usize, u64),
) {
    let database = Client::with_uri_str(&s.uri).await.unwrap().database(db);
    let rollup = database.collection::<bson::Document>("cells_rollup");
    if rollup.estimated_document_count().await.unwrap() == 0 {
        rebuild(svc, http).await;
    }
    let latest = database
        .collection::<bson::Document>("calls")
        .find_one(bson::doc! {})
        .sort(bson::doc! { "start_time": -1 })
        .await
        .unwrap()
        .and_then(|d| {
            d.get_datetime("start_time")
                .ok()
                .map(|t| t.timestamp_millis())
        })
        .unwrap_or_default();
    let base = format!("{}/stats/cells?to={}", svc.base, latest + 1);
    let url = move |top: usize| format!("{base}&top={top}");
    let t = Instant::now();
    let first: Value = answer(http.get(url(100))).await;
    println!(
        "  GET /stats/cells?top=100 over {} to {}: {} cells, {} calls; first answer {:.0} ms \
         (nothing kept)",
        first["from"],
        first["to"],
        first["cells"],
        first["calls"],
        t.elapsed().as_secs_f64() * 1000.0
    );
    for (name, vary) in [("the same query", false), ("another top each time", true)] {
        let (mut ms, errors) = poll(http, &url, pollers, secs, vary).await;
        println!(
            "  GET /stats/cells, {pollers} clients once a second, {name}: {errors} errors, {} \
             (target p99 ≤ 50 ms)",
            latencies(&mut ms)
        );
    }
    // Under ingest: a live run writes calls now, so every batch changes today's documents and no
    // answer is kept for long; the range is the default one (the last 30 days, today included).
    let live: Value = answer(
        http.post(format!("{}/live", svc.base))
            .json(&json!({ "calls_per_second": 200, "step_seconds": 5, "hosts": 3, "seed": 9 })),
    )
    .await;
    let id = live["id"].as_str().expect("a live run").to_owned();
    let recent = format!("{}/stats/cells?top=100", svc.base);
    let (mut ms, errors) = poll(http, &move |_| recent.clone(), pollers, secs, false).await;
    let stopped: Value = answer(http.post(format!("{}/live/{id}/stop", svc.base))).await;
    println!(
        "  GET /stats/cells (the last 30 days), {pollers} clients once a second while a live run \
         wrote {} calls: {errors} errors, {} (target p99 ≤ 50 ms)",
        stopped["calls_written"],
        latencies(&mut ms)
    );
}

/// `pollers` clients asking `url(top)` once a second each for `secs`, spread over the second
/// (`vary`: another `top` every time); every latency in ms, and the errors.
async fn poll(
    http: &reqwest::Client,
    url: &(impl Fn(usize) -> String + Clone + Send + Sync + 'static),
    pollers: usize,
    secs: u64,
    vary: bool,
) -> (Vec<f64>, u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..pollers)
        .map(|p| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1000 * p as u64 / pollers as u64)).await;
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                let (mut ms, mut errors, mut i) = (Vec::new(), 0u64, 0usize);
                while Instant::now() < deadline {
                    tick.tick().await;
                    let top = if vary { 1 + (p * 37 + i) % 1000 } else { 100 };
                    let t = Instant::now();
                    let ok = match http
                        .get(url(top))
                        .timeout(Duration::from_secs(30))
                        .send()
                        .await
                    {
                        Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    errors += u64::from(!ok);
                    i += 1;
                }
                (ms, errors)
            })
        })
        .collect();
    let (mut ms, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (m, e) = t.await.unwrap();
        ms.extend(m);
        errors += e;
    }
    (ms, errors)
}

/// Rebuilds the calls' rollups (the per-cell one with them) and reports how long it took.
async fn rebuild(svc: &Service, http: &reqwest::Client) {
    let t = Instant::now();
    let res = http
        .post(format!("{}/stats/rebuild", svc.base))
        .json(&json!({ "kind": "calls" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let job: Value = answer(http.get(format!("{}/jobs/{id}", svc.base))).await;
        if job["state"] != "running" {
            assert_eq!(job["state"], "done", "{job}");
            println!(
                "  the calls' rollups rebuilt (the per-cell one was empty): {} calls in {:.1} s",
                job["inserted"],
                t.elapsed().as_secs_f64()
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the rebuild took over 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
