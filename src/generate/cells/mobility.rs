//! Where a subscriber is when a call starts, and the cells a call passes through.
//!
//! Each subscriber has a home, a work place and [`PLACES`] other places they go (shops, friends,
//! a gym), all stable points in their area code's city: homes spread over the suburbs, work
//! places gathered in the centre. Where they are follows their local clock: at night at home, on
//! weekday working hours mostly at work, otherwise at home or at one of their places, chosen
//! with visit frequencies falling as `1 / rank^1.2` (González et al. 2008, Song et al. 2010).
//! On a few days they travel to another city. A share of calls is made on the move, in a vehicle
//! heading straight on: such a call hands over each time the cell serving it changes.
//!
//! The shares are illustrative (docs/sources/network-research.md §4): they are chosen so a
//! subscriber's two main cells carry about 55–65 % of their calls, which the Zipf law with
//! 10–20 places gives; no published figure states that share directly.

use super::{Eci, ISD, RINGS, Site, Spot, cell_at, cities};
use crate::generate::rng;
pub use crate::generate::zones::LocalTime;

/// Other places a subscriber goes, besides home and work.
pub const PLACES: usize = 12;
/// A subscriber's fixed places: home, work, then the others.
pub const ANCHORS: usize = 2 + PLACES;

/// The cells of a subscriber's fixed places, in [`ANCHORS`] order.
pub type AnchorCells = [Eci; ANCHORS];

/// [`AnchorCells`] worked out beforehand, in the compact form a table keeps: all of them are in
/// the subscriber's city, so each is its site in the city's block ([`super::site_in_city`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownCells {
    city: u16,
    sites: [u16; ANCHORS],
}

impl KnownCells {
    /// `cells`, all of city `city`.
    pub fn new(city: u16, cells: &AnchorCells) -> Self {
        Self {
            city,
            sites: cells.map(super::site_in_city),
        }
    }

    /// The city they are in.
    #[inline]
    pub fn city(&self) -> u16 {
        self.city
    }

    /// The cell of fixed place `a`.
    #[inline]
    fn get(&self, a: usize) -> Eci {
        super::eci_in(self.city, self.sites[a])
    }
}
/// Zipf exponent of visits to those places (Song et al. 2010: ζ ≈ 1.2).
const ZIPF: f64 = 1.2;
/// Share of a subscriber's days spent in another city.
pub const TRAVEL_SHARE: f64 = 0.02;
/// Share of calls made on the move, by day and at night (illustrative: about an hour a day in a
/// vehicle; network-research.md §4).
pub const MOVING_SHARE: [f64; 2] = [0.10, 0.02];
/// The longest a call moves for, seconds: the rest of a long call is after arriving.
const MAX_MOVING_S: f64 = 1_800.0;
/// Share of homes, work places and other places in each ring (urban micro, macro, rural).
const HOME_RINGS: [f64; 3] = [0.15, 0.60, 0.25];
const WORK_RINGS: [f64; 3] = [0.50, 0.40, 0.10];

const HOME_STREAM: u64 = 0x686f_6d65_0000_0000;
const WORK_STREAM: u64 = 0x776f_726b_0000_0000;
const PLACE_STREAM: u64 = 0x706c_6163_0000_0000;
const TRAVEL_STREAM: u64 = 0x7472_6176_0000_0000;
/// Streams of the per-call draws: new streams, so the calls' other fields keep their values.
const CALLER_STREAM: u64 = 0x6365_6c6c_0000_0001;
const CALLEE_STREAM: u64 = 0x6365_6c6c_0000_0002;

/// The part of a subscriber's week a call falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// 22:00 to 07:00 local time.
    Night,
    /// 09:00 to 17:00 local time, Monday to Friday.
    WorkHours,
    /// Evenings, mornings and weekends.
    Free,
}

impl Slot {
    /// The slot of hour `how` of the local week (Monday 00:00 = 0).
    pub fn of_hour_of_week(how: usize) -> Self {
        let (day, hour) = (how / 24, how % 24);
        if !(7..22).contains(&hour) {
            Slot::Night
        } else if day < 5 && (9..17).contains(&hour) {
            Slot::WorkHours
        } else {
            Slot::Free
        }
    }

    /// Chances of being at home, at work (the rest: one of the places).
    fn anchors(self) -> (f64, f64) {
        match self {
            Slot::Night => (0.90, 0.0),
            Slot::WorkHours => (0.05, 0.62),
            Slot::Free => (0.50, 0.03),
        }
    }
}

/// The cells of one call for its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    /// The cell serving the call when it starts.
    pub start: Eci,
    /// The cell serving it when it ends.
    pub end: Eci,
    /// How many times the serving cell changed.
    pub handovers: u32,
}

