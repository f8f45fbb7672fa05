//! Statistics for dashboards, read so that cost does not grow with the data: whole hours come from
//! the rollups kept at ingest, the partial hours at the edges of a range from an index-served scan
//! of the raw documents. An answer is kept until the rollups change (on any replica), identical
//! concurrent requests share one read, and at most a few reads reach the database at once, however
//! many dashboards poll.
//!
//! Files: [`query`] (what dashboards send), [`overview`] (`GET /stats`), [`series`] (the series
//! endpoints), [`cache`] (answers kept until the data changes, shared reads), [`feed`] (the
//! overview pushed to streaming clients), `plan` (a series request's range, buckets and sources),
//! `ask` (a read's range split into pieces from the coarsest source that covers each exactly).

pub mod cache;
pub mod cells;
pub mod feed;
pub mod overview;
pub mod plan;
pub mod query;
pub mod series;

mod ask;

pub use ask::Ask;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::generate::Kind;
use crate::store::DataVersion;
use crate::store::Store;
use crate::store::rollup::{Cells, add_cell, coarsen, fine_ms};
use crate::store::stats::KeyFilter;
use cache::{Answers, Flights, Pieces, VersionReads};

/// How long a read waits for a database slot before it is answered 503.
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);
/// How long a read waits for the data version before it is answered 503.
pub const VERSION_WAIT: Duration = Duration::from_secs(5);
/// Bytes of rollup pieces kept: a range that moves with the clock reads its whole hours (and fine
/// cells) from here until the data changes, and only its raw edges from the database.
pub const PIECE_BYTES: usize = 16 << 20;
/// Rough bytes a kept cell takes (key, figures, map node).
const CELL_BYTES: usize = 160;

/// Where a read takes its cells from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Rollups for whole hours, raw documents for partial ones: what dashboards should use.
    Rollups,
    /// The raw documents only: a scan, for checking the rollups (`?source=raw`).
    Raw,
}

/// Serves statistics reads: keeps answers until the data changes, shares identical concurrent
/// reads and bounds how many run at once. Cheap to clone.
#[derive(Clone)]
pub struct StatsReader {
    store: Store,
    permits: Arc<Semaphore>,
    reads: Arc<Flights<Arc<Vec<u8>>>>,
    versions: Arc<VersionReads>,
    answers: Arc<Mutex<Answers>>,
    pieces: Arc<Mutex<Pieces>>,
    cell_docs: Arc<Mutex<cells::kept::KeptCellDocs>>,
}

