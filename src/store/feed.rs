//! The calls feed: a small capped collection holding a copy of each call written "as it happens"
//! (starting within [`RECENT`] of its insert) while anyone, on any replica, listens to
//! `GET /calls/stream`; every replica reads what is new in it a few times a second.
//!
//! Why not a change stream: the server reads every oplog entry for an open change stream, even
//! one whose `$match` keeps nothing, so a 1,000,000-call backfill cost it 40–70 % more CPU with a
//! single dashboard open (a tailable `awaitData` cursor on the feed cost as much, on the test
//! server). The feed costs a backfill of old calls one date comparison per call,
//! and nothing at all while nobody listens (a listener lease in [`LISTENERS`] says when anyone
//! does; writers read it at most once per [`RECHECK`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bson::{Document, RawDocumentBuf, doc, oid::ObjectId};
use mongodb::error::ErrorKind;
use mongodb::options::CreateCollectionOptions;

use super::{DbError, Store};

mod cursor;

pub use cursor::FeedCursor;

/// The capped collection of recent calls.
pub const FEED: &str = "calls_feed";
/// Where replicas with listeners renew their lease (one document, `_id: "calls"`).
pub const LISTENERS: &str = "calls_feed_listeners";
/// The feed's size in bytes: a few minutes of a busy live run, for `Last-Event-ID` to resume in.
pub const FEED_BYTES: u64 = 16 << 20;
/// How recent a call's start must be, against its insert, for the feed to carry it.
pub const RECENT: Duration = Duration::from_secs(60);
/// How long one lease renewal keeps writers copying calls into the feed.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often a writer reads the lease again.
pub const RECHECK: Duration = Duration::from_secs(1);
/// How far back before its newest entry a reader looks again for entries another replica wrote a
/// moment earlier but that landed later.
pub const OVERLAP: Duration = Duration::from_secs(2);
/// Entries one read of the feed returns at most.
pub const POLL_LIMIT: i64 = 20_000;
/// Calls a second one replica copies into the feed; beyond, they are counted, and the count is
/// written as a `skipped` entry (a live run at 100,000 calls/s is not doubled by a dashboard).
pub const MAX_PER_SECOND: u64 = 1_000;

/// One entry of the feed.
#[derive(Debug, Clone)]
pub enum FeedEntry {
    /// A call: the entry's id (the stream's event id), the call, and when it was written.
    Call(ObjectId, Document, bson::DateTime),
    /// This many calls were written but not copied (over [`MAX_PER_SECOND`]).
    Skipped(ObjectId, u64),
}

impl FeedEntry {
    /// The entry's id: what `Last-Event-ID` hands back.
    pub fn id(&self) -> ObjectId {
        match self {
            Self::Call(id, ..) | Self::Skipped(id, _) => *id,
        }
    }

    fn from_doc(d: Document) -> Option<Self> {
        let id = d.get_object_id("_id").ok()?;
        if let Ok(n) = d.get_i64("skipped") {
            return Some(Self::Skipped(id, n as u64));
        }
        let at = *d.get_datetime("at").ok()?;
        Some(Self::Call(id, d.get_document("call").ok()?.clone(), at))
    }
}

/// Whether writers copy calls into the feed, and this second's copy budget; one per process.
#[derive(Debug, Default)]
pub(super) struct FeedGate(Mutex<Gate>);

#[derive(Debug, Default)]
struct Gate {
    checked: Option<Instant>,
    wanted_until: i64,
    second: i64,
    copied: u64,
    skipped: u64,
}

