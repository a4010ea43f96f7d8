//! `plugboard new --role ROLE NAME`: a guest crate that builds on its own, outside this
//! repository — the guest SDK and the WIT package vendored in — with a first test case.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::config::Role;

/// Arguments of `plugboard new`.
#[derive(clap::Args)]
pub struct NewArgs {
    /// The guest's name (lower-case letters, digits and `-`); also its folder.
    name: String,
    /// The role it plays.
    #[arg(long)]
    role: Role,
    /// Where to create it (default: ./NAME).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The WIT package, as the host is built against it.
const WIT: &[(&str, &str)] = &[
    ("handlers.wit", include_str!("../../../wit/handlers.wit")),
    ("http.wit", include_str!("../../../wit/http.wit")),
    ("invoke.wit", include_str!("../../../wit/invoke.wit")),
    ("policy.wit", include_str!("../../../wit/policy.wit")),
    ("queue.wit", include_str!("../../../wit/queue.wit")),
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("worlds.wit", include_str!("../../../wit/worlds.wit")),
    ("deps/wasi-keyvalue-2024-10-17/atomic.wit", include_str!("../../../wit/deps/wasi-keyvalue-2024-10-17/atomic.wit")),
    ("deps/wasi-keyvalue-2024-10-17/batch.wit", include_str!("../../../wit/deps/wasi-keyvalue-2024-10-17/batch.wit")),
    ("deps/wasi-keyvalue-2024-10-17/store.wit", include_str!("../../../wit/deps/wasi-keyvalue-2024-10-17/store.wit")),
    ("deps/wasi-keyvalue-2024-10-17/watch.wit", include_str!("../../../wit/deps/wasi-keyvalue-2024-10-17/watch.wit")),
    ("deps/wasi-keyvalue-2024-10-17/world.wit", include_str!("../../../wit/deps/wasi-keyvalue-2024-10-17/world.wit")),
    ("deps/wasi-logging-0.1.0-draft/logging.wit", include_str!("../../../wit/deps/wasi-logging-0.1.0-draft/logging.wit")),
    ("deps/wasi-runtime-config-2024-09-27/store.wit", include_str!("../../../wit/deps/wasi-runtime-config-2024-09-27/store.wit")),
    ("deps/wasi-runtime-config-2024-09-27/world.wit", include_str!("../../../wit/deps/wasi-runtime-config-2024-09-27/world.wit")),
];

/// The guest SDK's sources.
const SDK: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("../../../guests/sdk/src/lib.rs")),
    ("src/http.rs", include_str!("../../../guests/sdk/src/http.rs")),
    ("src/kv.rs", include_str!("../../../guests/sdk/src/kv.rs")),
    ("src/messaging.rs", include_str!("../../../guests/sdk/src/messaging.rs")),
    ("src/router.rs", include_str!("../../../guests/sdk/src/router.rs")),
];

/// The SDK's manifest outside the guests' workspace: the same dependencies, spelled out.
const SDK_MANIFEST: &str = r#"[package]
name = "plugboard-guest"
description = "Bindings and helpers for writing Plugboard guests in Rust (vendored by plugboard new)"
version = "0.1.0"
edition = "2024"

[dependencies]
wit-bindgen = { version = "0.63", default-features = false, features = ["macros", "realloc", "std"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
"#;

/// The versions the example guests are tested with.
const LOCK: &str = include_str!("../../../guests/Cargo.lock");

/// Write the crate; print how to build and test it.
pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    let name = &args.name;
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    anyhow::ensure!(valid, "`{name}`: a guest name is lower-case letters, digits and `-`, starting with a letter");
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(name));
    anyhow::ensure!(!dir.exists(), "{} already exists", dir.display());
    let role = args.role;
    let file = name.replace('-', "_");
    let fill = |text: &str| text.replace("{{name}}", name).replace("{{role}}", role.as_str()).replace("{{file}}", &file);
    let (source, case) = match role {
        Role::HttpApi => (include_str!("../../templates/rust/http-api.rs"), include_str!("../../templates/rust/http-api.case.toml")),
        Role::QueueWorker => (include_str!("../../templates/rust/queue-worker.rs"), include_str!("../../templates/rust/queue-worker.case.toml")),
        Role::Authorizer => (include_str!("../../templates/rust/authorizer.rs"), include_str!("../../templates/rust/authorizer.case.toml")),
        Role::InternalApi => (include_str!("../../templates/rust/internal-api.rs"), include_str!("../../templates/rust/internal-api.case.toml")),
    };
    let grants = match role {
        Role::HttpApi | Role::QueueWorker => "grants.stores = { data = \"data\" }\n",
        Role::Authorizer => "config = { token = \"let-me-in\" }\n",
        Role::InternalApi => "",
    };
    let function = format!(
        "# The function under test, in Plugboard's function schema (as in plugboard.toml).\nrole = \"{role}\"\nguest = \"../target/wasm32-wasip2/release/{file}.wasm\"\n{grants}"
    );
    write(&dir, "Cargo.toml", &fill(include_str!("../../templates/rust/Cargo.toml.tmpl")))?;
    write(&dir, "Cargo.lock", LOCK)?;
    write(&dir, "README.md", &fill(include_str!("../../templates/rust/README.md.tmpl")))?;
    write(&dir, "src/lib.rs", &fill(source))?;
    write(&dir, "cases/function.toml", &function)?;
    write(&dir, "cases/first.toml", case)?;
    write(&dir, ".gitignore", "/target\n")?;
    write(&dir, "sdk/Cargo.toml", SDK_MANIFEST)?;
    for (path, text) in SDK {
        // In the guests' workspace the WIT folder is two levels up; here it is beside the SDK.
        write(&dir.join("sdk"), path, &text.replace("\"../../wit\"", "\"../wit\""))?;
    }
    for (path, text) in WIT {
        write(&dir.join("wit"), path, text)?;
    }
    println!("created {} ({role} guest). Next:", dir.display());
    println!("  cd {}", dir.display());
    println!("  cargo build --release --target wasm32-wasip2");
    println!("  plugboard test cases");
    Ok(ExitCode::SUCCESS)
}

fn write(dir: &Path, path: &str, text: &str) -> anyhow::Result<()> {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}
