//! The mobile network the calls are recorded on: one operator, its subscribers' identities, and
//! the networks of the parties it calls.
//!
//! The model, documented for users in docs/data-model.md (with the sources of each figure):
//! - the run's subscribers are the subscribers of one operator, chosen from [`OPERATORS`] (real
//!   North American networks, US MCCs 310–316 and Canada's 302, with their market shares); every
//!   call is recorded by it as the caller's call (a mobile-originated record);
//! - subscriber `k` has an IMSI: the operator's MCC and MNC, then a 9-digit MSIN that is a seeded
//!   bijection of `k`, so no two subscribers share one; and a handset, its model drawn from
//!   [`DEVICES`] by share, whose IMEI is a type allocation code (TAC) of that model, a 6-digit
//!   serial and the Luhn check digit of 3GPP TS 23.003 (both from another seeded bijection of `k`,
//!   so IMEIs are unique too);
//! - the callee of a call is on the same network with the operator's share of its country's
//!   market (a stable draw for each caller and callee pair), and then carries its IMSI; otherwise
//!   it is a subscriber of another operator of its country, drawn by share, with a number of its
//!   own in the same area code, and carries only that network's MCC-MNC. A callee in the other
//!   country is always off-net. A hub line (a call centre's number) is a fixed line: it carries
//!   neither.
//!
//! Everything is a pure function of (seed, subscriber), or of (seed, caller, callee) for a pair.

use super::bson::write_digits;
use super::rng;

/// The countries of the numbering plan the operators serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Country {
    /// MCCs 310–316.
    UnitedStates,
    /// MCC 302.
    Canada,
}

/// One mobile network: who it is, its code, its share of its country's subscribers.
#[derive(Debug)]
pub struct Operator {
    /// The name it trades under.
    pub name: &'static str,
    /// MCC and MNC as written in records, `MCC-MNC` (3 + 3 digits in North America).
    pub code: &'static str,
    /// Its country.
    pub country: Country,
    /// Share of its country's mobile subscribers (the shares of a country sum to 1).
    pub share: f64,
}

/// The networks a run may simulate, and those its subscribers call. Shares: approximate, 2024
/// (US: Verizon from company-reported subscriptions, Q2 2024; T-Mobile from its 129.5 M customers
/// at the end of 2024; AT&T the rest) and 2020 (Canada: the three national carriers held 87.8 %,
/// Freedom 5.8 %, per the CRTC; the split between the three is illustrative).
pub static OPERATORS: [Operator; 8] = [
    Operator {
        name: "Verizon",
        code: "311-480",
        country: Country::UnitedStates,
        share: 0.37,
    },
    Operator {
        name: "T-Mobile US",
        code: "310-260",
        country: Country::UnitedStates,
        share: 0.33,
    },
    Operator {
        name: "AT&T",
        code: "310-410",
        country: Country::UnitedStates,
        share: 0.30,
    },
    Operator {
        name: "Rogers",
        code: "302-720",
        country: Country::Canada,
        share: 0.32,
    },
    Operator {
        name: "Bell",
        code: "302-610",
        country: Country::Canada,
        share: 0.28,
    },
    Operator {
        name: "Telus",
        code: "302-220",
        country: Country::Canada,
        share: 0.28,
    },
    Operator {
        name: "Freedom",
        code: "302-490",
        country: Country::Canada,
        share: 0.09,
    },
    Operator {
        name: "SaskTel",
        code: "302-780",
        country: Country::Canada,
        share: 0.03,
    },
];

/// The operator a model names by default: the largest.
pub const DEFAULT_OPERATOR: usize = 0;

/// Area codes of the zone table in Canada; every other one is in the United States.
pub const CANADIAN_AREA_CODES: [u16; 10] = [204, 403, 416, 514, 604, 613, 647, 778, 780, 905];

/// The country an area code of the zone table is in.
pub fn country_of(area_code: u16) -> Country {
    if CANADIAN_AREA_CODES.contains(&area_code) {
        Country::Canada
    } else {
        Country::UnitedStates
    }
}

