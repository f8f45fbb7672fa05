//! Batch inserts and the exact count of a run's documents.

use bson::{RawDocumentBuf, doc, oid::ObjectId};
use mongodb::error::ErrorKind;

use super::kinds::stored;
use super::{DbError, RetryPolicy, Store, until_answered};
use crate::generate::{Kind, RunId};

/// `_id`s of a run counted in one request by [`Store::count_run`].
pub const COUNT_CHUNK: u32 = 1 << 16;

/// How one `insert_many` ended.
#[derive(Debug)]
pub struct BatchOutcome {
    /// Documents of the batch now in the database (exact unless `uncertain`).
    pub written: u64,
    /// Positions in the batch of the documents the server rejected.
    pub rejected: Vec<usize>,
    /// The error, if the batch did not fully succeed.
    pub error: Option<DbError>,
    /// The batch's fate is unknown (the connection failed mid-flight): count the run afterwards.
    pub uncertain: bool,
}

impl BatchOutcome {
    /// The batch fell short because the database could not be reached: sending it again may
    /// work.
    pub fn unavailable(&self) -> bool {
        self.error.as_ref().is_some_and(DbError::is_unavailable)
    }
}

impl Store {
    /// One unordered `insert_many`, and exactly how many of its documents are in the database.
    pub async fn insert_batch(&self, kind: Kind, docs: &[RawDocumentBuf]) -> BatchOutcome {
        let started = std::time::Instant::now();
        let outcome = self.insert_batch_inner(kind, docs).await;
        let collection = kind.collection();
        metrics::histogram!("insert_batch_duration_seconds", "collection" => collection)
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("documents_inserted_total", "collection" => collection)
            .increment(outcome.written);
        if stored(kind).feed && outcome.written > 0 && !outcome.uncertain {
            self.copy_to_feed(docs, &outcome.rejected).await;
        }
        outcome
    }

    async fn insert_batch_inner(&self, kind: Kind, docs: &[RawDocumentBuf]) -> BatchOutcome {
        let n = docs.len() as u64;
        if let Err(e) = self.ensure_setup().await {
            return BatchOutcome {
                written: 0,
                rejected: (0..n as usize).collect(),
                error: Some(e),
                uncertain: false,
            };
        }
        let collection = self.raw(kind);
        let insert = collection.insert_many(docs).ordered(false);
        let answer = self
            .bounded("inserting a batch", async { Ok(insert.await) })
            .await;
        let e = match answer {
            // Given up: sent, and its fate unknown.
            Err(e) => {
                return BatchOutcome {
                    written: 0,
                    rejected: (0..n as usize).collect(),
                    error: Some(e),
                    uncertain: true,
                };
            }
            Ok(Ok(r)) => {
                return BatchOutcome {
                    written: r.inserted_ids.len() as u64,
                    rejected: Vec::new(),
                    error: None,
                    uncertain: false,
                };
            }
            Ok(Err(e)) => e,
        };
        let (rejected, uncertain) = match e.kind.as_ref() {
            ErrorKind::InsertMany(m) if m.write_concern_error.is_none() => {
                // A duplicate `_id` can only be this run's own document, written by an attempt
                // the driver retried: it is in the database. A duplicate on another unique index
                // (one a user added) is a rejection like any other.
                let rejected: Vec<usize> = m
                    .write_errors
                    .iter()
                    .flatten()
                    .filter(|w| !(w.code == 11000 && w.message.contains("index: _id_")))
                    .map(|w| w.index)
                    .collect();
                (rejected, false)
            }
            // No server was selected, so nothing was sent.
            ErrorKind::ServerSelection { .. } => ((0..n as usize).collect(), false),
            _ => ((0..n as usize).collect(), true),
        };
        BatchOutcome {
            written: n - rejected.len() as u64,
            error: (!rejected.is_empty()).then(|| e.into()),
            rejected,
            uncertain,
        }
    }

    /// The highest index of the run's documents (of `count` `_id`s) in the database, if any is:
    /// batches past it need no repair. Asked [`COUNT_CHUNK`] `_id`s at a time from the top: the
    /// test server's cost of a range query grows with the documents in the range, whatever the
    /// limit (8 s for the last of a million calls in one query, 0.3 s per chunk).
    pub async fn last_run_index(
        &self,
        kind: Kind,
        run: RunId,
        count: u32,
    ) -> Result<Option<u32>, DbError> {
        let mut hi = count;
        while hi > 0 {
            let lo = hi.saturating_sub(COUNT_CHUNK);
            let found = self
                .db()
                .collection::<bson::Document>(kind.collection())
                .find_one(doc! { "_id": {
                    "$gte": ObjectId::from_bytes(run.object_id(lo)),
                    "$lte": ObjectId::from_bytes(run.object_id(hi - 1)),
                } })
                .sort(doc! { "_id": -1 })
                .projection(doc! { "_id": 1 })
                .await?;
            if let Some(id) = found.and_then(|d| d.get_object_id("_id").ok()) {
                let b = id.bytes();
                return Ok(Some(u32::from_be_bytes([b[8], b[9], b[10], b[11]])));
            }
            hi = lo;
        }
        Ok(None)
    }

    /// How many documents of the run of `count` `_id`s are in the `kind` collection: the exact
    /// figure after a failure whose outcome was lost. Counted [`COUNT_CHUNK`] `_id`s a request,
    /// each asked again per `policy` until answered (once without one): a large run's count then
    /// finishes on a network that drops connections every few seconds, keeping what it counted,
    /// and no request holds the server long. (One count of a million-call run, cut by resets
    /// every 2 s on a loaded machine, was asked again and again until the test server, which went
    /// on with each abandoned count, ran out of memory.)
    pub async fn count_run(
        &self,
        kind: Kind,
        run: RunId,
        count: u32,
        policy: Option<&RetryPolicy>,
    ) -> Result<u64, DbError> {
        let mut total = 0;
        let mut lo = 0u32;
        while lo < count {
            let hi = lo.saturating_add(COUNT_CHUNK).min(count);
            let chunk = || self.count_ids(kind, run, lo, hi - 1);
            total += match policy {
                Some(policy) => until_answered("counting a run", policy, chunk).await?,
                None => chunk().await?,
            };
            lo = hi;
        }
        Ok(total)
    }

    /// How many of the run's documents `lo..=hi` are in the `kind` collection.
    async fn count_ids(&self, kind: Kind, run: RunId, lo: u32, hi: u32) -> Result<u64, DbError> {
        let filter = doc! { "_id": {
            "$gte": ObjectId::from_bytes(run.object_id(lo)),
            "$lte": ObjectId::from_bytes(run.object_id(hi)),
        } };
        Ok(self.raw(kind).count_documents(filter).await?)
    }
}
