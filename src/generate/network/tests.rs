//! Identities and parties: valid and unique IMSIs and IMEIs, handsets and callee networks by their
//! shares, the same answer for the same subscriber or pair, and codes refused with a reason.

use std::collections::HashSet;

use super::*;
use crate::generate::goodness_of_fit as stats;

#[test]
fn the_check_digit_is_the_one_3gpp_works_out() {
    // TS 23.003 Annex B.3's example, and two more worked by hand.
    assert_eq!(luhn(b"26053179311383"), 7);
    assert_eq!(luhn(b"49015420323751"), 8);
    assert_eq!(luhn(b"35209900176148"), 1);
}

#[test]
fn imsis_and_imeis_are_well_formed_unique_and_fixed_by_the_seed() {
    let net = Network::new(7, 1);
    let (mut imsis, mut imeis) = (HashSet::new(), HashSet::new());
    for k in 0..200_000u64 {
        let imsi = net.imsi(k);
        assert!(imsi.iter().all(u8::is_ascii_digit));
        assert_eq!(&imsi[..6], b"310260", "T-Mobile US's MCC and MNC");
        let imei = net.imei(k);
        assert!(imei.iter().all(u8::is_ascii_digit));
        assert_eq!(imei[14] - b'0', luhn(&imei[..14]), "{imei:?}");
        let tac_prefix = u32::from(imei[0] - b'0') * 10_000
            + std::str::from_utf8(&imei[1..5])
                .unwrap()
                .parse::<u32>()
                .unwrap();
        assert_eq!(DEVICES[net.device(k)].tac_prefix, tac_prefix);
        assert!(imsis.insert(imsi), "IMSI of {k} repeated");
        assert!(imeis.insert(imei), "IMEI of {k} repeated");
    }
    assert_eq!(Network::new(7, 1).imsi(123), net.imsi(123));
    assert_eq!(Network::new(7, 1).imei(123), net.imei(123));
    assert_ne!(Network::new(8, 1).imsi(123), net.imsi(123));
}

#[test]
fn handsets_follow_their_shares() {
    let net = Network::new(3, 0);
    let mut counts = [0u64; DEVICES.len()];
    for k in 0..100_000 {
        counts[net.device(k)] += 1;
    }
    let shares: Vec<f64> = DEVICES.iter().map(|d| d.share).collect();
    stats::assert_fits("device", &counts, &shares);
}

#[test]
fn callees_are_on_net_by_the_operators_share_and_off_net_by_the_others() {
    for (operator, country) in [(1, Country::UnitedStates), (3, Country::Canada)] {
        let net = Network::new(11, operator);
        let mut counts = [0u64; OPERATORS.len()];
        for from in 0..400u64 {
            for to in 0..500u64 {
                let i = match net.party(from, to, country) {
                    Party::OnNet => operator,
                    Party::OffNet(i) => usize::from(i),
                    Party::Fixed => unreachable!(),
                };
                counts[i] += 1;
            }
        }
        // Every callee of the country: on the operator's network by its share, on another's by theirs.
        let (ids, shares): (Vec<usize>, Vec<f64>) = OPERATORS
            .iter()
            .enumerate()
            .filter(|(_, o)| o.country == country)
            .map(|(i, o)| (i, o.share))
            .unzip();
        let observed: Vec<u64> = ids.iter().map(|&i| counts[i]).collect();
        stats::assert_fits(&format!("networks of {country:?}"), &observed, &shares);
        assert_eq!(
            observed.iter().sum::<u64>(),
            200_000,
            "no callee outside the country"
        );
    }
}

#[test]
fn a_callee_abroad_is_off_net_and_a_pair_always_gets_the_same_answer() {
    let net = Network::new(5, 0);
    for from in 0..200u64 {
        for to in 0..200u64 {
            match net.party(from, to, Country::Canada) {
                Party::OffNet(i) => assert_eq!(OPERATORS[usize::from(i)].country, Country::Canada),
                other => panic!("{other:?}"),
            }
            assert_eq!(
                net.party(from, to, Country::UnitedStates),
                net.party(from, to, Country::UnitedStates)
            );
        }
    }
}

#[test]
fn codes_are_read_in_both_forms_and_refused_with_the_reason() {
    assert_eq!(operator_named("310-260"), Ok(1));
    assert_eq!(operator_named("302720"), Ok(3));
    let e = operator_named("31026").unwrap_err();
    assert!(e.contains("not a network of the table"), "{e}");
    assert!(e.contains("311-480 (Verizon)"), "{e}");
    let e = operator_named("31-0260x").unwrap_err();
    assert!(e.contains("5 or 6 digits"), "{e}");
    let e = operator_named("1234567").unwrap_err();
    assert!(e.contains("5 or 6 digits"), "{e}");
    assert_eq!(country_of(416), Country::Canada);
    assert_eq!(country_of(212), Country::UnitedStates);
}

#[test]
fn every_canadian_area_code_is_in_the_zone_table() {
    let codes: HashSet<u16> = crate::generate::zones::NANP
        .iter()
        .flat_map(|z| z.area_codes.iter().copied())
        .collect();
    for c in CANADIAN_AREA_CODES {
        assert!(codes.contains(&c), "{c}");
    }
    for o in &OPERATORS {
        let mcc: u16 = o.code[..3].parse().unwrap();
        let expected = if mcc == 302 {
            Country::Canada
        } else {
            Country::UnitedStates
        };
        assert_eq!(o.country, expected, "{}", o.name);
        assert!((310..=316).contains(&mcc) || mcc == 302, "{}", o.name);
    }
    for country in [Country::UnitedStates, Country::Canada] {
        let total: f64 = OPERATORS
            .iter()
            .filter(|o| o.country == country)
            .map(|o| o.share)
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "{country:?}: {total}");
    }
    let devices: f64 = DEVICES.iter().map(|d| d.share).sum();
    assert!((devices - 1.0).abs() < 1e-9, "{devices}");
}
