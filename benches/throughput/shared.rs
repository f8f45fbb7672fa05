//! What several scenarios share: their settings from the environment, the documents' shapes, the
//! server brought to the same state before each timed run, CPU seconds from `/proc`, medians and
//! percentiles.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use linq_datagen::generate::params::DEFAULT_SUBSCRIBERS;
use linq_datagen::generate::{CallModel, CallParams, Category, MetricModel, Params, PointParams};
use linq_datagen::pipeline::RunSpec;
use mongodb::Client;

/// Where the ceiling runs write.
pub const CEILING_DB: &str = "bench_ceiling";

/// Where the service writes in the end-to-end, server and race scenarios.
pub const SERVICE_DB: &str = "bench_e2e";

/// One kind of document a scenario writes.
pub struct Kind {
    /// What to ask the service: `/generate/calls` or `/generate/metrics`.
    pub path: &'static str,
    /// The documents' shape (its count is set per run).
    pub spec: RunSpec,
    /// Calls, which also get a ceiling with their start times in scattered order.
    pub calls: bool,
}

/// The settings of the scenarios that write to a server, from the environment (`scripts/bench.sh`
/// documents each).
pub struct Settings {
    /// The server (`BENCH_MONGO_URI`).
    pub uri: String,
    /// Documents per run in the rounds (`BENCH_E2E_COUNT`).
    pub count: u32,
    /// Documents of each kind in the large runs (`BENCH_BIG_COUNT`; 0 skips them).
    pub big: u32,
    /// Whether the large runs include the scattered-order ceiling (`BENCH_BIG_SCATTERED`).
    pub big_scattered: bool,
    /// Rounds (`BENCH_REPS`).
    pub reps: usize,
    /// Documents a batch (`BENCH_BATCH`), for the ceilings and the service alike.
    pub batch: usize,
    /// Batches in flight (`BENCH_INFLIGHT`), likewise.
    pub inflight: usize,
    /// Quiet seconds before each timed run (`BENCH_SETTLE_SECS`).
    pub settle_secs: u64,
    /// The server's process, for its CPU (`BENCH_SERVER_PID`).
    pub server_pid: Option<u32>,
    /// The kinds to run (`BENCH_KINDS`: calls, metrics or both).
    pub kinds: Vec<Kind>,
}

impl Settings {
    pub fn from_env() -> Self {
        let uri =
            std::env::var("BENCH_MONGO_URI").expect("BENCH_MONGO_URI (scripts/bench.sh sets it)");
        let kinds = std::env::var("BENCH_KINDS").unwrap_or_else(|_| "calls,metrics".into());
        let kinds = [
            ("/generate/calls", call_spec(0), true),
            ("/generate/metrics", metric_spec(0), false),
        ]
        .into_iter()
        .filter(|(path, _, _)| kinds.contains(path.trim_start_matches("/generate/")))
        .map(|(path, spec, calls)| Kind { path, spec, calls })
        .collect();
        Self {
            uri,
            count: env_or("BENCH_E2E_COUNT", 1_000_000),
            big: env_or("BENCH_BIG_COUNT", 10_000_000),
            big_scattered: std::env::var("BENCH_BIG_SCATTERED").map_or(true, |v| v != "0"),
            reps: env_or("BENCH_REPS", 3),
            // The service's defaults (batches of 10,000, 4 in flight) unless told otherwise.
            batch: env_or("BENCH_BATCH", 10_000),
            inflight: env_or("BENCH_INFLIGHT", 4),
            settle_secs: env_or("BENCH_SETTLE_SECS", 5),
            server_pid: std::env::var("BENCH_SERVER_PID")
                .ok()
                .and_then(|v| v.parse().ok()),
            kinds,
        }
    }
}

/// `count` calls of 30 days to a fixed end, seed 1.
pub fn call_spec(count: u32) -> RunSpec {
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

/// `count` metric points of every category on 3 hosts every 30 s to a fixed end, seed 1.
pub fn metric_spec(count: u32) -> RunSpec {
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

/// Brings the server to the same state before every timed run, ceiling or service: the databases
/// in `drop` dropped (the run before left its documents), a checkpoint asked for (`fsync`), then
/// `secs` of quiet, so no timed run starts inside another's drop or checkpoint. Says whether the
/// server took the `fsync`, and the server CPU seconds the settle took.
pub async fn settle(
    uri: &str,
    drop: &[&str],
    secs: u64,
    server: Option<u32>,
) -> (bool, Option<f64>) {
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

/// Leaves the server without database `db`.
pub async fn drop_db(uri: &str, db: &str) {
    let _ = Client::with_uri_str(uri)
        .await
        .unwrap()
        .database(db)
        .drop()
        .await;
}

/// CPU seconds process `pid` has used (user + system), from `/proc`.
pub fn cpu_seconds(pid: u32) -> f64 {
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

/// The server's CPU seconds per 1,000,000 of `docs` documents since `before` (taken with
/// `cpu_seconds`), when its process is known.
pub fn cpu_per_million(server: Option<u32>, before: Option<f64>, docs: u64) -> Option<f64> {
    let (pid, before) = server.zip(before)?;
    Some((cpu_seconds(pid) - before) * 1e6 / docs as f64)
}

/// Sends `req` and reads its answer as JSON: a benchmark has no use for a request that failed.
pub async fn answer(req: reqwest::RequestBuilder) -> serde_json::Value {
    req.send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("a JSON answer")
}

/// Variable `name` parsed, or `default` when unset or unreadable.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The middle value; with an even count the mean of the two middle ones, so two rounds report their
/// mean rather than the larger.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.is_empty() {
        f64::NAN
    } else if xs.len().is_multiple_of(2) {
        (xs[mid - 1] + xs[mid]) / 2.0
    } else {
        xs[mid]
    }
}

/// Percentile `p` (0–100) of `xs`, in the units of `xs`.
pub fn percentile(xs: &mut [f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (xs.len() - 1) as f64).round() as usize;
    xs[i]
}

/// `n requests, p50 … ms, p99 … ms, max … ms` of request latencies `xs` (ms): how every polling
/// scenario reports.
pub fn latencies(xs: &mut [f64]) -> String {
    format!(
        "{} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        xs.len(),
        percentile(xs, 50.0),
        percentile(xs, 99.0),
        percentile(xs, 100.0)
    )
}

/// Rates rounded to whole documents per second, for printing a round's list.
pub fn rounded(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.round() as u64).collect()
}

/// Numbers with two decimals, comma-separated.
pub fn two_decimals(xs: &[f64]) -> String {
    let xs: Vec<String> = xs.iter().map(|x| format!("{x:.2}")).collect();
    xs.join(", ")
}
