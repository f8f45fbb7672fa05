//! Everything that talks to MongoDB: the pooled client, collection set-up (validators and indexes),
//! bulk inserts, run reconciliation and the statistics pipelines.

use std::time::Duration;

use bson::{Bson, Document, RawDocumentBuf, doc, oid::ObjectId};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::error::{Error, ErrorKind};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};

use crate::config::DbSettings;
use crate::generate::{CallStatus, CallType, Category, RunId};

/// Longest a statistics pipeline may run on the server.
pub const STATS_MAX_TIME: Duration = Duration::from_secs(60);

/// The collections documents are generated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// `calls`: call records.
    Calls,
    /// `metrics`: metric points.
    Metrics,
}

impl Target {
    /// The collection's name.
    pub fn collection(self) -> &'static str {
        match self {
            Target::Calls => "calls",
            Target::Metrics => "metrics",
        }
    }
}

/// The shared database handle: one pooled client for the whole process, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    db: Database,
}

/// How one `insert_many` ended.
#[derive(Debug)]
pub struct BatchOutcome {
    /// Documents the server acknowledged (exact unless `uncertain`).
    pub inserted: u64,
    /// The error, if the batch did not fully succeed.
    pub error: Option<Error>,
    /// The batch's fate is unknown (the connection failed mid-flight): count the run afterwards.
    pub uncertain: bool,
}

/// True when the error means "the database cannot be reached right now", as opposed to a bad
/// command or document: those requests get 503 with `Retry-After`.
pub fn is_unavailable(e: &Error) -> bool {
    // Codes the server answers with while stepping down or shutting down.
    const TRANSIENT: [i32; 10] = [6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435];
    match e.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => true,
        ErrorKind::Command(c) => TRANSIENT.contains(&c.code),
        _ => {
            e.contains_label("RetryableWriteError") || e.contains_label("TransientTransactionError")
        }
    }
}

impl Store {
    /// Builds the client. No connection is opened until the first operation, so the service can
    /// start while the database is still down and report it through `/readyz`.
    pub async fn connect(settings: &DbSettings) -> anyhow::Result<Self> {
        let mut options = ClientOptions::parse(&settings.mongo_uri).await?;
        options.app_name = Some("linq-datagen".into());
        options.max_pool_size = Some(settings.pool_size);
        options.server_selection_timeout = Some(settings.timeout());
        options.connect_timeout = Some(settings.timeout());
        let client = Client::with_options(options)?;
        let db = client.database(&settings.mongo_db);
        Ok(Self { client, db })
    }

    /// The database everything lives in.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The collection documents of `target` are inserted into, as raw BSON (no re-encoding).
    pub fn raw(&self, target: Target) -> Collection<RawDocumentBuf> {
        self.db.collection(target.collection())
    }

    /// Round trip to the server.
    pub async fn ping(&self) -> Result<(), Error> {
        self.db.run_command(doc! { "ping": 1 }).await.map(|_| ())
    }

