//! Live runs: continuous generation with current timestamps (`POST /live`, `linq-datagen live`).
//!
//! A live run is recorded in MongoDB (`live_runs`) with everything that fixes its documents
//! (parameters, seed, start, `_id` range) and a checkpoint, the last second it wrote completely.
//! One replica owns and writes it ([`run`]); a run whose owner stops heart-beating, or hands it
//! back at shutdown, is taken over by the next replica's supervisor and resumed from the
//! checkpoint, or given up (marked stopped) when it has been without an owner longer than
//! `LIVE_TAKEOVER_SECS` (resuming would write that whole gap at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::ApiError;
use crate::generate::live::LiveParams;
use crate::generate::scenario::ScenarioRequest;
use crate::generate::{Kind, RunId, rng};
use crate::pipeline::Tuning;
use crate::store::Store;
use crate::store::live::{LiveRecord, LiveState};

pub mod feed;
pub mod run;
mod schedule;
mod tick;
mod view;

pub use view::{LiveView, view};

/// How often each replica looks for runs that need an owner.
pub const SUPERVISE_EVERY: Duration = Duration::from_secs(2);
/// How long a stop request waits for the run to stop before answering.
pub const STOP_WAIT: Duration = Duration::from_secs(7);

/// How a replica runs live runs.
#[derive(Debug, Clone, Copy)]
pub struct LiveSettings {
    /// Live runs this instance writes at once.
    pub max_runs: u32,
    /// A running run whose heartbeat is older than this lost its owner.
    pub stale_after: Duration,
    /// A run without an owner longer than this is given up instead of resumed.
    pub takeover_window: Duration,
}

/// Starts, stops, supervises and reads live runs. Cheap to clone.
#[derive(Clone)]
pub struct LiveManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    tuning: Tuning,
    settings: LiveSettings,
    slots: Arc<Semaphore>,
    instance: String,
    tracker: TaskTracker,
    running: Mutex<HashMap<String, CancellationToken>>,
    shutdown: CancellationToken,
}

