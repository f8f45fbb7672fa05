//! Background jobs: large runs answer `202` at once and go on here, with their record — state,
//! counts, rate, errors, cancellation — kept in MongoDB's `jobs` collection, so any replica of the
//! service can report on or cancel a job that another one runs.
//!
//! Exactness: a job's `inserted` is the number of its documents in the database. Acknowledged
//! batches are counted as they land; when a batch's answer is lost (the connection dropped), the
//! job's `_id` range is counted once the database answers again (see [`RunId`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{Document, doc};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::Collection;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::ApiError;
use crate::generate::RunId;
use crate::pipeline::{self, Dataset, Progress, RunSpec, Tuning};
use crate::store::{Store, Target};

/// Name of the collection job records live in.
pub const COLLECTION: &str = "jobs";
/// How often a running job writes its progress (and reads whether it was cancelled elsewhere).
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A running job whose record has not been touched for this long lost its instance.
pub const STALE_AFTER: Duration = Duration::from_secs(30);
/// How long `DELETE /jobs/{id}` waits for the job to stop before answering.
pub const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Generating and inserting.
    Running,
    /// Every requested document is in the database.
    Done,
    /// Stopped by an error (or by its instance stopping); `inserted` says how far it got.
    Failed,
    /// Stopped on request; `inserted` says how far it got.
    Cancelled,
}

/// A job as stored in MongoDB.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job id (UUID v4).
    #[serde(rename = "_id")]
    pub id: String,
    /// Collection written to.
    pub kind: Target,
    /// Life-cycle state.
    pub state: JobState,
    /// Documents asked for.
    pub requested: i64,
    /// Documents in the database so far (exact once the job has ended).
    pub inserted: i64,
    /// Seed, stored as its bit pattern (BSON has no unsigned 64-bit integer).
    pub seed: i64,
    /// The generation parameters, as the user would send them again.
    pub params: Document,
    /// Start of the job's `_id` range (seconds part of [`RunId`]).
    pub run_started: i64,
    /// Nonce of the job's `_id` range.
    pub run_nonce: i64,
    /// When the job was accepted.
    pub created_at: bson::DateTime,
    /// Last progress write; a running job's heartbeat.
    pub updated_at: bson::DateTime,
    /// When the job ended.
    pub finished_at: Option<bson::DateTime>,
    /// Insert rate so far.
    pub docs_per_second: f64,
    /// Why the job failed, or what interrupted it.
    pub last_error: Option<String>,
    /// Someone asked for the job to stop.
    pub cancel_requested: bool,
    /// Instance running the job.
    pub owner: String,
}

/// What the API shows of a job.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// `calls` or `metrics`.
    pub kind: Target,
    /// Life-cycle state.
    pub state: JobState,
    /// Documents asked for.
    pub requested: u64,
    /// Documents in the database so far.
    pub inserted: u64,
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

impl JobRecord {
    fn run_id(&self) -> RunId {
        RunId::new(self.run_started as u32, self.run_nonce as u32)
    }

    /// The API's view of the record, with the ETA as of `now`.
    pub fn view(&self, now: DateTime<Utc>) -> JobView {
        let requested = self.requested.max(0) as u64;
        let inserted = self.inserted.max(0) as u64;
        let eta_seconds =
            (self.state == JobState::Running && self.docs_per_second > 0.0).then(|| {
                let left = requested.saturating_sub(inserted) as f64 / self.docs_per_second;
                let since_update =
                    (now - self.updated_at.to_chrono()).num_milliseconds() as f64 / 1000.0;
                ((left - since_update.max(0.0)).max(0.0) * 10.0).round() / 10.0
            });
        JobView {
            id: self.id.clone(),
            kind: self.kind,
            state: self.state,
            requested,
            inserted,
            progress: if requested == 0 {
                1.0
            } else {
                inserted as f64 / requested as f64
            },
            docs_per_second: self.docs_per_second.round(),
            eta_seconds,
            seed: self.seed as u64,
            params: serde_json::to_value(&self.params).unwrap_or_default(),
            created_at: self.created_at.to_chrono(),
            updated_at: self.updated_at.to_chrono(),
            finished_at: self.finished_at.map(|d| d.to_chrono()),
            last_error: self.last_error.clone(),
            cancel_requested: self.cancel_requested,
        }
    }
}

/// Runs this instance's jobs and reads everyone's. Cheap to clone.
#[derive(Clone)]
pub struct JobManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    tuning: Tuning,
    slots: Arc<Semaphore>,
    max_jobs: u32,
    instance: String,
    tracker: TaskTracker,
    running: Mutex<HashMap<String, CancellationToken>>,
    shutdown: CancellationToken,
}

fn params_doc(spec: &RunSpec) -> Document {
    match &spec.dataset {
        Dataset::Calls(p) => doc! { "days": p.days, "end": rfc3339(p.end) },
        Dataset::Metrics(p) => doc! {
            "step_seconds": p.step_seconds,
            "categories": p.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "hosts": p.hosts,
            "end": rfc3339(p.end),
        },
    }
}

