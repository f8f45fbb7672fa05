//! Start times: the inverse of the cumulative call volume, over a backfill's window or endless
//! for a live run.

use super::super::scenario::{Scenario, ScenarioKind};
use super::{
    CallParams, FIRST_MONDAY_MS, HOUR_WEIGHTS, HOURS_PER_WEEK, MS_PER_DAY, MS_PER_HOUR,
    MS_PER_WEEK, WEEKDAY_WEIGHTS,
};

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
pub(super) struct StartTimes {
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
    /// Calls in the run, at least 1 (1 for a live run, whose `g_span` is the volume per call).
    count: f64,
    /// Largest share of the window a call may sit at: 1 for a window, unbounded for a live run.
    cap: f64,
    /// Volume is one per hour whatever the hour (a live run at a flat rate).
    flat: bool,
    /// Calls per millisecond of a flat live run (exact arithmetic on whole milliseconds).
    per_ms: f64,
    /// A surge: `[from, to)` ms with the volume multiplied by the factor.
    surge: Option<(i64, i64, f64)>,
}

/// The surge of `scenario`, if it is one.
fn surge_of(scenario: Option<Scenario>) -> Option<(i64, i64, f64)> {
    scenario
        .filter(|s| s.kind == ScenarioKind::Surge)
        .map(|s| (s.start_ms, s.end_ms, s.factor))
}

impl StartTimes {
    pub(super) fn new(params: CallParams, count: u32) -> Self {
        let end_ms = params.end.timestamp_millis();
        let start_ms = end_ms - i64::from(params.days.max(1)) * MS_PER_DAY;
        let mut s = Self {
            start_ms,
            last_ms: end_ms - 1,
            anchor_ms: start_ms - (start_ms - FIRST_MONDAY_MS).rem_euclid(MS_PER_WEEK),
            g_start: 0.0,
            g_span: 0.0,
            count: f64::from(count.max(1)),
            cap: 1.0,
            flat: false,
            per_ms: 0.0,
            surge: surge_of(params.scenario),
        };
        s.g_start = s.surged(start_ms);
        s.g_span = s.surged(end_ms) - s.g_start;
        s
    }

    /// The endless schedule of a live run from `start_ms` at `per_second` calls a second (a
    /// week's average when not `flat`).
    pub(super) fn live(
        start_ms: i64,
        per_second: f64,
        shaped: bool,
        scenario: Option<Scenario>,
    ) -> Self {
        let hourly_mean = WEEK_CUMULATIVE[HOURS_PER_WEEK] / HOURS_PER_WEEK as f64;
        let per_hour = per_second.max(1e-9) * 3600.0;
        let mut s = Self {
            start_ms,
            last_ms: i64::MAX,
            anchor_ms: start_ms - (start_ms - FIRST_MONDAY_MS).rem_euclid(MS_PER_WEEK),
            g_start: 0.0,
            // The volume of one call.
            g_span: if shaped { hourly_mean } else { 1.0 } / per_hour,
            count: 1.0,
            cap: f64::INFINITY,
            flat: !shaped,
            per_ms: per_second.max(1e-9) / 1000.0,
            surge: surge_of(scenario),
        };
        s.g_start = s.surged(start_ms);
        s
    }

    /// Calls of a live schedule due before `t`: `⌊(G(t) − G(start)) / volume per call⌋`.
    pub(super) fn due_before(&self, t: i64) -> u64 {
        if t <= self.start_ms {
            return 0;
        }
        if self.flat && self.surge.is_none() {
            return ((t - self.start_ms) as f64 * self.per_ms).floor() as u64;
        }
        // The margin absorbs rounding of sums that are whole numbers of calls in exact arithmetic.
        ((self.surged(t) - self.g_start) / self.g_span + 1e-6).floor() as u64
    }

    /// `G'(t)`: `G` with a surge's extra volume, `(factor − 1) × (G(min(t, to)) − G(from))` from
    /// `from` on.
    fn surged(&self, t: i64) -> f64 {
        let g = self.volume_to(t);
        match self.surge {
            Some((from, to, k)) if t > from => {
                g + (k - 1.0) * (self.volume_to(t.min(to)) - self.volume_to(from))
            }
            _ => g,
        }
    }

    /// Back from `G'` to `G`: the point of the plain curve a surged volume `x` corresponds to.
    fn unsurged(&self, x: f64) -> f64 {
        let Some((from, to, k)) = self.surge else {
            return x;
        };
        let (a, b) = (self.volume_to(from), self.volume_to(to));
        if x <= a {
            x
        } else if x <= a + k * (b - a) {
            a + (x - a) / k
        } else {
            x - (k - 1.0) * (b - a)
        }
    }

    /// `G(t)` for `t` at or after the anchor.
    fn volume_to(&self, t: i64) -> f64 {
        let offset = t - self.anchor_ms;
        if self.flat {
            return offset as f64 / MS_PER_HOUR as f64;
        }
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
    pub(super) fn at(&self, index: u64, u: f64) -> i64 {
        let share = ((index as f64 + u) / self.count).min(self.cap);
        let x = self.g_start + share * self.g_span;
        if self.flat && self.surge.is_none() {
            return self.start_ms.saturating_add((share / self.per_ms) as i64);
        }
        let x = self.unsurged(x);
        if self.flat {
            let ms = (x * MS_PER_HOUR as f64) as i64;
            return (self.anchor_ms + ms).clamp(self.start_ms, self.last_ms);
        }
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
