//! Building a suite's guest before its cases run, so `plugboard test` tests the source as it is
//! now. Only a project Plugboard knows is built, and only when the suite's `guest` is that
//! project's own build output: the folder above the suite holds a Cargo crate (the guest is
//! `target/wasm32-wasip2/release/*.wasm` in it), a componentize-py app (`app.py`, the guest a
//! `.wasm` beside it) or a jco package (`package.json` with a `build` script, the guest beside
//! it) — what `plugboard new` writes. A guest anywhere else (a `dist/` folder, another project's
//! output) is loaded as it is.

use std::os::fd::AsFd as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use plugboard_core::config::{FunctionConfig, Role};

use super::FUNCTION_FILE;

/// A project's toolchain, by the files that mark it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Toolchain {
    /// `Cargo.toml`: `cargo build --release --target wasm32-wasip2`.
    Cargo,
    /// `app.py`: componentize-py for the role's world, from the project's `.venv` or PATH.
    ComponentizePy,
    /// `package.json` with a `build` script: `npm run build`.
    Npm,
}

/// How one suite's guest is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestBuild {
    /// The project folder (the suite's parent).
    pub project: PathBuf,
    /// Which toolchain builds it.
    pub toolchain: Toolchain,
    /// Where the suite expects the component.
    pub output: PathBuf,
    /// The suite's role: componentize-py builds its world.
    pub role: Role,
}

/// `path` with `.` and `..` resolved lexically, made absolute from the working directory.
fn normalized(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

impl GuestBuild {
    /// The build for the suite in `dir`, from its function.toml: `None` when there is nothing to
    /// build, or when function.toml does not load (loading the suite reports why).
    pub fn for_suite(dir: &Path) -> Option<GuestBuild> {
        let config = FunctionConfig::from_file(&dir.join(FUNCTION_FILE)).ok()?;
        // Through the file system, as the suite's guest is opened: a symlinked `cases/`
        // belongs to the project its target sits in.
        let dir = std::fs::canonicalize(dir).ok()?;
        let guest = dir.join(config.guest.as_deref()?);
        GuestBuild::detect(&dir, &guest, config.role)
    }

    /// The build that produces `guest` (the suite's resolved guest path) for the suite in
    /// `suite_dir`, when its parent is a project of a known toolchain and `guest` is its output.
    pub fn detect(suite_dir: &Path, guest: &Path, role: Role) -> Option<GuestBuild> {
        let project = normalized(&suite_dir.join(".."));
        let output = normalized(guest);
        if output.extension().is_none_or(|e| e != "wasm") {
            return None;
        }
        let beside = output.parent() == Some(project.as_path());
        let toolchain = if project.join("Cargo.toml").is_file() {
            (output.parent() == Some(project.join("target/wasm32-wasip2/release").as_path()))
                .then_some(Toolchain::Cargo)
        } else if project.join("app.py").is_file() {
            beside.then_some(Toolchain::ComponentizePy)
        } else if has_build_script(&project.join("package.json")) {
            beside.then_some(Toolchain::Npm)
        } else {
            None
        }?;
        Some(GuestBuild { project, toolchain, output, role })
    }

    /// The command line, as a user would type it in the project folder.
    pub fn describe(&self) -> String {
        let (program, args) = self.command_line();
        std::iter::once(program.display().to_string()).chain(args).collect::<Vec<_>>().join(" ")
    }

    fn command_line(&self) -> (PathBuf, Vec<String>) {
        let owned = |args: &[&str]| args.iter().map(|a| a.to_string()).collect();
        match self.toolchain {
            Toolchain::Cargo => ("cargo".into(), owned(&["build", "--release", "--target", "wasm32-wasip2"])),
            Toolchain::ComponentizePy => {
                let venv = Path::new(".venv/bin/componentize-py");
                let program = if self.project.join(venv).is_file() { venv.into() } else { "componentize-py".into() };
                let file = self.output.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                (program, owned(&["-d", "wit", "-w", self.role.as_str(), "componentize", "app", "-o", &file]))
            }
            Toolchain::Npm => ("npm".into(), owned(&["run", "--silent", "build"])),
        }
    }

    /// Build, the tool's output going to stderr. Cargo may put the component elsewhere (a
    /// `CARGO_TARGET_DIR`, a workspace's target): it is copied to where the suite expects it.
    pub fn run(&self) -> anyhow::Result<()> {
        let (program, mut args) = self.command_line();
        let cargo = self.toolchain == Toolchain::Cargo;
        if cargo {
            args.push("--message-format=json-render-diagnostics".into());
        }
        let program = if program.is_relative() && program.components().count() > 1 {
            self.project.join(program)
        } else {
            program
        };
        // The tool's own output goes to stderr: stdout is the test report.
        let stdout = if cargo { Stdio::piped() } else { Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?) };
        let child = Command::new(&program)
            .args(&args)
            .current_dir(&self.project)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "`{}` is not installed: {}",
                program.display(),
                match self.toolchain {
                    Toolchain::Cargo => "install Rust with rustup",
                    Toolchain::ComponentizePy =>
                        "python3 -m venv .venv && .venv/bin/pip install componentize-py==0.25.1 in the project",
                    Toolchain::Npm => "install Node.js with npm",
                }
            ),
            Err(e) => return Err(e).with_context(|| format!("starting {}", program.display())),
        };
        let out = child.wait_with_output().context("waiting for the build")?;
        if !out.status.success() {
            bail!("`{}` failed ({})", self.describe(), out.status);
        }
        if cargo {
            let built = cargo_artifact(&out.stdout, &self.output)
                .with_context(|| format!("cargo built no {}", self.output.display()))?;
            // The same file by another path (a symlink) must not be copied onto itself: that
            // would empty it.
            let same = match (std::fs::canonicalize(&built), std::fs::canonicalize(&self.output)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if !same {
                if let Some(parent) = self.output.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
                }
                std::fs::copy(&built, &self.output)
                    .with_context(|| format!("copying {} to {}", built.display(), self.output.display()))?;
            }
        }
        Ok(())
    }
}

