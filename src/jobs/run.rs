//! Running one job on this instance: its work beside a heartbeat, then how it ended, recorded.

use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use crate::pipeline::{self, Progress, RunError, RunReport};
use crate::store::jobs::{JobEnd, JobState};
use crate::store::{RetryPolicy, until_answered};

use super::{FINISH_PATIENCE, HEARTBEAT, JobManager, Work};

impl JobManager {
    /// Runs `work` for job `id` to its end and records that end; the job's slot (`permit`) is
    /// freed as soon as the work is over.
    pub(super) async fn run(
        &self,
        id: String,
        work: Work,
        token: CancellationToken,
        permit: OwnedSemaphorePermit,
    ) {
        let progress = Progress::default();
        let reconcile = RetryPolicy {
            patience: FINISH_PATIENCE,
            stop: self.inner.shutdown.clone(),
        };
        let is_rebuild = matches!(work, Work::Rebuild(_));
        let report = self
            .work_with_heartbeat(&id, &work, &progress, &token, &reconcile)
            .await;
        if !is_rebuild && (!report.exact || !report.rollups_exact) {
            // The reaper counts the run's documents and repairs its rollups once the database
            // answers again.
            tracing::error!(job = %id, "database gone; job left for the stale-job reaper");
            self.forget(&id);
            return;
        }
        // The work is over: its slot is free for another job while the end is recorded.
        drop(permit);
        let interrupted = token.is_cancelled() && self.inner.shutdown.is_cancelled();
        let end = job_end(&report, interrupted, is_rebuild);
        self.record_end(&id, &end, &report, &reconcile).await;
        self.forget(&id);
        tracing::info!(job = %id, state = ?end.state, written = report.written, error = end.last_error.as_deref(), "job ended");
    }

    /// Does the work of a job while its heartbeat writes progress and reads whether it was
    /// cancelled elsewhere.
    ///
    /// The heartbeat runs beside the work, never inside it: awaiting a pool slot while the work's
    /// in-flight inserts (holding the other slots) go unpolled deadlocks a small or busy pool, and
    /// with it the whole service.
    async fn work_with_heartbeat(
        &self,
        id: &str,
        work: &Work,
        progress: &Progress,
        token: &CancellationToken,
        reconcile: &RetryPolicy,
    ) -> RunReport {
        let store = &self.inner.store;
        let started = Instant::now();
        let work = async {
            match work {
                Work::Generate(run) => {
                    run.execute(store, self.inner.tuning, progress, token, reconcile)
                        .await
                }
                Work::Rebuild(kind) => pipeline::rebuild(store, *kind, progress, token).await,
            }
        };
        tokio::select! {
            report = work => report,
            _ = self.heartbeat(id, progress, token, started) => unreachable!("the heartbeat never ends"),
        }
    }

    /// Writes a running job's progress every [`HEARTBEAT`]; cancels `token` when the job was
    /// cancelled or settled elsewhere. Never ends.
    async fn heartbeat(
        &self,
        id: &str,
        progress: &Progress,
        token: &CancellationToken,
        started: Instant,
    ) {
        let store = &self.inner.store;
        let owner = self.inner.instance.as_str();
        let rate = |n: u64| n as f64 / started.elapsed().as_secs_f64().max(1e-3);
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.tick().await;
        loop {
            tick.tick().await;
            let n = progress.written();
            // A failed heartbeat is not fatal: the run meets the same outage itself.
            let at = (n, progress.drawn());
            match store.job_heartbeat(id, owner, at, rate(n)).await {
                Ok(Some(true)) => token.cancel(),
                Ok(None) if !token.is_cancelled() => {
                    // Another replica took the job for lost and settled it: stop.
                    tracing::warn!(job = %id, "job settled by another instance; stopping");
                    token.cancel();
                }
                _ => {}
            }
        }
    }

    /// Records the end of job `id`, retrying while the database is away (up to `reconcile`).
    async fn record_end(
        &self,
        id: &str,
        end: &JobEnd,
        report: &RunReport,
        reconcile: &RetryPolicy,
    ) {
        let store = &self.inner.store;
        let owner = self.inner.instance.as_str();
        match until_answered("recording a job's end", reconcile, || {
            store.finish_job(id, owner, end)
        })
        .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                job = %id,
                written = report.written,
                "the job had been settled by another instance; only its count was updated"
            ),
            Err(e) => {
                tracing::error!(job = %id, error = %e, "cannot record the job's end; left for reaping");
            }
        }
    }
}

/// How a job ended, from its work's report: `interrupted` when this instance shut down under it.
fn job_end(report: &RunReport, interrupted: bool, is_rebuild: bool) -> JobEnd {
    let (state, last_error) = match (&report.error, report.cancelled) {
        (Some(e), _) => (JobState::Failed, Some(describe(e))),
        (None, true) if interrupted => (
            JobState::Failed,
            Some("interrupted: the service shut down".to_string()),
        ),
        (None, true) if is_rebuild => (
            JobState::Cancelled,
            Some("cancelled: the rollups cover only part of the data; rebuild again".into()),
        ),
        (None, true) => (JobState::Cancelled, None),
        (None, false) => (JobState::Done, None),
    };
    JobEnd {
        state,
        written: report.written,
        docs_per_second: report.docs_per_second(),
        last_error,
    }
}

/// A job error as users see it: one short line that names the failure without secrets.
fn describe(e: &RunError) -> String {
    match e {
        RunError::Database(e) if e.is_unavailable() => {
            "the database became unavailable".to_string()
        }
        RunError::Database(e) => one_line(&format!("insert failed: {e}")),
        RunError::Generation(m) => one_line(&format!("generation failed: {m}")),
        RunError::Lost(n) => format!(
            "the database lost {n} documents it had acknowledged (a server restart?); inserted \
             counts what it holds"
        ),
    }
}

/// The first line of `message`, at most 300 characters: a job record is read by every dashboard
/// polling `/jobs`, and a driver error can run to megabytes.
fn one_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_owned(),
    }
}
