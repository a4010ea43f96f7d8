//! `plugboard publish GUEST.wasm s3://bucket/key`: upload a guest and its precompiled artifacts
//! for both Lambda architectures, and print the digests to pin.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use aws_sdk_s3::primitives::ByteStream;

use crate::backends::aws::s3::{self, S3Location};
use crate::backends::aws::{describe, sdk_config};
use crate::runtime::precompiled::{TARGETS, artifact_key, artifact_tag, cross_engine, seal_artifact, sha256_hex};

/// Arguments of `plugboard publish`.
#[derive(clap::Args)]
pub struct PublishArgs {
    /// The guest component (`.wasm`).
    guest: PathBuf,
    /// Where it goes: `s3://bucket/key`.
    destination: String,
}

/// One uploaded object.
struct Uploaded {
    what: String,
    url: String,
    sha256: String,
}

/// Cross-compile, upload, and print what to pin.
pub async fn run(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let wasm = std::fs::read(&args.guest).with_context(|| format!("reading {}", args.guest.display()))?;
    let location = S3Location::parse(&args.destination)
        .filter(|l| l.version_id.is_none())
        .with_context(|| format!("`{}` is not s3://bucket/key", args.destination))?;
    // Compile for both architectures first (this also validates the component): nothing is
    // uploaded unless every artifact builds.
    let artifacts = precompile_for_lambda(&wasm, &location.key, &args.guest.display().to_string())?;
    let client = s3::client(&sdk_config(None).await);
    let mut uploaded = Vec::new();
    let version = put(&client, &location.bucket, &location.key, wasm.clone()).await?;
    let mut url = format!("s3://{}/{}", location.bucket, location.key);
    if let Some(version) = version {
        url.push_str(&format!("?versionId={version}"));
    }
    uploaded.push(Uploaded { what: "guest".into(), url, sha256: sha256_hex(&wasm) });
    for (arch, key, cwasm) in artifacts {
        let sha256 = sha256_hex(&cwasm);
        put(&client, &location.bucket, &key, cwasm).await?;
        uploaded.push(Uploaded { what: arch.into(), url: format!("s3://{}/{key}", location.bucket), sha256 });
    }
    for u in &uploaded {
        println!("{:<8} {}  sha256 {}", u.what, u.url, u.sha256);
    }
    let precompiled: Vec<&str> = uploaded[1..].iter().map(|u| u.sha256.as_str()).collect();
    println!("\nPin them in the function's environment:");
    println!("PLUGBOARD_GUEST={}", uploaded[0].url);
    println!("PLUGBOARD_GUEST_SHA256={}", uploaded[0].sha256);
    println!("PLUGBOARD_PRECOMPILED_SHA256={}", precompiled.join(","));
    Ok(ExitCode::SUCCESS)
}

/// The sealed `.cwasm` artifacts of `wasm` for every Lambda architecture: (architecture, the
/// key for a guest at `key`, bytes). `what` names the guest in errors.
pub(super) fn precompile_for_lambda(
    wasm: &[u8],
    key: &str,
    what: &str,
) -> anyhow::Result<Vec<(&'static str, String, Vec<u8>)>> {
    anyhow::ensure!(
        wasmtime::Engine::detect_precompiled(wasm).is_none(),
        "{what} is precompiled; publish the component (.wasm) and Plugboard builds the artifacts"
    );
    let digest = sha256_hex(wasm);
    let mut artifacts = Vec::new();
    for (arch, triple) in TARGETS {
        let engine = cross_engine(triple).map_err(|e| anyhow::anyhow!("an engine for {triple}: {e:#}"))?;
        let cwasm =
            engine.precompile_component(wasm).map_err(|e| anyhow::anyhow!("compiling {what} for {triple}: {e:#}"))?;
        artifacts.push((arch, artifact_key(key, &digest, &artifact_tag(arch, &engine)), seal_artifact(wasm, &cwasm)));
    }
    Ok(artifacts)
}

/// Upload one object; its version id in a versioned bucket.
async fn put(client: &aws_sdk_s3::Client, bucket: &str, key: &str, bytes: Vec<u8>) -> anyhow::Result<Option<String>> {
    let output = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("uploading s3://{bucket}/{key}: {}", describe(&e).1))?;
    Ok(output.version_id)
}