    /// Creates the collections with their validators and the indexes the statistics use.
    /// Idempotent: an existing collection gets its validator replaced with the current one.
    pub async fn setup(&self) -> Result<(), Error> {
        for (name, validator) in [
            ("calls", calls_validator()),
            ("metrics", metrics_validator()),
        ] {
            match self
                .db
                .create_collection(name)
                .validator(validator.clone())
                .await
            {
                Ok(()) => {}
                // NamespaceExists: bring the validator up to date instead.
                Err(e) if matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == 48) => {
                    self.db
                        .run_command(doc! { "collMod": name, "validator": validator })
                        .await?;
                }
                Err(e) => return Err(e),
            }
        }
        let index = |keys: Document| IndexModel::builder().keys(keys).build();
        self.raw(Target::Calls)
            .create_indexes([index(doc! { "start_time": 1, "status": 1 })])
            .await?;
        self.raw(Target::Metrics)
            .create_indexes([
                index(doc! { "category": 1, "timestamp": 1 }),
                index(doc! { "timestamp": 1 }),
            ])
            .await?;
        self.db
            .collection::<Document>(crate::jobs::COLLECTION)
            .create_indexes([index(doc! { "created_at": -1 })])
            .await?;
        Ok(())
    }

    /// One unordered `insert_many`, and exactly how many of its documents are in the database.
    pub async fn insert_batch(&self, target: Target, docs: Vec<RawDocumentBuf>) -> BatchOutcome {
        let started = std::time::Instant::now();
        let outcome = self.insert_batch_inner(target, docs).await;
        let collection = target.collection();
        metrics::histogram!("insert_batch_duration_seconds", "collection" => collection)
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("documents_inserted_total", "collection" => collection)
            .increment(outcome.inserted);
        outcome
    }

    async fn insert_batch_inner(&self, target: Target, docs: Vec<RawDocumentBuf>) -> BatchOutcome {
        let n = docs.len() as u64;
        match self.raw(target).insert_many(docs).ordered(false).await {
            Ok(r) => BatchOutcome {
                inserted: r.inserted_ids.len() as u64,
                error: None,
                uncertain: false,
            },
            Err(e) => match e.kind.as_ref() {
                ErrorKind::InsertMany(m) if m.write_concern_error.is_none() => {
                    // A duplicate `_id` can only be this run's own document, written by an
                    // attempt the driver retried: it is in the database.
                    let rejected = m
                        .write_errors
                        .iter()
                        .flatten()
                        .filter(|w| w.code != 11000)
                        .count() as u64;
                    BatchOutcome {
                        inserted: n - rejected,
                        error: (rejected > 0).then_some(e),
                        uncertain: false,
                    }
                }
                // No server was selected, so nothing was sent.
                ErrorKind::ServerSelection { .. } => BatchOutcome {
                    inserted: 0,
                    error: Some(e),
                    uncertain: false,
                },
                _ => BatchOutcome {
                    inserted: 0,
                    error: Some(e),
                    uncertain: true,
                },
            },
        }
    }

    /// How many documents of the run of `count` documents are in `target`: the exact figure after
    /// a failure whose outcome was lost.
    pub async fn count_run(&self, target: Target, run: RunId, count: u32) -> Result<u64, Error> {
        if count == 0 {
            return Ok(0);
        }
        let (first, last) = run.id_range(count);
        self.raw(target)
            .count_documents(doc! { "_id": {
                "$gte": ObjectId::from_bytes(first),
                "$lte": ObjectId::from_bytes(last),
            } })
            .await
    }

    /// Aggregated statistics of both collections over `[from, to)`.
    pub async fn stats(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Stats, Error> {
        let (calls, metrics) = tokio::try_join!(
            self.call_stats(range_filter("start_time", from, to)),
            self.metric_stats(range_filter("timestamp", from, to)),
        )?;
        Ok(Stats {
            from,
            to,
            calls,
            metrics,
        })
    }

    async fn call_stats(&self, filter: Document) -> Result<CallStats, Error> {
        let sums = doc! {
            "count": { "$sum": 1 },
            "total_duration": { "$sum": "$duration" },
            "avg_duration": { "$avg": "$duration" },
            "total_cost": { "$sum": "$cost" },
        };
        let group = |key: Bson| {
            let mut g = doc! { "_id": key };
            g.extend(sums.clone());
            g
        };
        let pipeline = [
            doc! { "$match": filter },
            doc! { "$facet": {
                "by_day": [
                    { "$group": group(doc! { "date": day("$start_time"), "status": "$status" }.into()) },
                    { "$sort": { "_id.date": 1, "_id.status": 1 } },
                ],
                "by_status": [
                    { "$group": group("$status".into()) },
                    { "$sort": { "_id": 1 } },
                ],
                "by_type": [
                    { "$group": group("$call_type".into()) },
                    { "$sort": { "_id": 1 } },
                ],
            } },
        ];
        let facet: CallFacet = self.one(Target::Calls, pipeline).await?;
        let row = |key: &Document, g: Group| CallGroup {
            date: key.get_str("date").ok().map(str::to_owned),
            status: key.get_str("status").ok().map(str::to_owned),
            call_type: key.get_str("call_type").ok().map(str::to_owned),
            count: g.count,
            total_duration: g.total_duration.unwrap_or(0),
            avg_duration: g.avg_duration.map(round2),
            total_cost: round2(g.total_cost.unwrap_or(0.0)),
        };
        let by_day = facet
            .by_day
            .into_iter()
            .map(|k| {
                let key = k.id.as_document().cloned().unwrap_or_default();
                row(&key, k.group)
            })
            .collect();
        let keyed = |rows: Vec<Keyed>, field: &str| -> Vec<CallGroup> {
            rows.into_iter()
                .map(|k| {
                    let name = k.id.as_str().unwrap_or_default().to_owned();
                    row(&doc! { field: name }, k.group)
                })
                .collect()
        };
        let by_status = keyed(facet.by_status, "status");
        let by_type = keyed(facet.by_type, "call_type");
        Ok(CallStats {
            total: by_status.iter().map(|s| s.count).sum(),
            by_day,
            by_status,
            by_type,
        })
    }

    async fn metric_stats(&self, filter: Document) -> Result<MetricStats, Error> {
        let aggs = doc! {
            "count": { "$sum": 1 },
            "min": { "$min": "$value" },
            "avg": { "$avg": "$value" },
            "max": { "$max": "$value" },
        };
        let mut by_day = doc! { "_id": { "date": day("$timestamp"), "category": "$category" } };
        by_day.extend(aggs.clone());
        let mut by_category = doc! { "_id": "$category" };
        by_category.extend(aggs);
        let pipeline = [
            doc! { "$match": filter },
            doc! { "$facet": {
                "by_day": [ { "$group": by_day }, { "$sort": { "_id.date": 1, "_id.category": 1 } } ],
                "by_category": [ { "$group": by_category }, { "$sort": { "_id": 1 } } ],
            } },
        ];
        let facet: MetricFacet = self.one(Target::Metrics, pipeline).await?;
        let row = |date: Option<String>, category: String, a: MetricAgg| MetricGroup {
            date,
            category,
            count: a.count,
            min: a.min,
            avg: a.avg.map(round2),
            max: a.max,
        };
        let by_day = facet
            .by_day
            .into_iter()
            .map(|r| {
                let key = r.id.as_document().cloned().unwrap_or_default();
                let date = key.get_str("date").ok().map(str::to_owned);
                let category = key.get_str("category").unwrap_or_default().to_owned();
                row(date, category, r.agg)
            })
            .collect();
        let by_category: Vec<MetricGroup> = facet
            .by_category
            .into_iter()
            .map(|r| row(None, r.id.as_str().unwrap_or_default().to_owned(), r.agg))
            .collect();
        Ok(MetricStats {
            total: by_category.iter().map(|c| c.count).sum(),
            by_day,
            by_category,
        })
    }

    /// Runs a pipeline that yields exactly one document (a `$facet`) and decodes it.
    async fn one<T: serde::de::DeserializeOwned + Send + Sync>(
        &self,
        target: Target,
        pipeline: impl IntoIterator<Item = Document>,
    ) -> Result<T, Error> {
        let mut cursor = self
            .raw(target)
            .aggregate(pipeline)
            .max_time(STATS_MAX_TIME)
            .with_type::<T>()
            .await?;
        cursor
            .try_next()
            .await?
            .ok_or_else(|| Error::custom("$facet returned no document".to_string()))
    }

    /// Closes the pool's connections; call once, after the last operation.
    pub async fn shutdown(self) {
        self.client.shutdown().await;
    }
}

