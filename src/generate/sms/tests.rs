//! Unit tests of the text-message generator: invariants, the records each message produces, prices
//! and counts here; the distributions against the model's tables in distributions.rs. The shared
//! run they read is here.

use super::*;
use crate::generate::CallModel;
use crate::generate::model::TimeZoneMode;
use crate::generate::params::DEFAULT_SUBSCRIBERS;
use crate::generate::population::Population;
use chrono::{TimeZone, Utc};
use std::sync::OnceLock;

const MS_PER_DAY: i64 = 86_400_000;

/// Four whole weeks, every subscriber on UTC: each hour of the week occurs four times, so the
/// hour shares expected are the hour table itself.
pub(super) fn four_weeks() -> TrafficParams {
    TrafficParams {
        end: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        days: 28,
        subscribers: DEFAULT_SUBSCRIBERS,
        model: CallModel {
            time_zone: TimeZoneMode::Utc,
            ..CallModel::default()
        },
    }
}

mod distributions;

const N: u32 = 100_000;

/// One run of [`N`] threads, generated once for the tests that read it.
pub(super) fn run() -> &'static [Thread] {
    static RUN: OnceLock<Vec<Thread>> = OnceLock::new();
    RUN.get_or_init(|| {
        let g = SmsGenerator::new(four_weeks(), 11, N).unwrap();
        (0..u64::from(N)).map(|i| g.thread(i)).collect()
    })
}

#[test]
fn a_thread_is_a_function_of_seed_and_index_and_first_messages_come_in_time_order() {
    let (a, b) = (
        SmsGenerator::new(four_weeks(), 5, 1_000).unwrap(),
        SmsGenerator::new(four_weeks(), 5, 1_000).unwrap(),
    );
    assert_eq!(a.thread(417), b.thread(417));
    // Another seed: other people at another time (not only another id).
    let other = SmsGenerator::new(four_weeks(), 6, 1_000)
        .unwrap()
        .thread(417);
    let m = a.thread(417).message;
    assert_ne!(
        (&m.sender, m.submit_ms),
        (&other.message.sender, other.message.submit_ms)
    );
    let end = four_weeks().end.timestamp_millis();
    let mut last = end - 28 * MS_PER_DAY;
    for i in 0..1_000 {
        let t = a.thread(i).message.submit_ms;
        assert!(t >= last && t < end, "{i}: {t} after {last}, before {end}");
        last = t;
    }
}

#[test]
fn every_message_keeps_the_invariants_and_produces_the_records_its_parties_imply() {
    let code = OPERATORS[CallModel::default().network.mobile().unwrap()].code;
    for t in run() {
        for m in t.messages() {
            assert_eq!(m.message_id.len(), 36);
            assert_ne!(m.sender, m.recipient, "{m:?}");
            assert!(
                m.recipient.starts_with("+1") && m.recipient.len() == 12,
                "{m:?}"
            );
            assert!(m.segments >= 1 && m.segments <= 10, "{m:?}");
            match (m.status, m.delivery_ms) {
                (SmsStatus::Delivered, Some(d)) => {
                    assert!(
                        d >= m.submit_ms && d < m.submit_ms + VALIDITY_S * 1000,
                        "{m:?}"
                    )
                }
                (SmsStatus::Delivered, None) => panic!("delivered without a time: {m:?}"),
                (_, d) => assert_eq!(d, None, "{m:?}"),
            }
            // On the run's network: IMSI and cell; elsewhere: the network only.
            assert_eq!(
                m.recipient_imsi.is_some(),
                m.recipient_cell.is_some(),
                "{m:?}"
            );
            assert_ne!(
                m.recipient_imsi.is_some(),
                m.recipient_network.is_some(),
                "{m:?}"
            );
            assert_eq!(m.sender_imsi.is_some(), m.sender_cell.is_some(), "{m:?}");
            for cell in m.sender_cell.iter().chain(&m.recipient_cell) {
                assert!(
                    crate::generate::cells::eci_of(code, cell).is_some(),
                    "{cell}"
                );
            }
            let directions: Vec<Direction> = m.directions().collect();
            if m.kind.is_a2p() {
                let digits = m.sender.len();
                assert!(
                    (digits == 5 || digits == 6) && m.sender.bytes().all(|b| b.is_ascii_digit())
                );
                assert_eq!(m.sender_network, None);
                assert_eq!(directions, [Direction::Mt], "an application's text: {m:?}");
            } else {
                assert!(m.sender.starts_with("+1") && m.sender.len() == 12, "{m:?}");
                assert!(!directions.is_empty(), "{m:?}");
            }
        }
        let m = &t.message;
        if m.kind == SmsKind::Person {
            assert!(
                m.sender_imsi.is_some(),
                "a person's first text is from a subscriber"
            );
        }
        if let Some(r) = &t.reply {
            assert_eq!(r.in_reply_to.as_deref(), Some(m.message_id.as_str()));
            assert_eq!((&r.sender, &r.recipient), (&m.recipient, &m.sender));
            assert_eq!(r.sender_imsi, m.recipient_imsi);
            assert_eq!(r.sender_network, m.recipient_network);
            assert!(r.submit_ms > m.delivery_ms.unwrap(), "{t:?}");
            assert_eq!(
                r.directions().last(),
                Some(Direction::Mt),
                "back to the subscriber"
            );
        }
    }
    // Both kinds of party occur: records of one side only, and of both.
    let sides = |n: usize| {
        run()
            .iter()
            .flat_map(|t| t.messages())
            .filter(|m| m.directions().count() == n)
            .count()
    };
    assert!(
        sides(1) > 1_000 && sides(2) > 1_000,
        "{} / {}",
        sides(1),
        sides(2)
    );
}

