//! Who calls whom: a population of subscribers derived from the seed, so that "top callers",
//! repeat calls between the same two people and a calling circle look like a real network's, and
//! every subscriber lives in a time zone (see [`super::zones`]) that their area code tells.
//!
//! The model, documented for users in docs/data-model.md:
//! - `subscribers` numbered 0 … P − 1, split into the zones of [`NANP`] in proportion to their
//!   shares (largest remainders), and each zone's part into equal blocks, one per area code;
//!   subscriber `k`'s number is `+1`, its block's area code, then an exchange `NXX` (not N11) and
//!   four line digits drawn from (seed, `k`);
//! - activity is heavy-tailed: within the zone a call's caller comes from, the caller is the
//!   subscriber of activity rank `⌊n · u^ACTIVITY_EXPONENT⌋` (`n` the zone's subscribers, `u`
//!   uniform), so the most active fraction `x` places `x^(1/ACTIVITY_EXPONENT)` of the zone's
//!   calls (with 2: the top 1 % place 10 %, the top 10 % place 32 %); ranks map to subscribers
//!   through a seeded affine permutation of the zone, so busy subscribers are spread over its area
//!   codes;
//! - each subscriber has [`CONTACTS`] frequent contacts (drawn from the seed), each one with
//!   probability [`LOCAL_CONTACTS`] from the subscriber's own area code and otherwise from
//!   anywhere; a call goes to one of them with probability [`CIRCLE_SHARE`], the first ones more
//!   often (weights 1, 1/2, … 1/8), otherwise to any subscriber; never to the caller's own number.
//!
//! Everything is a pure function of (seed, subscriber or call index). A run long enough to look
//! each subscriber up many times tables their numbers and contacts once (at most
//! [`MAX_TABLE_BYTES`]); the tables hold what the functions return, so nothing generated moves.

use std::sync::Arc;

use super::bson::write_digits;
use super::model::{CallModel, MAX_CONTACTS};
use super::rng::{self, DocRng};
use super::zones::ZONES;

mod layout;
mod tables;
use layout::Layout;
pub use tables::MAX_TABLE_BYTES;
use tables::Tables;

pub use super::bounds::{DEFAULT_SUBSCRIBERS, MAX_SUBSCRIBERS, MIN_SUBSCRIBERS};
pub use super::defaults::{ACTIVITY_EXPONENT, CIRCLE_SHARE, CONTACTS, LOCAL_CONTACTS};

/// Streams of the seed used for subscribers' numbers and contacts, apart from the calls' streams.
const NUMBER_STREAMS: u64 = 0x6e75_6d62_6572_7300;
const CONTACT_STREAMS: u64 = 0x636f_6e74_6163_7400;
const PERMUTATION_STREAM: u64 = 0x7065_726d_7574_6500;
const OFF_NET_STREAMS: u64 = 0x6f66_666e_6574_7300;
/// Primes for the rank permutation; the first one not dividing a zone's size is its stride.
const STRIDES: [u64; 4] = [7_368_787, 2_750_159, 1_000_003, 999_983];

/// The subscribers of one run: cheap to build and clone, no state, `Sync`.
#[derive(Debug, Clone)]
pub struct Population {
    seed: u64,
    size: u64,
    /// Cumulative weights of the first `contacts` contacts.
    contact_cum: [f64; MAX_CONTACTS],
    contacts: usize,
    circle_share: f64,
    local_contacts: f64,
    activity_exponent: f64,
    /// Hub lines (at most the population) and the share of calls they take.
    hubs: u64,
    hub_share: f64,
    layout: Arc<Layout>,
    /// Per zone, the stride and shift of its rank permutation.
    permutation: [(u64, u64); ZONES],
    /// Numbers and contacts worked out once, for runs long enough to reuse them.
    tables: Option<Arc<Tables>>,
}

/// Draws made again when they land on a hub line, before stepping to the next subscriber.
const HUB_REDRAWS: usize = 8;

