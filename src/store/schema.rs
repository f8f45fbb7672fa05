//! Collections, their `$jsonSchema` validators and indexes (and the idempotency keys' TTL index),
//! created idempotently at start-up.

use bson::{Document, doc};
use mongodb::IndexModel;
use mongodb::error::ErrorKind;
use mongodb::options::IndexOptions;

use super::kinds::stored;
use super::{DbError, Store};
use crate::generate::scenario::ScenarioKind;
use crate::generate::sms::{SmsKind, SmsStatus};
use crate::generate::{CallStatus, CallType, Category, Kind};

impl Store {
    /// Runs [`Store::setup`] unless it already succeeded in this process. Every write calls it
    /// first: the database may come up after the service, and a collection a write creates by
    /// itself would have no validator and no indexes.
    pub async fn ensure_setup(&self) -> Result<(), DbError> {
        self.set_up
            .get_or_try_init(|| self.setup())
            .await
            .map(|_| ())
    }

    /// Creates the collections with their validators and the indexes the statistics use.
    /// Idempotent: an existing collection gets its validator replaced with the current one.
    pub async fn setup(&self) -> Result<(), DbError> {
        for kind in Kind::ALL {
            let validator = (stored(kind).validator)();
            let name = kind.collection();
            match self
                .db()
                .create_collection(name)
                .validator(validator.clone())
                .await
            {
                Ok(()) => {}
                // NamespaceExists: bring the validator up to date instead.
                Err(e) if matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == 48) => {
                    self.db()
                        .run_command(doc! { "collMod": name, "validator": validator })
                        .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let index = |keys: Document| IndexModel::builder().keys(keys).build();
        for kind in Kind::ALL {
            self.raw(kind)
                .create_indexes((stored(kind).indexes)().into_iter().map(index))
                .await?;
        }
        self.jobs()
            .create_indexes([index(doc! { "created_at": -1 })])
            .await?;
        // Idempotency keys expire on their own after a day (the TTL monitor runs every minute).
        let ttl = IndexOptions::builder()
            .expire_after(super::idempotency::KEEP)
            .build();
        self.keys()
            .create_indexes([IndexModel::builder()
                .keys(doc! { "created_at": 1 })
                .options(ttl)
                .build()])
            .await?;
        for kind in Kind::ALL {
            for res in super::rollup::Resolution::ALL {
                self.rollup(kind, res)
                    .create_indexes([index(doc! { "start": 1 })])
                    .await?;
            }
        }
        self.setup_cells().await?;
        self.setup_feed().await
    }
}

/// The shortest and longest ECGI, `MCC-MNC-ECI` with the 28-bit ECI in decimal.
const ECGI_MIN: i32 = 3 + 1 + 2 + 1 + 1;
const ECGI_MAX: i32 = 3 + 1 + 3 + 1 + 9;

/// The labels a scenario writes (`anomaly`), the only values the validators admit.
fn anomalies() -> Vec<&'static str> {
    ScenarioKind::ALL.iter().map(|k| k.as_str()).collect()
}

/// `$jsonSchema` for `calls`: required fields and types, enums, bounds, and "a duration exactly when
/// completed".
pub fn calls_validator() -> Document {
    let types: Vec<&str> = CallType::ALL.iter().map(|t| t.as_str()).collect();
    let statuses: Vec<&str> = CallStatus::ALL.iter().map(|s| s.as_str()).collect();
    doc! {
        "$jsonSchema": {
            "bsonType": "object",
            "required": ["call_id", "caller", "callee", "call_type", "status", "start_time", "end_time", "cost", "cost_cents"],
            "properties": {
                "call_id": { "bsonType": "string", "minLength": 36, "maxLength": 36 },
                "caller": { "bsonType": "string", "minLength": 3 },
                "callee": { "bsonType": "string", "minLength": 3 },
                "call_type": { "enum": types },
                "status": { "enum": statuses },
                "start_time": { "bsonType": "date" },
                "end_time": { "bsonType": "date" },
                "duration": { "bsonType": "int", "minimum": 1, "maximum": 7200 },
                "cost": { "bsonType": "double", "minimum": 0 },
                "cost_cents": { "bsonType": "int", "minimum": 0 },
                "anomaly": { "enum": anomalies() },
                "outage_effect": { "enum": ["failed", "reselected"] },
                // Network identities and cells (mobile phones only), optional so every earlier
                // shape stays valid. Lengths, not patterns: a `pattern` is checked per document
                // and halved the test server's insert rate for each few of them (see
                // data-model.md); the generator's tests check the digits.
                "caller_imsi": { "bsonType": "string", "minLength": 15, "maxLength": 15 },
                "caller_imei": { "bsonType": "string", "minLength": 15, "maxLength": 15 },
                "callee_imsi": { "bsonType": "string", "minLength": 15, "maxLength": 15 },
                "callee_network": { "bsonType": "string", "minLength": 6, "maxLength": 7 },
                // ECGI: MCC-MNC-ECI, the ECI a 28-bit number in decimal.
                "caller_cell_start": { "bsonType": "string", "minLength": ECGI_MIN, "maxLength": ECGI_MAX },
                "caller_cell_end": { "bsonType": "string", "minLength": ECGI_MIN, "maxLength": ECGI_MAX },
                "handovers": { "bsonType": "int", "minimum": 0 },
                "callee_cell": { "bsonType": "string", "minLength": ECGI_MIN, "maxLength": ECGI_MAX },
            },
        },
        "$or": [
            { "status": "completed", "duration": { "$exists": true } },
            { "status": { "$ne": "completed" }, "duration": { "$exists": false }, "cost": 0.0, "cost_cents": 0 },
        ],
    }
}

/// `$jsonSchema` for `metrics`: required fields and types, the category enum, and each category's
/// value bounds and unit.
pub fn metrics_validator() -> Document {
    let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let per_category: Vec<Document> = Category::ALL
        .iter()
        .map(|c| {
            let (lo, hi) = c.bounds();
            doc! { "category": c.as_str(), "unit": c.unit(), "value": { "$gte": lo, "$lte": hi } }
        })
        .collect();
    doc! {
        "$jsonSchema": {
            "bsonType": "object",
            "required": ["category", "value", "unit", "timestamp", "host"],
            "properties": {
                "category": { "enum": names },
                "value": { "bsonType": "double", "minimum": 0, "maximum": 60000 },
                "unit": { "bsonType": "string" },
                "timestamp": { "bsonType": "date" },
                "host": { "bsonType": "string", "minLength": 1 },
                "anomaly": { "enum": anomalies() },
                "outage_effect": { "enum": ["failed", "reselected"] },
            },
        },
        "$or": per_category,
    }
}

/// `$jsonSchema` for `sms`: required fields and types, enums, the segment and price bounds, and
/// "a delivery time exactly when delivered".
pub fn sms_validator() -> Document {
    let kinds: Vec<&str> = SmsKind::ALL.iter().map(|k| k.as_str()).collect();
    let statuses: Vec<&str> = SmsStatus::ALL.iter().map(|s| s.as_str()).collect();
    let imsi = doc! { "bsonType": "string", "minLength": 15, "maxLength": 15 };
    let network = doc! { "bsonType": "string", "minLength": 6, "maxLength": 7 };
    let cell = doc! { "bsonType": "string", "minLength": ECGI_MIN, "maxLength": ECGI_MAX };
    doc! {
        "$jsonSchema": {
            "bsonType": "object",
            "required": ["message_id", "direction", "kind", "sender", "recipient", "status",
                         "submit_time", "segments", "price_cents", "price_millicents"],
            "properties": {
                "message_id": { "bsonType": "string", "minLength": 36, "maxLength": 36 },
                "in_reply_to": { "bsonType": "string", "minLength": 36, "maxLength": 36 },
                "direction": { "enum": ["mo", "mt"] },
                "kind": { "enum": kinds },
                "sender": { "bsonType": "string", "minLength": 5 },
                "recipient": { "bsonType": "string", "minLength": 5 },
                "sender_imsi": imsi.clone(),
                "recipient_imsi": imsi,
                "sender_network": network.clone(),
                "recipient_network": network,
                "sender_cell": cell.clone(),
                "recipient_cell": cell,
                "status": { "enum": statuses },
                "submit_time": { "bsonType": "date" },
                "delivery_time": { "bsonType": "date" },
                "segments": { "bsonType": "int", "minimum": 1, "maximum": 10 },
                "price_cents": { "bsonType": "double", "minimum": 0 },
                "price_millicents": { "bsonType": "int", "minimum": 0 },
            },
        },
        "$or": [
            { "status": "delivered", "delivery_time": { "$exists": true } },
            { "status": { "$ne": "delivered" }, "delivery_time": { "$exists": false } },
        ],
    }
}
