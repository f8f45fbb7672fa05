//! Adding a batch's cells to the rollups exactly once: one guarded upsert per hourly rollup
//! document, one inserted contribution document per fine one.

use std::collections::BTreeMap;

use bson::{Bson, Document, RawDocumentBuf, doc, oid::ObjectId};
use futures::TryStreamExt;
use mongodb::error::ErrorKind;

use super::{
    Cell, CellKey, Cells, DAY_MS, DAYS_FIELD, DocCells, Grouping, HOUR_MS, Resolution, cell_path,
    coarsen, doc_id, fine_ms, marginals,
};
use crate::generate::{Kind, RunId};
use crate::store::{DbError, Store};

/// The update adding `cells` (all of one rollup document) under `token`. An hourly document's
/// update also adds the cells' day totals (`d`), in the same atomic update.
fn cell_update(
    kind: Kind,
    res: Resolution,
    id: &Document,
    cells: &[(&CellKey, &Cell)],
    token: ObjectId,
) -> Document {
    let (mut inc, mut min, mut max) = (Document::new(), Document::new(), Document::new());
    let mut add = |path: String, cell: &Cell| {
        let f = |name: &str| format!("{path}.{name}");
        inc.insert(f("n"), cell.n);
        match kind {
            Kind::Calls => {
                inc.insert(f("nd"), cell.nx);
                inc.insert(f("d"), cell.sx);
                inc.insert(f("c"), cell.cents);
            }
            Kind::Metrics => {
                inc.insert(f("s"), cell.sx);
                if let (Some(lo), Some(hi)) = (cell.min, cell.max) {
                    min.insert(f("min"), lo);
                    max.insert(f("max"), hi);
                }
            }
        }
    };
    for (key, cell) in cells {
        add(cell_path(kind, res, key), cell);
    }
    let mut on_insert = id.clone();
    if res == Resolution::Hour {
        let hours: Cells = cells
            .iter()
            .map(|&(key, cell)| (key.clone(), cell.clone()))
            .collect();
        for (key, cell) in &coarsen(&hours, Grouping::every(DAY_MS)) {
            add(cell_path(kind, Resolution::Day, key), cell);
        }
        on_insert.insert(DAYS_FIELD, true);
    }
    let mut update = doc! {
        "$inc": inc,
        "$push": { "applied": token },
        "$setOnInsert": on_insert,
    };
    if !min.is_empty() {
        update.insert("$min", min);
        update.insert("$max", max);
    }
    update
}

/// A batch's cells of one fine rollup document as a document of its own: the key of the document
/// it belongs to plus the token make its `_id`, so inserting it again is a duplicate key, which
/// means "already applied". An insert costs the server far less than an update touching every
/// field of an hour's fine slots, and a time-ordered batch adds one or two of them per hour.
fn contribution(
    kind: Kind,
    id: &Document,
    cells: &[(&CellKey, &Cell)],
    token: ObjectId,
) -> Document {
    let mut slots = Document::new();
    for (key, cell) in cells {
        let path = cell_path(kind, Resolution::Fine, key);
        let mut figures = doc! { "n": cell.n };
        match kind {
            Kind::Calls => figures.extend(doc! { "nd": cell.nx, "d": cell.sx, "c": cell.cents }),
            Kind::Metrics => {
                figures.insert("s", cell.sx);
                if let (Some(lo), Some(hi)) = (cell.min, cell.max) {
                    figures.extend(doc! { "min": lo, "max": hi });
                }
            }
        }
        // `c.<slot>.<...>`: the same nesting the guarded updates create.
        let mut parts: Vec<&str> = path.split('.').skip(1).collect();
        let last = parts.pop().unwrap_or_default();
        let mut at = &mut slots;
        for part in parts {
            if !matches!(at.get(part), Some(Bson::Document(_))) {
                at.insert(part, Document::new());
            }
            at = at.get_document_mut(part).expect("inserted above");
        }
        at.insert(last, figures);
    }
    let mut out = doc! { "_id": contribution_id(id, token) };
    out.extend(id.clone());
    out.insert("c", slots);
    out
}

/// The `_id` of `token`'s contribution to the fine rollup document `id`.
pub(super) fn contribution_id(id: &Document, token: ObjectId) -> Document {
    let mut key = id.clone();
    key.insert("k", token);
    key
}