impl Population {
    /// The population of `size` subscribers (at least [`MIN_SUBSCRIBERS`]) of `seed`, shaped by
    /// `model`'s activity, contact and hub numbers.
    pub fn new(seed: u64, size: u32, model: &CallModel) -> Self {
        let contacts = (model.contacts as usize).clamp(1, MAX_CONTACTS);
        let mut weights = [0.0; MAX_CONTACTS];
        let mut total = 0.0;
        for (j, w) in weights.iter_mut().enumerate() {
            if j < contacts {
                total += 1.0 / (j + 1) as f64;
            }
            *w = total;
        }
        let size = u64::from(size.max(MIN_SUBSCRIBERS));
        let layout = Layout::new(size);
        let mut rng = rng::stream_rng(seed ^ PERMUTATION_STREAM, 0);
        let permutation = std::array::from_fn(|z| {
            let n = (layout.zone_start[z + 1] - layout.zone_start[z]).max(1);
            let stride = STRIDES
                .into_iter()
                .find(|p| !n.is_multiple_of(*p))
                .unwrap_or(1);
            (stride % n, rng::below(&mut rng, n))
        });
        Self {
            seed,
            size,
            contact_cum: weights,
            contacts,
            circle_share: model.circle_share,
            local_contacts: model.local_contacts,
            activity_exponent: model.activity_exponent,
            hubs: u64::from(model.hubs).min(size),
            hub_share: model.hub_share,
            layout: Arc::new(layout),
            permutation,
            tables: None,
        }
    }

    /// Each zone's share of the subscribers (zones of [`NANP`], in order); the shares sum to 1.
    pub fn zone_shares(&self) -> [f64; ZONES] {
        let z = &self.layout.zone_start;
        std::array::from_fn(|i| (z[i + 1] - z[i]) as f64 / self.size as f64)
    }

    /// The zone subscriber `k` lives in.
    pub fn zone_of(&self, k: u64) -> usize {
        self.layout.zone_start[1..].partition_point(|&s| s <= k)
    }

    /// The caller of a call placed from `zone` (which must have subscribers), drawn by activity.
    #[inline]
    pub fn caller_in(&self, zone: usize, rng: &mut DocRng) -> u64 {
        let (lo, hi) = (
            self.layout.zone_start[zone],
            self.layout.zone_start[zone + 1],
        );
        let n = (hi - lo).max(1);
        let u = rng::unit(rng);
        let rank = ((n as f64 * u.powf(self.activity_exponent)) as u64).min(n - 1);
        let (stride, shift) = self.permutation[zone];
        lo + ((u128::from(rank) * u128::from(stride) + u128::from(shift)) % u128::from(n)) as u64
    }

    /// The callee of a call placed by `caller`: a hub line with the hub share, else mostly a
    /// frequent contact; never `caller`.
    pub fn callee(&self, caller: u64, rng: &mut DocRng) -> u64 {
        loop {
            let callee = if self.hubs > 0 && rng::unit(rng) < self.hub_share {
                self.hub(rng::below(rng, self.hubs))
            } else if rng::unit(rng) < self.circle_share {
                self.contact(
                    caller,
                    rng::weighted(rng, &self.contact_cum[..self.contacts]),
                )
            } else {
                rng::below(rng, self.size)
            };
            if callee != caller {
                return callee;
            }
        }
    }

    /// A person of `zone` drawn by activity as [`Self::caller_in`] draws a caller, but not a
    /// hub line (a call centre's line neither texts nor browses), for kinds other than calls.
    pub fn person_in(&self, zone: usize, rng: &mut DocRng) -> u64 {
        let mut k = self.caller_in(zone, rng);
        for _ in 0..HUB_REDRAWS {
            if !self.is_hub(k) {
                break;
            }
            k = self.caller_in(zone, rng);
        }
        self.not_hub(k)
    }

    /// Someone `from` writes to, drawn as [`Self::callee`] draws a callee but not a hub line, and
    /// never `from`.
    pub fn contact_of(&self, from: u64, rng: &mut DocRng) -> u64 {
        let mut to = self.callee(from, rng);
        for _ in 0..HUB_REDRAWS {
            if !self.is_hub(to) {
                break;
            }
            to = self.callee(from, rng);
        }
        match self.not_hub(to) {
            k if k == from => self.not_hub((from + 1) % self.size),
            k => k,
        }
    }

    /// `k`, or when it is a hub line the next subscriber that is not (hubs are spread out, so
    /// the next one but in the smallest populations), for draws that kept landing on hubs.
    fn not_hub(&self, k: u64) -> u64 {
        (0..self.size)
            .map(|j| (k + j) % self.size)
            .find(|&x| !self.is_hub(x))
            .unwrap_or(k)
    }

    /// Hub line `h`: hubs are spread evenly over the subscribers (so over the zones too).
    pub fn hub(&self, h: u64) -> u64 {
        h * self.size / self.hubs.max(1)
    }

