//! Telephone call records (CDRs) with the distributions of real traffic.
//!
//! The model, documented for users in the README:
//! - caller and callee: distinct valid NANP numbers in E.164 form, `+1 NXX NXX XXXX` with N = 2–9
//!   and X = 0–9, where neither the area code nor the exchange is a reserved N11 code (211 … 911);
//!   digits from `fake`'s number formatter, drafts breaking a rule drawn again;
//! - call type: voice 70 %, video 22 %, conference 8 %;
//! - status: completed 85 %, missed 6 %, busy 4 %, failed 5 %;
//! - start time: over the window `[end - days, end)` with a call volume per millisecond of
//!   `HOUR_WEIGHTS[hour] × WEEKDAY_WEIGHTS[weekday]` (UTC clock hour; business hours busy, weekends
//!   quieter), partial first and last hours counted pro rata. A run is emitted in start-time order
//!   by stratified inverse-CDF sampling: with `F` the cumulative share of the window's volume, call
//!   `i` of a run of `count` starts at `F⁻¹((i + u) / count)`, `u` uniform in [0, 1) from the call's
//!   own stream. Start times are therefore non-decreasing in `i`, each call stays a pure function
//!   of (parameters, seed, count, `i`), and hour-of-day and weekday shares are exactly those of
//!   the weights (closer to them than independent draws would be);
//! - duration (completed calls only): log-normal, median 60 s (μ = ln 60, σ = 1.2), clipped to
//!   1 s – 7200 s, whole seconds;
//! - end time: start + duration for completed calls, start + ring/attempt time for the others;
//! - cost: connection fee + per-minute rate × minutes rounded up, for completed calls only; a call
//!   that did not connect has no `duration` field and costs 0.

use chrono::{DateTime, Utc};
use fake::Fake;
use fake::faker::number::raw::NumberWithFormat;
use fake::locales::EN;

use super::RunId;
use super::bson::DocWriter;
use super::rng::{self, DocRng};

/// The kind of call, which sets its price per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallType {
    /// A plain voice call.
    Voice,
    /// A video call.
    Video,
    /// A multi-party conference call.
    Conference,
}

impl CallType {
    /// Every call type, in the order of [`CALL_TYPE_WEIGHTS`].
    pub const ALL: [CallType; 3] = [CallType::Voice, CallType::Video, CallType::Conference];

    /// The value stored in the `call_type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Voice => "voice",
            CallType::Video => "video",
            CallType::Conference => "conference",
        }
    }

    /// Price per started minute, in USD.
    pub fn rate_per_minute(self) -> f64 {
        match self {
            CallType::Voice => 0.02,
            CallType::Video => 0.05,
            CallType::Conference => 0.08,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// Connected and talked; the only status with a duration and a cost.
    Completed,
    /// Rang out unanswered.
    Missed,
    /// The callee was busy.
    Busy,
    /// The network failed to set the call up.
    Failed,
}

impl CallStatus {
    /// Every status, in the order of [`STATUS_WEIGHTS`].
    pub const ALL: [CallStatus; 4] = [
        CallStatus::Completed,
        CallStatus::Missed,
        CallStatus::Busy,
        CallStatus::Failed,
    ];

    /// The value stored in the `status` field.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Completed => "completed",
            CallStatus::Missed => "missed",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
        }
    }
}

/// Relative frequency of each [`CallType`].
pub const CALL_TYPE_WEIGHTS: [f64; 3] = [0.70, 0.22, 0.08];
/// Relative frequency of each [`CallStatus`].
pub const STATUS_WEIGHTS: [f64; 4] = [0.85, 0.06, 0.04, 0.05];
/// Call volume by hour of day (UTC), peak 1.0 in business hours.
pub const HOUR_WEIGHTS: [f64; 24] = [
    0.10, 0.07, 0.05, 0.05, 0.06, 0.10, 0.25, 0.50, 0.80, 0.95, 1.00, 0.98, 0.85, 0.92, 1.00, 0.97,
    0.90, 0.75, 0.60, 0.50, 0.42, 0.35, 0.25, 0.16,
];
/// Call volume by day of week, Monday first.
pub const WEEKDAY_WEIGHTS: [f64; 7] = [1.00, 1.00, 0.98, 0.97, 0.92, 0.45, 0.35];
/// μ of the log-normal duration: ln(60 s), so the median completed call lasts a minute.
pub const DURATION_MU: f64 = 4.094_344_562_222_1;
/// σ of the log-normal duration.
pub const DURATION_SIGMA: f64 = 1.2;
/// Shortest and longest completed call, in seconds.
pub const DURATION_BOUNDS: (u32, u32) = (1, 7200);
/// Flat fee charged once per completed call, in USD.
pub const CONNECTION_FEE: f64 = 0.05;
/// Draft of a phone number for `fake`: `+1`, area code, exchange, line (`^` is 1–9, `#` is 0–9);
/// [`phone_number`] keeps only drafts that are valid NANP numbers.
const PHONE_FORMAT: &str = "+1^##^######";