/// The same text as the API's other timestamps (`…Z`, milliseconds).
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl JobManager {
    /// A manager running at most `max_jobs` jobs at once on this instance.
    pub fn new(store: Store, tuning: Tuning, max_jobs: u32) -> Self {
        metrics::gauge!("jobs_running").set(0.0);
        Self {
            inner: Arc::new(Inner {
                store,
                tuning,
                slots: Arc::new(Semaphore::new(max_jobs as usize)),
                max_jobs,
                instance: uuid::Uuid::new_v4().to_string(),
                tracker: TaskTracker::new(),
                running: Mutex::new(HashMap::new()),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    fn collection(&self) -> Collection<JobRecord> {
        self.inner.store.database().collection(COLLECTION)
    }

    /// Records and starts a job for `spec`; `429` when this instance is at its limit.
    pub async fn start(&self, spec: RunSpec) -> Result<JobRecord, ApiError> {
        let permit = self
            .inner
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::TooManyJobs(self.inner.max_jobs))?;
        if self.inner.shutdown.is_cancelled() {
            return Err(ApiError::Overloaded);
        }
        let now = bson::DateTime::now();
        let run = pipeline::new_run_id();
        let record = JobRecord {
            id: uuid::Uuid::new_v4().to_string(),
            kind: spec.target(),
            state: JobState::Running,
            requested: i64::from(spec.count),
            inserted: 0,
            seed: spec.seed as i64,
            params: params_doc(&spec),
            run_started: i64::from(run.started),
            run_nonce: i64::from(run.nonce),
            created_at: now,
            updated_at: now,
            finished_at: None,
            docs_per_second: 0.0,
            last_error: None,
            cancel_requested: false,
            owner: self.inner.instance.clone(),
        };
        self.collection().insert_one(&record).await?;
        let token = self.inner.shutdown.child_token();
        self.inner
            .running
            .lock()
            .expect("job map lock")
            .insert(record.id.clone(), token.clone());
        self.update_gauge();
        let manager = self.clone();
        let job = record.clone();
        self.inner
            .tracker
            .spawn(async move { manager.run(job, spec, run, token, permit).await });
        tracing::info!(job = %record.id, kind = ?record.kind, requested = record.requested, "job started");
        Ok(record)
    }

    async fn run(
        &self,
        job: JobRecord,
        spec: RunSpec,
        run: RunId,
        token: CancellationToken,
        _permit: OwnedSemaphorePermit,
    ) {
        let store = &self.inner.store;
        let progress = Arc::new(Progress::default());
        let started = Instant::now();
        let rate = |n: u64| n as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let work = pipeline::run(
            store,
            &spec,
            run,
            self.inner.tuning,
            progress.clone(),
            &token,
        );
        tokio::pin!(work);
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.tick().await;
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                _ = tick.tick() => {
                    let n = progress.inserted();
                    let update = doc! { "$set": {
                        "inserted": n as i64,
                        "docs_per_second": rate(n),
                        "updated_at": bson::DateTime::now(),
                    } };
                    // A failed heartbeat is not fatal: the pipeline meets the same outage itself.
                    if let Ok(Some(current)) = self
                        .collection()
                        .find_one_and_update(doc! { "_id": &job.id }, update)
                        .await
                        && current.cancel_requested
                    {
                        token.cancel();
                    }
                }
            }
        };

        let interrupted = token.is_cancelled() && self.inner.shutdown.is_cancelled();
        let (state, last_error) = match (&outcome.error, outcome.cancelled) {
            (Some(e), _) => {
                crate::telemetry::record_db_error(e);
                (JobState::Failed, Some(describe(e)))
            }
            (None, true) if interrupted => (
                JobState::Failed,
                Some("interrupted: the service shut down".to_string()),
            ),
            (None, true) => (JobState::Cancelled, None),
            (None, false) => (JobState::Done, None),
        };
        let inserted = if outcome.uncertain {
            self.count_until_answered(job.kind, run, spec.count).await
        } else {
            Some(outcome.acknowledged)
        };
        let Some(inserted) = inserted else {
            tracing::error!(job = %job.id, "database gone during shutdown; job left for reaping");
            self.forget(&job.id);
            return;
        };
        let finish = doc! { "$set": {
            "state": bson::to_bson(&state).expect("state serializes"),
            "inserted": inserted as i64,
            "docs_per_second": rate(inserted),
            "last_error": last_error.clone(),
            "updated_at": bson::DateTime::now(),
            "finished_at": bson::DateTime::now(),
        } };
        self.write_until_answered(&job.id, finish).await;
        self.forget(&job.id);
        tracing::info!(job = %job.id, ?state, inserted, error = last_error.as_deref(), "job ended");
    }

    fn forget(&self, id: &str) {
        self.inner.running.lock().expect("job map lock").remove(id);
        self.update_gauge();
    }

    fn update_gauge(&self) {
        metrics::gauge!("jobs_running").set(self.running() as f64);
    }

    /// Counts the run's documents, retrying while the database is away (until shutdown).
    async fn count_until_answered(&self, target: Target, run: RunId, count: u32) -> Option<u64> {
        let mut wait = Duration::from_millis(250);
        loop {
            match self.inner.store.count_run(target, run, count).await {
                Ok(n) => return Some(n),
                Err(e) => tracing::warn!(error = %e, "cannot count the job's documents yet"),
            }
            if self.inner.shutdown.is_cancelled() {
                return None;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    async fn write_until_answered(&self, id: &str, update: Document) {
        let mut wait = Duration::from_millis(250);
        loop {
            match self
                .collection()
                .update_one(doc! { "_id": id }, update.clone())
                .await
            {
                Ok(_) => return,
                Err(e) => tracing::warn!(job = id, error = %e, "cannot record the job's end yet"),
            }
            if self.inner.shutdown.is_cancelled() {
                return;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// One job, with a job whose instance vanished marked failed first.
    pub async fn get(&self, id: &str) -> Result<JobRecord, ApiError> {
        let record = self
            .collection()
            .find_one(doc! { "_id": id })
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no job with id {id:?}")))?;
        self.reap_if_stale(record).await
    }

    /// The most recent jobs, newest first.
    pub async fn list(&self, limit: i64) -> Result<Vec<JobRecord>, ApiError> {
        let records: Vec<JobRecord> = self
            .collection()
            .find(doc! {})
            .sort(doc! { "created_at": -1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            out.push(self.reap_if_stale(r).await?);
        }
        Ok(out)
    }

    /// A running job nobody has updated for [`STALE_AFTER`] lost its instance: count what it wrote
    /// and mark it failed, so no job stays "running" forever.
    async fn reap_if_stale(&self, record: JobRecord) -> Result<JobRecord, ApiError> {
        let age = Utc::now() - record.updated_at.to_chrono();
        let ours = self
            .inner
            .running
            .lock()
            .expect("job map lock")
            .contains_key(&record.id);
        if record.state != JobState::Running
            || ours
            || age.to_std().unwrap_or_default() < STALE_AFTER
        {
            return Ok(record);
        }
        let inserted = self
            .inner
            .store
            .count_run(record.kind, record.run_id(), record.requested as u32)
            .await?;
        let (state, error) = if inserted as i64 == record.requested {
            (JobState::Done, None)
        } else {
            (
                JobState::Failed,
                Some("the instance running this job stopped responding".to_string()),
            )
        };
        self.collection()
            .update_one(
                doc! { "_id": &record.id, "state": "running", "updated_at": record.updated_at },
                doc! { "$set": {
                    "state": bson::to_bson(&state).expect("state serializes"),
                    "inserted": inserted as i64,
                    "last_error": error,
                    "finished_at": bson::DateTime::now(),
                } },
            )
            .await?;
        self.collection()
            .find_one(doc! { "_id": &record.id })
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no job with id {:?}", record.id)))
    }

    /// Asks a job to stop and waits (up to [`CANCEL_WAIT`]) until it has, so the answer carries the
    /// exact count. Returns the record and whether the job has stopped.
    pub async fn cancel(&self, id: &str) -> Result<(JobRecord, bool), ApiError> {
        let record = self.get(id).await?;
        match record.state {
            JobState::Running => {}
            JobState::Cancelled => return Ok((record, true)),
            other => {
                return Err(ApiError::Conflict(format!(
                    "job {id} has already ended ({})",
                    serde_json::to_value(other)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("ended")
                )));
            }
        }
        self.collection()
            .update_one(
                doc! { "_id": id, "state": "running" },
                doc! { "$set": { "cancel_requested": true } },
            )
            .await?;
        if let Some(token) = self.inner.running.lock().expect("job map lock").get(id) {
            token.cancel();
        }
        let deadline = Instant::now() + CANCEL_WAIT;
        loop {
            let record = self.get(id).await?;
            if record.state != JobState::Running || Instant::now() >= deadline {
                let stopped = record.state != JobState::Running;
                return Ok((record, stopped));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Number of jobs running on this instance.
    pub fn running(&self) -> usize {
        self.inner.running.lock().expect("job map lock").len()
    }

    /// Stops every job of this instance and waits up to `deadline` for their records to be final.
    pub async fn shutdown(&self, deadline: Duration) {
        self.inner.shutdown.cancel();
        self.inner.tracker.close();
        if tokio::time::timeout(deadline, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("jobs did not stop within the shutdown deadline");
        }
    }
}

/// A job error as users see it: the driver's message, which names the failure without secrets.
fn describe(e: &mongodb::error::Error) -> String {
    if crate::store::is_unavailable(e) {
        "the database became unavailable".to_string()
    } else {
        format!("insert failed: {e}")
    }
}
