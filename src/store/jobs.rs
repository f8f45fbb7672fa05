//! Job records in the `jobs` collection: how any replica learns about, follows and cancels a job
//! that another one runs.

use std::time::Duration;

use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::Collection;
use serde::{Deserialize, Serialize};

use super::{DbError, Store};
use crate::generate::{Kind, RunId};

/// Name of the collection job records live in.
pub const COLLECTION: &str = "jobs";

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Generating and inserting.
    Running,
    /// Every requested document is in the database.
    Done,
    /// Stopped by an error (or by its instance stopping); `written` says how far it got.
    Failed,
    /// Stopped on request; `written` says how far it got.
    Cancelled,
}

impl JobState {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Generates documents into the collection of its kind.
    #[default]
    Generate,
    /// Recomputes the rollups of its kind from the raw documents.
    Rebuild,
}

/// A job as stored in MongoDB.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job id (UUID v4).
    #[serde(rename = "_id")]
    pub id: String,
    /// What the job does (records from before rebuild jobs existed are generations).
    #[serde(default)]
    pub task: Task,
    /// Collection written to (or whose rollups are rebuilt).
    pub kind: Kind,
    /// Life-cycle state.
    pub state: JobState,
    /// Documents asked for.
    pub requested: i64,
    /// Documents in the database so far (exact once the job has ended). Stored as `inserted`.
    #[serde(rename = "inserted")]
    pub written: i64,
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
    /// Documents per insert batch: with the seed and parameters, it decides the batches and so
    /// the rollup tokens a repair must use.
    #[serde(default)]
    pub batch_size: Option<i64>,
    /// Draws (threads, sessions) up to the furthest batch written, for a kind of several records
    /// a draw, whose `written` cannot say how far it is (see `Progress::drawn`).
    #[serde(default)]
    pub drawn: Option<i64>,
}

impl JobRecord {
    /// A new running job of `task` over `kind`, owned by `owner`, created `now` (by the
    /// instance's clock), with nothing written yet; a generation fills in its run's fields.
    pub fn start(
        task: Task,
        kind: Kind,
        requested: i64,
        owner: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let now = bson::DateTime::from_chrono(now);
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            task,
            kind,
            state: JobState::Running,
            requested,
            written: 0,
            seed: 0,
            params: Document::new(),
            run_started: 0,
            run_nonce: 0,
            created_at: now,
            updated_at: now,
            finished_at: None,
            docs_per_second: 0.0,
            last_error: None,
            cancel_requested: false,
            owner: owner.to_owned(),
            batch_size: None,
            drawn: None,
        }
    }

    /// The `_id` range the job writes.
    pub fn run_id(&self) -> RunId {
        RunId::new(self.run_started as u32, self.run_nonce as u32)
    }
}

/// How a job ended, as written to its record.
#[derive(Debug, Clone)]
pub struct JobEnd {
    /// Final state.
    pub state: JobState,
    /// Documents in the database.
    pub written: u64,
    /// Insert rate over the job.
    pub docs_per_second: f64,
    /// Why it failed, if it did.
    pub last_error: Option<String>,
}

impl Store {
    pub(super) fn jobs(&self) -> Collection<JobRecord> {
        self.db().collection(COLLECTION)
    }

    /// Records a new job (collection set-up first, if it has not succeeded yet). Its heartbeat is
    /// then set by the database's clock, like every later one.
    pub async fn insert_job(&self, record: &JobRecord) -> Result<(), DbError> {
        self.ensure_setup().await?;
        self.jobs().insert_one(record).await?;
        self.jobs()
            .update_one(
                doc! { "_id": &record.id },
                doc! { "$currentDate": { "updated_at": true } },
            )
            .await?;
        Ok(())
    }

    /// Writes a running job's progress (documents `written`, and `drawn`: see [`JobRecord::drawn`])
    /// and heartbeat (at the database's time: replicas' clocks
    /// may disagree); answers whether a cancellation was asked for (on any replica), or `None`
    /// when the record is no longer a running job of `owner` (another replica settled it).
    pub async fn job_heartbeat(
        &self,
        id: &str,
        owner: &str,
        (written, drawn): (u64, u64),
        docs_per_second: f64,
    ) -> Result<Option<bool>, DbError> {
        let update = doc! {
            "$set": {
                "inserted": written as i64,
                "drawn": drawn as i64,
                "docs_per_second": docs_per_second,
            },
            "$currentDate": { "updated_at": true },
        };
        let before = self
            .bounded("a job heartbeat", async {
                Ok(self
                    .jobs()
                    .find_one_and_update(
                        doc! { "_id": id, "state": "running", "owner": owner },
                        update,
                    )
                    .await?)
            })
            .await?;
        Ok(before.map(|r| r.cancel_requested))
    }

