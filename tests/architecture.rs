//! The layout rules of docs/architecture.md, kept by reading the source: `http`/`cli` → `jobs` →
//! `pipeline` → `store` → `generate`, with `config`, `error` and `telemetry` beside; MongoDB is
//! reached only from `store` (src/store.rs and src/store/); every module imports only what its
//! rule allows; no module imports one that imports it back; one module-file convention; no file
//! grows past its limit, no function past 85 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest a source file may grow before it should be split.
const MAX_LINES: usize = 400;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file belongs to (`src/store/write.rs` → `store`).
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// Code without `//` comments, so prose mentioning a module is not taken for a use of it.
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which top-level modules each module refers to through `crate::…`.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let entry = deps.entry(module.clone()).or_default();
        let text = code(&file);
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let target: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !target.is_empty() && target != module {
                entry.insert(target);
            }
        }
        // `use crate::{a, b}` groups.
        if let Some(i) = text.find("use crate::{") {
            let group = &text[i..text[i..].find('}').map_or(text.len(), |j| i + j)];
            for name in group["use crate::{".len()..].split(',') {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    entry.insert(name);
                }
            }
        }
    }
    deps
}

#[test]
fn only_the_store_reaches_mongodb() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| module_of(f).as_deref() != Some("store"))
        .filter(|f| {
            let text = code(f);
            text.contains("mongodb::") || text.contains("use mongodb")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "mongodb used outside the store module: {offenders:?}"
    );
}

#[test]
fn modules_form_no_import_circle() {
    let deps = dependencies();
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        deps: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(i) = path.iter().position(|n| n == node) {
            panic!("import circle: {} -> {node}", path[i..].join(" -> "));
        }
        path.push(node.to_string());
        for next in deps.get(node).into_iter().flatten() {
            visit(next, deps, path, done);
        }
        path.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    for module in deps.keys() {
        visit(module, &deps, &mut Vec::new(), &mut done);
    }
}

/// What each module of `src/` may import, and why: every module has a rule, and a module added
/// without one fails here.
const ALLOWED: &[(&str, &[&str], &str)] = &[
    (
        "generate",
        &[],
        "pure generators: no I/O, no settings, no database",
    ),
    (
        "config",
        &["generate"],
        "settings, bounded by the generators' limits",
    ),
    (
        "telemetry",
        &["config"],
        "logs and metrics, set up from the settings",
    ),
    (
        "store",
        &["config", "generate"],
        "the only door to MongoDB: writes documents it is given",
    ),
    (
        "error",
        &["generate", "store"],
        "one error type, mapping the generators' and the store's",
    ),
    (
        "pipeline",
        &["config", "generate", "store"],
        "generate → batch → insert, no HTTP",
    ),
    (
        "export",
        &["generate", "pipeline"],
        "streams documents as files, never touching the database",
    ),
    (
        "stats",
        &["error", "generate", "store"],
        "plans and reads rollups; knows nothing of HTTP",
    ),
    (
        "jobs",
        &["error", "generate", "pipeline", "store"],
        "background runs recorded in MongoDB",
    ),
    (
        "live",
        &["error", "generate", "pipeline", "store"],
        "live runs recorded in MongoDB",
    ),
    (
        "http",
        &[
            "config",
            "error",
            "export",
            "generate",
            "jobs",
            "live",
            "pipeline",
            "stats",
            "store",
            "telemetry",
        ],
        "thin handlers over the layers below",
    ),
    (
        "cli",
        &[
            "config", "export", "generate", "live", "pipeline", "startup", "store",
        ],
        "the command line, beside http",
    ),
    (
        "startup",
        &["config", "http", "pipeline", "store"],
        "wires the app together",
    ),
];

