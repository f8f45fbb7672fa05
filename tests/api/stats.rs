use bson::doc;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn stats_agree_with_independent_counts() {
    let app = spawn_app().await;
    let end = "2026-10-15T12:00:00Z";
    assert_eq!(
        app.post(
            "/generate/calls",
            &json!({ "count": 3000, "days": 10, "seed": 1, "end": end })
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        app.post(
            "/generate/metrics",
            &json!({ "count": 900, "step_seconds": 600, "seed": 2, "end": end })
        )
        .await
        .status(),
        201
    );

    let stats: Value = app.get("/stats").await.json().await.unwrap();
    let calls = &stats["calls"];
    assert_eq!(calls["total"], 3000);
    for row in calls["by_status"].as_array().unwrap() {
        let status = row["status"].as_str().unwrap();
        let expected = app.count("calls", doc! { "status": status }).await;
        assert_eq!(row["count"].as_u64().unwrap(), expected, "{status}");
        if status != "completed" {
            assert_eq!(row["total_cost"], 0.0);
            assert_eq!(row["avg_duration"], Value::Null);
        }
    }
    for row in calls["by_type"].as_array().unwrap() {
        let t = row["call_type"].as_str().unwrap();
        assert_eq!(
            row["count"].as_u64().unwrap(),
            app.count("calls", doc! { "call_type": t }).await
        );
    }
    // Per day and status: every (day, status) cell matches a count over that day.
    let by_day = calls["by_day"].as_array().unwrap();
    assert!(
        by_day.len() >= 10 * 3,
        "10 days of 4 statuses: {}",
        by_day.len()
    );
    let sum: u64 = by_day.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, 3000);
    for row in by_day.iter().take(8) {
        let day =
            chrono::NaiveDate::parse_from_str(row["date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let from = bson::DateTime::from_chrono(day.and_hms_opt(0, 0, 0).unwrap().and_utc());
        let to = bson::DateTime::from_chrono(
            day.succ_opt()
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc(),
        );
        let filter = doc! {
            "status": row["status"].as_str().unwrap(),
            "start_time": { "$gte": from, "$lt": to },
        };
        assert_eq!(
            row["count"].as_u64().unwrap(),
            app.count("calls", filter).await,
            "{row}"
        );
    }

    let metrics = &stats["metrics"];
    assert_eq!(metrics["total"], 900);
    for row in metrics["by_category"].as_array().unwrap() {
        let c = row["category"].as_str().unwrap();
        assert_eq!(
            row["count"].as_u64().unwrap(),
            app.count("metrics", doc! { "category": c }).await
        );
        assert!(row["min"].as_f64().unwrap() <= row["avg"].as_f64().unwrap());
        assert!(row["avg"].as_f64().unwrap() <= row["max"].as_f64().unwrap());
    }
    let metric_days: u64 = metrics["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(metric_days, 900);
}

#[tokio::test]
async fn stats_respect_the_range() {
    let app = spawn_app().await;
    let req = json!({ "count": 2000, "days": 10, "seed": 5, "end": "2026-10-15T00:00:00Z" });
    assert_eq!(app.post("/generate/calls", &req).await.status(), 201);
    let stats: Value = app
        .get("/stats?from=2026-10-10&to=2026-10-12T00:00:00Z")
        .await
        .json()
        .await
        .unwrap();
    let from = bson::DateTime::parse_rfc3339_str("2026-10-10T00:00:00Z").unwrap();
    let to = bson::DateTime::parse_rfc3339_str("2026-10-12T00:00:00Z").unwrap();
    let expected = app
        .count("calls", doc! { "start_time": { "$gte": from, "$lt": to } })
        .await;
    assert!(expected > 0 && expected < 2000);
    assert_eq!(stats["calls"]["total"].as_u64().unwrap(), expected);
    let days: Vec<&str> = stats["calls"]["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date"].as_str().unwrap())
        .collect();
    assert!(
        days.iter()
            .all(|d| *d == "2026-10-10" || *d == "2026-10-11"),
        "{days:?}"
    );
}

#[tokio::test]
async fn stats_of_an_empty_database_are_zero() {
    let app = spawn_app().await;
    let stats: Value = app.get("/stats").await.json().await.unwrap();
    assert_eq!(stats["calls"]["total"], 0);
    assert_eq!(stats["metrics"]["total"], 0);
    assert_eq!(stats["calls"]["by_day"], json!([]));
}

/// Answers are kept until the rollups change, on whichever replica the change was written: a
/// replica keeps serving its answer while the data version is unchanged (even when the rollups
/// were tampered with behind its back), and computes a new one as soon as another replica writes.
#[tokio::test]
async fn answers_are_kept_until_any_replica_changes_the_data() {
    let a = crate::helpers::spawn_app().await;
    let name = a.db.name().to_owned();
    let uri = crate::helpers::mongo_uri();
    let b = crate::helpers::spawn_app_with(&uri, |db, _| db.mongo_db = name).await;
    let end = "2026-10-15T12:00:00Z";
    let calls =
        |count: u32, seed: u32| json!({ "count": count, "days": 3, "seed": seed, "end": end });
    let total = async |app: &crate::helpers::TestApp| -> u64 {
        let stats: Value = app.get("/stats").await.json().await.unwrap();
        stats["calls"]["total"].as_u64().unwrap()
    };

    assert_eq!(
        a.post("/generate/calls", &calls(500, 1)).await.status(),
        201
    );
    assert_eq!(total(&b).await, 500);

    // Behind the service's back: the rollups emptied without a version change.
    for c in ["calls_rollup", "calls_rollup_1m"] {
        a.db.collection::<bson::Document>(c)
            .delete_many(doc! {})
            .await
            .unwrap();
    }
    assert_eq!(total(&b).await, 500, "unchanged version: the kept answer");
    assert_eq!(
        total(&a).await,
        0,
        "a replica without a kept answer reads the rollups"
    );

    assert_eq!(
        a.post("/generate/calls", &calls(300, 2)).await.status(),
        201
    );
    assert_eq!(
        total(&b).await,
        300,
        "another replica's write changed the version: computed again from the rollups"
    );
}

/// The next `overview` event of a `/stats/stream` response (waits at most 20 s).
async fn next_overview(res: &mut reqwest::Response, buffer: &mut String) -> Value {
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if event.lines().any(|l| l == "event: overview") {
                    let data = event
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .expect("an overview event has data");
                    return serde_json::from_str(data).unwrap();
                }
                continue;
            }
            let chunk = res.chunk().await.unwrap().expect("the stream stays open");
            buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    })
    .await
    .expect("an overview event within 20 s")
}