/// Where the subscribers of a run (a seed) live, work and go.
#[derive(Debug, Clone, Copy)]
pub struct Mobility {
    seed: u64,
    place_cum: [f64; PLACES],
}

impl Mobility {
    /// The mobility of the subscribers of `seed`.
    pub fn new(seed: u64) -> Self {
        let w: [f64; PLACES] = std::array::from_fn(|j| 1.0 / ((j + 1) as f64).powf(ZIPF));
        let cum = rng::cumulative(w);
        Self {
            seed,
            place_cum: cum.map(|c| c / cum[PLACES - 1]),
        }
    }

    /// Subscriber `k`'s home, in its city `city`.
    pub fn home(&self, k: u64, city: u16) -> Spot {
        self.anchor(HOME_STREAM, k, city, &HOME_RINGS)
    }

    /// Subscriber `k`'s work place.
    pub fn work(&self, k: u64, city: u16) -> Spot {
        self.anchor(WORK_STREAM, k, city, &WORK_RINGS)
    }

    /// Subscriber `k`'s fixed place `a` (an index in [`ANCHORS`] order).
    fn fixed(&self, k: u64, city: u16, a: usize) -> Spot {
        match a {
            0 => self.home(k, city),
            1 => self.work(k, city),
            j => self.anchor(PLACE_STREAM + (j - 2) as u64, k, city, &HOME_RINGS),
        }
    }

    /// A stable point for (stream, k): a ring by `rings`' shares, then uniform over its area.
    fn anchor(&self, stream: u64, k: u64, city: u16, rings: &[f64; 3]) -> Spot {
        let h = rng::mix(self.seed ^ stream, k);
        let (u_ring, u_r, u_a) = (
            rng::unit_of(h),
            rng::unit_of(rng::mix(h, 1)),
            rng::unit_of(rng::mix(h, 2)),
        );
        let ring = if u_ring < rings[0] {
            0
        } else if u_ring < rings[0] + rings[1] {
            1
        } else {
            2
        };
        let inner = if ring == 0 { 0.0 } else { RINGS[ring - 1] };
        let outer = RINGS[ring];
        let r = (inner * inner + u_r * (outer * outer - inner * inner)).sqrt();
        let (s, c) = (std::f64::consts::TAU * u_a).sin_cos();
        Spot {
            city,
            x: r * s,
            y: r * c,
        }
    }

    /// Where `k` (of city `city`) is when a call starts at `at`, in `slot`, from the call's
    /// draws `d`. Inlined: its answer then stays in registers, not a value returned in memory.
    #[inline(always)]
    fn spot(&self, k: u64, city: u16, at: LocalTime, slot: Slot, d: &mut Draws) -> Where {
        let travel = rng::mix(
            self.seed ^ TRAVEL_STREAM,
            k.wrapping_mul(1 << 20) ^ at.day as u64,
        );
        if rng::unit_of(travel) < TRAVEL_SHARE && at.day >= 0 {
            // A day in another city, at one spot of its centre.
            let n = cities().len() as u64;
            let other = ((u64::from(city) + 1 + rng::mix(travel, 1) % (n - 1)) % n) as u16;
            return Where::Spot(self.anchor(TRAVEL_STREAM, travel, other, &WORK_RINGS));
        }
        let (home, work) = slot.anchors();
        let u = d.unit();
        if u < home {
            Where::Fixed(0)
        } else if u < home + work {
            Where::Fixed(1)
        } else {
            let u = d.unit();
            // The places below `u` counted without branches: the table is sorted, so this is
            // where a binary search for `u` would stop, without its mispredicted jumps.
            let below = self.place_cum.iter().filter(|&&c| c <= u).count();
            let j = below.min(PLACES - 1);
            Where::Fixed(2 + j)
        }
    }

    /// The caller's cells for a call of `seconds` by `k` starting at `at` (call `index`).
    pub fn caller(
        &self,
        k: u64,
        city: u16,
        at: LocalTime,
        index: u64,
        seconds: f64,
        known: Option<&KnownCells>,
    ) -> Path {
        let mut d = Draws(rng::mix(self.seed ^ CALLER_STREAM, index));
        let slot = Slot::of_hour_of_week(at.hour_of_week);
        let place = self.spot(k, city, at, slot, &mut d);
        let night = slot == Slot::Night;
        let moving = d.unit() < MOVING_SHARE[usize::from(night)];
        if !moving {
            let cell = self.cell(k, city, place, known);
            return Path {
                start: cell,
                end: cell,
                handovers: 0,
            };
        }
        let from = self.resolve(k, city, place);
        // 30–70 km/h in a straight line.
        let speed = 8.0 + 11.0 * d.unit();
        let (s, c) = (std::f64::consts::TAU * d.unit()).sin_cos();
        drive(from, (s, c), speed * seconds.min(MAX_MOVING_S))
    }

