//! The `console` blocks of README.md and docs/*.md, run: each page's commands go, in order, to one
//! `bash` against a fresh `linq-datagen serve` (the real binary with its default settings) on the
//! suite's server, and what they print must match what the page shows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::matching::{Mismatch, matches};
use crate::helpers::TempDb;
use crate::processes::Service;

/// One `$ command` of a console block, and the lines the page shows it printing.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// 1-based line of the `$` in its page.
    pub line: usize,
    /// The command as the page shows it, continuation lines joined.
    pub command: String,
    /// What it prints, as the page shows it (`…` masks what varies).
    pub expected: Vec<String>,
}

/// The info string of a block that is shown but not run here (it needs Docker or an injected fault;
/// the step that does run it is named in the page's prose).
pub const NOT_RUN: &str = "console not-run";

/// The examples of a page's `console` blocks, in order; blocks marked [`NOT_RUN`] are left out.
pub fn examples(text: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut in_block: Option<bool> = None; // Some(run?) inside a fence
    let mut continuing = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_block = match in_block {
                Some(_) => None,
                None if info.trim() == "console" => Some(true),
                None if info.trim() == NOT_RUN => Some(false),
                None if info.trim_start().starts_with("console") => {
                    panic!(
                        "line {}: a console block is `console` (run) or `{NOT_RUN}`",
                        i + 1
                    )
                }
                None => Some(false),
            };
            continuing = false;
            continue;
        }
        if in_block != Some(true) {
            continue;
        }
        if continuing {
            let last = out.last_mut().expect("a command is open");
            last.command.push('\n');
            last.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            out.push(Example {
                line: i + 1,
                command: command.to_string(),
                expected: vec![],
            });
            continuing = line.ends_with('\\');
        } else {
            let last = out
                .last_mut()
                .unwrap_or_else(|| panic!("line {}: output before any `$ ` command", i + 1));
            last.expected.push(line.to_string());
        }
    }
    out
}

/// README.md and every page under docs/.
pub fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// What the examples of one page need around them: the service on `localhost:8080`, and a second
/// one on `localhost:8081` whose database address has nothing listening.
struct Stage {
    main: Service,
    dead: Option<Service>,
    db: TempDb,
    _dead_db: TempDb,
    dir: PathBuf,
}

const MAIN_ADDR: &str = "localhost:8080";
const DEAD_ADDR: &str = "localhost:8081";
/// How long one page's commands may take together.
const PAGE_LIMIT: Duration = Duration::from_secs(150);

fn host_port(base: &str) -> &str {
    base.trim_start_matches("http://")
}

