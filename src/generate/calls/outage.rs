//! A cell outage's calls: a mobile call that would start in a dark cell fails or starts in a cell
//! outside the outage (see [`crate::generate::scenario`]).

use super::identities::Drawn;
use super::{CallGenerator, CallStatus, Draw, ms_between};
use crate::generate::rng;
use crate::generate::scenario::CELL_OUTAGE_FAIL_SHARE;

/// Added to the run's seed for the outage's own draws: the call's stream is left as it is, so a
/// run with a cell outage is the run without one everywhere the outage does not reach.
const OUTAGE_STREAM: u64 = 0x6365_6c6c_6f75_7461;

impl CallGenerator {
    /// Call number `index` drawn, with its network part (mobile phones), a cell outage applied.
    pub(super) fn drawn(&self, index: u64) -> (Draw, Option<Drawn>) {
        let mut r = self.draw(index);
        let mut drawn = self.identities(&r);
        if let (Some(s), Some(i)) = (self.scenario, drawn.as_mut())
            && s.dark(i.path.start, r.start_ms)
        {
            let mut rng = rng::stream_rng(self.seed.wrapping_add(OUTAGE_STREAM), index);
            r.anomaly = Some(s.label());
            if rng::unit(&mut rng) < CELL_OUTAGE_FAIL_SHARE {
                r.status = CallStatus::Failed;
                r.duration = None;
                r.cost = 0.0;
                r.end_ms = r.start_ms + ms_between(&mut rng, 100, 8_000);
                i.path.end = i.path.start;
                i.path.handovers = 0;
                r.effect = Some("failed");
            } else {
                i.path.start = s.reselect(i.path.start);
                if s.dark(i.path.end, r.start_ms) {
                    i.path.end = i.path.start;
                    i.path.handovers = 0;
                }
                r.effect = Some("reselected");
            }
        }
        (r, drawn)
    }
}
