//! The `cells` collection: every radio cell a run's calls name, as a GeoJSON point under a
//! `2dsphere` index, so `$geoNear` and `$geoWithin` work for users, and with flat `lat` and `lon`
//! under an index that `GET /cells` reads a bounding box from.
//!
//! A cell's document is a pure function of its ECGI (see [`crate::generate::cells`]), so writing
//! it is idempotent: inserts are unordered and a duplicate `_id` (another batch, run or replica
//! wrote it first) is success. A job writes the cells its calls named once, after them
//! ([`RunCells`]); a live run writes each batch's. Each process remembers the cells it has
//! written, up to [`SEEN_MOST`], so cells already known cost no round trip.

use std::collections::HashSet;
use std::sync::Mutex;

use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::{Collection, IndexModel};

use super::rollup::BatchRollup;
use super::{DbError, Store};
use crate::generate::Kind;
use crate::generate::cells::{self, Eci, RING_NAMES};

/// Cells one insert writes at most: at the test server's ~0.3 ms a `2dsphere` insert, well within
/// an operation's time bound.
const CHUNK: usize = 1_000;

/// The collection's name.
pub const COLLECTION: &str = "cells";
/// Cells a process remembers having written (8 bytes each, about 16 MB at most with the set's
/// overhead); past it the memory is cleared and writes resume, harmlessly.
pub const SEEN_MOST: usize = 1 << 20;

/// The cells this process has written, as `(MCC-MNC digits) << 32 | ECI`.
#[derive(Debug, Default)]
pub struct Seen(Mutex<HashSet<u64>>);

/// The distinct radio cells a run's calls name, gathered batch by batch and written once the
/// calls are in. At most the cells of the run's subscribers' places and drives: 4 bytes a cell and
/// the set's overhead, a few MB for a run naming a few hundred thousand.
#[derive(Debug, Default)]
pub struct RunCells {
    operator: Option<&'static str>,
    ecis: HashSet<Eci>,
}

impl RunCells {
    /// Adds a batch's cells (see [`BatchRollup::radio_named`]; repeats are harmless).
    pub fn add(&mut self, batch: Option<(&'static str, Vec<Eci>)>) {
        if let Some((operator, ecis)) = batch {
            self.operator = Some(operator);
            self.ecis.extend(ecis);
        }
    }

    /// True when the run named no cell (metric points, desk phones).
    pub fn is_empty(&self) -> bool {
        self.ecis.is_empty()
    }

    /// How many distinct cells the run named.
    pub fn len(&self) -> usize {
        self.ecis.len()
    }
}

/// A bounding box in degrees: west, south, east, north (RFC 7946 order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    /// Westmost longitude.
    pub west: f64,
    /// Southmost latitude.
    pub south: f64,
    /// Eastmost longitude.
    pub east: f64,
    /// Northmost latitude.
    pub north: f64,
}

/// The key [`Seen`] keeps for a cell of `operator`.
fn seen_key(operator: &str, eci: Eci) -> u64 {
    let digits = operator
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    (digits << 32) | u64::from(eci)
}

/// The document of cell `eci` of `operator`.
fn cell_document(operator: &str, eci: Eci) -> Option<Document> {
    let c = cells::cell(eci)?;
    let city = &cells::cities()[cells::city_of(c.area_code)?];
    Some(doc! {
        "_id": cells::ecgi(operator, eci),
        "operator": operator,
        "eci": i64::from(eci),
        "enb": i64::from(c.enb),
        "sector": i32::from(c.sector),
        "azimuth": i32::from(c.azimuth),
        "tac": i32::from(c.tac),
        "ring": RING_NAMES[usize::from(c.ring)],
        "area_code": i32::from(c.area_code),
        "city": city.name.as_str(),
        "location": { "type": "Point", "coordinates": [c.lon, c.lat] },
        // Flat too: what a bounding box is read by, and what Grafana's Geomap reads as is.
        "lat": c.lat,
        "lon": c.lon,
    })
}

impl Store {
    fn cells_collection(&self) -> Collection<Document> {
        self.db().collection(COLLECTION)
    }

