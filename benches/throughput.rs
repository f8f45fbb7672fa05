//! Throughput benchmark: generation alone, the raw insert ceiling of the server, and the service end
//! to end over HTTP, with the service's peak memory. Run it with `scripts/bench.sh` (see the README's
//! Performance section); it needs `BENCH_MONGO_URI` and a release build of the binary.
//!
//! Every request goes to 127.0.0.1 and every loop is bounded in count and time.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bson::RawDocumentBuf;
use chrono::{TimeZone, Utc};
use futures::StreamExt;
use linq_datagen::config::DbSettings;
use linq_datagen::generate::Params;
use linq_datagen::generate::{CallParams, Category, PointParams, RunId};
use linq_datagen::pipeline::RunSpec;
use linq_datagen::store::Store;
use mongodb::Client;
use serde_json::{Value, json};

fn call_spec(count: u32) -> RunSpec {
    RunSpec {
        params: Params::Calls(CallParams {
            end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            days: 30,
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
        }),
        count,
        seed: 1,
    }
}

/// (a) Documents per second of generation alone, on this thread (one core).
fn generation_rate(spec: &RunSpec) -> f64 {
    let run = RunId::new(1, 2);
    let started = Instant::now();
    let mut bytes = 0usize;
    for batch in spec.batches(run, 5000) {
        bytes += batch.iter().map(|d| d.as_bytes().len()).sum::<usize>();
    }
    let secs = started.elapsed().as_secs_f64();
    assert!(bytes > 0);
    f64::from(spec.count) / secs
}

