//! `plugboard deploy-template` (the SAM template from the manifest) and `plugboard package` (the
//! manifest's guests with their precompiled artifacts, laid out for the guest bucket, and the
//! commands that deploy and pin them).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::publish::precompile_for_lambda;
use crate::config::location::GuestLocation;
use crate::deploy::{self, default_guest_key, guest_parameters};
use crate::manifest::Manifest;
use crate::runtime::precompiled::sha256_hex;

/// Arguments of `plugboard deploy-template`.
#[derive(clap::Args)]
pub struct TemplateArgs {
    /// The app manifest.
    #[arg(long, default_value = "plugboard.toml")]
    manifest: PathBuf,
    /// Where to write the template (default: deploy/template.yaml beside the manifest; `-`: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Do not write: fail if the file differs from what the manifest generates.
    #[arg(long)]
    check: bool,
}

/// Arguments of `plugboard package`.
#[derive(clap::Args)]
pub struct PackageArgs {
    /// The app manifest.
    #[arg(long, default_value = "plugboard.toml")]
    manifest: PathBuf,
    /// Where the guests go, laid out as under the bucket's `guests/` prefix.
    #[arg(long, default_value = "deploy/dist/guests")]
    out: PathBuf,
    /// The architecture the bootstrap zip was built for (the template's `Architecture`).
    #[arg(long, default_value = "arm64", value_parser = ["arm64", "x86_64"])]
    arch: String,
    /// The CloudFormation stack name (default: the manifest's `app.name`).
    #[arg(long)]
    stack_name: Option<String>,
}

/// Generate, then write or compare.
pub fn template(args: TemplateArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&args.manifest)?;
    let text = deploy::render(&manifest)?;
    let output = args.output.unwrap_or_else(|| base(&args.manifest).join("deploy/template.yaml"));
    if output == Path::new("-") {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.check {
        let current = std::fs::read_to_string(&output).unwrap_or_default();
        if current != text {
            eprintln!(
                "{} is out of date with {}: run `plugboard deploy-template`",
                output.display(),
                args.manifest.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        eprintln!("{} matches {}", output.display(), args.manifest.display());
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&output, text).with_context(|| format!("writing {}", output.display()))?;
    eprintln!("wrote {}", output.display());
    Ok(ExitCode::SUCCESS)
}

/// The script that builds the Lambda bootstrap zip, in the sources this binary was built from.
fn bootstrap_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).join("scripts/bootstrap-zip.sh")
}

/// Copy each function's guest as `guests/<function>.wasm` with its artifacts, and print the
/// deploy, upload and pin commands.
pub fn package(args: PackageArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&args.manifest)?;
    // The template's CodeUri: without it the printed deploy command cannot work.
    let zip = base(&args.manifest).join("deploy/dist/bootstrap.zip");
    if !zip.is_file() {
        let dist = zip.parent().unwrap_or(Path::new("."));
        anyhow::bail!(
            "{} does not exist: build the Lambda bootstrap first with `{} {} {}` (in the checkout this \
             plugboard was built from; the bootstrap is the same for every app), or with `scripts/package.sh {}` \
             for that checkout's own app",
            zip.display(),
            bootstrap_script().display(),
            args.arch,
            dist.display(),
            args.arch
        );
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut overrides = vec![format!("Architecture={}", args.arch)];
    for (name, function) in &manifest.functions {
        let source = function.guest.as_deref().unwrap_or_default();
        anyhow::ensure!(
            !GuestLocation::parse(source).is_ok_and(|location| location.is_s3()),
            "function {name}: guest {source} is already in S3; package builds local guests"
        );
        let wasm = std::fs::read(source).with_context(|| format!("function {name}: reading {source}"))?;
        let key = default_guest_key(name);
        let file_name = |key: &str| key.rsplit('/').next().unwrap_or(key).to_string();
        std::fs::write(args.out.join(file_name(&key)), &wasm)?;
        let mut pins = Vec::new();
        for (_, artifact_key, cwasm) in precompile_for_lambda(&wasm, &key, source)? {
            pins.push(sha256_hex(&cwasm));
            std::fs::write(args.out.join(file_name(&artifact_key)), cwasm)?;
        }
        let params = guest_parameters(name);
        overrides.push(format!("{}={}", params.sha256, sha256_hex(&wasm)));
        overrides.push(format!("{}={}", params.precompiled, pins.join(",")));
        eprintln!("{name:<20} {source} -> {}/{}", args.out.display(), file_name(&key));
    }
    let stack = args.stack_name.unwrap_or_else(|| manifest.app.name.clone());
    let template = base(&args.manifest).join("deploy/template.yaml");
    let deploy = format!(
        "sam deploy --template-file {} --stack-name {stack} --resolve-s3 --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset",
        template.display()
    );
    println!("# 1. Create or update the stack (the bootstrap zip for {} is {}):", args.arch, zip.display());
    println!("{deploy} --parameter-overrides Architecture={}", args.arch);
    println!("# 2. Upload the guests and their artifacts to the stack's guest bucket:");
    println!(
        "BUCKET=$(aws cloudformation describe-stacks --stack-name {stack} --query \"Stacks[0].Outputs[?OutputKey=='GuestBucketName'].OutputValue\" --output text)"
    );
    println!("aws s3 cp --recursive {} \"s3://$BUCKET/guests/\"", args.out.display());
    println!("# 3. Pin them (new instances load only these bytes):");
    println!("{deploy} --parameter-overrides {}", overrides.join(" "));
    Ok(ExitCode::SUCCESS)
}

fn base(manifest: &Path) -> PathBuf {
    manifest.parent().map(Path::to_path_buf).unwrap_or_default()
}