/// What a request may choose about the calls it generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallParams {
    /// End of the time window (exclusive); start times fall in `[end - days, end)`.
    pub end: DateTime<Utc>,
    /// Length of the window in days.
    pub days: u32,
}

/// One generated call, before it is written as BSON.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// UUID v4, lower-case hyphenated.
    pub call_id: String,
    /// Calling number, E.164.
    pub caller: String,
    /// Called number, E.164, never equal to `caller`.
    pub callee: String,
    /// Kind of call.
    pub call_type: CallType,
    /// How it ended.
    pub status: CallStatus,
    /// Start, milliseconds since the epoch.
    pub start_ms: i64,
    /// End, milliseconds since the epoch, never before the start.
    pub end_ms: i64,
    /// Talk time in seconds, for completed calls only.
    pub duration: Option<u32>,
    /// Charge in USD, 0 unless completed.
    pub cost: f64,
}

/// Produces the call records of one run (parameters, seed, count); cheap to build, `Sync`, no
/// mutable state, so any record can be produced on its own.
#[derive(Debug, Clone)]
pub struct CallGenerator {
    seed: u64,
    start_times: StartTimes,
    type_cum: [f64; 3],
    status_cum: [f64; 4],
}

const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 86_400_000;
const MS_PER_WEEK: i64 = 7 * MS_PER_DAY;
const HOURS_PER_WEEK: usize = 168;
/// 1970-01-05T00:00Z, the first Monday after the epoch: the start of hour-of-week 0.
const FIRST_MONDAY_MS: i64 = 4 * MS_PER_DAY;

impl CallGenerator {
    /// A generator for a run of `count` calls with `params` and `seed`.
    ///
    /// The count is part of the run because start times are stratified over it: call `i` of `count`
    /// starts in the `i`-th of `count` equal shares of the window's call volume.
    pub fn new(params: CallParams, seed: u64, count: u32) -> Self {
        Self {
            seed,
            start_times: StartTimes::new(params, count),
            type_cum: rng::cumulative(CALL_TYPE_WEIGHTS),
            status_cum: rng::cumulative(STATUS_WEIGHTS),
        }
    }

    /// Call number `index` of the run.
    pub fn record(&self, index: u64) -> CallRecord {
        let mut rng = rng::stream_rng(self.seed, index);
        let call_id = uuid_v4(&mut rng);
        let caller = phone_number(&mut rng);
        let callee = loop {
            let n = phone_number(&mut rng);
            if n != caller {
                break n;
            }
        };
        let call_type = CallType::ALL[rng::weighted(&mut rng, &self.type_cum)];
        let status = CallStatus::ALL[rng::weighted(&mut rng, &self.status_cum)];
        let start_ms = self.start_times.at(index, rng::unit(&mut rng));
        let (duration, end_ms, cost) = match status {
            CallStatus::Completed => {
                let d = duration_seconds(&mut rng);
                (Some(d), start_ms + i64::from(d) * 1000, cost(call_type, d))
            }
            // Rings for 15–45 s before giving up.
            CallStatus::Missed => (None, start_ms + ms_between(&mut rng, 15_000, 45_000), 0.0),
            // Busy tone after a second or two.
            CallStatus::Busy => (None, start_ms + ms_between(&mut rng, 500, 3_000), 0.0),
            // Set-up fails within a few seconds.
            CallStatus::Failed => (None, start_ms + ms_between(&mut rng, 100, 8_000), 0.0),
        };
        CallRecord {
            call_id,
            caller,
            callee,
            call_type,
            status,
            start_ms,
            end_ms,
            duration,
            cost,
        }
    }