/// Whether `package.json` has a `build` script.
fn has_build_script(package: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(package) else { return false };
    serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|p| p["scripts"]["build"].is_string())
}

/// The file cargo's JSON messages report it built with `wanted`'s file name.
fn cargo_artifact(messages: &[u8], wanted: &Path) -> Option<PathBuf> {
    let name = wanted.file_name()?;
    messages
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.file_name() == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project folder with `files`, and its `cases/` suite folder.
    fn project(files: &[(&str, &str)]) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("plugboard-build-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("cases")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        (dir.clone(), dir.join("cases"))
    }

    #[test]
    fn only_a_projects_own_output_is_built() {
        let (dir, cases) = project(&[("Cargo.toml", "[package]")]);
        let output = cases.join("../target/wasm32-wasip2/release/hello.wasm");
        let build = GuestBuild::detect(&cases, &output, Role::HttpApi).expect("the crate's output");
        assert_eq!((&build.toolchain, &build.project), (&Toolchain::Cargo, &normalized(&dir)));
        assert_eq!(build.describe(), "cargo build --release --target wasm32-wasip2");
        // The example guests' suites name a shared dist/ folder: loaded as they are.
        assert_eq!(GuestBuild::detect(&cases, &cases.join("../../dist/hello.wasm"), Role::HttpApi), None);
        assert_eq!(GuestBuild::detect(&cases, &cases.join("../target/debug/hello.wasm"), Role::HttpApi), None);

        let (_, cases) = project(&[("app.py", "")]);
        let build = GuestBuild::detect(&cases, &cases.join("../hello.wasm"), Role::QueueWorker).unwrap();
        assert_eq!(build.describe(), "componentize-py -d wit -w queue-worker componentize app -o hello.wasm");
        assert_eq!(GuestBuild::detect(&cases, &cases.join("../../dist/hello.wasm"), Role::QueueWorker), None);

        let (_, cases) = project(&[("package.json", r#"{"scripts":{"build":"jco componentize"}}"#)]);
        assert_eq!(
            GuestBuild::detect(&cases, &cases.join("../a.wasm"), Role::Authorizer).unwrap().toolchain,
            Toolchain::Npm
        );
        let (_, cases) = project(&[("package.json", r#"{"scripts":{}}"#)]);
        assert_eq!(GuestBuild::detect(&cases, &cases.join("../a.wasm"), Role::Authorizer), None, "no build script");
        let (_, cases) = project(&[]);
        assert_eq!(GuestBuild::detect(&cases, &cases.join("../a.wasm"), Role::Authorizer), None, "no project");
    }

    #[test]
    fn cargos_artifact_is_found_by_file_name() {
        let messages = br#"{"reason":"compiler-artifact","filenames":["/t/deps/libx.rlib"]}
not json
{"reason":"compiler-artifact","filenames":["/t/wasm32-wasip2/release/hello.wasm"]}
{"reason":"build-finished","success":true}"#;
        let found = cargo_artifact(messages, Path::new("/p/target/wasm32-wasip2/release/hello.wasm"));
        assert_eq!(found, Some(PathBuf::from("/t/wasm32-wasip2/release/hello.wasm")));
        assert_eq!(cargo_artifact(messages, Path::new("/p/other.wasm")), None);
    }
}
