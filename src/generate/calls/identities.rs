//! Each subscriber's identities worked out once, for runs long enough to look them up many times:
//! what [`Network`] and [`Population`] return, kept, so nothing generated moves.

use crate::generate::network::{Country, Network, country_of};
use crate::generate::population::{MAX_TABLE_BYTES, Population};

/// Subscribers `0 .. size`: IMSI, IMEI, country, and the number of the off-net party in their
/// place (the first one drawn; the generator draws again in the rare call where it is the caller's).
#[derive(Debug)]
pub(super) struct Table {
    imsi: Vec<[u8; 15]>,
    imei: Vec<[u8; 15]>,
    off_net: Vec<[u8; 12]>,
    abroad: Vec<bool>,
    home: Country,
}

/// Bytes a table of `size` subscribers takes.
const fn bytes(size: u64) -> usize {
    (size as usize).saturating_mul(15 + 15 + 12 + 1)
}

impl Table {
    /// The table of `people` on `net`, when it fits in [`MAX_TABLE_BYTES`].
    pub(super) fn build(net: &Network, people: &Population) -> Option<Self> {
        let size = people.size();
        if bytes(size) > MAX_TABLE_BYTES {
            return None;
        }
        let home = net.operator().country;
        Some(Self {
            imsi: (0..size).map(|k| net.imsi(k)).collect(),
            imei: (0..size).map(|k| net.imei(k)).collect(),
            off_net: (0..size)
                .map(|k| people.off_net_digits(k, &[0; 12]))
                .collect(),
            abroad: (0..size)
                .map(|k| country_of(people.area_code(k)) != home)
                .collect(),
            home,
        })
    }

    /// Subscriber `k`'s IMSI.
    #[inline]
    pub(super) fn imsi(&self, k: u64) -> [u8; 15] {
        self.imsi[k as usize]
    }

    /// Subscriber `k`'s IMEI.
    #[inline]
    pub(super) fn imei(&self, k: u64) -> [u8; 15] {
        self.imei[k as usize]
    }

    /// The country subscriber `k`'s number is in.
    #[inline]
    pub(super) fn country(&self, k: u64) -> Country {
        match (self.abroad[k as usize], self.home) {
            (false, home) => home,
            (true, Country::UnitedStates) => Country::Canada,
            (true, Country::Canada) => Country::UnitedStates,
        }
    }

    /// The off-net party in `k`'s place, if its number is not `caller`'s.
    #[inline]
    pub(super) fn off_net(&self, k: u64, caller: &[u8; 12]) -> Option<[u8; 12]> {
        let n = self.off_net[k as usize];
        (n != *caller).then_some(n)
    }
}