    /// Whether subscriber `k` is a hub line (see [`Self::hub`]).
    pub fn is_hub(&self, k: u64) -> bool {
        if self.hubs == 0 {
            return false;
        }
        // The smallest h with h × size / hubs ≥ k.
        let h = (u128::from(k) * u128::from(self.hubs)).div_ceil(u128::from(self.size)) as u64;
        h < self.hubs && self.hub(h) == k
    }

    /// The number of the off-net party in subscriber `k`'s place: someone on another network
    /// in `k`'s area code, with a number of their own (never `k`'s nor `avoid`), drawn from
    /// (seed, `k`).
    pub fn off_net_digits(&self, k: u64, avoid: &[u8; 12]) -> [u8; 12] {
        let mut rng = rng::stream_rng(self.seed ^ OFF_NET_STREAMS, k);
        let own = self.digits(k);
        loop {
            let n = self.number_in_block(k, &mut rng);
            if n != own && n != *avoid {
                return n;
            }
        }
    }

    /// Contact `j` of subscriber `k`.
    #[inline]
    pub fn contact(&self, k: u64, j: usize) -> u64 {
        match &self.tables {
            Some(t) => t.contact(k, j),
            None => u64::from(self.contacts_of(k).nth(j).unwrap_or_default()),
        }
    }

    /// Subscriber `k`'s contacts in order, without end: contact `j` is the `j + 1`-th draw of
    /// the subscriber's contact stream.
    fn contacts_of(&self, k: u64) -> impl Iterator<Item = u32> + '_ {
        let mut rng = rng::stream_rng(self.seed ^ CONTACT_STREAMS, k);
        let (_, lo, hi) = self.layout.block(k);
        std::iter::repeat_with(move || {
            let local = rng::unit(&mut rng) < self.local_contacts && hi - lo > 1;
            // At most MAX_SUBSCRIBERS (100,000,000) subscribers: every index fits in a u32.
            (if local {
                lo + rng::below(&mut rng, hi - lo)
            } else {
                rng::below(&mut rng, self.size)
            }) as u32
        })
    }

    /// The population with its numbers and contacts tabled (see [`tables`]), when the tables
    /// fit in [`MAX_TABLE_BYTES`]; for runs that look each subscriber up many times.
    pub fn tabled(mut self) -> Self {
        if self.tables.is_none() && Tables::bytes(self.size, self.contacts) <= MAX_TABLE_BYTES {
            let tables = Tables::build(
                self.size,
                self.contacts,
                |k| self.draw_digits(k),
                |k| self.contacts_of(k),
            );
            self.tables = Some(Arc::new(tables));
        }
        self
    }

    /// Whether the numbers and contacts are tabled (see [`Self::tabled`]).
    pub fn is_tabled(&self) -> bool {
        self.tables.is_some()
    }

    /// Subscriber `k`'s phone number, E.164: `+1`, the area code, `NXX`, `XXXX`.
    pub fn number(&self, k: u64) -> String {
        // Every byte is an ASCII digit or '+'.
        String::from_utf8(self.digits(k).to_vec()).unwrap_or_default()
    }

    /// [`Self::number`] as bytes, for writers that need no `String` per call.
    #[inline]
    pub fn digits(&self, k: u64) -> [u8; 12] {
        match &self.tables {
            Some(t) => t.number(k),
            None => self.draw_digits(k),
        }
    }

    /// [`Self::digits`] worked out from the seed.
    fn draw_digits(&self, k: u64) -> [u8; 12] {
        let mut rng = rng::stream_rng(self.seed ^ NUMBER_STREAMS, k);
        self.number_in_block(k, &mut rng)
    }

    /// A number in subscriber `k`'s area code, its exchange and line drawn from `rng`.
    fn number_in_block(&self, k: u64, rng: &mut DocRng) -> [u8; 12] {
        let (b, _, _) = self.layout.block(k);
        // 800 exchanges 200–999 less the eight N11 codes: drawn again (1 % of draws).
        let exchange = loop {
            let e = 200 + rng::below(rng, 800);
            if e % 100 != 11 {
                break e;
            }
        };
        let line = rng::below(rng, 10_000);
        let mut digits = [b'+', b'1', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        write_digits(&mut digits[2..5], u64::from(self.layout.codes[b]));
        write_digits(&mut digits[5..8], exchange);
        write_digits(&mut digits[8..12], line);
        digits
    }

    /// The area code of subscriber `k`.
    pub fn area_code(&self, k: u64) -> u16 {
        self.layout.codes[self.layout.block(k).0]
    }

    /// Subscribers in the population.
    pub fn size(&self) -> u64 {
        self.size
    }
}

#[cfg(test)]
mod tests;
