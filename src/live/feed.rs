//! The source of `GET /calls/stream`: new call records as they are written.
//!
//! Where the server has change streams, one change stream per replica feeds every client (a
//! `broadcast` channel: a slow client skips events and is told how many, it never holds the
//! service's memory), and a client reconnecting with `Last-Event-ID` gets a change stream of its
//! own resumed after that event (a few at once; beyond, it joins the shared one and is told).
//! Without change streams (a standalone server), the stream carries the calls this replica's live
//! runs write, and `Last-Event-ID` cannot resume.
//!
//! By default the stream carries calls as they happen: those starting within [`RECENT`] of their
//! insert (a live run's, a backfill's newest minute). The server filters (the change stream's own
//! `$match` on `start_time`, its bound renewed every [`REFRESH`]), so a backfill of weeks-old calls
//! costs the stream nothing. A client asking for backfills too (`?include=backfill`) gets a change
//! stream of its own, capped at [`BACKFILL_EVENTS_PER_SECOND`] with a `skipped` count for the rest.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bson::{Bson, Document, RawDocumentBuf};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::{OnceCell, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;

use super::CallsTap;
use crate::store::Store;
use crate::store::watch::CallChange;

/// Events a slow client may fall behind by before it skips.
pub const BUFFER: usize = 4096;
/// Clients resuming with `Last-Event-ID` or following backfills at once, each on a change stream
/// of its own.
pub const MAX_RESUMES: usize = 16;
/// How recent a call's start must be (against its insert) for the default stream to carry it.
pub const RECENT: Duration = Duration::from_secs(60);
/// How often the shared change stream renews its server-side `start_time` bound.
pub const REFRESH: Duration = Duration::from_secs(30);
/// Calls a second a client following backfills receives; the rest are counted as skipped.
pub const BACKFILL_EVENTS_PER_SECOND: u32 = 200;

/// One event of the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// A call was written: its event id (resume token or `_id`) and JSON.
    Call {
        /// The SSE event id.
        id: String,
        /// The call as JSON.
        data: String,
    },
    /// This client fell behind and skipped this many calls.
    Lagged(u64),
    /// `Last-Event-ID` could not be honoured; the stream starts from now.
    Reset(&'static str),
}

/// Shared by every `/calls/stream` client of this replica.
pub struct CallsFeed {
    store: Store,
    tx: broadcast::Sender<Arc<CallEvent>>,
    change_streams: OnceCell<bool>,
    running: AtomicBool,
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
            closing: CancellationToken::new(),
            resumes: Arc::new(Semaphore::new(MAX_RESUMES)),
        })
    }

    /// What live runs call with each call batch they wrote: published only when the server has no
    /// change streams (they carry every insert already) and someone listens.
    pub fn tap(self: &Arc<Self>) -> CallsTap {
        let feed = Arc::downgrade(self);
        Arc::new(move |docs: &[RawDocumentBuf]| {
            let Some(feed) = feed.upgrade() else { return };
            if feed.change_streams.get() != Some(&false) || feed.tx.receiver_count() == 0 {
                return;
            }
            let now = bson::DateTime::now();
            for raw in docs {
                let Ok(call) = Document::try_from(raw.as_ref()) else {
                    continue;
                };
                let id = call
                    .get_object_id("_id")
                    .map(|o| o.to_hex())
                    .unwrap_or_default();
                let _ = feed.tx.send(Arc::new(CallEvent::Call {
                    id,
                    data: call_json(&call, Some(now)),
                }));
            }
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

    /// Whether this replica streams from a change stream (asked once, when it answers).
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

    /// The events for one client, from now or right after `last_event_id`; calls as they happen,
    /// or every insert (capped) with `backfill`.
    pub async fn subscribe(
        self: &Arc<Self>,
        last_event_id: Option<String>,
        backfill: bool,
    ) -> BoxStream<'static, Arc<CallEvent>> {
        let change_streams = self.uses_change_streams().await;
        let mut notice = None;
        let last = last_event_id.filter(|s| !s.is_empty());
        if (last.is_some() || backfill) && !change_streams {
            notice = Some(if backfill {
                "this server has no change streams: only live runs' calls are streamed"
            } else {
                "this server has no change streams: the stream starts from now"
            });
        } else if last.is_some() || backfill {
            if let Ok(permit) = self.resumes.clone().try_acquire_owned() {
                let since = (!backfill).then(recent_bound);
                match self.store.watch_calls(last.as_deref(), since).await {
                    Ok(stream) => {
                        let own = stream
                            .filter_map(move |c| async move {
                                c.ok()
                                    .and_then(|c| change_event(c, !backfill))
                                    .map(Arc::new)
                            })
                            .map(move |e| {
                                let _keep = &permit;
                                e
                            })
                            .boxed();
                        return if backfill {
                            capped(own, BACKFILL_EVENTS_PER_SECOND)
                        } else {
                            own
                        };
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "calls stream not resumed");
                        notice =
                            Some("cannot resume after Last-Event-ID: the stream starts from now");
                    }
                }
            } else {
                notice = Some(
                    "too many clients resuming or following backfills at once: the stream starts \
                     from now, with calls as they happen",
                );
            }
        }
        let rx = self.tx.subscribe();
        if change_streams && !self.running.swap(true, Ordering::AcqRel) {
            tokio::spawn(self.clone().upstream());
        }
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

    /// The shared change stream: runs while anyone listens, resumes after errors.
    async fn upstream(self: Arc<Self>) {
        loop {
            self.follow().await;
            self.running.store(false, Ordering::Release);
            // A client that subscribed meanwhile saw `running` still set: go on for it.
            if self.tx.receiver_count() == 0
                || self.closing.is_cancelled()
                || self.running.swap(true, Ordering::AcqRel)
            {
                return;
            }
        }
    }

    async fn follow(&self) {
        let mut resume: Option<String> = None;
        loop {
            let stream = tokio::select! {
                s = self.store.watch_calls(resume.as_deref(), Some(recent_bound())) => s,
                _ = self.closing.cancelled() => break,
            };
            let mut stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "calls change stream not opened; retrying");
                    resume = None;
                    if self.idle_wait(Duration::from_secs(1)).await {
                        break;
                    }
                    continue;
                }
            };
            let mut check = tokio::time::interval(Duration::from_secs(1));
            let renew = tokio::time::sleep(REFRESH);
            tokio::pin!(renew);
            let mut renewing = false;
            loop {
                tokio::select! {
                    change = stream.next() => match change {
                        Some(Ok(c)) => {
                            resume = Some(c.token.clone());
                            if let Some(e) = change_event(c, true) {
                                let _ = self.tx.send(Arc::new(e));
                            }
                        }
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "calls change stream failed; reopening");
                            break;
                        }
                        None => break,
                    },
                    _ = check.tick() => if self.tx.receiver_count() == 0 { break },
                    // Reopen after the last event with a newer `start_time` bound.
                    _ = &mut renew => { renewing = true; break },
                    _ = self.closing.cancelled() => break,
                }
            }
            if renewing && !self.closing.is_cancelled() && self.tx.receiver_count() > 0 {
                continue;
            }
            if self.idle_wait(Duration::from_millis(100)).await {
                break;
            }
        }
    }

    /// Waits `pause`; true when the upstream should end (closing, or nobody listens).
    async fn idle_wait(&self, pause: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(pause) => self.tx.receiver_count() == 0,
            _ = self.closing.cancelled() => true,
        }
    }
}

