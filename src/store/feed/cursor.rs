//! A reader's place in the calls feed: which entries it has passed on, so replicas' entries that
//! land out of order are passed on once.

use bson::oid::ObjectId;

use super::{FeedEntry, OVERLAP};

/// Where a reader of the feed stands: which recent entries it has passed on. Entry ids are
/// `ObjectId`s made by each writer; two replicas' entries of the same moment may land in either
/// order, so every read goes back [`OVERLAP`] before the newest entry and passes on only the
/// entries it has not seen.
#[derive(Debug, Clone)]
pub struct FeedCursor {
    newest: u32,
    seen: std::collections::HashSet<ObjectId>,
    /// The first read only marks what is there (a reader from now).
    priming: bool,
    /// Entries at or before this one were passed on before (a reader resuming after it).
    after: Option<ObjectId>,
}

impl FeedCursor {
    /// A reader of the entries written from now on.
    pub fn from_now() -> Self {
        Self {
            newest: now_secs(),
            seen: Default::default(),
            priming: true,
            after: None,
        }
    }

    /// A reader resuming right after entry `id`.
    pub fn after(id: ObjectId) -> Self {
        Self {
            newest: id.timestamp().timestamp_millis().div_euclid(1000) as u32,
            seen: Default::default(),
            priming: false,
            after: Some(id),
        }
    }

    /// The `_id` the next read starts from.
    pub fn from(&self) -> ObjectId {
        let secs = self
            .newest
            .min(now_secs())
            .saturating_sub(OVERLAP.as_secs() as u32);
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        ObjectId::from_bytes(b)
    }

    /// The entries of a read not passed on before, in the order read.
    pub fn take(&mut self, entries: Vec<FeedEntry>) -> Vec<FeedEntry> {
        let priming = std::mem::take(&mut self.priming);
        let mut fresh = Vec::new();
        for e in entries {
            let id = e.id();
            self.newest = self.newest.max(secs_of(id));
            if !self.seen.insert(id) || priming || self.after.is_some_and(|a| id <= a) {
                continue;
            }
            fresh.push(e);
        }
        let from = secs_of(self.from());
        self.seen.retain(|id| secs_of(*id) >= from);
        fresh
    }
}

fn secs_of(id: ObjectId) -> u32 {
    u32::from_be_bytes(id.bytes()[..4].try_into().unwrap_or_default())
}

fn now_secs() -> u32 {
    bson::DateTime::now().timestamp_millis().div_euclid(1000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(secs: u32, n: u8) -> ObjectId {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        b[11] = n;
        ObjectId::from_bytes(b)
    }

    fn skipped(id: ObjectId) -> FeedEntry {
        FeedEntry::Skipped(id, 1)
    }

    fn ids(entries: Vec<FeedEntry>) -> Vec<ObjectId> {
        entries.into_iter().map(|e| e.id()).collect()
    }

    #[test]
    fn a_reader_from_now_passes_on_only_what_came_after_its_first_read() {
        let t = now_secs();
        let mut c = FeedCursor::from_now();
        assert_eq!(secs_of(c.from()), t - OVERLAP.as_secs() as u32);
        assert!(c.take(vec![skipped(id(t, 1))]).is_empty());
        let fresh = c.take(vec![skipped(id(t, 1)), skipped(id(t, 2))]);
        assert_eq!(ids(fresh), vec![id(t, 2)]);
    }

    #[test]
    fn an_entry_landing_late_behind_a_newer_one_is_passed_on_once() {
        let t = now_secs();
        let mut c = FeedCursor::after(id(t - 1, 0));
        assert_eq!(ids(c.take(vec![skipped(id(t, 5))])), vec![id(t, 5)]);
        // Another replica's entry of a moment earlier lands after it: the next read still sees it.
        let again = c.take(vec![skipped(id(t - 1, 3)), skipped(id(t, 5))]);
        assert_eq!(ids(again), vec![id(t - 1, 3)]);
        assert!(
            c.take(vec![skipped(id(t - 1, 3)), skipped(id(t, 5))])
                .is_empty()
        );
    }

    #[test]
    fn a_resuming_reader_starts_right_after_its_entry_and_forgets_what_is_out_of_reach() {
        let t = now_secs() - 100;
        let mut c = FeedCursor::after(id(t, 2));
        let first = c.take(vec![
            skipped(id(t, 1)),
            skipped(id(t, 2)),
            skipped(id(t, 3)),
        ]);
        assert_eq!(ids(first), vec![id(t, 3)]);
        c.take(vec![skipped(id(t + 50, 0))]);
        assert_eq!(secs_of(c.from()), t + 50 - OVERLAP.as_secs() as u32);
        assert!(c.seen.iter().all(|i| secs_of(*i) >= t + 48), "{:?}", c.seen);
    }
}