impl Store {
    /// Creates the feed (capped) and its lease collection, when missing.
    pub(super) async fn setup_feed(&self) -> Result<(), DbError> {
        let capped = CreateCollectionOptions::builder()
            .capped(true)
            .size(FEED_BYTES)
            .build();
        for (name, options) in [(FEED, Some(capped)), (LISTENERS, None)] {
            match self
                .db()
                .create_collection(name)
                .with_options(options)
                .await
            {
                // NamespaceExists.
                Err(e) if matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == 48) => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Renews the listeners' lease: writers everywhere copy recent calls for the next [`LEASE`].
    pub async fn listen_to_feed(&self) -> Result<(), DbError> {
        let until = bson::DateTime::now().timestamp_millis() + LEASE.as_millis() as i64;
        self.gate().wanted_until = until;
        self.bounded("renewing the calls feed lease", async {
            self.db()
                .collection::<Document>(LISTENERS)
                .update_one(
                    doc! { "_id": "calls" },
                    doc! { "$max": { "until": bson::DateTime::from_millis(until) } },
                )
                .upsert(true)
                .await?;
            Ok(())
        })
        .await
    }

    /// Copies the calls of `docs` that started within [`RECENT`] (all but positions `rejected`)
    /// into the feed, when anyone listens. Best effort: the calls are written already, and a
    /// stream may skip.
    pub(super) async fn copy_to_feed(&self, docs: &[RawDocumentBuf], rejected: &[usize]) {
        if !self.feed_wanted().await {
            return;
        }
        let now = bson::DateTime::now();
        let oldest = now.timestamp_millis() - RECENT.as_millis() as i64;
        let recent = docs.iter().enumerate().filter(|(i, d)| {
            !rejected.contains(i)
                && d.get_datetime("start_time")
                    .ok()
                    .is_some_and(|t| t.timestamp_millis() >= oldest)
        });
        let mut entries = Vec::new();
        for (_, call) in recent {
            let Some(skipped) = self.feed_budget(now) else {
                continue;
            };
            if skipped > 0 {
                let mut e = RawDocumentBuf::new();
                e.append("_id", ObjectId::new());
                e.append("at", now);
                e.append("skipped", skipped as i64);
                entries.push(e);
            }
            let mut e = RawDocumentBuf::new();
            e.append("_id", ObjectId::new());
            e.append("at", now);
            e.append_ref("call", call.as_ref());
            entries.push(e);
        }
        if entries.is_empty() {
            return;
        }
        let feed = self.db().collection::<RawDocumentBuf>(FEED);
        let copied = self
            .bounded("copying calls to the feed", async {
                Ok(feed.insert_many(entries).ordered(false).await?)
            })
            .await;
        if let Err(e) = copied {
            tracing::debug!(error = %e, "calls not copied to the feed");
        }
    }

    /// Whether a lease is current, read from the database at most once per [`RECHECK`].
    async fn feed_wanted(&self) -> bool {
        let now = bson::DateTime::now().timestamp_millis();
        {
            let mut g = self.gate();
            if g.checked.is_some_and(|c| c.elapsed() < RECHECK) {
                return g.wanted_until > now;
            }
            // Others go on with the old answer while this one asks.
            g.checked = Some(Instant::now());
        }
        let lease = self
            .bounded("reading the calls feed lease", async {
                Ok(self
                    .db()
                    .collection::<Document>(LISTENERS)
                    .find_one(doc! { "_id": "calls" })
                    .await?)
            })
            .await;
        let until = match lease {
            Ok(Some(d)) => d.get_datetime("until").map_or(0, |t| t.timestamp_millis()),
            Ok(None) => 0,
            Err(_) => return false,
        };
        let mut g = self.gate();
        g.wanted_until = g.wanted_until.max(until);
        g.wanted_until > now
    }

    /// Takes one copy from this second's budget: `None` when it is spent (the call is counted),
    /// else how many calls were skipped since the last copy.
    fn feed_budget(&self, now: bson::DateTime) -> Option<u64> {
        let mut g = self.gate();
        let second = now.timestamp_millis().div_euclid(1000);
        if g.second != second {
            g.second = second;
            g.copied = 0;
        }
        if g.copied >= MAX_PER_SECOND {
            g.skipped += 1;
            return None;
        }
        g.copied += 1;
        Some(std::mem::take(&mut g.skipped))
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.feed_gate.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The feed's entries with an `_id` at or after `from`, oldest first (at most [`POLL_LIMIT`]).
    pub async fn feed_since(&self, from: ObjectId) -> Result<Vec<FeedEntry>, DbError> {
        self.bounded("reading the calls feed", async {
            let mut cursor = self
                .db()
                .collection::<Document>(FEED)
                .find(doc! { "_id": { "$gte": from } })
                .sort(doc! { "_id": 1 })
                .limit(POLL_LIMIT)
                .await?;
            let mut entries = Vec::new();
            while cursor.advance().await? {
                if let Some(e) = FeedEntry::from_doc(cursor.deserialize_current()?) {
                    entries.push(e);
                }
            }
            Ok(entries)
        })
        .await
    }

    /// Whether entry `id` is still in the feed (a client may resume right after it).
    pub async fn feed_holds(&self, id: ObjectId) -> Result<bool, DbError> {
        let found = self
            .db()
            .collection::<Document>(FEED)
            .find_one(doc! { "_id": id })
            .projection(doc! { "_id": 1 })
            .await?;
        Ok(found.is_some())
    }
}
