//! The benchmark of docs/performance.md: generation alone; the raw insert ceiling of
//! the server with calls in scattered and in time order; the service end to end over HTTP (with
//! its rollups) against both, at 1,000,000 and 10,000,000 documents of each kind; then dashboards
//! polling the statistics of 10,000,000 calls and 10,000,000 metric points; with the service's
//! peak memory throughout; and, on its own (`scripts/bench.sh pair`), the ceiling racing the
//! service on one server. Run it with `scripts/bench.sh`; it needs `BENCH_MONGO_URI` and a
//! release build.
//!
//! Every request goes to 127.0.0.1 and every loop is bounded in count and time.

use std::time::{Duration, Instant};

use bson::RawDocumentBuf;
use chrono::{TimeZone, Utc};
use futures::StreamExt;
use linq_datagen::config::DbSettings;
use linq_datagen::generate::CallModel;
use linq_datagen::generate::MetricModel;
use linq_datagen::generate::Params;
use linq_datagen::generate::params::DEFAULT_SUBSCRIBERS;
use linq_datagen::generate::{CallParams, Category, PointParams, RunId};
use linq_datagen::pipeline::{RunSpec, Spares};
use linq_datagen::store::Store;
use mongodb::Client;
use serde_json::{Value, json};

mod common;
use common::{Service, env_or, percentile};

#[path = "throughput/sent.rs"]
mod sent;
use sent::Snapshot;

#[path = "throughput/pair.rs"]
mod pair;

fn call_spec(count: u32) -> RunSpec {
    RunSpec {
        params: Params::Calls(CallParams {
            end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            days: 30,
            subscribers: DEFAULT_SUBSCRIBERS,
            scenario: None,
            model: CallModel::default(),
        }),
        count,
        seed: 1,
    }
}

fn metric_spec(count: u32) -> RunSpec {
    RunSpec {
        params: Params::Metrics(PointParams {
            end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            step_seconds: 30,
            categories: Category::ALL.to_vec(),
            hosts: 3,
            scenario: None,
            model: MetricModel::default(),
        }),
        count,
        seed: 1,
    }
}

/// (a) Documents per second of generation alone, on this thread (one core); each batch is
/// given back for its buffers once counted, as a run gives back each batch once inserted.
fn generation_rate(spec: &RunSpec) -> f64 {
    let run = RunId::new(1, 2);
    let started = Instant::now();
    let mut bytes = 0usize;
    let spares = Spares::up_to(1);
    for batch in spec.batches_reusing(run, 5000, spares.clone()) {
        bytes += batch.iter().map(|d| d.as_bytes().len()).sum::<usize>();
        spares.give(batch);
    }
    let secs = started.elapsed().as_secs_f64();
    assert!(bytes > 0);
    f64::from(spec.count) / secs
}

/// (a) Documents per second of what a run's producer thread does per batch, on this thread: the
/// documents generated with their contribution to the rollups summed (the service's cost per
/// document before the driver, of which generation alone is a part).
fn producer_rate(spec: &RunSpec) -> f64 {
    let run = RunId::new(1, 2);
    let started = Instant::now();
    let mut parts = 0usize;
    let spares = Spares::up_to(1);
    for (batch, rollup) in spec.tallied_batches_reusing(run, 10_000, spares.clone()) {
        std::hint::black_box(&batch);
        parts += rollup.cells(|_| true).len();
        spares.give(batch);
    }
    let secs = started.elapsed().as_secs_f64();
    assert!(parts > 0);
    f64::from(spec.count) / secs
}

/// (a) alone: no database needed; `BENCH_GEN_COUNT` documents of each kind, `BENCH_REPS` rounds.
fn generation(count: u32, reps: usize) {
    println!(
        "(a) generation alone and with the rollup contribution, one core, {count} docs a round"
    );
    for (kind, spec) in [("calls", call_spec(count)), ("metrics", metric_spec(count))] {
        let gen_alone: Vec<f64> = (0..reps).map(|_| generation_rate(&spec)).collect();
        let producer: Vec<f64> = (0..reps).map(|_| producer_rate(&spec)).collect();
        println!(
            "  {kind:<8} generation {:>10.0} docs/s (median of {reps}), with rollups {:>10.0} docs/s",
            median(gen_alone),
            median(producer)
        );
    }
}

