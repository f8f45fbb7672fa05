//! Where subscribers live: the North American time zones, their share of the population and
//! their area codes, and the local clock of each zone hour by hour (daylight saving time
//! included), so the hour-of-day profile can be applied to each caller's own local time.
//!
//! Shares follow the population of the zones (US Census 2020, with Canada's in the same zones):
//! Eastern 47 %, Central 29 %, Mountain 7 % (Arizona, which keeps standard time all year, 2.2 of
//! them), Pacific 16.5 %, Alaska and Hawaii the rest. Area codes are real, in use, and belong to
//! the zone that most of their area keeps; Canadian codes sit in the US zone whose rules their
//! province follows (Toronto with New York, Winnipeg with Chicago, Calgary with Denver, Vancouver
//! with Los Angeles). Saskatchewan (no DST) and Newfoundland (a half-hour offset) are left out so
//! every offset is a whole number of hours.

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;

use super::defaults::{HOUR_WEIGHTS, WEEKDAY_WEIGHTS};

/// One time zone of the population.
#[derive(Debug)]
pub struct Zone {
    /// The IANA zone whose clock its subscribers keep.
    pub tz: Tz,
    /// Share of the population, in percent.
    pub share: f64,
    /// Its area codes; each holds an equal part of the zone's subscribers.
    pub area_codes: &'static [u16],
}

/// Zones in the population.
pub const ZONES: usize = 7;

/// The zones of the North American Numbering Plan that the population is spread over.
pub static NANP: [Zone; ZONES] = [
    Zone {
        tz: Tz::America__New_York,
        share: 47.0,
        area_codes: &[
            201, 202, 203, 207, 212, 215, 216, 239, 240, 248, 267, 301, 302, 304, 305, 313, 315,
            321, 336, 347, 404, 407, 410, 412, 413, 416, 434, 440, 443, 470, 478, 502, 508, 513,
            514, 516, 517, 518, 561, 570, 585, 603, 609, 610, 613, 614, 616, 617, 631, 646, 647,
            678, 703, 704, 716, 718, 727, 732, 757, 770, 774, 786, 802, 803, 804, 813, 843, 845,
            856, 857, 860, 862, 864, 904, 905, 908, 910, 914, 917, 919, 937, 954, 973, 978, 980,
        ],
    },
    Zone {
        tz: Tz::America__Chicago,
        share: 29.0,
        area_codes: &[
            204, 205, 210, 214, 217, 218, 224, 225, 251, 254, 256, 262, 281, 309, 312, 314, 316,
            318, 319, 320, 331, 334, 337, 361, 402, 405, 409, 414, 417, 469, 479, 501, 504, 507,
            512, 515, 563, 573, 601, 608, 612, 615, 618, 630, 636, 641, 651, 662, 708, 712, 713,
            715, 731, 763, 773, 779, 785, 815, 816, 817, 830, 832, 847, 901, 903, 913, 918, 920,
            931, 936, 940, 952, 956, 972, 979,
        ],
    },
    Zone {
        tz: Tz::America__Denver,
        share: 4.8,
        area_codes: &[
            208, 303, 307, 385, 403, 406, 435, 505, 575, 719, 720, 780, 801, 915, 970,
        ],
    },
    Zone {
        tz: Tz::America__Phoenix,
        share: 2.2,
        area_codes: &[480, 520, 602, 623, 928],
    },
    Zone {
        tz: Tz::America__Los_Angeles,
        share: 16.5,
        area_codes: &[
            206, 209, 213, 253, 310, 323, 360, 408, 415, 425, 503, 509, 510, 530, 541, 559, 562,
            604, 619, 626, 650, 657, 661, 669, 702, 707, 714, 725, 747, 760, 775, 778, 805, 818,
            831, 858, 909, 916, 925, 949, 951, 971,
        ],
    },
    Zone {
        tz: Tz::America__Anchorage,
        share: 0.2,
        area_codes: &[907],
    },
    Zone {
        tz: Tz::Pacific__Honolulu,
        share: 0.3,
        area_codes: &[808],
    },
];

/// Each zone's offset from UTC in standard (winter) time, in hours, in the order of [`NANP`].
pub const STANDARD_OFFSETS: [i8; ZONES] = [-5, -6, -7, -7, -8, -9, -10];

