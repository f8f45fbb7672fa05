//! The JSON shape of a live run: its record plus what a user wants to see, the achieved rate and
//! how far behind the clock it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::live::LiveRecord;

/// A live run as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct LiveView {
    /// Run id.
    pub id: String,
    /// `running`, `stopped` or `failed`.
    pub state: String,
    /// Target calls per second (0: metrics only).
    pub calls_per_second: f64,
    /// The rate follows the hour-of-day curve.
    pub shaped: bool,
    /// Seconds between metric ticks (0: calls only).
    pub step_seconds: i64,
    /// Hosts reporting metrics.
    pub hosts: i64,
    /// Metric categories.
    pub categories: Vec<String>,
    /// Subscriber population.
    pub subscribers: i64,
    /// The seed: with the parameters and `start`, it fixes every document.
    pub seed: u64,
    /// Time of the first document.
    pub start: DateTime<Utc>,
    /// Calls in the database.
    pub calls_written: i64,
    /// Metric points in the database.
    pub points_written: i64,
    /// Calls written per second of the run's life so far.
    pub achieved_calls_per_second: f64,
    /// Seconds between now (or the stop) and the newest second written completely.
    pub lag_seconds: f64,
    /// Times another replica took the run over.
    pub takeovers: i64,
    /// A replica writes the run now (false while it waits to be taken over).
    pub owned: bool,
    /// When the run was created.
    pub created_at: DateTime<Utc>,
    /// When it stopped.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Why it failed or was given up, or the last error it rode through.
    pub last_error: Option<String>,
    /// Its labelled scenario, as requested (start filled in).
    pub scenario: Option<serde_json::Value>,
    /// The name of the call model's preset (its numbers, overrides included, are in `model`).
    pub preset: String,
    /// The model, every number: `calls` and `metrics`.
    pub model: serde_json::Value,
}

/// The view of `record` at `now`.
pub fn view(record: &LiveRecord, now: DateTime<Utc>) -> LiveView {
    let start = record.start.to_chrono();
    let until = record.stopped_at.map(|t| t.to_chrono()).unwrap_or(now);
    let elapsed = (until - start).as_seconds_f64().max(1e-3);
    let written_to = start + chrono::TimeDelta::seconds(record.tick);
    let (model, metrics) = crate::live::schedule::models_of(record.model.as_ref());
    LiveView {
        id: record.id.clone(),
        state: record.state.as_str().into(),
        calls_per_second: record.calls_per_second,
        shaped: record.shaped,
        step_seconds: record.step_seconds,
        hosts: record.hosts,
        categories: record.categories.clone(),
        subscribers: record.subscribers,
        seed: record.seed as u64,
        start,
        calls_written: record.calls_written,
        points_written: record.points_written,
        achieved_calls_per_second: (record.calls_written as f64 / elapsed * 100.0).round() / 100.0,
        lag_seconds: ((until - written_to).as_seconds_f64().max(0.0) * 10.0).round() / 10.0,
        takeovers: record.takeovers,
        owned: record.owner.is_some(),
        created_at: record.created_at.to_chrono(),
        stopped_at: record.stopped_at.map(|t| t.to_chrono()),
        last_error: record.last_error.clone(),
        scenario: record
            .scenario
            .clone()
            .map(|d| bson::Bson::Document(d).into_relaxed_extjson()),
        preset: model.preset.as_str().into(),
        model: model.with_metrics_json(&metrics),
    }
}
