//! What a call becomes on the stream: the event of a feed entry or a change, its JSON, and the
//! per-second cap on the events of a client following backfills.

use std::sync::Arc;
use std::time::Duration;

use bson::{Bson, Document};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::store::feed::FeedEntry;
use crate::store::watch::CallChange;

/// One event of the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// A call was written: its event id (feed entry id or resume token) and JSON.
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

/// The event of a feed entry (`None` for the feed's first entry, which is neither).
pub(super) fn feed_event(e: FeedEntry) -> Option<CallEvent> {
    match e {
        FeedEntry::Call(id, call, at) => Some(CallEvent::Call {
            id: id.to_hex(),
            data: call_json(&call, Some(at)),
        }),
        FeedEntry::Skipped(_, n) => Some(CallEvent::Lagged(n)),
    }
}

/// The event of an inserted call, from a change stream.
pub(super) fn change_event(c: CallChange) -> CallEvent {
    CallEvent::Call {
        id: c.token,
        data: call_json(&c.call, c.inserted_at),
    }
}

/// `events` with at most `per_second` calls a second; the calls beyond are dropped and counted,
/// and the count sent as a `Lagged` event when the second is over.
pub(super) fn capped(
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
