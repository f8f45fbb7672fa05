//! What a statistics read asks for, and its range split into pieces read from the coarsest source
//! that covers each exactly: day and hour rollups inside, fine rollups around them, raw documents
//! at the very edges.

use crate::generate::Kind;
use crate::store::rollup::{Grouping, Resolution};
use crate::store::stats::KeyFilter;

/// What a statistics read asks for: cells of `kind` over `[from, to)` (`None`: open), no wider
/// than `finest` (whatever is finer is exact too: hours, fine slots and raw slots are mixed, each
/// key in the cell it came from), summed into the slots of `grouping` (which the caller sums into
/// anyway).
#[derive(Debug, Clone)]
pub struct Ask {
    /// Calls or metrics.
    pub kind: Kind,
    /// Start of the range (inclusive).
    pub from: Option<i64>,
    /// End of the range (exclusive).
    pub to: Option<i64>,
    /// Which key values to read.
    pub keys: KeyFilter,
    /// The coarsest rollup resolution the answer can use.
    pub finest: Resolution,
    /// How the caller sums cells in time.
    pub grouping: Grouping,
}

/// `ms` rounded up to a multiple of `w`.
fn ceil_to(ms: i64, w: i64) -> i64 {
    ms + (w - ms.rem_euclid(w)) % w
}

/// `ms` rounded down to a multiple of `w`.
fn floor_to(ms: i64, w: i64) -> i64 {
    ms - ms.rem_euclid(w)
}

/// Splits `[from, to)` into pieces read from the coarsest source that covers them exactly:
/// `Some(resolution)` for rollup cells, `None` for raw documents (less than a fine cell at each
/// edge).
pub(super) fn split(
    kind: Kind,
    from: Option<i64>,
    to: Option<i64>,
    coarsest: Resolution,
    out: &mut Vec<(Option<Resolution>, Option<i64>, Option<i64>)>,
) {
    let w = coarsest.cell_ms(kind);
    let inner_from = from.map(|f| ceil_to(f, w));
    let inner_to = to.map(|t| floor_to(t, w));
    if let (Some(a), Some(b)) = (inner_from, inner_to)
        && a >= b
    {
        // Not one whole cell inside: go finer, or read the raw documents.
        return match coarsest.finer() {
            Some(finer) => split(kind, from, to, finer, out),
            None => out.push((None, from, to)),
        };
    }
    out.push((Some(coarsest), inner_from, inner_to));
    for (a, b) in [(from, inner_from), (inner_to, to)] {
        if let (Some(a), Some(b)) = (a, b)
            && a < b
        {
            match coarsest.finer() {
                Some(finer) => split(kind, Some(a), Some(b), finer, out),
                None => out.push((None, Some(a), Some(b))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rollup::{FIVE_MINUTES_MS, HOUR_MS, MINUTE_MS};

    #[test]
    fn ranges_split_into_hours_minutes_and_raw_edges() {
        let mut out = Vec::new();
        let (from, to) = (10 * HOUR_MS + 450_500, 14 * HOUR_MS + 625_000);
        split(
            Kind::Metrics,
            Some(from),
            Some(to),
            Resolution::Hour,
            &mut out,
        );
        let m = FIVE_MINUTES_MS;
        assert_eq!(
            out,
            vec![
                (
                    Some(Resolution::Hour),
                    Some(11 * HOUR_MS),
                    Some(14 * HOUR_MS)
                ),
                (
                    Some(Resolution::Fine),
                    Some(10 * HOUR_MS + 2 * m),
                    Some(11 * HOUR_MS)
                ),
                (None, Some(from), Some(10 * HOUR_MS + 2 * m)),
                (
                    Some(Resolution::Fine),
                    Some(14 * HOUR_MS),
                    Some(14 * HOUR_MS + 2 * m)
                ),
                (None, Some(14 * HOUR_MS + 2 * m), Some(to)),
            ]
        );
        out.clear();
        split(Kind::Metrics, None, None, Resolution::Hour, &mut out);
        assert_eq!(out, vec![(Some(Resolution::Hour), None, None)]);
        out.clear();
        split(
            Kind::Metrics,
            Some(30_000),
            Some(40_000),
            Resolution::Hour,
            &mut out,
        );
        assert_eq!(out, vec![(None, Some(30_000), Some(40_000))]);
        // Calls' fine cells are a minute wide: raw edges of under a minute.
        out.clear();
        split(
            Kind::Calls,
            Some(from),
            Some(to),
            Resolution::Hour,
            &mut out,
        );
        let m = MINUTE_MS;
        assert_eq!(
            out,
            vec![
                (
                    Some(Resolution::Hour),
                    Some(11 * HOUR_MS),
                    Some(14 * HOUR_MS)
                ),
                (
                    Some(Resolution::Fine),
                    Some(10 * HOUR_MS + 8 * m),
                    Some(11 * HOUR_MS)
                ),
                (None, Some(from), Some(10 * HOUR_MS + 8 * m)),
                (
                    Some(Resolution::Fine),
                    Some(14 * HOUR_MS),
                    Some(14 * HOUR_MS + 10 * m)
                ),
                (None, Some(14 * HOUR_MS + 10 * m), Some(to)),
            ]
        );
    }
}
