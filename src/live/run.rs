//! Writing one live run: second by second, the documents due in that second, each batch
//! written exactly once however often it is retried or resumed.
//!
//! Second `k` of a run (its tick) holds the calls of index `[due(start + k s), due(start + (k+1) s))`
//! and the metric ticks that fall in it, so the batches, their `_id`s and their rollup tokens are a
//! function of the record alone: a retry, or another replica resuming from the checkpoint, writes
//! the same batches again, and duplicates are recognised (a duplicate `_id` is a document already
//! there, an applied token a rollup already counted).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use futures::{FutureExt, future::FusedFuture};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::pipeline::Tuning;
use crate::store::live::{Checkpoint, LiveRecord};
use crate::store::{RetryPolicy, Store, until_answered};

pub use super::schedule::{Batch, Schedule};
use super::tick::{Touched, TouchedDocs, write_tick};

/// How long a live run keeps retrying a database that went away before giving up (it never
/// skips or rewrites documents: it is only late).
pub const PATIENCE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Seconds a run writes again after any database error, and after resuming someone else's run:
/// a server that crashed may have lost writes it had acknowledged (seen with the test server), and
/// writing again is harmless (a document already there is a duplicate `_id`, a rollup update
/// already applied a known token). Tokens younger than this are never pruned.
pub const REWRITE_TICKS: i64 = 30;

/// Why a run's writing stopped.
#[derive(Debug)]
pub enum Ended {
    /// A stop was asked for (here or on another replica); the checkpoint is final.
    Stopped(Checkpoint),
    /// This instance is shutting down: the run is handed back.
    Released,
    /// Another replica owns the run now.
    Lost,
    /// An error retrying could not cure; writing stopped at the checkpoint.
    Failed(String, Checkpoint),
}

/// Why a run is halting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halt {
    /// A stop was asked for.
    Stop,
    /// This instance shuts down.
    Release,
}

/// How long a stop (or a hand-back) lets the second being written complete, so the final counts
/// are exact; past it, or at the first database error, the run ends where it is.
pub const HALT_PATIENCE: Duration = Duration::from_secs(60);

/// What a driver needs besides the record.
pub struct Driver<'a> {
    /// The database.
    pub store: &'a Store,
    /// Batch size and concurrency.
    pub tuning: Tuning,
    /// This instance.
    pub owner: &'a str,
    /// Fires when the run should stop.
    pub stop: CancellationToken,
    /// Fires when this instance shuts down.
    pub shutdown: CancellationToken,
}

/// What the writing of a run carries from one second to the next.
struct Progress {
    /// Which documents belong to which second.
    schedule: Schedule,
    /// How far the run has written completely.
    at: Checkpoint,
    /// Rollup documents touched since their tokens were last pruned.
    touched: Touched,
    /// Retries until the run halts.
    policy: RetryPolicy,
    /// Set by a write that met a database error: the last seconds are written again.
    trouble: AtomicBool,
    /// The first second to write again before going on, if any.
    rewrite_from: Option<i64>,
    /// When the checkpoint was last written.
    last_beat: Instant,
    /// The database server's process, to notice a restart.
    server: Option<String>,
}

impl Progress {
    /// The progress of `record` as recorded; retries stop when `halt` fires.
    fn new(record: &LiveRecord, halt: &CancellationToken) -> Self {
        let schedule = Schedule::new(record);
        let at = checkpoint_at(&schedule, record.tick);
        Self {
            schedule,
            at,
            touched: Touched::default(),
            policy: RetryPolicy {
                patience: PATIENCE,
                stop: halt.clone(),
            },
            trouble: AtomicBool::new(false),
            // A resumed run first writes its last seconds again.
            rewrite_from: (record.tick > 0).then_some(record.tick - REWRITE_TICKS),
            last_beat: Instant::now(),
            server: None,
        }
    }
}

/// The checkpoint of a run that has written every second before `tick`.
fn checkpoint_at(schedule: &Schedule, tick: i64) -> Checkpoint {
    Checkpoint {
        tick,
        calls: schedule.calls_due(tick),
        points: schedule.points_due(tick),
    }
}

