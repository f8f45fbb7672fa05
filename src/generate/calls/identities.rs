//! A mobile call's network part: who is who (IMSI, IMEI, the other party's network) and where
//! (the caller's cells and hand-overs, the on-net callee's cell); and each subscriber's
//! identities and anchor cells worked out once, for runs long enough to look them up many times:
//! what [`Network`], [`Mobility`] and [`Population`] return, kept, so nothing generated moves.

use super::{CallGenerator, Draw};
use crate::generate::cells::mobility::{KnownCells, Mobility, Path};
use crate::generate::cells::{self, Eci};
use crate::generate::network::{Country, Network, OPERATORS, Party, country_of};
use crate::generate::population::{MAX_TABLE_BYTES, Population};

/// Subscribers `0 .. size`: a row each of what a call looks up for both its parties, and the
/// number of the off-net party in their place (the first one drawn; the generator draws again in
/// the rare call where it is the caller's).
#[derive(Debug)]
pub(super) struct Table {
    rows: Vec<Row>,
    off_net: Vec<[u8; 12]>,
    home: Country,
}

/// One subscriber's identities, zone, country and the cells of their fixed places, in one cache
/// line: a call's party costs one miss of a table far larger than the caches, where a column
/// each cost one per column.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Row {
    imsi: [u8; 15],
    imei: [u8; 15],
    /// The time zone, an index into [`crate::generate::zones::NANP`].
    zone: u8,
    abroad: bool,
    /// The city (an index into [`cells::cities`]) and the cells of the fixed places in it.
    known: KnownCells,
}

/// Bytes a table of `size` subscribers takes: a row and an off-net number each.
const fn bytes(size: u64) -> usize {
    (size as usize).saturating_mul(size_of::<Row>() + 12)
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
        let row = |k: u64| {
            let city = city(people, k);
            Row {
                imsi: net.imsi(k),
                imei: net.imei(k),
                zone: people.zone_of(k) as u8,
                abroad: country_of(people.area_code(k)) != home,
                known: KnownCells::new(city, &moves.anchor_cells(k, city)),
            }
        };
        Some(Self {
            rows: (0..size).map(row).collect(),
            off_net: (0..size)
                .map(|k| people.off_net_digits(k, &[0; 12]))
                .collect(),
            home,
        })
    }

    /// Subscriber `k`'s row.
    #[inline]
    pub(super) fn row(&self, k: u64) -> &Row {
        &self.rows[k as usize]
    }

    /// The country subscriber `k`'s number is in.
    #[inline]
    pub(super) fn country(&self, k: u64) -> Country {
        match (self.rows[k as usize].abroad, self.home) {
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

impl Row {
    /// The subscriber's time zone.
    #[inline]
    pub(super) fn zone(&self) -> u8 {
        self.zone
    }
}

/// What a call needs of one party: from a table row or worked out.
struct Who {
    imsi: [u8; 15],
    imei: [u8; 15],
    zone: usize,
    city: u16,
    known: Option<KnownCells>,
}

impl Who {
    fn of(net: &Network, people: &Population, table: Option<&Table>, k: u64) -> Self {
        match table {
            Some(t) => {
                let r = *t.row(k);
                Self {
                    imsi: r.imsi,
                    imei: r.imei,
                    zone: usize::from(r.zone),
                    city: r.known.city(),
                    known: Some(r.known),
                }
            }
            None => Self {
                imsi: net.imsi(k),
                imei: net.imei(k),
                zone: people.zone_of(k),
                city: city(people, k),
                known: None,
            },
        }
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
        let on_net = r.party == Party::OnNet;
        // Both rows read first: their misses overlap.
        let caller = Who::of(net, people, table, r.from);
        let callee = on_net.then(|| Who::of(net, people, table, r.to));
        let clocks = self.start_times.volume.clocks_at(r.start_ms);
        let seconds = (r.end_ms - r.start_ms) as f64 / 1000.0;
        let index = r.index;
        Some(Drawn {
            caller_imsi: caller.imsi,
            caller_imei: caller.imei,
            callee_imsi: callee.as_ref().map(|c| c.imsi),
            callee_network: match r.party {
                Party::OffNet(i) => Some(OPERATORS[usize::from(i)].code),
                _ => None,
            },
            path: moves.caller(
                r.from,
                caller.city,
                clocks.of(caller.zone),
                index,
                seconds,
                caller.known.as_ref(),
            ),
            callee_cell: callee.map(|c| {
                let at = clocks.of(c.zone);
                moves.callee(r.to, c.city, at, index, c.known.as_ref())
            }),
        })
    }
}
