//! A write the network delivers late: a request held in a connection that went silent reaches the
//! server after its run finished and retired its tokens (seen in a fault test, where a job's batch
//! was counted twice in `/stats` once the blackholed connection healed). The replay here sends the
//! very updates such a request carries, through the service's own store, after the run's end.

use bson::{Document, RawDocumentBuf, doc, oid::ObjectId};
use chrono::{DateTime, Utc};
use linq_datagen::generate::{CallParams, Kind, Params, RunId};
use linq_datagen::pipeline::RunSpec;
use linq_datagen::store::Store;
use linq_datagen::store::rollup::by_cell::flush_token;
use serde_json::json;

use crate::helpers::{db_settings, mongo_uri, spawn_app};
use crate::rollups::assert_exact;

/// The run a document belongs to, from its `_id` (seconds, then nonce, then index).
fn run_of(id: ObjectId) -> RunId {
    let b = id.bytes();
    RunId::new(
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    )
}

#[tokio::test]
async fn rollup_updates_delivered_after_their_run_finished_change_nothing() {
    let app = spawn_app().await;
    let end = "2026-11-01T00:00:00Z";
    let body = json!({ "count": 3_000, "days": 2, "end": end, "seed": 11 });
    assert_eq!(app.post("/generate/calls", &body).await.status(), 201);
    assert_exact(&app).await;

    // The run's first batch, generated again from the same request: the documents stored.
    let calls = app.db.collection::<Document>("calls");
    let stored: Vec<Document> = futures::TryStreamExt::try_collect(
        calls
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .limit(1000)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let token = stored[0].get_object_id("_id").unwrap();
    let run = run_of(token);
    let end: DateTime<Utc> = end.parse().unwrap();
    let params = CallParams::new(Some(2), None, Some(end), end).unwrap();
    let spec = RunSpec::new(Params::Calls(params), 3_000, Some(11));
    let (docs, rollup) = spec.tallied_batches(run, 1000).next().unwrap();
    let docs: Vec<Document> = docs
        .iter()
        .map(|d: &RawDocumentBuf| d.to_document().unwrap())
        .collect();
    assert_eq!(
        docs, stored,
        "the regenerated batch is the one the job wrote"
    );

    // Its updates arrive again, as a connection that held them would deliver them: refused.
    let store = Store::connect(&db_settings(&mongo_uri(), app.db.name()))
        .await
        .unwrap();
    let cells = rollup.cells(|_| true);
    assert!(
        store
            .rollup_applied(Kind::Calls, token, &cells)
            .await
            .unwrap()
    );
    store
        .apply_rollup(Kind::Calls, token, &cells)
        .await
        .unwrap();
    let totals = rollup.cell_totals(|_| true);
    assert!(!totals.is_empty(), "mobile calls, counted per cell");
    store
        .apply_cell_rollup(flush_token(run, 0), &totals)
        .await
        .unwrap();
    assert_exact(&app).await;
}
