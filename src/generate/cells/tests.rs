use super::mobility::{LocalTime, Mobility, Slot};
use super::*;
use crate::generate::zones::NANP;

fn spot(city: usize, x: f64, y: f64) -> Spot {
    Spot {
        city: city as u16,
        x,
        y,
    }
}

fn distance_m(a: &Cell, lat: f64, lon: f64) -> f64 {
    let c = &cities()[city_of(a.area_code).unwrap()];
    let dx = (a.lon - lon) * c.m_per_lon;
    let dy = (a.lat - lat).to_radians() * EARTH_M;
    (dx * dx + dy * dy).sqrt()
}

#[test]
fn every_area_code_of_the_zones_has_a_city() {
    assert_eq!(cities().len(), 224);
    for z in &NANP {
        for &code in z.area_codes {
            let c = &cities()[city_of(code).unwrap_or_else(|| panic!("no city for {code}"))];
            assert_eq!(c.area_code, code);
            assert!((15.0..72.0).contains(&c.lat) && (-170.0..-50.0).contains(&c.lon));
        }
    }
}

#[test]
fn the_grids_indexes_are_a_bijection_within_a_city() {
    for (ring, &n) in STEPS.iter().enumerate() {
        let mut seen = std::collections::HashSet::new();
        for r in -n..=n {
            for q in (-n).max(-n - r)..=n.min(n - r) {
                let i = hexagon_index(q, r, n);
                assert!(i < hexagon_points(n), "ring {ring} ({q},{r}) → {i}");
                assert_eq!(hexagon_point(i, n), Some((q, r)));
                assert!(seen.insert(i));
            }
        }
        assert_eq!(seen.len() as u32, hexagon_points(n));
    }
    assert!(ring_base(3) <= SITES_PER_CITY, "{}", ring_base(3));
    // The last city's last eNodeB id still fits in 20 bits.
    assert!((cities().len() as u32) * SITES_PER_CITY < 1 << 20);
}

#[test]
fn a_point_is_served_by_a_nearby_site_of_its_ring_facing_it() {
    let mut rng = crate::generate::rng::stream_rng(1, 0);
    for _ in 0..20_000 {
        let city = crate::generate::rng::below(&mut rng, 224) as usize;
        let r = RINGS[2] * crate::generate::rng::unit(&mut rng).sqrt();
        let a = std::f64::consts::TAU * crate::generate::rng::unit(&mut rng);
        let p = spot(city, r * a.sin(), r * a.cos());
        let eci = cell_at(p);
        assert!(eci < 1 << 28);
        let c = cell(eci).expect("a grid cell");
        let ring = ring_at(p.x * p.x + p.y * p.y);
        assert_eq!(usize::from(c.ring), ring);
        // The nearest site of a hexagonal grid is within its circumradius, ISD / √3.
        let (lat, lon) = (
            cities()[city].lat + (p.y / EARTH_M).to_degrees(),
            cities()[city].lon + p.x / cities()[city].m_per_lon,
        );
        let d = distance_m(&c, lat, lon);
        assert!(d <= ISD[ring] / 3f64.sqrt() + 1.0, "{d} m from its site");
        // The point is within 60° of the sector's azimuth.
        let site = spot_of(city, c.lat, c.lon);
        let bearing = (p.x - site.x)
            .atan2(p.y - site.y)
            .to_degrees()
            .rem_euclid(360.0);
        let off = (bearing - f64::from(c.azimuth) + 540.0).rem_euclid(360.0) - 180.0;
        assert!(
            off.abs() <= 60.0 + 1e-6,
            "bearing {bearing} vs {}",
            c.azimuth
        );
        assert_eq!(cities()[city].area_code, c.area_code);
        assert_eq!(eci_of("311-480", &ecgi("311-480", eci)), Some(eci));
    }
}

#[test]
fn neighbouring_sites_are_at_the_rings_inter_site_distance() {
    // Walk east from the centre: consecutive distinct sites of one ring are one ISD apart.
    for ring in 0..3 {
        let start = if ring == 0 {
            0.0
        } else {
            RINGS[ring - 1] + 10.0
        };
        let mut sites: Vec<Cell> = Vec::new();
        let mut x = start;
        while x < RINGS[ring] - ISD[ring] {
            let c = cell(cell_at(spot(100, x, 0.0))).unwrap();
            if sites.last().is_none_or(|s| s.enb != c.enb) {
                sites.push(c);
            }
            x += 5.0;
        }
        assert!(sites.len() >= 4, "ring {ring}: {} sites", sites.len());
        for w in sites.windows(2) {
            let d = distance_m(&w[0], w[1].lat, w[1].lon);
            assert!(
                (d - ISD[ring]).abs() < 1.0,
                "ring {ring}: sites {d:.1} m apart, ISD {}",
                ISD[ring]
            );
        }
    }
}