/// `GET /stats/stream` pushes the overview at once and again after a write, equal to `GET /stats`,
/// and ends when the service shuts down (streams never end by themselves).
#[tokio::test]
async fn the_overview_is_pushed_as_server_sent_events() {
    let mut app = crate::helpers::spawn_app().await;
    let mut res = app.get("/stats/stream").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    let first = next_overview(&mut res, &mut buffer).await;
    assert_eq!(first["calls"]["total"], 0);

    let body = json!({ "count": 700, "days": 2, "seed": 3, "end": "2026-10-15T12:00:00Z" });
    assert_eq!(app.post("/generate/calls", &body).await.status(), 201);
    let next = next_overview(&mut res, &mut buffer).await;
    assert_eq!(next["calls"]["total"], 700);
    let polled: Value = app.get("/stats").await.json().await.unwrap();
    assert_eq!(next, polled, "the pushed overview is the polled one");

    app.shutdown().await.unwrap();
    let end = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(Some(_)) = res.chunk().await {}
    })
    .await;
    assert!(end.is_ok(), "the stream ends at shutdown");
}

/// Rollup documents written before day totals existed have hourly cells only; one such document
/// may since have been given day totals of the later batches alone. Both are read from their
/// hours, so the overview and daily series stay exact.
#[tokio::test]
async fn rollups_written_before_day_totals_are_read_from_their_hours() {
    let app = spawn_app().await;
    let end = "2026-10-15T12:00:00Z";
    for (path, body) in [
        (
            "/generate/calls",
            json!({ "count": 2000, "days": 6, "seed": 3, "end": end }),
        ),
        (
            "/generate/metrics",
            json!({ "count": 900, "step_seconds": 900, "seed": 4, "end": end }),
        ),
    ] {
        assert_eq!(app.post(path, &body).await.status(), 201);
    }
    for coll in ["calls_rollup", "metrics_rollup"] {
        let c = app.db.collection::<bson::Document>(coll);
        // Older documents: no marker, no day totals.
        c.update_many(doc! {}, doc! { "$unset": { "days": "", "d": "" } })
            .await
            .unwrap();
        // One of them with partial day totals, which must not be taken for the whole day.
        let partial = doc! { "$set": {
            "d.s.completed": { "n": 1, "nd": 1, "d": 1, "c": 1 },
            "d.cpu": { "n": 1, "s": 100, "min": 1.0, "max": 1.0 },
        } };
        c.update_one(doc! {}, partial).await.unwrap();
    }
    crate::rollups::assert_exact(&app).await;
    let (from, to) = ("2026-10-09", "2026-10-16");
    for path in ["/stats/calls/series", "/stats/metrics/series"] {
        let q = format!("{path}?from={from}&to={to}&interval=1d");
        let (rolled, raw) = crate::rollups::rolled_and_raw(&app, &q).await;
        assert!(
            rolled.as_array().is_some_and(|rows| rows.len() >= 6),
            "{rolled}"
        );
        assert_eq!(rolled, raw, "{path}");
    }
}

/// A range that moves with the clock reuses the rollup pieces of its whole hours between polls,
/// and only while the data is unchanged: pieces kept under an older version are read again.
#[tokio::test]
async fn kept_rollup_pieces_serve_moving_ranges_until_the_data_changes() {
    let app = spawn_app().await;
    let end = "2026-10-15T12:00:00Z";
    let calls = |seed: u32| json!({ "count": 600, "days": 2, "seed": seed, "end": end });
    let total = async |shift: i64| -> (i64, String) {
        // From 2026-10-13T00:00:00.500Z, moved by `shift` ms: a new answer each time, whose
        // whole hours are the same pieces.
        let from = 1_791_849_600_500 + shift;
        let q = format!(
            "from={from}&to={}&interval=1h&by=none",
            from + 3 * 86_400_000
        );
        let rows: Value = app
            .get(&format!("/stats/calls/series?{q}"))
            .await
            .json()
            .await
            .unwrap();
        let n = crate::rollups::count_sum(&rows);
        let metrics = app.get("/metrics").await.text().await.unwrap();
        (n, metrics)
    };
    assert_eq!(app.post("/generate/calls", &calls(1)).await.status(), 201);
    let (first, _) = total(0).await;
    let (second, metrics) = total(1).await;
    assert_eq!(first, 600, "every call of the job is in the range");
    assert_eq!(first, second, "a millisecond later, the same calls");
    assert!(
        metrics.contains("stats_pieces_total{from=\"cache\"}"),
        "the second poll took kept pieces: {metrics}"
    );
    assert_eq!(app.post("/generate/calls", &calls(2)).await.status(), 201);
    let (third, _) = total(2).await;
    assert_eq!(third, first + 600, "new data: the pieces were read again");
}