/// Milliseconds in an hour.
pub const MS_PER_HOUR: i64 = 3_600_000;
/// Hours from 1970-01-01T00:00Z (a Thursday) to the first Monday 00:00Z after it.
const FIRST_MONDAY_HOUR: i64 = 4 * 24;

/// The hour of the week (Monday 00:00 = 0) of absolute hour `hour` (hours since the epoch) on a
/// clock `offset` hours ahead of UTC.
#[inline]
pub fn hour_of_week(hour: i64, offset: i8) -> usize {
    (hour + i64::from(offset) - FIRST_MONDAY_HOUR).rem_euclid(168) as usize
}

/// Each zone's offset from UTC, in whole hours, for every hour of a span: the clocks a start
/// time's local hour is read from. The span's hours share a handful of distinct offset sets
/// (standard time, summer time, the hours between two zones' switches), so each hour stores the
/// index of its set.
#[derive(Debug, Clone)]
pub struct Clocks {
    /// Absolute hour (since the epoch) of the span's first hour.
    first: i64,
    /// Per hour of the span, the index into `sets`.
    set_of_hour: Vec<u8>,
    /// The distinct offset sets, one offset per zone of [`NANP`].
    sets: Vec<[i8; ZONES]>,
}

impl Clocks {
    /// The clocks of `hours` hours from absolute hour `first` on, every zone's own or, with
    /// `fixed`, that one zone's for all. Offsets are looked up once a day, and hour by hour only
    /// on days where a zone changes its clock.
    pub fn new(first: i64, hours: usize, fixed: Option<Tz>) -> Self {
        let offset = |z: usize, hour: i64| -> i8 {
            let t = chrono::DateTime::from_timestamp(hour * 3600, 0).unwrap_or_default();
            let tz = fixed.unwrap_or(NANP[z].tz);
            let secs = tz.offset_from_utc_datetime(&t.naive_utc()).fix();
            (secs.local_minus_utc() / 3600) as i8
        };
        let mut sets: Vec<[i8; ZONES]> = Vec::new();
        let mut set_of_hour = Vec::with_capacity(hours);
        let at = |hour: i64| -> [i8; ZONES] { std::array::from_fn(|z| offset(z, hour)) };
        let mut h = 0usize;
        while h < hours {
            let day = 24.min(hours - h);
            let (a, b) = (at(first + h as i64), at(first + (h + day) as i64));
            for k in 0..day {
                let set = if a == b {
                    a
                } else {
                    at(first + (h + k) as i64)
                };
                let i = match sets.iter().position(|s| *s == set) {
                    Some(i) => i,
                    None => {
                        sets.push(set);
                        sets.len() - 1
                    }
                };
                set_of_hour.push(i as u8);
            }
            h += day;
        }
        Self {
            first,
            set_of_hour,
            sets,
        }
    }

    /// The zones' offsets at absolute hour `hour` (the span's first or last hour's outside it).
    #[inline]
    pub fn offsets(&self, hour: i64) -> &[i8; ZONES] {
        let i = (hour - self.first).clamp(0, self.set_of_hour.len() as i64 - 1);
        &self.sets[usize::from(self.set_of_hour[i as usize])]
    }
}

/// The local time of a call's start, as mobility needs it.
#[derive(Debug, Clone, Copy)]
pub struct LocalTime {
    /// Hour of the local week, Monday 00:00 = 0.
    pub hour_of_week: usize,
    /// Local day number since the epoch (travel is decided per day).
    pub day: i64,
}

/// Every zone's clock at one instant (looked up once for a call's two parties).
#[derive(Debug, Clone, Copy)]
pub struct LocalClocks {
    hour: i64,
    offsets: [i8; ZONES],
}

impl LocalClocks {
    /// The clocks of absolute hour `hour`, each zone `offsets` hours ahead of UTC.
    pub fn new(hour: i64, offsets: [i8; ZONES]) -> Self {
        Self { hour, offsets }
    }

    /// The local time in `zone`.
    #[inline]
    pub fn of(&self, zone: usize) -> LocalTime {
        let offset = self.offsets[zone];
        LocalTime {
            hour_of_week: hour_of_week(self.hour, offset),
            day: (self.hour + i64::from(offset)).div_euclid(24),
        }
    }
}

