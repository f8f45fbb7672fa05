//! Entry point: parse the command line, set up logging, dispatch.

use clap::Parser;
use linq_datagen::cli;
use linq_datagen::config::{Cli, Command};
use linq_datagen::generate::ParamError;
use linq_datagen::startup::Application;
use linq_datagen::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Cli::parse();
    telemetry::init(&args.log);
    let result = match args.command {
        Command::Serve(serve) => {
            Application::build(&args.db, serve)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Generate(g) => cli::generate(&args.db, g).await,
        Command::Setup => cli::setup(&args.db).await,
        Command::Stats(s) => cli::stats(&args.db, s.what).await,
        Command::Live(l) => cli::live(&args.db, l).await,
        Command::Healthcheck(h) => cli::healthcheck(&h).await,
    };
    if let Some(e) = result
        .as_ref()
        .err()
        .and_then(|e| e.downcast_ref::<ParamError>())
    {
        let (message, code) = cli::usage_error(e);
        eprintln!("{message}");
        std::process::exit(code);
    }
    result
}
