//! Answers computed as rarely as the data allows: identical concurrent reads share one
//! computation ([`Flights`]), and a finished answer is kept until the rollups it came from change
//! ([`Answers`], keyed by the [`DataVersion`] the writers bump in the database, so every replica
//! sees every other replica's writes). A poll of unchanged data costs one point read of the
//! version, itself shared by the polls that arrive while it runs ([`VersionReads`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::error::ApiError;
use crate::store::{DataVersion, Store};

/// Bytes of answers kept at most: a few hundred dashboard panels' worth, well inside the
/// service's memory goal.
pub const CACHE_BYTES: usize = 16 << 20;
/// Answers kept at most.
pub const CACHE_ENTRIES: usize = 1024;

type Flight<T> = Shared<BoxFuture<'static, Result<T, Arc<ApiError>>>>;

/// Single-flight: one computation per key at a time, shared by everyone who asks meanwhile.
pub struct Flights<T: Clone> {
    map: Arc<Mutex<HashMap<String, Flight<T>>>>,
}

impl<T: Clone> Default for Flights<T> {
    fn default() -> Self {
        Self {
            map: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Flights<T> {
    /// The running computation for `key`, or `work` started as it. The computation runs in a task
    /// of its own: it finishes (and leaves the map) even when every client waiting for it has gone.
    pub async fn join<F>(&self, key: String, work: F) -> Result<T, ApiError>
    where
        F: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let flight = {
            let mut map = self.map.lock().expect("flights lock");
            if let Some(flight) = map.get(&key) {
                flight.clone()
            } else {
                let done = (self.map.clone(), key.clone());
                let task = tokio::spawn(async move {
                    let result = work.await.map_err(Arc::new);
                    done.0.lock().expect("flights lock").remove(&done.1);
                    result
                });
                let flight = async move {
                    task.await.unwrap_or_else(|e| {
                        Err(Arc::new(ApiError::Internal(anyhow::anyhow!(
                            "statistics read failed: {e}"
                        ))))
                    })
                }
                .boxed()
                .shared();
                map.insert(key, flight.clone());
                flight
            }
        };
        flight.await.map_err(|e| ApiError::shared(&e))
    }
}

/// Reads of the data version that start after the request that wants them arrived (so a client
/// reads its own writes), shared by every request that arrives while the previous read runs: at
/// most one read in flight and one queued, however many pollers.
pub struct VersionReads {
    store: Store,
    state: Arc<Mutex<Queue>>,
}

#[derive(Default)]
struct Queue {
    running: Option<(u64, Flight<DataVersion>)>,
    queued: Option<(u64, Flight<DataVersion>)>,
    next_id: u64,
}

impl VersionReads {
    /// Reads of `store`'s data version.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            state: Arc::new(Mutex::new(Queue::default())),
        }
    }

    /// The data version as of a read that started after this call.
    pub async fn current(&self) -> Result<DataVersion, ApiError> {
        let flight = {
            let mut q = self.state.lock().expect("version lock");
            if let Some((_, queued)) = &q.queued {
                queued.clone()
            } else {
                let id = q.next_id;
                q.next_id += 1;
                let before = q.running.as_ref().map(|(_, f)| f.clone());
                let (store, state) = (self.store.clone(), self.state.clone());
                let flight = async move {
                    if let Some(before) = before {
                        let _ = before.await;
                        let mut q = state.lock().expect("version lock");
                        q.running = q.queued.take();
                    }
                    let result = store.data_version().await.map_err(|e| Arc::new(e.into()));
                    let mut q = state.lock().expect("version lock");
                    if q.running.as_ref().is_some_and(|(r, _)| *r == id) {
                        q.running = None;
                    }
                    result
                }
                .boxed()
                .shared();
                if q.running.is_some() {
                    q.queued = Some((id, flight.clone()));
                } else {
                    q.running = Some((id, flight.clone()));
                }
                flight
            }
        };
        flight.await.map_err(|e| ApiError::shared(&e))
    }
}

/// Finished answers by request, each with the data version it was computed at; bounded in bytes
/// and entries (the oldest go first). Also keeps the rollup pieces answers are made of
/// ([`Pieces`]).
pub struct Kept<T> {
    entries: HashMap<String, Entry<T>>,
    bytes: usize,
    clock: u64,
    budget: usize,
}

/// Answers as JSON bytes.
pub type Answers = Kept<Arc<Vec<u8>>>;
/// Cells read from the rollups, by what was read.
pub type Pieces = Kept<Arc<crate::store::rollup::Cells>>;

struct Entry<T> {
    version: DataVersion,
    value: T,
    bytes: usize,
    stored: u64,
}

impl<T: Clone> Default for Kept<T> {
    fn default() -> Self {
        Self::with_budget(CACHE_BYTES)
    }
}

impl<T: Clone> Kept<T> {
    /// Keeps at most `budget` bytes (and [`CACHE_ENTRIES`] entries).
    pub fn with_budget(budget: usize) -> Self {
        Self {
            entries: HashMap::new(),
            bytes: 0,
            clock: 0,
            budget,
        }
    }

    /// The value kept for `key` if it was computed at `version`.
    pub fn get(&self, key: &str, version: DataVersion) -> Option<T> {
        self.entries
            .get(key)
            .filter(|e| e.version == version)
            .map(|e| e.value.clone())
    }

    /// Keeps `value` (about `bytes` large) for `key` at `version`, making room when needed;
    /// values larger than a quarter of the budget are not kept.
    pub fn put(&mut self, key: String, version: DataVersion, value: T, bytes: usize) {
        if bytes > self.budget / 4 {
            return;
        }
        if let Some(old) = self.entries.remove(&key) {
            self.bytes -= old.bytes;
        }
        while !self.entries.is_empty()
            && (self.bytes + bytes > self.budget || self.entries.len() >= CACHE_ENTRIES)
        {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.stored)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
            }
        }
        self.clock += 1;
        self.bytes += bytes;
        self.entries.insert(
            key,
            Entry {
                version,
                value,
                bytes,
                stored: self.clock,
            },
        );
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_kept_per_version_within_the_budget() {
        let mut a = Answers::default();
        let v1 = DataVersion([1, 1, 1]);
        let v2 = DataVersion([2, 1, 1]);
        a.put("k".into(), v1, Arc::new(vec![1; 10]), 10);
        assert_eq!(a.get("k", v1).as_deref(), Some(&vec![1; 10]));
        assert_eq!(a.get("k", v2), None, "another version is another answer");
        a.put("k".into(), v2, Arc::new(vec![2; 20]), 20);
        assert_eq!(a.bytes(), 20, "a replaced answer gives its bytes back");
        for i in 0..CACHE_ENTRIES + 10 {
            a.put(format!("e{i}"), v1, Arc::new(vec![0; 100]), 100);
        }
        assert_eq!(a.entries.len(), CACHE_ENTRIES);
        assert!(a.get("k", v2).is_none(), "the oldest went first");
        assert!(a.get(&format!("e{}", CACHE_ENTRIES + 9), v1).is_some());
        let big = CACHE_BYTES / 5;
        for i in 0..6 {
            a.put(format!("big{i}"), v1, Arc::new(vec![0; big]), big);
        }
        assert!(a.bytes() <= CACHE_BYTES);
        a.put(
            "huge".into(),
            v1,
            Arc::new(vec![0; CACHE_BYTES / 2]),
            CACHE_BYTES / 2,
        );
        assert!(a.get("huge", v1).is_none(), "too large to keep");
    }
}