    /// The callee's cell when `k` is called at `at` (call `index`); a callee stays put.
    pub fn callee(
        &self,
        k: u64,
        city: u16,
        at: LocalTime,
        index: u64,
        known: Option<&KnownCells>,
    ) -> Eci {
        let mut d = Draws(rng::mix(self.seed ^ CALLEE_STREAM, index));
        let slot = Slot::of_hour_of_week(at.hour_of_week);
        let place = self.spot(k, city, at, slot, &mut d);
        self.cell(k, city, place, known)
    }

    /// The cells of `k`'s fixed places, for a table of them.
    pub fn anchor_cells(&self, k: u64, city: u16) -> AnchorCells {
        std::array::from_fn(|a| cell_at(self.fixed(k, city, a)))
    }

    #[inline(always)]
    fn cell(&self, k: u64, city: u16, place: Where, known: Option<&KnownCells>) -> Eci {
        match (place, known) {
            (Where::Fixed(a), Some(cells)) => cells.get(a),
            _ => cell_at(self.resolve(k, city, place)),
        }
    }

    fn resolve(&self, k: u64, city: u16, place: Where) -> Spot {
        match place {
            Where::Fixed(a) => self.fixed(k, city, a),
            Where::Spot(s) => s,
        }
    }
}

/// Where a subscriber is, before it is worked out as a point.
#[derive(Debug, Clone, Copy)]
enum Where {
    /// One of their fixed places, an index in [`ANCHORS`] order.
    Fixed(usize),
    /// Somewhere else (another city).
    Spot(Spot),
}

/// A call's own draws: a counter-based stream of uniform values from one hash, cheaper than
/// seeding a generator for the few values a call's whereabouts need.
struct Draws(u64);

impl Draws {
    #[inline]
    fn unit(&mut self) -> f64 {
        self.0 = rng::mix(self.0, 1);
        rng::unit_of(self.0)
    }
}

/// The path of a call moving `metres` from `from` in direction (east, north), sampled finely
/// enough to see every cell it crosses (a quarter of the inter-site distance where it is), and
/// kept within the last ring.
fn drive(from: Spot, (east, north): (f64, f64), metres: f64) -> Path {
    let mut track = Track::default();
    let start = track.cell(from);
    let limit = RINGS[2] * RINGS[2];
    let (mut cell, mut handovers) = (start, 0);
    let mut d = 0.0;
    while d < metres {
        let (x, y) = (from.x + east * d, from.y + north * d);
        let r2 = x * x + y * y;
        // A quarter of the inter-site distance where the vehicle is.
        d = (d + ISD[super::ring_at(r2)] / 4.0).min(metres);
        let (x, y) = (from.x + east * d, from.y + north * d);
        if x * x + y * y >= limit {
            break;
        }
        let next = track.cell(Spot { x, y, ..from });
        if next != cell {
            handovers += 1;
            cell = next;
        }
    }
    Path {
        start,
        end: cell,
        handovers,
    }
}

/// Share of half the inter-site distance within which a point is taken to be nearest its site
/// without working it out: far from the edge of the site's hexagon (an inscribed circle's radius
/// is half the distance), so no rounding of [`cell_at`]'s arithmetic could place it elsewhere.
const NEAR_SITE: f64 = 0.999;

/// [`cell_at`] at the successive points of a drive, the same cells found with less arithmetic:
/// while a point stays in the same ring and close to the last site found, that site serves it
/// (only its sector is worked out, as `cell_at` works it out); a new site is looked up otherwise.
#[derive(Debug, Default)]
pub(super) struct Track {
    /// The last site looked up and its ring; none at first.
    last: Option<(usize, Site)>,
    /// The squared distance within which a point is near that site (negative: never).
    near2: f64,
}

impl Track {
    #[inline]
    pub(super) fn cell(&mut self, spot: Spot) -> Eci {
        let ring = super::ring_at(spot.x * spot.x + spot.y * spot.y);
        let site = match self.last {
            Some((r, site))
                if r == ring && {
                    let (dx, dy) = (spot.x - site.x, spot.y - site.y);
                    dx * dx + dy * dy < self.near2
                } =>
            {
                site
            }
            _ => {
                let site = super::site_at(spot, ring);
                let near = ISD[ring] / 2.0 * NEAR_SITE;
                self.near2 = if site.nearest { near * near } else { -1.0 };
                self.last = Some((ring, site));
                site
            }
        };
        site.eci | super::sector_of(spot.x - site.x, spot.y - site.y)
    }
}
