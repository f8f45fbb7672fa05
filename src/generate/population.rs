//! Who calls whom: a population of subscribers derived from the seed, so that "top callers",
//! repeat calls between the same two people and a calling circle look like a real network's.
//!
//! The model, documented for users in docs/data-model.md:
//! - `subscribers` numbered 0 … P − 1, each with a fixed valid NANP number drawn from the seed
//!   (subscriber `k`'s number depends only on (seed, `k`));
//! - activity is heavy-tailed: a call's caller is subscriber `⌊P · u^ACTIVITY_EXPONENT⌋` for `u`
//!   uniform, so the most active fraction `x` of subscribers places `x^(1/ACTIVITY_EXPONENT)` of
//!   the calls (with 2: the top 1 % place 10 %, the top 10 % place 32 %);
//! - each subscriber has [`CONTACTS`] frequent contacts (drawn from the seed); a call goes to one of
//!   them with probability [`CIRCLE_SHARE`], the first ones more often (weights 1, 1/2, … 1/8),
//!   otherwise to any subscriber; never to the caller's own number.
//!
//! Everything is a pure function of (seed, subscriber or call index): no table is built, so any
//! population size costs the same.

use fake::Fake;
use fake::faker::number::raw::NumberWithFormat;
use fake::locales::EN;

use super::rng::{self, DocRng};

/// Default population size.
pub const DEFAULT_SUBSCRIBERS: u32 = 10_000;
/// Smallest population: a caller needs someone else to call.
pub const MIN_SUBSCRIBERS: u32 = 2;
/// Largest population.
pub const MAX_SUBSCRIBERS: u32 = 100_000_000;
/// Frequent contacts per subscriber.
pub const CONTACTS: usize = 8;
/// Share of calls that go to one of the caller's frequent contacts.
pub const CIRCLE_SHARE: f64 = 0.8;
/// Tail of the activity law: the top fraction `x` of subscribers places `x^(1/this)` of calls.
pub const ACTIVITY_EXPONENT: f64 = 2.0;

/// Draft of a phone number for `fake`: `+1`, area code, exchange, line (`^` is 1–9, `#` is 0–9);
/// [`phone_number`] keeps only drafts that are valid NANP numbers.
const PHONE_FORMAT: &str = "+1^##^######";

/// Streams of the seed used for subscribers' numbers and contacts, apart from the calls' streams.
const NUMBER_STREAMS: u64 = 0x6e75_6d62_6572_7300;
const CONTACT_STREAMS: u64 = 0x636f_6e74_6163_7400;

/// The subscribers of one run: cheap to build, no state, `Sync`.
#[derive(Debug, Clone, Copy)]
pub struct Population {
    seed: u64,
    size: u64,
    contact_cum: [f64; CONTACTS],
}

impl Population {
    /// The population of `size` subscribers (at least [`MIN_SUBSCRIBERS`]) of `seed`.
    pub fn new(seed: u64, size: u32) -> Self {
        let mut weights = [0.0; CONTACTS];
        for (j, w) in weights.iter_mut().enumerate() {
            *w = 1.0 / (j + 1) as f64;
        }
        Self {
            seed,
            size: u64::from(size.max(MIN_SUBSCRIBERS)),
            contact_cum: rng::cumulative(weights),
        }
    }

    /// The caller of a call, drawn by activity.
    pub fn caller(&self, rng: &mut DocRng) -> u64 {
        let u = rng::unit(rng);
        ((self.size as f64 * u.powf(ACTIVITY_EXPONENT)) as u64).min(self.size - 1)
    }

    /// The callee of a call placed by `caller`: mostly a frequent contact, never `caller`.
    pub fn callee(&self, caller: u64, rng: &mut DocRng) -> u64 {
        loop {
            let callee = if rng::unit(rng) < CIRCLE_SHARE {
                self.contact(caller, rng::weighted(rng, &self.contact_cum))
            } else {
                rng::below(rng, self.size)
            };
            if callee != caller {
                return callee;
            }
        }
    }

    /// Contact `j` of subscriber `k`.
    pub fn contact(&self, k: u64, j: usize) -> u64 {
        let mut rng = rng::stream_rng(self.seed ^ CONTACT_STREAMS, k);
        let mut c = 0;
        for _ in 0..=j {
            c = rng::below(&mut rng, self.size);
        }
        c
    }

