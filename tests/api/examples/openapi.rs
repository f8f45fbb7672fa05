//! Every `example` in openapi.yaml, run against a fresh `linq-datagen serve` (the real binary, here
//! with `API_KEY` set so the `401` example can be produced):
//! - a request body's example is sent to its operation and must be accepted (2xx);
//! - a parameter's example is sent to an operation that takes it and must not be refused for it;
//! - any other example names the request that produces it in a sibling `x-example-request`
//!   (`{request: 'METHOD PATH [JSON body]', against: no-key | no-database | empty}`, `empty` being
//!   a second service whose database nothing is written to). If the request holds
//!   `$example`, the example is an input put there and must be accepted; otherwise the answer must
//!   be the example, with `…` masking what varies (as in the pages' console blocks). An example
//!   that cannot be produced here says why in `{not-run: …}`, naming the test that covers it.
//!
//! An event stream's example is compared line by line, each `data:` line as JSON.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;

use super::matching::{MASK, line_matches, matches};
use crate::helpers::TempDb;
use crate::processes::Service;

const KEY: &str = "docs-example-key";

/// One `example` and where it sits.
struct Found {
    /// Where in the file, as `paths › /generate/calls › post › …`.
    at: Vec<String>,
    /// The mapping that holds `example`.
    holder: Yaml,
}

