//! What the API shows of a job, and the parameters as a user would send them again.

use bson::{Document, doc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::generate::model;
use crate::generate::params::DEFAULT_HOSTS;
use crate::generate::scenario::Scenario;
use crate::generate::sms::TrafficParams;
use crate::generate::{CallParams, Kind, Params, PointParams};
use crate::pipeline::RunSpec;
use crate::store::jobs::{JobRecord, JobState, Task};

/// What the API shows of a job.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// `generate` or `rebuild` (of the rollups).
    pub task: Task,
    /// `calls`, `metrics` or `sms`.
    pub kind: Kind,
    /// Life-cycle state.
    pub state: JobState,
    /// Documents asked for (threads, for texts).
    pub requested: u64,
    /// Documents in the database so far (`inserted` on the wire).
    #[serde(rename = "inserted")]
    pub written: u64,
    /// Share done, 0–1.
    pub progress: f64,
    /// Insert rate so far.
    pub docs_per_second: f64,
    /// Estimated seconds to completion while running.
    pub eta_seconds: Option<f64>,
    /// Seed; the same seed and params give the same documents.
    pub seed: u64,
    /// Generation parameters.
    pub params: serde_json::Value,
    /// Accepted at.
    pub created_at: DateTime<Utc>,
    /// Last progress update.
    pub updated_at: DateTime<Utc>,
    /// Ended at.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed, if it did.
    pub last_error: Option<String>,
    /// A cancellation was asked for.
    pub cancel_requested: bool,
}

/// The API's view of a record, with the ETA as of `now`.
pub fn view(record: &JobRecord, now: DateTime<Utc>) -> JobView {
    let requested = record.requested.max(0) as u64;
    let written = record.written.max(0) as u64;
    // How far it is, in what `requested` counts: documents, or draws of several records.
    let done = match record.drawn {
        Some(d) if record.kind.info().slots > 1 => d.max(0) as u64,
        _ => written,
    };
    let eta_seconds = (record.state == JobState::Running
        && record.docs_per_second > 0.0
        && done > 0)
        .then(|| {
            let left = requested.saturating_sub(done) as f64 * written as f64
                / done as f64
                / record.docs_per_second;
            let since_update =
                (now - record.updated_at.to_chrono()).num_milliseconds() as f64 / 1000.0;
            ((left - since_update.max(0.0)).max(0.0) * 10.0).round() / 10.0
        });
    JobView {
        id: record.id.clone(),
        task: record.task,
        kind: record.kind,
        state: record.state,
        requested,
        written,
        // A rebuild's `requested` is the collection's estimated count, which the real one can
        // exceed: progress never passes 1.
        progress: if requested == 0 || record.state == JobState::Done {
            1.0
        } else {
            (done as f64 / requested as f64).min(1.0)
        },
        docs_per_second: record.docs_per_second.round(),
        eta_seconds,
        seed: record.seed as u64,
        params: serde_json::to_value(&record.params).unwrap_or_default(),
        created_at: record.created_at.to_chrono(),
        updated_at: record.updated_at.to_chrono(),
        finished_at: record.finished_at.map(|d| d.to_chrono()),
        last_error: record.last_error.clone(),
        cancel_requested: record.cancel_requested,
    }
}

/// The parameters as the user would send them again.
pub(super) fn params_doc(params: &Params) -> Document {
    let (mut d, scenario) = match params {
        Params::Calls(p) => (
            doc! {
                "days": p.days,
                "subscribers": p.subscribers,
                "end": rfc3339(p.end),
                "model": bson::to_document(&p.model.to_json()).unwrap_or_default(),
            },
            p.scenario,
        ),
        Params::Metrics(p) => (
            doc! {
                "step_seconds": p.step_seconds,
                "categories": p.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "hosts": p.hosts,
                "end": rfc3339(p.end),
                "model": { "metrics": bson::to_document(&p.model.to_json()).unwrap_or_default() },
            },
            p.scenario,
        ),
        Params::Sms(p) => (
            doc! {
                "days": p.days,
                "subscribers": p.subscribers,
                "end": rfc3339(p.end),
                "model": bson::to_document(&p.model.to_json()).unwrap_or_default(),
            },
            None,
        ),
    };
    if let Some(s) = scenario {
        d.insert("scenario", s.to_doc());
    }
    d
}

/// The same text as the API's other timestamps (`…Z`, milliseconds).
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The spec a job ran, rebuilt from its record (the inverse of [`params_doc`]), so the documents
/// and batches it wrote can be generated again; `None` for a record this version cannot read.
pub(super) fn spec_of(record: &JobRecord) -> Option<RunSpec> {
    let p = &record.params;
    let int = |k: &str| p.get_i32(k).map(i64::from).or_else(|_| p.get_i64(k)).ok();
    let end = p
        .get_str("end")
        .ok()
        .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
        .map(|e| e.with_timezone(&Utc));
    let count = u32::try_from(record.requested).ok()?;
    // `Some(None)`: no scenario; `None`: one this version cannot read.
    let scenario = |hosts: u32| match p.get_document("scenario") {
        Ok(d) => Scenario::from_doc(d, hosts).map(Some),
        Err(_) => Some(None),
    };
    let params = match record.kind {
        Kind::Calls => {
            let c = CallParams::new(int("days"), int("subscribers"), end, end?).ok()?;
            let scenario = scenario(DEFAULT_HOSTS)?;
            let model = model::of_record(p.get_document("model").ok()).ok()?.0;
            Params::Calls(CallParams {
                scenario,
                model,
                ..c
            })
        }
        Kind::Metrics => {
            let categories: Vec<String> = p
                .get_array("categories")
                .ok()?
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect();
            let m = PointParams::new(
                count,
                int("step_seconds"),
                Some(&categories),
                int("hosts"),
                end,
                end?,
            )
            .ok()?;
            let scenario = scenario(m.hosts)?;
            let model = model::of_record(p.get_document("model").ok()).ok()?.1;
            Params::Metrics(PointParams {
                scenario,
                model,
                ..m
            })
        }
        Kind::Sms => {
            let c = CallParams::new(int("days"), int("subscribers"), end, end?).ok()?;
            let model = model::of_record(p.get_document("model").ok()).ok()?.0;
            Params::Sms(TrafficParams {
                end: c.end,
                days: c.days,
                subscribers: c.subscribers,
                model,
            })
        }
    };
    Some(RunSpec {
        params,
        count,
        seed: record.seed as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_show_their_progress_in_threads_and_calls_in_documents() {
        let now = Utc::now();
        let mut record = JobRecord::start(Task::Generate, Kind::Sms, 1_000, "me", now);
        record.written = 1_900; // records: more than the threads asked for
        record.drawn = Some(250);
        record.docs_per_second = 100.0;
        let v = view(&record, now);
        assert_eq!(v.progress, 0.25);
        // 750 threads left at 7.6 records a thread so far: 5,700 records at 100 a second.
        assert_eq!(v.eta_seconds, Some(57.0));
        record.kind = Kind::Calls;
        record.written = 250;
        record.drawn = None;
        assert_eq!(view(&record, now).progress, 0.25);
    }
}
