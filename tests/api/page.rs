//! The dashboard page in a real browser (Debian's headless Chromium, installed by
//! `scripts/chromium.sh`, driven over the DevTools protocol) against the real service and database:
//! the numbers it renders are the ones `GET /stats` answers, its form generates data, its charts are
//! drawn and its stop button stops a job.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, spawn_app};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One headless Chromium with one page open, spoken to over the DevTools protocol.
struct Browser {
    _child: tokio::process::Child,
    socket: Socket,
    session: String,
    next_id: u64,
    profile: std::path::PathBuf,
}

impl Browser {
    async fn open(url: &str) -> Self {
        let chromium = std::env::var("CHROMIUM_BIN").expect(
            "CHROMIUM_BIN is not set: run the suite with scripts/test.sh, which installs chromium",
        );
        let profile =
            std::env::temp_dir().join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
        let mut child = tokio::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1280,1800",
                &format!("--user-data-dir={}", profile.display()),
                "about:blank",
            ])
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let endpoint = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(at) = line.find("ws://") {
                    return line[at..].trim().to_owned();
                }
            }
            panic!("chromium exited before it listened");
        })
        .await
        .expect("chromium listens within 30 s");
        // Keep reading its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(endpoint).await.unwrap();
        let mut browser = Self {
            _child: child,
            socket,
            session: String::new(),
            next_id: 0,
            profile,
        };
        let target = browser
            .call("Target.createTarget", json!({ "url": url }))
            .await;
        let attached = browser
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await;
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    /// Sends a command (to the page once attached) and waits for its answer.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
        loop {
            let reply = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .expect("chromium answers within 30 s")
                .expect("the connection stays open")
                .unwrap();
            let Message::Text(text) = reply else { continue };
            let reply: Value = serde_json::from_str(&text).unwrap();
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page, or its exception.
    async fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        match r.get("exceptionDetails") {
            Some(e) => Err(e.clone()),
            None => Ok(r["result"]["value"].clone()),
        }
    }

    /// The value of a JavaScript expression in the page, which must not throw.
    async fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .await
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
    }

    /// Polls `expression` until it is truthy (at most 30 s; throwing counts as not yet, as while
    /// the page loads), returning its value.
    async fn wait_for(&mut self, expression: &str, what: &str) -> Value {
        for _ in 0..150 {
            if let Ok(v) = self.try_eval(expression).await
                && !(v.is_null() || v == false)
            {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("the page never showed {what}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `n` as the page writes it (en-US thousands separators).
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn stats(app: &TestApp) -> Value {
    app.get("/stats").await.json().await.unwrap()
}

/// The page's rendering of what `/stats` says, once it shows `calls` calls.
async fn shows(browser: &mut Browser, app: &TestApp, calls: u64) {
    let ready = format!(
        "document.querySelector('#calls-total').textContent === '{}' \
         && document.querySelector('#metrics-chart polyline') !== null \
         && document.querySelector('#calls-chart rect') !== null",
        grouped(calls)
    );
    browser.wait_for(&ready, &format!("{calls} calls")).await;
    let stats = stats(app).await;
    assert_eq!(stats["calls"]["total"], calls);
    let page = browser
        .eval(
            "({ metrics: document.querySelector('#metrics-total').textContent, \
                statuses: [...document.querySelectorAll('#status-rows tr')].map(tr => \
                  [tr.dataset.status, tr.children[1].textContent]) })",
        )
        .await;
    assert_eq!(
        page["metrics"],
        grouped(stats["metrics"]["total"].as_u64().unwrap())
    );
    let expected: Vec<Value> = stats["calls"]["by_status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!([r["status"], grouped(r["count"].as_u64().unwrap())]))
        .collect();
    assert_eq!(page["statuses"], json!(expected), "calls by status");
}

#[tokio::test]
async fn the_page_shows_what_stats_answers_and_drives_the_service() {
    let app = spawn_app().await;
    let calls = json!({ "count": 1234, "days": 3, "seed": 11 });
    assert_eq!(app.post("/generate/calls", &calls).await.status(), 201);
    let points = json!({ "count": 567, "step_seconds": 300, "seed": 11 });
    assert_eq!(app.post("/generate/metrics", &points).await.status(), 201);

    let page = app.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    let mut browser = Browser::open(&format!("{}/", app.address)).await;
    shows(&mut browser, &app, 1234).await;

    // Generate through the page's form; the pushed overview brings the new total.
    browser
        .eval(
            "(() => { const f = document.querySelector('#calls-form'); \
               f.count.value = 3000; f.days.value = 2; f.seed.value = 77; \
               f.requestSubmit(); return true; })()",
        )
        .await;
    shows(&mut browser, &app, 4234).await;

    // The form's preview button shows the calls a five-call run with its settings writes (the
    // documents GET /preview/calls answers with), and writes nothing.
    browser
        .eval(
            "(() => { const f = document.querySelector('#calls-form'); f.seed.value = 78; \
               f.model.value = 'enterprise'; \
               f.querySelector('button.preview').click(); return true; })()",
        )
        .await;
    let rows = "document.querySelectorAll('#calls-preview tbody tr')";
    browser
        .wait_for(&format!("{rows}.length === 5"), "five previewed calls")
        .await;
    let shown = browser
        .eval(&format!(
            "[...{rows}].map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent])"
        ))
        .await;
    let preview: Value = app
        .get("/preview/calls?count=5&days=2&subscribers=10000&seed=78&model=enterprise")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<Value> = preview["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| json!([d["call_id"], d["caller"]]))
        .collect();
    // Callers depend on the model (through the start times), call ids do not.
    assert_eq!(shown, json!(ids), "the page shows the previewed calls");
    shows(&mut browser, &app, 4234).await;

    // A running job gets a stop button, and the button stops it.
    let job: Value = app
        .post(
            "/generate/calls",
            &json!({ "count": 50_000_000, "async": true, "seed": 12 }),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = job["id"].as_str().expect("a job id").to_owned();
    let button = format!("document.querySelector('tr[data-job=\"{id}\"] button.stop')");
    browser
        .wait_for(&format!("{button} !== null"), "a stop button")
        .await;
    // The job's row names its model's preset.
    let kind = browser
        .eval(&format!(
            "document.querySelector('tr[data-job=\"{id}\"]').cells[1].textContent"
        ))
        .await;
    assert_eq!(kind, "calls · mobile");
    browser.eval(&format!("{button}.click(), true")).await;
    crate::helpers::wait_until(Duration::from_secs(20), "the job to stop", async || {
        let j: Value = app.get(&format!("/jobs/{id}")).await.json().await.unwrap();
        j["state"] == "cancelled"
    })
    .await;

    // A live run started from the page shows in the runs table, its calls arrive in the latest
    // calls list, and its stop button stops it.
    let submitted = std::time::Instant::now();
    browser
        .eval(
            "(() => { const f = document.querySelector('#live-form'); \
               f.calls_per_second.value = 10; f.step_seconds.value = 5; \
               f.requestSubmit(); return true; })()",
        )
        .await;
    let row = browser
        .wait_for(
            "document.querySelector('tr[data-live]')?.dataset.live",
            "the live run in the runs table",
        )
        .await;
    let live = row.as_str().unwrap().to_owned();
    let run: Value = app
        .get(&format!("/live/{live}"))
        .await
        .json()
        .await
        .unwrap();
    let start = chrono::DateTime::parse_from_rfc3339(run["start"].as_str().unwrap()).unwrap();
    // The newest call in the list is one of the live run's (the job above wrote older ones).
    crate::helpers::wait_until(
        Duration::from_secs(30),
        "a live call in the list",
        async || {
            let Ok(first) = browser
                .try_eval("document.querySelector('#latest-calls li')?.dataset.call")
                .await
            else {
                return false;
            };
            let Some(call_id) = first.as_str() else {
                return false;
            };
            let found = app
                .db
                .collection::<bson::Document>("calls")
                .find_one(bson::doc! { "call_id": call_id })
                .await
                .unwrap();
            found.is_some_and(|c| {
                c.get_datetime("start_time").unwrap().timestamp_millis() >= start.timestamp_millis()
            })
        },
    )
    .await;
    cells_light_up(&mut browser, &app, submitted).await;
    let button = format!("document.querySelector('tr[data-live=\"{live}\"] button.stop')");
    browser
        .wait_for(&format!("{button} !== null"), "a live stop button")
        .await;
    browser.eval(&format!("{button}.click(), true")).await;
    crate::helpers::wait_until(
        Duration::from_secs(20),
        "the live run to stop",
        async || {
            let r: Value = app
                .get(&format!("/live/{live}"))
                .await
                .json()
                .await
                .unwrap();
            r["state"] == "stopped"
        },
    )
    .await;

    // At a desktop width and at a phone's (390 px), nothing widens the page and the charts'
    // labels keep a readable size (tables scroll inside their card, charts redraw to fit).
    for width in [390, 1280] {
        browser
            .call(
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": width, "height": 1800, "deviceScaleFactor": 1, "mobile": width < 600 }),
            )
            .await;
        let fits = format!(
            "document.documentElement.scrollWidth <= {width} && \
             document.querySelector('#calls-chart').viewBox.baseVal.width <= Math.max(300, {width})"
        );
        // What sticks out, if anything (outside a scrolling card, or positioned out of one).
        let wider = format!(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > \
             {width} + 1 && (getComputedStyle(e).position !== 'static' || !(e.parentElement && \
             e.parentElement.closest('.scroll, .preview-out')))).slice(0, 6).map(e => e.tagName + \
             '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')"
        );
        let mut fitted = false;
        for _ in 0..50 {
            if browser.eval(&fits).await == true {
                fitted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            fitted,
            "at {width} px the page is {} px wide; sticking out: {}",
            browser.eval("document.documentElement.scrollWidth").await,
            browser.eval(&wider).await
        );
        for chart in ["calls-chart", "metrics-chart", "type-chart"] {
            let label =
                format!("document.querySelector('#{chart} text').getBoundingClientRect().height");
            let height = browser.eval(&label).await.as_f64().unwrap();
            assert!(
                height >= 11.0,
                "#{chart}'s labels are {height} px high at {width} px"
            );
        }
    }

    if let Ok(path) = std::env::var("PAGE_SCREENSHOT") {
        // The whole page, live runs and latest calls included.
        let height = browser.eval("document.documentElement.scrollHeight").await;
        let clip = json!({ "x": 0, "y": 0, "width": 1280, "height": height, "scale": 1 });
        let shot = browser
            .call(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true, "clip": clip }),
            )
            .await;
        let png = base64_decode(shot["data"].as_str().unwrap());
        std::fs::write(path, png).unwrap();
    }
}

/// The live run's calls colour their cells on the page's map within 10 s of the run's start; each
/// coloured cell is one the run's calls started in, with no more calls than the database holds
/// there; clicking one shows its figures and place.
async fn cells_light_up(browser: &mut Browser, app: &TestApp, submitted: std::time::Instant) {
    browser
        .wait_for(
            "document.querySelectorAll('#cell-map circle[data-calls]').length > 0",
            "a cell on the map",
        )
        .await;
    let after = submitted.elapsed();
    eprintln!("the map coloured its first cell {after:?} after the live run was submitted");
    assert!(
        after <= Duration::from_secs(10),
        "the first cell was coloured {after:?} after the run started"
    );
    let shown = browser
        .eval(
            "[...document.querySelectorAll('#cell-map circle')].map(c => \
             [c.dataset.ecgi, Number(c.dataset.calls), c.getAttribute('fill')])",
        )
        .await;
    for c in shown.as_array().unwrap() {
        let (ecgi, calls) = (c[0].as_str().unwrap(), c[1].as_u64().unwrap());
        let held = app
            .count("calls", bson::doc! { "caller_cell_start": ecgi })
            .await;
        assert!(
            calls >= 1 && calls <= held,
            "{c}: the database holds {held}"
        );
        assert!(c[2].as_str().unwrap().starts_with("hsl("), "{c}");
    }
    let first = shown[0][0].as_str().unwrap();
    browser
        .eval(&format!(
            "document.querySelector('#cell-map circle[data-ecgi=\"{first}\"]')\
             .dispatchEvent(new MouseEvent('click', {{bubbles: true}})), true"
        ))
        .await;
    let detail = browser
        .wait_for(
            "document.querySelector('#cell-detail').textContent",
            "a cell's figures",
        )
        .await;
    let feature: Value = app
        .get(&format!("/cells?ecgi={first}"))
        .await
        .json()
        .await
        .unwrap();
    let city = feature["features"][0]["properties"]["city"]
        .as_str()
        .unwrap();
    let detail = detail.as_str().unwrap();
    assert!(
        detail.contains(first) && detail.contains(city) && detail.contains("calls"),
        "{detail}"
    );
}

/// Standard base64 (the screenshot's encoding), without a crate for one test helper.
fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | u32::from(value(c)) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}
