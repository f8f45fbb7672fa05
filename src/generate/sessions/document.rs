//! A session's records as the BSON documents that are inserted.

use super::{Partial, Session, SessionGenerator};
use crate::generate::RunId;
use crate::generate::bson::DocWriter;

/// `_id` slots a session takes: one per record, and a session has at most this many (48 records
/// at the time limit over 48 hours, 250 at the volume limit over 25 GB, whichever cuts more).
pub const RECORD_SLOTS: u32 = 256;

/// Most sessions a run may have: their slots must fit the `_id`'s 32-bit index.
pub const MAX_SESSIONS: u32 = u32::MAX / RECORD_SLOTS;

impl SessionGenerator {
    /// The records of session `index` of `run`, appended to `out`: record `j` of the session has
    /// the run's `_id` of document `RECORD_SLOTS × index + j`, so a run's records lie in one `_id`
    /// range. `index` must be below [`MAX_SESSIONS`].
    pub fn documents(&self, run: RunId, index: u32, out: &mut Vec<bson::RawDocumentBuf>) {
        assert!(index < MAX_SESSIONS, "session {index} has no _id slots");
        let s = self.session(u64::from(index));
        for (j, p) in Self::partials(&s).iter().enumerate() {
            out.push(record(
                run.object_id(RECORD_SLOTS * index + j as u32),
                &s,
                p,
            ));
        }
    }
}

/// The record of part `p` of `s`, with `_id` `id`: the TS 32.298 PGW record's fields under
/// plain names.
pub fn record(id: [u8; 12], s: &Session, p: &Partial) -> bson::RawDocumentBuf {
    let mut w = DocWriter::with_capacity(384);
    w.object_id("_id", id);
    w.int64("charging_id", i64::from(s.charging_id));
    w.string("imsi", &s.imsi);
    w.string("imei", &s.imei);
    w.string("msisdn", &s.msisdn);
    w.string("apn", s.apn.as_str());
    w.string("rat_type", s.rat.as_str());
    w.datetime("start_time", p.start_ms);
    w.datetime("end_time", p.end_ms);
    w.int32("duration", ((p.end_ms - p.start_ms) / 1000) as i32);
    // 64-bit integers: a `$sum` of them is exact past 2^53 only as integers.
    w.int64("bytes_up", p.bytes_up as i64);
    w.int64("bytes_down", p.bytes_down as i64);
    w.string("cell_start", &p.cell_start);
    w.string("cell_end", &p.cell_end);
    w.string("cause_for_closing", p.closing.as_str());
    w.int32("cause_code", p.closing.code());
    if p.sequence > 0 {
        w.int32("record_sequence", p.sequence as i32);
    }
    w.finish()
}
