//! `plugboard test SUITE...`: run guests against their case folders and report like a test
//! runner — a line per case, the differences of a failure, a closing count, non-zero on failure.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::runtime::precompiled::CompileCache;
use crate::runtime::{EngineSettings, GuestLoader, Runtime};
use crate::testing::Suite;
use crate::testing::build::GuestBuild;

/// Arguments of `plugboard test`.
#[derive(clap::Args)]
pub struct TestArgs {
    /// Suite folders: each holds function.toml and one .toml file per case (default: `cases`,
    /// where `plugboard new` puts a guest's suite).
    #[arg(default_value = "cases")]
    suites: Vec<PathBuf>,
    /// Run only cases whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Record each case's current outcome as its expectation (review the diff before committing).
    #[arg(long)]
    update: bool,
    /// Test the guest file as it is. Without this, a guest that is the build output of the
    /// project above the suite (Cargo, componentize-py app.py, npm build script) is built first.
    #[arg(long)]
    no_build: bool,
}

/// Arguments of `plugboard cargo-runner`, as cargo passes them to a target's runner.
#[derive(clap::Args)]
pub struct CargoRunnerArgs {
    /// The function the tests run as: role, grants, config, limits.
    #[arg(long, default_value_os_t = crate::testing::cargo_runner::default_function_file())]
    function: PathBuf,
    /// Seconds the whole test binary may run.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// The test binary (a `wasm32-wasip2` command component).
    wasm: PathBuf,
    /// The harness's arguments (`--nocapture`, a filter, ...), passed through.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Run the test binary; exit with its exit code.
pub async fn cargo_runner(args: CargoRunnerArgs) -> anyhow::Result<ExitCode> {
    let timeout = std::time::Duration::from_secs(args.timeout_secs);
    let code = crate::testing::cargo_runner::run(&args.wasm, &args.args, &args.function, timeout).await?;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Run every selected case; exit 1 when one failed or a suite could not load.
pub async fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(EngineSettings::default())?;
    // Through this user's compile cache, as `plugboard dev` and the bootstrap: a suite run again
    // does not compile its guest again.
    let loader = GuestLoader::new(runtime, Some(&CompileCache::default_dir()));
    let (mut passed, mut failed, mut updated) = (0usize, 0usize, 0usize);
    let mut out = std::io::stdout().lock();
    for dir in &args.suites {
        if !dir.is_dir() {
            writeln!(out, "{}: no such suite folder (name one: plugboard test SUITE...)", dir.display())?;
            failed += 1;
            continue;
        }
        // The source as it is now, when the suite's guest is its project's build output.
        if !args.no_build
            && let Some(build) = GuestBuild::for_suite(dir)
        {
            eprintln!("building {} ({})", build.project.display(), build.describe());
            if let Err(e) = build.run() {
                writeln!(out, "{}: cannot build its guest: {e:#}", dir.display())?;
                failed += 1;
                continue;
            }
        }
        let suite = match Suite::load(dir, &loader) {
            Ok(suite) => suite,
            Err(e) => {
                writeln!(out, "{}: cannot load: {e:#}", dir.display())?;
                failed += 1;
                continue;
            }
        };
        writeln!(out, "{} ({})", dir.display(), suite.config.role)?;
        for (name, case) in &suite.cases {
            if args.filter.as_deref().is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let result = suite.run(case).await;
            let ms = result.elapsed.as_secs_f64() * 1000.0;
            if args.update {
                suite.record(name, case, result.outcome)?;
                writeln!(out, "  updated {name}")?;
                updated += 1;
            } else if result.failures.is_empty() {
                writeln!(out, "  ok      {name} ({ms:.1} ms)")?;
                passed += 1;
            } else {
                writeln!(out, "  FAILED  {name} ({ms:.1} ms)")?;
                for line in &result.failures {
                    writeln!(out, "          {line}")?;
                }
                // Why, in the guest's and the role's own words (a failed message, a denial).
                for line in &result.logs {
                    writeln!(out, "          log: {line}")?;
                }
                failed += 1;
            }
        }
    }
    if args.update {
        writeln!(out, "{updated} updated, {failed} failed to load")?;
    } else {
        writeln!(out, "{passed} passed, {failed} failed")?;
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
