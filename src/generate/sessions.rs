//! Data sessions of the run's subscribers, as a packet gateway records them (the fields of a
//! 3GPP TS 32.298 PGW record; figures and sources in docs/sources/sessions-research.md).
//!
//! The model:
//! - a run of `count` sessions; session `i` starts at `F⁻¹((i + u) / count)` of the data volume
//!   over the window, on each zone's local clock with data's own hour profile;
//! - a subscriber drawn by activity (as a caller is, hub lines aside), on an APN (internet, IMS,
//!   MMS) and a radio (LTE or NR);
//! - a length log-normal per APN (internet and IMS connections last hours, an MMS seconds), and
//!   bytes an hourly rate over it: log-normal per APN, times the subscriber's own usage factor
//!   (so a sixth of the subscribers move most of the bytes); downlink several times uplink;
//! - cells at start and end from where the subscriber is (moving for some, handing over);
//! - records: a gateway closes a record when it reaches a time or volume limit and opens the
//!   next ([`SessionGenerator::partials`]); the records of a session chain exactly: contiguous
//!   spans, sequence numbers from 1, bytes summing to the session's.

use super::calls::ascii;
use super::rng::{self, DocRng};
use super::traffic::Traffic;
pub use super::traffic::TrafficParams;
pub use document::{MAX_SESSIONS, RECORD_SLOTS};
pub use figures::*;
pub use record::{Apn, Closing, Partial, Rat, Session};

/// Seed streams of the sessions, apart from the calls' and the texts'.
const SESSION_STREAM: u64 = 0x7365_7373_0000_0000;
const CELL_STREAM: u64 = 0x7365_7363_0000_0000;
const CHARGING_STREAM: u64 = 0x7365_7369_0000_0000;
const USAGE_STREAM: u64 = 0x7365_7375_0000_0000;

/// Sessions that give the subscribers of `params` [`DAILY_SESSIONS`] sessions each a day over
/// the window: what a request that omits `count` gets. At least 1, at most [`MAX_SESSIONS`].
pub fn daily_sessions(params: &TrafficParams) -> u32 {
    let n = f64::from(params.subscribers) * f64::from(params.days) * DAILY_SESSIONS;
    n.round().clamp(1.0, f64::from(MAX_SESSIONS)) as u32
}

/// Produces the sessions of one run (parameters, seed, count); any session can be produced on
/// its own.
#[derive(Debug, Clone)]
pub struct SessionGenerator {
    seed: u64,
    traffic: Traffic,
    apn_cum: [f64; 3],
    rat_cum: [f64; 2],
    /// The charging id of session 0; session `i` has this plus `i` (unique in a run).
    charging_base: u32,
}

impl SessionGenerator {
    /// A generator for a run of `count` sessions with `params` and `seed`; `None` for desk
    /// phones, which have no data sessions.
    pub fn new(params: TrafficParams, seed: u64, count: u32) -> Option<Self> {
        params.model.network.mobile()?;
        let traffic = Traffic::new(
            &params,
            seed,
            count,
            DATA_HOUR_WEIGHTS,
            DATA_WEEKDAY_WEIGHTS,
        );
        Some(Self {
            seed,
            traffic,
            apn_cum: rng::cumulative(APN_WEIGHTS),
            rat_cum: rng::cumulative(RAT_WEIGHTS),
            charging_base: rng::mix(seed ^ CHARGING_STREAM, 0) as u32,
        })
    }

    /// Session number `index` of the run, whole.
    pub fn session(&self, index: u64) -> Session {
        let mut rng = rng::stream_rng(self.seed ^ SESSION_STREAM, index);
        let apn = Apn::ALL[rng::weighted(&mut rng, &self.apn_cum)];
        let t = &self.traffic;
        let start_ms = t.times.at(index, rng::unit(&mut rng));
        let zone = t.times.volume.zone(start_ms, rng::unit(&mut rng));
        let k = t.people.person_in(zone, &mut rng);
        let rat = Rat::ALL[rng::weighted(&mut rng, &self.rat_cum)];
        let (bytes, ms, ratio) = drawn_volume(apn, self.usage(k), &mut rng);
        let bytes_up = ((bytes as f64 / (1.0 + ratio)).round() as u64).clamp(1, bytes - 1);
        let closing = if rng::unit(&mut rng) < ABNORMAL_SHARE {
            Closing::Abnormal
        } else {
            Closing::Normal
        };
        let net = t.network.as_ref().expect("sessions are of mobile phones");
        let path = t
            .path(k, start_ms, ms as f64 / 1000.0, index ^ CELL_STREAM)
            .expect("mobile phones have places");
        let digits = t.people.digits(k);
        Session {
            subscriber: k,
            charging_id: self.charging_base.wrapping_add(index as u32),
            imsi: ascii(&net.imsi(k)).to_owned(),
            imei: ascii(&net.imei(k)).to_owned(),
            msisdn: ascii(&digits[1..]).to_owned(),
            apn,
            rat,
            start_ms,
            end_ms: start_ms + ms,
            bytes_up,
            bytes_down: bytes - bytes_up,
            cell_start: t.ecgi(path.start),
            cell_end: t.ecgi(path.end),
            closing,
        }
    }

