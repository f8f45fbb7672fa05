//! Helpers shared by the test crates that check files against the binary (deploy.rs, docs.rs).

use std::collections::BTreeSet;

use clap::CommandFactory;
use linq_datagen::config::Cli;

/// Every environment variable any subcommand of the binary reads.
pub fn accepted_env() -> BTreeSet<String> {
    fn walk(cmd: &clap::Command, out: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(&Cli::command(), &mut out);
    out
}