fn day(field: &str) -> Document {
    doc! { "$dateToString": { "format": "%Y-%m-%d", "date": field } }
}

fn range_filter(field: &str, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Document {
    let mut range = Document::new();
    if let Some(f) = from {
        range.insert("$gte", bson::DateTime::from_chrono(f));
    }
    if let Some(t) = to {
        range.insert("$lt", bson::DateTime::from_chrono(t));
    }
    if range.is_empty() {
        Document::new()
    } else {
        doc! { field: range }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Deserialize)]
struct Group {
    count: i64,
    total_duration: Option<i64>,
    avg_duration: Option<f64>,
    total_cost: Option<f64>,
}

#[derive(Deserialize)]
struct Keyed {
    #[serde(rename = "_id")]
    id: Bson,
    #[serde(flatten)]
    group: Group,
}

#[derive(Deserialize)]
struct CallFacet {
    by_day: Vec<Keyed>,
    by_status: Vec<Keyed>,
    by_type: Vec<Keyed>,
}

#[derive(Deserialize)]
struct MetricAgg {
    count: i64,
    min: Option<f64>,
    avg: Option<f64>,
    max: Option<f64>,
}

#[derive(Deserialize)]
struct MetricRow {
    #[serde(rename = "_id")]
    id: Bson,
    #[serde(flatten)]
    agg: MetricAgg,
}

#[derive(Deserialize)]
struct MetricFacet {
    by_day: Vec<MetricRow>,
    by_category: Vec<MetricRow>,
}

/// What `GET /stats` answers.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    /// Start of the range (inclusive), if one was given.
    pub from: Option<DateTime<Utc>>,
    /// End of the range (exclusive), if one was given.
    pub to: Option<DateTime<Utc>>,
    /// Call record statistics.
    pub calls: CallStats,
    /// Metric statistics.
    pub metrics: MetricStats,
}