impl LiveManager {
    /// A manager of this instance's live runs.
    pub fn new(store: Store, tuning: Tuning, settings: LiveSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                tuning,
                settings,
                slots: Arc::new(Semaphore::new(settings.max_runs as usize)),
                instance: uuid::Uuid::new_v4().to_string(),
                tracker: TaskTracker::new(),
                running: Mutex::new(HashMap::new()),
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// Records and starts a live run from now; `429` when this instance is at its limit.
    pub async fn start(
        &self,
        params: LiveParams,
        seed: Option<u64>,
        scenario: Option<&ScenarioRequest>,
    ) -> Result<LiveRecord, ApiError> {
        let now = crate::pipeline::now_millis();
        // By default a scenario starts a minute into the run.
        let scenario = scenario
            .map(|s| s.parse(params.hosts, now + chrono::TimeDelta::minutes(1)))
            .transpose()?;
        let permit = self.slot()?;
        let seed = seed.unwrap_or_else(rng::random_seed);
        let id = RunId::new(now.timestamp() as u32, rng::random_seed() as u32);
        let at = bson::DateTime::from_chrono(now);
        let record = LiveRecord {
            id: uuid::Uuid::new_v4().to_string(),
            state: LiveState::Running,
            seed: seed as i64,
            calls_per_second: params.calls_per_second,
            shaped: params.shaped,
            step_seconds: i64::from(params.step_seconds),
            hosts: i64::from(params.hosts),
            categories: params
                .categories
                .iter()
                .map(|c| c.as_str().into())
                .collect(),
            subscribers: i64::from(params.subscribers),
            run_started: i64::from(id.started),
            run_nonce: i64::from(id.nonce),
            start: at,
            tick: 0,
            calls_written: 0,
            points_written: 0,
            created_at: at,
            updated_at: at,
            stopped_at: None,
            owner: Some(self.inner.instance.clone()),
            takeovers: 0,
            stop_requested: false,
            last_error: None,
            batch_size: self.inner.tuning.batch_size.max(1) as i64,
            scenario: scenario.map(|s| s.to_doc()),
            model: bson::to_document(&params.model.with_metrics_json(&params.metrics)).ok(),
        };
        self.inner.store.insert_live(&record).await?;
        self.launch(record.clone(), permit);
        tracing::info!(live = %record.id, rate = record.calls_per_second, step = record.step_seconds, "live run started");
        Ok(record)
    }

    fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(ApiError::Overloaded("generation requests"));
        }
        self.inner
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::TooManyJobs(self.inner.settings.max_runs, "live runs"))
    }

    fn launch(&self, record: LiveRecord, permit: OwnedSemaphorePermit) {
        let stop = CancellationToken::new();
        self.inner
            .running
            .lock()
            .expect("live map lock")
            .insert(record.id.clone(), stop.clone());
        metrics::gauge!("live_runs_running").set(self.running() as f64);
        let manager = self.clone();
        self.inner.tracker.spawn(async move {
            manager.drive(record, stop).await;
            drop(permit);
        });
    }

    async fn drive(&self, record: LiveRecord, stop: CancellationToken) {
        let inner = &self.inner;
        let driver = run::Driver {
            store: &inner.store,
            tuning: inner.tuning,
            owner: &inner.instance,
            stop,
            shutdown: inner.shutdown.clone(),
        };
        let ended = driver.drive(&record).await;
        let store = &inner.store;
        let owner = inner.instance.as_str();
        let result = match &ended {
            run::Ended::Stopped(_) => store
                .finish_live(&record.id, owner, LiveState::Stopped, None)
                .await
                .map(|_| ()),
            run::Ended::Failed(why, at) => {
                let _ = store
                    .live_checkpoint(&record.id, owner, *at, Some(why.clone()))
                    .await;
                store
                    .finish_live(&record.id, owner, LiveState::Failed, Some(why.clone()))
                    .await
                    .map(|_| ())
            }
            run::Ended::Released => store.release_live(&record.id, owner).await,
            run::Ended::Lost => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(live = %record.id, error = %e, "live run's end not recorded; the supervisor settles it");
        }
        if let run::Ended::Stopped(at) | run::Ended::Failed(_, at) = &ended {
            // Nobody writes the run again: its tokens only lengthen `applied` lists.
            for (kind, n) in [(Kind::Calls, at.calls), (Kind::Metrics, at.points)] {
                let run = record.run_id();
                let pruned = match store.prune_live_run(kind, run, n).await {
                    Ok(()) if crate::store::kinds::stored(kind).per_cell && n > 0 => {
                        let last = run.object_id(u32::try_from(n - 1).unwrap_or(u32::MAX));
                        let first = bson::oid::ObjectId::from_bytes(run.object_id(0));
                        store
                            .prune_cell_tokens((first, bson::oid::ObjectId::from_bytes(last)), None)
                            .await
                    }
                    other => other,
                };
                if let Err(e) = pruned {
                    tracing::warn!(live = %record.id, error = %e, "tokens of a stopped live run not pruned");
                }
            }
        }
        inner
            .running
            .lock()
            .expect("live map lock")
            .remove(&record.id);
        metrics::gauge!("live_runs_running").set(self.running() as f64);
        tracing::info!(live = %record.id, ?ended, "live run ended here");
    }

    /// Looks for runs without a live owner every [`SUPERVISE_EVERY`] until shutdown: takes them
    /// over while this instance has a free slot, or gives up those orphaned for too long.
    pub fn supervise(&self) {
        let manager = self.clone();
        let shutdown = self.inner.shutdown.clone();
        self.inner.tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(SUPERVISE_EVERY) => {}
                    _ = shutdown.cancelled() => return,
                }
                if let Err(e) = manager.adopt_orphans().await {
                    tracing::debug!(error = %e, "live supervisor: database unavailable");
                }
            }
        });
    }

    /// One pass of the supervisor.
    pub async fn adopt_orphans(&self) -> Result<(), ApiError> {
        let inner = &self.inner;
        let orphans = inner
            .store
            .orphaned_live(inner.settings.stale_after)
            .await?;
        for seen in orphans {
            if inner
                .running
                .lock()
                .expect("live map lock")
                .contains_key(&seen.id)
            {
                continue;
            }
            let idle = chrono::Utc::now() - seen.updated_at.to_chrono();
            if idle.to_std().unwrap_or_default() > inner.settings.takeover_window {
                let why = format!(
                    "no replica wrote this run for {} s (over LIVE_TAKEOVER_SECS); given up",
                    idle.num_seconds()
                );
                inner.store.give_up_live(&seen, why).await?;
                continue;
            }
            let Ok(permit) = self.slot() else {
                return Ok(());
            };
            if let Some(claimed) = inner.store.claim_live(&seen, &inner.instance).await? {
                tracing::info!(live = %claimed.id, from = ?seen.owner, tick = claimed.tick, "live run taken over");
                self.launch(claimed, permit);
            }
        }
        Ok(())
    }

    /// One live run.
    pub async fn get(&self, id: &str) -> Result<LiveRecord, ApiError> {
        self.inner
            .store
            .live_run(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no live run with id {id:?}")))
    }

    /// The most recent live runs, newest first.
    pub async fn list(&self, limit: i64) -> Result<Vec<LiveRecord>, ApiError> {
        Ok(self.inner.store.recent_live(limit).await?)
    }

    /// Stops a run (whichever replica writes it) and waits up to [`STOP_WAIT`] until it has, so
    /// the answer carries its final counts. Stopping a stopped run is a no-op.
    pub async fn stop(&self, id: &str) -> Result<(LiveRecord, bool), ApiError> {
        let record = self.get(id).await?;
        if record.state != LiveState::Running {
            return Ok((record, true));
        }
        self.inner.store.request_live_stop(id).await?;
        if record.owner.is_none() {
            self.inner.store.stop_unowned_live(id).await?;
        }
        if let Some(t) = self.inner.running.lock().expect("live map lock").get(id) {
            t.cancel();
        }
        let deadline = Instant::now() + STOP_WAIT;
        loop {
            let record = self.get(id).await?;
            if record.state != LiveState::Running || Instant::now() >= deadline {
                let stopped = record.state != LiveState::Running;
                return Ok((record, stopped));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops a run and removes its record (its documents stay): the final record and `true`, or
    /// the record and `false` when it had not stopped within [`STOP_WAIT`] (then it is kept).
    pub async fn remove(&self, id: &str) -> Result<(LiveRecord, bool), ApiError> {
        let (record, stopped) = self.stop(id).await?;
        if stopped {
            self.inner.store.delete_live(id).await?;
        }
        Ok((record, stopped))
    }

    /// Live runs this instance writes now.
    pub fn running(&self) -> usize {
        self.inner.running.lock().expect("live map lock").len()
    }

    /// Hands this instance's runs back (another replica resumes them) and waits up to `deadline`.
    pub async fn shutdown(&self, deadline: Duration) {
        self.inner.shutdown.cancel();
        self.drain(
            deadline,
            "live runs not handed back within the shutdown deadline",
        )
        .await;
    }

    /// Stops this instance's runs for good (the command line's Ctrl-C), recording their end, and
    /// waits up to [`STOP_WAIT`] for their tasks, so nothing of theirs writes or logs after it.
    pub async fn stop_all(&self) {
        let ids: Vec<String> = self
            .inner
            .running
            .lock()
            .expect("live map lock")
            .keys()
            .cloned()
            .collect();
        for id in ids {
            if let Err(e) = self.stop(&id).await {
                tracing::warn!(live = %id, error = %e, "live run not stopped cleanly");
            }
        }
        self.drain(STOP_WAIT, "live runs still finishing after the stop")
            .await;
    }

    /// Lets no new run task start and waits up to `deadline` for the running ones, warning with
    /// `late` if they outlast it.
    async fn drain(&self, deadline: Duration, late: &'static str) {
        self.inner.tracker.close();
        if tokio::time::timeout(deadline, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("{late}");
        }
    }
}
