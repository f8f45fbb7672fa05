//! Live run records in the `live_runs` collection: what a live run generates, how far it has
//! written (a checkpoint any replica can resume from), who owns it and whether it should stop.

use std::time::Duration;

use bson::doc;
use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::options::ReturnDocument;
use serde::{Deserialize, Serialize};

use super::{DbError, Store};
use crate::generate::RunId;

/// Name of the collection live run records live in.
pub const COLLECTION: &str = "live_runs";

/// Where a live run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    /// Writing (or waiting for a replica to take it over).
    Running,
    /// Stopped on request, or given up after its owner was gone too long.
    Stopped,
    /// Stopped by an error that retrying could not cure.
    Failed,
}

impl LiveState {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            LiveState::Running => "running",
            LiveState::Stopped => "stopped",
            LiveState::Failed => "failed",
        }
    }
}

/// A live run as stored in MongoDB. The parameters and seed fix every document; `tick` is the
/// checkpoint: every document due before `start + tick` seconds is in the database with its
/// rollups, so whoever resumes the run starts there and writes nothing twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveRecord {
    /// Run id (UUID v4).
    #[serde(rename = "_id")]
    pub id: String,
    /// Life-cycle state.
    pub state: LiveState,
    /// Seed, stored as its bit pattern.
    pub seed: i64,
    /// Target call rate (calls per second; 0: no calls).
    pub calls_per_second: f64,
    /// The call rate follows the hour-of-day × weekday curve (its weekly mean is the target).
    pub shaped: bool,
    /// Seconds between metric ticks (0: no metrics).
    pub step_seconds: i64,
    /// Hosts reporting metrics.
    pub hosts: i64,
    /// Metric categories.
    pub categories: Vec<String>,
    /// Size of the subscriber population calls are placed between.
    pub subscribers: i64,
    /// Seconds part of the run's `_id` range ([`RunId`]).
    pub run_started: i64,
    /// Nonce of the run's `_id` range.
    pub run_nonce: i64,
    /// Time of the run's first call and first metric tick.
    pub start: bson::DateTime,
    /// Seconds from `start` written completely (the checkpoint).
    pub tick: i64,
    /// Calls written (those due before the checkpoint).
    pub calls_written: i64,
    /// Metric points written (those due before the checkpoint).
    pub points_written: i64,
    /// When the run was asked for.
    pub created_at: bson::DateTime,
    /// Last checkpoint write by the owner, at the database's clock: the heartbeat.
    pub updated_at: bson::DateTime,
    /// When the run stopped.
    pub stopped_at: Option<bson::DateTime>,
    /// Instance writing the run; `None` while it waits for a replica to take it over.
    pub owner: Option<String>,
    /// How many times a replica took the run over from another one.
    pub takeovers: i64,
    /// Someone asked for the run to stop.
    pub stop_requested: bool,
    /// Why the run failed or was given up, or the last error it rode through.
    pub last_error: Option<String>,
    /// Documents per insert batch, fixed at creation (batches decide the rollup tokens).
    pub batch_size: i64,
    /// A labelled scenario, as a request states it.
    #[serde(default)]
    pub scenario: Option<bson::Document>,
    /// The call model, whole (every number), so a resume regenerates the same calls.
    #[serde(default)]
    pub model: Option<bson::Document>,
}

impl LiveRecord {
    /// The run's `_id` range.
    pub fn run_id(&self) -> RunId {
        RunId::new(self.run_started as u32, self.run_nonce as u32)
    }
}

/// A checkpoint: how far a live run has written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Seconds from the start written completely.
    pub tick: i64,
    /// Calls written.
    pub calls: u64,
    /// Metric points written.
    pub points: u64,
}

impl Store {
    fn live_runs(&self) -> Collection<LiveRecord> {
        self.db().collection(COLLECTION)
    }

    /// Which process of the server answers (`hello`'s `topologyVersion.processId`), so a writer
    /// notices a restart that its requests rode through without an error.
    pub async fn server_process(&self) -> Result<Option<String>, DbError> {
        let hello = self.db().run_command(doc! { "hello": 1 }).await?;
        Ok(hello
            .get_document("topologyVersion")
            .ok()
            .and_then(|t| t.get_object_id("processId").ok())
            .map(|id| id.to_hex()))
    }

    /// Records a new live run, heartbeat at the database's clock.
    pub async fn insert_live(&self, record: &LiveRecord) -> Result<(), DbError> {
        self.ensure_setup().await?;
        self.live_runs().insert_one(record).await?;
        self.live_runs()
            .update_one(
                doc! { "_id": &record.id },
                doc! { "$currentDate": { "updated_at": true } },
            )
            .await?;
        Ok(())
    }

