//! `plugboard new --role ROLE [--lang rust|python|js] NAME`: a guest that builds on its own,
//! outside this repository — the WIT package (and for Rust the guest SDK) vendored in — with a
//! first test case. The first case is the same in every language: so is the behaviour.

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
    /// The language: `rust` (the SDK), `python` (componentize-py) or `js` (jco, QuickJS).
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
    /// Where to create it (default: ./NAME).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The languages a guest can be scaffolded in.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with the `plugboard-guest` SDK.
    Rust,
    /// Python, componentized with componentize-py.
    Python,
    /// JavaScript, componentized with jco's QuickJS backend.
    Js,
}

/// The command that builds a JavaScript guest (`npm run build`), arguments after `jco`.
pub fn js_build_args(role: Role, file: &str) -> String {
    format!("componentize guest.js --wit wit -n {role} --backend qjs --backend-qjs-disable-async -o {file}.wasm")
}

/// The WIT package, as the host is built against it.
const WIT: &[(&str, &str)] = &[
    ("handlers.wit", include_str!("../../../wit/handlers.wit")),
    ("http.wit", include_str!("../../../wit/http.wit")),
    ("invoke.wit", include_str!("../../../wit/invoke.wit")),
    ("policy.wit", include_str!("../../../wit/policy.wit")),
    ("queue.wit", include_str!("../../../wit/queue.wit")),
    ("test-double.wit", include_str!("../../../wit/test-double.wit")),
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("worlds.wit", include_str!("../../../wit/worlds.wit")),
    ("deps/wasi-keyvalue-2024-10-17/atomic.wit", include_str!("../../../wit/deps/wasi-keyvalue-2024-10-17/atomic.wit")),
    ("deps/wasi-keyvalue-2024-10-17/batch.wit", include_str!("../../../wit/deps/wasi-keyvalue-2024-10-17/batch.wit")),
    ("deps/wasi-keyvalue-2024-10-17/store.wit", include_str!("../../../wit/deps/wasi-keyvalue-2024-10-17/store.wit")),
    ("deps/wasi-keyvalue-2024-10-17/watch.wit", include_str!("../../../wit/deps/wasi-keyvalue-2024-10-17/watch.wit")),
    ("deps/wasi-keyvalue-2024-10-17/world.wit", include_str!("../../../wit/deps/wasi-keyvalue-2024-10-17/world.wit")),
    (
        "deps/wasi-logging-0.1.0-draft/logging.wit",
        include_str!("../../../wit/deps/wasi-logging-0.1.0-draft/logging.wit"),
    ),
    (
        "deps/wasi-runtime-config-2024-09-27/store.wit",
        include_str!("../../../wit/deps/wasi-runtime-config-2024-09-27/store.wit"),
    ),
    (
        "deps/wasi-runtime-config-2024-09-27/world.wit",
        include_str!("../../../wit/deps/wasi-runtime-config-2024-09-27/world.wit"),
    ),
];

/// The guest SDK's sources.
const SDK: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("../../../guests/sdk/src/lib.rs")),
    ("src/errors.rs", include_str!("../../../guests/sdk/src/errors.rs")),
    ("src/fetch.rs", include_str!("../../../guests/sdk/src/fetch.rs")),
    ("src/http.rs", include_str!("../../../guests/sdk/src/http.rs")),
    ("src/kv.rs", include_str!("../../../guests/sdk/src/kv.rs")),
    ("src/messaging.rs", include_str!("../../../guests/sdk/src/messaging.rs")),
    ("src/router.rs", include_str!("../../../guests/sdk/src/router.rs")),
    ("src/testing.rs", include_str!("../../../guests/sdk/src/testing.rs")),
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
wasip2 = "1"
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
    let fill =
        |text: &str| text.replace("{{name}}", name).replace("{{role}}", role.as_str()).replace("{{file}}", &file);
    let case = match role {
        Role::HttpApi => include_str!("../../templates/cases/http-api.toml"),
        Role::QueueWorker => include_str!("../../templates/cases/queue-worker.toml"),
        Role::Authorizer => include_str!("../../templates/cases/authorizer.toml"),
        Role::InternalApi => include_str!("../../templates/cases/internal-api.toml"),
    };
    let grants = match role {
        Role::HttpApi | Role::QueueWorker => "grants.stores = { data = \"data\" }\n",
        Role::Authorizer => "config = { token = \"let-me-in\" }\n",
        Role::InternalApi => "",
    };
    let guest_path = match args.lang {
        Lang::Rust => format!("../target/wasm32-wasip2/release/{file}.wasm"),
        Lang::Python | Lang::Js => format!("../{file}.wasm"),
    };
    let function = format!(
        "# The function under test, in Plugboard's function schema (as in plugboard.toml).\nrole = \"{role}\"\nguest = \"{guest_path}\"\n{grants}"
    );
    write(&dir, "cases/function.toml", &function)?;
    write(&dir, "cases/first.toml", case)?;
    // Python and JavaScript build against the WIT beside them; the Rust SDK carries its own.
    let wit = if args.lang == Lang::Rust { dir.join("sdk/wit") } else { dir.join("wit") };
    for (path, text) in WIT {
        write(&wit, path, text)?;
    }
    let next = match args.lang {
        Lang::Rust => rust_files(&dir, role, &fill)?,
        Lang::Python => {
            write(&dir, "app.py", &fill(python_source(role)))?;
            write(&dir, ".gitignore", "*.wasm\n__pycache__/\n.venv/\n")?;
            let build = format!(".venv/bin/componentize-py -d wit -w {role} componentize app -o {file}.wasm");
            write(&dir, "README.md", &guest_readme(name, role, PYTHON_TOOLCHAIN, &build))?;
            PYTHON_TOOLCHAIN.to_string()
        }
        Lang::Js => {
            write(&dir, "guest.js", &fill(js_source(role)))?;
            write(&dir, ".gitignore", "*.wasm\nnode_modules/\n")?;
            let package = serde_json::json!({
                "name": name, "private": true, "type": "module",
                "scripts": { "build": format!("jco {}", js_build_args(role, &file)) },
                "devDependencies": { "@bytecodealliance/jco": "1.35.0" },
            });
            write(&dir, "package.json", &format!("{:#}\n", package))?;
            write(&dir, "README.md", &guest_readme(name, role, "npm install", "npm run build"))?;
            "npm install".to_string()
        }
    };
    println!(
        "created {} ({role} guest). Next (`plugboard` on PATH: scripts/install.sh in the Plugboard checkout):",
        dir.display()
    );
    println!("  cd {}", dir.display());
    println!("  {next}");
    println!("  plugboard test");
    Ok(ExitCode::SUCCESS)
}