    /// Call number `index` of `run`, as the BSON document that is inserted.
    #[inline]
    pub fn document(&self, run: RunId, index: u32) -> bson::RawDocumentBuf {
        let r = self.record(u64::from(index));
        let mut w = DocWriter::with_capacity(256);
        w.object_id("_id", run.object_id(index));
        w.string("call_id", &r.call_id);
        w.string("caller", &r.caller);
        w.string("callee", &r.callee);
        w.string("call_type", r.call_type.as_str());
        w.string("status", r.status.as_str());
        w.datetime("start_time", r.start_ms);
        w.datetime("end_time", r.end_ms);
        if let Some(d) = r.duration {
            w.int32("duration", d as i32);
        }
        w.double("cost", r.cost);
        w.finish()
    }
}

/// Volume of each hour of the week (Monday 00:00–01:00 UTC first), in weight × hours.
const WEEK_VOLUME: [f64; HOURS_PER_WEEK] = {
    let mut v = [0.0; HOURS_PER_WEEK];
    let mut k = 0;
    while k < HOURS_PER_WEEK {
        v[k] = WEEKDAY_WEIGHTS[k / 24] * HOUR_WEIGHTS[k % 24];
        k += 1;
    }
    v
};

/// Volume from the start of the week to the start of each hour; the last entry is the week's.
const WEEK_CUMULATIVE: [f64; HOURS_PER_WEEK + 1] = {
    let mut c = [0.0; HOURS_PER_WEEK + 1];
    let mut k = 0;
    while k < HOURS_PER_WEEK {
        c[k + 1] = c[k] + WEEK_VOLUME[k];
        k += 1;
    }
    c
};

/// The start-time sampler: the inverse of the cumulative call volume over the window, stratified
/// over the run.
///
/// The volume per millisecond is `HOUR_WEIGHTS[hour] × WEEKDAY_WEIGHTS[weekday]` of the UTC clock
/// hour the millisecond falls in, which repeats every week. `G(t)`, the volume from the Monday
/// 00:00 UTC at or before the window start up to `t`, is whole weeks times the week's volume plus a
/// lookup in [`WEEK_CUMULATIVE`], so the window may start and end anywhere (partial hours count pro
/// rata) and the sampler needs no table as long as the window: inverting is a binary search over
/// the 168 hours of one week.
#[derive(Debug, Clone)]
struct StartTimes {
    /// First millisecond of the window.
    start_ms: i64,
    /// Last millisecond of the window (the end is exclusive).
    last_ms: i64,
    /// Monday 00:00 UTC at or before `start_ms`, where `G` is 0.
    anchor_ms: i64,
    /// `G(start)`.
    g_start: f64,
    /// `G(end) - G(start)`, the window's volume.
    g_span: f64,
    /// Calls in the run, at least 1.
    count: f64,
}

impl StartTimes {
    fn new(params: CallParams, count: u32) -> Self {
        let end_ms = params.end.timestamp_millis();
        let start_ms = end_ms - i64::from(params.days.max(1)) * MS_PER_DAY;
        let mut s = Self {
            start_ms,
            last_ms: end_ms - 1,
            anchor_ms: start_ms - (start_ms - FIRST_MONDAY_MS).rem_euclid(MS_PER_WEEK),
            g_start: 0.0,
            g_span: 0.0,
            count: f64::from(count.max(1)),
        };
        s.g_start = s.volume_to(start_ms);
        s.g_span = s.volume_to(end_ms) - s.g_start;
        s
    }

    /// `G(t)` for `t` at or after the anchor.
    fn volume_to(&self, t: i64) -> f64 {
        let offset = t - self.anchor_ms;
        let weeks = offset.div_euclid(MS_PER_WEEK);
        let in_week = offset.rem_euclid(MS_PER_WEEK);
        let hour = (in_week / MS_PER_HOUR) as usize;
        let in_hour = (in_week % MS_PER_HOUR) as f64 / MS_PER_HOUR as f64;
        weeks as f64 * WEEK_CUMULATIVE[HOURS_PER_WEEK]
            + WEEK_CUMULATIVE[hour]
            + in_hour * WEEK_VOLUME[hour]
    }

