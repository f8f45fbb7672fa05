//! Network identities in the calls: one IMSI and one IMEI per subscriber, valid check digits,
//! callees on and off the network by the operators' shares, none for desk phones or hub lines.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::generate::goodness_of_fit as stats;
use crate::generate::model::{Phones, Preset};
use crate::generate::network::{Country, OPERATORS, country_of, luhn};

#[test]
fn a_subscriber_keeps_one_imsi_and_one_handset_in_every_call() {
    let (mut imsi_of, mut imei_of) = (HashMap::new(), HashMap::new());
    let mut callee_imsi_of = HashMap::new();
    for r in run() {
        let i = r
            .identities
            .as_ref()
            .expect("mobile calls carry identities");
        assert!(i.caller_imsi.starts_with("311480"), "{i:?}");
        let imei = i.caller_imei.as_bytes();
        assert_eq!(imei[14] - b'0', luhn(&imei[..14]), "{i:?}");
        assert_eq!(
            imsi_of.entry(&r.caller).or_insert(&i.caller_imsi),
            &&i.caller_imsi
        );
        assert_eq!(
            imei_of.entry(&r.caller).or_insert(&i.caller_imei),
            &&i.caller_imei
        );
        assert!(
            i.callee_imsi.is_some() != i.callee_network.is_some(),
            "{i:?}"
        );
        if let Some(imsi) = &i.callee_imsi {
            // A callee on the network is a subscriber: the IMSI its own calls carry.
            assert_eq!(callee_imsi_of.entry(&r.callee).or_insert(imsi), &imsi);
        }
    }
    for (number, imsi) in &callee_imsi_of {
        if let Some(own) = imsi_of.get(number) {
            assert_eq!(own, imsi, "{number}");
        }
    }
    let distinct: HashSet<_> = imsi_of.values().collect();
    assert_eq!(distinct.len(), imsi_of.len(), "two callers share an IMSI");
}

#[test]
fn callees_are_on_and_off_the_network_by_market_share() {
    // Counted over distinct caller and callee pairs: a pair's network is drawn once.
    let mut seen = HashSet::new();
    let (mut us, mut canada) = ([0u64; 3], [0u64; 5]);
    for r in run() {
        if !seen.insert((&r.caller, &r.callee)) {
            continue;
        }
        let i = r.identities.as_ref().unwrap();
        let code = i.callee_network.unwrap_or("311-480");
        let op = OPERATORS.iter().position(|o| o.code == code).unwrap();
        let area: u16 = r.callee[2..5].parse().unwrap();
        match country_of(area) {
            Country::UnitedStates => us[op] += 1,
            Country::Canada => {
                assert!(
                    i.callee_network.is_some(),
                    "a Canadian callee on a US network: {r:?}"
                );
                canada[op - 3] += 1;
            }
        }
    }
    assert!(us.iter().sum::<u64>() > 50_000, "{us:?}");
    stats::assert_fits("US callees' networks", &us, &[0.37, 0.33, 0.30]);
    stats::assert_fits(
        "Canadian callees' networks",
        &canada,
        &[0.32, 0.28, 0.28, 0.09, 0.03],
    );
}

#[test]
fn desk_phones_and_hub_lines_carry_no_identities() {
    let desk = CallParams {
        model: Preset::Enterprise.model(),
        ..four_weeks()
    };
    assert_eq!(desk.model.network.phones, Phones::Desk);
    let g = CallGenerator::new(desk, 3, 2_000);
    assert!((0..2_000).all(|i| g.record(i).identities.is_none()));
    let centre = CallParams {
        model: Preset::CallCenter.model(),
        ..four_weeks()
    };
    let g = CallGenerator::new(centre, 3, 2_000);
    let (mut fixed, mut mobile) = (0, 0);
    for i in 0..2_000 {
        let id = g.record(i).identities.unwrap();
        if id.callee_imsi.is_none() && id.callee_network.is_none() {
            fixed += 1;
        } else {
            mobile += 1;
        }
    }
    // 85 % of a call centre's calls go to its hub lines.
    assert!(
        (1_600..1_800).contains(&fixed),
        "{fixed} to fixed lines, {mobile} to phones"
    );
}

#[test]
fn tabled_identities_are_the_ones_worked_out_each_time() {
    let p = CallParams {
        subscribers: 500,
        ..four_weeks()
    };
    let g = CallGenerator::new(p, 9, 5_000);
    assert!(
        g.identity_table.is_some(),
        "a run of 10 calls a subscriber tables them"
    );
    let mut untabled = g.clone();
    untabled.identity_table = None;
    for i in 0..5_000 {
        assert_eq!(g.record(i), untabled.record(i), "call {i}");
    }
}

/// Where the calls are made: every mobile call has its caller's cells, an on-net callee its
/// cell; a call hands over exactly when it ends in another cell, about one in twelve does; and a
/// caller's two main cells carry most of their calls (55–65 % in the model, González et al. 2008),
/// which calls placed anywhere (no mobility) or always at home would both miss.
#[test]
fn calls_happen_in_cells_mostly_a_callers_two_main_ones() {
    let mut by_caller: HashMap<&str, HashMap<&str, u32>> = HashMap::new();
    let mut moving = 0;
    for r in run() {
        let i = r.identities.as_ref().expect("mobile calls carry cells");
        assert!(i.caller_cell_start.starts_with("311-480-"), "{i:?}");
        assert_eq!(i.callee_cell.is_some(), i.callee_imsi.is_some(), "{i:?}");
        assert_eq!(
            i.handovers > 0,
            i.caller_cell_end != i.caller_cell_start,
            "{i:?}"
        );
        moving += u32::from(i.handovers > 0);
        *by_caller
            .entry(&r.caller)
            .or_default()
            .entry(&i.caller_cell_start)
            .or_default() += 1;
    }
    let share = f64::from(moving) / f64::from(N);
    assert!((0.04..0.12).contains(&share), "{share} of calls hand over");
    let shares: Vec<f64> = by_caller
        .values()
        .filter(|cells| cells.values().sum::<u32>() >= 30)
        .map(|cells| {
            let mut n: Vec<u32> = cells.values().copied().collect();
            n.sort_unstable_by(|a, b| b.cmp(a));
            f64::from(n[0] + n.get(1).copied().unwrap_or(0)) / f64::from(n.iter().sum::<u32>())
        })
        .collect();
    assert!(shares.len() >= 200, "{} busy callers", shares.len());
    let mean = shares.iter().sum::<f64>() / shares.len() as f64;
    eprintln!(
        "top-2 share {mean:.3} over {} callers, moving {share:.3}",
        shares.len()
    );
    assert!(
        (0.50..=0.70).contains(&mean),
        "two main cells carry {mean:.3}"
    );
}
