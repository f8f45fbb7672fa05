//! A call as the BSON document that is inserted, with its figures for the rollups.

use super::CallGenerator;
use crate::generate::bson::DocWriter;
use crate::generate::cells::Ecgi;
use crate::generate::{Radio, RunId, Tally};

impl CallGenerator {
    /// Call number `index` of `run`, as the BSON document that is inserted.
    #[inline]
    pub fn document(&self, run: RunId, index: u32) -> bson::RawDocumentBuf {
        self.tallied_document(run, index).0
    }

    /// [`document`](Self::document) with its figures for the rollups.
    #[inline]
    pub fn tallied_document(
        &self,
        run: RunId,
        index: u32,
    ) -> (bson::RawDocumentBuf, Tally<'static>) {
        self.tallied_document_in(run, index, Vec::new())
    }

    /// [`tallied_document`](Self::tallied_document) written into `buf`, a spent document's buffer.
    #[inline]
    pub fn tallied_document_in(
        &self,
        run: RunId,
        index: u32,
        buf: Vec<u8>,
    ) -> (bson::RawDocumentBuf, Tally<'static>) {
        let (r, drawn) = self.drawn(u64::from(index));
        let cents = (r.cost * 100.0).round() as i32;
        // A completed call with all its fields, identities and cells takes about 450 bytes.
        let mut w = DocWriter::reusing(buf, 512);
        w.object_id("_id", run.object_id(index));
        w.ascii("call_id", &r.call_id);
        w.ascii("caller", &r.caller);
        w.ascii("callee", &r.callee);
        w.string("call_type", r.call_type.as_str());
        w.string("status", r.status.as_str());
        w.datetime("start_time", r.start_ms);
        w.datetime("end_time", r.end_ms);
        if let Some(d) = r.duration {
            w.int32("duration", d as i32);
        }
        w.double("cost", r.cost);
        // Exact cents beside the display value: a `$sum` of these is exact in any tool.
        w.int32("cost_cents", cents);
        if let Some(label) = r.anomaly {
            w.string("anomaly", label);
        }
        if let Some(effect) = r.effect {
            w.string("outage_effect", effect);
        }
        let mut radio = None;
        if let Some(i) = drawn {
            w.ascii("caller_imsi", &i.caller_imsi);
            w.ascii("caller_imei", &i.caller_imei);
            if let Some(imsi) = &i.callee_imsi {
                w.ascii("callee_imsi", imsi);
            }
            if let Some(network) = i.callee_network {
                w.string("callee_network", network);
            }
            let code = self.network.map_or("", |n| n.operator().code);
            let start = Ecgi::new(code, i.path.start);
            let (text, len) = start.buffer();
            w.ascii_in("caller_cell_start", &text, len);
            // Most calls end where they started: the text is written once.
            if i.path.end == i.path.start {
                w.ascii_in("caller_cell_end", &text, len);
            } else {
                let (text, len) = Ecgi::new(code, i.path.end).buffer();
                w.ascii_in("caller_cell_end", &text, len);
            }
            w.int32("handovers", i.path.handovers as i32);
            if let Some(cell) = i.callee_cell {
                let (text, len) = Ecgi::new(code, cell).buffer();
                w.ascii_in("callee_cell", &text, len);
            }
            radio = Some(Radio {
                operator: code,
                cells: [
                    i.path.start,
                    i.path.end,
                    i.callee_cell.unwrap_or(Radio::NONE),
                ],
            });
        }
        let tally = Tally {
            time_ms: r.start_ms,
            a: r.status.as_str(),
            b: r.call_type.as_str(),
            measure: r.duration.map(f64::from),
            cents: i64::from(cents),
            radio,
        };
        (w.finish(), tally)
    }
}
