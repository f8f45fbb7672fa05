//! docs/operations.md "Observability": `LOG_FORMAT=json` writes one JSON object per line, and every log line of a
//! request carries its `x-request-id` (the client's, or a new UUID) — checked on the real binary's
//! stderr.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::TempDb;
use crate::processes::{Service, sigterm};

#[tokio::test]
async fn json_logs_parse_and_every_request_line_carries_the_returned_request_id() {
    let temp = TempDb::unique();
    // Debug for tower_http: a "started" line too, so each request logs more than one line.
    let mut service = Service::start(
        &temp,
        &[("LOG_LEVEL", "info,tower_http=debug,linq_datagen=debug")],
    );
    let http = crate::helpers::http_client();
    let readiness_probes = service.wait_ready(&http).await;

    // (method, path, body, client's request id)
    let requests: [(&str, &str, Option<Value>, Option<&str>); 7] = [
        ("GET", "/healthz", None, Some("log-test-health")),
        ("GET", "/healthz", None, None),
        ("POST", "/generate/calls", Some(json!({ "count": 5 })), None),
        (
            "POST",
            "/generate/calls",
            Some(json!({ "count": 5, "async": true })),
            Some("log-test-job"),
        ),
        (
            "POST",
            "/generate/metrics",
            Some(json!({ "count": 0 })),
            None,
        ),
        ("GET", "/no-such-route", None, Some("log-test-404")),
        ("GET", "/stats", None, None),
    ];
    // request id → (method, path) of the request it was returned for
    let mut returned: HashMap<String, (String, String)> = readiness_probes
        .into_iter()
        .map(|id| (id, ("GET".to_string(), "/readyz".to_string())))
        .collect();
    for (method, path, body, id) in &requests {
        let url = format!("{}{path}", service.base);
        let mut req = match *method {
            "GET" => http.get(&url),
            _ => http.post(&url),
        };
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(id) = id {
            req = req.header("x-request-id", *id);
        }
        let res = req.send().await.unwrap();
        let echoed = res.headers()["x-request-id"].to_str().unwrap().to_string();
        match id {
            Some(id) => assert_eq!(&echoed, id, "the client's id is kept"),
            None => assert!(
                uuid::Uuid::parse_str(&echoed).is_ok(),
                "a new UUID: {echoed}"
            ),
        }
        let previous = returned.insert(echoed.clone(), (method.to_string(), path.to_string()));
        assert!(previous.is_none(), "request id {echoed} returned twice");
    }

    sigterm(service.pid());
    let exit = service.wait_exit(Duration::from_secs(30)).await;
    assert!(exit.success(), "exit status {exit:?}");

    let lines = service.log_lines();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for line in &lines {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        assert!(entry.is_object(), "{line}");
        let target = entry["target"].as_str().unwrap_or_default();
        let Some(span) = entry.get("span") else {
            // Outside any request: start-up, shutdown, a job's own task.
            assert!(
                !target.starts_with("tower_http"),
                "a request log line without its request span: {line}"
            );
            continue;
        };
        assert_eq!(span["name"], "request", "{line}");
        let id = span["request_id"].as_str().unwrap_or_default();
        let Some((method, path)) = returned.get(id) else {
            panic!("a request log line whose request id {id:?} no response returned: {line}");
        };
        assert_eq!(span["method"], method.as_str(), "{line}");
        assert_eq!(span["uri"], path.as_str(), "{line}");
        *seen
            .entry(returned.get_key_value(id).unwrap().0)
            .or_default() += 1;
    }
    for (id, (method, path)) in &returned {
        assert!(
            seen.get(id.as_str()).is_some_and(|&n| n >= 2),
            "{method} {path} (request id {id}) should have logged a started and a finished line; \
             the log: {lines:#?}"
        );
    }
    // Inside the job request, the service's own line ("job started") carries the id too.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("job started") && l.contains("log-test-job")),
        "{lines:#?}"
    );
}