impl Stage {
    async fn start(examples: &[Example]) -> Self {
        let http = crate::helpers::http_client();
        let db = TempDb::unique();
        let main = Service::start(&db, &[]);
        main.wait_ready(&http).await;
        let dead_db = TempDb::unique();
        let dead = examples
            .iter()
            .any(|e| e.command.contains(DEAD_ADDR))
            .then(|| Service::start(&dead_db, &[("MONGO_URI", "mongodb://127.0.0.1:1")]));
        let dir = std::env::temp_dir().join(format!("examples-{}", db.name));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            main,
            dead,
            db,
            _dead_db: dead_db,
            dir,
        }
    }

    /// The command with the page's addresses replaced by the services' own.
    fn localize(&self, command: &str) -> String {
        let mut c = command.replace(MAIN_ADDR, host_port(&self.main.base));
        if let Some(dead) = &self.dead {
            c = c.replace(DEAD_ADDR, host_port(&dead.base));
        }
        c
    }

    /// What a command printed, with the services' addresses and the database's name back to the
    /// page's.
    fn globalize(&self, output: &str) -> String {
        let mut o = output.replace(host_port(&self.main.base), MAIN_ADDR);
        if let Some(dead) = &self.dead {
            o = o.replace(host_port(&dead.base), DEAD_ADDR);
        }
        o.replace(&self.db.name, "linq_db").replace('\r', "")
    }

    /// Runs every command in one shell, in order (so a variable one sets is there for the next),
    /// and returns what each printed on stdout and stderr.
    fn run(&self, examples: &[Example]) -> Vec<String> {
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_linq-datagen"));
        let mut script = String::from("set -u\n");
        for (i, e) in examples.iter().enumerate() {
            script.push_str(&format!("printf '\\n@@example {i}@@\\n'\n"));
            script.push_str(&self.localize(&e.command));
            script.push('\n');
        }
        script.push_str("printf '\\n@@end@@\\n'\n");
        let path = format!("{}:{}", bin.parent().unwrap().display(), env("PATH"));
        let out = Command::new("timeout")
            .arg(PAGE_LIMIT.as_secs().to_string())
            .args(["bash", "-c", &format!("exec 2>&1\n{script}")])
            .current_dir(&self.dir)
            .env("PATH", path)
            .env("MONGO_URI", &self.db.uri)
            .env("MONGO_DB", &self.db.name)
            .env_remove("NUM_CALLS")
            .env_remove("RUST_LOG")
            .output()
            .expect("bash runs");
        let text = self.globalize(&String::from_utf8_lossy(&out.stdout));
        assert!(
            text.contains("\n@@end@@\n"),
            "the page's commands did not finish within {PAGE_LIMIT:?}; they printed:\n{text}"
        );
        (0..examples.len())
            .map(|i| {
                let start = format!("\n@@example {i}@@\n");
                let next = if i + 1 < examples.len() {
                    format!("\n@@example {}@@\n", i + 1)
                } else {
                    "\n@@end@@\n".to_string()
                };
                let from = text.find(&start).expect("marker") + start.len();
                let to = from + text[from..].find(&next).expect("next marker");
                text[from..to].to_string()
            })
            .collect()
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// Runs the examples of `page` (relative to the crate root) and fails with every mismatch.
pub async fn check_page(page: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(page);
    let text = std::fs::read_to_string(&path).unwrap();
    let examples = examples(&text);
    assert!(!examples.is_empty(), "{page} has no console example to run");
    let stage = Stage::start(&examples).await;
    let outputs = stage.run(&examples);
    let mut failures = Vec::new();
    for (e, out) in examples.iter().zip(&outputs) {
        let actual: Vec<&str> = out.lines().collect();
        let expected: Vec<&str> = e.expected.iter().map(String::as_str).collect();
        if let Err(m) = matches(&expected, &actual) {
            failures.push(report(page, e, &actual, &m));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples of {page} print something else than the page shows:\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n\n")
    );
}

fn report(page: &str, e: &Example, actual: &[&str], m: &Mismatch) -> String {
    format!(
        "{page}:{}: $ {}\n  {m}\n  --- the page shows:\n{}\n  --- it printed:\n{}",
        e.line,
        e.command,
        indent(e.expected.iter().map(String::as_str)),
        indent(actual.iter().copied()),
    )
}

fn indent<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    lines
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_page_is_read_into_commands_and_their_output() {
    let page = "text\n```console\n$ echo a \\\n    b\na b\n$ true\n```\n```console not-run\n$ docker ps\nx\n```\n```sh\n$ ls\n```\n";
    let got = examples(page);
    assert_eq!(
        got,
        vec![
            Example {
                line: 3,
                command: "echo a \\\n    b".into(),
                expected: vec!["a b".into()],
            },
            Example {
                line: 6,
                command: "true".into(),
                expected: vec![],
            },
        ]
    );
}

#[test]
fn every_page_with_console_blocks_has_a_test() {
    let tested = super::TESTED_PAGES;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let rel = page
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .to_string_lossy()
            .trim_start_matches('/')
            .to_string();
        let has = !examples(&text).is_empty();
        assert_eq!(
            has,
            tested.contains(&rel.as_str()),
            "{rel}: pages with console examples to run and tests::TESTED_PAGES must agree"
        );
    }
}
