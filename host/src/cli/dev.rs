//! `plugboard dev`: run the app locally.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::dev::{DevApp, serve};
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
pub async fn run(args: DevArgs, activity: std::sync::Arc<crate::dev::activity::Activity>) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&args.manifest)?;
    let port = args.port.unwrap_or(manifest.app.port);
    let app = DevApp::load(manifest, args.reset, activity).await?;
    app.inject_failures(args.inject_failures);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    // The banner is for a human; a closed stdout must not stop the server.
    let _ = writeln!(std::io::stdout().lock(), "{}", app.banner(&url));
    tokio::select! {
        served = serve(app.clone(), listener) => served?,
        signal = stop_signal() => {
            // Receives and deletes are committed lazily; make them durable before leaving.
            app.queues.flush().await?;
            eprintln!("plugboard dev: stopped by {signal}; state saved in {}", app.manifest.app.state_dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Wait for Ctrl-C (SIGINT) or SIGTERM (what `kill`, process managers and containers send):
/// both stop the server the same way, state made durable first. Which one came.
async fn stop_signal() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server cleanly");
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}
