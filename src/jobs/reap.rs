//! Settling jobs whose instance vanished: their count is read from the database, their rollups
//! repaired, and their record made final, by whichever replica reads them next.

use super::JobManager;
use super::view::spec_of;
use crate::error::ApiError;
use crate::pipeline::{Run, id_count};
use crate::store::jobs::{JobRecord, JobState, Task};

impl JobManager {
    /// A running job nobody has updated for the stale-after time (by the database's clock) lost its
    /// instance: count what it wrote and mark it failed (or done, if everything arrived), so no
    /// job stays "running" forever.
    pub(super) async fn reap_if_stale(&self, record: JobRecord) -> Result<JobRecord, ApiError> {
        let ours = self
            .inner
            .running
            .lock()
            .expect("job map lock")
            .contains_key(&record.id);
        if record.state != JobState::Running || ours {
            return Ok(record);
        }
        let store = &self.inner.store;
        let Some(record) = store.stale_job(&record.id, self.inner.stale_after).await? else {
            // Alive, or it ended meanwhile: as it is now.
            return store
                .job(&record.id)
                .await?
                .ok_or_else(|| Self::not_found(&record.id));
        };
        if record.task == Task::Rebuild {
            let error = "the instance running this rebuild stopped responding; rebuild again";
            return store
                .settle_stale_job(
                    &record,
                    JobState::Failed,
                    record.written.max(0) as u64,
                    Some(error.into()),
                )
                .await?
                .ok_or_else(|| Self::not_found(&record.id));
        }
        let span = id_count(record.kind, record.requested as u32);
        let written = store
            .count_run(record.kind, record.run_id(), span, None)
            .await?;
        // The documents a whole run writes: one a draw, or (several records a draw) as many as
        // its draws, generated again, say.
        let mut expected = record.requested.max(0) as u64;
        // The lost instance may have written documents whose rollup update never happened.
        match (spec_of(&record), record.batch_size) {
            (Some(spec), Some(batch_size)) => {
                if record.kind.info().slots > 1 {
                    let spec = spec.clone();
                    expected = tokio::task::spawn_blocking(move || spec.documents())
                        .await
                        .unwrap_or(u64::MAX);
                }
                Run::resume(spec, record.run_id())
                    .repair_rollups(store, batch_size.max(1) as usize, span)
                    .await?;
            }
            _ => tracing::warn!(
                job = %record.id,
                "a stale job's rollups cannot be repaired from its record; POST /stats/rebuild"
            ),
        }
        let (state, error) = if written == expected {
            (JobState::Done, None)
        } else {
            (
                JobState::Failed,
                Some("the instance running this job stopped responding".to_string()),
            )
        };
        store
            .settle_stale_job(&record, state, written, error)
            .await?
            .ok_or_else(|| Self::not_found(&record.id))
    }
}