#[test]
fn tracking_areas_are_six_a_city_and_never_zero() {
    let mut tacs = std::collections::HashSet::new();
    for x in [-20_000.0, -5_000.0, -500.0, 500.0, 5_000.0, 20_000.0] {
        let c = cell(cell_at(spot(7, x, 300.0))).unwrap();
        assert!(c.tac > 0);
        tacs.insert(c.tac);
    }
    assert_eq!(tacs.len(), 6);
}

/// The local time of minute `m` of a week (Monday 00:00 = 0) in week `w`.
fn at(w: i64, hour_of_week: usize) -> LocalTime {
    LocalTime {
        hour_of_week,
        day: 20_000 + w * 7 + (hour_of_week / 24) as i64,
    }
}

/// For 400 subscribers of city 50, 60 calls each spread over the week by the calls' hour
/// profile: the share of each one's calls from its two main cells, and of its night calls from
/// its home cell.
fn shares(m: &Mobility) -> (f64, f64) {
    let hours = crate::generate::defaults::HOUR_WEIGHTS;
    let cum = crate::generate::rng::cumulative::<24>(hours);
    let mut rng = crate::generate::rng::stream_rng(9, 9);
    let (mut top2, mut night_home, mut nights) = (0.0, 0, 0);
    for k in 0..400u64 {
        let mut count = std::collections::HashMap::<Eci, u32>::new();
        let home = m.anchor_cells(k, 50)[0];
        for i in 0..60u64 {
            let day = crate::generate::rng::below(&mut rng, 7) as usize;
            let hour = crate::generate::rng::weighted(&mut rng, &cum);
            let t = at(i as i64 % 4, day * 24 + hour);
            let p = m.caller(k, 50, t, k * 1000 + i, 60.0, None);
            *count.entry(p.start).or_default() += 1;
            if Slot::of_hour_of_week(t.hour_of_week) == Slot::Night {
                nights += 1;
                night_home += u32::from(p.start == home);
            }
        }
        let mut v: Vec<u32> = count.into_values().collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        top2 += f64::from(v.iter().take(2).sum::<u32>()) / 60.0;
    }
    (top2 / 400.0, f64::from(night_home) / f64::from(nights))
}

#[test]
fn two_cells_carry_most_of_a_subscribers_calls_and_nights_are_at_home() {
    let (top2, night_home) = shares(&Mobility::new(5));
    assert!((0.55..=0.65).contains(&top2), "top-2 share {top2:.3}");
    assert!(night_home > 0.85, "night calls from home {night_home:.3}");
}

#[test]
fn calls_on_the_move_hand_over_and_those_standing_still_do_not() {
    let m = Mobility::new(3);
    let (mut moving, mut handovers, mut calls) = (0, 0u64, 0);
    for i in 0..20_000u64 {
        let p = m.caller(i % 500, 20, at(0, 14), i, 180.0, None);
        calls += 1;
        if p.handovers > 0 {
            moving += 1;
            handovers += u64::from(p.handovers);
            assert_ne!(p.start, p.end);
        } else {
            assert_eq!(p.start, p.end);
        }
    }
    let share = f64::from(moving) / f64::from(calls);
    // 10 % move; a 3-minute drive crosses 1.4–3.4 km, so nearly all of them hand over.
    assert!((0.07..0.11).contains(&share), "{share}");
    assert!(handovers as f64 / f64::from(moving) >= 2.0);
}

/// A drive's cells found by [`mobility::Track`] are [`cell_at`]'s at every point: straight
/// lines through every ring of many cities, in steps as short as a drive's and shorter, so
/// points land close to every kind of edge (sites, sectors, rings, the last ring's rim).
#[test]
fn a_drive_tracks_the_cells_cell_at_finds() {
    let mut rng = crate::generate::rng::stream_rng(7, 7);
    let mut unit = || crate::generate::rng::unit(&mut rng);
    for _ in 0..20_000 {
        let city = (unit() * cities().len() as f64) as usize;
        let (r, a) = (32_000.0 * unit().sqrt(), std::f64::consts::TAU * unit());
        let (s, c) = (std::f64::consts::TAU * unit()).sin_cos();
        let step = [1.0, 13.7, 50.0, 125.0, 433.0][(unit() * 5.0) as usize];
        let mut track = mobility::Track::default();
        for i in 0..120 {
            let d = f64::from(i) * step;
            let p = spot(city, r * a.sin() + s * d, r * a.cos() + c * d);
            assert_eq!(track.cell(p), cell_at(p), "{p:?}");
        }
    }
}