#[test]
fn prices_follow_who_pays() {
    let g = SmsGenerator::new(four_weeks(), 11, N).unwrap();
    let mut billed = 0;
    for m in run().iter().flat_map(|t| t.messages()) {
        let segments = i64::from(m.segments);
        if m.kind.is_a2p() {
            assert_eq!(m.price_millicents, [0, A2P_MILLICENTS * segments]);
        } else {
            assert_eq!(m.price(Direction::Mt), 0);
            let mo = m.price(Direction::Mo);
            assert!(mo == 0 || mo == PAY_PER_USE_MILLICENTS * segments, "{m:?}");
            assert!(
                m.sender_imsi.is_some() || mo == 0,
                "no MO record, no MO price: {m:?}"
            );
            billed += (mo > 0) as u32;
        }
    }
    assert!(billed > 0, "some subscribers are billed per text");
    // Per subscriber, not per text: a billed subscriber pays for every text.
    let ks: Vec<u64> = (0..20_000).filter(|&k| g.per_use(k, 1) > 0).collect();
    let share = ks.len() as f64 / 20_000.0;
    assert!((share - PAY_PER_USE_SHARE).abs() < 0.004, "{share}");
    assert!(
        ks.iter()
            .all(|&k| g.per_use(k, 3) == 3 * PAY_PER_USE_MILLICENTS)
    );
}

#[test]
fn desk_phones_do_not_text() {
    let params = TrafficParams {
        model: crate::generate::model::Preset::Enterprise.model(),
        ..four_weeks()
    };
    assert!(SmsGenerator::new(params, 3, 1_000).is_none());
}

#[test]
fn records_are_bson_documents_with_one_id_range_per_run() {
    let g = SmsGenerator::new(four_weeks(), 11, N).unwrap();
    let run = crate::generate::RunId::new(1_700_000_000, 42);
    let (mut docs, mut expected) = (Vec::new(), 0);
    for i in 0..2_000u32 {
        let before = docs.len();
        g.documents(run, i, &mut docs);
        let t = g.thread(u64::from(i));
        let records: Vec<(&Message, Direction)> = t
            .messages()
            .flat_map(|m| m.directions().map(move |d| (m, d)))
            .collect();
        assert_eq!(docs.len() - before, records.len());
        expected += records.len();
        for (doc, (m, d)) in docs[before..].iter().zip(records) {
            let doc = doc.to_document().unwrap();
            assert_eq!(doc.get_str("message_id").unwrap(), m.message_id);
            assert_eq!(doc.get_str("direction").unwrap(), d.as_str());
            assert_eq!(doc.get_str("status").unwrap(), m.status.as_str());
            assert_eq!(doc.get_i32("segments").unwrap(), m.segments as i32);
            assert_eq!(
                i64::from(doc.get_i32("price_millicents").unwrap()),
                m.price(d)
            );
            assert_eq!(
                doc.get_datetime("submit_time").unwrap().timestamp_millis(),
                m.submit_ms
            );
            assert_eq!(
                doc.get_datetime("delivery_time")
                    .ok()
                    .map(|t| t.timestamp_millis()),
                m.delivery_ms
            );
            assert_eq!(
                doc.get_str("recipient_imsi").ok(),
                m.recipient_imsi.as_deref()
            );
            assert_eq!(doc.get_str("in_reply_to").ok(), m.in_reply_to.as_deref());
            let id = doc.get_object_id("_id").unwrap().bytes();
            let n = u32::from_be_bytes(id[8..].try_into().unwrap());
            assert!(n / RECORD_SLOTS == i, "{n} is not a slot of thread {i}");
            assert_eq!(id[..8], run.object_id(0)[..8]);
        }
    }
    assert_eq!(docs.len(), expected);
    let mut ids: Vec<_> = docs
        .iter()
        .map(|d| d.get_object_id("_id").unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected, "every record has its own _id");
}

#[test]
fn the_daily_count_gives_each_subscriber_the_sourced_messages_a_day_and_no_hub_texts() {
    // The call centre's model: its hub lines take a large share of calls.
    let params = TrafficParams {
        subscribers: 2_000,
        days: 7,
        model: crate::generate::model::Preset::CallCenter.model(),
        ..four_weeks()
    };
    let threads = daily_threads(&params);
    let g = SmsGenerator::new(params, 9, threads).unwrap();
    let mut messages = 0usize;
    let hubs: std::collections::HashSet<String> = {
        let people = Population::new(9, params.subscribers, &params.model);
        (0..u64::from(params.model.hubs))
            .map(|h| people.number(people.hub(h)))
            .collect()
    };
    assert!(!hubs.is_empty());
    for i in 0..u64::from(threads) {
        for m in g.thread(i).messages() {
            messages += 1;
            assert!(
                !hubs.contains(&m.sender) && !hubs.contains(&m.recipient),
                "{m:?}"
            );
        }
    }
    let per_day = messages as f64 / (2_000.0 * 7.0);
    assert!(
        (per_day - DAILY_MESSAGES).abs() < 0.1,
        "{per_day} messages a subscriber a day"
    );
}