/// The oldest start a call of the default stream may have, as of now (less [`REFRESH`], since the
/// bound is renewed that often; [`change_event`] applies the exact one).
fn recent_bound() -> bson::DateTime {
    let now = bson::DateTime::now().timestamp_millis();
    bson::DateTime::from_millis(now - (RECENT + REFRESH).as_millis() as i64)
}

/// The event of an inserted call; `None` when only recent calls are wanted and this one started
/// more than [`RECENT`] before its insert.
fn change_event(c: CallChange, recent_only: bool) -> Option<CallEvent> {
    if recent_only {
        let inserted = c.inserted_at.unwrap_or_else(bson::DateTime::now);
        let start = c.call.get_datetime("start_time").ok()?;
        if start.timestamp_millis() < inserted.timestamp_millis() - RECENT.as_millis() as i64 {
            return None;
        }
    }
    Some(CallEvent::Call {
        id: c.token,
        data: call_json(&c.call, c.inserted_at),
    })
}

/// `events` with at most `per_second` calls a second; the calls beyond are dropped and counted,
/// and the count sent as a `Lagged` event when the second is over.
fn capped(
    events: BoxStream<'static, Arc<CallEvent>>,
    per_second: u32,
) -> BoxStream<'static, Arc<CallEvent>> {
    let window = Duration::from_secs(1);
    let state = (events, tokio::time::Instant::now(), 0u32, 0u64);
    futures::stream::unfold(
        state,
        move |(mut events, mut start, mut sent, mut skipped)| async move {
            loop {
                let left = window
                    .saturating_sub(start.elapsed())
                    .max(Duration::from_millis(1));
                let next = tokio::time::timeout(left, events.next()).await;
                if start.elapsed() >= window {
                    start = tokio::time::Instant::now();
                    sent = 0;
                    if skipped > 0 {
                        let lagged = Arc::new(CallEvent::Lagged(skipped));
                        let mut out = vec![lagged];
                        if let Ok(Some(e)) = next {
                            sent += u32::from(matches!(*e, CallEvent::Call { .. }));
                            out.push(e);
                        }
                        return Some((out, (events, start, sent, 0)));
                    }
                }
                match next {
                    Err(_) => continue,
                    Ok(None) => return None,
                    Ok(Some(e)) if matches!(*e, CallEvent::Call { .. }) && sent >= per_second => {
                        skipped += 1;
                    }
                    Ok(Some(e)) => {
                        sent += u32::from(matches!(*e, CallEvent::Call { .. }));
                        return Some((vec![e], (events, start, sent, skipped)));
                    }
                }
            }
        },
    )
    .flat_map(futures::stream::iter)
    .boxed()
}

/// A call document as the JSON a dashboard reads: `_id` as `id` (hex), times as RFC 3339, and
/// `inserted_at` when known.
pub fn call_json(call: &Document, inserted_at: Option<bson::DateTime>) -> String {
    let mut out = serde_json::Map::new();
    for (k, v) in call {
        let (key, value) = match v {
            Bson::ObjectId(o) if k == "_id" => ("id", serde_json::Value::String(o.to_hex())),
            Bson::DateTime(t) => (k.as_str(), rfc3339(*t)),
            other => (k.as_str(), other.clone().into_relaxed_extjson()),
        };
        out.insert(key.to_string(), value);
    }
    if let Some(t) = inserted_at {
        out.insert("inserted_at".into(), rfc3339(t));
    }
    serde_json::Value::Object(out).to_string()
}

fn rfc3339(t: bson::DateTime) -> serde_json::Value {
    serde_json::Value::String(
        t.to_chrono()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}