    /// Makes a job's record final, unless another replica settled it already (it took the job
    /// for lost): a settled job never comes back to life. Then only its count is brought up to
    /// `end.written` (exact: the documents the job went on writing), and `false` is returned.
    pub async fn finish_job(&self, id: &str, owner: &str, end: &JobEnd) -> Result<bool, DbError> {
        let update = doc! {
            "$set": {
                "state": end.state.as_str(),
                "inserted": end.written as i64,
                "docs_per_second": end.docs_per_second,
                "last_error": end.last_error.clone(),
            },
            "$currentDate": { "updated_at": true, "finished_at": true },
        };
        let ours = doc! { "_id": id, "state": "running", "owner": owner };
        if self.jobs().update_one(ours, update).await?.matched_count == 1 {
            return Ok(true);
        }
        self.jobs()
            .update_one(
                doc! { "_id": id, "state": "failed", "owner": owner },
                doc! { "$set": { "inserted": end.written as i64 } },
            )
            .await?;
        Ok(false)
    }

    /// Job `id` if it is running and its heartbeat is older than `stale_after` by the database's
    /// clock (heartbeats are written at the database's time too, so the replicas' clocks never
    /// enter the comparison).
    pub async fn stale_job(
        &self,
        id: &str,
        stale_after: Duration,
    ) -> Result<Option<JobRecord>, DbError> {
        let stale_ms = i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX);
        let cutoff = self
            .db_time()
            .await?
            .timestamp_millis()
            .saturating_sub(stale_ms);
        let filter = doc! {
            "_id": id,
            "state": "running",
            "updated_at": { "$lt": bson::DateTime::from_millis(cutoff) },
        };
        Ok(self.jobs().find_one(filter).await?)
    }

    /// The database server's clock (`hello`'s `localTime`).
    pub(super) async fn db_time(&self) -> Result<bson::DateTime, DbError> {
        let reply = self.db().run_command(doc! { "hello": 1 }).await?;
        reply.get_datetime("localTime").copied().map_err(|e| {
            mongodb::error::Error::custom(format!("hello without localTime: {e}")).into()
        })
    }

    /// Settles a job whose instance vanished, unless it moved since `seen` was read (its heartbeat
    /// changed or it ended), and returns the record as it now is.
    pub async fn settle_stale_job(
        &self,
        seen: &JobRecord,
        state: JobState,
        written: u64,
        error: Option<String>,
    ) -> Result<Option<JobRecord>, DbError> {
        self.jobs()
            .update_one(
                doc! { "_id": &seen.id, "state": "running", "updated_at": seen.updated_at },
                doc! {
                    "$set": {
                        "state": state.as_str(),
                        "inserted": written as i64,
                        "last_error": error,
                    },
                    "$currentDate": { "finished_at": true },
                },
            )
            .await?;
        self.job(&seen.id).await
    }

    /// Flags a running job for cancellation; its owner reads the flag with its next heartbeat.
    pub async fn request_job_cancel(&self, id: &str) -> Result<(), DbError> {
        self.jobs()
            .update_one(
                doc! { "_id": id, "state": "running" },
                doc! { "$set": { "cancel_requested": true } },
            )
            .await?;
        Ok(())
    }

    /// Removes a job's record unless the job is running; answers whether it removed one.
    pub async fn delete_job(&self, id: &str) -> Result<bool, DbError> {
        let deleted = self
            .jobs()
            .delete_one(doc! { "_id": id, "state": { "$ne": "running" } })
            .await?;
        Ok(deleted.deleted_count == 1)
    }

    /// One job record.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, DbError> {
        Ok(self.jobs().find_one(doc! { "_id": id }).await?)
    }

    /// The most recent job records, newest first.
    pub async fn recent_jobs(&self, limit: i64) -> Result<Vec<JobRecord>, DbError> {
        Ok(self
            .jobs()
            .find(doc! {})
            .sort(doc! { "created_at": -1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?)
    }
}
