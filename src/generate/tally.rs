//! What the rollups count of a generated document, handed over by the generator beside it.

/// One document's figures for the rollups: its time, its two key fields (status and call type,
/// or category and host), its measure (a call's duration in seconds, a point's value) and a
/// call's cost in cents. The generator that wrote the document gives them from the same draw,
/// so the service never reads its own bytes back; a test reads them back to check they agree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tally<'a> {
    /// The document's time (a call's start, a point's timestamp), ms since the epoch.
    pub time_ms: i64,
    /// First key field: status, or category.
    pub a: &'a str,
    /// Second key field: call type, or host.
    pub b: &'a str,
    /// A completed call's duration in seconds, a point's value; `None` for a call without one.
    pub measure: Option<f64>,
    /// A call's cost in cents, exactly as its `cost_cents` field; 0 for a point.
    pub cents: i64,
    /// The radio cells a mobile call names, for the `cells` collection.
    pub radio: Option<Radio>,
}

/// The radio cells a document names: the caller's start and end cells and the on-net callee's,
/// on the run's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Radio {
    /// The operator's `MCC-MNC`.
    pub operator: &'static str,
    /// The cells' ECIs; [`Radio::NONE`] where there is none.
    pub cells: [u32; 3],
}

impl Radio {
    /// No cell (the ECI space is 28 bits, so this is never a cell).
    pub const NONE: u32 = u32::MAX;
}
