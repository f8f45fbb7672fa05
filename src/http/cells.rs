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
use crate::store::cells::BBox;

/// The most features one answer holds; a larger set needs a smaller box.
pub const MAX_FEATURES: usize = 10_000;

/// The most cells one `ecgi` list names: what a page asks for the cells it has just seen.
pub const MAX_IDS: usize = 1_000;

/// Query of `GET /cells`.
#[derive(Debug, Deserialize)]
pub struct CellsQuery {
    bbox: Option<String>,
    ecgi: Option<String>,
}

/// `ecgi=A,B,…`: cells by id, each `MCC-MNC-ECI`, at most [`MAX_IDS`] of them.
pub fn parse_ids(v: Option<&str>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(v) = v else {
        return Ok(None);
    };
    let ids: Vec<String> = v.split(',').map(str::to_owned).collect();
    if ids.len() > MAX_IDS {
        return Err(ApiError::invalid(
            "ecgi",
            format!("{} cells named; at most {MAX_IDS} at once", ids.len()),
        ));
    }
    for id in &ids {
        match eci_of(id) {
            None => {
                return Err(ApiError::invalid(
                    "ecgi",
                    format!("{id:?} is not an ECGI (MCC-MNC-ECI, such as 311-480-6510848)"),
                ));
            }
            Some(eci) if eci >= 1 << 28 => {
                return Err(ApiError::invalid(
                    "ecgi",
                    format!("{id}: its ECI {eci} is above 268435455 (28 bits)"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(Some(ids))
}

/// A plain decimal as the spec's pattern has it: an optional `-`, digits, an optional fraction.
fn decimal(x: &str) -> bool {
    let x = x.strip_prefix('-').unwrap_or(x);
    let (whole, fraction) = x.split_once('.').unwrap_or((x, "1"));
    let digits = |p: &str, most: usize| {
        !p.is_empty() && p.len() <= most && p.bytes().all(|b| b.is_ascii_digit())
    };
    digits(whole, 3) && digits(fraction, 17)
}

/// The ECI of `MCC-MNC-ECI` (3 digits, 2 or 3 digits, up to 9 digits), in range or not.
fn eci_of(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('-').collect();
    let digits = |p: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    match parts[..] {
        [mcc, mnc, eci] if digits(mcc, 3, 3) && digits(mnc, 2, 3) && digits(eci, 1, 9) => {
            eci.parse().ok()
        }
        _ => None,
    }
}

/// `bbox=west,south,east,north` in degrees, as RFC 7946 orders a bounding box.
pub fn parse_bbox(v: Option<&str>) -> Result<Option<BBox>, ApiError> {
    let Some(v) = v else {
        return Ok(None);
    };
    let bad = |m: String| ApiError::invalid("bbox", m);
    let n: Vec<f64> = v
        .split(',')
        .map(|x| decimal(x).then(|| x.parse::<f64>().ok()).flatten())
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

/// `GET /cells?bbox=&ecgi=`: the cells in the box (all cells without one), only those named
/// when `ecgi` is given, at most [`MAX_FEATURES`]. An answer is kept until the data changes (the
/// cells are written with the calls, which bump the data version), so a map polling a city's box
/// costs one point read of the version.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CellsQuery>,
) -> Result<Response, ApiError> {
    // Strict: an empty value is not "no filter" (the spec's patterns refuse it).
    let bbox = parse_bbox(q.bbox.as_deref())?;
    let ids = parse_ids(q.ecgi.as_deref())?;
    let key = format!("cells|{bbox:?}|{ids:?}");
    let store = state.store.clone();
    let body = state
        .stats
        .shared(key, true, move |_| async move {
            let ecgis = store
                .cells_in(bbox, ids.as_deref(), MAX_FEATURES as i64 + 1)
                .await?;
            if ecgis.len() > MAX_FEATURES {
                return Err(ApiError::invalid(
                    "bbox",
                    format!("more than {MAX_FEATURES} cells in it; give a smaller bbox"),
                ));
            }
            let features: Vec<Value> = ecgis.iter().filter_map(|e| feature(e)).collect();
            let body = json!({ "type": "FeatureCollection", "features": features });
            Ok(body.to_string().into_bytes())
        })
        .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        body.as_ref().clone(),
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

    #[test]
    fn an_ecgi_list_is_bounded_and_each_is_mcc_mnc_eci() {
        let ids = parse_ids(Some("311-480-6510848,302-72-1"))
            .unwrap()
            .unwrap();
        assert_eq!(ids, ["311-480-6510848", "302-72-1"]);
        let many = vec!["310-410-1"; MAX_IDS + 1].join(",");
        let e = parse_ids(Some(&many)).unwrap_err().to_string();
        assert!(e.contains("at most 1000"), "{e}");
        for bad in ["", "311-480", "31-480-1", "311-4800-1", "311-480-x"] {
            let e = parse_ids(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("is not an ECGI"), "{bad}: {e}");
        }
        let e = parse_ids(Some("311-480-268435456"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is above 268435455"), "{e}");
    }
}
