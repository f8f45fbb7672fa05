//! Idempotency keys in the `idempotency` collection: the first request with a key claims it, and
//! its answer is kept for [`KEEP`], so a repeat on any replica gets that answer and writes nothing.

use std::time::Duration;

use bson::doc;
use mongodb::Collection;
use mongodb::error::ErrorKind;
use serde::{Deserialize, Serialize};

use super::{DbError, Store};

/// Name of the collection the keys live in.
pub const COLLECTION: &str = "idempotency";

/// How long a key is remembered: a repeat within this time gets the first answer. A TTL index
/// removes older records; until it runs, [`Store::claim_key`] treats them as absent.
pub const KEEP: Duration = Duration::from_secs(24 * 60 * 60);

/// The answer a keyed request got, kept to be given again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// HTTP status.
    pub status: i32,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The job the answer is about, if any: a repeat answers with the job as it is now.
    pub job: Option<String>,
    /// The body, as JSON text (a seed may exceed BSON's signed 64-bit integers).
    pub body: String,
}

/// A key's record: which request claimed it, when, and the answer once there is one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key, as the client sent it.
    #[serde(rename = "_id")]
    pub key: String,
    /// The request that claimed it (method, path and canonical body): a repeat must match.
    pub request: String,
    /// When it was claimed; the TTL index counts from here.
    pub created_at: bson::DateTime,
    /// The answer; `None` while the first request is still being served.
    pub answer: Option<StoredAnswer>,
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// The key was free and is now this request's: do the work, then complete or release it.
    Claimed,
    /// Another request holds the key (finished or still running).
    Taken(KeyRecord),
}

impl Store {
    pub(super) fn keys(&self) -> Collection<KeyRecord> {
        self.db().collection(COLLECTION)
    }

    /// Claims `key` for `request`, or returns the record of whoever holds it. A record older than
    /// [`KEEP`] that the TTL monitor has not removed yet is replaced.
    pub async fn claim_key(&self, key: &str, request: &str) -> Result<Claim, DbError> {
        for _ in 0..3 {
            let record = KeyRecord {
                key: key.to_owned(),
                request: request.to_owned(),
                created_at: bson::DateTime::now(),
                answer: None,
            };
            match self.keys().insert_one(&record).await {
                Ok(_) => return Ok(Claim::Claimed),
                Err(e) if is_duplicate_key(&e) => {}
                Err(e) => return Err(e.into()),
            }
            let Some(held) = self.key_record(key).await? else {
                continue; // expired and removed in between: claim again
            };
            let expired = bson::DateTime::now().timestamp_millis()
                - held.created_at.timestamp_millis()
                > KEEP.as_millis() as i64;
            if !expired {
                return Ok(Claim::Taken(held));
            }
            self.keys()
                .delete_one(doc! { "_id": key, "created_at": held.created_at })
                .await?;
        }
        // Three races in a row with expiring records: report whoever holds it now.
        match self.key_record(key).await? {
            Some(held) => Ok(Claim::Taken(held)),
            None => Ok(Claim::Claimed),
        }
    }

    /// A key's record, if it is held.
    pub async fn key_record(&self, key: &str) -> Result<Option<KeyRecord>, DbError> {
        Ok(self.keys().find_one(doc! { "_id": key }).await?)
    }

    /// Keeps `answer` as the answer of the request holding `key`.
    pub async fn complete_key(&self, key: &str, answer: &StoredAnswer) -> Result<(), DbError> {
        let answer = bson::to_bson(answer).map_err(mongodb::error::Error::custom)?;
        self.keys()
            .update_one(doc! { "_id": key }, doc! { "$set": { "answer": answer } })
            .await?;
        Ok(())
    }

    /// Frees `key` after its request failed without writing anything, so a retry can do the work.
    pub async fn release_key(&self, key: &str) -> Result<(), DbError> {
        self.keys()
            .delete_one(doc! { "_id": key, "answer": null })
            .await?;
        Ok(())
    }
}

/// E11000: an insert met an existing `_id`.
fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        _ => false,
    }
}
