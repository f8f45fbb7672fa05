//! The radio network the calls are made on: cell sites around each area code's principal city on
//! hexagonal grids at the ITU-R test environments' inter-site distances, three cells a site, with
//! LTE identities; and where subscribers are when they call (see [`mobility`]).
//!
//! The model, documented for users in docs/data-model.md (with its sources):
//! - every area code of the zone table has a principal city (docs/sources/area-code-cities.csv,
//!   read at build time); its sites sit on three hexagonal grids in a plane tangent to the earth
//!   at the city: urban micro (200 m between sites) within [`RINGS`]`[0]` of the centre, urban
//!   macro (500 m) out to the next radius, rural macro (1,732 m) out to the last (ITU-R M.2135-1
//!   and M.2412 test environments). A point belongs to the nearest site of its ring's grid;
//! - a site has three sectors pointing at azimuths 0°, 120° and 240°, each a cell; a point is
//!   served by the sector facing it. A cell's identity is built as LTE builds it: eNodeB id (20
//!   bits: a block of [`SITES_PER_CITY`] per city, then the site) × 256 + sector, the E-UTRAN cell
//!   identity (ECI); with the operator's MCC-MNC in front, the ECGI `MCC-MNC-ECI`. Its tracking
//!   area code (16 bits) is one of six per city: ring and east or west half;
//! - the geometry depends on nothing but the city table: a cell has the same id, place and area
//!   on every run and replica, so cells can be upserted by id.
//!
//! Why not H3 (the `h3o` crate): its cells come in aperture-7 resolutions whose edge lengths match
//! none of the ITU distances (res 9 is 174 m, res 8 461 m, res 7 1,220 m), and a lookup took
//! ~40 times as long as this grid's in a probe (docs/sources/network-research.md §5).

use std::sync::OnceLock;

mod ecgi;
pub mod mobility;

pub use ecgi::{Ecgi, ecgi, eci_of};

/// Radius of each ring around the city centre, in metres: urban micro, urban macro, rural macro.
pub const RINGS: [f64; 3] = [2_000.0, 8_000.0, 30_000.0];
/// Distance between neighbouring sites in each ring, in metres (ITU-R M.2135-1 UMi, UMa, RMa).
pub const ISD: [f64; 3] = [200.0, 500.0, 1_732.0];
/// The names of the rings, as a cell is described.
pub const RING_NAMES: [&str; 3] = ["urban_micro", "urban_macro", "rural_macro"];
/// eNodeB ids reserved for each city; its three grids use 3,195 of them.
pub const SITES_PER_CITY: u32 = 4_096;
/// Grid radius of each ring in steps between sites: every point within the ring's radius rounds
/// to a site within it (radius plus the farthest a point is from its site, over a row's height).
const STEPS: [i32; 3] = [13, 20, 21];
/// Mean earth radius, metres (the local plane's scale).
const EARTH_M: f64 = 6_371_008.8;
/// tan 30°: where the sectors facing 0° and 120° (or 240°) meet, relative to north.
const TAN_30: f64 = 0.577_350_269_189_625_8;
const SQRT3_2: f64 = 0.866_025_403_784_438_6;

/// A principal city: the centre of one area code's sites.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    /// Its area code.
    pub area_code: u16,
    /// Its name and state or province, as in the source table.
    pub name: String,
    /// Latitude and longitude of its centre, degrees.
    pub lat: f64,
    /// See `lat`.
    pub lon: f64,
    /// Metres per degree of longitude there.
    m_per_lon: f64,
}

/// The city table, with an index from area code to city.
struct Cities {
    cities: Vec<City>,
    by_code: [u8; 1000],
}

/// Every area code's principal city, in area-code order.
pub fn cities() -> &'static [City] {
    &table().cities
}

/// The index in [`cities`] of `area_code`'s city (every area code of the zone table has one).
#[inline]
pub fn city_of(area_code: u16) -> Option<usize> {
    let i = *table().by_code.get(usize::from(area_code))?;
    (i != u8::MAX).then_some(usize::from(i))
}

fn table() -> &'static Cities {
    static TABLE: OnceLock<Cities> = OnceLock::new();
    TABLE.get_or_init(|| {
        let csv = include_str!("../../docs/sources/area-code-cities.csv");
        let mut cities: Vec<City> = csv.lines().skip(1).filter_map(parse_city).collect();
        cities.sort_by_key(|c| c.area_code);
        let mut by_code = [u8::MAX; 1000];
        for (i, c) in cities.iter().enumerate() {
            by_code[usize::from(c.area_code)] = i as u8;
        }
        Cities { cities, by_code }
    })
}

