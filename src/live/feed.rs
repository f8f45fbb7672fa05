//! The source of `GET /calls/stream`: new call records as they are written.
//!
//! Where the server has change streams, one change stream per replica feeds every client (a
//! `broadcast` channel: a slow client skips events and is told how many, it never holds the
//! service's memory), and a client reconnecting with `Last-Event-ID` gets a change stream of its
//! own resumed after that event (a few at once; beyond, it joins the shared one and is told).
//! Without change streams (a standalone server), the stream carries the calls this replica's live
//! runs write, and `Last-Event-ID` cannot resume.

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
/// Clients resuming with `Last-Event-ID` at once, each on a change stream of its own.
pub const MAX_RESUMES: usize = 16;

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

    /// The events for one client, from now or right after `last_event_id`.
    pub async fn subscribe(
        self: &Arc<Self>,
        last_event_id: Option<String>,
    ) -> BoxStream<'static, Arc<CallEvent>> {
        let change_streams = self.uses_change_streams().await;
        let mut notice = None;
        if let Some(last) = last_event_id.filter(|s| !s.is_empty()) {
            if !change_streams {
                notice = Some("this server has no change streams: the stream starts from now");
            } else if let Ok(permit) = self.resumes.clone().try_acquire_owned() {
                match self.store.watch_calls(Some(&last)).await {
                    Ok(stream) => {
                        return stream
                            .filter_map(
                                |c| async move { c.ok().map(|c| Arc::new(change_event(c))) },
                            )
                            .map(move |e| {
                                let _keep = &permit;
                                e
                            })
                            .boxed();
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "calls stream not resumed");
                        notice =
                            Some("cannot resume after Last-Event-ID: the stream starts from now");
                    }
                }
            } else {
                notice = Some("too many clients resuming at once: the stream starts from now");
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
                s = self.store.watch_calls(resume.as_deref()) => s,
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
            loop {
                tokio::select! {
                    change = stream.next() => match change {
                        Some(Ok(c)) => {
                            resume = Some(c.token.clone());
                            let _ = self.tx.send(Arc::new(change_event(c)));
                        }
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "calls change stream failed; reopening");
                            break;
                        }
                        None => break,
                    },
                    _ = check.tick() => if self.tx.receiver_count() == 0 { break },
                    _ = self.closing.cancelled() => break,
                }
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

fn change_event(c: CallChange) -> CallEvent {
    CallEvent::Call {
        id: c.token,
        data: call_json(&c.call, c.inserted_at),
    }
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
