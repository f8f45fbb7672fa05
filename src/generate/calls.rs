//! Telephone call records (CDRs) with the distributions of real traffic.
//!
//! The model, documented for users in docs/data-model.md (with the sources of each figure):
//! - caller and callee: two subscribers of the run's population (see [`super::population`]: heavy-
//!   tailed activity, frequent contacts mostly in the caller's own area code), each with a valid
//!   NANP number in E.164 form, `+1 NXX NXX XXXX`, whose area code places the subscriber in a
//!   North American time zone (see [`super::zones`]);
//! - call type: voice 70 %, video 22 %, conference 8 %;
//! - status: completed 70 %, missed (unanswered) 20 %, busy 4 %, failed 6 %;
//! - start time: over the window `[end - days, end)` with a call volume per millisecond of
//!   `Σ zone share × HOUR_WEIGHTS[local hour] × WEEKDAY_WEIGHTS[local weekday]`, each zone read on
//!   its own clock (daylight saving time included), partial first and last hours counted pro
//!   rata. A run is emitted in start-time order by stratified inverse-CDF sampling: with `F` the
//!   cumulative share of the window's volume, call `i` of a run of `count` starts at
//!   `F⁻¹((i + u) / count)`, `u` uniform in [0, 1) from the call's own stream. Start times are
//!   therefore non-decreasing in `i`, each call stays a pure function of (parameters, seed, count,
//!   `i`), and the shares of the hours are exactly those of the volume. The caller's zone is then
//!   drawn in proportion to each zone's part of the volume at that instant, and the caller within
//!   the zone by activity;
//! - duration (completed calls only): log-normal, median 60 s (μ = ln 60, σ = 1.6), clipped to
//!   1 s – 7200 s, whole seconds;
//! - end time: start + duration for completed calls, start + ring/attempt time for the others;
//! - cost: the model's tariff, by default a connection fee + per-minute rate × minutes rounded up
//!   (billing `60/60`), for completed calls only, in whole cents: `cost` in USD for display and
//!   `cost_cents` as an integer whose sum is exact; a call that did not connect has no `duration`
//!   field and costs 0.

use super::cells::mobility::Mobility;
use super::model::CallModel;
use super::network::{Network, Party, country_of};
use super::population::Population;
use super::rng::{self, DocRng};
use super::scenario::{FRAUD_SHARE, Scenario, ScenarioKind};
use call_id::uuid_v4;
use chrono::{DateTime, Utc};
pub use record::{CallRecord, CallStatus, CallType, Identities};
use times::StartTimes;

pub use super::bounds::DURATION_BOUNDS;
pub use super::defaults::{
    CALL_TYPE_WEIGHTS, CONNECTION_FEE, DURATION_SIGMA, HOUR_WEIGHTS, RATES_PER_MINUTE,
    STATUS_WEIGHTS, WEEKDAY_WEIGHTS,
};

/// What a request may choose about the calls it generates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallParams {
    /// End of the time window (exclusive); start times fall in `[end - days, end)`.
    pub end: DateTime<Utc>,
    /// Length of the window in days.
    pub days: u32,
    /// Subscribers the calls are placed between.
    pub subscribers: u32,
    /// A labelled scenario over part of the window, if any.
    pub scenario: Option<Scenario>,
    /// The shape of the calls (a preset with overrides).
    pub model: CallModel,
}

/// Produces the call records of one run (parameters, seed, count); cheap to build, `Sync`, no
/// mutable state, so any record can be produced on its own.
#[derive(Debug, Clone)]
pub struct CallGenerator {
    seed: u64,
    population: Population,
    start_times: StartTimes,
    type_cum: [f64; 3],
    status_cum: [f64; 4],
    model: CallModel,
    scenario: Option<Scenario>,
    /// The subscriber placing a fraud burst's calls.
    fraudster: u64,
    /// Identities and networks, for mobile phones.
    network: Option<Network>,
    /// Where subscribers are, for mobile phones.
    mobility: Option<Mobility>,
    /// The identities worked out once, for runs that look each subscriber up many times.
    identity_table: Option<std::sync::Arc<identities::Table>>,
}

const MS_PER_DAY: i64 = 86_400_000;

impl CallGenerator {
    /// A generator for a run of `count` calls with `params` and `seed`.
    ///
    /// The count is part of the run because start times are stratified over it: call `i` of `count`
    /// starts in the `i`-th of `count` equal shares of the window's call volume.
    pub fn new(params: CallParams, seed: u64, count: u32) -> Self {
        let mut population = Population::new(seed, params.subscribers, &params.model);
        if u64::from(count) >= population.size() {
            // Each subscriber comes up twice per call on average: worth working out once.
            population = population.tabled();
        }
        let start_times = StartTimes::new(&params, count, population.zone_shares());
        Self::with(seed, population, start_times, params.scenario, params.model)
    }

