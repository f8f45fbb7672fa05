//! Documents to anywhere but MongoDB: a run's documents written as NDJSON or CSV, streamed with flat
//! memory at generator speed. The CLI's `--output` and `GET /export/*` use it; the documents are the
//! ones [`RunSpec::batches`] gives the pipeline, so an export and a generation with one seed agree.
//!
//! - NDJSON is relaxed Extended JSON, one document per line, as `mongoexport` writes it
//!   (`{"$oid": …}`, `{"$date": "…Z"}`, doubles always with a fraction), so `mongoimport` restores
//!   the types the service writes.
//! - CSV has a header line naming each column's type as `mongoimport --type csv --headerline
//!   --columnsHaveTypes` reads it (`start_time.date(2006-01-02T15:04:05.000Z)`, `duration.int32()`);
//!   a field a document lacks is an empty cell (`--ignoreBlanks` leaves it out on import), and
//!   `_id` is left out (mongoimport's typed columns have no ObjectId; MongoDB assigns new ones).
//!
//! The encoders walk the raw BSON bytes: no document tree, no allocation per field.

use bson::{RawBsonRef, RawDocument};

use crate::generate::{Kind, RunId};
use crate::pipeline::{RunSpec, Spares};

mod text;

/// A file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One relaxed Extended JSON document per line.
    Ndjson,
    /// Comma-separated values with a typed header line.
    Csv,
}

impl Format {
    /// The format named `name` (`ndjson` or `csv`, as [`Format::name`] gives them).
    pub fn parse(name: &str) -> Option<Self> {
        [Format::Ndjson, Format::Csv]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// The format's name on the command line and in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }

    /// The media type an HTTP export of this format is sent as.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// A CSV column: the field and its type as mongoimport's typed header names it.
struct Column {
    field: &'static str,
    ty: &'static str,
}

/// Columns of the widest kind, for a fixed-size row buffer.
const MAX_COLUMNS: usize = max(
    max(CALL_COLUMNS.len(), POINT_COLUMNS.len()),
    SMS_COLUMNS.len(),
);

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

const DATE: &str = "date(2006-01-02T15:04:05.000Z)";

/// A column of `field` typed `ty`.
const fn col(field: &'static str, ty: &'static str) -> Column {
    Column { field, ty }
}

/// A text record's columns: every field the generator writes, in its order.
const SMS_COLUMNS: &[Column] = &[
    col("message_id", "string()"),
    col("direction", "string()"),
    col("kind", "string()"),
    col("sender", "string()"),
    col("recipient", "string()"),
    col("sender_imsi", "string()"),
    col("sender_network", "string()"),
    col("recipient_imsi", "string()"),
    col("recipient_network", "string()"),
    col("sender_cell", "string()"),
    col("recipient_cell", "string()"),
    col("status", "string()"),
    col("submit_time", DATE),
    col("delivery_time", DATE),
    col("segments", "int32()"),
    col("price_cents", "double()"),
    col("price_millicents", "int32()"),
    col("in_reply_to", "string()"),
];

const CALL_COLUMNS: &[Column] = &[
    Column {
        field: "call_id",
        ty: "string()",
    },
    Column {
        field: "caller",
        ty: "string()",
    },
    Column {
        field: "callee",
        ty: "string()",
    },
    Column {
        field: "call_type",
        ty: "string()",
    },
    Column {
        field: "status",
        ty: "string()",
    },
    Column {
        field: "start_time",
        ty: DATE,
    },
    Column {
        field: "end_time",
        ty: DATE,
    },
    Column {
        field: "duration",
        ty: "int32()",
    },
    Column {
        field: "cost",
        ty: "double()",
    },
    Column {
        field: "cost_cents",
        ty: "int32()",
    },
    Column {
        field: "anomaly",
        ty: "string()",
    },
    Column {
        field: "caller_imsi",
        ty: "string()",
    },
    Column {
        field: "caller_imei",
        ty: "string()",
    },
    Column {
        field: "callee_imsi",
        ty: "string()",
    },
    Column {
        field: "callee_network",
        ty: "string()",
    },
    Column {
        field: "caller_cell_start",
        ty: "string()",
    },
    Column {
        field: "caller_cell_end",
        ty: "string()",
    },
    Column {
        field: "handovers",
        ty: "int32()",
    },
    Column {
        field: "callee_cell",
        ty: "string()",
    },
    Column {
        field: "outage_effect",
        ty: "string()",
    },
];

const POINT_COLUMNS: &[Column] = &[
    Column {
        field: "category",
        ty: "string()",
    },
    Column {
        field: "host",
        ty: "string()",
    },
    Column {
        field: "value",
        ty: "double()",
    },
    Column {
        field: "unit",
        ty: "string()",
    },
    Column {
        field: "timestamp",
        ty: DATE,
    },
    Column {
        field: "anomaly",
        ty: "string()",
    },
];

/// Writes documents of one kind in one format.
pub struct Encoder {
    format: Format,
    columns: &'static [Column],
}

impl Encoder {
    /// An encoder of `kind`'s documents in `format`.
    pub fn new(format: Format, kind: Kind) -> Self {
        let columns = match kind {
            Kind::Calls => CALL_COLUMNS,
            Kind::Metrics => POINT_COLUMNS,
            Kind::Sms => SMS_COLUMNS,
        };
        Self { format, columns }
    }

    /// What comes before the first document: CSV's typed header line; nothing for NDJSON.
    pub fn header(&self, out: &mut Vec<u8>) {
        if self.format == Format::Csv {
            for (i, c) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(c.field.as_bytes());
                out.push(b'.');
                out.extend_from_slice(c.ty.as_bytes());
            }
            out.push(b'\n');
        }
    }

    /// One document, with its line end.
    pub fn document(&self, doc: &RawDocument, out: &mut Vec<u8>) {
        match self.format {
            Format::Ndjson => text::json_document(doc, out),
            Format::Csv => {
                // One pass over the document's elements, then the cells in column order.
                let mut cells: [Option<RawBsonRef>; MAX_COLUMNS] = [None; MAX_COLUMNS];
                for (key, value) in doc.iter().flatten() {
                    if let Some(i) = self.columns.iter().position(|c| c.field == key) {
                        cells[i] = Some(value);
                    }
                }
                for (i, cell) in cells[..self.columns.len()].iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    if let Some(value) = cell {
                        text::csv_value(*value, out);
                    }
                }
            }
        }
        out.push(b'\n');
    }
}

