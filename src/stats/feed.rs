//! The source of `GET /stats/stream`: one upstream per replica, however many clients. While anyone
//! listens, a task checks the data version once a second and, when the overview changed, publishes
//! it on a `watch` channel. A channel that holds only the newest value means a slow client skips
//! to the latest overview instead of queueing old ones: it loses events, never the service's memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Source, StatsReader};

/// How often the feed looks for a change while clients listen.
pub const FEED_PERIOD: Duration = Duration::from_secs(1);

/// The newest overview (JSON), shared by every stream of this replica.
pub struct OverviewFeed {
    reader: StatsReader,
    tx: watch::Sender<Option<Arc<Vec<u8>>>>,
    running: AtomicBool,
    closing: CancellationToken,
}

impl OverviewFeed {
    /// A feed reading through `reader`; nothing runs until someone subscribes.
    pub fn new(reader: StatsReader) -> Self {
        Self {
            reader,
            tx: watch::channel(None).0,
            running: AtomicBool::new(false),
            closing: CancellationToken::new(),
        }
    }

    /// A receiver of the newest overview (`None` until the first one was read), starting the
    /// upstream task when it is not running.
    pub fn subscribe(self: &Arc<Self>) -> watch::Receiver<Option<Arc<Vec<u8>>>> {
        let rx = self.tx.subscribe();
        if !self.running.swap(true, Ordering::AcqRel) {
            tokio::spawn(self.clone().run());
        }
        rx
    }

    /// Ends every stream (at shutdown) and stops the upstream task.
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// Fires when the feed closes.
    pub fn closing(&self) -> CancellationToken {
        self.closing.clone()
    }

    async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(FEED_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.closing.cancelled() => return,
            }
            if self.tx.receiver_count() == 0 {
                self.running.store(false, Ordering::Release);
                // A client that subscribed meanwhile saw `running` still set: keep going for it.
                if self.tx.receiver_count() == 0 || self.running.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
            match self.reader.overview(None, None, Source::Rollups).await {
                Ok(body) => {
                    self.tx.send_if_modified(|current| {
                        let changed = current.as_ref() != Some(&body);
                        if changed {
                            *current = Some(body);
                        }
                        changed
                    });
                }
                // Streams keep their last overview; the next tick tries again.
                Err(e) => tracing::debug!(error = %e, "overview feed read failed"),
            }
        }
    }
}
