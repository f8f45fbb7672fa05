//! The radio cells: written to `cells` for what a run's calls name (once, whoever writes them),
//! found by `$geoNear`, and served by `GET /cells` as RFC 7946 GeoJSON within a bounding box.

use std::collections::BTreeSet;

use bson::{Document, doc};
use futures::TryStreamExt;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_replica};

/// Every cell the calls name: callers' start and end cells, on-net callees' cells.
async fn named_cells(app: &TestApp) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for c in app.all("calls").await {
        for field in ["caller_cell_start", "caller_cell_end", "callee_cell"] {
            if let Ok(e) = c.get_str(field) {
                named.insert(e.to_owned());
            }
        }
    }
    named
}

async fn stored_cells(app: &TestApp) -> Vec<Document> {
    app.all("cells").await
}

#[tokio::test]
async fn the_cells_calls_name_are_written_once_and_geonear_finds_them() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/generate/calls",
            &json!({ "count": 3000, "seed": 11, "end": "2026-11-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let named = named_cells(&app).await;
    let stored = stored_cells(&app).await;
    let ids: BTreeSet<String> = stored
        .iter()
        .map(|d| d.get_str("_id").unwrap().to_owned())
        .collect();
    assert_eq!(
        ids, named,
        "the cells collection is exactly the cells named"
    );
    assert!(named.len() > 500, "{} cells", named.len());
    // Calls on the move end in another cell.
    assert!(app.count("calls", doc! { "handovers": { "$gt": 0 } }).await > 30);
    // Another replica writing the same seed's cells adds nothing and fails nothing.
    let replica = spawn_replica(&app, |_, _| {}).await;
    let res = replica
        .post(
            "/generate/calls",
            &json!({ "count": 3000, "seed": 11, "end": "2026-11-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(stored_cells(&app).await.len(), named.len());

    // $geoNear from the first cell's site: the sectors of that site first, at 0 m, then
    // farther cells in order of distance.
    let first = &stored[0];
    let at = first
        .get_document("location")
        .unwrap()
        .get_array("coordinates")
        .unwrap()
        .clone();
    let near: Vec<Document> = app
        .db
        .collection::<Document>("cells")
        .aggregate([doc! { "$geoNear": {
            "near": { "type": "Point", "coordinates": at },
            "distanceField": "metres",
            "maxDistance": 5_000,
        } }])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(!near.is_empty());
    assert_eq!(near[0].get_f64("metres").unwrap().round(), 0.0);
    assert!(
        near.iter()
            .any(|d| d.get_str("_id") == first.get_str("_id"))
    );
    let metres: Vec<f64> = near.iter().map(|d| d.get_f64("metres").unwrap()).collect();
    assert!(metres.windows(2).all(|w| w[0] <= w[1]), "{metres:?}");
    assert!(metres.iter().all(|m| *m <= 5_000.0));
}

/// The checks RFC 7946 makes of a `FeatureCollection` of points.
fn assert_geojson(body: &Value) {
    assert_eq!(body["type"], "FeatureCollection", "{body}");
    for f in body["features"].as_array().expect("features") {
        assert_eq!(f["type"], "Feature", "{f}");
        assert!(f["id"].is_string() || f["id"].is_number(), "{f}");
        assert!(f["properties"].is_object(), "{f}");
        let g = &f["geometry"];
        assert_eq!(g["type"], "Point", "{f}");
        let c = g["coordinates"].as_array().expect("coordinates");
        assert_eq!(c.len(), 2, "a position is longitude, latitude: {f}");
        let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!(
            (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat),
            "{f}"
        );
        assert!(f.get("crs").is_none() && body.get("crs").is_none());
    }
}

#[tokio::test]
async fn get_cells_answers_geojson_within_a_box_and_refuses_what_it_cannot() {
    let app = spawn_app().await;
    let res = app
        .post("/generate/calls", &json!({ "count": 2000, "seed": 5 }))
        .await;
    assert_eq!(res.status(), 201);
    let res = app.get("/cells").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/geo+json"
    );
    let all: Value = res.json().await.unwrap();
    assert_geojson(&all);
    let features = all["features"].as_array().unwrap();
    let ids: BTreeSet<String> = features
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, named_cells(&app).await);

    // A box around one feature's site holds it, and only features inside the box.
    let p = &features[features.len() / 2]["geometry"]["coordinates"];
    let (lon, lat) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
    let (w, s, e, n) = (lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05);
    let boxed: Value = app
        .get(&format!("/cells?bbox={w},{s},{e},{n}"))
        .await
        .json()
        .await
        .unwrap();
    assert_geojson(&boxed);
    let inside = boxed["features"].as_array().unwrap();
    assert!(!inside.is_empty() && inside.len() < features.len());
    for f in inside {
        let c = &f["geometry"]["coordinates"];
        let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!(x >= w && x <= e && y >= s && y <= n, "{f} outside the box");
    }
    let expected = features
        .iter()
        .filter(|f| {
            let c = &f["geometry"]["coordinates"];
            let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            x >= w && x <= e && y >= s && y <= n
        })
        .count();
    assert_eq!(inside.len(), expected);

    // By id: the named ones that are there, none other.
    let some: Vec<&String> = ids.iter().take(2).collect();
    let asked = format!("{},{},310-410-1", some[0], some[1]);
    let by_id: Value = app
        .get(&format!("/cells?ecgi={asked}"))
        .await
        .json()
        .await
        .unwrap();
    assert_geojson(&by_id);
    let got: BTreeSet<&str> = by_id["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, BTreeSet::from([some[0].as_str(), some[1].as_str()]));
    let res = app.get("/cells?ecgi=311-480-x").await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "ecgi", "{body}");

    for (bbox, says) in [
        ("1,2,3", "expected four numbers"),
        ("0,-91,1,1", "outside ±90"),
        ("10,0,5,1", "west 10 is east of east 5"),
    ] {
        let res = app.get(&format!("/cells?bbox={bbox}")).await;
        assert_eq!(res.status(), 422, "{bbox}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["field"], "bbox");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
}

#[tokio::test]
async fn more_cells_than_an_answer_holds_need_a_smaller_box() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/generate/calls",
            &json!({ "count": 12000, "seed": 3, "subscribers": 40000 }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let cells = app.count("cells", doc! {}).await;
    assert!(cells > 10_000, "{cells} cells");
    let res = app.get("/cells").await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "bbox", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("10000"));
    // New York City's box is well under the bound.
    let res = app.get("/cells?bbox=-74.3,40.5,-73.7,40.95").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let n = body["features"].as_array().unwrap().len();
    assert!(n > 0 && n <= 10_000, "{n}");
}

/// An answer of `GET /cells` is kept, and gives way as soon as a run writes new cells.
#[tokio::test]
async fn a_kept_answer_gives_way_to_cells_written_since() {
    let app = spawn_app().await;
    let features = async || -> usize {
        let body: Value = app.get("/cells").await.json().await.unwrap();
        body["features"].as_array().unwrap().len()
    };
    let mut seen = Vec::new();
    for seed in [1, 2] {
        let body = json!({ "count": 500, "seed": seed, "end": "2026-11-01T00:00:00Z" });
        assert_eq!(app.post("/generate/calls", &body).await.status(), 201);
        let n = features().await;
        assert_eq!(n, stored_cells(&app).await.len(), "seed {seed}");
        assert_eq!(features().await, n, "the kept answer");
        seen.push(n);
    }
    assert!(seen[1] > seen[0], "{seen:?}");
}