    /// Start of call `index`, given `u` uniform in [0, 1) from the call's own stream:
    /// `G⁻¹(G(start) + (index + u) / count × window volume)`, in whole milliseconds.
    ///
    /// Non-decreasing in `index + u`, hence in `index`: every step below is monotone, and each
    /// result is clamped into its own hour, week and finally the window, so rounding can neither
    /// reorder calls nor leave the window.
    #[inline]
    fn at(&self, index: u64, u: f64) -> i64 {
        let share = ((index as f64 + u) / self.count).min(1.0);
        let x = self.g_start + share * self.g_span;
        let week_volume = WEEK_CUMULATIVE[HOURS_PER_WEEK];
        let weeks = (x / week_volume).floor().max(0.0);
        let in_week = (x - weeks * week_volume).clamp(0.0, week_volume);
        let hour = WEEK_CUMULATIVE[1..HOURS_PER_WEEK].partition_point(|&c| c <= in_week);
        let in_hour = ((in_week - WEEK_CUMULATIVE[hour]) / WEEK_VOLUME[hour]).clamp(0.0, 1.0);
        let ms = ((in_hour * MS_PER_HOUR as f64) as i64).min(MS_PER_HOUR - 1);
        let t = self.anchor_ms + weeks as i64 * MS_PER_WEEK + hour as i64 * MS_PER_HOUR + ms;
        t.clamp(self.start_ms, self.last_ms)
    }
}

/// Charge for a completed call: [`CONNECTION_FEE`] plus the type's rate per started minute,
/// rounded to the cent. One function so the price list can be checked against literal cases.
pub fn cost(call_type: CallType, duration_secs: u32) -> f64 {
    let minutes = duration_secs.div_ceil(60);
    round_cents(CONNECTION_FEE + f64::from(minutes) * call_type.rate_per_minute())
}

/// A valid NANP number in E.164 form, `+1 NXX NXX XXXX`.
///
/// `fake` draws the digits from [`PHONE_FORMAT`], whose `^` is 1–9 and `#` is 0–9; drafts with an
/// area code or exchange starting with 1, or of the reserved N11 form (211, 311, … 911), are drawn
/// again (23 % of drafts), so accepted numbers are uniform over the valid ones.
fn phone_number(rng: &mut DocRng) -> String {
    loop {
        let n: String = NumberWithFormat(EN, PHONE_FORMAT).fake_with_rng(rng);
        let d = n.as_bytes();
        if nanp_code_ok(d[2], d[3], d[4]) && nanp_code_ok(d[5], d[6], d[7]) {
            return n;
        }
    }
}

/// Whether three ASCII digits form an `NXX` code that is not `N11`.
#[inline]
fn nanp_code_ok(a: u8, b: u8, c: u8) -> bool {
    a >= b'2' && !(b == b'1' && c == b'1')
}

/// Log-normal talk time in whole seconds, clipped to [`DURATION_BOUNDS`].
fn duration_seconds(rng: &mut DocRng) -> u32 {
    let secs = (DURATION_MU + DURATION_SIGMA * rng::normal(rng))
        .exp()
        .round();
    secs.clamp(f64::from(DURATION_BOUNDS.0), f64::from(DURATION_BOUNDS.1)) as u32
}

