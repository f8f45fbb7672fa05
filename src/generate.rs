//! Pure, seedable generators: (parameters, seed, index) in, BSON documents out. No I/O, no clock.
//!
//! Every document of a run is a function of the run's parameters, its seed and the document's
//! index, so the same request with the same seed yields the same documents however the work is split
//! into batches or spread over concurrent inserts.

pub mod bounds;
mod bson;
pub mod calls;
pub mod cells;
pub mod defaults;
#[cfg(test)]
mod goodness_of_fit;
pub mod hosts;
pub mod kind;
pub mod live;
pub mod model;
pub mod network;
pub mod params;
pub mod points;
pub mod population;
pub mod rng;
pub mod scenario;
pub mod sessions;
pub mod sms;
mod tally;
pub mod traffic;
pub mod zones;

pub use self::bson::{DocWriter, to_extended_json};
pub use calls::{CallGenerator, CallParams, CallStatus, CallType};
pub use model::{CallModel, MetricModel};
pub use params::{Kind, ParamError, Params};
pub use points::{Category, PointGenerator, PointParams};
pub use tally::{Radio, Tally};

/// Identifies one generation run inside the `_id`s it writes.
///
/// A document's `_id` is an ObjectId laid out as `[run start, seconds: 4][nonce: 4][index: 4]`
/// (big-endian). The leading timestamp keeps `_id`s increasing, as ObjectIds normally are, and the
/// run's documents occupy one contiguous `_id` range, so the exact number of them that reached the
/// database can always be counted afterwards — even after a batch whose outcome was lost with the
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunId {
    /// Seconds since the Unix epoch when the run started.
    pub started: u32,
    /// Random per run, so two runs started in the same second do not share a range.
    pub nonce: u32,
}

impl RunId {
    /// A new run id for a run starting at `started` (seconds since the epoch).
    pub fn new(started: u32, nonce: u32) -> Self {
        Self { started, nonce }
    }

    /// The `_id` of document `index` of this run.
    #[inline]
    pub fn object_id(&self, index: u32) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.started.to_be_bytes());
        b[4..8].copy_from_slice(&self.nonce.to_be_bytes());
        b[8..].copy_from_slice(&index.to_be_bytes());
        b
    }

    /// `[first, last]` `_id`s of a run of `count` documents (`count` ≥ 1).
    pub fn id_range(&self, count: u32) -> ([u8; 12], [u8; 12]) {
        (self.object_id(0), self.object_id(count.saturating_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_index_within_a_run() {
        let run = RunId::new(1_700_000_000, 0xdead_beef);
        let a = run.object_id(1);
        let b = run.object_id(256);
        assert!(a < b);
        let (first, last) = run.id_range(1000);
        assert_eq!(first, run.object_id(0));
        assert_eq!(last, run.object_id(999));
    }
}

/// Generation speed on one core, for before/after comparisons of generator changes. Not a pass/fail
/// check: run it in release with `cargo test --release --lib generate::speed -- --ignored --nocapture`.
#[cfg(test)]
mod speed {
    use super::*;
    use crate::generate::params::DEFAULT_SUBSCRIBERS;
    use chrono::{TimeZone, Utc};
    use std::time::Instant;

    /// Seconds this thread has spent on a CPU (Linux), so other load on a shared machine does not
    /// count against the generator; wall-clock seconds elsewhere.
    fn busy_seconds(wall: Instant) -> f64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .map(|ns| ns as f64 / 1e9)
            .unwrap_or_else(|| wall.elapsed().as_secs_f64())
    }

    /// Best of five rounds of `n` documents, in documents per CPU second.
    fn rate(n: u32, mut make: impl FnMut(u32) -> usize) -> f64 {
        let mut best: f64 = 0.0;
        for _ in 0..5 {
            let wall = Instant::now();
            let before = busy_seconds(wall);
            let bytes: usize = (0..n).map(&mut make).sum();
            assert!(bytes > 0);
            best = best.max(f64::from(n) / (busy_seconds(wall) - before));
        }
        best
    }

    #[test]
    #[ignore = "timing report, run in release"]
    fn documents_per_second() {
        let end = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let run = RunId::new(1, 2);
        let n = 1_000_000;
        let calls = CallGenerator::new(
            CallParams {
                end,
                days: 30,
                subscribers: DEFAULT_SUBSCRIBERS,
                scenario: None,
                model: CallModel::default(),
            },
            1,
            n,
        );
        let call_rate = rate(n, |i| calls.document(run, i).as_bytes().len());
        let params = PointParams {
            end,
            step_seconds: 30,
            categories: Category::ALL.to_vec(),
            hosts: 3,
            scenario: None,
            model: MetricModel::default(),
        };
        let mut points = PointGenerator::new(&params, 1);
        let point_rate = rate(n, |i| points.next_document(run, i).as_bytes().len());
        println!("calls: {call_rate:.0} docs/s, points: {point_rate:.0} docs/s");
    }
}
