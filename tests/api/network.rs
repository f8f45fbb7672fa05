//! A bad network between the service and the database (through [`Proxy`]): a blackhole that keeps
//! connections open and passes nothing, connections reset every two seconds, and 200 ms of
//! latency. The service must notice, open new connections, and lose or duplicate nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bson::{Document, doc};
use futures::TryStreamExt;
use linq_datagen::config::DbSettings;
use mongodb::Database;
use serde_json::{Value, json};

use crate::helpers::{TestApp, mongo_uri, patient_client, poll_until, spawn_app_with};
use crate::live::start_live;
use crate::proxy::Proxy;
use crate::rollups::{assert_exact, written};

/// The service through a fresh proxy to the suite's server, with settings adjusted by `tweak`;
/// the test's own handle on the database goes around the proxy.
async fn behind_proxy_with(tweak: impl FnOnce(&mut DbSettings)) -> (Proxy, TestApp) {
    let proxy = Proxy::to(&mongo_uri()).await;
    let mut app = spawn_app_with(&proxy.uri(), |db, serve| {
        serve.live_stale_secs = 2;
        tweak(db);
    })
    .await;
    let direct = patient_client(&mongo_uri()).await;
    app.db = direct.database(app.db.name());
    ready_within(&app, Duration::from_secs(30)).await;
    (proxy, app)
}

async fn behind_proxy() -> (Proxy, TestApp) {
    behind_proxy_with(|_| {}).await
}

/// Waits until `/readyz` answers 200, each answer awaited at most 2 s; returns how long it took.
async fn ready_within(app: &TestApp, limit: Duration) -> Duration {
    let started = Instant::now();
    poll_until(limit, "readiness", async || {
        let res = app
            .http
            .get(format!("{}/readyz", app.address))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match res.status().as_u16() {
            200 => Ok(started.elapsed()),
            other => Err(format!("{other}: {}", res.text().await.unwrap_or_default())),
        }
    })
    .await
}

/// `n` dashboards polling `GET /stats` every 250 ms until stopped (each at most 2,000 requests):
/// the statuses they got, counted.
struct Pollers {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<BTreeMap<u16, u32>>>,
}