fn ms_between(rng: &mut DocRng, lo: i64, hi: i64) -> i64 {
    lo + rng::below(rng, (hi - lo) as u64) as i64
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A random (version 4) UUID drawn from the seeded generator, hyphenated lower case.
fn uuid_v4(rng: &mut DocRng) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rand::Rng::next_u64(rng).to_le_bytes());
    bytes[8..].copy_from_slice(&rand::Rng::next_u64(rng).to_le_bytes());
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut buf).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::stats;
    use chrono::{Datelike, TimeZone, Timelike};
    use std::sync::OnceLock;

    /// Four whole weeks ending at midnight UTC: every hour of the week occurs equally often, so the
    /// expected hour-of-day and weekday shares are the weight tables themselves.
    fn four_weeks() -> CallParams {
        CallParams {
            end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            days: 28,
        }
    }

    /// Calls in the shared run the distribution tests read.
    const N: u32 = 120_000;

    /// One run of [`N`] calls over [`four_weeks`], generated once for all tests that read it.
    fn run() -> &'static [CallRecord] {
        static RUN: OnceLock<Vec<CallRecord>> = OnceLock::new();
        RUN.get_or_init(|| {
            let g = CallGenerator::new(four_weeks(), 7, N);
            (0..u64::from(N)).map(|i| g.record(i)).collect()
        })
    }

    fn window_ms(p: CallParams) -> (i64, i64) {
        let end = p.end.timestamp_millis();
        (end - i64::from(p.days) * MS_PER_DAY, end)
    }

    /// NANP rules spelled out independently of the generator: `+1`, then `NXX NXX XXXX` with N
    /// in 2–9, and neither the area code nor the exchange of the reserved N11 form.
    fn valid_nanp(n: &str) -> bool {
        let Some(digits) = n.strip_prefix("+1") else {
            return false;
        };
        if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let area: u32 = digits[..3].parse().unwrap();
        let exchange: u32 = digits[3..6].parse().unwrap();
        [area, exchange]
            .iter()
            .all(|&code| code >= 200 && code % 100 != 11)
    }

    #[test]
    fn same_seed_same_records_and_documents() {
        let g = |seed| CallGenerator::new(four_weeks(), seed, 100_000);
        let (a, b) = (g(9), g(9));
        let run = RunId::new(1, 2);
        for i in [0u32, 1, 17, 99_999] {
            assert_eq!(a.record(i.into()), b.record(i.into()));
            assert_eq!(a.document(run, i), b.document(run, i));
        }
        assert_ne!(a.record(0), g(10).record(0));
    }

    #[test]
    fn records_do_not_depend_on_production_order() {
        let count = 10_000u64;
        let g = CallGenerator::new(four_weeks(), 11, count as u32);
        let forward: Vec<CallRecord> = (0..count).map(|i| g.record(i)).collect();
        // Backwards, and in a scrambled order (7919 is prime, so i × 7919 mod count visits every
        // index once), from a second generator as another batch or thread would build it.
        let other = CallGenerator::new(four_weeks(), 11, count as u32);
        for i in (0..count).rev() {
            assert_eq!(other.record(i), forward[i as usize]);
        }
        for k in 0..count {
            let i = k * 7919 % count;
            assert_eq!(other.record(i), forward[i as usize]);
        }
    }

    #[test]
    fn start_times_are_in_order_and_fill_the_window() {
        let (start, end) = window_ms(four_weeks());
        let calls = run();
        for pair in calls.windows(2) {
            assert!(pair[0].start_ms <= pair[1].start_ms, "{pair:?}");
        }
        assert!(calls[0].start_ms >= start && calls[0].start_ms < start + MS_PER_HOUR);
        let last = calls[calls.len() - 1].start_ms;
        assert!(last < end && last >= end - MS_PER_HOUR, "{last} vs {end}");
    }

    #[test]
    fn every_record_keeps_the_invariants() {
        let (start, end) = window_ms(four_weeks());
        for r in run() {
            assert_ne!(r.caller, r.callee);
            assert!(uuid::Uuid::parse_str(&r.call_id).unwrap().get_version_num() == 4);
            assert!((start..end).contains(&r.start_ms));
            assert!(r.end_ms >= r.start_ms);
            match r.status {
                CallStatus::Completed => {
                    let d = r.duration.expect("completed call has a duration");
                    assert!((1..=7200).contains(&d));
                    assert_eq!(r.end_ms - r.start_ms, i64::from(d) * 1000);
                    assert_eq!(r.cost, cost(r.call_type, d), "{r:?}");
                }
                CallStatus::Missed => assert!((15_000..45_000).contains(&(r.end_ms - r.start_ms))),
                CallStatus::Busy => assert!((500..3_000).contains(&(r.end_ms - r.start_ms))),
                CallStatus::Failed => assert!((100..8_000).contains(&(r.end_ms - r.start_ms))),
            }
            if r.status != CallStatus::Completed {
                assert_eq!(r.duration, None);
                assert_eq!(r.cost, 0.0);
            }
        }
    }

    #[test]
    fn every_number_is_a_valid_nanp_number() {
        for r in run() {
            assert!(valid_nanp(&r.caller), "{r:?}");
            assert!(valid_nanp(&r.callee), "{r:?}");
        }
    }

    #[test]
    fn the_former_number_format_fails_the_nanp_check() {
        // What the generator used before: area codes and exchanges starting with 1, and N11.
        let mut rng = rng::stream_rng(1, 0);
        let bad = (0..1000)
            .map(|_| NumberWithFormat(EN, "+1^##^######").fake_with_rng::<String, _>(&mut rng))
            .filter(|n| !valid_nanp(n))
            .count();
        assert!(bad > 100, "{bad} of 1000 invalid");
    }

    #[test]
    fn codes_are_spread_evenly_over_leading_digits() {
        // Each leading digit 2–9 heads 99 valid codes (100 less its N11), so equal shares, for
        // area codes and exchanges alike.
        let mut area = [0u64; 8];
        let mut exchange = [0u64; 8];
        for r in run() {
            for n in [&r.caller, &r.callee] {
                area[usize::from(n.as_bytes()[2] - b'2')] += 1;
                exchange[usize::from(n.as_bytes()[5] - b'2')] += 1;
            }
        }
        stats::assert_fits("area code leading digit", &area, &[1.0; 8]);
        stats::assert_fits("exchange leading digit", &exchange, &[1.0; 8]);
    }

    #[test]
    fn hours_of_day_follow_the_hour_table() {
        let mut counts = [0u64; 24];
        for r in run() {
            let t = Utc.timestamp_millis_opt(r.start_ms).unwrap();
            counts[t.hour() as usize] += 1;
        }
        stats::assert_fits("hour of day", &counts, &HOUR_WEIGHTS);
    }

    #[test]
    fn weekdays_follow_the_weekday_table() {
        let mut counts = [0u64; 7];
        for r in run() {
            let t = Utc.timestamp_millis_opt(r.start_ms).unwrap();
            counts[t.weekday().num_days_from_monday() as usize] += 1;
        }
        stats::assert_fits("weekday", &counts, &WEEKDAY_WEIGHTS);
    }

    #[test]
    fn hours_of_the_week_follow_both_tables_jointly() {
        let mut counts = [0u64; 168];
        let mut weights = [0.0; 168];
        for r in run() {
            let t = Utc.timestamp_millis_opt(r.start_ms).unwrap();
            counts[t.weekday().num_days_from_monday() as usize * 24 + t.hour() as usize] += 1;
        }
        for (k, w) in weights.iter_mut().enumerate() {
            *w = WEEKDAY_WEIGHTS[k / 24] * HOUR_WEIGHTS[k % 24];
        }
        stats::assert_fits("hour of week", &counts, &weights);
    }

    #[test]
    fn status_and_type_shares_follow_their_tables() {
        let mut status = [0u64; 4];
        let mut types = [0u64; 3];
        for r in run() {
            status[CallStatus::ALL.iter().position(|s| *s == r.status).unwrap()] += 1;
            types[CallType::ALL
                .iter()
                .position(|t| *t == r.call_type)
                .unwrap()] += 1;
        }
        stats::assert_fits("status", &status, &[0.85, 0.06, 0.04, 0.05]);
        stats::assert_fits("call type", &types, &[0.70, 0.22, 0.08]);
    }

    #[test]
    fn completed_durations_follow_the_clipped_log_normal() {
        // Documented: log-normal with μ = ln 60, σ = 1.2, rounded to whole seconds, clipped to
        // 1–7200 s. P(D ≤ d) = Φ((ln(d + ½) − μ) / σ) below the top clip (rounding puts every draw
        // under d + ½ at or below d, and the bottom clip adds the mass under 1½ to d = 1).
        let durations: Vec<u32> = run().iter().filter_map(|r| r.duration).collect();
        assert!(durations.len() > 100_000, "{}", durations.len());
        let (mu, sigma) = (60f64.ln(), 1.2);
        let cdf = |d: u32| {
            if d >= 7200 {
                1.0
            } else {
                stats::normal_cdf(((f64::from(d) + 0.5).ln() - mu) / sigma)
            }
        };
        let d = stats::ks_discrete(&durations, 1, 7200, cdf);
        let critical = stats::ks_critical(durations.len());
        assert!(d < critical, "KS D {d} ≥ {critical}");
    }

    #[test]
    fn billing_literal_cases() {
        // $0.05 per call plus the rate per started minute: voice 0.02, video 0.05, conference 0.08.
        assert_eq!(cost(CallType::Video, 61), 0.15);
        assert_eq!(cost(CallType::Voice, 60), 0.07);
        assert_eq!(cost(CallType::Voice, 1), 0.07);
        assert_eq!(cost(CallType::Conference, 1), 0.13);
        assert_eq!(cost(CallType::Conference, 121), 0.29);
        assert_eq!(cost(CallType::Voice, 7200), 2.45);
        assert_eq!(cost(CallType::Video, 7200), 6.05);
        assert_eq!(cost(CallType::Conference, 7199), 9.65);
    }

    #[test]
    fn start_times_invert_the_call_volume_exactly() {
        // A window that starts and ends mid-hour (and mid-week). The cumulative volume F is
        // rebuilt here hour by hour from chrono's calendar, independently of the generator's
        // weekly table; call i of n must start where F lies in [i/n, (i+1)/n].
        let end = Utc.with_ymd_and_hms(2026, 3, 4, 17, 23, 45).unwrap()
            + chrono::Duration::milliseconds(678);
        let params = CallParams { end, days: 3 };
        let (start, end) = window_ms(params);
        let first_hour = start.div_euclid(MS_PER_HOUR) * MS_PER_HOUR;
        let intensity = |hour_start: i64| {
            let t = Utc.timestamp_millis_opt(hour_start).unwrap();
            HOUR_WEIGHTS[t.hour() as usize]
                * WEEKDAY_WEIGHTS[t.weekday().num_days_from_monday() as usize]
        };
        // volume[h] = volume from `start` to the start of clock hour h (counted from first_hour).
        let hours = ((end - first_hour) / MS_PER_HOUR + 2) as usize;
        let mut volume = vec![0.0; hours + 1];
        for h in 0..hours {
            let lo = (first_hour + h as i64 * MS_PER_HOUR).max(start);
            let hi = (first_hour + (h as i64 + 1) * MS_PER_HOUR).min(end);
            let len = (hi - lo).max(0) as f64;
            volume[h + 1] = volume[h] + len * intensity(first_hour + h as i64 * MS_PER_HOUR);
        }
        let total = volume[((end - first_hour) / MS_PER_HOUR + 1) as usize];
        let f = |t: i64| {
            let h = ((t - first_hour) / MS_PER_HOUR) as usize;
            let lo = (first_hour + h as i64 * MS_PER_HOUR).max(start);
            (volume[h] + (t - lo) as f64 * intensity(first_hour + h as i64 * MS_PER_HOUR)) / total
        };
        let n = 20_000u32;
        let g = CallGenerator::new(params, 3, n);
        // A millisecond moves F by far less than this.
        let slack = 1e-7;
        for i in 0..n {
            let t = g.record(u64::from(i)).start_ms;
            assert!((start..end).contains(&t));
            let share = f(t);
            let (lo, hi) = (f64::from(i) / f64::from(n), f64::from(i + 1) / f64::from(n));
            assert!(
                share >= lo - slack && share <= hi + slack,
                "call {i}: F = {share}, expected [{lo}, {hi}]"
            );
        }
    }

    #[test]
    fn a_run_of_one_and_calls_past_the_count_stay_in_the_window() {
        let (start, end) = window_ms(four_weeks());
        let g = CallGenerator::new(four_weeks(), 5, 1);
        for i in [0, 1, 1000] {
            assert!((start..end).contains(&g.record(i).start_ms));
        }
        let empty = CallGenerator::new(four_weeks(), 5, 0);
        assert!((start..end).contains(&empty.record(0).start_ms));
    }
}

