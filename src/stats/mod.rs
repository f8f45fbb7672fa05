//! Statistics for dashboards, read so that cost does not grow with the data: whole hours come from
//! the rollups kept at ingest, the partial hours at the edges of a range from an index-served scan
//! of the raw documents. Identical concurrent requests share one read, and at most a few reads
//! reach the database at once, however many dashboards poll.
//!
//! Rooms: [`query`] (what dashboards send), [`overview`] (`GET /stats`), [`series`] (the series
//! endpoints).

pub mod overview;
pub mod query;
pub mod series;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::generate::Kind;
use crate::store::Store;
use crate::store::rollup::{Cells, HOUR_MS, add_cell};
use crate::store::stats::KeyFilter;

/// How long a read waits for a database slot before it is answered 503.
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// Where a read takes its cells from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Rollups for whole hours, raw documents for partial ones: what dashboards should use.
    Rollups,
    /// The raw documents only: a scan, for checking the rollups (`?source=raw`).
    Raw,
}

type SharedRead = Shared<BoxFuture<'static, Result<Arc<Vec<u8>>, Arc<ApiError>>>>;

/// Serves statistics reads: shares identical concurrent ones and bounds how many run at once.
/// Cheap to clone.
#[derive(Clone)]
pub struct StatsReader {
    store: Store,
    permits: Arc<Semaphore>,
    inflight: Arc<Mutex<HashMap<String, SharedRead>>>,
}

impl StatsReader {
    /// A reader running at most `max_concurrent` reads against the database at once.
    pub fn new(store: Store, max_concurrent: usize) -> Self {
        Self {
            store,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            inflight: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The database behind the reader.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The JSON answer for `key`: computed by `compute` once, whoever else asks for the same key
    /// meanwhile waits for that answer instead of reading again. The computation holds one of the
    /// reader's database slots; when none frees up within [`QUEUE_WAIT`] the answer is 503.
    pub async fn shared<F>(&self, key: String, compute: F) -> Result<Arc<Vec<u8>>, ApiError>
    where
        F: Future<Output = Result<Vec<u8>, ApiError>> + Send + 'static,
    {
        let read = {
            let mut inflight = self.inflight.lock().expect("stats map lock");
            if let Some(read) = inflight.get(&key) {
                read.clone()
            } else {
                let permits = self.permits.clone();
                let map = self.inflight.clone();
                let done_key = key.clone();
                let read = async move {
                    let result = async {
                        let _permit = tokio::time::timeout(QUEUE_WAIT, permits.acquire_owned())
                            .await
                            .map_err(|_| ApiError::StatsBusy)?
                            .map_err(|_| ApiError::StatsBusy)?;
                        compute.await
                    }
                    .await;
                    map.lock().expect("stats map lock").remove(&done_key);
                    result.map(Arc::new).map_err(Arc::new)
                }
                .boxed()
                .shared();
                inflight.insert(key, read.clone());
                read
            }
        };
        read.await.map_err(|e| ApiError::shared(&e))
    }

    /// Hourly cells of `kind` over `[from, to)`.
    pub async fn hourly(
        &self,
        kind: Kind,
        from: Option<i64>,
        to: Option<i64>,
        keys: &KeyFilter,
        source: Source,
    ) -> Result<Cells, ApiError> {
        let store = &self.store;
        if source == Source::Raw {
            return Ok(store.raw_cells(kind, from, to, HOUR_MS, keys).await?);
        }
        let whole_from = from.map(|f| f + (HOUR_MS - f.rem_euclid(HOUR_MS)) % HOUR_MS);
        let whole_to = to.map(|t| t - t.rem_euclid(HOUR_MS));
        if let (Some(a), Some(b)) = (whole_from, whole_to)
            && a >= b
        {
            // Not one whole hour inside: a short, index-served scan.
            return Ok(store.raw_cells(kind, from, to, HOUR_MS, keys).await?);
        }
        let head = async {
            match (from, whole_from) {
                (Some(f), Some(w)) if f < w => {
                    store.raw_cells(kind, from, whole_from, HOUR_MS, keys).await
                }
                _ => Ok(Cells::new()),
            }
        };
        let tail = async {
            match (to, whole_to) {
                (Some(t), Some(w)) if w < t => {
                    store.raw_cells(kind, whole_to, to, HOUR_MS, keys).await
                }
                _ => Ok(Cells::new()),
            }
        };
        let (mut cells, head, tail) = tokio::try_join!(
            store.rollup_cells(kind, whole_from, whole_to, keys),
            head,
            tail
        )?;
        for (k, c) in head.into_iter().chain(tail) {
            add_cell(&mut cells, k, &c);
        }
        Ok(cells)
    }

    /// Cells of `kind` over `[from, to)` in slots of `slot_ms` (under an hour), from the raw
    /// documents; callers bound the range.
    pub async fn fine(
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