/// Collections set up exactly as the service sets up its own (validators and indexes), so the
/// server does the same work per document in (b) and (c).
async fn ceiling_store(uri: &str, db: &str) -> Ceiling {
    let settings = DbSettings {
        mongo_uri: uri.to_string(),
        mongo_db: db.into(),
        pool_size: 16,
        mongo_timeout_ms: 5000,
        mongo_op_timeout_ms: 120_000,
        mongo_watchdog_secs: 0,
        batch_size: 5000,
        inflight_batches: 4,
    };
    Ceiling {
        store: Store::connect(&settings).await.unwrap(),
        db: Client::with_uri_str(uri)
            .await
            .unwrap()
            .database(&settings.mongo_db),
    }
}

/// The service's store (for the set-up) and a plain driver handle on the same database (for the
/// raw inserts).
struct Ceiling {
    store: Store,
    db: mongodb::Database,
}

/// (b) One ceiling run: `docs` pre-built documents of `spec`'s shape (no rollups), inserted
/// unordered in batches of `batch_size` with `concurrency` `insert_many` calls in flight, into fresh
/// collections, and left there; `scattered` shuffles them first, so start times arrive in random
/// order as they did before calls were generated in time order.
async fn ceiling_once(
    ceiling: &Ceiling,
    spec: &RunSpec,
    docs: u32,
    batch_size: usize,
    concurrency: usize,
    scattered: bool,
) -> f64 {
    let batches = ceiling.prepare(spec, docs, batch_size, scattered).await;
    let started = Instant::now();
    ceiling.insert(spec, batches, concurrency).await;
    // The documents stay until the next run's settle drops them, as a service run's do: a drop
    // of 1,000,000 documents costs the server about 16 CPU seconds, which belongs to neither.
    f64::from(docs) / started.elapsed().as_secs_f64()
}

impl Ceiling {
    /// Fresh collections set up as the service's, and `docs` documents of `spec`'s shape built
    /// in memory and cut into batches, so the timed part sends and nothing else.
    async fn prepare(
        &self,
        spec: &RunSpec,
        docs: u32,
        batch_size: usize,
        scattered: bool,
    ) -> Vec<Vec<RawDocumentBuf>> {
        let _ = self.db.drop().await;
        self.store.setup().await.unwrap();
        let mut spec = spec.clone();
        spec.count = docs;
        let mut all: Vec<RawDocumentBuf> = spec
            .batches(RunId::new(3, 4), batch_size)
            .flatten()
            .collect();
        if scattered {
            // Fisher–Yates on a fixed seed: the same permutation in every run.
            let mut rng = linq_datagen::generate::rng::stream_rng(99, 0);
            for i in (1..all.len()).rev() {
                let j = linq_datagen::generate::rng::below(&mut rng, i as u64 + 1) as usize;
                all.swap(i, j);
            }
        }
        let mut batches = Vec::with_capacity(all.len() / batch_size + 1);
        let mut rest = all.into_iter();
        loop {
            let batch: Vec<RawDocumentBuf> = rest.by_ref().take(batch_size).collect();
            if batch.is_empty() {
                break;
            }
            batches.push(batch);
        }
        batches
    }

    /// Sends `batches` unordered, `concurrency` `insert_many` calls in flight.
    async fn insert(&self, spec: &RunSpec, batches: Vec<Vec<RawDocumentBuf>>, concurrency: usize) {
        let coll = self
            .db
            .collection::<RawDocumentBuf>(spec.kind().collection());
        futures::stream::iter(batches)
            .map(|b| {
                let coll = coll.clone();
                async move { coll.insert_many(b).ordered(false).await.unwrap() }
            })
            .buffer_unordered(concurrency)
            .for_each(|_| async {})
            .await;
    }
}

/// Brings the server to the same state before every timed run, ceiling or service: the databases
/// in `drop` dropped (the run before left its documents), a checkpoint asked for (`fsync`), then
/// `secs` of quiet, so no timed run starts inside another's drop or checkpoint. Says whether the
/// server took the `fsync`, and the server CPU seconds the settle took.
async fn settle(uri: &str, drop: &[&str], secs: u64, server: Option<u32>) -> (bool, Option<f64>) {
    let cpu = server.map(cpu_seconds);
    let client = Client::with_uri_str(uri).await.unwrap();
    for db in drop {
        let _ = client.database(db).drop().await;
    }
    let synced = client
        .database("admin")
        .run_command(bson::doc! { "fsync": 1 })
        .await
        .is_ok();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    (
        synced,
        server.zip(cpu).map(|(pid, cpu)| cpu_seconds(pid) - cpu),
    )
}