/// One row of the city table: `area_code,city,region,lat,lon`.
fn parse_city(line: &str) -> Option<City> {
    let f: Vec<&str> = line.trim().split(',').collect();
    let [code, city, region, lat, lon] = f[..] else {
        return None;
    };
    let lat: f64 = lat.parse().ok()?;
    Some(City {
        area_code: code.parse().ok()?,
        name: format!("{city}, {region}"),
        lat,
        lon: lon.parse().ok()?,
        m_per_lon: EARTH_M * lat.to_radians().cos() * std::f64::consts::PI / 180.0,
    })
}

/// A place in a city's plane: metres east and north of its centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spot {
    /// The city (an index into [`cities`]).
    pub city: u16,
    /// Metres east of the centre.
    pub x: f64,
    /// Metres north of the centre.
    pub y: f64,
}

/// A cell's E-UTRAN cell identity: `eNodeB id × 256 + sector`.
pub type Eci = u32;

/// The ring a distance from the centre falls in.
#[inline]
fn ring_at(d2: f64) -> usize {
    if d2 < RINGS[0] * RINGS[0] {
        0
    } else if d2 < RINGS[1] * RINGS[1] {
        1
    } else {
        2
    }
}

/// Sites before each ring in a city's block (see [`ring_base`]).
const RING_BASE: [u32; 4] = [ring_base(0), ring_base(1), ring_base(2), ring_base(3)];

/// Sites before ring `ring` in a city's block: the points of the smaller rings' hexagons.
const fn ring_base(ring: usize) -> u32 {
    let mut base = 0;
    let mut i = 0;
    while i < ring {
        base += hexagon_points(STEPS[i]);
        i += 1;
    }
    base
}

const fn hexagon_points(n: i32) -> u32 {
    (3 * n * (n + 1) + 1) as u32
}

/// Index of axial point (q, r) in a hexagon of radius `n`, row by row from r = -n.
#[inline]
fn hexagon_index(q: i32, r: i32, n: i32) -> u32 {
    let rows_before = if r <= 0 {
        let k = r + n;
        k * (n + 1) + k * (k - 1) / 2
    } else {
        let k0 = n * (n + 1) + n * (n - 1) / 2;
        k0 + r * (2 * n + 1) - r * (r - 1) / 2
    };
    let q_min = (-n).max(-n - r);
    (rows_before + q - q_min) as u32
}

/// The cell serving `spot`: the nearest site of its ring's grid and the sector facing it.
#[inline]
pub fn cell_at(spot: Spot) -> Eci {
    let ring = ring_at(spot.x * spot.x + spot.y * spot.y);
    let site = site_at(spot, ring);
    site.eci | sector_of(spot.x - site.x, spot.y - site.y)
}

/// The site [`cell_at`] finds for a spot of ring `ring`.
#[derive(Debug, Clone, Copy)]
struct Site {
    /// Its cells' ECI without the sector: `eNodeB id × 256`.
    eci: Eci,
    /// Where it is, metres east and north of the city's centre.
    x: f64,
    /// See `x`.
    y: f64,
    /// It is the grid point nearest the spot (not one pulled inside the ring's hexagon).
    nearest: bool,
}

#[inline]
fn site_at(spot: Spot, ring: usize) -> Site {
    let (q0, r0) = nearest_site(spot.x, spot.y, ISD[ring]);
    let n = STEPS[ring];
    let (q, r) = clamp_hex(q0, r0, n);
    let (x, y) = site_xy(q, r, ISD[ring]);
    let site = RING_BASE[ring] + hexagon_index(q, r, n);
    let enb = u32::from(spot.city) * SITES_PER_CITY + site;
    Site {
        eci: enb << 8,
        x,
        y,
        nearest: (q, r) == (q0, r0),
    }
}

/// The sector facing a spot `(dx, dy)` metres east and north of its site.
#[inline]
fn sector_of(dx: f64, dy: f64) -> u32 {
    if dx >= 0.0 {
        u32::from(dy <= dx * TAN_30)
    } else if dy >= -dx * TAN_30 {
        0
    } else {
        2
    }
}

/// The grid point nearest (x, y) on a hexagonal grid of spacing `isd` (axial coordinates,
/// rounded in cube coordinates).
#[inline]
fn nearest_site(x: f64, y: f64, isd: f64) -> (i32, i32) {
    let rf = y / (isd * SQRT3_2);
    let qf = x / isd - rf / 2.0;
    let sf = -qf - rf;
    let (mut q, mut r, s) = (round(qf), round(rf), round(sf));
    let (dq, dr, ds) = ((q - qf).abs(), (r - rf).abs(), (s - sf).abs());
    if dq > dr && dq > ds {
        q = -r - s;
    } else if dr > ds {
        r = -q - s;
    }
    (q as i32, r as i32)
}

/// `x` rounded half away from zero by truncating casts (one instruction each, where `f64::round`
/// is a library call on baseline x86-64); exact for the grid's small coordinates.
#[inline(always)]
fn round(x: f64) -> f64 {
    (x + 0.5f64.copysign(x)) as i64 as f64
}