/// Call records grouped three ways.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CallStats {
    /// Calls in the range.
    pub total: i64,
    /// Per UTC day (start time) and status, oldest day first.
    pub by_day: Vec<CallGroup>,
    /// Per status.
    pub by_status: Vec<CallGroup>,
    /// Per call type.
    pub by_type: Vec<CallGroup>,
}

/// One group of call records.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CallGroup {
    /// UTC day, `YYYY-MM-DD` (in `by_day`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<String>,
    /// Status (in `by_day` and `by_status`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    /// Call type (in `by_type`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call_type: Option<String>,
    /// Number of calls.
    pub count: i64,
    /// Sum of durations in seconds (completed calls only have one).
    pub total_duration: i64,
    /// Mean duration in seconds over calls that have one; null when none does.
    pub avg_duration: Option<f64>,
    /// Sum of costs, USD.
    pub total_cost: f64,
}

/// Metric points grouped by day and category.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricStats {
    /// Points in the range.
    pub total: i64,
    /// Per UTC day and category, oldest day first.
    pub by_day: Vec<MetricGroup>,
    /// Per category over the whole range.
    pub by_category: Vec<MetricGroup>,
}

/// One group of metric points.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct MetricGroup {
    /// UTC day, `YYYY-MM-DD` (in `by_day`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<String>,
    /// Category.
    pub category: String,
    /// Number of points.
    pub count: i64,
    /// Smallest value.
    pub min: Option<f64>,
    /// Mean value.
    pub avg: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

/// `$jsonSchema` for `calls`: required fields and types, enums, bounds, and "a duration exactly when
/// completed".
pub fn calls_validator() -> Document {
    let types: Vec<&str> = CallType::ALL.iter().map(|t| t.as_str()).collect();
    let statuses: Vec<&str> = CallStatus::ALL.iter().map(|s| s.as_str()).collect();
    doc! {
        "$jsonSchema": {
            "bsonType": "object",
            "required": ["call_id", "caller", "callee", "call_type", "status", "start_time", "end_time", "cost"],
            "properties": {
                "call_id": { "bsonType": "string", "minLength": 36, "maxLength": 36 },
                "caller": { "bsonType": "string", "minLength": 3 },
                "callee": { "bsonType": "string", "minLength": 3 },
                "call_type": { "enum": types },
                "status": { "enum": statuses },
                "start_time": { "bsonType": "date" },
                "end_time": { "bsonType": "date" },
                "duration": { "bsonType": "int", "minimum": 1, "maximum": 7200 },
                "cost": { "bsonType": "double", "minimum": 0 },
            },
        },
        "$or": [
            { "status": "completed", "duration": { "$exists": true } },
            { "status": { "$ne": "completed" }, "duration": { "$exists": false }, "cost": 0.0 },
        ],
    }
}

/// `$jsonSchema` for `metrics`: required fields and types, the category enum, and each category's
/// value bounds and unit.
pub fn metrics_validator() -> Document {
    let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let per_category: Vec<Document> = Category::ALL
        .iter()
        .map(|c| {
            let (lo, hi) = c.bounds();
            doc! { "category": c.as_str(), "unit": c.unit(), "value": { "$gte": lo, "$lte": hi } }
        })
        .collect();
    doc! {
        "$jsonSchema": {
            "bsonType": "object",
            "required": ["category", "value", "unit", "timestamp", "host"],
            "properties": {
                "category": { "enum": names },
                "value": { "bsonType": "double", "minimum": 0, "maximum": 60000 },
                "unit": { "bsonType": "string" },
                "timestamp": { "bsonType": "date" },
                "host": { "bsonType": "string", "minLength": 1 },
            },
        },
        "$or": per_category,
    }
}