impl Driver<'_> {
    /// Writes `record`'s ticks from its checkpoint on, one per second (back to back while
    /// behind), until stopped.
    pub async fn drive(&self, record: &LiveRecord) -> Ended {
        let halt = CancellationToken::new();
        let _halt_on_return = halt.clone().drop_guard();
        let mut p = Progress::new(record, &halt);
        // Set when the run stops (`Stop`) or is handed back (`Release`): the tick being written is
        // completed and checkpointed first, so the record matches the database.
        let mut halting: Option<Halt> = None;
        loop {
            if let Some(h) = halting {
                return self.finish(record, p.at, h).await;
            }
            let k = p.at.tick;
            if let Some(h) = self.until_due(&p.schedule, k).await {
                halting = Some(h);
                continue;
            }
            let written = match self
                .write_watched(record, &mut p, k, &halt, &mut halting)
                .await
            {
                Ok(written) => written,
                Err(ended) => return ended,
            };
            // Handed back part-way: the next owner rewrites the second from the checkpoint.
            if written.is_err() && halting == Some(Halt::Release) {
                return Ended::Released;
            }
            match written {
                Ok(t) => p.touched.add(t),
                Err(e) => return Ended::Failed(e, p.at),
            }
            p.at = checkpoint_at(&p.schedule, k + 1);
            metrics::gauge!("live_lag_seconds")
                .set((Utc::now() - p.schedule.tick_end(k)).as_seconds_f64());
            // A checkpoint a second, also while catching up.
            let behind = Utc::now() > p.schedule.tick_end(p.at.tick);
            if halting.is_some() || (behind && p.last_beat.elapsed() < Duration::from_secs(1)) {
                continue;
            }
            p.last_beat = Instant::now();
            match self.beat(record, &mut p).await {
                Ok(Some(h)) => halting = Some(h),
                Ok(None) => {}
                Err(ended) => return ended,
            }
        }
    }

    /// Waits until tick `k` is over (its documents are due); `Some` when the run is stopped or
    /// this instance shuts down first.
    async fn until_due(&self, schedule: &Schedule, k: i64) -> Option<Halt> {
        let wait = (schedule.tick_end(k) - Utc::now())
            .to_std()
            .unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => None,
            _ = self.stop.cancelled() => Some(Halt::Stop),
            _ = self.shutdown.cancelled() => Some(Halt::Release),
        }
    }

    /// Writes tick `k` while watching for a stop, a hand-back or the loss of the run, with a
    /// checkpoint (the last one) each second meanwhile; `Err` when the run ends here.
    ///
    /// A halt ends retries (`halt` fires): a database that answers lets the second complete, so
    /// the record matches the database; past [`HALT_PATIENCE`] the run ends where it is.
    async fn write_watched(
        &self,
        record: &LiveRecord,
        p: &mut Progress,
        k: i64,
        halt: &CancellationToken,
        halting: &mut Option<Halt>,
    ) -> Result<Result<TouchedDocs, String>, Ended> {
        let at = p.at;
        let write = self.write_second(record, p, k);
        tokio::pin!(write);
        let mut beat = tokio::time::interval(Duration::from_secs(1));
        beat.tick().await;
        let mut deadline: Option<Instant> = None;
        // The checkpoint is polled beside the write, never instead of it: a checkpoint waiting for
        // a pool slot while the write's requests (holding the others) go unpolled would deadlock a
        // busy pool.
        let checkpoint = futures::future::Fuse::terminated();
        tokio::pin!(checkpoint);
        loop {
            tokio::select! {
                w = &mut write => return Ok(w),
                h = self.halted(), if halting.is_none() => {
                    *halting = Some(h);
                    halt.cancel();
                    deadline = Some(Instant::now() + HALT_PATIENCE);
                }
                _ = beat.tick(), if checkpoint.is_terminated() => {
                    if deadline.is_some_and(|d| Instant::now() > d) {
                        if *halting == Some(Halt::Release) {
                            return Err(Ended::Released);
                        }
                        return Err(Ended::Failed(
                            "stopped while the database was not answering: the second \
                             being written may be partly in the database".into(), at));
                    }
                    // A long second (a rate above the database's ceiling) still beats.
                    let beat = self.store.live_checkpoint(&record.id, self.owner, at, None);
                    checkpoint.set(Box::pin(beat).fuse());
                }
                answer = &mut checkpoint => {
                    match answer {
                        Ok(None) => return Err(Ended::Lost),
                        Ok(Some(true)) if halting.is_none() => {
                            *halting = Some(Halt::Stop);
                            halt.cancel();
                            deadline = Some(Instant::now() + HALT_PATIENCE);
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Writes tick `k`, then the last seconds again when a write met trouble or the run was
    /// resumed.
    async fn write_second(
        &self,
        record: &LiveRecord,
        p: &mut Progress,
        k: i64,
    ) -> Result<TouchedDocs, String> {
        let mut t = write_tick(
            self.store,
            &mut p.schedule,
            k,
            self.tuning,
            &p.policy,
            &p.trouble,
        )
        .await?;
        if p.trouble.swap(false, Ordering::Relaxed) {
            p.rewrite_from = Some(k + 1 - REWRITE_TICKS);
        }
        if let Some(from) = p.rewrite_from.take() {
            t.extend(
                self.rewrite(record, from, k + 1, &p.policy, &p.trouble)
                    .await?,
            );
        }
        Ok(t)
    }

    /// Writes the checkpoint after a second and prunes the tokens no rewrite can need;
    /// `Ok(Some(Stop))` when a stop was asked for (on any replica), `Err` when the run is lost.
    async fn beat(&self, record: &LiveRecord, p: &mut Progress) -> Result<Option<Halt>, Ended> {
        match self
            .store
            .live_checkpoint(&record.id, self.owner, p.at, None)
            .await
        {
            Ok(Some(true)) => return Ok(Some(Halt::Stop)),
            Ok(Some(false)) => {
                self.notice_restart(record, p).await;
                // Tokens of the seconds a rewrite may still cover are kept.
                let old = checkpoint_at(&p.schedule, p.at.tick - REWRITE_TICKS);
                p.touched.prune(self.store, record.run_id(), old).await;
            }
            Ok(None) => return Err(Ended::Lost),
            // The next checkpoint carries this one; the run goes on, writing its last seconds
            // again (the database went away).
            Err(e) => {
                p.trouble.store(true, Ordering::Relaxed);
                tracing::warn!(error = %e, run = %record.id, "live checkpoint not written");
            }
        }
        Ok(None)
    }

    /// A server that restarted may have lost writes it had acknowledged, even when no request
    /// failed (they waited for it to come back): marks the last seconds to be written again.
    async fn notice_restart(&self, record: &LiveRecord, p: &mut Progress) {
        if let Ok(Some(process)) = self.store.server_process().await {
            if p.server.as_ref().is_some_and(|s| *s != process) {
                tracing::warn!(run = %record.id, "the database server restarted");
                p.trouble.store(true, Ordering::Relaxed);
            }
            p.server = Some(process);
        }
    }

    /// Writes ticks `from..to` of `record` again (documents already there and rollup tokens
    /// already applied are recognised).
    async fn rewrite(
        &self,
        record: &LiveRecord,
        from: i64,
        to: i64,
        policy: &RetryPolicy,
        trouble: &AtomicBool,
    ) -> Result<TouchedDocs, String> {
        tracing::info!(run = %record.id, from, to, "writing a live run's last seconds again");
        let mut schedule = Schedule::new(record);
        let mut touched = Vec::new();
        for k in from.max(0)..to {
            let t = write_tick(self.store, &mut schedule, k, self.tuning, policy, trouble);
            touched.extend(t.await?);
        }
        Ok(touched)
    }

    /// Completes when the run is stopped or this instance shuts down, saying which.
    async fn halted(&self) -> Halt {
        tokio::select! {
            _ = self.stop.cancelled() => Halt::Stop,
            _ = self.shutdown.cancelled() => Halt::Release,
        }
    }

    /// Writes the final checkpoint of a run that stops or is handed back.
    async fn finish(&self, record: &LiveRecord, at: Checkpoint, halt: Halt) -> Ended {
        let policy = RetryPolicy::for_up_to(Duration::from_secs(5));
        let saved = until_answered("final live checkpoint", &policy, || {
            self.store.live_checkpoint(&record.id, self.owner, at, None)
        })
        .await;
        match (saved, halt) {
            (Ok(None), _) => Ended::Lost,
            (_, Halt::Release) => Ended::Released,
            (Ok(Some(_)), Halt::Stop) => Ended::Stopped(at),
            (Err(e), Halt::Stop) => Ended::Failed(format!("final checkpoint not written: {e}"), at),
        }
    }
}
