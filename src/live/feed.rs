//! The source of `GET /calls/stream`: new call records as they are written.
//!
//! By default the stream carries calls as they happen: those starting within [`RECENT`] of their
//! insert (a live run's, a backfill's newest minute), from the calls feed ([`crate::store::feed`]):
//! while anyone listens, writers on every replica copy such calls into a small capped collection,
//! and one reader per replica (a few reads a second) feeds every client (a `broadcast` channel: a slow client
//! skips events and is told how many, it never holds the service's memory). A client reconnecting
//! with `Last-Event-ID` gets a reader of its own, resumed right after that event while the feed
//! still holds it (a few at once; beyond, it joins the shared one and is told). A backfill of old
//! calls costs the stream nothing, and the server does no work for it while nobody listens.
//!
//! A client asking for backfills too (`?include=backfill`) gets a change stream of its own (where
//! the server has them), capped at [`BACKFILL_EVENTS_PER_SECOND`] with a `skipped` count for the
//! rest: it makes the server read every insert, so it is opt-in.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bson::oid::ObjectId;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::{OnceCell, Semaphore, broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::store::Store;
use crate::store::feed::{FeedCursor, LEASE};

pub use crate::store::feed::RECENT;

mod event;

pub use event::{CallEvent, call_json};
use event::{capped, change_event, feed_event};

/// Events a slow client may fall behind by before it skips.
pub const BUFFER: usize = 4096;
/// Clients resuming with `Last-Event-ID` or following backfills at once, each on a cursor of its
/// own.
pub const MAX_RESUMES: usize = 16;
/// Calls a second a client following backfills receives; the rest are counted as skipped.
pub const BACKFILL_EVENTS_PER_SECOND: u32 = 200;
/// How often a reader looks for new entries in the feed.
pub const POLL: Duration = Duration::from_millis(150);

/// Shared by every `/calls/stream` client of this replica.
pub struct CallsFeed {
    store: Store,
    tx: broadcast::Sender<Arc<CallEvent>>,
    change_streams: OnceCell<bool>,
    running: AtomicBool,
    /// Whether the shared reader has read once (a new client waits for it, so it misses nothing).
    open: watch::Sender<bool>,
    closing: CancellationToken,
    resumes: Arc<Semaphore>,
}

impl CallsFeed {
    /// A feed over `store`; nothing runs until someone subscribes.
    pub fn new(store: Store) -> Arc<Self> {
        Arc::new(Self {
            store,
            tx: broadcast::channel(BUFFER).0,
            change_streams: OnceCell::new(),
            running: AtomicBool::new(false),
            open: watch::channel(false).0,
            closing: CancellationToken::new(),
            resumes: Arc::new(Semaphore::new(MAX_RESUMES)),
        })
    }

    /// Ends every stream (at shutdown).
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// Fires when the feed closes.
    pub fn closing(&self) -> CancellationToken {
        self.closing.clone()
    }

    /// Whether this replica can follow backfills (the server has change streams; asked once, when
    /// it answers).
    pub async fn uses_change_streams(&self) -> bool {
        match self
            .change_streams
            .get_or_try_init(|| self.store.has_change_streams())
            .await
        {
            Ok(yes) => *yes,
            Err(_) => false,
        }
    }

    /// Clients of this replica: on the shared tail, or on a cursor of their own.
    fn listeners(&self) -> usize {
        self.tx.receiver_count() + MAX_RESUMES - self.resumes.available_permits()
    }

