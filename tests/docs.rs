//! Docs that cannot rot: README.md and docs/*.md are read as a newcomer would follow them. Every
//! relative link and anchor resolves, every environment variable the binary reads has exactly one
//! row in a settings table (and every row names one it reads), and every `curl` example asks a route
//! the API description has, with a method and parameters it knows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

mod common;
use common::accepted_env;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page under docs/, with their text.
fn pages() -> Vec<(PathBuf, String)> {
    let mut paths = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).expect("docs/") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            paths.push(path);
        }
    }
    assert!(paths.len() >= 6, "README.md and the pages under docs/");
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// The page's lines outside fenced code blocks, and the code blocks' lines, apart.
fn split_fences(text: &str) -> (Vec<&str>, Vec<Vec<&str>>) {
    let (mut prose, mut blocks, mut open): (Vec<&str>, Vec<Vec<&str>>, Option<Vec<&str>>) =
        (vec![], vec![], None);
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match open.take() {
                Some(block) => blocks.push(block),
                None => open = Some(vec![]),
            }
        } else if let Some(block) = open.as_mut() {
            block.push(line);
        } else {
            prose.push(line);
        }
    }
    (prose, blocks)
}

/// GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`,
/// repeats numbered `-1`, `-2`, ….
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for line in split_fences(text).0 {
        let Some(title) = line.strip_prefix('#').map(|t| t.trim_start_matches('#')) else {
            continue;
        };
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        out.insert(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    out
}

/// The targets of `[text](target)` and `![alt](target)` in prose, inline code removed.
fn links(text: &str) -> Vec<String> {
    let mut out = vec![];
    for line in split_fences(text).0 {
        let line: String = line.split('`').step_by(2).collect::<Vec<_>>().join("");
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            out.push(
                after[..end]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            );
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let pages = pages();
    let mut checked = 0;
    let mut broken = vec![];
    for (path, text) in &pages {
        for target in links(text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let file = if file.is_empty() {
                path.clone()
            } else {
                path.parent().unwrap().join(file)
            };
            checked += 1;
            if !file.exists() {
                broken.push(format!("{}: {target} (no such file)", path.display()));
            } else if !anchor.is_empty() {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                if !anchors(&text).contains(anchor) {
                    broken.push(format!("{}: {target} (no such heading)", path.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked >= 20, "only {checked} relative links found");
}

/// The control for the link check: the slugs follow GitHub's rules, so a wrong one is caught.
#[test]
fn anchors_follow_githubs_rules() {
    let a =
        anchors("# Run with Docker\n### Call records (`calls`)\n## Same\n## Same\n```\n# no\n```");
    let want = ["run-with-docker", "call-records-calls", "same", "same-1"];
    assert_eq!(a, want.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        links("[a](x.md#b) `[c](d)` ![e](f.png)"),
        ["x.md#b", "f.png"]
    );
}

#[test]
fn every_environment_variable_has_one_settings_row() {
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, text) in pages() {
        for line in split_fences(&text).0 {
            // Settings rows: | `--flag` | `ENV` | default | meaning |
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 4 || !(cells[1].starts_with('`') && cells[1].contains("--")) {
                continue;
            }
            let env = cells[2].trim_matches('`');
            if env.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !env.is_empty() {
                let page = path.file_name().unwrap().to_string_lossy().into_owned();
                rows.entry(env.to_string()).or_default().push(page);
            }
        }
    }
    let accepted = accepted_env();
    for env in &accepted {
        let places = rows.get(env).cloned().unwrap_or_default();
        assert_eq!(
            places.len(),
            1,
            "{env} has {} settings rows: {places:?}",
            places.len()
        );
    }
    for env in rows.keys() {
        assert!(
            accepted.contains(env),
            "the docs list {env}, which the binary does not read"
        );
    }
}

/// The API description's operations: path template → methods → known query and body fields.
fn spec() -> Value {
    serde_yaml_ng::from_str(include_str!("../openapi.yaml")).expect("openapi.yaml")
}

fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .trim_start_matches("#/")
            .split('/')
            .fold(spec, |node, key| &node[key]),
        None => v,
    }
}

/// The query parameters and top-level body fields the spec knows for `method path`, or why not.
fn known_fields(spec: &Value, method: &str, path: &str) -> Result<BTreeSet<String>, String> {
    let paths = spec["paths"].as_mapping().unwrap();
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let (_, item) = paths
        .iter()
        .find(|(template, _)| {
            let t: Vec<&str> = template
                .as_str()
                .unwrap()
                .trim_end_matches('/')
                .split('/')
                .collect();
            t.len() == segs.len()
                && t.iter()
                    .zip(&segs)
                    .all(|(t, s)| t.starts_with('{') || t == s)
        })
        .ok_or_else(|| format!("no route {path}"))?;
    let op = item
        .get(method.to_lowercase())
        .ok_or_else(|| format!("{path} has no {method}"))?;
    let mut fields = BTreeSet::new();
    for p in op["parameters"].as_sequence().into_iter().flatten() {
        if let Some(name) = resolve(spec, p)["name"].as_str() {
            fields.insert(name.to_string());
        }
    }
    for (_, media) in op["requestBody"]["content"]
        .as_mapping()
        .into_iter()
        .flatten()
    {
        let schema = resolve(spec, &media["schema"]);
        for (key, _) in schema["properties"].as_mapping().into_iter().flatten() {
            fields.insert(key.as_str().unwrap().to_string());
        }
    }
    Ok(fields)
}

/// One `curl` command of an example: its method, path, query names and JSON body field names.
fn parse_curl(cmd: &str) -> Option<(String, String, Vec<String>)> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let url = words.iter().find(|w| w.contains("localhost:"))?;
    let url = url.trim_matches(|c| c == '\'' || c == '"');
    let after_host = &url[url.find("localhost:")?..];
    let path_q = &after_host[after_host.find('/').unwrap_or(after_host.len())..];
    let (path, query) = path_q.split_once('?').unwrap_or((path_q, ""));
    let mut method = if cmd.contains(" -d ") { "POST" } else { "GET" }.to_string();
    for (i, w) in words.iter().enumerate() {
        if let Some(m) = w.strip_prefix("-X") {
            method = if m.is_empty() { words[i + 1] } else { m }.to_string();
        }
    }
    let mut fields: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        // A deepObject parameter (`scenario[kind]=…`) is named without its brackets.
        .map(|kv| kv.split(['=', '[']).next().unwrap().to_string())
        .collect();
    if let Some(at) = cmd.find(" -d '") {
        let body = &cmd[at + 5..];
        let body = &body[..body.find('\'').unwrap_or(body.len())];
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(body) {
            fields.extend(map.keys().cloned());
        }
    }
    Some((method, path.to_string(), fields))
}

#[test]
fn every_curl_example_asks_a_route_the_spec_knows() {
    let spec = spec();
    let mut checked = 0;
    let mut wrong = vec![];
    for (path, text) in pages() {
        for block in split_fences(&text).1 {
            // A command may continue over lines ending in a backslash.
            let joined = block.join("\n").replace("\\\n", " ");
            let lines: Vec<&str> = joined.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let line = line.trim_start();
                let Some(cmd) = line.strip_prefix("$ curl").or(line.strip_prefix("curl ")) else {
                    continue;
                };
                // An example whose output is an `invalid_field` refusal shows a wrong field on
                // purpose: its route and method are still checked.
                let refused = lines[i + 1..]
                    .iter()
                    .take_while(|l| !l.starts_with('$'))
                    .any(|l| l.contains("\"invalid_field\""));
                let cmd = cmd.split('|').next().unwrap();
                let Some((method, route, fields)) = parse_curl(cmd) else {
                    wrong.push(format!("{}: cannot read `curl{cmd}`", path.display()));
                    continue;
                };
                checked += 1;
                match known_fields(&spec, &method, &route) {
                    Err(e) => wrong.push(format!("{}: {method} {route}: {e}", path.display())),
                    Ok(known) => {
                        // `_` is the cache buster the docs show being ignored.
                        let unknown = fields.iter().filter(|f| *f != "_" && !known.contains(*f));
                        for f in unknown.filter(|_| !refused) {
                            wrong
                                .push(format!("{}: {method} {route}: unknown {f}", path.display()));
                        }
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "curl examples:\n{}", wrong.join("\n"));
    assert!(checked >= 20, "only {checked} curl examples found");
}

/// The control for the example check: an unknown route, method or field is caught.
#[test]
fn the_curl_check_catches_unknown_routes_methods_and_fields() {
    let spec = spec();
    let ok = parse_curl(" -s -XPOST localhost:8080/jobs/abc/cancel").unwrap();
    assert_eq!(known_fields(&spec, &ok.0, &ok.1).map(|_| ()), Ok(()));
    let (m, p, f) = parse_curl(" -s 'localhost:8080/stats?from=2026-01-01&colour=red'").unwrap();
    assert!(!known_fields(&spec, &m, &p).unwrap().contains(&f[1]));
    let (m, p, f) =
        parse_curl(" -XPOST localhost:8080/generate/calls -d '{\"count\": 1, \"x\": 2}'").unwrap();
    let known = known_fields(&spec, &m, &p).unwrap();
    assert!(known.contains("count") && !known.contains(&f[1]));
    assert!(known_fields(&spec, "DELETE", "/stats").is_err());
    assert!(known_fields(&spec, "GET", "/nowhere").is_err());
}
