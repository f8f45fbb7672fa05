//! A thread's records as the BSON documents that are inserted.

use super::{Direction, Message, SmsGenerator};
use crate::generate::bson::DocWriter;
use crate::generate::{RunId, Tally};

/// `_id` slots a thread takes: the first message's MO and MT records, the reply's MO and MT.
pub const RECORD_SLOTS: u32 = 4;

/// Most threads a run may have: their slots must fit the `_id`'s 32-bit index.
pub const MAX_THREADS: u32 = u32::MAX / RECORD_SLOTS;

impl SmsGenerator {
    /// The records of thread `index` of `run`, appended to `out`. Record `slot` (see
    /// [`RECORD_SLOTS`]) has the run's `_id` of document `RECORD_SLOTS × index + slot`, so a run's
    /// records lie in one `_id` range, with gaps where a party is off the network. `index` must
    /// be below [`MAX_THREADS`].
    pub fn documents(&self, run: RunId, index: u32, out: &mut Vec<bson::RawDocumentBuf>) {
        self.tallied_documents(run, index, &mut Vec::new(), |doc, _| out.push(doc));
    }

    /// [`Self::documents`], each handed to `emit` with what the rollups count of it (submit time,
    /// status, kind, segments, price in millicents), written into `buffers` while they last.
    pub fn tallied_documents(
        &self,
        run: RunId,
        index: u32,
        buffers: &mut Vec<Vec<u8>>,
        mut emit: impl FnMut(bson::RawDocumentBuf, &Tally<'static>),
    ) {
        assert!(index < MAX_THREADS, "thread {index} has no _id slots");
        let thread = self.thread(u64::from(index));
        for (m, first_slot) in thread.messages().zip([0, 2]) {
            for direction in m.directions() {
                let slot = first_slot + direction as u32;
                let id = run.object_id(RECORD_SLOTS * index + slot);
                let buf = buffers.pop().unwrap_or_default();
                let tally = Tally {
                    time_ms: m.submit_ms,
                    a: m.status.as_str(),
                    b: m.kind.as_str(),
                    measure: Some(f64::from(m.segments)),
                    cents: m.price(direction),
                    radio: None,
                };
                emit(record_in(buf, id, m, direction), &tally);
            }
        }
    }
}

/// The record of `m` at `direction`, with `_id` `id`, written into `buf`.
fn record_in(
    buf: Vec<u8>,
    id: [u8; 12],
    m: &Message,
    direction: Direction,
) -> bson::RawDocumentBuf {
    let mut w = DocWriter::reusing(buf, 512);
    w.object_id("_id", id);
    w.string("message_id", &m.message_id);
    w.string("direction", direction.as_str());
    w.string("kind", m.kind.as_str());
    w.string("sender", &m.sender);
    w.string("recipient", &m.recipient);
    for (key, value) in [
        ("sender_imsi", m.sender_imsi.as_deref()),
        ("sender_network", m.sender_network),
        ("recipient_imsi", m.recipient_imsi.as_deref()),
        ("recipient_network", m.recipient_network),
        ("sender_cell", m.sender_cell.as_deref()),
        ("recipient_cell", m.recipient_cell.as_deref()),
    ] {
        if let Some(v) = value {
            w.string(key, v);
        }
    }
    w.string("status", m.status.as_str());
    w.datetime("submit_time", m.submit_ms);
    if let Some(t) = m.delivery_ms {
        w.datetime("delivery_time", t);
    }
    w.int32("segments", m.segments as i32);
    let price = m.price(direction);
    // Thousandths of a cent: a `$sum` of these is exact; `price_cents` is for display.
    w.double("price_cents", price as f64 / 1000.0);
    w.int32("price_millicents", price as i32);
    if let Some(id) = &m.in_reply_to {
        w.string("in_reply_to", id);
    }
    w.finish()
}
