//! What the kinds of traffic beside calls (text messages, data sessions) share with calls: a
//! request's window, subscribers and model, and built from them the same people, numbers,
//! network identities and places as the calls of the seed, with times following the kind's own
//! hour and weekday profile on each subscriber's clock.

use chrono::{DateTime, Utc};

use super::calls::CallParams;
use super::calls::times::StartTimes;
use super::cells::mobility::{Mobility, Path};
use super::cells::{self, Eci};
use super::model::CallModel;
use super::network::Network;
use super::population::Population;

/// What a request chooses about the texts or sessions it generates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrafficParams {
    /// End of the time window (exclusive): draws (a thread's first message, a session) start in
    /// `[end - days, end)`; a reply, or a session's later records, may come after `end`.
    pub end: DateTime<Utc>,
    /// Length of the window in days.
    pub days: u32,
    /// Subscribers (the calls' population for the same seed).
    pub subscribers: u32,
    /// The calls' model: its population, network and time zone settings apply to every kind.
    pub model: CallModel,
}

/// A run's subscribers as every kind sees them, with the kind's times: what a generator of a
/// kind other than calls starts from.
#[derive(Debug, Clone)]
pub(crate) struct Traffic {
    /// The subscribers, their numbers, zones and contacts.
    pub(crate) people: Population,
    /// The kind's times over the window, stratified over the run's `count` draws.
    pub(crate) times: StartTimes,
    /// Identities, for mobile phones.
    pub(crate) network: Option<Network>,
    /// Where subscribers are, for mobile phones.
    pub(crate) mobility: Option<Mobility>,
}

impl Traffic {
    /// The subscribers of `seed` for a run of `count` draws of `params`, with times following
    /// `hours` and `weekdays` (the kind's volume by local hour and by local weekday).
    pub(crate) fn new(
        params: &TrafficParams,
        seed: u64,
        count: u32,
        hours: [f64; 24],
        weekdays: [f64; 7],
    ) -> Self {
        let mut people = Population::new(seed, params.subscribers, &params.model);
        if u64::from(count) >= people.size() {
            people = people.tabled();
        }
        let window = CallParams {
            end: params.end,
            days: params.days,
            subscribers: params.subscribers,
            scenario: None,
            model: CallModel {
                hour_weights: hours,
                weekday_weights: weekdays,
                ..params.model
            },
        };
        let times = StartTimes::new(&window, count, people.zone_shares());
        let network = params
            .model
            .network
            .mobile()
            .map(|op| Network::new(seed, op));
        Self {
            people,
            times,
            network,
            mobility: network.map(|_| Mobility::new(seed)),
        }
    }

    /// Where subscriber `k` is at `t_ms` (no movement), by the draws of `stream`.
    pub(crate) fn cell(&self, k: u64, t_ms: i64, stream: u64) -> Option<Eci> {
        let moves = self.mobility.as_ref()?;
        let (city, at) = self.place(k, t_ms);
        Some(moves.callee(k, city, at, stream, None))
    }

    /// The cells of `k` over `seconds` from `t_ms` (moving for some), by the draws of `stream`.
    pub(crate) fn path(&self, k: u64, t_ms: i64, seconds: f64, stream: u64) -> Option<Path> {
        let moves = self.mobility.as_ref()?;
        let (city, at) = self.place(k, t_ms);
        Some(moves.caller(k, city, at, stream, seconds, None))
    }

    /// A cell's ECGI on the run's network.
    pub(crate) fn ecgi(&self, eci: Eci) -> String {
        let code = self.network.map_or("", |n| n.operator().code);
        cells::ecgi(code, eci)
    }

    /// `k`'s city and local time at `t_ms`.
    fn place(&self, k: u64, t_ms: i64) -> (u16, cells::mobility::LocalTime) {
        let city = cells::city_of(self.people.area_code(k)).unwrap_or(0) as u16;
        let at = self.times.volume.clocks_at(t_ms).of(self.people.zone_of(k));
        (city, at)
    }
}