#[cfg(test)]
mod pinned {
    use super::*;
    use chrono::TimeZone;

    /// A change here changes every dataset users generated from a seed: make it on purpose only.
    ///
    /// Re-pinned when start times became time-ordered (stratified over the run's count, so call 0
    /// now starts at the beginning of the window), and again when numbers became valid NANP
    /// numbers (drafts with a leading 1 or an N11 code are drawn again, which shifts later draws:
    /// call 500's caller was +12361024819, exchange 102).
    #[test]
    fn seed_42_calls_0_and_500_are_pinned() {
        let end = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let g = CallGenerator::new(CallParams { end, days: 30 }, 42, 1000);
        let printed = format!("{:?}\n{:?}", g.record(0), g.record(500));
        assert_eq!(printed, PINNED, "seed 42 changed:\n{printed}");
    }
    const PINNED: &str = concat!(
        "CallRecord { call_id: \"4fcde64d-1b31-43ec-864e-a00899396947\", caller: \"+12925020006\", callee: \"+13715517423\", call_type: Conference, status: Completed, start_ms: 1790908270560, end_ms: 1790908623560, duration: Some(353), cost: 0.53 }\n",
        "CallRecord { call_id: \"4fe846f5-296a-4982-ba81-9baac77a5a2c\", caller: \"+18257480860\", callee: \"+14782676359\", call_type: Voice, status: Completed, start_ms: 1792170080868, end_ms: 1792170128868, duration: Some(48), cost: 0.07 }",
    );
}
