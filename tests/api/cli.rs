//! The command line: the API's parameter rules (the same bounds, the same window check), and
//! `generate`, `setup` and `healthcheck` end to end against the suite's server.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use bson::{Document, doc};
use futures::TryStreamExt;
use linq_datagen::store::schema;

use crate::helpers::{TempDb, spawn_app};
use crate::processes::ClosedPort;

/// `linq-datagen generate ARGS` against a port where nothing listens.
fn generate(args: &[&str]) -> std::process::Output {
    let closed = ClosedPort::bind();
    Command::new(env!("CARGO_BIN_EXE_linq-datagen"))
        .args(["generate"])
        .args(args)
        // Nothing listens there: a rejected run must fail before it needs the database.
        .env("MONGO_URI", closed.mongo_uri())
        .env("MONGO_TIMEOUT_MS", "200")
        .output()
        .expect("binary runs")
}

/// [`generate`] on a blocking thread, so the test's runtime goes on serving its app: for runs that
/// must not need the database (dry runs, exports to files).
pub async fn generate_without_database(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        generate(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
}

#[test]
fn a_window_reaching_before_1970_is_a_usage_error() {
    let out = generate(&["metrics", "--count", "3000", "--step-seconds", "31536000"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--step-seconds"), "{stderr}");
    assert!(stderr.contains("1970-01-01"), "{stderr}");

    let out = generate(&["calls", "--days", "30", "--end", "1970-01-10T00:00:00Z"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--end"), "{stderr}");
}

#[test]
fn flag_bounds_are_the_api_bounds() {
    let out = generate(&["calls", "--days", "3651"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1..=3650"), "{stderr}");
}

/// Runs the binary with `args` and `env` against database `db` of the suite's server, on a thread of
/// its own (the test's runtime may be serving the app it talks to).
async fn run(db: &TempDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_linq-datagen"));
    cmd.args(args)
        .env("MONGO_URI", &db.uri)
        .env("MONGO_DB", &db.name)
        .envs(env.iter().copied());
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .unwrap()
}

/// The run's summary line, checked against the shape README.md shows: `inserted N of N documents into
/// DB.COLLECTION in S s (R docs/s), seed SEED`. Returns the seed.
fn summary(out: &Output, n: u64, target: &str) -> u64 {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stdout}{stderr}", out.status);
    let line = stdout.trim_end();
    assert_eq!(line.lines().count(), 1, "one summary line: {stdout}");
    let prefix = format!("inserted {n} of {n} documents into {target} in ");
    let rest = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("expected `{prefix}…`, got {line:?}"));
    let (secs, rest) = rest.split_once(" s (").expect("elapsed seconds");
    assert!(secs.parse::<f64>().is_ok(), "{line}");
    let (rate, seed) = rest.split_once(" docs/s), seed ").expect("rate and seed");
    assert!(rate.parse::<f64>().is_ok(), "{line}");
    seed.parse().unwrap_or_else(|_| panic!("a seed: {line}"))
}

#[tokio::test]
async fn generate_calls_takes_num_calls_and_mongo_uri_like_the_python_script() {
    let temp = TempDb::unique();
    let out = run(&temp, &["generate", "calls"], &[("NUM_CALLS", "300")]).await;
    summary(&out, 300, &format!("{}.calls", temp.name));
    let db = temp.handle().await;
    let calls = db.collection::<Document>("calls");
    assert_eq!(calls.count_documents(doc! {}).await.unwrap(), 300);

    // Flags win over the environment; the seed is the one asked for.
    let out = run(
        &temp,
        &["generate", "calls", "--count", "50", "--seed", "7"],
        &[("NUM_CALLS", "300")],
    )
    .await;
    assert_eq!(summary(&out, 50, &format!("{}.calls", temp.name)), 7);
    assert_eq!(calls.count_documents(doc! {}).await.unwrap(), 350);
}

#[tokio::test]
async fn generate_sms_writes_every_record_of_its_threads_or_the_subscribers_daily_texts() {
    use linq_datagen::generate::Params;
    use linq_datagen::generate::sms::{TrafficParams, daily_threads};
    use linq_datagen::pipeline::RunSpec;
    let temp = TempDb::unique();
    let end = "2026-11-01T00:00:00Z";
    let t: chrono::DateTime<chrono::Utc> = end.parse().unwrap();
    let params =
        |subscribers| TrafficParams::new(Some(2), Some(subscribers), Some(t), None, t).unwrap();
    let args = [
        "generate", "sms", "--days", "2", "--end", end, "--seed", "3",
    ];
    let out = run(&temp, &args, &[("NUM_SMS", "400"), ("SUBSCRIBERS", "900")]).await;
    let records = RunSpec::new(Params::Sms(params(900)), 400, Some(3)).documents();
    assert!(records > 400, "{records}");
    assert_eq!(summary(&out, records, &format!("{}.sms", temp.name)), 3);
    // Without a count: the subscribers' daily texts over the days.
    let temp = TempDb::unique();
    let out = run(&temp, &args, &[("SUBSCRIBERS", "300")]).await;
    let threads = daily_threads(&params(300));
    let records = RunSpec::new(Params::Sms(params(300)), threads, Some(3)).documents();
    summary(&out, records, &format!("{}.sms", temp.name));
    let db = temp.handle().await;
    let texts = db.collection::<Document>("sms");
    assert_eq!(texts.count_documents(doc! {}).await.unwrap(), records);
    // A desk model has no texts: a usage error before any database is asked.
    let out = generate(&["sms", "--model", "enterprise"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[tokio::test]
async fn generate_metrics_takes_count_and_step_seconds_like_the_python_script() {
    let temp = TempDb::unique();
    let out = run(
        &temp,
        &[
            "generate",
            "metrics",
            "--count",
            "200",
            "--step-seconds",
            "30",
        ],
        &[],
    )
    .await;
    summary(&out, 200, &format!("{}.metrics", temp.name));
    let db = temp.handle().await;
    let points: Vec<Document> = db
        .collection::<Document>("metrics")
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(points.len(), 200);
    let times: BTreeSet<i64> = points
        .iter()
        .map(|p| p.get_datetime("timestamp").unwrap().timestamp_millis())
        .collect();
    let newest = *times.last().unwrap();
    // Five categories × three hosts a tick: 200 points span 14 ticks, 30 s apart.
    assert_eq!(times.len(), 14, "{times:?}");
    assert!(
        times.iter().all(|t| (newest - t) % 30_000 == 0),
        "{times:?}"
    );
    assert_eq!(newest - times.first().unwrap(), 13 * 30_000);
}

#[tokio::test]
async fn setup_creates_the_collections_with_validators_and_indexes_idempotently() {
    let temp = TempDb::unique();
    for _ in 0..2 {
        let out = run(&temp, &["setup"], &[]).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout.trim_end(),
            format!(
                "collections, validators and indexes of {} are in place",
                temp.name
            )
        );
    }
    let db = temp.handle().await;
    let specs: Vec<_> = db
        .list_collections()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let validator = |name: &str| {
        specs
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("collection {name} exists: {specs:?}"))
            .options
            .validator
            .clone()
    };
    assert_eq!(validator("calls"), Some(schema::calls_validator()));
    assert_eq!(validator("metrics"), Some(schema::metrics_validator()));

    let indexes = async |name: &str| -> BTreeSet<String> {
        db.collection::<Document>(name)
            .list_index_names()
            .await
            .unwrap()
            .into_iter()
            .collect()
    };
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        indexes("calls").await,
        set(&["_id_", "start_time_1_status_1"])
    );
    assert_eq!(
        indexes("metrics").await,
        set(&["_id_", "category_1_timestamp_1", "timestamp_1"])
    );
    assert_eq!(indexes("jobs").await, set(&["_id_", "created_at_-1"]));
}

#[tokio::test]
async fn healthcheck_exits_0_against_a_live_service_and_1_against_a_closed_port() {
    let app = spawn_app().await;
    let temp = TempDb::unique();
    let url = format!("{}/healthz", app.address);
    let out = run(&temp, &["healthcheck", "--url", &url], &[]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The container's way: the URL from the environment.
    let out = run(&temp, &["healthcheck"], &[("HEALTHCHECK_URL", &url)]).await;
    assert_eq!(out.status.code(), Some(0));

    let closed = ClosedPort::bind();
    let url = format!("http://127.0.0.1:{}/healthz", closed.port);
    let out = run(&temp, &["healthcheck", "--url", &url], &[]).await;
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn scenarios_take_the_apis_json_on_the_command_line() {
    let out = generate(&[
        "calls",
        "--count",
        "10",
        "--scenario",
        r#"{"kind": "flood"}"#,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--scenario") && stderr.contains("flood"),
        "{stderr}"
    );

    let temp = TempDb::unique();
    let scenario = r#"{"kind": "fraud_burst", "minutes": 240}"#;
    let args = [
        "generate", "calls", "--count", "5000", "--days", "1", "--seed", "5",
    ];
    let out = run(&temp, &args, &[("SCENARIO", scenario)]).await;
    summary(&out, 5000, &format!("{}.calls", temp.name));
    let calls = temp.handle().await.collection::<bson::Document>("calls");
    let fraud = doc! { "anomaly": "fraud_burst" };
    assert!(calls.count_documents(fraud.clone()).await.unwrap() > 20);
    assert_eq!(calls.distinct("caller", fraud).await.unwrap().len(), 1);
}