    fn with(
        seed: u64,
        population: Population,
        start_times: StartTimes,
        scenario: Option<Scenario>,
        model: CallModel,
    ) -> Self {
        let fraudster = rng::below(&mut rng::stream_rng(seed, u64::MAX - 7), population.size());
        let network = model.network.mobile().map(|op| Network::new(seed, op));
        let mobility = network.map(|_| Mobility::new(seed));
        // Worked out once where the numbers are (long runs and live runs).
        let identity_table = network
            .zip(mobility)
            .filter(|_| population.is_tabled())
            .and_then(|(net, moves)| identities::Table::build(&net, &moves, &population))
            .map(std::sync::Arc::new);
        Self {
            seed,
            population,
            start_times,
            type_cum: rng::cumulative(model.call_type),
            status_cum: rng::cumulative(model.status),
            model,
            scenario,
            fraudster,
            network,
            mobility,
            identity_table,
        }
    }

    /// A generator of live calls: call `i` starts at `F⁻¹(i + u)` where `F(t)` is the number of
    /// calls due between `start` and `t` at `per_second` calls a second, flat or (when `shaped`)
    /// following the same hour-of-day × weekday curve as a backfill, scaled so a week's average is
    /// `per_second`. The sequence has no end; [`CallGenerator::due_before`] says how many calls are
    /// due by a time.
    pub fn live(
        seed: u64,
        subscribers: u32,
        start: DateTime<Utc>,
        per_second: f64,
        shaped: bool,
        scenario: Option<Scenario>,
        model: CallModel,
    ) -> Self {
        // A live run goes on: its subscribers come up again and again.
        let population = Population::new(seed, subscribers, &model).tabled();
        let shares = population.zone_shares();
        let start_ms = start.timestamp_millis();
        let start_times = StartTimes::live(start_ms, per_second, shaped, scenario, shares, &model);
        Self::with(seed, population, start_times, scenario, model)
    }

    /// How many calls of a live generator are due before `t_ms` (0 for a backfill's generator's
    /// window start); every call of index below it starts before `t_ms` (to the millisecond).
    pub fn due_before(&self, t_ms: i64) -> u64 {
        self.start_times.due_before(t_ms)
    }

    /// Call number `index` of the run.
    pub fn record(&self, index: u64) -> CallRecord {
        let (d, drawn) = self.drawn(index);
        CallRecord {
            call_id: ascii(&d.call_id).to_owned(),
            caller: ascii(&d.caller).to_owned(),
            callee: ascii(&d.callee).to_owned(),
            call_type: d.call_type,
            status: d.status,
            start_ms: d.start_ms,
            end_ms: d.end_ms,
            duration: d.duration,
            cost: d.cost,
            anomaly: d.anomaly,
            identities: drawn.map(|i| Identities {
                caller_imsi: ascii(&i.caller_imsi).to_owned(),
                caller_imei: ascii(&i.caller_imei).to_owned(),
                callee_imsi: i.callee_imsi.map(|x| ascii(&x).to_owned()),
                callee_network: i.callee_network,
                caller_cell_start: self.ecgi(i.path.start),
                caller_cell_end: self.ecgi(i.path.end),
                handovers: i.path.handovers,
                callee_cell: i.callee_cell.map(|c| self.ecgi(c)),
            }),
        }
    }

    /// Call number `index` drawn, its text still in fixed buffers: [`Self::document`] writes it
    /// without allocating anything but the document.
    fn draw(&self, index: u64) -> Draw {
        let mut rng = rng::stream_rng(self.seed, index);
        let call_id = uuid_v4(&mut rng);
        let call_type = CallType::ALL[rng::weighted(&mut rng, &self.type_cum)];
        let status = CallStatus::ALL[rng::weighted(&mut rng, &self.status_cum)];
        let start_ms = self.start_times.at(index, rng::unit(&mut rng));
        let people = &self.population;
        let zone = self.start_times.volume.zone(start_ms, rng::unit(&mut rng));
        let from = people.caller_in(zone, &mut rng);
        let caller = people.digits(from);
        // Two subscribers sharing a number is vanishingly rare, but nobody calls their own number.
        let (to, callee) = loop {
            let to = people.callee(from, &mut rng);
            let n = people.digits(to);
            if n != caller {
                break (to, n);
            }
        };
        self.warm(from, to);
        let (duration, end_ms, cost) = match status {
            CallStatus::Completed => {
                let d = self.model.duration_seconds(|normal| {
                    if normal {
                        rng::normal(&mut rng)
                    } else {
                        rng::unit(&mut rng)
                    }
                });
                (
                    Some(d),
                    start_ms + i64::from(d) * 1000,
                    self.cost(call_type, d),
                )
            }
            // Rings for 15–45 s before giving up.
            CallStatus::Missed => (None, start_ms + ms_between(&mut rng, 15_000, 45_000), 0.0),
            // Busy tone after a second or two.
            CallStatus::Busy => (None, start_ms + ms_between(&mut rng, 500, 3_000), 0.0),
            // Set-up fails within a few seconds.
            CallStatus::Failed => (None, start_ms + ms_between(&mut rng, 100, 8_000), 0.0),
        };
        let mut record = Draw {
            index,
            call_id,
            from,
            to,
            party: Party::Fixed,
            caller,
            callee,
            call_type,
            status,
            start_ms,
            end_ms,
            duration,
            cost,
            anomaly: None,
            effect: None,
        };
        if let Some(s) = self.scenario.filter(|s| s.covers(start_ms)) {
            // Drawn after everything else: outside a scenario the stream is untouched.
            self.apply(&s, &mut record, &mut rng);
        }
        self.place(&mut record);
        record
    }

