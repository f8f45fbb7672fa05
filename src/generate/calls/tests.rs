//! Unit tests of the generator: invariants (invariants.rs), geography on the local clock
//! (zones.rs), distributions against the documented tables (distributions.rs), network identities
//! (identities.rs), and pinned seed outputs (pinned.rs); the shared run they read is here.

use super::*;
use crate::generate::RunId;
use crate::generate::params::DEFAULT_SUBSCRIBERS;
use chrono::TimeZone;
use std::sync::OnceLock;

mod distributions;
mod identities;
mod invariants;
mod pinned;
mod zones;

/// Four whole weeks ending at midnight UTC, all in summer time: every local hour of the week
/// occurs four times in every zone, so the expected local hour-of-day and weekday shares are
/// the weight tables themselves.
pub(super) fn four_weeks() -> CallParams {
    CallParams {
        end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        days: 28,
        subscribers: DEFAULT_SUBSCRIBERS,
        scenario: None,
        model: CallModel::default(),
    }
}

/// Calls in the shared run the distribution tests read.
pub(super) const N: u32 = 120_000;

/// One run of [`N`] calls over [`four_weeks`], generated once for all tests that read it.
pub(super) fn run() -> &'static [CallRecord] {
    static RUN: OnceLock<Vec<CallRecord>> = OnceLock::new();
    RUN.get_or_init(|| {
        let g = CallGenerator::new(four_weeks(), 7, N);
        (0..u64::from(N)).map(|i| g.record(i)).collect()
    })
}

pub(super) fn window_ms(p: CallParams) -> (i64, i64) {
    let end = p.end.timestamp_millis();
    (end - i64::from(p.days) * MS_PER_DAY, end)
}

/// A generator of the default (mobile) model, for its tariff.
pub(super) fn generator() -> CallGenerator {
    CallGenerator::new(four_weeks(), 1, 1)
}
