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

use bson::{Document, oid::ObjectId};
use chrono::Utc;
use futures::{FutureExt, StreamExt, future::FusedFuture};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::generate::{Kind, RunId};
use crate::pipeline::Tuning;
use crate::store::live::{Checkpoint, LiveRecord};
use crate::store::rollup::Resolution;

pub use super::schedule::{Batch, Schedule};
use crate::store::{DbError, RetryPolicy, Store, until_answered};

/// How long a live run keeps retrying a database that went away before giving up (it never
/// skips or rewrites documents: it is only late).
pub const PATIENCE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Seconds a run writes again after any database error, and after resuming someone else's run:
/// a server that crashed may have lost writes it had acknowledged (seen with the test server), and
/// writing again is harmless (a document already there is a duplicate `_id`, a rollup update
/// already applied a known token). Tokens younger than this are never pruned.
pub const REWRITE_TICKS: i64 = 30;

/// Rollup documents touched, per collection kind.
pub type TouchedDocs = Vec<(Kind, Resolution, Document)>;

/// Writes the batches of tick `k`, a few at once, each generated when a slot frees (memory holds
/// at most `inflight` batches whatever the rate); returns the rollup documents they touched.
pub async fn write_tick(
    store: &Store,
    schedule: &mut Schedule,
    k: i64,
    tuning: Tuning,
    policy: &RetryPolicy,
    trouble: &AtomicBool,
) -> Result<TouchedDocs, String> {
    let plan = schedule.plan(k)?;
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut queue = plan.into_iter();
    let mut touched = Vec::new();
    loop {
        while pending.len() < tuning.inflight.max(1) {
            let Some((kind, first, end)) = queue.next() else {
                break;
            };
            let batch = schedule.make(kind, first, end);
            pending.push(write_one(store, batch, policy, trouble));
        }
        match pending.next().await {
            Some(Ok((t, _))) => touched.extend(t),
            Some(Err(e)) => return Err(e.to_string()),
            None => break,
        }
    }
    Ok(touched)
}

async fn write_one(
    store: &Store,
    b: Batch,
    policy: &RetryPolicy,
    trouble: &AtomicBool,
) -> Result<(TouchedDocs, Batch), DbError> {
    let docs = b.write(store, policy, trouble).await?;
    let touched = docs.into_iter().map(|(r, d)| (b.kind, r, d)).collect();
    Ok((touched, b))
}

/// Rollup documents a run touched since its tokens were last pruned.
#[derive(Default)]
pub struct Touched {
    docs: TouchedDocs,
    since: Option<Instant>,
}

impl Touched {
    /// Remembers documents touched by the batches of a tick.
    pub fn add(&mut self, docs: TouchedDocs) {
        for d in docs {
            if !self.docs.contains(&d) {
                self.docs.push(d);
            }
        }
        self.since.get_or_insert_with(Instant::now);
    }

    /// Forgets the tokens of every batch before checkpoint `at` (persisted: no one writes those
    /// batches again), at most every ten seconds.
    pub async fn prune(&mut self, store: &Store, run: RunId, at: Checkpoint) {
        if self
            .since
            .is_none_or(|t| t.elapsed() < Duration::from_secs(10))
        {
            return;
        }
        let first = ObjectId::from_bytes(run.object_id(0));
        for (kind, written) in [(Kind::Calls, at.calls), (Kind::Metrics, at.points)] {
            let last = match u32::try_from(written) {
                Ok(0) | Err(_) => continue,
                Ok(n) => ObjectId::from_bytes(run.object_id(n - 1)),
            };
            let docs: Vec<_> = self
                .docs
                .iter()
                .filter(|(k, _, _)| *k == kind)
                .map(|(_, r, d)| (*r, d.clone()))
                .collect();
            if let Err(e) = store.prune_live_tokens(kind, &docs, first, last).await {
                tracing::warn!(error = %e, "tokens of a live run not pruned; retried later");
                return;
            }
        }
        self.docs.clear();
        self.since = None;
    }
}

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

