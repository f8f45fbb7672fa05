//! Start times: the inverse of the cumulative call volume, over a backfill's window or endless
//! for a live run, with the hour-of-day profile read on each zone's local clock.

use std::sync::Arc;

use super::super::model::CallModel;
use super::super::scenario::{Scenario, ScenarioKind};
use super::super::zones::{Clocks, LocalClocks, MS_PER_HOUR, ZONES, hour_of_week};
use super::{CallParams, MS_PER_DAY};

/// How far ahead a live run's schedule is tabled: ten years, past which its last hour's rate
/// goes on.
const LIVE_HOURS: usize = 10 * 365 * 24;

/// Volume of each local hour of the week (Monday 00:00–01:00 first), in weight × hours.
fn week_volume(model: &CallModel) -> [f64; 168] {
    std::array::from_fn(|k| model.weekday_weights[k / 24] * model.hour_weights[k % 24])
}

/// The call volume per hour of a population spread over zones: for each hour, the zones' shares
/// times the profile at the zones' local hour of the week.
#[derive(Debug, Clone)]
pub(crate) struct Volume {
    clocks: Arc<Clocks>,
    week: Arc<[f64; 168]>,
    shares: [f64; ZONES],
}

impl Volume {
    fn new(first_hour: i64, hours: usize, shares: [f64; ZONES], model: &CallModel) -> Self {
        let fixed = model.time_zone.fixed();
        Self {
            clocks: Arc::new(Clocks::new(first_hour, hours.max(1), fixed)),
            week: Arc::new(week_volume(model)),
            shares,
        }
    }

    /// Volume per hour of each zone at absolute hour `hour`.
    #[inline]
    fn by_zone(&self, hour: i64) -> [f64; ZONES] {
        let offsets = self.clocks.offsets(hour);
        std::array::from_fn(|z| self.shares[z] * self.week[hour_of_week(hour, offsets[z])])
    }

    /// Every zone's clock at `t_ms`: where subscribers are then.
    #[inline]
    pub(crate) fn clocks_at(&self, t_ms: i64) -> LocalClocks {
        let hour = t_ms.div_euclid(MS_PER_HOUR);
        LocalClocks::new(hour, *self.clocks.offsets(hour))
    }

    /// Total volume per hour at absolute hour `hour`.
    fn at(&self, hour: i64) -> f64 {
        self.by_zone(hour).iter().sum()
    }

    /// The zone a call starting at `t_ms` is placed from, given `u` uniform in [0, 1): each zone
    /// in proportion to its part of the volume at that instant.
    #[inline]
    pub(crate) fn zone(&self, t_ms: i64, u: f64) -> usize {
        let mut parts = self.by_zone(t_ms.div_euclid(MS_PER_HOUR));
        if parts.iter().sum::<f64>() <= 0.0 {
            // No zone calls at this hour (only where a quiet window fell back to a flat rate).
            parts = self.shares;
        }
        let mut x = u * parts.iter().sum::<f64>();
        for (z, part) in parts.iter().enumerate() {
            if x < *part {
                return z;
            }
            x -= part;
        }
        // Rounding left `x` at the very top: the last zone with any volume.
        parts.iter().rposition(|p| *p > 0.0).unwrap_or(0)
    }
}