#[test]
fn every_module_imports_only_what_its_rule_allows() {
    let deps = dependencies();
    for (module, uses) in &deps {
        let (_, allowed, why) = ALLOWED
            .iter()
            .find(|(m, _, _)| m == module)
            .unwrap_or_else(|| panic!("src/{module} has no rule in tests/architecture.rs ALLOWED"));
        for used in uses {
            assert!(
                allowed.contains(&used.as_str()),
                "{module} ({why}) must not import {used}"
            );
        }
    }
    assert!(
        deps.len() >= 13,
        "the dependency reader missed modules: {deps:?}"
    );
}

/// Longest a function in `src/` may be (outside tests): longer ones are split into named steps.
const MAX_FN_LINES: usize = 85;

/// `(file, first line, lines)` of every function in a file's non-test code, by brace counting.
fn functions(path: &Path) -> Vec<(String, usize, usize)> {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let t = t
            .strip_prefix("pub ")
            .or_else(|| t.strip_prefix("pub(crate) "))
            .or_else(|| t.strip_prefix("pub(super) "))
            .unwrap_or(t);
        let t = t.strip_prefix("const ").unwrap_or(t);
        let t = t.strip_prefix("async ").unwrap_or(t);
        if !t.starts_with("fn ") {
            continue;
        }
        let (mut depth, mut opened) = (0i64, false);
        for (j, l) in lines[i..].iter().enumerate() {
            let code = l.split("//").next().unwrap_or_default();
            for c in code.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    ';' if !opened && depth == 0 => break, // a declaration without a body
                    _ => {}
                }
            }
            if (opened && depth == 0) || (!opened && code.trim_end().ends_with(';')) {
                if opened {
                    out.push((path.display().to_string(), i + 1, j + 1));
                }
                break;
            }
        }
    }
    out
}

#[test]
fn no_function_in_src_is_longer_than_the_limit() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let found: Vec<_> = files
        .iter()
        .filter(|p| {
            !p.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with("tests"))
        })
        .flat_map(|p| functions(p))
        .collect();
    assert!(
        found.len() > 300,
        "the function reader found only {}",
        found.len()
    );
    let long: Vec<_> = found.iter().filter(|(_, _, n)| *n > MAX_FN_LINES).collect();
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines; split them into named steps: {long:?}"
    );
}

#[test]
fn layers_only_point_down() {
    let deps = dependencies();
    let forbidden: [(&str, &[&str]); 5] = [
        (
            "generate",
            &[
                "config",
                "error",
                "telemetry",
                "store",
                "pipeline",
                "jobs",
                "http",
                "cli",
                "startup",
            ],
        ),
        (
            "store",
            &["error", "pipeline", "jobs", "http", "cli", "startup"],
        ),
        ("pipeline", &["error", "jobs", "http", "cli", "startup"]),
        ("jobs", &["http", "cli", "startup"]),
        ("error", &["pipeline", "jobs", "http", "cli", "startup"]),
    ];
    for (module, banned) in forbidden {
        let uses = deps.get(module).cloned().unwrap_or_default();
        for b in banned {
            assert!(!uses.contains(*b), "{module} must not import {b}: {uses:?}");
        }
    }
    // The dependency reader does see real imports.
    assert!(deps["pipeline"].contains("store"), "{deps:?}");
    assert!(deps["http"].contains("jobs"), "{deps:?}");
}

#[test]
fn no_source_file_outgrows_the_limit() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for f in files {
        let lines = std::fs::read_to_string(&f).unwrap().lines().count();
        assert!(
            lines <= MAX_LINES,
            "{} has {lines} lines; split it by concern",
            f.display()
        );
    }
}

/// One module-file convention, the one rustc suggests: a module with sub-modules is `name.rs`
/// beside a folder `name/`, never `name/mod.rs`, so a file's name says which module it is.
#[test]
fn every_folder_has_its_module_file_beside_it() {
    fn folders(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.push(path.clone());
                folders(&path, out);
            }
        }
    }
    let mut dirs = Vec::new();
    folders(&src(), &mut dirs);
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mod_rs: Vec<_> = files.iter().filter(|f| f.ends_with("mod.rs")).collect();
    assert!(
        mod_rs.is_empty(),
        "name these `name.rs` beside their folder: {mod_rs:?}"
    );
    // Folders holding Rust files (not assets such as http/page/) have a module file beside them.
    let orphans: Vec<_> = dirs
        .iter()
        .filter(|d| files.iter().any(|f| f.parent() == Some(d.as_path())))
        .filter(|d| !d.with_extension("rs").is_file())
        .collect();
    assert!(
        orphans.is_empty(),
        "folders without `name.rs` beside them: {orphans:?}"
    );
    assert!(dirs.len() >= 10, "the folder reader found only {dirs:?}");
}

