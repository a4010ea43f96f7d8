//! `plugboard dev` and `plugboard queue`: run the app locally, and look into its queues.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::dev::{DevApp, admin, serve};
use crate::manifest::Manifest;

/// Arguments of `plugboard dev`.
#[derive(clap::Args)]
pub struct DevArgs {
    /// The app manifest.
    #[arg(long, default_value = "plugboard.toml")]
    manifest: PathBuf,
    /// HTTP port on 127.0.0.1 (default: the manifest's `app.port`; 0 picks a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Start from empty state (key-value data and queued messages are deleted).
    #[arg(long)]
    reset: bool,
    /// Fail about this percent of queue deliveries on purpose (invocations dropped, processed
    /// messages reported failed), to rehearse retries.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    inject_failures: u8,
}

/// Load the app, print the banner, serve until stopped.
pub async fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&args.manifest)?;
    let port = args.port.unwrap_or(manifest.app.port);
    let app = DevApp::load(manifest, args.reset).await?;
    app.inject_failures(args.inject_failures);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    // The banner is for a human; a closed stdout must not stop the server.
    let _ = writeln!(std::io::stdout().lock(), "{}", app.banner(&url));
    tokio::select! {
        served = serve(app.clone(), listener) => served?,
        _ = tokio::signal::ctrl_c() => {
            // Receives and deletes are committed lazily; make them durable before leaving.
            app.queues.flush().await?;
            eprintln!("plugboard dev: stopped; state saved in {}", app.manifest.app.state_dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `plugboard queue` does.
#[derive(clap::Subcommand)]
pub enum QueueCommand {
    /// Every queue with its depth: visible, in flight, delayed.
    List,
    /// The first messages of a queue, without receiving them.
    Peek {
        /// The queue.
        queue: String,
        /// How many.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Move every message of a dead-letter queue back to the queue that feeds it.
    Redrive {
        /// The dead-letter queue.
        queue: String,
    },
}

/// Arguments of `plugboard queue`.
#[derive(clap::Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    command: QueueCommand,
    /// The running dev server.
    #[arg(long, default_value = "http://127.0.0.1:3000", global = true)]
    url: String,
}

/// Ask the running dev server and print its answer.
pub async fn queue(args: QueueArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        QueueCommand::List => {
            let stats = admin::call(&args.url, "GET", "queues").await?;
            println!("{:<28} {:>8} {:>9} {:>8}", "queue", "visible", "in-flight", "delayed");
            for q in stats.as_array().into_iter().flatten() {
                println!(
                    "{:<28} {:>8} {:>9} {:>8}",
                    q["name"].as_str().unwrap_or_default(),
                    q["visible"],
                    q["in_flight"],
                    q["delayed"]
                );
            }
        }
        QueueCommand::Peek { queue, limit } => {
            let messages = admin::call(&args.url, "GET", &format!("queues/{queue}/messages?limit={limit}")).await?;
            println!("{}", serde_json::to_string_pretty(&messages)?);
        }
        QueueCommand::Redrive { queue } => {
            let moved = admin::call(&args.url, "POST", &format!("queues/{queue}/redrive")).await?;
            println!(
                "moved {} message(s) from {} to {}",
                moved["moved"],
                moved["from"].as_str().unwrap_or_default(),
                moved["to"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