    /// Reads a byte of both parties' identity rows, which [`Self::place`] and the identities
    /// read later: their cache misses then overlap the duration's and cost's arithmetic instead
    /// of stalling the reads that need them (a portable prefetch; nothing drawn depends on it).
    #[inline]
    fn warm(&self, from: u64, to: u64) {
        if let Some(t) = self.identity_table.as_deref() {
            std::hint::black_box((t.row(from).zone(), t.row(to).zone()));
        }
    }

    /// Puts the callee on its network: off-net, it is someone else in its area code, with a
    /// number of their own. Stable draws of the pair, not of the call's stream.
    fn place(&self, r: &mut Draw) {
        let Some(net) = &self.network else {
            return;
        };
        let people = &self.population;
        let table = self.identity_table.as_deref();
        r.party = if people.is_hub(r.to) {
            Party::Fixed
        } else {
            let country = match table {
                Some(t) => t.country(r.to),
                None => country_of(people.area_code(r.to)),
            };
            net.party(r.from, r.to, country)
        };
        if let Party::OffNet(_) = r.party {
            r.callee = match table.and_then(|t| t.off_net(r.to, &r.caller)) {
                Some(n) => n,
                None => people.off_net_digits(r.to, &r.caller),
            };
        }
    }

    /// A cell's ECGI on the run's network.
    fn ecgi(&self, eci: super::cells::Eci) -> String {
        let code = self.network.map_or("", |n| n.operator().code);
        super::cells::ecgi(code, eci)
    }

    /// Charge for a completed call under the model's tariff, in USD: a whole number of cents.
    pub fn cost(&self, call_type: CallType, duration_secs: u32) -> f64 {
        let t = CallType::ALL
            .iter()
            .position(|c| *c == call_type)
            .unwrap_or(0);
        self.model.tariff.cents(t, duration_secs) as f64 / 100.0
    }

    /// What scenario `s` does to a call in its window (see [`super::scenario`]).
    fn apply(&self, s: &Scenario, r: &mut Draw, rng: &mut DocRng) {
        let u = rng::unit(rng);
        match s.kind {
            ScenarioKind::Surge if u < (s.factor - 1.0) / s.factor => r.anomaly = Some(s.label()),
            ScenarioKind::Outage if u < 1.0 / f64::from(s.hosts) => {
                r.status = CallStatus::Failed;
                r.duration = None;
                r.cost = 0.0;
                r.end_ms = r.start_ms + ms_between(rng, 100, 8_000);
                r.anomaly = Some(s.label());
            }
            ScenarioKind::FraudBurst if u < FRAUD_SHARE => {
                let people = &self.population;
                r.from = self.fraudster;
                r.caller = people.digits(self.fraudster);
                (r.to, r.callee) = loop {
                    let to = rng::below(rng, people.size());
                    let n = people.digits(to);
                    if n != r.caller {
                        break (to, n);
                    }
                };
                let d = 1 + rng::below(rng, 20) as u32;
                r.call_type = CallType::Voice;
                r.status = CallStatus::Completed;
                r.duration = Some(d);
                r.end_ms = r.start_ms + i64::from(d) * 1000;
                r.cost = self.cost(CallType::Voice, d);
                r.anomaly = Some(s.label());
            }
            _ => {}
        }
    }
}

fn ms_between(rng: &mut DocRng, lo: i64, hi: i64) -> i64 {
    lo + rng::below(rng, (hi - lo) as u64) as i64
}

/// A [`CallRecord`] before its text is copied out of fixed buffers (ASCII: digits, `+`, hex
/// and hyphens).
struct Draw {
    /// The call's index in its run.
    index: u64,
    call_id: [u8; call_id::LENGTH],
    /// The caller and the callee, as subscribers of the population.
    from: u64,
    to: u64,
    /// Where the callee is (for mobile phones; `Fixed` otherwise).
    party: Party,
    caller: [u8; 12],
    callee: [u8; 12],
    call_type: CallType,
    status: CallStatus,
    start_ms: i64,
    end_ms: i64,
    duration: Option<u32>,
    cost: f64,
    anomaly: Option<&'static str>,
    /// What a cell outage did to the call: `failed` or `reselected`.
    effect: Option<&'static str>,
}

/// The text of a fixed ASCII buffer (of [`Draw`], or of the other kinds' identities).
pub(crate) fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

pub(crate) mod call_id;
mod document;
mod identities;
mod outage;
mod record;
pub(crate) mod times;

#[cfg(test)]
mod tests;