impl Store {
    /// Adds a batch's `cells` (fine cells or finer) to both rollups of `kind`, at most once per
    /// `token` (see the module documentation); safe to call again with the same token after any
    /// failure.
    pub async fn apply_rollup(
        &self,
        kind: Kind,
        token: ObjectId,
        cells: &Cells,
    ) -> Result<(), DbError> {
        let fine = marginals(kind, coarsen(cells, Grouping::every(fine_ms(kind))));
        let hours = coarsen(&fine, Grouping::every(HOUR_MS));
        // One after the other: a batch holds one pooled connection, so status reads are not
        // starved by rollup traffic.
        self.bounded("adding a batch to the rollups", async {
            self.apply_at(kind, Resolution::Hour, token, &hours, false)
                .await?;
            self.apply_at(kind, Resolution::Fine, token, &fine, false)
                .await?;
            self.bump_version(kind).await
        })
        .await
    }

    /// [`Store::apply_rollup`] for a live run's batches. A small batch (a second at a modest rate)
    /// adds its fine cells by a guarded update too: it touches one or two fine slots, and a
    /// contribution document per second would make an hour's fine read 3,600 documents. A full
    /// batch (`full`: a run at thousands of calls a second) inserts a contribution document like a
    /// job's batch, so concurrent batches do not queue on one fine document. Returns the guarded
    /// rollup documents it touched, whose tokens [`Store::prune_live_tokens`] later forgets.
    pub async fn apply_live_rollup(
        &self,
        kind: Kind,
        token: ObjectId,
        cells: &Cells,
        full: bool,
    ) -> Result<Vec<(Resolution, Document)>, DbError> {
        self.bounded("adding a live batch to the rollups", async {
            self.apply_live_at(kind, token, cells, full).await
        })
        .await
    }

    async fn apply_live_at(
        &self,
        kind: Kind,
        token: ObjectId,
        cells: &Cells,
        full: bool,
    ) -> Result<Vec<(Resolution, Document)>, DbError> {
        let fine = marginals(kind, coarsen(cells, Grouping::every(fine_ms(kind))));
        let hours = coarsen(&fine, Grouping::every(HOUR_MS));
        let mut touched = Vec::new();
        for (res, cells) in [(Resolution::Hour, &hours), (Resolution::Fine, &fine)] {
            let guarded = res == Resolution::Hour || !full;
            self.apply_at(kind, res, token, cells, guarded).await?;
            if !guarded {
                continue;
            }
            let mut ids: Vec<Document> = cells.keys().map(|k| doc_id(kind, res, k)).collect();
            ids.dedup();
            touched.extend(ids.into_iter().map(|id| (res, id)));
        }
        self.bump_version(kind).await?;
        Ok(touched)
    }