impl Pollers {
    fn start(app: &TestApp, n: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..n)
            .map(|_| {
                let (stop, http) = (stop.clone(), app.http.clone());
                let url = format!("{}/stats", app.address);
                tokio::spawn(async move {
                    let mut seen = BTreeMap::new();
                    for _ in 0..2000 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let status =
                            match http.get(&url).timeout(Duration::from_secs(30)).send().await {
                                Ok(res) => res.status().as_u16(),
                                Err(_) => 0,
                            };
                        *seen.entry(status).or_insert(0) += 1;
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    seen
                })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops them; every answer was a 200 or a documented 503, and some were 200s.
    async fn check(self) {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = BTreeMap::new();
        for task in self.tasks {
            for (status, n) in task.await.unwrap() {
                *all.entry(status).or_insert(0) += n;
            }
        }
        assert!(
            all.keys().all(|s| [200, 503].contains(s)) && all.contains_key(&200),
            "poll answers: {all:?}"
        );
    }
}

async fn job_done(app: &TestApp, id: &str) -> Value {
    poll_until(Duration::from_secs(300), "the job to end", async || {
        let job: Value = app
            .get(&format!("/jobs/{id}"))
            .await
            .json()
            .await
            .map_err(|e| e.to_string())?;
        match job["state"].as_str() {
            Some("running") | None => Err(job.to_string()),
            _ => Ok(job),
        }
    })
    .await
}

/// Starts a calls job of `body` and waits until it has written `n` calls; returns its id.
async fn job_under_way(app: &TestApp, body: &Value, n: u64) -> String {
    let job = app.start_job("/generate/calls", body).await;
    poll_until(
        Duration::from_secs(60),
        "some documents",
        async || match written(app, &job).await {
            w if w >= n => Ok(()),
            w => Err(format!("{w} written")),
        },
    )
    .await;
    job
}

/// The calls' `_id`s grouped by the run that wrote them (the first 8 bytes: start and nonce), each
/// group's indices (the last 4 bytes) sorted.
///
/// Reading a million `_id`s takes a while, and while the other tests load the server a heartbeat of
/// the test's own client can time out; the driver then cancels the read in flight ("interrupted
/// due to server monitor timeout"). That says nothing about the data, so the read starts over,
/// whole, up to three times.
pub async fn calls_by_run(db: &Database) -> BTreeMap<[u8; 8], Vec<u32>> {
    let mut failures = Vec::new();
    for _ in 0..3 {
        match read_calls_by_run(db).await {
            Ok(runs) => return runs,
            Err(e) => failures.push(e.to_string()),
        }
    }
    panic!("reading the calls' _ids failed three times: {failures:?}");
}

async fn read_calls_by_run(
    db: &Database,
) -> Result<BTreeMap<[u8; 8], Vec<u32>>, mongodb::error::Error> {
    let mut runs: BTreeMap<[u8; 8], Vec<u32>> = BTreeMap::new();
    let mut cursor = db
        .collection::<Document>("calls")
        .find(doc! {})
        .projection(doc! { "_id": 1 })
        .await?;
    while let Some(d) = cursor.try_next().await? {
        let b = d.get_object_id("_id").unwrap().bytes();
        let (run, index) = b.split_at(8);
        runs.entry(run.try_into().unwrap())
            .or_default()
            .push(u32::from_be_bytes(index.try_into().unwrap()));
    }
    runs.values_mut().for_each(|v| v.sort_unstable());
    Ok(runs)
}

/// The runs' indices are each `0..n` (none missing, none twice; `_id`s are unique anyway).
pub fn assert_whole(runs: &BTreeMap<[u8; 8], Vec<u32>>) {
    for indices in runs.values() {
        assert!(
            indices.iter().enumerate().all(|(i, &x)| i as u32 == x),
            "a run misses indices: {} written, last {:?}",
            indices.len(),
            indices.last()
        );
    }
}

#[tokio::test]
async fn a_blackholed_network_is_noticed_and_a_job_and_a_live_run_end_exact() {
    let (proxy, app) = behind_proxy().await;
    let live = start_live(
        &app,
        &json!({ "calls_per_second": 50, "step_seconds": 1, "hosts": 1, "seed": 3 }),
    )
    .await;
    let pollers = Pollers::start(&app, 16);
    let job = job_under_way(&app, &json!({ "count": 300_000, "seed": 5 }), 20_000).await;

    proxy.blackhole();
    let (blackholed, opened) = (Instant::now(), proxy.accepted());
    let back = ready_within(&app, Duration::from_secs(15)).await;
    eprintln!("ready again {back:?} after the blackhole began");
    assert!(proxy.accepted() > opened, "ready without new connections?");
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(blackholed.elapsed())).await;
    proxy.heal();

    let job = job_done(&app, &job).await;
    assert_eq!(job["state"], "done", "{job}");
    let res = app.post(&format!("/live/{live}/stop"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let run: Value = res.json().await.unwrap();
    pollers.check().await;

    let runs = calls_by_run(&app.db).await;
    assert_whole(&runs);
    let mut sizes: Vec<u64> = runs.values().map(|v| v.len() as u64).collect();
    sizes.sort_unstable();
    let mut expected = vec![300_000, run["calls_written"].as_u64().unwrap()];
    expected.sort_unstable();
    assert_eq!(sizes, expected, "{run}");
    assert_eq!(
        app.count("metrics", doc! {}).await,
        run["points_written"].as_u64().unwrap()
    );
    assert_exact(&app).await;
}

#[tokio::test]
async fn connections_reset_every_two_seconds_leave_a_million_call_job_exact() {
    let (proxy, app) = behind_proxy().await;
    let job = app
        .start_job("/generate/calls", &json!({ "count": 1_000_000, "seed": 6 }))
        .await;
    let (mut resets, mut unanswered) = (0, 0);
    let done = loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let res = app.get(&format!("/jobs/{job}")).await;
        // A status read whose connections keep being reset may run out of its time: a 503 the
        // poller (a dashboard) asks again after.
        if res.status() == 503 && unanswered < 100 {
            unanswered += 1;
            continue;
        }
        let job: Value = res.json().await.unwrap();
        if job["state"] != "running" || resets == 600 {
            break job;
        }
        proxy.reset_all();
        resets += 1;
    };
    eprintln!("{resets} resets, {unanswered} status reads unanswered; {done}");
    assert!(resets >= 3, "the job ended before the faults: {done}");
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["inserted"], 1_000_000, "{done}");
    let runs = calls_by_run(&app.db).await;
    assert_whole(&runs);
    assert_eq!(app.count("calls", doc! {}).await, 1_000_000);
    assert_exact(&app).await;
}

#[tokio::test]
async fn two_hundred_milliseconds_of_latency_slow_the_service_down_and_nothing_else() {
    let (proxy, app) = behind_proxy().await;
    proxy.latency(Duration::from_millis(200));
    let pollers = Pollers::start(&app, 4);
    let res = app
        .post("/generate/calls", &json!({ "count": 2_000, "days": 1 }))
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let job = app
        .start_job(
            "/generate/metrics",
            &json!({ "count": 20_000, "seed": 2, "async": true }),
        )
        .await;
    let job = job_done(&app, &job).await;
    assert_eq!(job["state"], "done", "{job}");
    pollers.check().await;
    proxy.latency(Duration::ZERO);
    assert_eq!(app.count("calls", doc! {}).await, 2_000);
    assert_eq!(app.count("metrics", doc! {}).await, 20_000);
    assert_exact(&app).await;
}

/// Pooled connections go silent on the operations they carry while the monitoring ones (and
/// pings) answer: every pool slot ends up held by an insert that waits for ever, so nothing else
/// gets a connection. The client watchdog (or the bound on each operation) must see to it; with
/// neither, the service stays unready.
async fn wedged(op_timeout_ms: u64, watchdog_secs: u64) -> (Proxy, TestApp, String, Duration) {
    let (proxy, app) = behind_proxy_with(|db| {
        db.pool_size = 2;
        db.mongo_op_timeout_ms = op_timeout_ms;
        db.mongo_watchdog_secs = watchdog_secs;
    })
    .await;
    let job = job_under_way(&app, &json!({ "count": 500_000, "seed": 8 }), 10_000).await;
    // Wedged: readiness fails for a while. The blackhole is laid again before every look: a
    // connection the pool was still opening when it began is numbered after it and would pass,
    // leaving the pool a working slot (seen once in CI). Pings pass, so one that gets a slot
    // never stalls, times out and frees it (also seen). Readiness fails before the watchdog's
    // third failed ping, so its fresh client's connections come after the last blackhole.
    poll_until(Duration::from_secs(10), "readiness to fail", async || {
        proxy.blackhole_pool();
        let res = app
            .http
            .get(format!("{}/readyz", app.address))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match res.status().as_u16() {
            503 => Ok(()),
            other => Err(other.to_string()),
        }
    })
    .await;
    let back = ready_within(&app, Duration::from_secs(20)).await;
    (proxy, app, job, back)
}

#[tokio::test]
async fn the_watchdog_replaces_a_wedged_client() {
    // Operations bounded at an hour: only the watchdog can help.
    let (_proxy, app, _, back) = wedged(3_600_000, 1).await;
    eprintln!("ready again {back:?} after readiness failed");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("database_client_rebuilds_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    let res = app
        .post("/generate/calls", &json!({ "count": 100, "days": 1 }))
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
}

#[tokio::test]
async fn bounded_operations_free_a_wedged_pool_and_the_job_ends_exact() {
    // No watchdog: the bound on each operation frees the pool.
    let (proxy, app, job, back) = wedged(2_000, 0).await;
    eprintln!("ready again {back:?} after readiness failed");
    proxy.heal();
    let job = job_done(&app, &job).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(app.count("calls", doc! {}).await, 500_000);
    assert_whole(&calls_by_run(&app.db).await);
    assert_exact(&app).await;
}

#[tokio::test]
async fn refused_connections_are_answered_503_until_the_database_takes_them_again() {
    let (proxy, app) = behind_proxy().await;
    proxy.refuse(true);
    proxy.reset_all();
    poll_until(
        Duration::from_secs(10),
        "readiness to fail",
        async || match app.get("/readyz").await.status().as_u16() {
            503 => Ok(()),
            other => Err(other.to_string()),
        },
    )
    .await;
    let res = app
        .post("/generate/calls", &json!({ "count": 10, "days": 1 }))
        .await;
    assert_eq!(res.status(), 503, "{:?}", res.text().await);
    assert_eq!(app.count("calls", doc! {}).await, 0);
    proxy.refuse(false);
    ready_within(&app, Duration::from_secs(15)).await;
    let res = app
        .post("/generate/calls", &json!({ "count": 10, "days": 1 }))
        .await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
}

/// The wedge seen under load: a job's heartbeat awaited a pool slot while the job's own inserts,
/// holding the other slots, were not polled, and the whole service stopped reaching the
/// database. Two connections make it certain.
#[tokio::test]
async fn a_job_on_a_two_connection_pool_runs_to_the_end() {
    let app = spawn_app_with(&mongo_uri(), |db, _| db.pool_size = 2).await;
    let job = app
        .start_job(
            "/generate/calls",
            &json!({ "count": 60_000, "seed": 9, "async": true }),
        )
        .await;
    let job = job_done(&app, &job).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(app.count("calls", doc! {}).await, 60_000);
    assert_eq!(app.get("/readyz").await.status(), 200);
}