    /// The `2dsphere` index on the cells' locations. Creating it again is a no-op on `mongod`;
    /// some servers answer that an index of that name exists (codes 85 and 86), which is the
    /// index wanted when it is on the same key.
    pub(super) async fn setup_cells(&self) -> Result<(), DbError> {
        let index = IndexModel::builder()
            .keys(doc! { "location": "2dsphere" })
            .build();
        let by_place = IndexModel::builder()
            .keys(doc! { "lat": 1, "lon": 1, "_id": 1 })
            .build();
        self.cells_collection().create_index(by_place).await?;
        match self.cells_collection().create_index(index).await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == 85 || c.code == 86) =>
            {
                let names = self.cells_collection().list_index_names().await?;
                if names.iter().any(|n| n == "location_2dsphere") {
                    Ok(())
                } else {
                    Err(e.into())
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the cells `ecis` of `operator` that this process has not written yet.
    pub async fn record_cells(&self, operator: &str, ecis: &[Eci]) -> Result<(), DbError> {
        let fresh: Vec<Eci> = {
            let seen = self.cells_seen.0.lock().unwrap_or_else(|e| e.into_inner());
            ecis.iter()
                .copied()
                .filter(|&e| !seen.contains(&seen_key(operator, e)))
                .collect()
        };
        if fresh.is_empty() {
            return Ok(());
        }
        self.ensure_setup().await?;
        // In short inserts, each within the operation bound even on a slow link; each one's
        // cells are remembered once written, so a retry sends only what is left.
        for chunk in fresh.chunks(CHUNK) {
            let docs: Vec<Document> = chunk
                .iter()
                .filter_map(|&e| cell_document(operator, e))
                .collect();
            self.bounded("recording cells", async {
                match self
                    .cells_collection()
                    .insert_many(docs)
                    .ordered(false)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if only_duplicates(&e) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            })
            .await?;
            let mut seen = self.cells_seen.0.lock().unwrap_or_else(|e| e.into_inner());
            if seen.len() + chunk.len() > SEEN_MOST {
                seen.clear();
            }
            seen.extend(chunk.iter().map(|&e| seen_key(operator, e)));
        }
        // Answers of `GET /cells` are kept until the data version changes.
        self.bump_version(Kind::Calls).await
    }

    /// Writes the radio cells a run's calls named, in ECI order.
    pub async fn record_run_cells(&self, run: &RunCells) -> Result<(), DbError> {
        let Some(operator) = run.operator else {
            return Ok(());
        };
        let mut ecis: Vec<Eci> = run.ecis.iter().copied().collect();
        ecis.sort_unstable();
        self.record_cells(operator, &ecis).await
    }

    /// Writes the radio cells a batch's calls name (see [`BatchRollup::radio_cells`]).
    pub async fn record_batch_cells(&self, batch: &BatchRollup) -> Result<(), DbError> {
        match batch.radio_cells() {
            Some((operator, ecis)) => self.record_cells(operator, &ecis).await,
            None => Ok(()),
        }
    }

    /// The ECGIs of the cells within `bbox` (all cells without one), south to north, at most
    /// `limit` of them. A box is a range of latitudes and longitudes, exactly (a GeoJSON polygon
    /// would follow great circles, not parallels), read from the `{lat, lon}` index.
    /// With `ids`, only those of them that are in the collection, in ECGI order (read by `_id`).
    pub async fn cells_in(
        &self,
        bbox: Option<BBox>,
        ids: Option<&[String]>,
        limit: i64,
    ) -> Result<Vec<String>, DbError> {
        let mut filter = match bbox {
            Some(b) => doc! {
                "lat": { "$gte": b.south, "$lte": b.north },
                "lon": { "$gte": b.west, "$lte": b.east },
            },
            None => doc! {},
        };
        // By id, the `_id` index serves both the filter and the order; by box, the place index.
        let order = match ids {
            Some(ids) => {
                filter.insert("_id", doc! { "$in": ids });
                doc! { "_id": 1 }
            }
            None => doc! { "lat": 1, "lon": 1, "_id": 1 },
        };
        self.bounded("reading cells", async {
            let cursor = self
                .db()
                .collection::<Document>(COLLECTION)
                .find(filter)
                .projection(doc! { "_id": 1 })
                .sort(order)
                .limit(limit)
                .await?;
            let docs: Vec<Document> = cursor.try_collect().await?;
            Ok(docs
                .iter()
                .filter_map(|d| d.get_str("_id").ok().map(str::to_owned))
                .collect())
        })
        .await
    }
}

/// True when every error of an unordered insert is a duplicate `_id`: those cells were there.
fn only_duplicates(e: &mongodb::error::Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::InsertMany(m) => {
            m.write_concern_error.is_none()
                && m.write_errors
                    .as_ref()
                    .is_some_and(|w| w.iter().all(|w| w.code == 11000))
        }
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        _ => false,
    }
}
