//! The Grafana profile's provisioning (deploy/grafana) against the real service: every URL a panel
//! requests is a real route, asks only for parameters the spec documents, answers 200 with the
//! time range Grafana substitutes, and holds every column the panel reads.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use serde_yaml_ng::Value as Yaml;

use crate::helpers::spawn_app;

const DASHBOARD: &str = include_str!("../../deploy/grafana/dashboards/linq-datagen.json");
const DATASOURCE: &str =
    include_str!("../../deploy/grafana/provisioning/datasources/linq-datagen.yaml");
const PROVIDER: &str =
    include_str!("../../deploy/grafana/provisioning/dashboards/linq-datagen.yaml");
const COMPOSE: &str = include_str!("../../docker-compose.yml");
const SPEC: &str = include_str!("../../openapi.yaml");
/// Where the datasource reaches the service inside the compose network.
const BASE: &str = "http://service:8080";

fn yaml(text: &str) -> Yaml {
    serde_yaml_ng::from_str(text).expect("valid YAML")
}

/// Every Infinity query of the dashboard.
fn targets() -> Vec<Value> {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("dashboard is JSON");
    let targets: Vec<Value> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(targets.len() >= 8, "{} queries", targets.len());
    targets
}

/// Names of the query parameters the spec documents for `GET path`.
fn documented_parameters(path: &str) -> BTreeSet<String> {
    let spec = yaml(SPEC);
    let params = spec["paths"][path]["get"]["parameters"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    params
        .iter()
        .map(|p| match p["$ref"].as_str() {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap();
                spec["components"]["parameters"][name]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
            None => p["name"].as_str().unwrap().to_owned(),
        })
        .collect()
}

#[test]
fn provisioning_is_wired_to_the_compose_services() {
    let compose = yaml(COMPOSE);
    let grafana = &compose["services"]["grafana"];
    assert_eq!(grafana["profiles"][0], "dashboard");
    let mounts: Vec<&str> = grafana["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(mounts.contains(&"./deploy/grafana/provisioning:/etc/grafana/provisioning:ro"));
    let provider = yaml(PROVIDER);
    let dashboards = provider["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    assert!(
        mounts.contains(&format!("./deploy/grafana/dashboards:{dashboards}:ro").as_str()),
        "the provider reads where the dashboards are mounted: {mounts:?}"
    );
    let env = &grafana["environment"];
    assert!(
        env["GF_INSTALL_PLUGINS"]
            .as_str()
            .unwrap()
            .contains("yesoreyeram-infinity-datasource")
    );

    let ds = &yaml(DATASOURCE)["datasources"][0];
    assert_eq!(ds["type"], "yesoreyeram-infinity-datasource");
    assert_eq!(ds["jsonData"]["allowedHosts"][0], BASE);
    // The base URL is the compose service and the port it listens on.
    let listen = compose["services"]["service"]["environment"]["LISTEN_ADDR"]
        .as_str()
        .unwrap();
    assert_eq!(
        BASE,
        format!("http://service:{}", listen.rsplit(':').next().unwrap())
    );
    for t in targets() {
        assert_eq!(t["datasource"]["uid"].as_str(), ds["uid"].as_str(), "{t}");
        assert_eq!(t["datasource"]["type"].as_str(), ds["type"].as_str(), "{t}");
    }
}

#[tokio::test]
async fn every_panel_query_is_answered_with_the_columns_it_reads() {
    let app = spawn_app().await;
    let routes: BTreeSet<String> = linq_datagen::http::routes()
        .into_iter()
        .filter(|(_, m)| m == axum::http::Method::GET)
        .map(|(p, _)| p.to_owned())
        .collect();
    let calls = json!({ "count": 3000, "days": 7, "seed": 5 });
    assert_eq!(app.post("/generate/calls", &calls).await.status(), 201);
    let points = json!({ "count": 3000, "step_seconds": 600, "seed": 5 });
    assert_eq!(app.post("/generate/metrics", &points).await.status(), 201);
    // What Grafana substitutes for the default range (now-7d … now), epoch milliseconds.
    let now = chrono::Utc::now().timestamp_millis();
    let from = now - 7 * 86_400_000;

    for t in targets() {
        let url = t["url"].as_str().unwrap();
        let rest = url.strip_prefix(BASE).unwrap_or_else(|| panic!("{url}"));
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        assert!(routes.contains(path), "{path} is a GET route");
        let documented = documented_parameters(path);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let key = pair.split('=').next().unwrap();
            assert!(
                documented.contains(key),
                "{path}: {key} is not a documented parameter"
            );
        }
        let concrete = rest
            .replace("${__from}", &from.to_string())
            .replace("${__to}", &now.to_string());
        assert!(
            !concrete.contains('$'),
            "an unsubstituted variable: {concrete}"
        );
        let res = app.get(&concrete).await;
        assert_eq!(res.status(), 200, "{concrete}");
        let body: Value = res.json().await.unwrap();
        let mut root = &body;
        for part in t["root_selector"]
            .as_str()
            .unwrap()
            .split('.')
            .filter(|p| !p.is_empty())
        {
            root = &root[part];
        }
        let first = match root.as_array() {
            Some(rows) => rows
                .first()
                .unwrap_or_else(|| panic!("rows for {concrete}")),
            None => root,
        };
        for c in t["columns"].as_array().unwrap() {
            let sel = c["selector"].as_str().unwrap();
            assert!(first.get(sel).is_some(), "{concrete}: no {sel} in {first}");
        }
    }
}