/// Collections set up exactly as the service sets up its own (validators and indexes), so the
/// server does the same work per document in (b) and (c).
async fn ceiling_store(uri: &str) -> Ceiling {
    let settings = DbSettings {
        mongo_uri: uri.to_string(),
        mongo_db: "bench_ceiling".into(),
        pool_size: 16,
        mongo_timeout_ms: 5000,
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

/// (b) One ceiling run: `docs` pre-built documents of `spec`'s shape, inserted unordered in
/// batches of `batch_size` with `concurrency` `insert_many` calls in flight, into fresh collections.
async fn ceiling_once(
    ceiling: &Ceiling,
    spec: &RunSpec,
    docs: u32,
    batch_size: usize,
    concurrency: usize,
) -> f64 {
    let _ = ceiling.db.drop().await;
    ceiling.store.setup().await.unwrap();
    let mut spec = spec.clone();
    spec.count = docs;
    let batches: Vec<Vec<RawDocumentBuf>> = spec.batches(RunId::new(3, 4), batch_size).collect();
    let coll = ceiling
        .db
        .collection::<RawDocumentBuf>(spec.kind().collection());
    let started = Instant::now();
    futures::stream::iter(batches)
        .map(|b| {
            let coll = coll.clone();
            async move { coll.insert_many(b).ordered(false).await.unwrap() }
        })
        .buffer_unordered(concurrency)
        .for_each(|_| async {})
        .await;
    let rate = f64::from(docs) / started.elapsed().as_secs_f64();
    let _ = ceiling.db.drop().await;
    rate
}

/// (b) The best ceiling over a few batch sizes and concurrencies: (rate, batch size, concurrency).
async fn insert_ceiling(ceiling: &Ceiling, spec: &RunSpec, docs: u32) -> (f64, usize, usize) {
    let mut best = (0.0, 0, 0);
    for batch_size in [5000usize, 10_000] {
        for concurrency in [2usize, 4, 8] {
            let rate = ceiling_once(ceiling, spec, docs, batch_size, concurrency).await;
            println!(
                "  ceiling {}: batch {batch_size:>6}, {concurrency} concurrent: {rate:>9.0} docs/s",
                spec.kind().collection()
            );
            if rate > best.0 {
                best = (rate, batch_size, concurrency);
            }
        }
    }
    best
}

/// Starts the next run on an empty database.
async fn drop_db(uri: &str, db: &str) {
    let _ = Client::with_uri_str(uri)
        .await
        .unwrap()
        .database(db)
        .drop()
        .await;
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

struct Service {
    child: Child,
    base: String,
}

impl Service {
    fn start(uri: &str, db: &str, batch_size: usize, inflight: usize) -> Self {
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
            .env("BATCH_SIZE", batch_size.to_string())
            .env("INFLIGHT_BATCHES", inflight.to_string())
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("service binary runs (build it with cargo build --release)");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn peak_rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
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

/// (c) One job over HTTP: returns (docs/s from request to done, seconds until 100,000 documents
/// were queryable).
async fn end_to_end(
    svc: &Service,
    http: &reqwest::Client,
    path: &str,
    count: u64,
    uri: &str,
    db: &str,
) -> (f64, f64) {
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
    let mut first_100k = f64::NAN;
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        assert!(
            Instant::now() < deadline,
            "job did not finish in 30 minutes"
        );
        if first_100k.is_nan() {
            let n = coll.estimated_document_count().await.unwrap_or(0);
            if n >= before + 100_000.min(count) {
                first_100k = started.elapsed().as_secs_f64();
            }
        }
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
    (count as f64 / started.elapsed().as_secs_f64(), first_100k)
}

#[tokio::main]
async fn main() {
    let uri = std::env::var("BENCH_MONGO_URI").expect("BENCH_MONGO_URI (scripts/bench.sh sets it)");
    let e2e_count: u64 = std::env::var("BENCH_E2E_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let big_count: u64 = std::env::var("BENCH_BIG_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    // The ceiling inserts as many documents as the end-to-end run: insert cost grows with the size
    // of the collection's indexes, so a shorter ceiling run would flatter the server.
    let ceiling_docs: u32 = std::env::var("BENCH_CEILING_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(e2e_count as u32);
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);

    if std::env::var("BENCH_BIG_ONLY").is_ok_and(|v| v == "1") {
        big_job(&uri, big_count).await;
        return;
    }
    println!("(a) generation alone, one core");
    let gen_calls = generation_rate(&call_spec(2_000_000));
    let gen_metrics = generation_rate(&metric_spec(2_000_000));
    println!("  calls:   {gen_calls:>12.0} docs/s");
    println!("  metrics: {gen_metrics:>12.0} docs/s");

    println!(
        "(b) raw insert ceiling: pre-built documents, same driver, unordered, concurrent, {ceiling_docs} each"
    );
    let store = ceiling_store(&uri).await;
    let (ceil_calls, cb, cc) = insert_ceiling(&store, &call_spec(0), ceiling_docs).await;
    let (ceil_metrics, mb, mc) = insert_ceiling(&store, &metric_spec(0), ceiling_docs).await;
    println!("  best calls:   {ceil_calls:>9.0} docs/s (batch {cb}, {cc} concurrent)");
    println!("  best metrics: {ceil_metrics:>9.0} docs/s (batch {mb}, {mc} concurrent)");

    // One service run against the best of a noisy grid would measure the noise. So, at each
    // dataset's best configuration, ceiling runs and service runs alternate and medians are compared.
    let http = reqwest::Client::new();
    let db = "bench_e2e";
    let mut peak_rss: f64 = 0.0;
    println!(
        "(c) service end to end over HTTP, {e2e_count} documents a run, {reps} runs alternating with ceiling runs at the best configuration"
    );
    for (path, spec, grid_best, batch, inflight) in [
        ("/generate/calls", call_spec(0), ceil_calls, cb, cc),
        ("/generate/metrics", metric_spec(0), ceil_metrics, mb, mc),
    ] {
        let (mut ceilings, mut services, mut firsts) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..reps {
            ceilings.push(ceiling_once(&store, &spec, e2e_count as u32, batch, inflight).await);
            drop_db(&uri, db).await;
            let svc = Service::start(&uri, db, batch, inflight);
            let (rate, first) = end_to_end(&svc, &http, path, e2e_count, &uri, db).await;
            peak_rss = peak_rss.max(svc.peak_rss_mb());
            services.push(rate);
            firsts.push(first);
        }
        let (c, e) = (median(ceilings.clone()), median(services.clone()));
        let rounded = |xs: &[f64]| xs.iter().map(|x| x.round() as u64).collect::<Vec<_>>();
        println!("  {path} (batch {batch}, {inflight} in flight):");
        println!(
            "    ceiling runs {:?} docs/s, median {c:.0}",
            rounded(&ceilings)
        );
        println!(
            "    service runs {:?} docs/s, median {e:.0}",
            rounded(&services)
        );
        println!(
            "    ratio service/ceiling: {:.2} (paired medians); {:.2} against the grid's best single run",
            e / c,
            e / grid_best
        );
        println!(
            "    first 100,000 documents queryable after {:.2} s (median)",
            median(firsts)
        );
    }
    println!("(d) peak RSS of the service during (c): {peak_rss:.1} MB");

    big_job(&uri, big_count).await;
}

/// (d) A large calls job with the default settings: its rate and the service's peak RSS.
async fn big_job(uri: &str, big_count: u64) {
    let db = "bench_e2e";
    let uri = uri.to_string();
    drop_db(&uri, db).await;
    if big_count > 0 {
        let svc = Service::start(&uri, db, 10_000, 4);
        let (rate, _) = end_to_end(
            &svc,
            &reqwest::Client::new(),
            "/generate/calls",
            big_count,
            &uri,
            db,
        )
        .await;
        println!(
            "(d) {big_count}-call job, default settings: {rate:.0} docs/s, peak RSS {:.1} MB",
            svc.peak_rss_mb()
        );
        drop(svc);
        drop_db(&uri, db).await;
    }
}
