//! A mobile call's network part: who is who (IMSI, IMEI, the other party's network) and where
//! (the caller's cells and hand-overs, the on-net callee's cell); and each subscriber's
//! identities and anchor cells worked out once, for runs long enough to look them up many times:
//! what [`Network`], [`Mobility`] and [`Population`] return, kept, so nothing generated moves.

use super::{CallGenerator, Draw};
use crate::generate::cells::mobility::{ANCHORS, AnchorCells, Mobility, Path};
use crate::generate::cells::{self, Eci};
use crate::generate::network::{Country, Network, OPERATORS, Party, country_of};
use crate::generate::population::{MAX_TABLE_BYTES, Population};

/// Subscribers `0 .. size`: IMSI, IMEI, country, city, the cells of their fixed places, and the number of the
/// off-net party in their place (the first one drawn; the generator draws again in the rare call
/// where it is the caller's).
#[derive(Debug)]
pub(super) struct Table {
    imsi: Vec<[u8; 15]>,
    imei: Vec<[u8; 15]>,
    off_net: Vec<[u8; 12]>,
    abroad: Vec<bool>,
    city: Vec<u16>,
    anchors: Vec<AnchorCells>,
    home: Country,
}

/// Bytes a table of `size` subscribers takes.
const fn bytes(size: u64) -> usize {
    (size as usize).saturating_mul(15 + 15 + 12 + 1 + 2 + 4 * ANCHORS)
}

/// The city (an index into [`cells::cities`]) of subscriber `k`.
fn city(people: &Population, k: u64) -> u16 {
    cells::city_of(people.area_code(k)).unwrap_or(0) as u16
}

impl Table {
    /// The table of `people` on `net`, when it fits in [`MAX_TABLE_BYTES`].
    pub(super) fn build(net: &Network, moves: &Mobility, people: &Population) -> Option<Self> {
        let size = people.size();
        if bytes(size) > MAX_TABLE_BYTES {
            return None;
        }
        let home = net.operator().country;
        let city: Vec<u16> = (0..size).map(|k| city(people, k)).collect();
        Some(Self {
            anchors: (0..size)
                .map(|k| moves.anchor_cells(k, city[k as usize]))
                .collect(),
            city,
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

/// The network part of a drawn call, still in fixed buffers.
pub(super) struct Drawn {
    pub(super) caller_imsi: [u8; 15],
    pub(super) caller_imei: [u8; 15],
    pub(super) callee_imsi: Option<[u8; 15]>,
    pub(super) callee_network: Option<&'static str>,
    /// The caller's cells and hand-overs.
    pub(super) path: Path,
    /// The on-net callee's cell.
    pub(super) callee_cell: Option<Eci>,
}

impl CallGenerator {
    /// The network part a drawn call carries, for mobile phones.
    pub(super) fn identities(&self, r: &Draw) -> Option<Drawn> {
        let net = self.network.as_ref()?;
        let moves = self.mobility.as_ref()?;
        let table = self.identity_table.as_deref();
        let people = &self.population;
        let imsi = |k| table.map_or_else(|| net.imsi(k), |t| t.imsi(k));
        let imei = |k| table.map_or_else(|| net.imei(k), |t| t.imei(k));
        let city = |k| table.map_or_else(|| city(people, k), |t| t.city[k as usize]);
        let known = |k: u64| table.map(|t| &t.anchors[k as usize]);
        let on_net = r.party == Party::OnNet;
        let clocks = self.start_times.volume.clocks_at(r.start_ms);
        let local = |k| clocks.of(people.zone_of(k));
        let seconds = (r.end_ms - r.start_ms) as f64 / 1000.0;
        let index = r.index;
        Some(Drawn {
            caller_imsi: imsi(r.from),
            caller_imei: imei(r.from),
            callee_imsi: on_net.then(|| imsi(r.to)),
            callee_network: match r.party {
                Party::OffNet(i) => Some(OPERATORS[usize::from(i)].code),
                _ => None,
            },
            path: moves.caller(
                r.from,
                city(r.from),
                local(r.from),
                index,
                seconds,
                known(r.from),
            ),
            callee_cell: on_net
                .then(|| moves.callee(r.to, city(r.to), local(r.to), index, known(r.to))),
        })
    }
}