/// The start-time sampler: the inverse of the cumulative call volume over the window, stratified
/// over the run.
///
/// The volume per millisecond is, summed over the zones, the zone's share of the subscribers times
/// `HOUR_WEIGHTS[hour] × WEEKDAY_WEIGHTS[weekday]` of the zone's local clock (daylight saving time
/// included), so it is constant within each UTC hour. `G(t)`, the volume from the first whole hour
/// of the window up to `t`, is a prefix sum over a table of those hours plus the elapsed part of
/// the hour (partial first and last hours count pro rata); inverting it is a binary search over
/// the table.
#[derive(Debug, Clone)]
pub(crate) struct StartTimes {
    /// First millisecond of the window.
    start_ms: i64,
    /// Last millisecond of the window (the end is exclusive).
    last_ms: i64,
    /// Absolute hour of the table's first hour, where `G` is 0.
    first_hour: i64,
    /// `G` at the start of each tabled hour; one more entry than hours.
    cumulative: Arc<[f64]>,
    /// Where to start looking in `cumulative` for a volume: entry `j` is the hour that holds
    /// volume `j / guide_scale`, so a lookup steps over a few hours instead of a binary search
    /// over all of them (empty when flat).
    guide: Arc<[u32]>,
    guide_scale: f64,
    /// The volume behind the table, also used to pick a call's zone.
    pub(crate) volume: Volume,
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
    pub(crate) fn new(params: &CallParams, count: u32, shares: [f64; ZONES]) -> Self {
        let end_ms = params.end.timestamp_millis();
        let start_ms = end_ms - i64::from(params.days.max(1)) * MS_PER_DAY;
        let first_hour = start_ms.div_euclid(MS_PER_HOUR);
        let hours = (end_ms - 1).div_euclid(MS_PER_HOUR) - first_hour + 1;
        let mut s = Self::tabled(
            start_ms,
            first_hour,
            hours as usize,
            shares,
            &params.model,
            false,
        );
        s.last_ms = end_ms - 1;
        // Only used when the window fell back to a flat rate: the window's length per share.
        s.per_ms = 1.0 / (end_ms - start_ms) as f64;
        s.count = f64::from(count.max(1));
        s.cap = 1.0;
        s.surge = surge_of(params.scenario);
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
        shares: [f64; ZONES],
        model: &CallModel,
    ) -> Self {
        let hourly_mean = week_volume(model).iter().sum::<f64>() / 168.0;
        let per_hour = per_second.max(1e-9) * 3600.0;
        let first_hour = start_ms.div_euclid(MS_PER_HOUR);
        let mut s = Self::tabled(start_ms, first_hour, LIVE_HOURS, shares, model, !shaped);
        // The volume of one call.
        s.g_span = if shaped { hourly_mean } else { 1.0 } / per_hour;
        s.per_ms = per_second.max(1e-9) / 1000.0;
        s.surge = surge_of(scenario);
        s.g_start = s.surged(start_ms);
        s
    }