/// Where the ceiling runs write.
const CEILING_DB: &str = "bench_ceiling";

/// Starts the next run on an empty database.
async fn drop_db(uri: &str, db: &str) {
    let _ = Client::with_uri_str(uri)
        .await
        .unwrap()
        .database(db)
        .drop()
        .await;
}

/// The middle value; with an even count the mean of the two middle ones, so two rounds report their
/// mean rather than the larger.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len().is_multiple_of(2) {
        (xs[mid - 1] + xs[mid]) / 2.0
    } else {
        xs[mid]
    }
}

/// What one job over HTTP measured.
struct Job {
    /// Documents per second from request to done.
    rate: f64,
    /// Status reads the benchmark sent (`GET /jobs/{id}`).
    polls: u64,
    /// `count` commands the benchmark sent itself (waiting for the first 100,000).
    counts: u64,
}

/// (c) One job over HTTP, polled until done.
async fn end_to_end(
    svc: &Service,
    http: &reqwest::Client,
    path: &str,
    count: u64,
    uri: &str,
    db: &str,
) -> Job {
    for _ in 0..200 {
        if http
            .get(format!("{}/readyz", svc.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = Client::with_uri_str(uri).await.unwrap();
    let coll = client
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
    let (mut first_100k, mut polls, mut counts) = (f64::NAN, 0, 0);
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        assert!(
            Instant::now() < deadline,
            "job did not finish in 30 minutes"
        );
        if first_100k.is_nan() {
            counts += 1;
            let n = coll.estimated_document_count().await.unwrap_or(0);
            if n >= before + 100_000.min(count) {
                first_100k = started.elapsed().as_secs_f64();
            }
        }
        polls += 1;
        let res = http
            .get(format!("{}/jobs/{id}", svc.base))
            .send()
            .await
            .unwrap();
        if res.status() != 200 {
            // A busy server can stall a status read; the job goes on. Report and poll again.
            eprintln!(
                "  status read answered {}: {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let job: Value = res.json().await.unwrap();
        if job["state"] != "running" {
            assert_eq!(job["state"], "done", "{job}");
            assert_eq!(job["inserted"].as_u64().unwrap(), count);
            break;
        }
        tokio::time::sleep(Duration::from_millis(if first_100k.is_nan() {
            100
        } else {
            250
        }))
        .await;
    }
    Job {
        rate: count as f64 / started.elapsed().as_secs_f64(),
        polls,
        counts,
    }
}

/// CPU seconds process `pid` has used (user + system), from `/proc`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// (e) `pollers` dashboards polling the statistics for `poll_secs`, each once a second.
async fn poll(
    svc: &Service,
    http: &reqwest::Client,
    pollers: usize,
    poll_secs: u64,
    server_pid: Option<u32>,
) {
    println!(
        "(e) {pollers} dashboards polling for {poll_secs} s, each once a second, alternating GET /stats and \
         GET /stats/calls/series?from=<now-30d>&to=<now>&interval=1h (epoch ms, moving, so no two \
         requests share an answer)"
    );
    let cpu_before = server_pid.map(cpu_seconds);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(poll_secs);
    let tasks: Vec<_> = (0..pollers)
        .map(|p| {
            let (http, base) = (http.clone(), svc.base.clone());
            tokio::spawn(async move {
                let (mut overview, mut series, mut errors) = (Vec::new(), Vec::new(), 0u64);
                // Spread the pollers over the second, as independent dashboards would be.
                tokio::time::sleep(Duration::from_millis(1000 * p as u64 / pollers as u64)).await;
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
            })
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
        let n = xs.len();
        println!(
            "  {name}: {n} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            percentile(xs, 50.0),
            percentile(xs, 99.0),
            percentile(xs, 100.0)
        );
    }
    println!("  errors: {errors} (target 0)");
    if let (Some(pid), Some(before)) = (server_pid, cpu_before) {
        println!(
            "  database server CPU while polling: {:.1} % of one core",
            100.0 * (cpu_seconds(pid) - before) / secs
        );
    }
}

#[tokio::main]
async fn main() {
    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "gen") {
        return generation(
            env_or("BENCH_GEN_COUNT", 2_000_000),
            env_or("BENCH_REPS", 3),
        );
    }
    let uri = std::env::var("BENCH_MONGO_URI").expect("BENCH_MONGO_URI (scripts/bench.sh sets it)");
    let n1: u32 = env_or("BENCH_E2E_COUNT", 1_000_000);
    let n2: u32 = env_or("BENCH_BIG_COUNT", 10_000_000);
    let reps: usize = env_or("BENCH_REPS", 3);
    let poll_secs: u64 = env_or("BENCH_POLL_SECS", 60);
    let pollers: usize = env_or("BENCH_POLLERS", 32);
    let big_scattered = std::env::var("BENCH_BIG_SCATTERED").map_or(true, |v| v != "0");
    let server_pid: Option<u32> = std::env::var("BENCH_SERVER_PID")
        .ok()
        .and_then(|v| v.parse().ok());
    // The service's defaults (batches of 10,000, 4 in flight) unless `BENCH_BATCH` and
    // `BENCH_INFLIGHT` say otherwise; the ceiling runs use the same.
    let batch: usize = env_or("BENCH_BATCH", 10_000);
    let inflight: usize = env_or("BENCH_INFLIGHT", 4);

    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "poll") {
        // (e) alone, against a database kept between runs: filled once with the large jobs.
        let db = std::env::var("BENCH_POLL_DB").unwrap_or_else(|_| "bench_poll".into());
        let svc = Service::start(&uri, &db, batch, inflight);
        let http = reqwest::Client::new();
        svc.wait_ready(&http).await;
        let client = Client::with_uri_str(&uri).await.unwrap();
        for (path, coll) in [
            ("/generate/calls", "calls"),
            ("/generate/metrics", "metrics"),
        ] {
            let have = client
                .database(&db)
                .collection::<bson::Document>(coll)
                .estimated_document_count()
                .await
                .unwrap();
            if have < u64::from(n2) {
                let job = end_to_end(&svc, &http, path, u64::from(n2) - have, &uri, &db).await;
                println!("  filled {coll} to {n2}: {:.0} docs/s", job.rate);
            } else {
                println!("  {coll}: {have} documents already");
            }
        }
        poll(&svc, &http, pollers, poll_secs, server_pid).await;
        println!(
            "(f) peak RSS of the service through (e): {:.1} MB (target ≤ 150 MB)",
            svc.peak_rss_mb()
        );
        return;
    }

    // `BENCH_KINDS` narrows (b)–(d) and (h) to one kind, for more rounds of it in the same time.
    let kinds = std::env::var("BENCH_KINDS").unwrap_or_else(|_| "calls,metrics".into());
    let (with_calls, with_points) = (kinds.contains("calls"), kinds.contains("metrics"));
    let settle_secs: u64 = env_or("BENCH_SETTLE_SECS", 5);
    // The kinds to run: the path to ask the service, the documents' shape, and whether they are
    // calls (which also get a scattered ceiling).
    let runs: Vec<(&str, RunSpec, bool)> = [
        ("/generate/calls", call_spec(0), true, with_calls),
        ("/generate/metrics", metric_spec(0), false, with_points),
    ]
    .into_iter()
    .filter(|run| run.3)
    .map(|(path, spec, calls, _)| (path, spec, calls))
    .collect();

    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "pair") {
        let batching = (batch, inflight);
        return pair::run(&uri, &runs, n1, batching, reps, settle_secs, server_pid).await;
    }

    println!("(a) generation alone, one core");
    println!(
        "  calls:   {:>12.0} docs/s",
        generation_rate(&call_spec(2_000_000))
    );
    println!(
        "  metrics: {:>12.0} docs/s",
        generation_rate(&metric_spec(2_000_000))
    );

    let ceiling = ceiling_store(&uri, CEILING_DB).await;
    let http = reqwest::Client::new();
    let db = "bench_e2e";
    let both = [CEILING_DB, db];
    let (synced, _) = settle(&uri, &both, 0, None).await;
    println!(
        "(b, c) {n1} documents a run, batches of {batch} with {inflight} in flight; ceiling runs \
         (pre-built documents, no rollups) and service runs (over HTTP, rollups kept) alternate, \
         the ceiling first in odd rounds and the service first in even ones, {reps} rounds, \
         medians compared; before each run both benchmark databases are dropped, {} and \
         {settle_secs} s pass",
        if synced {
            "the server checkpoints (fsync)"
        } else {
            "(fsync refused by this server)"
        }
    );
    let rounded = |xs: &[f64]| xs.iter().map(|x| x.round() as u64).collect::<Vec<_>>();
    let counters = Client::with_uri_str(&uri).await.unwrap();
    let mut service_1m_calls = f64::NAN;
    for &(path, ref spec, calls) in &runs {
        let (mut scattered, mut ordered, mut services) = (Vec::new(), Vec::new(), Vec::new());
        // The server's CPU per 1,000,000 documents in the time-ordered ceiling runs, to set
        // beside the service rounds' (g): what the rollups and job records cost the server.
        let mut ceiling_cpu = Vec::new();
        // The same for the service runs, rollups, job records and status reads included.
        let mut service_cpu = Vec::new();
        // The server's CPU while settling before each service run: the fsync, the quiet and the
        // drop of the run before (`n1` documents of a ceiling, or of a service run with its
        // rollups). Every run leaves its documents for the next settle, so no timed run and no
        // CPU figure of a ceiling carries a drop.
        let mut settle_cpu = Vec::new();
        let mut peak: f64 = 0.0;
        let mut sent = None;
        // One timed time-ordered ceiling run, after a settle.
        let mut ceiling_run = async || {
            settle(&uri, &both, settle_secs, None).await;
            let cpu = server_pid.map(cpu_seconds);
            ordered.push(ceiling_once(&ceiling, spec, n1, batch, inflight, false).await);
            if let (Some(pid), Some(cpu)) = (server_pid, cpu) {
                ceiling_cpu.push((cpu_seconds(pid) - cpu) * 1e6 / f64::from(n1));
            }
        };
        // One timed service run on a fresh process, after a settle whose drop is of a service
        // run's documents when `after_service`.
        let mut service_run = async |after_service: bool| {
            let (_, cpu) = settle(&uri, &both, settle_secs, server_pid).await;
            settle_cpu.extend(cpu.map(|c| (c, after_service)));
            let svc = Service::start(&uri, db, batch, inflight);
            svc.wait_ready(&http).await;
            let before = Snapshot::take(&counters, svc.child.id(), server_pid).await;
            let job = end_to_end(&svc, &http, path, u64::from(n1), &uri, db).await;
            let after = Snapshot::take(&counters, svc.child.id(), server_pid).await;
            service_cpu.extend(after.server_cpu_per_million(&before, u64::from(n1)));
            sent.get_or_insert((before, after, job.polls, job.counts));
            peak = peak.max(svc.peak_rss_mb());
            services.push(job.rate);
        };
        for round in 1..=reps {
            if calls {
                settle(&uri, &both, settle_secs, None).await;
                scattered.push(ceiling_once(&ceiling, spec, n1, batch, inflight, true).await);
            }
            // Neither kind of run always follows the other: a server that drifts within a
            // round (its cache, its checkpoints) favours neither. Without a scattered run
            // between, an even round's service run follows the odd round's.
            if round % 2 == 0 {
                service_run(!calls).await;
                ceiling_run().await;
            } else {
                ceiling_run().await;
                service_run(false).await;
            }
        }
        let (o, e) = (median(ordered.clone()), median(services.clone()));
        println!("  {path}:");
        if calls {
            let sc = median(scattered.clone());
            println!(
                "    ceiling, scattered start times: {:?} docs/s, median {sc:.0}",
                rounded(&scattered)
            );
            println!(
                "    ceiling, time order:            {:?} docs/s, median {o:.0}",
                rounded(&ordered)
            );
            println!(
                "    service (rollups on):           {:?} docs/s, median {e:.0}",
                rounded(&services)
            );
            println!(
                "    service / scattered ceiling: {:.2} (target ≥ 1.3)",
                e / sc
            );
            service_1m_calls = e;
        } else {
            println!(
                "    ceiling:                        {:?} docs/s, median {o:.0}",
                rounded(&ordered)
            );
            println!(
                "    service (rollups on):           {:?} docs/s, median {e:.0}",
                rounded(&services)
            );
        }
        // The two runs of a round are next to each other, so the pairs share the server's state
        // (cache, files, checkpoints) more closely than the medians do.
        let pairs: Vec<String> = ordered
            .iter()
            .zip(&services)
            .map(|(o, s)| format!("{:.2}", s / o))
            .collect();
        println!(
            "    service / time-ordered ceiling: {:.2} (target ≥ 0.95); round by round {}",
            e / o,
            pairs.join(", ")
        );
        println!("    peak RSS of the service: {peak:.1} MB");
        if !ceiling_cpu.is_empty() {
            let secs: Vec<String> = ceiling_cpu.iter().map(|s| format!("{s:.2}")).collect();
            println!(
                "    server CPU seconds per 1,000,000 in the time-ordered ceiling runs: {}",
                secs.join(", ")
            );
            let secs: Vec<String> = service_cpu.iter().map(|s| format!("{s:.2}")).collect();
            println!(
                "    server CPU seconds per 1,000,000 in the service runs: {}",
                secs.join(", ")
            );
            let secs: Vec<String> = settle_cpu
                .iter()
                .map(|(s, after_service)| {
                    format!("{s:.2}{}", if *after_service { " (s)" } else { "" })
                })
                .collect();
            println!(
                "    server CPU seconds settling before the service runs, a drop of the run \
                 before included ((s): a service run's, otherwise a ceiling's): {}",
                secs.join(", ")
            );
        }
        if let Some((before, after, polls, counts)) = sent {
            after.report_since(&before, u64::from(n1), polls, counts);
        }
    }

    if n2 == 0 {
        return;
    }
    println!("(d) {n2} documents of each kind");
    let mut calls_ceiling = None;
    if with_calls {
        if big_scattered {
            settle(&uri, &both, settle_secs, None).await;
            let r = ceiling_once(&ceiling, &call_spec(0), n2, batch, inflight, true).await;
            println!("  calls, ceiling, scattered start times: {r:>9.0} docs/s");
        }
        settle(&uri, &both, settle_secs, None).await;
        let r = ceiling_once(&ceiling, &call_spec(0), n2, batch, inflight, false).await;
        println!("  calls, ceiling, time order:            {r:>9.0} docs/s");
        calls_ceiling = Some(r);
    }
    settle(&uri, &both, settle_secs, None).await;
    // One service process from here on: its peak RSS covers both large jobs and the polling.
    let svc = Service::start(&uri, db, batch, inflight);
    svc.wait_ready(&http).await;
    if let Some(r) = calls_ceiling {
        let before = Snapshot::take(&counters, svc.child.id(), server_pid).await;
        let job = end_to_end(&svc, &http, "/generate/calls", u64::from(n2), &uri, db).await;
        let after = Snapshot::take(&counters, svc.child.id(), server_pid).await;
        println!(
            "  calls, service job (defaults):         {:>9.0} docs/s",
            job.rate
        );
        println!(
            "  calls, service / time-ordered ceiling at {n2}: {:.2} (target ≥ 0.95)",
            job.rate / r
        );
        println!(
            "  calls, rate at {n2} / rate at {n1}: {:.2} (target ≥ 0.8)",
            job.rate / service_1m_calls
        );
        after.report_since(&before, u64::from(n2), job.polls, job.counts);
    }
    if with_points {
        // The calls job's documents stay: the points' ceiling and job both run beside them.
        settle(&uri, &[CEILING_DB], settle_secs, None).await;
        let r = ceiling_once(&ceiling, &metric_spec(0), n2, batch, inflight, false).await;
        println!("  metric points, ceiling:                {r:>9.0} docs/s");
        settle(&uri, &[CEILING_DB], settle_secs, None).await;
        let job = end_to_end(&svc, &http, "/generate/metrics", u64::from(n2), &uri, db).await;
        println!(
            "  metric points, service job:            {:>9.0} docs/s",
            job.rate
        );
        println!(
            "  metric points, service / ceiling at {n2}: {:.2} (target ≥ 0.95)",
            job.rate / r
        );
    }

    poll(&svc, &http, pollers, poll_secs, server_pid).await;
    println!(
        "(f) peak RSS of the service through (d) and (e): {:.1} MB (target ≤ 150 MB)",
        svc.peak_rss_mb()
    );
    drop(svc);
    drop_db(&uri, db).await;
    drop_db(&uri, CEILING_DB).await;
}