    /// Forgets the tokens in `[first, last]` from the rollup documents `touched` (a live run's
    /// batches that can no longer be written again), so their `applied` lists stay short.
    pub async fn prune_live_tokens(
        &self,
        kind: Kind,
        touched: &[(Resolution, Document)],
        first: ObjectId,
        last: ObjectId,
    ) -> Result<(), DbError> {
        let range = doc! { "$gte": first, "$lte": last };
        for res in Resolution::ALL {
            let ids: Vec<&Document> = touched
                .iter()
                .filter(|(r, _)| *r == res)
                .map(|(_, id)| id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            self.rollup(kind, res)
                .update_many(
                    doc! { "_id": { "$in": ids } },
                    doc! { "$pull": { "applied": range.clone() } },
                )
                .await?;
        }
        Ok(())
    }

    /// Forgets every token of a stopped live run's first `count` documents of `kind`, in both
    /// resolutions (a live run keeps fine cells by guarded updates too).
    pub async fn prune_live_run(&self, kind: Kind, run: RunId, count: u64) -> Result<(), DbError> {
        match u32::try_from(count) {
            Ok(count) => self.prune_tokens(kind, run, count, &Resolution::ALL).await,
            Err(_) => Ok(()),
        }
    }

    async fn apply_at(
        &self,
        kind: Kind,
        res: Resolution,
        token: ObjectId,
        cells: &Cells,
        guarded: bool,
    ) -> Result<(), DbError> {
        if cells.is_empty() {
            return Ok(());
        }
        let mut by_doc: BTreeMap<Vec<u8>, DocCells> = BTreeMap::new();
        for (key, cell) in cells {
            let id = doc_id(kind, res, key);
            let raw = bson::to_vec(&id).unwrap_or_default();
            by_doc
                .entry(raw)
                .or_insert_with(|| (id, Vec::new()))
                .1
                .push((key, cell));
        }
        if res == Resolution::Fine && !guarded {
            // Encoded one at a time: a batch spread over days makes hundreds of them, and as
            // document trees they were the largest part of a job's memory.
            let docs = by_doc
                .into_values()
                .map(|(id, cells)| {
                    RawDocumentBuf::from_document(&contribution(kind, &id, &cells, token))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| DbError::from(mongodb::error::Error::custom(e.to_string())))?;
            return self.insert_contributions(res.collection(kind), &docs).await;
        }
        let mut todo: Vec<(Document, Document)> = by_doc
            .into_values()
            .map(|(id, cells)| {
                let update = cell_update(kind, res, &id, &cells, token);
                (id, update)
            })
            .collect();
        // One guarded upsert per document. A duplicate-key error means the document exists: either
        // it already holds this token (done) or another writer created it meanwhile (go again,
        // now as a plain guarded update of an existing document).
        for _ in 0..3 {
            let statements: Vec<Document> = todo
                .iter()
                .map(|(id, u)| {
                    doc! { "q": { "_id": id, "applied": { "$ne": token } }, "u": u, "upsert": true }
                })
                .collect();
            let clashed = self
                .update_command(res.collection(kind), statements)
                .await?;
            if clashed.is_empty() {
                return Ok(());
            }
            let ids: Vec<Document> = clashed.iter().map(|&i| todo[i].0.clone()).collect();
            let done: Vec<Document> = self
                .rollup(kind, res)
                .find(doc! { "_id": { "$in": ids }, "applied": token })
                .projection(doc! { "_id": 1 })
                .await?
                .try_collect()
                .await?;
            let done: Vec<Bson> = done
                .into_iter()
                .filter_map(|d| d.get("_id").cloned())
                .collect();
            todo = clashed
                .into_iter()
                .map(|i| todo[i].clone())
                .filter(|(id, _)| !done.contains(&Bson::Document(id.clone())))
                .collect();
            if todo.is_empty() {
                return Ok(());
            }
        }
        Err(mongodb::error::Error::custom(
            "rollup update kept clashing with other writers".to_string(),
        )
        .into())
    }

    /// Inserts contribution documents, unordered; one that is already there (a duplicate key on its
    /// `_id`, which holds the token) was applied before.
    async fn insert_contributions(
        &self,
        collection: &str,
        docs: &[RawDocumentBuf],
    ) -> Result<(), DbError> {
        let contributions = self.db().collection::<RawDocumentBuf>(collection);
        for chunk in docs.chunks(500) {
            let Err(e) = contributions.insert_many(chunk).ordered(false).await else {
                continue;
            };
            // A duplicate `_id` is a contribution already applied.
            let applied = matches!(e.kind.as_ref(), ErrorKind::InsertMany(m)
                if m.write_concern_error.is_none()
                    && m.write_errors.iter().flatten().all(|w| w.code == 11000));
            if !applied {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// One `update` command with many statements, unordered; returns the positions of the
    /// statements that failed on a duplicate key, and fails on any other write error.
    async fn update_command(
        &self,
        collection: &str,
        updates: Vec<Document>,
    ) -> Result<Vec<usize>, DbError> {
        let mut clashed = Vec::new();
        for (c, chunk) in updates.chunks(1000).enumerate() {
            let reply = self
                .db()
                .run_command(doc! {
                    "update": collection,
                    "updates": chunk.to_vec(),
                    "ordered": false,
                })
                .await?;
            for e in reply.get_array("writeErrors").into_iter().flatten() {
                let Some(e) = e.as_document() else { continue };
                if e.get_i32("code").ok() == Some(11000) {
                    let index = e.get_i32("index").unwrap_or_default() as usize;
                    clashed.push(c * 1000 + index);
                } else {
                    return Err(mongodb::error::Error::custom(format!(
                        "rollup update failed: {e}"
                    ))
                    .into());
                }
            }
        }
        Ok(clashed)
    }
}
