//! Recomputing the rollups from the raw documents, for data loaded or deleted by other tools: the
//! rollup collection is cleared, then filled day by day from index-served aggregations of the raw
//! collection. Reads see the rollups grow while it runs; writes by generation runs meanwhile would
//! be counted twice or not at all, so run it while no job writes (docs/statistics.md says so).

use std::collections::BTreeMap;
use std::time::Instant;

use bson::oid::ObjectId;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{Progress, RunError, RunReport};
use crate::generate::{Kind, RunId, rng};
use crate::store::kinds::stored;
use crate::store::rollup::by_cell::{CellTotals, run_tokens};
use crate::store::rollup::{DAY_MS, documents, fine_ms};
use crate::store::stats::KeyFilter;
use crate::store::{DbError, Store};

/// Rebuilds the rollups of `kind`; `progress` counts the raw documents aggregated so far. Stops
/// between two days when `cancel` fires (the rollups then cover only the days done).
pub async fn rebuild(
    store: &Store,
    kind: Kind,
    progress: &Progress,
    cancel: &CancellationToken,
) -> RunReport {
    let started = Instant::now();
    let result = days(store, kind, progress, cancel).await;
    let (error, cancelled) = match result {
        Ok(cancelled) => (None, cancelled),
        Err(e) => (Some(RunError::Database(e)), false),
    };
    RunReport {
        written: progress.written(),
        exact: true,
        rollups_exact: error.is_none() && !cancelled,
        error,
        cancelled,
        elapsed: started.elapsed(),
    }
}

/// The day-by-day walk; `Ok(true)` when cancelled.
async fn days(
    store: &Store,
    kind: Kind,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<bool, DbError> {
    store.clear_rollup(kind).await?;
    let by_cell = stored(kind).per_cell;
    if by_cell {
        store.clear_cell_rollup().await?;
    }
    let Some((first, last)) = store.time_bounds(kind).await? else {
        return Ok(false);
    };
    // Tokens of a run of the rebuild's own, retired at the end like a finished job's (an update
    // delivered late is refused then too); one per contribution.
    let run = RunId::new(Utc::now().timestamp() as u32, rng::random_seed() as u32);
    let mut tokens = 0u32;
    let mut token = || {
        tokens += 1;
        ObjectId::from_bytes(run.object_id(tokens - 1))
    };
    let mut day = first - first.rem_euclid(DAY_MS);
    while day <= last {
        if cancel.is_cancelled() {
            return Ok(true);
        }
        let cells = store
            .raw_cells(
                kind,
                Some(day),
                Some(day + DAY_MS),
                fine_ms(kind),
                &KeyFilter::default(),
            )
            .await?;
        store.apply_rollup(kind, token(), &cells).await?;
        if by_cell {
            per_cell(store, day, &mut token).await?;
        }
        let n = documents(kind, &cells);
        progress.add(n.max(0) as u64);
        // Jump over empty days (data may span centuries with gaps): the next document's day.
        match store.first_time_from(kind, day + DAY_MS).await? {
            Some(next) => day = next - next.rem_euclid(DAY_MS),
            None => break,
        }
    }
    store.prune_rollup_tokens(kind, run, tokens).await?;
    if by_cell {
        store.prune_cell_tokens(run_tokens(run), None).await?;
    }
    Ok(false)
}

/// The per-cell rollup of `day`, from its raw calls: one contribution per operator, each under
/// a token of its own from `token`.
async fn per_cell(
    store: &Store,
    day: i64,
    token: &mut impl FnMut() -> ObjectId,
) -> Result<(), DbError> {
    let mut by_operator: BTreeMap<std::sync::Arc<str>, CellTotals> = BTreeMap::new();
    for c in store.raw_cell_totals(day, day + DAY_MS).await? {
        let totals = by_operator.entry(c.operator.clone()).or_default();
        totals.add(&c.operator, c.day, c.eci, &c.counts);
    }
    for totals in by_operator.values() {
        store.apply_cell_rollup(token(), totals).await?;
    }
    Ok(())
}