impl StatsReader {
    /// A reader running at most `max_concurrent` reads against the database at once.
    pub fn new(store: Store, max_concurrent: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            reads: Arc::new(Flights::default()),
            versions: Arc::new(VersionReads::new(store.clone())),
            answers: Arc::new(Mutex::new(Answers::default())),
            pieces: Arc::new(Mutex::new(Pieces::with_budget(PIECE_BYTES))),
            cell_docs: Arc::default(),
            store,
        }
    }

    /// The database behind the reader.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The JSON answer for `key`. With `keep`, an answer computed since the rollups last changed
    /// is served as it is (one point read of the data version decides; see [`cache`]). Otherwise
    /// it is computed by `compute` once, and whoever asks for the same key meanwhile waits for that
    /// answer instead of reading again. The computation holds one of the reader's database slots;
    /// when none frees up within [`QUEUE_WAIT`] the answer is 503. `compute` is given the data
    /// version (with `keep`), under which it may take kept rollup pieces ([`StatsReader::cells`]).
    pub async fn shared<C, F>(
        &self,
        key: String,
        keep: bool,
        compute: C,
    ) -> Result<Arc<Vec<u8>>, ApiError>
    where
        C: FnOnce(Option<DataVersion>) -> F,
        F: Future<Output = Result<Vec<u8>, ApiError>> + Send + 'static,
    {
        let version = match keep {
            // A point read; a database that cannot answer it in time gets the request a 503
            // instead of holding it.
            true => Some(
                tokio::time::timeout(VERSION_WAIT, self.versions.current())
                    .await
                    .map_err(|_| ApiError::DatabaseUnavailable {
                        message: format!(
                            "the database did not answer within {} s; retry later",
                            VERSION_WAIT.as_secs()
                        ),
                        source: None,
                    })??,
            ),
            false => None,
        };
        if let Some(v) = version
            && let Some(body) = self.answers.lock().expect("answers lock").get(&key, v)
        {
            metrics::counter!("stats_answers_total", "from" => "cache").increment(1);
            return Ok(body);
        }
        metrics::counter!("stats_answers_total", "from" => "database").increment(1);
        let permits = self.permits.clone();
        // The version is part of the flight's key: a read that started before a change is not
        // joined by a request that has seen the change.
        let flight = format!("{key}|{version:?}");
        let compute = compute(version);
        let body = self
            .reads
            .join(flight, async move {
                let _permit = tokio::time::timeout(QUEUE_WAIT, permits.acquire_owned())
                    .await
                    .map_err(|_| ApiError::StatsBusy)?
                    .map_err(|_| ApiError::StatsBusy)?;
                compute.await.map(Arc::new)
            })
            .await?;
        if let Some(v) = version {
            self.answers
                .lock()
                .expect("answers lock")
                .put(key, v, body.clone(), body.len());
        }
        Ok(body)
    }

    /// The cells `ask` describes. With [`Source::Rollups`], whole days and hours (as far as
    /// `finest` allows) come from the day totals and hourly cells of the hourly rollups, whole
    /// fine slots around them from the fine rollups, and the
    /// partial slots at the very edges from an index-served scan of less than a fine slot of raw
    /// documents. Under a data `version`, the rollup pieces are kept until the data changes: a
    /// range that moves with the clock reads only its raw edges again (and its fine edges once a
    /// fine slot, its whole hours once an hour).
    pub async fn cells(
        &self,
        ask: &Ask,
        source: Source,
        version: Option<DataVersion>,
    ) -> Result<Cells, ApiError> {
        let (kind, keys, grouping) = (ask.kind, &ask.keys, ask.grouping);
        let store = &self.store;
        if source == Source::Raw {
            let slot = ask.finest.cell_ms(kind);
            let cells = store.raw_cells(kind, ask.from, ask.to, slot, keys).await?;
            return Ok(coarsen(&cells, grouping));
        }
        let mut pieces = Vec::new();
        ask::split(kind, ask.from, ask.to, ask.finest, &mut pieces);
        let reads = pieces.iter().map(|&(level, a, b)| async move {
            let Some(res) = level else {
                let cells = store.raw_cells(kind, a, b, fine_ms(kind), keys).await?;
                return Ok::<_, ApiError>(Arc::new(coarsen(&cells, grouping)));
            };
            let key = format!("{kind:?}|{res:?}|{a:?}|{b:?}|{keys:?}|{grouping:?}");
            let version = version.map(|v| v.only(kind));
            if let Some(v) = version
                && let Some(kept) = self.pieces.lock().expect("pieces lock").get(&key, v)
            {
                metrics::counter!("stats_pieces_total", "from" => "cache").increment(1);
                return Ok(kept);
            }
            metrics::counter!("stats_pieces_total", "from" => "database").increment(1);
            let cells = Arc::new(
                store
                    .rollup_cells(kind, res, (a, b), keys, grouping)
                    .await?,
            );
            if let Some(v) = version {
                let bytes = cells.len() * CELL_BYTES;
                self.pieces
                    .lock()
                    .expect("pieces lock")
                    .put(key, v, cells.clone(), bytes);
            }
            Ok(cells)
        });
        let parts = futures::future::try_join_all(reads).await?;
        // Usually one piece holds nearly everything: start from it instead of re-adding its cells.
        let largest = (0..parts.len()).max_by_key(|&i| parts[i].len());
        let mut cells = match largest {
            Some(i) => Cells::clone(&parts[i]),
            None => Cells::new(),
        };
        for (i, part) in parts.iter().enumerate() {
            if Some(i) == largest {
                continue;
            }
            for (k, c) in part.iter() {
                add_cell(&mut cells, k.clone(), c);
            }
        }
        Ok(cells)
    }

    /// Cells of `kind` over `[from, to)` in slots of `slot_ms`, from the raw documents; callers
    /// bound the range.
    pub async fn raw(
        &self,
        kind: Kind,
        from: i64,
        to: i64,
        slot_ms: i64,
        keys: &KeyFilter,
    ) -> Result<Cells, ApiError> {
        Ok(self
            .store
            .raw_cells(kind, Some(from), Some(to), slot_ms, keys)
            .await?)
    }
}
