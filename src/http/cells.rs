//! `GET /cells`: the radio cells runs have named, as an RFC 7946 GeoJSON `FeatureCollection`
//! that Grafana's Geomap, kepler.gl and QGIS read as is; bounded, filtered by a bounding box
//! from the `2dsphere` index.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::ApiQuery;
use super::state::AppState;
use crate::error::ApiError;
use crate::generate::cells::{self, RING_NAMES};
use crate::stats::query::present;
use crate::store::cells::BBox;

/// The most features one answer holds; a larger set needs a smaller box.
pub const MAX_FEATURES: usize = 10_000;

/// Query of `GET /cells`.
#[derive(Debug, Deserialize)]
pub struct CellsQuery {
    bbox: Option<String>,
}

/// `bbox=west,south,east,north` in degrees, as RFC 7946 orders a bounding box.
pub fn parse_bbox(v: Option<&str>) -> Result<Option<BBox>, ApiError> {
    let Some(v) = v else {
        return Ok(None);
    };
    let bad = |m: String| ApiError::invalid("bbox", m);
    let n: Vec<f64> = v
        .split(',')
        .map(|x| x.trim().parse::<f64>().ok().filter(|f| f.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            bad(format!(
                "expected four numbers west,south,east,north, got {v:?}"
            ))
        })?;
    let [west, south, east, north] = n[..] else {
        return Err(bad(format!(
            "expected four numbers west,south,east,north, got {}",
            n.len()
        )));
    };
    for (name, x, bound) in [
        ("west", west, 180.0),
        ("south", south, 90.0),
        ("east", east, 180.0),
        ("north", north, 90.0),
    ] {
        if x.abs() > bound {
            return Err(bad(format!("{name} {x} is outside ±{bound}")));
        }
    }
    if west > east {
        return Err(bad(format!(
            "west {west} is east of east {east} (boxes across the antimeridian are not supported)"
        )));
    }
    if south > north {
        return Err(bad(format!("south {south} is north of north {north}")));
    }
    Ok(Some(BBox {
        west,
        south,
        east,
        north,
    }))
}

/// `GET /cells?bbox=`: the cells in the box (all of them without one), at most [`MAX_FEATURES`].
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CellsQuery>,
) -> Result<Response, ApiError> {
    let bbox = parse_bbox(present(&q.bbox))?;
    let ecgis = state.store.cells_in(bbox, MAX_FEATURES as i64 + 1).await?;
    if ecgis.len() > MAX_FEATURES {
        return Err(ApiError::invalid(
            "bbox",
            format!("more than {MAX_FEATURES} cells in it; give a smaller bbox"),
        ));
    }
    let features: Vec<Value> = ecgis.iter().filter_map(|e| feature(e)).collect();
    let body = json!({ "type": "FeatureCollection", "features": features });
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        body.to_string(),
    )
        .into_response())
}

/// One cell as a GeoJSON `Feature`: its site's point and its identities.
fn feature(ecgi: &str) -> Option<Value> {
    let (operator, eci) = ecgi.rsplit_once('-')?;
    let c = cells::cell(eci.parse().ok()?)?;
    let city = &cells::cities()[cells::city_of(c.area_code)?];
    Some(json!({
        "type": "Feature",
        "id": ecgi,
        "geometry": { "type": "Point", "coordinates": [round6(c.lon), round6(c.lat)] },
        "properties": {
            "ecgi": ecgi,
            "operator": operator,
            "eci": c.eci,
            "enb": c.enb,
            "sector": c.sector,
            "azimuth": c.azimuth,
            "tac": c.tac,
            "ring": RING_NAMES[usize::from(c.ring)],
            "area_code": c.area_code,
            "city": city.name,
        },
    }))
}

/// Six decimals: 0.1 m, as RFC 7946 §11.2 advises.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bbox_is_four_numbers_in_range_west_to_east() {
        let b = parse_bbox(Some("-74.1,40.6,-73.8,40.9")).unwrap().unwrap();
        assert_eq!((b.west, b.north), (-74.1, 40.9));
        assert_eq!(parse_bbox(None).unwrap(), None);
        for (bad, says) in [
            ("1,2,3", "got 3"),
            ("a,b,c,d", "four numbers"),
            ("0,-91,1,1", "south -91 is outside ±90"),
            ("-181,0,1,1", "west -181 is outside ±180"),
            ("10,0,5,1", "west 10 is east of east 5"),
            ("0,5,1,1", "south 5 is north of north 1"),
        ] {
            let e = parse_bbox(Some(bad)).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
