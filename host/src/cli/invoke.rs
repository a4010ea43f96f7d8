//! `plugboard invoke`: one event through exactly the code Lambda runs, response JSON on stdout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::app::LocalApp;
use crate::config::{FunctionConfig, Role};
use crate::events::EventKind;
use crate::function::Invocation;
use crate::runtime::precompiled::CompileCache;
use crate::runtime::{EngineSettings, GuestLoader, Runtime, Trust};

/// Arguments of `plugboard invoke`.
#[derive(clap::Args)]
pub struct InvokeArgs {
    /// The function's role (default: the config file's).
    #[arg(long)]
    role: Option<Role>,
    /// The guest component, `.wasm` or `.cwasm` (default: the config file's `guest`).
    #[arg(long)]
    guest: Option<PathBuf>,
    /// A Lambda event JSON file (`-` for stdin); repeat to run several in order against the
    /// same in-memory state.
    #[arg(long, required = true)]
    event: Vec<PathBuf>,
    /// A function configuration file (TOML or JSON): grants, config values, limits.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Force the event kind instead of detecting it from the event's shape.
    #[arg(long, value_enum)]
    kind: Option<EventKind>,
    /// Another function the guest may invoke, as NAME=CONFIG (its config names its guest).
    #[arg(long = "with", value_name = "NAME=CONFIG")]
    with: Vec<String>,
}

/// Read a function's configuration and its guest (a config's `guest` is relative to the file).
fn load(
    config_path: Option<&Path>,
    guest: Option<&Path>,
    role: Option<Role>,
) -> anyhow::Result<(FunctionConfig, PathBuf, Vec<u8>)> {
    let mut config = match config_path {
        Some(path) => FunctionConfig::from_file(path)?,
        None => FunctionConfig::new(role.context("--role is required without --config")?),
    };
    if let Some(role) = role {
        config.role = role;
    }
    let guest_path = match (guest, &config.guest) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(path)) => config_path.and_then(Path::parent).unwrap_or(Path::new(".")).join(path),
        (None, None) => anyhow::bail!("--guest is required when the config names no guest"),
    };
    let bytes = std::fs::read(&guest_path).with_context(|| format!("reading guest {}", guest_path.display()))?;
    Ok((config, guest_path, bytes))
}

/// Run the invocation; exit 0 with the response, or 1 with a Lambda-style error object.
pub async fn run(args: InvokeArgs) -> anyhow::Result<ExitCode> {
    let (config, guest_path, guest) = load(args.config.as_deref(), args.guest.as_deref(), args.role)?;
    let runtime = Runtime::new(EngineSettings::default())?;
    let mut app = LocalApp::with_loader(GuestLoader::new(runtime, Some(&CompileCache::default_dir())));
    for spec in &args.with {
        let (name, path) = spec.split_once('=').context("--with takes NAME=CONFIG")?;
        let (config, _, bytes) = load(Some(Path::new(path)), None, None)?;
        app.add(name, config, &bytes)?;
    }
    let name = guest_path.file_stem().and_then(|s| s.to_str()).unwrap_or("guest").to_string();
    // A guest named on this command line is the local user's own choice: trusted.
    let function = app.add_with(&name, config, &guest, Trust::Trusted)?;
    let mut code = ExitCode::SUCCESS;
    for path in &args.event {
        let event = read_event(path)?;
        let invocation =
            Invocation { request_id: uuid::Uuid::new_v4().to_string(), kind: args.kind, ..Invocation::default() };
        let printed = match function.handle(event, invocation).await {
            Ok(response) => serde_json::to_string_pretty(&response)?,
            Err(error) => {
                code = ExitCode::FAILURE;
                serde_json::to_string_pretty(&error)?
            }
        };
        println!("{printed}");
    }
    Ok(code)
}

fn read_event(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the event from stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading event {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("event {} is not JSON", path.display()))
}