/// Python's toolchain, the one recipe the guide and every scaffold give: componentize-py in a
/// virtual environment in the guest's folder (a bare `pip install` fails on an externally
/// managed system Python).
const PYTHON_TOOLCHAIN: &str = "python3 -m venv .venv && .venv/bin/pip install componentize-py==0.25.1";

/// Cargo's settings for the guest: builds for `wasm32-wasip2`, and `cargo test` runs the test
/// binary in wasmtime through `plugboard cargo-runner`.
const CARGO_CONFIG: &str = "\
# `cargo build` makes the component; `cargo test` runs the #[test]s in wasmtime through Plugboard,
# as the function in cases/function.toml, with in-memory stores, queues and invoke targets.
[build]
target = \"wasm32-wasip2\"

[target.wasm32-wasip2]
runner = \"plugboard cargo-runner\"
";

/// The Rust crate: manifest, lock, source and the vendored SDK; the one-time setup command
/// (`plugboard test` builds the crate itself).
fn rust_files(dir: &Path, role: Role, fill: &dyn Fn(&str) -> String) -> anyhow::Result<String> {
    let source = match role {
        Role::HttpApi => include_str!("../../templates/rust/http-api.rs"),
        Role::QueueWorker => include_str!("../../templates/rust/queue-worker.rs"),
        Role::Authorizer => include_str!("../../templates/rust/authorizer.rs"),
        Role::InternalApi => include_str!("../../templates/rust/internal-api.rs"),
    };
    write(dir, "Cargo.toml", &fill(include_str!("../../templates/rust/Cargo.toml.tmpl")))?;
    write(dir, "Cargo.lock", LOCK)?;
    write(dir, "README.md", &fill(include_str!("../../templates/rust/README.md.tmpl")))?;
    write(dir, "src/lib.rs", &fill(source))?;
    write(dir, ".gitignore", "/target\n")?;
    write(dir, ".cargo/config.toml", CARGO_CONFIG)?;
    write(dir, "sdk/Cargo.toml", SDK_MANIFEST)?;
    for (path, text) in SDK {
        // In the guests' workspace the WIT folder is two levels up; here it is inside the SDK.
        write(&dir.join("sdk"), path, &text.replace("\"../../wit\"", "\"wit\""))?;
    }
    Ok("rustup target add wasm32-wasip2".to_string())
}

fn python_source(role: Role) -> &'static str {
    match role {
        Role::HttpApi => include_str!("../../templates/python/http-api.py"),
        Role::QueueWorker => include_str!("../../templates/python/queue-worker.py"),
        Role::Authorizer => include_str!("../../templates/python/authorizer.py"),
        Role::InternalApi => include_str!("../../templates/python/internal-api.py"),
    }
}

fn js_source(role: Role) -> &'static str {
    match role {
        Role::HttpApi => include_str!("../../templates/js/http-api.js"),
        Role::QueueWorker => include_str!("../../templates/js/queue-worker.js"),
        Role::Authorizer => include_str!("../../templates/js/authorizer.js"),
        Role::InternalApi => include_str!("../../templates/js/internal-api.js"),
    }
}

/// The README of a Python or JavaScript guest.
fn guest_readme(name: &str, role: Role, install: &str, build: &str) -> String {
    format!(
        "# {name}\n\nA Plugboard `{role}` guest, scaffolded by `plugboard new`.\n\n```sh\n{install}\nplugboard test\n```\n\n\
`plugboard test` builds the guest first (`{build}`), then runs the cases in `cases/` against it;\n\
`--no-build` tests the file as it is. `wit/` is the WIT package it builds against. `cases/function.toml` is the function under test;\n\
each other `cases/*.toml` is a case (`plugboard test cases --update` records current outcomes).\n"
    )
}

fn write(dir: &Path, path: &str, text: &str) -> anyhow::Result<()> {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}