    /// Writes `owner`'s checkpoint and heartbeat; answers whether a stop was asked for, or `None`
    /// when the run is no longer `owner`'s running run (another replica took it over or it was
    /// given up).
    pub async fn live_checkpoint(
        &self,
        id: &str,
        owner: &str,
        at: Checkpoint,
        error: Option<String>,
    ) -> Result<Option<bool>, DbError> {
        let mut set = doc! {
            "tick": at.tick,
            "calls_written": at.calls as i64,
            "points_written": at.points as i64,
        };
        if let Some(e) = error {
            set.insert("last_error", e);
        }
        let before = self
            .bounded("a live checkpoint", async {
                Ok(self
                    .live_runs()
                    .find_one_and_update(
                        doc! { "_id": id, "state": "running", "owner": owner },
                        doc! { "$set": set, "$currentDate": { "updated_at": true } },
                    )
                    .await?)
            })
            .await?;
        Ok(before.map(|r| r.stop_requested))
    }

    /// Ends `owner`'s run in `state`; `false` when it was not (or no longer) `owner`'s.
    pub async fn finish_live(
        &self,
        id: &str,
        owner: &str,
        state: LiveState,
        error: Option<String>,
    ) -> Result<bool, DbError> {
        let mut set = doc! { "state": state.as_str() };
        if let Some(e) = error {
            set.insert("last_error", e);
        }
        let done = self
            .live_runs()
            .update_one(
                doc! { "_id": id, "state": "running", "owner": owner },
                doc! { "$set": set, "$currentDate": { "updated_at": true, "stopped_at": true } },
            )
            .await?;
        Ok(done.matched_count == 1)
    }

    /// Hands `owner`'s running run back (this instance is shutting down): any replica may take
    /// it over at once.
    pub async fn release_live(&self, id: &str, owner: &str) -> Result<(), DbError> {
        self.live_runs()
            .update_one(
                doc! { "_id": id, "state": "running", "owner": owner },
                doc! { "$set": { "owner": null } },
            )
            .await?;
        Ok(())
    }

    /// Running runs that need an owner: released ones, and those whose heartbeat is older than
    /// `stale_after` by the database's clock.
    pub async fn orphaned_live(&self, stale_after: Duration) -> Result<Vec<LiveRecord>, DbError> {
        let stale_ms = i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX);
        let cutoff = self.db_time().await?.timestamp_millis() - stale_ms;
        let filter = doc! {
            "state": "running",
            "$or": [
                { "owner": null },
                { "updated_at": { "$lt": bson::DateTime::from_millis(cutoff) } },
            ],
        };
        Ok(self.live_runs().find(filter).await?.try_collect().await?)
    }

    /// Makes `owner` the owner of `seen` unless it moved since it was read; returns the record as
    /// claimed.
    pub async fn claim_live(
        &self,
        seen: &LiveRecord,
        owner: &str,
    ) -> Result<Option<LiveRecord>, DbError> {
        Ok(self
            .live_runs()
            .find_one_and_update(
                doc! {
                    "_id": &seen.id,
                    "state": "running",
                    "owner": seen.owner.clone(),
                    "updated_at": seen.updated_at,
                },
                doc! {
                    "$set": { "owner": owner },
                    "$inc": { "takeovers": 1 },
                    "$currentDate": { "updated_at": true },
                },
            )
            .return_document(ReturnDocument::After)
            .await?)
    }

    /// Stops `seen` without resuming it (its owner was gone too long), unless it moved since.
    pub async fn give_up_live(&self, seen: &LiveRecord, why: String) -> Result<(), DbError> {
        self.live_runs()
            .update_one(
                doc! {
                    "_id": &seen.id,
                    "state": "running",
                    "owner": seen.owner.clone(),
                    "updated_at": seen.updated_at,
                },
                doc! {
                    "$set": { "state": "stopped", "last_error": why },
                    "$currentDate": { "stopped_at": true },
                },
            )
            .await?;
        Ok(())
    }

    /// Flags a running run to stop; its owner reads the flag at its next checkpoint. Answers
    /// whether the run was running.
    pub async fn request_live_stop(&self, id: &str) -> Result<bool, DbError> {
        let r = self
            .live_runs()
            .update_one(
                doc! { "_id": id, "state": "running" },
                doc! { "$set": { "stop_requested": true } },
            )
            .await?;
        Ok(r.matched_count == 1)
    }

    /// Stops a running run that has no owner to stop it (released, nobody took it over).
    pub async fn stop_unowned_live(&self, id: &str) -> Result<(), DbError> {
        self.live_runs()
            .update_one(
                doc! { "_id": id, "state": "running", "owner": null },
                doc! {
                    "$set": { "state": "stopped" },
                    "$currentDate": { "stopped_at": true, "updated_at": true },
                },
            )
            .await?;
        Ok(())
    }

    /// Removes the record of a run that is no longer running; answers whether it removed one.
    pub async fn delete_live(&self, id: &str) -> Result<bool, DbError> {
        let deleted = self
            .live_runs()
            .delete_one(doc! { "_id": id, "state": { "$ne": "running" } })
            .await?;
        Ok(deleted.deleted_count == 1)
    }

    /// One live run record.
    pub async fn live_run(&self, id: &str) -> Result<Option<LiveRecord>, DbError> {
        Ok(self.live_runs().find_one(doc! { "_id": id }).await?)
    }

    /// The most recent live runs, newest first.
    pub async fn recent_live(&self, limit: i64) -> Result<Vec<LiveRecord>, DbError> {
        Ok(self
            .live_runs()
            .find(doc! {})
            .sort(doc! { "created_at": -1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?)
    }
}
