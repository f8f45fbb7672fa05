//! Background jobs: large runs answer `202` at once and go on here. Their records — state, counts,
//! rate, errors, cancellation — live in MongoDB (see [`crate::store::jobs`]), so any replica can
//! report on or cancel a job that another one runs. This module keeps what is local to one
//! instance: job slots, cancellation tokens, the heartbeat loop and the decision to reap a job whose
//! instance vanished.
//!
//! Exactness: a job's count is the number of its documents in the database; [`Run::execute`]
//! makes it exact, and a job whose end could not be recorded is settled by counting its `_id`
//! range when it is next read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::ApiError;
use crate::generate::Kind;
use crate::pipeline::{Run, RunSpec, Tuning};
use crate::store::Store;
use crate::store::jobs::{JobRecord, JobState, Task};

/// How often a running job writes its progress (and reads whether it was cancelled elsewhere).
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long `POST /jobs/{id}/cancel` waits for the job to stop before answering.
pub const CANCEL_WAIT: Duration = Duration::from_secs(5);
/// How long a job keeps asking a database that went away for its final count and record; past
/// that (or at shutdown) the record is left for the stale-job reaper to settle.
pub const FINISH_PATIENCE: Duration = Duration::from_secs(300);

mod reap;
mod run;
mod view;

use view::params_doc;
pub use view::{JobView, view};

/// What a job's task runs.
#[expect(
    clippy::large_enum_variant,
    reason = "one per job: a call model's 400 bytes cost nothing next to the job"
)]
enum Work {
    /// A generation run.
    Generate(Run),
    /// A rebuild of one kind's rollups.
    Rebuild(Kind),
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
    stale_after: Duration,
    clock_offset: chrono::TimeDelta,
    instance: String,
    tracker: TaskTracker,
    running: Mutex<HashMap<String, CancellationToken>>,
    shutdown: CancellationToken,
}

impl JobManager {
    /// A manager running at most `max_jobs` jobs at once on this instance; a running job whose
    /// heartbeat is older than `stale_after` lost its instance; this instance's clock is off by
    /// `clock_offset` (zero but in tests).
    pub fn new(
        store: Store,
        tuning: Tuning,
        max_jobs: u32,
        stale_after: Duration,
        clock_offset: chrono::TimeDelta,
    ) -> Self {
        metrics::gauge!("jobs_running").set(0.0);
        Self {
            inner: Arc::new(Inner {
                store,
                tuning,
                slots: Arc::new(Semaphore::new(max_jobs as usize)),
                max_jobs,
                stale_after,
                clock_offset,
                instance: uuid::Uuid::new_v4().to_string(),
                tracker: TaskTracker::new(),
                running: Mutex::new(HashMap::new()),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// Records and starts a job for `spec`; `429` when this instance is at its limit.
    pub async fn start(&self, spec: RunSpec) -> Result<JobRecord, ApiError> {
        let permit = self.slot()?;
        let run = Run::new(spec);
        let spec = run.spec();
        let owner = &self.inner.instance;
        let record = JobRecord {
            seed: spec.seed as i64,
            params: params_doc(&spec.params),
            run_started: i64::from(run.id().started),
            run_nonce: i64::from(run.id().nonce),
            batch_size: Some(self.inner.tuning.batch_size as i64),
            ..JobRecord::start(
                Task::Generate,
                spec.kind(),
                i64::from(spec.count),
                owner,
                self.now(),
            )
        };
        self.launch(record, Work::Generate(run), permit).await
    }

    /// Records and starts a rebuild of `kind`'s rollups from the raw documents; `429` when this
    /// instance is at its job limit.
    pub async fn start_rebuild(&self, kind: Kind) -> Result<JobRecord, ApiError> {
        let permit = self.slot()?;
        let requested = self.inner.store.estimated_count(kind).await?;
        let owner = &self.inner.instance;
        let record = JobRecord::start(Task::Rebuild, kind, requested as i64, owner, self.now());
        self.launch(record, Work::Rebuild(kind), permit).await
    }

    /// The time by this instance's clock.
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.inner.clock_offset
    }

    /// A job slot of this instance, or `429`.
    fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        let permit = self
            .inner
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::TooManyJobs(self.inner.max_jobs, "background jobs"))?;
        if self.inner.shutdown.is_cancelled() {
            return Err(ApiError::Overloaded("generation requests"));
        }
        Ok(permit)
    }

    /// Stores `record` and runs `work` for it in the background.
    async fn launch(
        &self,
        record: JobRecord,
        work: Work,
        permit: OwnedSemaphorePermit,
    ) -> Result<JobRecord, ApiError> {
        self.inner.store.insert_job(&record).await?;
        let token = self.inner.shutdown.child_token();
        self.inner
            .running
            .lock()
            .expect("job map lock")
            .insert(record.id.clone(), token.clone());
        self.update_gauge();
        let manager = self.clone();
        let id = record.id.clone();
        self.inner
            .tracker
            .spawn(async move { manager.run(id, work, token, permit).await });
        tracing::info!(job = %record.id, kind = ?record.kind, requested = record.requested, "job started");
        Ok(record)
    }

    /// Drops a job that ended from this instance's list of running jobs.
    fn forget(&self, id: &str) {
        self.inner.running.lock().expect("job map lock").remove(id);
        self.update_gauge();
    }

    fn update_gauge(&self) {
        metrics::gauge!("jobs_running").set(self.running() as f64);
    }

    pub(crate) fn not_found(id: &str) -> ApiError {
        ApiError::NotFound(format!("no job with id {id:?}"))
    }

    /// One job, with a job whose instance vanished marked failed first.
    pub async fn get(&self, id: &str) -> Result<JobRecord, ApiError> {
        let record = self
            .inner
            .store
            .job(id)
            .await?
            .ok_or_else(|| Self::not_found(id))?;
        self.reap_if_stale(record).await
    }

    /// The most recent jobs, newest first.
    pub async fn list(&self, limit: i64) -> Result<Vec<JobRecord>, ApiError> {
        let records = self.inner.store.recent_jobs(limit).await?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            out.push(self.reap_if_stale(r).await?);
        }
        Ok(out)
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
                    other.as_str()
                )));
            }
        }
        self.inner.store.request_job_cancel(id).await?;
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

    /// Removes the record of a job that has ended (its documents stay); `409` while it runs.
    pub async fn remove(&self, id: &str) -> Result<(), ApiError> {
        let record = self.get(id).await?;
        if record.state == JobState::Running {
            return Err(ApiError::Conflict(format!(
                "job {id} is running; cancel it first (POST /jobs/{id}/cancel)"
            )));
        }
        if self.inner.store.delete_job(id).await? {
            Ok(())
        } else {
            Err(Self::not_found(id))
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