fn walk(node: &Yaml, at: &mut Vec<String>, out: &mut Vec<Found>) {
    match node {
        Yaml::Mapping(map) => {
            if map.contains_key("example") {
                out.push(Found {
                    at: at.clone(),
                    holder: node.clone(),
                });
            }
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    other => serde_yaml_ng::to_string(other).unwrap().trim().to_string(),
                };
                at.push(key);
                walk(v, at, out);
                at.pop();
            }
        }
        Yaml::Sequence(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(i.to_string());
                walk(v, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn to_json(y: &Yaml) -> Value {
    serde_json::to_value(y).expect("YAML as JSON")
}

/// The services the examples run against.
struct Services {
    main: Service,
    dead: Service,
    empty: Service,
    http: reqwest::Client,
    _dbs: (TempDb, TempDb, TempDb),
}

/// Which service a request goes to.
#[derive(Clone, Copy, PartialEq)]
enum Against {
    Main,
    NoDatabase,
    Empty,
}

struct Request {
    method: Method,
    path: String,
    body: Option<Value>,
    key: bool,
    against: Against,
    accept: Option<String>,
}

impl Request {
    /// `METHOD PATH [JSON body]`.
    fn parse(line: &str) -> Self {
        let (method, rest) = line.split_once(' ').expect("METHOD PATH");
        let (path, body) = match rest.split_once(' ') {
            Some((p, b)) => (p, Some(serde_json::from_str(b).expect("the body is JSON"))),
            None => (rest, None),
        };
        Self {
            method: method.parse().expect("an HTTP method"),
            path: path.to_string(),
            body,
            key: true,
            against: Against::Main,
            accept: None,
        }
    }
}

/// Events of a stream read for an example: it shows one of them (as `grep -m 1` picks one on a
/// page), since the kind of callee decides which fields a call carries.
const EVENTS_READ: usize = 20;

/// What a request got: status and body (the first [`EVENTS_READ`] events, for an event stream).
async fn send(s: &Services, r: &Request) -> (u16, String) {
    let base = match r.against {
        Against::Main => &s.main.base,
        Against::NoDatabase => &s.dead.base,
        Against::Empty => &s.empty.base,
    };
    let mut req = s
        .http
        .request(r.method.clone(), format!("{base}{}", r.path));
    if r.key {
        req = req.bearer_auth(KEY);
    }
    if let Some(accept) = &r.accept {
        req = req.header("accept", accept);
    }
    if let Some(body) = &r.body {
        req = req.json(body);
    }
    let mut res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let mut text = String::new();
    let read = async {
        while let Ok(Some(chunk)) = res.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.matches("\n\n").count() >= EVENTS_READ {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    if let Some((i, _)) = text.match_indices("\n\n").nth(EVENTS_READ - 1) {
        text.truncate(i + 2);
    }
    (status, text)
}

/// Whether `actual` is what `expected` shows: equal, but a string `…` stands for any value and a
/// string holding `…` matches as a line of a page does.
fn same(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(e), _) if e == MASK => Ok(()),
        (Value::String(e), Value::String(a)) if e.contains(MASK) && line_matches(e, a) => Ok(()),
        (Value::String(e), Value::Number(a))
            if e.contains(MASK) && line_matches(e, &a.to_string()) =>
        {
            Ok(())
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        (Value::Object(e), Value::Object(a)) => {
            let (ek, ak): (Vec<_>, Vec<_>) = (e.keys().collect(), a.keys().collect());
            let (mut ek, mut ak) = (ek, ak);
            ek.sort();
            ak.sort();
            if ek != ak {
                return Err(format!(
                    "{at}: fields {ek:?} in the example, {ak:?} in the answer"
                ));
            }
            e.iter()
                .try_for_each(|(k, v)| same(v, &a[k], &format!("{at}.{k}")))
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .try_for_each(|(i, (e, a))| same(e, a, &format!("{at}[{i}]"))),
        _ if expected == actual => Ok(()),
        _ => Err(format!(
            "{at}: the example has {expected}, the answer {actual}"
        )),
    }
}

/// Whether an event stream is what the example shows: the same lines, masks as in a page, and
/// each `data:` line the same JSON (masks as in `same`).
fn same_events(expected: &str, actual: &str) -> Result<(), String> {
    let (e, a): (Vec<&str>, Vec<&str>) = (
        expected.trim_end().lines().collect(),
        actual.trim_end().lines().collect(),
    );
    if e.len() != a.len() {
        return Err(format!(
            "{} lines in the example, {} in the answer",
            e.len(),
            a.len()
        ));
    }
    for (i, (e, a)) in e.iter().zip(&a).enumerate() {
        match (e.strip_prefix("data: "), a.strip_prefix("data: ")) {
            (Some(ej), Some(aj)) => {
                let ej: Value = serde_json::from_str(ej)
                    .map_err(|err| format!("the example's data is not JSON: {err}"))?;
                let aj: Value = serde_json::from_str(aj)
                    .map_err(|err| format!("the answer's data is not JSON: {err}"))?;
                same(&ej, &aj, &format!("line {}: data", i + 1))?;
            }
            _ if line_matches(e, a) => {}
            _ => {
                return Err(format!(
                    "line {}: the example has `{e}`, the answer `{a}`",
                    i + 1
                ));
            }
        }
    }
    Ok(())
}

/// The operations (method, path) whose parameters include `name` (a `$ref` to it, or inline).
fn operations_taking(
    spec: &Yaml,
    component: Option<&str>,
    inline_at: &[String],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(name) = component {
        let reference = format!("#/components/parameters/{name}");
        for (path, item) in spec["paths"].as_mapping().unwrap() {
            for (method, op) in item.as_mapping().unwrap() {
                let takes = op["parameters"]
                    .as_sequence()
                    .is_some_and(|ps| ps.iter().any(|p| p["$ref"].as_str() == Some(&reference)));
                if takes {
                    out.push((
                        method.as_str().unwrap().to_uppercase(),
                        path.as_str().unwrap().to_string(),
                    ));
                }
            }
        }
    } else {
        // paths › PATH › [METHOD ›] parameters › i › schema
        let path = inline_at[1].clone();
        let item = &spec["paths"][path.as_str()];
        let methods: Vec<String> = if inline_at[2] == "parameters" {
            item.as_mapping()
                .unwrap()
                .keys()
                .filter_map(|k| k.as_str())
                .filter(|k| *k != "parameters")
                .map(str::to_uppercase)
                .collect()
        } else {
            vec![inline_at[2].to_uppercase()]
        };
        out.extend(methods.into_iter().map(|m| (m, path.clone())));
    }
    out
}

/// Runs one parameter's example: each operation that takes it must not refuse it by name.
async fn check_parameter(s: &Services, spec: &Yaml, f: &Found, param: &Yaml) -> Result<(), String> {
    let name = param["name"].as_str().expect("a parameter has a name");
    let value = match &param["schema"]["example"] {
        Yaml::String(v) => v.clone(),
        other => serde_yaml_ng::to_string(other).unwrap().trim().to_string(),
    };
    let component = (f.at[0] == "components").then(|| f.at[2].as_str());
    let ops = operations_taking(spec, component, &f.at);
    if ops.is_empty() {
        return Err(format!("no operation takes parameter `{name}`"));
    }
    for (method, path) in ops {
        let placeholder = format!("{{{name}}}");
        let url = if path.contains(&placeholder) {
            path.replace(&placeholder, &value)
        } else {
            let other = path.replace("{id}", "2f0c7c4e-2d55-4c55-a0a4-4a8f0e1f2b3c");
            format!("{other}?{name}={}", form(&value))
        };
        let r = Request {
            method: method.parse().unwrap(),
            path: url.clone(),
            body: (method == "POST").then(|| serde_json::json!({})),
            key: true,
            against: Against::Main,
            accept: None,
        };
        let (status, body) = send(s, &r).await;
        let refused = status == 422
            && serde_json::from_str::<Value>(&body)
                .is_ok_and(|v| v["error"]["field"].as_str() == Some(name));
        if refused || status >= 500 {
            return Err(format!("{method} {url}: {status} {body}"));
        }
    }
    Ok(())
}

fn form(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// Runs one example; `Err` says how it differs.
async fn check(s: &Services, spec: &Yaml, f: &Found) -> Result<(), String> {
    let example = &f.holder["example"];
    let given = &f.holder["x-example-request"];
    let last = f.at.last().map(String::as_str);
    // A parameter's schema: the parameter is the mapping above it.
    if last == Some("schema") && given.is_null() {
        let mut param_at = f.at.clone();
        param_at.pop();
        let mut node = spec;
        for k in &param_at {
            node = match node {
                Yaml::Sequence(items) => &items[k.parse::<usize>().unwrap()],
                _ => &node[k.as_str()],
            };
        }
        if node.get("in").is_some() {
            return check_parameter(s, spec, f, node).await;
        }
    }
    // A request body: paths › PATH › METHOD › requestBody › content › TYPE.
    if f.at.len() == 6 && f.at[0] == "paths" && f.at[3] == "requestBody" && given.is_null() {
        let r = Request {
            method: f.at[2].to_uppercase().parse().unwrap(),
            path: f.at[1].clone(),
            body: Some(to_json(example)),
            key: true,
            against: Against::Main,
            accept: None,
        };
        let (status, body) = send(s, &r).await;
        return if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!(
                "the request body example was refused: {status} {body}"
            ))
        };
    }
    if let Some(reason) = given["not-run"].as_str() {
        assert!(!reason.trim().is_empty(), "a not-run example says why");
        return Ok(());
    }
    let line = given["request"].as_str().ok_or_else(|| {
        "no way to produce it: add `x-example-request: {request: 'METHOD PATH [body]'}` beside it, or `{not-run: why}`".to_string()
    })?;
    let input = line.contains("$example");
    let line = if input {
        line.replace("$example", &to_json(example).to_string())
    } else {
        line.to_string()
    };
    let mut r = Request::parse(&line);
    match given["against"].as_str() {
        Some("no-key") => r.key = false,
        Some("no-database") => r.against = Against::NoDatabase,
        Some("empty") => r.against = Against::Empty,
        None => {}
        Some(other) => return Err(format!("unknown `against: {other}`")),
    }
    // The media type the example is given for, when it is a response's content.
    let media = f.at.last().filter(|m| m.contains('/')).cloned();
    r.accept = media.clone();
    let (status, body) = send(s, &r).await;
    if input {
        return if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("{line}: {status} {body}"))
        };
    }
    let code =
        f.at.iter()
            .find_map(|k| k.parse::<u16>().ok().filter(|c| (100..600).contains(c)));
    if let Some(code) = code.filter(|c| *c != status) {
        return Err(format!(
            "{line}: status {status}, the example is for {code}; {body}"
        ));
    }
    match example {
        Yaml::String(text) if media.as_deref() == Some("text/event-stream") => {
            // The example is one event of those read; the first one's mismatch is reported.
            let mut events = body
                .split_terminator("\n\n")
                .filter(|e| !e.trim().is_empty());
            let first = events.next().unwrap_or_default();
            match same_events(text, first) {
                Ok(()) => Ok(()),
                Err(_) if events.any(|e| same_events(text, e).is_ok()) => Ok(()),
                Err(m) => Err(format!("{line}: {m}\nexample:\n{text}\nanswer:\n{first}")),
            }
        }
        Yaml::String(text) => {
            let e: Vec<&str> = text.lines().collect();
            let a: Vec<&str> = body.lines().collect();
            matches(&e, &a).map_err(|m| format!("{line}: {m}\nexample:\n{text}\nanswer:\n{body}"))
        }
        _ => {
            let actual: Value = serde_json::from_str(&body)
                .map_err(|e| format!("{line}: the answer is not JSON ({e}): {body}"))?;
            same(&to_json(example), &actual, "$")
                .map_err(|e| format!("{line}: {e}\nanswer: {body}"))
        }
    }
}

/// Waits (up to 60 s) until no job of the main service is running.
async fn wait_for_jobs(s: &Services) {
    for _ in 0..600 {
        let jobs: Value = s
            .http
            .get(format!("{}/jobs?limit=100", s.main.base))
            .send()
            .await
            .expect("jobs listed")
            .json()
            .await
            .expect("jobs as JSON");
        let running = jobs
            .as_array()
            .expect("a list")
            .iter()
            .any(|j| j["state"] == "running");
        if !running {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("a job still runs after 60 s");
}

/// Every example of openapi.yaml, run; fails with all that differ.
pub async fn check_all() {
    let spec: Yaml = serde_yaml_ng::from_str(linq_datagen::http::OPENAPI_YAML).unwrap();
    let mut found = Vec::new();
    walk(&spec, &mut Vec::new(), &mut found);
    assert!(found.len() >= 20, "only {} examples found", found.len());
    let (db, dead_db, empty_db) = (TempDb::unique(), TempDb::unique(), TempDb::unique());
    let http = crate::helpers::http_client();
    let main = Service::start(&db, &[("API_KEY", KEY)]);
    main.wait_ready(&http).await;
    let dead = Service::start(
        &dead_db,
        &[("API_KEY", KEY), ("MONGO_URI", "mongodb://127.0.0.1:1")],
    );
    let empty = Service::start(&empty_db, &[("API_KEY", KEY)]);
    empty.wait_ready(&http).await;
    let s = Services {
        main,
        dead,
        empty,
        http,
        _dbs: (db, dead_db, empty_db),
    };
    // Examples that read data come after the ones that write it: the order of the file, with
    // requests given by `x-example-request` last.
    found.sort_by_key(|f| !f.holder["x-example-request"].is_null());
    let mut failures = Vec::new();
    let mut waited = false;
    for f in &found {
        if !waited && !f.holder["x-example-request"].is_null() {
            // The inputs may have started a job (a rebuild); answers are read once it is done.
            wait_for_jobs(&s).await;
            waited = true;
        }
        if let Err(e) = check(&s, &spec, f).await {
            failures.push(format!("{}:\n  {e}", f.at.join(" › ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples in openapi.yaml are not what the service does:\n\n{}",
        failures.len(),
        found.len(),
        failures.join("\n\n")
    );
}

#[test]
fn answers_compare_with_masks() {
    let e = serde_json::json!({"a": 1, "id": "…", "t": "2026-…Z", "xs": [1.0, 2]});
    assert!(
        same(
            &e,
            &serde_json::json!({"a": 1, "id": "x", "t": "2026-01-01Z", "xs": [1, 2]}),
            "$"
        )
        .is_ok()
    );
    assert!(
        same(
            &e,
            &serde_json::json!({"a": 2, "id": "x", "t": "2026-01-01Z", "xs": [1, 2]}),
            "$"
        )
        .is_err()
    );
    assert!(
        same(
            &e,
            &serde_json::json!({"a": 1, "id": "x", "t": "2026-01-01Z", "xs": [1, 2], "b": 0}),
            "$"
        )
        .is_err()
    );
    assert!(
        same(
            &e,
            &serde_json::json!({"a": 1, "t": "2026-01-01Z", "xs": [1, 2]}),
            "$"
        )
        .is_err()
    );
}