/// Which sibling modules each module of `generate/` refers to (`super::x`, `super::super::x` from a
/// sub-file, `crate::generate::x`), outside its tests.
fn generate_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let root = src().join("generate");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let names: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.strip_prefix(&root).ok()?.components().next())
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap();
        let depth = rel.components().count();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = module.trim_end_matches(".rs").to_string();
        let is_tests = rel
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with("tests"))
            || module == "goodness_of_fit";
        if is_tests {
            continue;
        }
        let text = code(&file);
        // Only the code before the file's tests.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        // From `generate/x.rs`, `super::` is `generate`; from `generate/x/y.rs`, `super::super::`.
        let sibling = if depth == 1 {
            "super::"
        } else {
            "super::super::"
        };
        for prefix in [sibling, "crate::generate::"] {
            for (i, _) in text.match_indices(prefix) {
                let rest = &text[i + prefix.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if names.contains(&name) && name != module {
                    deps.entry(module.clone()).or_default().insert(name);
                }
            }
        }
    }
    deps
}

#[test]
fn the_files_of_generate_import_each_other_without_a_circle() {
    let deps = generate_dependencies();
    // Depth-first search for a path back to where it started.
    fn cycle(
        deps: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        let here = path.last().unwrap().clone();
        for next in deps.get(&here).into_iter().flatten() {
            if let Some(at) = path.iter().position(|p| p == next) {
                let mut c = path[at..].to_vec();
                c.push(next.clone());
                return Some(c);
            }
            if done.contains(next) {
                continue;
            }
            path.push(next.clone());
            if let Some(c) = cycle(deps, path, done) {
                return Some(c);
            }
            path.pop();
        }
        done.insert(here);
        None
    }
    let mut done = BTreeSet::new();
    for start in deps.keys() {
        if let Some(c) = cycle(&deps, &mut vec![start.clone()], &mut done) {
            panic!("generate/ imports in a circle: {}; {deps:?}", c.join(" → "));
        }
    }
    // The reader does see real imports, from files and sub-files alike.
    assert!(deps["calls"].contains("population"), "{deps:?}");
    assert!(deps["calls"].contains("zones"), "{deps:?}");
    assert!(deps["params"].contains("bounds"), "{deps:?}");
}

/// docs/architecture.md's module tree names every source file (test files aside), so a file added
/// without a word there fails here.
#[test]
fn the_architecture_page_names_every_source_file() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .unwrap();
    let start = page.find("```\nsrc/\n").expect("the module tree");
    let tree = &page[start..start + page[start + 4..].find("```").unwrap() + 4];
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            !f.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with("tests"))
                && !f.ends_with("goodness_of_fit.rs")
        })
        .map(|f| {
            let rel = f.strip_prefix(src()).unwrap().to_string_lossy().to_string();
            // A sub-file is named with its folder (`feed/cursor.rs`) where the name repeats.
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            (rel, name)
        })
        .filter(|(rel, name)| {
            let parent_and_name = rel.rsplit('/').take(2).collect::<Vec<_>>();
            let with_folder = match parent_and_name.as_slice() {
                [n, folder] => format!("{folder}/{n}"),
                _ => name.clone(),
            };
            !tree.contains(&with_folder)
                && !tree.contains(&format!(" {name}"))
                && !tree.contains(&format!("({name}"))
        })
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md's tree does not name: {missing:?}"
    );
    assert!(
        files.len() > 80,
        "the file reader found only {}",
        files.len()
    );
}