/// One handset model: its share of the devices in use and where its TACs start.
#[derive(Debug)]
pub struct Device {
    /// Vendor and model.
    pub model: &'static str,
    /// Share of devices in use.
    pub share: f64,
    /// The first 5 digits of its TACs: a real reporting-body identifier (35 BABT, 01 PTCRB,
    /// 86 TAF) and an illustrative 3-digit model code; the last 3 digits number the model's
    /// blocks of a million serials.
    pub tac_prefix: u32,
}

/// Handsets in use in the United States. Vendor shares: StatCounter, September 2024 (Apple
/// 57.4 %, Samsung 23.3 %, Google 5.0 %, Motorola 3.6 %); their split over models and the TACs are
/// illustrative (real TACs are licensed by the GSMA and not published).
pub static DEVICES: [Device; 8] = [
    Device {
        model: "Apple iPhone 16",
        share: 0.15,
        tac_prefix: 35_391,
    },
    Device {
        model: "Apple iPhone 15",
        share: 0.20,
        tac_prefix: 35_317,
    },
    Device {
        model: "Apple iPhone 14 or older",
        share: 0.22,
        tac_prefix: 35_208,
    },
    Device {
        model: "Samsung Galaxy S24",
        share: 0.12,
        tac_prefix: 35_582,
    },
    Device {
        model: "Samsung Galaxy A15",
        share: 0.11,
        tac_prefix: 35_627,
    },
    Device {
        model: "Google Pixel 8",
        share: 0.05,
        tac_prefix: 35_741,
    },
    Device {
        model: "Motorola moto g",
        share: 0.04,
        tac_prefix: 1_203,
    },
    Device {
        model: "Other Android",
        share: 0.11,
        tac_prefix: 86_455,
    },
];

/// The operator whose code is `code` (`310-260` or `310260`); the message says why not.
pub fn operator_named(code: &str) -> Result<usize, String> {
    let digits: String = code.chars().filter(|c| *c != '-').collect();
    if !(5..=6).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{code:?} is not an MCC-MNC: 5 or 6 digits, e.g. 311-480"
        ));
    }
    OPERATORS
        .iter()
        .position(|o| o.code.replace('-', "") == digits)
        .ok_or_else(|| {
            let known: Vec<String> = OPERATORS
                .iter()
                .map(|o| format!("{} ({})", o.code, o.name))
                .collect();
            format!(
                "{code:?} is not a network of the table; expected one of {}",
                known.join(", ")
            )
        })
}

/// Who the callee of a call is on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// A subscriber of the run's operator: carries its IMSI.
    OnNet,
    /// A subscriber of this other operator (an index into [`OPERATORS`]): carries its MCC-MNC.
    OffNet(u8),
    /// A fixed line (a hub line), or a run of desk phones: carries neither.
    Fixed,
}

/// Multipliers of the two bijections of `0..10⁹` (both coprime to 10).
const MSIN_FACTOR: u64 = 282_475_249;
const IMEI_FACTOR: u64 = 387_420_489;
const BILLION: u64 = 1_000_000_000;
/// Seed streams of the identities, apart from every other stream.
const IDENTITY_STREAM: u64 = 0x6964_656e_7469_7479;
const PAIR_STREAM: u64 = 0x7061_6972_7300_0000;

/// The identities of one run's subscribers and the networks of the parties they call: cheap to
/// build and copy, no state.
#[derive(Debug, Clone, Copy)]
pub struct Network {
    seed: u64,
    operator: usize,
    msin_shift: u64,
    imei_shift: u64,
    device_cum: [f64; DEVICES.len()],
    /// For each [`Country`] (by its index), the operators an off-net callee there is on.
    others: [Others; 2],
}

/// The operators of a country other than the run's, in [`OPERATORS`] order, each with its share
/// of the callees [`Network::party`] leaves them: the divisions it made for every call, made once.
#[derive(Debug, Clone, Copy)]
struct Others {
    ops: [(u8, f64); OPERATORS.len()],
    len: usize,
}