    /// A schedule over `hours` hours from absolute hour `first_hour`, the cumulative volume
    /// tabled unless `flat`.
    fn tabled(
        start_ms: i64,
        first_hour: i64,
        hours: usize,
        shares: [f64; ZONES],
        model: &CallModel,
        mut flat: bool,
    ) -> Self {
        let volume = Volume::new(first_hour, hours, shares, model);
        let mut cumulative = Vec::with_capacity(if flat { 1 } else { hours + 1 });
        cumulative.push(0.0);
        if !flat {
            let mut g = 0.0;
            for h in 0..hours {
                g += volume.at(first_hour + h as i64);
                cumulative.push(g);
            }
            // A window where nobody calls (a model's quiet hours only): spread calls evenly.
            if g <= 0.0 {
                flat = true;
                cumulative.truncate(1);
            }
        }
        let (guide, guide_scale) = guide(&cumulative);
        Self {
            start_ms,
            last_ms: i64::MAX,
            first_hour,
            cumulative: cumulative.into(),
            guide,
            guide_scale,
            volume,
            g_start: 0.0,
            g_span: 0.0,
            count: 1.0,
            cap: f64::INFINITY,
            flat,
            per_ms: 0.0,
            surge: None,
        }
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

    /// `G(t)`: the volume from the table's first hour to `t`; past the table its last hour's
    /// rate goes on.
    fn volume_to(&self, t: i64) -> f64 {
        let offset = t - self.first_hour * MS_PER_HOUR;
        if self.flat {
            return offset as f64 / MS_PER_HOUR as f64;
        }
        let hours = self.cumulative.len() - 1;
        let h = (offset.div_euclid(MS_PER_HOUR).max(0) as usize).min(hours - 1);
        let rate = self.cumulative[h + 1] - self.cumulative[h];
        let in_hours = (offset - h as i64 * MS_PER_HOUR) as f64 / MS_PER_HOUR as f64;
        self.cumulative[h] + in_hours * rate
    }

    /// Start of call `index`, given `u` uniform in [0, 1) from the call's own stream:
    /// `G⁻¹(G(start) + (index + u) / count × window volume)`, in whole milliseconds.
    ///
    /// Non-decreasing in `index + u`, hence in `index`: every step below is monotone, and each
    /// result is clamped into its own hour and finally the window, so rounding can neither
    /// reorder calls nor leave the window.
    #[inline]
    pub(crate) fn at(&self, index: u64, u: f64) -> i64 {
        let share = ((index as f64 + u) / self.count).min(self.cap);
        let x = self.g_start + share * self.g_span;
        if self.flat && self.surge.is_none() {
            return self.start_ms.saturating_add((share / self.per_ms) as i64);
        }
        let x = self.unsurged(x);
        if self.flat {
            let ms = (x * MS_PER_HOUR as f64) as i64;
            return (self.first_hour * MS_PER_HOUR + ms).clamp(self.start_ms, self.last_ms);
        }
        let hours = self.cumulative.len() - 1;
        let h = self.hour_of(x);
        let rate = self.cumulative[h + 1] - self.cumulative[h];
        let ms = if rate > 0.0 {
            let in_hours = ((x - self.cumulative[h]) / rate).max(0.0);
            // Inside the table a call stays in its hour; past it the last rate goes on.
            let ms = (in_hours * MS_PER_HOUR as f64) as i64;
            if h + 1 < hours {
                ms.min(MS_PER_HOUR - 1)
            } else {
                ms
            }
        } else {
            0
        };
        let t = (self.first_hour + h as i64) * MS_PER_HOUR + ms;
        t.clamp(self.start_ms, self.last_ms)
    }

    /// The tabled hour holding volume `x`.
    #[inline]
    fn hour_of(&self, x: f64) -> usize {
        find(&self.cumulative, &self.guide, self.guide_scale, x)
    }
}

/// How many of `cumulative[1..hours]` are `<= x`, as a binary search counts them; `guide` (see
/// [`StartTimes::guide`]) only says where to start.
#[inline]
fn find(cumulative: &[f64], guide: &[u32], scale: f64, x: f64) -> usize {
    let bounds = &cumulative[1..cumulative.len() - 1];
    if x.is_nan() || guide.is_empty() {
        return bounds.partition_point(|&c| c <= x);
    }
    let j = ((x * scale) as usize).min(guide.len() - 1);
    let mut h = guide[j] as usize;
    while h > 0 && bounds[h - 1] > x {
        h -= 1;
    }
    while h < bounds.len() && bounds[h] <= x {
        h += 1;
    }
    h
}

/// Largest guide: a live run's ten years of hours share entries, a few hours each.
const GUIDE_MAX: usize = 16_384;

/// The guide of a cumulative table (see [`StartTimes::guide`]) and its scale.
fn guide(cumulative: &[f64]) -> (Arc<[u32]>, f64) {
    let hours = cumulative.len().saturating_sub(1);
    let total = cumulative.last().copied().unwrap_or(0.0);
    if hours < 2 || total <= 0.0 {
        return (Arc::from([]), 0.0);
    }
    let bounds = &cumulative[1..hours];
    let m = hours.min(GUIDE_MAX);
    let scale = m as f64 / total;
    let guide = (0..m)
        .map(|j| bounds.partition_point(|&c| c <= j as f64 / scale) as u32)
        .collect();
    (guide, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_finds_the_hour_a_binary_search_finds() {
        // Quiet hours (equal bounds), a table longer than the guide, volumes past either end.
        for hours in [2, 3, 720, 40_000] {
            let mut cumulative = vec![0.0];
            for h in 0..hours {
                let v = if h % 7 < 2 {
                    0.0
                } else {
                    (h % 5) as f64 + 0.25
                };
                cumulative.push(cumulative[h] + v);
            }
            let (guide, scale) = guide(&cumulative);
            let total = cumulative[hours];
            let bounds = &cumulative[1..hours];
            let mut xs: Vec<f64> = (0..20_000).map(|i| total * (i as f64 / 19_000.0)).collect();
            xs.extend(bounds.iter().copied());
            xs.extend([-1.0, 0.0, f64::NAN, f64::INFINITY, total * 1e9]);
            for x in xs {
                assert_eq!(
                    find(&cumulative, &guide, scale, x),
                    bounds.partition_point(|&c| c <= x),
                    "{hours} hours, x = {x}"
                );
            }
        }
    }
}