/// Bytes handed to a sink at a time: large enough that a write or a channel send per chunk costs
/// nothing next to the encoding, small enough that memory stays flat.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Streams every document of the run `spec` (with `_id`s from `run`) in `format` through `sink`,
/// in chunks of about [`CHUNK_BYTES`], and counts them after each chunk into `written`. Stops at
/// the first error of `sink` (a closed file or a reader that went away) and returns it.
pub fn stream<E>(
    spec: &RunSpec,
    run: RunId,
    format: Format,
    mut written: impl FnMut(u64),
    mut sink: impl FnMut(Vec<u8>) -> Result<(), E>,
) -> Result<u64, E> {
    let encoder = Encoder::new(format, spec.kind());
    let mut chunk = Vec::with_capacity(CHUNK_BYTES + 4096);
    encoder.header(&mut chunk);
    let mut count = 0u64;
    let spares = Spares::up_to(1);
    for batch in spec.batches_reusing(run, 1000, spares.clone()) {
        for doc in &batch {
            encoder.document(doc, &mut chunk);
        }
        count += batch.len() as u64;
        spares.give(batch);
        if chunk.len() >= CHUNK_BYTES {
            sink(std::mem::replace(
                &mut chunk,
                Vec::with_capacity(CHUNK_BYTES + 4096),
            ))?;
            written(count);
        }
    }
    if !chunk.is_empty() {
        sink(chunk)?;
    }
    written(count);
    Ok(count)
}

/// Every document of the run `spec` with `_id`s from `run`, in order, as `serde_json` values of
/// relaxed Extended JSON: what a generation writes, shown instead of written (previews).
pub fn extended_json(
    spec: &RunSpec,
    run: RunId,
) -> impl Iterator<Item = serde_json::Value> + use<> {
    spec.batches(run, 1000).flat_map(|batch| {
        batch
            .into_iter()
            .map(|d| crate::generate::to_extended_json(&d))
    })
}

#[cfg(test)]
mod tests;
