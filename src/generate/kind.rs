//! The kinds of record the service generates, and what every layer needs to know of each kind's
//! documents, in one table ([`KindInfo`]): its collection, time field, the two fields its
//! statistics are keyed by, and how its measure is summed. A layer that needs more of a kind keeps
//! its own table in one place (the store's: `store/kinds.rs`); the code around reads the tables
//! instead of matching on the kind, so a new kind is a variant, a row per table, its generator and
//! its routes.

use serde::{Deserialize, Serialize};

/// The kinds of data the service generates, each into its own collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Call records, into `calls`.
    Calls,
    /// Metric points, into `metrics`.
    Metrics,
    /// Text messages' records (MO and MT), into `sms`.
    Sms,
}

/// How a kind's measure is summed, exactly, in an integer unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Whole seconds that a document may lack (a call's duration: a missed call has none),
    /// with a price summed in cents beside it (the call's cost).
    Seconds,
    /// A value every document has, summed in hundredths, with its smallest and largest.
    Hundredths,
    /// A whole number every document has (a text's segments), with a price summed beside it.
    Count,
}

/// What a kind's documents look like to the code that stores and reads them.
#[derive(Debug)]
pub struct KindInfo {
    /// The collection its documents are written to.
    pub collection: &'static str,
    /// The field holding a document's time (what the statistics' ranges and buckets are over).
    pub time_field: &'static str,
    /// The two fields its statistics are keyed by (a rollup cell's `a` and `b`).
    pub key_fields: (&'static str, &'static str),
    /// The field holding its measure.
    pub measure_field: &'static str,
    /// How that measure is summed.
    pub measure: Measure,
    /// The field holding a price, summed beside the measure as an integer, if any, and what its
    /// value is multiplied by to give that integer (a call's `cost` in dollars: 100, for cents; a
    /// text's `price_millicents`: 1).
    pub price_field: Option<(&'static str, f64)>,
    /// `_id` slots one draw of a run takes: a draw (a call, a point) is one document, or several
    /// records of one event, each in a slot of its own, so a run's documents still lie in one
    /// `_id` range (with gaps where a draw writes fewer).
    pub slots: u32,
}

const CALLS: KindInfo = KindInfo {
    collection: "calls",
    time_field: "start_time",
    key_fields: ("status", "call_type"),
    measure_field: "duration",
    measure: Measure::Seconds,
    price_field: Some(("cost", 100.0)),
    slots: 1,
};

const METRICS: KindInfo = KindInfo {
    collection: "metrics",
    time_field: "timestamp",
    key_fields: ("category", "host"),
    measure_field: "value",
    measure: Measure::Hundredths,
    price_field: None,
    slots: 1,
};

/// Texts: a thread (a message and its reply) is a draw of up to four records, each message's MO
/// record and, when its recipient is on the network, its MT record; priced in millicents.
const SMS: KindInfo = KindInfo {
    collection: "sms",
    time_field: "submit_time",
    key_fields: ("status", "kind"),
    measure_field: "segments",
    measure: Measure::Count,
    price_field: Some(("price_millicents", 1.0)),
    slots: super::sms::RECORD_SLOTS,
};

impl Kind {
    /// Every kind, in the order per-kind arrays ([`Kind::index`]) hold them.
    pub const ALL: [Kind; 3] = [Kind::Calls, Kind::Metrics, Kind::Sms];

    /// What this kind's documents look like.
    pub fn info(self) -> &'static KindInfo {
        match self {
            Kind::Calls => &CALLS,
            Kind::Metrics => &METRICS,
            Kind::Sms => &SMS,
        }
    }

    /// The collection documents of this kind are written to.
    pub fn collection(self) -> &'static str {
        self.info().collection
    }

    /// This kind's place in [`Kind::ALL`], for arrays with an entry per kind.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl Measure {
    /// `m` in the integer unit its sums are kept in.
    pub fn units(self, m: f64) -> i64 {
        match self {
            Measure::Seconds | Measure::Count => {
                debug_assert_eq!(m.fract(), 0.0, "a duration or a count is whole");
                m as i64
            }
            Measure::Hundredths => (m * 100.0).round() as i64,
        }
    }

    /// Whether every document has the measure (so the count of documents with one is the count).
    pub fn always_present(self) -> bool {
        self != Measure::Seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_sits_at_its_index_and_names_its_own_collection() {
        let mut names = Vec::new();
        for (i, k) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(k.index(), i);
            let name = serde_json::to_value(k).unwrap();
            assert_eq!(name, k.collection(), "the collection is named as the kind");
            names.push(k.collection());
        }
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
        assert_eq!(Measure::Hundredths.units(12.345), 1235);
        assert_eq!(Measure::Seconds.units(61.0), 61);
    }
}