    /// Subscriber `k`'s phone number, E.164.
    pub fn number(&self, k: u64) -> String {
        phone_number(&mut rng::stream_rng(self.seed ^ NUMBER_STREAMS, k))
    }

    /// Subscribers in the population.
    pub fn size(&self) -> u64 {
        self.size
    }
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn calls(p: &Population, n: u64) -> Vec<(u64, u64)> {
        (0..n)
            .map(|i| {
                let mut rng = rng::stream_rng(7, i);
                let a = p.caller(&mut rng);
                (a, p.callee(a, &mut rng))
            })
            .collect()
    }

    #[test]
    fn a_few_subscribers_place_many_calls() {
        let p = Population::new(1, 10_000);
        let calls = calls(&p, 200_000);
        let mut per_caller: HashMap<u64, u64> = HashMap::new();
        for (a, _) in &calls {
            *per_caller.entry(*a).or_default() += 1;
        }
        // Subscriber k is the k-th most active by construction: the share of calls placed by
        // subscribers below k is the activity law itself.
        let top = |share: f64| -> f64 {
            let k = (10_000.0 * share) as u64;
            calls.iter().filter(|(a, _)| *a < k).count() as f64 / 200_000.0
        };
        // x^(1/2): 1 % → 10 %, 10 % → 31.6 %, 50 % → 70.7 %.
        assert!((top(0.01) - 0.10).abs() < 0.01, "top 1 %: {}", top(0.01));
        assert!((top(0.10) - 0.316).abs() < 0.015, "top 10 %: {}", top(0.10));
        assert!((top(0.50) - 0.707).abs() < 0.015, "top 50 %: {}", top(0.50));
        // Far fewer distinct callers than calls (the old generator: 199,998 of 200,000).
        assert!(per_caller.len() <= 10_000);
        assert!(per_caller.len() > 9_000, "{}", per_caller.len());
    }

    #[test]
    fn most_calls_go_to_a_few_contacts() {
        let p = Population::new(2, 10_000);
        let calls = calls(&p, 100_000);
        let circle = calls
            .iter()
            .filter(|(a, b)| (0..CONTACTS).any(|j| p.contact(*a, j) == *b))
            .count() as f64
            / calls.len() as f64;
        // 80 % by construction, plus the rare uniform pick that lands in the circle.
        assert!((circle - 0.8).abs() < 0.01, "{circle}");
        // The first contact gets the largest share of a caller's circle calls: 1 / H(8).
        let first = calls.iter().filter(|(a, b)| p.contact(*a, 0) == *b).count() as f64
            / calls.len() as f64;
        let h8: f64 = (1..=8).map(|j| 1.0 / j as f64).sum();
        assert!((first - 0.8 / h8).abs() < 0.01, "{first}");
        // Pairs repeat: the same two people talk again and again.
        let mut pairs: HashMap<(u64, u64), u32> = HashMap::new();
        for c in &calls {
            *pairs.entry(*c).or_default() += 1;
        }
        let repeated: u32 = pairs.values().filter(|n| **n > 1).sum();
        assert!(
            f64::from(repeated) / calls.len() as f64 > 0.5,
            "{repeated} calls on repeated pairs"
        );
        assert!(calls.iter().all(|(a, b)| a != b && *b < 10_000));
    }

    #[test]
    fn subscribers_are_fixed_by_the_seed() {
        let (p, q) = (Population::new(3, 50), Population::new(4, 50));
        assert_eq!(p.number(17), Population::new(3, 50).number(17));
        assert_ne!(p.number(17), q.number(17));
        assert_eq!(p.contact(5, 3), Population::new(3, 50).contact(5, 3));
        let numbers: std::collections::HashSet<String> = (0..50).map(|k| p.number(k)).collect();
        assert_eq!(numbers.len(), 50);
        // The smallest population still has someone to call.
        let two = Population::new(9, 2);
        assert!(
            calls(&two, 1000)
                .iter()
                .all(|(a, b)| a != b && *a < 2 && *b < 2)
        );
    }
}
