//! What a run is given: the spec that fixes its documents, and how it spreads over the database.

use chrono::{DateTime, Utc};

use crate::config::DbSettings;
use crate::generate::{Kind, Params, rng};

/// A complete description of one run: the same spec gives the same documents.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// What to generate and how.
    pub params: Params,
    /// How many documents (at most `u32::MAX`, the size of the index part of an `_id`).
    pub count: u32,
    /// The seed.
    pub seed: u64,
}

impl RunSpec {
    /// A spec with the given seed, or a fresh random one.
    pub fn new(params: Params, count: u32, seed: Option<u64>) -> Self {
        Self {
            params,
            count,
            seed: seed.unwrap_or_else(rng::random_seed),
        }
    }

    /// The kind of data, and so the collection, the run writes.
    pub fn kind(&self) -> Kind {
        self.params.kind()
    }

    /// How many `_id`s the run's range holds: `count` draws of the kind's slots each.
    pub fn id_count(&self) -> u32 {
        id_count(self.kind(), self.count)
    }
}

/// The `_id`s a run of `count` draws of `kind` spans (the bounds on `count` keep it in a `u32`).
pub fn id_count(kind: Kind, count: u32) -> u32 {
    count.saturating_mul(kind.info().slots)
}

/// How a run is spread over the database.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Documents per `insert_many`.
    pub batch_size: usize,
    /// `insert_many` calls in flight at once.
    pub inflight: usize,
    /// A batch the database did not take because it was unreachable is sent again until it
    /// answers (within the run's reconcile patience), instead of ending the run. Jobs and the
    /// command line wait; a synchronous request, bounded by its timeout, answers at once.
    pub wait_out_outages: bool,
}

impl From<&DbSettings> for Tuning {
    fn from(db: &DbSettings) -> Self {
        Self {
            batch_size: db.batch_size as usize,
            inflight: db.inflight_batches as usize,
            wait_out_outages: true,
        }
    }
}

/// The default end of a generation window: now, in whole milliseconds, which is what BSON stores,
/// so the reported `end` reproduces the run exactly.
pub fn now_millis() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}