/// (q, r) pulled inside the hexagon of radius `n` (only points beyond the last ring need it).
#[inline]
fn clamp_hex(q: i32, r: i32, n: i32) -> (i32, i32) {
    let d = q.abs().max(r.abs()).max((q + r).abs());
    if d <= n {
        return (q, r);
    }
    let f = f64::from(n) / f64::from(d);
    let (q, r) = (
        (f64::from(q) * f).trunc() as i32,
        (f64::from(r) * f).trunc() as i32,
    );
    (q, r)
}

#[inline]
fn site_xy(q: i32, r: i32, isd: f64) -> (f64, f64) {
    (
        isd * (f64::from(q) + f64::from(r) / 2.0),
        isd * SQRT3_2 * f64::from(r),
    )
}

/// Everything known about a cell: its identities, tracking area, ring and site.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Its E-UTRAN cell identity.
    pub eci: Eci,
    /// Its eNodeB (site) id.
    pub enb: u32,
    /// 0, 1 or 2.
    pub sector: u8,
    /// Where the sector points, degrees clockwise from north.
    pub azimuth: u16,
    /// Its tracking area code.
    pub tac: u16,
    /// Its ring: an index into [`RING_NAMES`] and [`ISD`].
    pub ring: u8,
    /// The area code whose city it serves.
    pub area_code: u16,
    /// The site's latitude, degrees.
    pub lat: f64,
    /// The site's longitude, degrees.
    pub lon: f64,
}

/// Where the site of `eci` stands: its city (an index into [`cities`]), ring, and metres east
/// and north of the city's centre; `None` for an id that is none of the grids' cells.
pub fn site_place(eci: Eci) -> Option<(u16, usize, f64, f64)> {
    let enb = eci >> 8;
    let (city, site) = (enb / SITES_PER_CITY, enb % SITES_PER_CITY);
    cities().get(city as usize)?;
    let ring = (0..3).rev().find(|&i| site >= ring_base(i))?;
    let (q, r) = hexagon_point(site - ring_base(ring), STEPS[ring])?;
    if eci & 0xff > 2 {
        return None;
    }
    let (x, y) = site_xy(q, r, ISD[ring]);
    Some((city as u16, ring, x, y))
}

/// The cell `eci` describes, if it is one of the grids'.
pub fn cell(eci: Eci) -> Option<Cell> {
    let sector = (eci & 0xff) as u8;
    let enb = eci >> 8;
    let (city, ring, x, y) = site_place(eci)?;
    let c = &cities()[usize::from(city)];
    Some(Cell {
        eci,
        enb,
        sector,
        azimuth: u16::from(sector) * 120,
        tac: tac_of(city, ring, x),
        ring: ring as u8,
        area_code: c.area_code,
        lat: c.lat + (y / EARTH_M).to_degrees(),
        lon: c.lon + x / c.m_per_lon,
    })
}

/// The tracking area of a site: six a city, by ring and by east or west half; never 0.
fn tac_of(city: u16, ring: usize, x: f64) -> u16 {
    city * 8 + ring as u16 * 2 + u16::from(x >= 0.0) + 1
}

/// The axial point at `index` of a hexagon of radius `n` ([`hexagon_index`] reversed).
fn hexagon_point(index: u32, n: i32) -> Option<(i32, i32)> {
    (-n..=n).find_map(|r| {
        let q_min = (-n).max(-n - r);
        let q_max = n.min(n - r);
        let first = hexagon_index(q_min, r, n);
        (index >= first && index <= first + (q_max - q_min) as u32)
            .then(|| (q_min + (index - first) as i32, r))
    })
}

/// `eci` as its place in its city's block of sites, `site × 4 + sector` (14 bits): what a table
/// keeps of a cell whose city it knows ([`eci_in`] gives it back).
#[inline]
pub fn site_in_city(eci: Eci) -> u16 {
    let site = (eci >> 8) % SITES_PER_CITY;
    (site << 2 | (eci & 3)) as u16
}

/// The cell of city `city` at `site` of its block ([`site_in_city`] reversed).
#[inline]
pub fn eci_in(city: u16, site: u16) -> Eci {
    let enb = u32::from(city) * SITES_PER_CITY + u32::from(site >> 2);
    (enb << 8) | u32::from(site & 3)
}

/// Converts a latitude and longitude to a spot in `city`'s plane.
pub fn spot_of(city: usize, lat: f64, lon: f64) -> Spot {
    let c = &cities()[city];
    Spot {
        city: city as u16,
        x: (lon - c.lon) * c.m_per_lon,
        y: (lat - c.lat).to_radians() * EARTH_M,
    }
}

#[cfg(test)]
mod tests;