    /// How many times the average subscriber's bytes an hour subscriber `k` moves: a stable
    /// log-normal factor of mean 1 (σ [`USAGE_SIGMA`]), so heavy users stay heavy.
    pub fn usage(&self, k: u64) -> f64 {
        let z = rng::normal(&mut rng::stream_rng(self.seed ^ USAGE_STREAM, k));
        (USAGE_SIGMA * z - USAGE_SIGMA * USAGE_SIGMA / 2.0).exp()
    }

    /// The records a gateway writes of `s`: one when it fits the limits; otherwise a record
    /// closed each time the time limit ([`TIME_LIMIT_MS`]) or the volume limit
    /// ([`VOLUME_LIMIT`], up and down together) is reached, whichever comes first at the
    /// session's even pace, and a last one closed as the session ended. At most
    /// [`RECORD_SLOTS`]; their spans are contiguous and their bytes sum to the session's.
    pub fn partials(s: &Session) -> Vec<Partial> {
        let span = (s.end_ms - s.start_ms).max(1);
        let total = s.bytes_up + s.bytes_down;
        // A record's length in ms, and what closes it when it is not the last.
        let by_volume =
            (u128::from(VOLUME_LIMIT) * span as u128 / u128::from(total.max(1))).max(1) as i64;
        let (len, limit) = if by_volume < TIME_LIMIT_MS {
            (by_volume, Closing::VolumeLimit)
        } else {
            (TIME_LIMIT_MS, Closing::TimeLimit)
        };
        let wanted = (span + len - 1) / len;
        let n = wanted.clamp(1, i64::from(RECORD_SLOTS)) as u32;
        // Where record `i` starts: every `len` ms, or (a session too long or too large for the
        // slots, which `session` never draws) evenly.
        let cut = |i: u32| -> i64 {
            if i >= n {
                span
            } else if wanted > i64::from(RECORD_SLOTS) {
                (i128::from(span) * i128::from(i) / i128::from(n)) as i64
            } else {
                (i64::from(i) * len).min(span)
            }
        };
        // Bytes up to `x` ms into the session, at an even pace (exact integers at both ends).
        let upto = |bytes: u64, x: i64| (u128::from(bytes) * x as u128 / span as u128) as u64;
        let handover = span / 2;
        let cell = |x: i64| {
            if x <= handover {
                &s.cell_start
            } else {
                &s.cell_end
            }
        };
        (0..n)
            .map(|i| {
                let (a, b) = (cut(i), cut(i + 1));
                let last = i + 1 == n;
                Partial {
                    sequence: if n == 1 { 0 } else { i + 1 },
                    start_ms: s.start_ms + a,
                    end_ms: s.start_ms + b,
                    bytes_up: upto(s.bytes_up, b) - upto(s.bytes_up, a),
                    bytes_down: upto(s.bytes_down, b) - upto(s.bytes_down, a),
                    cell_start: cell(a).clone(),
                    cell_end: if last {
                        s.cell_end.clone()
                    } else {
                        cell(b).clone()
                    },
                    closing: if last { s.closing } else { limit },
                }
            })
            .collect()
    }
}

/// A session's bytes (at least 2: one each way; at most [`MAX_VOLUME`]), its length in ms (at
/// least 1 s, at most [`MAX_SESSION_MS`]) and its downlink over uplink ratio, on `apn`, for a
/// subscriber who uses `usage` times the average: the bytes are an hourly rate over the length.
fn drawn_volume(apn: Apn, usage: f64, rng: &mut DocRng) -> (u64, i64, f64) {
    let a = apn as usize;
    let seconds = rng::lognormal(rng, DURATIONS_S[a].0, DURATIONS_S[a].1);
    let ms = ((seconds * 1000.0).round() as i64).clamp(1_000, MAX_SESSION_MS);
    let hourly = usage * rng::lognormal(rng, HOURLY_BYTES[a].0, HOURLY_BYTES[a].1);
    let bytes = (hourly * ms as f64 / 3_600_000.0).clamp(2.0, MAX_VOLUME as f64) as u64;
    let ratio = rng::lognormal(rng, DOWN_UP[a].0, DOWN_UP[a].1);
    (bytes, ms, ratio)
}

mod document;
mod figures;
mod record;

#[cfg(test)]
mod tests;