impl Driver<'_> {
    /// Writes `record`'s ticks from its checkpoint on, one per second (back to back while
    /// behind), until stopped.
    pub async fn drive(&self, record: &LiveRecord) -> Ended {
        let mut schedule = Schedule::new(record);
        let run = record.run_id();
        let mut at = Checkpoint {
            tick: record.tick,
            calls: schedule.calls_due(record.tick),
            points: schedule.points_due(record.tick),
        };
        let mut touched = Touched::default();
        let halt = CancellationToken::new();
        let _halt_on_return = halt.clone().drop_guard();
        let policy = RetryPolicy {
            patience: PATIENCE,
            stop: halt.clone(),
        };
        let mut last_beat = Instant::now();
        let trouble = AtomicBool::new(false);
        let mut server: Option<String> = None;
        // A resumed run first writes its last seconds again.
        let mut rewrite_from = (record.tick > 0).then_some(record.tick - REWRITE_TICKS);
        // Set when the run stops (`Stop`) or is handed back (`Release`): the tick being written is
        // completed and checkpointed first, so the record matches the database.
        let mut halting: Option<Halt> = None;
        loop {
            if let Some(h) = halting {
                return self.finish(record, at, h).await;
            }
            let k = at.tick;
            let wait = (schedule.tick_end(k) - Utc::now())
                .to_std()
                .unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop.cancelled() => {
                    halting = Some(Halt::Stop);
                    continue;
                }
                _ = self.shutdown.cancelled() => {
                    halting = Some(Halt::Release);
                    continue;
                }
            }
            let written = {
                let write = async {
                    let mut t =
                        write_tick(self.store, &mut schedule, k, self.tuning, &policy, &trouble)
                            .await?;
                    if trouble.swap(false, Ordering::Relaxed) {
                        rewrite_from = Some(k + 1 - REWRITE_TICKS);
                    }
                    if let Some(from) = rewrite_from.take() {
                        t.extend(self.rewrite(record, from, k + 1, &policy, &trouble).await?);
                    }
                    Ok::<_, String>(t)
                };
                tokio::pin!(write);
                let mut beat = tokio::time::interval(Duration::from_secs(1));
                beat.tick().await;
                let mut deadline: Option<Instant> = None;
                // The checkpoint is polled beside the write, never instead of it: a checkpoint
                // waiting for a pool slot while the write's requests (holding the others) go
                // unpolled would deadlock a busy pool.
                let checkpoint = futures::future::Fuse::terminated();
                tokio::pin!(checkpoint);
                loop {
                    tokio::select! {
                        w = &mut write => break w,
                        h = self.halted(), if halting.is_none() => {
                            // No more retries: a database that answers lets the second
                            // complete (so the record matches the database); an error ends it.
                            halting = Some(h);
                            halt.cancel();
                            deadline = Some(Instant::now() + HALT_PATIENCE);
                        }
                        _ = beat.tick(), if checkpoint.is_terminated() => {
                            if deadline.is_some_and(|d| Instant::now() > d) {
                                if halting == Some(Halt::Release) {
                                    return Ended::Released;
                                }
                                return Ended::Failed(
                                    "stopped while the database was not answering: the second \
                                     being written may be partly in the database".into(), at);
                            }
                            // A long second (a rate above the database's ceiling) still beats.
                            let beat = self.store.live_checkpoint(&record.id, self.owner, at, None);
                            checkpoint.set(Box::pin(beat).fuse());
                        }
                        answer = &mut checkpoint => {
                            match answer {
                                Ok(None) => return Ended::Lost,
                                Ok(Some(true)) if halting.is_none() => {
                                    halting = Some(Halt::Stop);
                                    halt.cancel();
                                    deadline = Some(Instant::now() + HALT_PATIENCE);
                                }
                                _ => {}
                            }
                        }
                    }
                }
            };
            // Handed back part-way: the next owner rewrites the second from the checkpoint.
            if written.is_err() && halting == Some(Halt::Release) {
                return Ended::Released;
            }
            match written {
                Ok(t) => touched.add(t),
                Err(e) => return Ended::Failed(e, at),
            }
            at = Checkpoint {
                tick: k + 1,
                calls: schedule.calls_due(k + 1),
                points: schedule.points_due(k + 1),
            };
            metrics::gauge!("live_lag_seconds")
                .set((Utc::now() - schedule.tick_end(k)).as_seconds_f64());
            // A checkpoint a second, also while catching up.
            let behind = Utc::now() > schedule.tick_end(at.tick);
            if halting.is_some() || (behind && last_beat.elapsed() < Duration::from_secs(1)) {
                continue;
            }
            last_beat = Instant::now();
            match self
                .store
                .live_checkpoint(&record.id, self.owner, at, None)
                .await
            {
                Ok(Some(true)) => halting = Some(Halt::Stop),
                Ok(Some(false)) => {
                    // A server that restarted may have lost writes it had acknowledged, even when
                    // no request failed (they waited for it to come back): write again.
                    if let Ok(Some(process)) = self.store.server_process().await {
                        if server.as_ref().is_some_and(|p| *p != process) {
                            tracing::warn!(run = %record.id, "the database server restarted");
                            trouble.store(true, Ordering::Relaxed);
                        }
                        server = Some(process);
                    }
                    // Tokens of the seconds a rewrite may still cover are kept.
                    let settled = at.tick - REWRITE_TICKS;
                    let old = Checkpoint {
                        tick: settled,
                        calls: schedule.calls_due(settled),
                        points: schedule.points_due(settled),
                    };
                    touched.prune(self.store, run, old).await;
                }
                Ok(None) => return Ended::Lost,
                // The next checkpoint carries this one; the run goes on, writing its last seconds
                // again (the database went away).
                Err(e) => {
                    trouble.store(true, Ordering::Relaxed);
                    tracing::warn!(error = %e, run = %record.id, "live checkpoint not written");
                }
            }
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
