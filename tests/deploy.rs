//! Fast checks of the container files against the binary they run: every environment variable the
//! compose file sets is one the binary reads, every command the Dockerfile and compose file run
//! parses as a real subcommand, and the Dockerfile's dependency layer accepts the manifest. The
//! images themselves are built and run in a real engine by `scripts/containers.sh`.

use clap::CommandFactory;
use linq_datagen::config::Cli;
use serde_yaml_ng::Value;

mod common;
use common::accepted_env;

/// Whether `args` (without the program name) parse as a command line of the binary.
fn parses(args: &[&str]) -> Result<(), String> {
    let mut argv = vec!["linq-datagen"];
    argv.extend_from_slice(args);
    Cli::command()
        .try_get_matches_from(argv)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn compose() -> Value {
    serde_yaml_ng::from_str(include_str!("../docker-compose.yml")).expect("compose file is YAML")
}

#[test]
fn compose_sets_only_variables_the_binary_reads() {
    let accepted = accepted_env();
    assert!(accepted.contains("MONGO_URI") && accepted.contains("NUM_CALLS"));
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    let mut checked = 0;
    for (name, service) in services {
        let name = name.as_str().unwrap();
        // Third-party images, configured by their own variables.
        if name == "mongo" || name == "grafana" {
            continue;
        }
        let env = service["environment"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{name} has an environment map"));
        for (key, value) in env {
            let key = key.as_str().unwrap();
            assert!(
                accepted.contains(key),
                "{name} sets {key}, which the binary does not read"
            );
            assert!(
                value.is_string(),
                "{name}: quote {key}'s value so YAML keeps it a string"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "the compose file configures the service through its env vars"
    );
}

#[test]
fn compose_wires_mongo_health_and_profiles() {
    let compose = compose();
    let s = &compose["services"];
    assert!(s["mongo"]["image"].as_str().unwrap().starts_with("mongo:"));
    let health = format!("{:?}", s["mongo"]["healthcheck"]["test"]);
    assert!(
        health.contains("mongosh") && health.contains("ping"),
        "{health}"
    );
    // A one-node replica set, initiated by the health check and healthy once primary.
    let command = format!("{:?}", s["mongo"]["command"]);
    assert!(
        command.contains("--replSet") && command.contains("rs0"),
        "{command}"
    );
    assert!(
        health.contains("rs.initiate") && health.contains("isWritablePrimary"),
        "{health}"
    );
    assert!(!s["mongo"]["volumes"].as_sequence().unwrap().is_empty());
    for svc in ["service", "seed", "live"] {
        assert_eq!(
            s[svc]["depends_on"]["mongo"]["condition"], "service_healthy",
            "{svc}"
        );
        let uri = s[svc]["environment"]["MONGO_URI"].as_str().unwrap();
        assert_eq!(
            uri, "mongodb://mongo:27017/?replicaSet=rs0",
            "{svc} reaches mongo by its service name, as a replica set"
        );
    }
    assert_eq!(s["seed"]["profiles"][0], "seed");
    let port = s["service"]["ports"][0].as_str().unwrap();
    let listen = s["service"]["environment"]["LISTEN_ADDR"].as_str().unwrap();
    assert!(
        listen.ends_with(port.split(':').next_back().unwrap()),
        "{listen} vs {port}"
    );
}

#[test]
fn compose_commands_are_real_subcommands() {
    let compose = compose();
    let entry: Vec<&str> = compose["services"]["seed"]["entrypoint"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let script = entry.last().unwrap();
    let mut found = 0;
    for part in script.split("&&") {
        let words: Vec<&str> = part.split_whitespace().collect();
        assert_eq!(words[0], "linq-datagen", "{part}");
        parses(&words[1..]).unwrap_or_else(|e| panic!("{part}: {e}"));
        found += 1;
    }
    assert_eq!(found, 2);
    let live: Vec<&str> = compose["services"]["live"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    parses(&live).unwrap_or_else(|e| panic!("{live:?}: {e}"));
}

/// The JSON-array arguments of the Dockerfile instruction `name` (ENTRYPOINT, CMD, HEALTHCHECK).
fn exec_form(dockerfile: &str, name: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or_else(|| panic!("Dockerfile has {name}"));
    let array = &line[line.find('[').expect("exec form")..=line.rfind(']').unwrap()];
    serde_json::from_str(array).expect("exec form is a JSON array")
}

#[test]
fn dockerfile_runs_real_subcommands_as_a_non_root_user() {
    let dockerfile = include_str!("../Dockerfile");
    let entry = exec_form(dockerfile, "ENTRYPOINT");
    assert_eq!(entry, ["linq-datagen"]);
    let cmd = exec_form(dockerfile, "CMD");
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    parses(&args).unwrap();
    assert_eq!(args, ["serve"]);
    let health = exec_form(dockerfile, "HEALTHCHECK");
    assert_eq!(health[0], "linq-datagen");
    let args: Vec<&str> = health[1..].iter().map(String::as_str).collect();
    parses(&args).unwrap();
    assert_eq!(args[0], "healthcheck");

    assert!(
        dockerfile.contains("--bin linq-datagen"),
        "builds the binary it runs"
    );
    assert!(dockerfile.matches("FROM ").count() >= 2, "multi-stage");
    let user = dockerfile
        .lines()
        .find(|l| l.starts_with("USER "))
        .expect("a USER instruction");
    assert_ne!(user.trim(), "USER root");
    // Variables the image sets are ones the binary reads.
    let accepted = accepted_env();
    for line in dockerfile
        .replace("\\\n", " ")
        .lines()
        .filter(|l| l.starts_with("ENV "))
    {
        for pair in line[4..].split_whitespace() {
            let key = pair.split('=').next().unwrap();
            assert!(
                accepted.contains(key),
                "Dockerfile sets {key}, which the binary does not read"
            );
        }
    }
}

/// docs/operations.md "Security": MongoDB (no authentication in the demo stack) is not published to the host's
/// network, and the service takes an optional `API_KEY` from the environment.
#[test]
fn compose_keeps_mongodb_off_the_network_and_passes_an_optional_api_key() {
    let compose = compose();
    let mongo = &compose["services"]["mongo"];
    for port in mongo["ports"].as_sequence().into_iter().flatten() {
        let port = port.as_str().expect("ports as strings");
        assert!(
            port.starts_with("127.0.0.1:"),
            "MongoDB published beyond loopback: {port}"
        );
    }
    assert_eq!(
        compose["services"]["service"]["environment"]["API_KEY"], "${API_KEY:-}",
        "API_KEY passed through, empty (open) when unset"
    );
}

/// The service's whole shutdown fits in `SHUTDOWN_TIMEOUT_SECS` (docs/operations.md "Observability"); compose
/// must wait longer than that before it kills the container, or jobs are not recorded.
#[test]
fn compose_waits_longer_than_the_shutdown_budget_before_killing() {
    let compose = compose();
    let service = &compose["services"]["service"];
    let grace: u64 = service["stop_grace_period"]
        .as_str()
        .and_then(|g| g.strip_suffix('s'))
        .and_then(|g| g.parse().ok())
        .expect("the service sets stop_grace_period in seconds, like 30s");
    let budget: u64 = match service["environment"]["SHUTDOWN_TIMEOUT_SECS"].as_str() {
        Some(v) => v.parse().expect("a number of seconds"),
        None => {
            let cli = Cli::command();
            let serve = cli.find_subcommand("serve").expect("serve");
            let arg = serve
                .get_arguments()
                .find(|a| a.get_id() == "shutdown_timeout_secs")
                .expect("the shutdown setting");
            arg.get_default_values()[0]
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        }
    };
    // A margin for the process to exit and the container to stop.
    assert!(
        budget + 2 <= grace,
        "stop_grace_period {grace}s leaves no margin over SHUTDOWN_TIMEOUT_SECS {budget}s"
    );
}

/// Runs cargo on the manifest in `dir` far enough to load its targets (the build itself then fails
/// offline for want of the named binary): the error, if it is about the manifest.
fn manifest_error(dir: &std::path::Path) -> Option<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["build", "--offline", "--locked", "--bin", "no-such-target"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    stderr
        .contains("failed to parse manifest")
        .then_some(stderr)
}

/// The Dockerfile compiles dependencies from `Cargo.toml` + `Cargo.lock` alone, with placeholder
/// sources written by `deploy/cargo-skeleton.sh`. Cargo refuses a manifest whose declared targets
/// have no file (the image once failed on a bench added to the manifest), so the skeleton must
/// cover every target the manifest declares; the control shows the check sees a missing one.
#[test]
fn the_dependency_layer_skeleton_covers_every_declared_target() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dockerfile = include_str!("../Dockerfile");
    assert!(
        dockerfile.contains("COPY Cargo.toml Cargo.lock ./")
            && dockerfile.contains("cargo-skeleton Cargo.toml"),
        "the dependency layer is built from the manifest and the skeleton"
    );
    let scratch = std::env::temp_dir().join(format!("linq-skeleton-{}", std::process::id()));
    let (bare, skeleton) = (scratch.join("bare"), scratch.join("skeleton"));
    for dir in [&bare, &skeleton] {
        std::fs::create_dir_all(dir.join("src")).unwrap();
        for file in ["Cargo.toml", "Cargo.lock"] {
            std::fs::copy(root.join(file), dir.join(file)).unwrap();
        }
    }
    // Control: the package's own two roots alone do not satisfy the manifest.
    std::fs::write(bare.join("src/main.rs"), "fn main() {}").unwrap();
    std::fs::write(bare.join("src/lib.rs"), "").unwrap();
    let control = manifest_error(&bare);
    let status = std::process::Command::new("sh")
        .arg(root.join("deploy/cargo-skeleton.sh"))
        .current_dir(&skeleton)
        .status()
        .expect("sh runs");
    let with_skeleton = manifest_error(&skeleton);
    // Every target the manifest declares (a path given or Cargo's default) has a source file.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = std::process::Command::new(cargo)
        .args(["read-manifest"])
        .current_dir(&skeleton)
        .output()
        .expect("cargo runs");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).expect("a manifest");
    let targets = manifest["targets"].as_array().expect("targets");
    let missing: Vec<_> = targets
        .iter()
        .filter_map(|t| t["src_path"].as_str())
        .filter(|p| !std::path::Path::new(p).exists())
        .map(str::to_string)
        .collect();
    std::fs::remove_dir_all(&scratch).ok();
    assert!(
        targets.len() > 2,
        "the manifest declares targets beyond src/main.rs and src/lib.rs"
    );
    assert!(
        missing.is_empty(),
        "the skeleton left declared targets without a source: {missing:?}"
    );
    // Control: a default-path target cargo cannot find would be refused, as without the skeleton.
    assert!(
        control.as_ref().is_none_or(|e| e.contains("can't find")),
        "the bare manifest fails for another reason: {control:?}"
    );
    assert!(status.success());
    assert_eq!(with_skeleton, None, "cargo refuses the skeleton's manifest");
}