impl Others {
    fn of(country: Country, operator: usize) -> Self {
        let ours = &OPERATORS[operator];
        let share = if country == ours.country {
            1.0 - ours.share
        } else {
            1.0
        };
        let mut others = Self {
            ops: [(0, 0.0); OPERATORS.len()],
            len: 0,
        };
        for (i, o) in OPERATORS.iter().enumerate() {
            if o.country == country && i != operator {
                others.ops[others.len] = (i as u8, o.share / share);
                others.len += 1;
            }
        }
        others
    }
}

impl Network {
    /// The network of `operator` (an index into [`OPERATORS`]) for `seed`.
    pub fn new(seed: u64, operator: usize) -> Self {
        let mut r = rng::stream_rng(seed ^ IDENTITY_STREAM, 0);
        let operator = operator.min(OPERATORS.len() - 1);
        Self {
            seed,
            operator,
            msin_shift: rng::below(&mut r, BILLION),
            imei_shift: rng::below(&mut r, BILLION),
            device_cum: rng::cumulative(std::array::from_fn(|i| DEVICES[i].share)),
            others: [Country::UnitedStates, Country::Canada].map(|c| Others::of(c, operator)),
        }
    }

    /// The operator the run simulates.
    pub fn operator(&self) -> &'static Operator {
        &OPERATORS[self.operator]
    }

    /// Subscriber `k`'s IMSI: MCC, MNC and a 9-digit MSIN, 15 digits.
    pub fn imsi(&self, k: u64) -> [u8; 15] {
        let msin = (k.wrapping_mul(MSIN_FACTOR) + self.msin_shift) % BILLION;
        let mut out = [0u8; 15];
        let code = self.operator().code.as_bytes();
        out[..3].copy_from_slice(&code[..3]);
        out[3..6].copy_from_slice(&code[4..7]);
        write_digits(&mut out[6..], msin);
        out
    }

    /// The handset model of subscriber `k` (an index into [`DEVICES`]).
    pub fn device(&self, k: u64) -> usize {
        let u = rng::unit_of(rng::mix(self.seed ^ IDENTITY_STREAM, k));
        self.device_cum
            .partition_point(|&c| c <= u)
            .min(DEVICES.len() - 1)
    }

    /// Subscriber `k`'s IMEI: its model's TAC, a 6-digit serial and the Luhn check digit.
    pub fn imei(&self, k: u64) -> [u8; 15] {
        let p = (k.wrapping_mul(IMEI_FACTOR) + self.imei_shift) % BILLION;
        let tac = u64::from(DEVICES[self.device(k)].tac_prefix) * 1000 + p / 1_000_000;
        let mut out = [0u8; 15];
        write_digits(&mut out[..8], tac);
        write_digits(&mut out[8..14], p % 1_000_000);
        out[14] = b'0' + luhn(&out[..14]);
        out
    }

    /// Where the callee `to` of a call by `from` is, `to` living in `country`: the same draw for
    /// the same pair every time.
    pub fn party(&self, from: u64, to: u64, country: Country) -> Party {
        let u = rng::unit_of(rng::mix(
            self.seed ^ PAIR_STREAM,
            from.wrapping_mul(0x9e37_79b9) ^ to,
        ));
        let ours = self.operator();
        let mut u = if country == ours.country {
            if u < ours.share {
                return Party::OnNet;
            }
            (u - ours.share) / (1.0 - ours.share)
        } else {
            u
        };
        // The other operators of the country, by their shares of what is left.
        let others = &self.others[country as usize];
        let mut last = self.operator as u8;
        for &(i, w) in &others.ops[..others.len] {
            last = i;
            if u < w {
                return Party::OffNet(i);
            }
            u -= w;
        }
        Party::OffNet(last)
    }
}

/// The Luhn check digit of `digits` (ASCII), as 3GPP TS 23.003 Annex B computes an IMEI's:
/// every second digit from the right doubled, the digits of the results summed.
pub fn luhn(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 0 {
                let x = 2 * d;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
mod tests;
