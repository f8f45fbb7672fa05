//! Adding a batch's cells to the rollups exactly once: one guarded upsert per hourly rollup
//! document, one inserted contribution document per fine one.

use std::collections::BTreeMap;

use bson::{Bson, Document, RawDocumentBuf, doc, oid::ObjectId};
use futures::TryStreamExt;
use mongodb::error::ErrorKind;

use super::tokens;
use super::writes::{Sums, cell_update, contribution, resolutions};
use super::{Cell, Cells, Place, Resolution, doc_id, doc_key};
use crate::generate::{Kind, RunId};
use crate::store::{DbError, Store};

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
        let (fine, hours) = resolutions(kind, cells);
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
        let (fine, hours) = resolutions(kind, cells);
        let mut touched = Vec::new();
        for (res, cells) in [(Resolution::Hour, &hours), (Resolution::Fine, &fine)] {
            let guarded = res == Resolution::Hour || !full;
            self.apply_at(kind, res, token, cells, guarded).await?;
            if !guarded {
                continue;
            }
            let mut docs: Vec<_> = cells.keys().map(|&p| doc_key(kind, res, p)).collect();
            docs.dedup();
            touched.extend(docs.into_iter().map(|d| (res, doc_id(kind, d))));
        }
        self.bump_version(kind).await?;
        Ok(touched)
    }

    /// Retires the tokens in `[first, last]` in the rollup documents `touched` (a live run's
    /// batches that can no longer be written again), so their `applied` lists stay short (see
    /// [`tokens`]).
    pub async fn prune_live_tokens(
        &self,
        kind: Kind,
        touched: &[(Resolution, Document)],
        first: ObjectId,
        last: ObjectId,
    ) -> Result<(), DbError> {
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
                .update_many(doc! { "_id": { "$in": ids } }, tokens::retire(first, last))
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
        cells: &Sums<'_>,
        guarded: bool,
    ) -> Result<(), DbError> {
        if cells.is_empty() {
            return Ok(());
        }
        let mut by_doc: BTreeMap<(i64, &str), Vec<(Place, &Cell)>> = BTreeMap::new();
        for (&place, cell) in cells {
            by_doc
                .entry(doc_key(kind, res, place))
                .or_default()
                .push((place, cell));
        }
        if res == Resolution::Fine && !guarded {
            let docs: Vec<RawDocumentBuf> = by_doc
                .iter()
                .map(|(&at, cells)| contribution(kind, &doc_id(kind, at), cells, token))
                .collect();
            return self.insert_contributions(res.collection(kind), &docs).await;
        }
        let todo: Vec<(Bson, Document)> = by_doc
            .into_iter()
            .map(|(at, cells)| {
                let id = doc_id(kind, at);
                let update = cell_update(kind, res, &id, &cells, token);
                (Bson::Document(id), update)
            })
            .collect();
        self.guarded_upserts(res.collection(kind), token, todo)
            .await
    }

    /// Applies each `(id, update)` of `todo` to its document in `collection` unless the
    /// document already holds `token` (listed, or retired: [`tokens`]; the update pushes it), creating documents
    /// as needed: exactly once, however often it is called again.
    pub(super) async fn guarded_upserts(
        &self,
        collection: &str,
        token: ObjectId,
        mut todo: Vec<(Bson, Document)>,
    ) -> Result<(), DbError> {
        // One guarded upsert per document. A duplicate-key error means the document exists: either
        // it already holds this token (done) or another writer created it meanwhile (go again,
        // now as a plain guarded update of an existing document).
        for _ in 0..3 {
            let statements: Vec<Document> = todo
                .iter()
                .map(|(id, u)| {
                    let mut q = doc! { "_id": id };
                    q.extend(tokens::unapplied(token));
                    doc! { "q": q, "u": u, "upsert": true }
                })
                .collect();
            let clashed = self.update_command(collection, statements).await?;
            if clashed.is_empty() {
                return Ok(());
            }
            let ids: Vec<Bson> = clashed.iter().map(|&i| todo[i].0.clone()).collect();
            let mut held = doc! { "_id": { "$in": ids } };
            held.extend(tokens::applied(token));
            let done: Vec<Document> = self
                .db()
                .collection::<Document>(collection)
                .find(held)
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
                .filter(|(id, _)| !done.contains(id))
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