/// The call volume at `t_ms` relative to its weekly mean, minus one: the cycle of the categories a
/// host's calls drive. The volume is the calls' own, summed over the zones of the default
/// population on their standard-time clocks (summer time moves it by an hour, which a host's
/// load does not need); hourly values are interpolated linearly between hour midpoints, so the
/// load has no steps on the hour.
pub fn call_load(t_ms: i64) -> f64 {
    const HOUR: i64 = 3_600_000;
    let week = national_week();
    // Position in hours relative to the midpoint of the hour before.
    let x = (t_ms - HOUR / 2) as f64 / HOUR as f64;
    let h = x.floor();
    let frac = x - h;
    let at = |hour: i64| week[hour_of_week(hour, 0)];
    let v = at(h as i64) * (1.0 - frac) + at(h as i64 + 1) * frac;
    v / (week.iter().sum::<f64>() / 168.0) - 1.0
}

/// Call volume of each UTC hour of the week (Monday 00:00 first) over the zones at their shares
/// and standard-time offsets.
fn national_week() -> &'static [f64; 168] {
    static WEEK: std::sync::OnceLock<[f64; 168]> = std::sync::OnceLock::new();
    WEEK.get_or_init(|| {
        std::array::from_fn(|k| {
            NANP.iter()
                .zip(STANDARD_OFFSETS)
                .map(|(zone, offset)| {
                    let local = hour_of_week(k as i64 + FIRST_MONDAY_HOUR, offset);
                    zone.share / 100.0 * WEEKDAY_WEIGHTS[local / 24] * HOUR_WEIGHTS[local % 24]
                })
                .sum()
        })
    })
}

/// The population's call volume per hour at `t_ms` with every zone at its share, computed from
/// chrono-tz's local clocks (independently of [`Clocks`]): what tests compare schedules with.
#[cfg(test)]
pub fn reference_volume(t_ms: i64) -> f64 {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp_millis(t_ms).unwrap();
    NANP.iter()
        .map(|zone| {
            let local = t.with_timezone(&zone.tz);
            zone.share / 100.0
                * HOUR_WEIGHTS[local.hour() as usize]
                * WEEKDAY_WEIGHTS[local.weekday().num_days_from_monday() as usize]
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike, Utc};

    #[test]
    fn the_table_is_made_of_valid_distinct_area_codes_and_shares_add_up() {
        let mut seen = std::collections::HashSet::new();
        for zone in &NANP {
            for &code in zone.area_codes {
                assert!((200..1000).contains(&code) && code % 100 != 11, "{code}");
                assert!(seen.insert(code), "{code} twice");
            }
        }
        let total: f64 = NANP.iter().map(|z| z.share).sum();
        assert!((total - 100.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn clocks_follow_daylight_saving_time_hour_by_hour() {
        // 2026: summer time from 8 March to 1 November, switching at 02:00 local time.
        let hour = |y, m, d, h| {
            chrono::TimeZone::with_ymd_and_hms(&Utc, y, m, d, h, 0, 0)
                .unwrap()
                .timestamp()
                / 3600
        };
        let first = hour(2026, 1, 1, 0);
        let clocks = Clocks::new(first, 366 * 24, None);
        let (ny, phoenix) = (0, 3);
        assert_eq!(clocks.offsets(hour(2026, 1, 15, 12))[ny], -5);
        assert_eq!(clocks.offsets(hour(2026, 7, 15, 12))[ny], -4);
        // New York springs forward at 07:00Z on 8 March, Los Angeles three hours later.
        assert_eq!(clocks.offsets(hour(2026, 3, 8, 6))[ny], -5);
        assert_eq!(clocks.offsets(hour(2026, 3, 8, 7))[ny], -4);
        assert_eq!(clocks.offsets(hour(2026, 3, 8, 9))[4], -8);
        assert_eq!(clocks.offsets(hour(2026, 3, 8, 10))[4], -7);
        assert_eq!(clocks.offsets(hour(2026, 7, 15, 12))[phoenix], -7);
        // Every hour agrees with chrono-tz itself.
        for h in (first..first + 366 * 24).step_by(7) {
            let t = chrono::DateTime::from_timestamp(h * 3600, 0).unwrap();
            for (z, zone) in NANP.iter().enumerate() {
                let local = t.with_timezone(&zone.tz);
                let expected = hour_of_week(h, clocks.offsets(h)[z]);
                let got =
                    local.weekday().num_days_from_monday() as usize * 24 + local.hour() as usize;
                assert_eq!(got, expected, "{t} in {}", zone.tz);
            }
        }
    }
}