    /// The events for one client, from now or right after `last_event_id`; calls as they happen,
    /// or every insert (capped) with `backfill`.
    pub async fn subscribe(
        self: &Arc<Self>,
        last_event_id: Option<String>,
        backfill: bool,
    ) -> BoxStream<'static, Arc<CallEvent>> {
        let last = last_event_id.filter(|s| !s.is_empty());
        let notice = if backfill {
            match self.own_change_stream(last.as_deref()).await {
                Ok(own) => return capped(own, BACKFILL_EVENTS_PER_SECOND),
                Err(notice) => Some(notice),
            }
        } else if let Some(last) = last {
            match self.own_tail(&last).await {
                Ok(own) => return own,
                Err(notice) => Some(notice),
            }
        } else {
            None
        };
        let rx = self.tx.subscribe();
        self.start_upstream();
        let mut open = self.open.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(2), open.wait_for(|o| *o)).await;
        let shared = futures::stream::unfold(rx, |mut rx| async move {
            let event = match rx.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => Arc::new(CallEvent::Lagged(n)),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((event, rx))
        });
        let first = notice.map(|n| Arc::new(CallEvent::Reset(n)));
        futures::stream::iter(first).chain(shared).boxed()
    }

    /// A change stream of every insert for one client, resumed after `last` when given.
    async fn own_change_stream(
        &self,
        last: Option<&str>,
    ) -> Result<BoxStream<'static, Arc<CallEvent>>, &'static str> {
        if !self.uses_change_streams().await {
            return Err(
                "this server has no change streams: only calls as they happen are streamed",
            );
        }
        let permit = self
            .resumes
            .clone()
            .try_acquire_owned()
            .map_err(|_| TOO_MANY)?;
        let stream = self.store.watch_calls(last).await.map_err(|e| {
            tracing::debug!(error = %e, "calls change stream not opened");
            "cannot resume after Last-Event-ID: the stream starts from now, with calls as they happen"
        })?;
        Ok(stream
            .filter_map(move |c| async move { c.ok().map(change_event).map(Arc::new) })
            .map(move |e| {
                let _keep = &permit;
                e
            })
            .boxed())
    }

    /// A reader of the feed of its own for a client resuming right after entry `last`.
    async fn own_tail(
        self: &Arc<Self>,
        last: &str,
    ) -> Result<BoxStream<'static, Arc<CallEvent>>, &'static str> {
        const GONE: &str = "cannot resume after Last-Event-ID: the stream starts from now";
        let after = ObjectId::parse_str(last).map_err(|_| GONE)?;
        let permit = self
            .resumes
            .clone()
            .try_acquire_owned()
            .map_err(|_| TOO_MANY)?;
        // Writers copy calls while this client listens, even if nobody else does.
        self.start_upstream();
        if !self.store.feed_holds(after).await.unwrap_or(false) {
            return Err(GONE);
        }
        let store = self.store.clone();
        let state = (FeedCursor::after(after), VecDeque::new(), poller());
        let events = futures::stream::unfold(state, move |(mut cursor, mut queue, mut poll)| {
            let store = store.clone();
            async move {
                loop {
                    if let Some(e) = queue.pop_front() {
                        return Some((Arc::new(e), (cursor, queue, poll)));
                    }
                    poll.tick().await;
                    queue.extend(read_feed(&store, &mut cursor).await);
                }
            }
        });
        Ok(events
            .take_until(self.closing.clone().cancelled_owned())
            .map(move |e| {
                let _keep = &permit;
                e
            })
            .boxed())
    }

    fn start_upstream(self: &Arc<Self>) {
        if !self.running.swap(true, Ordering::AcqRel) {
            tokio::spawn(self.clone().upstream());
        }
    }

    /// The shared reader and the listeners' lease: run while anyone listens.
    async fn upstream(self: Arc<Self>) {
        loop {
            self.follow().await;
            self.open.send_replace(false);
            self.running.store(false, Ordering::Release);
            // A client that subscribed meanwhile saw `running` still set: go on for it.
            if self.listeners() == 0
                || self.closing.is_cancelled()
                || self.running.swap(true, Ordering::AcqRel)
            {
                return;
            }
        }
    }

    /// Renews the lease and reads the feed every [`POLL`], until nobody listens.
    async fn follow(&self) {
        let mut cursor = FeedCursor::from_now();
        let mut renew = tokio::time::interval(LEASE / 3);
        let mut poll = poller();
        loop {
            tokio::select! {
                biased;
                _ = self.closing.cancelled() => return,
                _ = renew.tick() => {
                    if self.listeners() == 0 {
                        return;
                    }
                    if let Err(e) = self.store.listen_to_feed().await {
                        tracing::debug!(error = %e, "calls feed lease not renewed");
                    }
                }
                _ = poll.tick() => {
                    for e in read_feed(&self.store, &mut cursor).await {
                        let _ = self.tx.send(Arc::new(e));
                    }
                    self.open.send_replace(true);
                }
            }
        }
    }
}

/// The events of the feed entries `cursor` has not passed on yet (none when the read fails: the
/// next read looks again).
async fn read_feed(store: &Store, cursor: &mut FeedCursor) -> Vec<CallEvent> {
    match store.feed_since(cursor.from()).await {
        Ok(entries) => cursor
            .take(entries)
            .into_iter()
            .filter_map(feed_event)
            .collect(),
        Err(e) => {
            tracing::debug!(error = %e, "calls feed not read");
            Vec::new()
        }
    }
}

/// A clock of [`POLL`] ticks that skips the ticks a slow read missed.
fn poller() -> tokio::time::Interval {
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll
}

const TOO_MANY: &str = "too many clients resuming or following backfills at once: the stream \
                        starts from now, with calls as they happen";
