//! The `plugboard` command line: clap subcommands, each a thin call into the library.

mod deploy;
mod dev;
mod dev_tools;
mod invoke;
mod logging;
mod new;
mod otel;

pub use new::js_build_args;
mod publish;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::dev::activity::Activity;
use crate::runtime::{EngineSettings, Runtime};

/// Run WebAssembly guests as serverless microservice roles.
#[derive(Parser)]
#[command(name = "plugboard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one Lambda event through a guest and print the Lambda response JSON.
    Invoke(invoke::InvokeArgs),
    /// Serve the Lambda Runtime API (what `bootstrap` does when `AWS_LAMBDA_RUNTIME_API` is set).
    Lambda,
    /// Run the app of a manifest locally: HTTP routes, authorizers, queues, Invoke API.
    Dev(dev::DevArgs),
    /// Look into and feed the queues of a running `plugboard dev`.
    Queue(dev_tools::QueueArgs),
    /// Read and change the key-value stores of a running `plugboard dev`.
    Kv(dev_tools::KvArgs),
    /// Upload a guest to S3 with precompiled artifacts for x86_64 and aarch64; print the pins.
    Publish(publish::PublishArgs),
    /// Scaffold a guest crate for a role, with the SDK and WIT vendored and a first test case.
    New(new::NewArgs),
    /// Run guests against folders of test cases (in-memory backends, stubbed invoke targets).
    Test(test::TestArgs),
    /// Run a guest's `cargo test` binary (the `wasm32-wasip2` runner the scaffold's
    /// `.cargo/config.toml` sets) with in-memory backends, under `cases/function.toml`.
    CargoRunner(test::CargoRunnerArgs),
    /// Generate the AWS SAM template (deploy/template.yaml) from the app manifest.
    DeployTemplate(deploy::TemplateArgs),
    /// Lay out the manifest's guests with precompiled artifacts for the guest bucket; print the
    /// deploy, upload and pin commands.
    Package(deploy::PackageArgs),
    /// Print the precompiled-artifact tag this binary loads (`<arch>-<engine hash>`), and the
    /// architectures it can compile artifacts for.
    Engine,
    /// Compile a guest ahead of time into a `.cwasm` for this host's engine and target.
    Precompile {
        /// The guest component (`.wasm`).
        guest: PathBuf,
        /// Where to write the `.cwasm` (default: beside the guest).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// Parse the command line, run it, and turn any error into a message and exit code 1.
pub fn main() -> ExitCode {
    // As Lambda's `bootstrap`, the binary is started with no arguments.
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() && std::env::args_os().len() == 1;
    let cli = if on_lambda { Cli { command: Command::Lambda } } else { Cli::parse() };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("plugboard: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `plugboard dev`'s dashboard reads what each function did from the log events.
    let activity = matches!(cli.command, Command::Dev(_)).then(|| std::sync::Arc::new(Activity::default()));
    // A test run's output is its report; the host's per-invocation lines would bury it. In
    // `plugboard dev` the gateway writes each request's line; the function adds one only when
    // the invocation failed.
    let spans = logging::init(
        match cli.command {
            Command::Test(_) => "error",
            // The harness's report is the output; a guest's warnings and errors join it.
            Command::CargoRunner(_) => "warn",
            Command::Dev(_) => "info,plugboard_core::function=warn",
            _ => "info",
        },
        runtime.handle(),
        activity.as_ref().map(|a| a.layer()),
    );
    let flush = spans.clone().map(|provider| -> crate::lambda::Flush {
        std::sync::Arc::new(move || {
            if let Err(e) = provider.force_flush() {
                tracing::warn!(error = %e, "exporting spans failed");
            }
        })
    });
    let result = runtime.block_on(run(cli, flush, activity.unwrap_or_default()));
    if let Some(provider) = spans {
        let _ = provider.shutdown();
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("plugboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    cli: Cli,
    flush: Option<crate::lambda::Flush>,
    activity: std::sync::Arc<Activity>,
) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Invoke(args) => invoke::run(args).await,
        Command::Dev(args) => dev::run(args, activity).await,
        Command::Queue(args) => dev_tools::queue(args).await,
        Command::Kv(args) => dev_tools::kv(args).await,
        Command::Publish(args) => publish::run(args).await,
        Command::DeployTemplate(args) => deploy::template(args),
        Command::Test(args) => test::run(args).await,
        Command::CargoRunner(args) => test::cargo_runner(args).await,
        Command::New(args) => new::run(args),
        Command::Package(args) => deploy::package(args),
        Command::Lambda => crate::lambda::run(flush).await.map(|()| ExitCode::SUCCESS),
        Command::Engine => {
            let tag = crate::runtime::precompiled::published_tag_for_host().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            println!("loads {tag}");
            for (arch, triple) in crate::runtime::precompiled::TARGETS {
                match crate::runtime::precompiled::cross_engine(triple) {
                    Ok(engine) => println!("compiles {}", crate::runtime::precompiled::artifact_tag(arch, &engine)),
                    Err(e) => println!("cannot compile for {arch}: {e}"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Precompile { guest, output } => {
            let runtime = Runtime::new(EngineSettings::default())?;
            let wasm = std::fs::read(&guest).with_context(|| format!("reading {}", guest.display()))?;
            let cwasm = runtime.precompile(&wasm)?;
            let output = output.unwrap_or_else(|| guest.with_extension("cwasm"));
            std::fs::write(&output, cwasm).with_context(|| format!("writing {}", output.display()))?;
            eprintln!("wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
