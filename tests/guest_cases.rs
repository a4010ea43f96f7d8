//! `plugboard test`: every example guest passes the cases it ships; a failing case is reported
//! with its differences and fails the run; `--update` records outcomes; `--filter` selects.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::root;

fn plugboard_test(args: &[&str]) -> (Output, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_plugboard")).arg("test").args(args).current_dir(root()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

#[test]
fn every_example_guest_passes_its_cases() {
    let mut suites = Vec::new();
    let mut cases = 0;
    // guests/<rust guest>/cases, guests/python/<guest>/cases, guests/js/<guest>/cases.
    let folders = ["guests", "guests/python", "guests/js"].map(|d| root().join(d));
    for entry in folders.iter().flat_map(|f| std::fs::read_dir(f).unwrap()) {
        let dir = entry.unwrap().path().join("cases");
        if dir.join("function.toml").exists() {
            cases +=
                std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().file_name() != "function.toml").count();
            suites.push(dir.strip_prefix(root()).unwrap().display().to_string());
        }
    }
    assert!(suites.len() >= 8, "every example guest ships cases, Python and JavaScript ones included: {suites:?}");
    assert!(suites.iter().any(|s| s.contains("python/")) && suites.iter().any(|s| s.contains("js/")), "{suites:?}");
    let args: Vec<&str> = suites.iter().map(String::as_str).collect();
    let (out, stdout) = plugboard_test(&args);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.trim_end().ends_with(&format!("{cases} passed, 0 failed")), "{stdout}");
}

/// A copy of the items-api suite in a fresh folder, with only `case` (name, TOML) in it.
fn items_suite(case: (&str, &str)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plugboard-cases-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let guest = root().join("guests/dist/items_api.wasm");
    let function = format!(
        "role = \"http-api\"\nguest = {:?}\ngrants.stores = {{ items = \"items\" }}\n",
        guest.display().to_string()
    );
    std::fs::write(dir.join("function.toml"), function).unwrap();
    std::fs::write(dir.join(format!("{}.toml", case.0)), case.1).unwrap();
    dir
}

const CREATE: &str = r#"
[request]
method = "POST"
path = "/items"
body = { id = "lamp", price = 12.5 }
"#;

#[test]
fn a_failing_case_shows_its_differences_and_fails_the_run() {
    let wrong =
        format!("{CREATE}\n[expect]\nstatus = 200\nbody = {{ price = 1 }}\nstore.items.desk = {{ id = \"desk\" }}\n");
    let dir = items_suite(("wrong", &wrong));
    let (out, stdout) = plugboard_test(&[dir.to_str().unwrap()]);
    assert!(!out.status.success(), "{stdout}");
    for line in [
        "FAILED  wrong",
        "status: expected 200, got 201",
        "body.price: expected 1, got 12.5",
        "store.items.desk: expected a value, missing",
        "0 passed, 1 failed",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
}

#[test]
fn an_outbound_call_no_stub_answers_fails_the_case_naming_it() {
    let dir = std::env::temp_dir().join(format!("plugboard-cases-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let guest = root().join("guests/dist/webhook_worker.wasm");
    let function = format!(
        "role = \"queue-worker\"\nguest = {:?}\ngrants.stores = {{ events = \"events\" }}\ngrants.http = [\"https://backend.example.com\"]\n",
        guest.display().to_string()
    );
    std::fs::write(dir.join("function.toml"), function).unwrap();
    let case = "config = { downstream_url = \"https://backend.example.com/events\" }\n[[messages]]\nbody = { event = \"e\" }\n[expect]\nbatch-failures = [\"m1\"]\n";
    std::fs::write(dir.join("unstubbed.toml"), case).unwrap();
    let (out, stdout) = plugboard_test(&[dir.to_str().unwrap()]);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("http: no stub answers POST https://backend.example.com/events"), "{stdout}");
}

#[test]
fn a_standard_wasi_http_component_runs_short_form_request_cases() {
    let dir = std::env::temp_dir().join(format!("plugboard-cases-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let guest = root().join("guests/dist/wasi_http_echo.wasm");
    let function = format!(
        "role = \"http-api\"\nguest = {:?}\ngrants.stores = {{ data = \"data\" }}\n",
        guest.display().to_string()
    );
    std::fs::write(dir.join("function.toml"), function).unwrap();
    let case = "[request]\nmethod = \"PUT\"\npath = \"/kv/greeting\"\nbody = \"hello\"\n[expect]\nstatus = 204\nstore.data.greeting = \"hello\"\n";
    std::fs::write(dir.join("stores.toml"), case).unwrap();
    let echo = "[request]\nmethod = \"POST\"\npath = \"/echo?q=1\"\nbody = { a = 1 }\n[expect]\nstatus = 200\nbody = { method = \"POST\", path_with_query = \"/echo?q=1\", body = \"{\\\"a\\\":1}\" }\n";
    std::fs::write(dir.join("echo.toml"), echo).unwrap();
    let (out, stdout) = plugboard_test(&[dir.to_str().unwrap()]);
    assert!(out.status.success() && stdout.contains("2 passed, 0 failed"), "{stdout}");
}

#[test]
fn update_records_the_outcome_and_filter_selects_cases() {
    let dir = items_suite(("record-me", CREATE));
    std::fs::write(dir.join("other.toml"), "[request]\nmethod = \"GET\"\npath = \"/items\"\n[expect]\nstatus = 500\n")
        .unwrap();
    let (out, stdout) = plugboard_test(&[dir.to_str().unwrap(), "--update", "--filter", "record"]);
    assert!(out.status.success(), "{stdout}");
    let recorded = std::fs::read_to_string(dir.join("record-me.toml")).unwrap();
    assert!(recorded.contains("status = 201"), "{recorded}");
    assert!(recorded.contains("[expect.store.items.lamp]") || recorded.contains("lamp"), "{recorded}");
    // The recorded expectation passes; the other case (filtered out above) still fails.
    let (out, stdout) = plugboard_test(&[dir.to_str().unwrap(), "--filter", "record"]);
    assert!(out.status.success() && stdout.contains("1 passed, 0 failed"), "{stdout}");
    let (out, stdout) = plugboard_test(&[dir.to_str().unwrap()]);
    assert!(!out.status.success() && stdout.contains("status: expected 500, got 200"), "{stdout}");
}

/// Files removed when dropped, however the test ends.
struct RemoveOnDrop(Vec<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for file in &self.0 {
            std::fs::remove_file(file).ok();
        }
    }
}

#[test]
fn new_guests_of_every_role_build_outside_the_repository_and_pass_their_first_case() {
    let base = std::env::temp_dir().join(format!("plugboard-new-{}", uuid::Uuid::new_v4().simple()));
    // The example guests' target dir (scripts/build-guests.sh): same versions (the vendored
    // Cargo.lock), features and profile, so the dependencies are already built.
    let target = std::env::var_os("PLUGBOARD_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("guests/target"));
    // Out of the shared target dir however the test ends, so scripts/build-guests.sh does not
    // take them for example guests.
    let _cleanup = RemoveOnDrop(
        ["http-api", "queue-worker", "authorizer", "internal-api"]
            .map(|role| target.join(format!("wasm32-wasip2/release/my_{}.wasm", role.replace('-', "_"))))
            .to_vec(),
    );
    let mut suites = Vec::new();
    for role in ["http-api", "queue-worker", "authorizer", "internal-api"] {
        let name = format!("my-{role}");
        let dir = base.join(&name);
        let out = Command::new(env!("CARGO_BIN_EXE_plugboard"))
            .args(["new", "--role", role, "--dir"])
            .arg(&dir)
            .arg(&name)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // The SDK carries the WIT: nothing of it beside the guest.
        assert!(!dir.join("wit").exists() && dir.join("sdk/wit/worlds.wit").exists(), "{role}: WIT beside the guest");
        if role == "http-api" {
            let source = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
            // The guest, not the test module after it.
            let source = source.split("#[cfg(test)]").next().unwrap();
            let code = source.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("//")).count();
            assert!(code <= 10, "the http-api template is {code} lines of code:\n{source}");
        }
        suites.push(dir.join("cases").display().to_string());
    }
    // `plugboard test` builds each crate first; with the example guests' target dir, cargo puts
    // the component there and `plugboard test` copies it where the suite expects it.
    let test_in = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_plugboard"))
            .arg("test")
            .args(args)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success(), stdout, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let args: Vec<&str> = suites.iter().map(String::as_str).collect();
    let (ok, stdout, stderr) = test_in(&args);
    assert!(ok && stdout.contains("4 passed, 0 failed"), "{stdout}{stderr}");
    assert!(stderr.contains("cargo build --release --target wasm32-wasip2"), "says what it builds: {stderr}");
    let built = base.join("my-http-api/target/wasm32-wasip2/release/my_http_api.wasm");
    assert!(built.is_file(), "copied where the suite expects it");
    // A change to the source is what the next run tests; --no-build tests the file as it is.
    let http = base.join("my-http-api");
    let source = std::fs::read_to_string(http.join("src/lib.rs")).unwrap();
    assert!(source.contains("\"hello, {}\""), "{source}");
    std::fs::write(http.join("src/lib.rs"), source.replace("\"hello, {}\"", "\"goodbye, {}\"")).unwrap();
    let cases = http.join("cases").display().to_string();
    let (ok, stdout, _) = test_in(&["--no-build", &cases]);
    assert!(ok && stdout.contains("1 passed, 0 failed"), "the old build still passes: {stdout}");
    let (ok, stdout, stderr) = test_in(&[&cases]);
    assert!(!ok && stdout.contains("goodbye, Ada"), "rebuilt from the changed source: {stdout}{stderr}");
    let again = Command::new(env!("CARGO_BIN_EXE_plugboard"))
        .args(["new", "--role", "http-api", "--dir"])
        .arg(base.join("my-http-api"))
        .arg("x")
        .output()
        .unwrap();
    assert!(!again.status.success(), "an existing folder is not overwritten");
    std::fs::remove_dir_all(&base).ok();
}

/// The shell lines of docs/guest-guide.md's ```sh blocks.
fn guide_commands() -> Vec<String> {
    common::sh_lines(&std::fs::read_to_string(root().join("docs/guest-guide.md")).unwrap())
}

#[test]
fn the_guest_guide_commands_run() {
    let commands = guide_commands();
    let scaffold = ["plugboard new --role http-api hello-api", "cd hello-api", "plugboard test"];
    for line in scaffold {
        assert!(commands.iter().any(|c| c == line), "the guide's first steps changed: {commands:?}");
    }
    // `plugboard new` as written, in an empty folder.
    let dir = std::env::temp_dir().join(format!("plugboard-guide-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let args: Vec<&str> = scaffold[0].split_whitespace().skip(1).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_plugboard")).args(&args).current_dir(&dir).output().unwrap();
    assert!(
        out.status.success() && dir.join("hello-api/cases/first.toml").exists(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The guide's Python recipe is the one a Python scaffold's README gives.
    let python: Vec<&str> = commands
        .iter()
        .find(|c| c.starts_with("plugboard new") && c.contains("--lang python"))
        .expect("the guide scaffolds a Python guest")
        .split_whitespace()
        .skip(1)
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_plugboard")).args(&python).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let name = python.last().unwrap();
    let readme = std::fs::read_to_string(dir.join(name).join("README.md")).unwrap();
    let recipe = common::sh_lines(&readme);
    assert!(recipe.len() >= 2, "{readme}");
    for line in &recipe {
        assert!(commands.contains(line), "the scaffold's `{line}` is not the guide's recipe: {commands:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
    // The example-suite commands, as written, from the repository root.
    let suites: Vec<&String> = commands.iter().filter(|c| c.starts_with("plugboard test guests/")).collect();
    assert!(suites.len() >= 2, "{commands:?}");
    for command in suites {
        let args: Vec<&str> = command.split_whitespace().skip(2).collect();
        let (out, stdout) = plugboard_test(&args);
        assert!(out.status.success() && stdout.contains(" passed, 0 failed"), "{command}:\n{stdout}");
        // (Not `contains("0 passed")`: "10 passed" contains it.)
        assert!(!stdout.lines().any(|l| l.starts_with("0 passed")), "{command} ran no case:\n{stdout}");
    }
}

/// `plugboard new --lang LANG` for every role (each checked by `check`), built by `plugboard test`
/// itself with the project's own tools from scripts/guest-tools.sh (`tools`, a folder put first
/// on PATH), passes the same first case as the Rust scaffold.
fn other_language_scaffolds_pass_their_first_case(lang: &str, tools: &Path, check: impl Fn(&Path, &str, &str)) {
    let base = std::env::temp_dir().join(format!("plugboard-new-{lang}-{}", uuid::Uuid::new_v4().simple()));
    let mut suites = Vec::new();
    for role in ["http-api", "queue-worker", "authorizer", "internal-api"] {
        let name = format!("{lang}-{role}");
        let dir = base.join(&name);
        let out = Command::new(env!("CARGO_BIN_EXE_plugboard"))
            .args(["new", "--lang", lang, "--role", role, "--dir"])
            .arg(&dir)
            .arg(&name)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        check(&dir, role, &name.replace('-', "_"));
        suites.push(dir.join("cases").display().to_string());
    }
    let path = format!("{}:{}", tools.display(), std::env::var("PATH").unwrap_or_default());
    let out =
        Command::new(env!("CARGO_BIN_EXE_plugboard")).arg("test").args(&suites).env("PATH", path).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("4 passed, 0 failed"), "{stdout}{stderr}");
    assert_eq!(stderr.matches("building ").count(), 4, "each guest built first: {stderr}");
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn new_javascript_guests_of_every_role_pass_their_first_case() {
    let tools = root().join("guests/js/node_modules/.bin");
    other_language_scaffolds_pass_their_first_case("js", &tools, |dir, role, file| {
        // What `npm run build` runs (with the project's jco instead of a fresh npm install).
        let package: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
        let script = package["scripts"]["build"].as_str().unwrap().to_string();
        assert_eq!(script, format!("jco {}", plugboard::cli::js_build_args(role.parse().unwrap(), file)));
    });
}

#[test]
fn new_python_guests_of_every_role_pass_their_first_case() {
    let tools = root().join(".venv-guests/bin");
    other_language_scaffolds_pass_their_first_case("python", &tools, |dir, _, _| {
        assert!(dir.join("app.py").is_file() && dir.join(".gitignore").is_file());
    });
}

#[test]
fn the_standalone_app_quickstart_runs_in_an_empty_folder() {
    let guide = std::fs::read_to_string(root().join("docs/guest-guide.md")).unwrap();
    let commands = common::section_sh_lines(&guide, "A standalone app, end to end");
    // A free port instead of 3000, and a stand-in for the cross-build (minutes; its own script).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let cross_build = commands.iter().filter(|c| c.contains("scripts/bootstrap-zip.sh arm64 deploy/dist")).count();
    assert_eq!(cross_build, 1, "{commands:?}");
    let script: Vec<String> = commands
        .iter()
        .map(|c| {
            if c.contains("scripts/bootstrap-zip.sh") {
                "mkdir -p deploy/dist && printf stand-in > deploy/dist/bootstrap.zip".to_string()
            } else {
                c.replace("3000", &port)
            }
        })
        .collect();
    let base = std::env::temp_dir().join(format!("plugboard-app-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&base).unwrap();
    // The example guests' target dir, so the guest's dependencies are already built.
    let target = std::env::var_os("PLUGBOARD_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("guests/target"));
    let _cleanup = RemoveOnDrop(vec![target.join("wasm32-wasip2/release/hello_api.wasm")]);
    let (target, src) = (target.display().to_string(), root().display().to_string());
    let env = [("CARGO_TARGET_DIR", target.as_str()), ("PLUGBOARD_SRC", src.as_str())];
    let (status, out, err) = common::run_bash(&script.join("\n"), &base, &env, std::time::Duration::from_secs(300));
    assert!(status.success(), "{status}\nstdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("1 passed, 0 failed"), "the cases pass: {out}");
    assert!(out.contains("test tests::hello_greets_by_name_and_counts_visits ... ok"), "cargo test ran: {out}");
    assert!(out.contains(r#""message":"hello, you""#), "plugboard dev answered: {out}");
    assert!(out.contains("sam deploy"), "package printed the deploy: {out}");
    let app = base.join("my-app");
    assert!(app.join("deploy/template.yaml").is_file() && app.join("deploy/dist/guests/hello.wasm").is_file());
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn without_arguments_plugboard_test_runs_the_cases_folder_here() {
    let run = |dir: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_plugboard")).arg("test").current_dir(dir).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, stdout) = run(&root().join("guests/quotes"));
    assert!(ok && stdout.starts_with("cases (internal-api)") && stdout.contains(" passed, 0 failed"), "{stdout}");
    let (ok, stdout) = run(&root().join("guests"));
    assert!(!ok && stdout.contains("cases: no such suite folder"), "{stdout}");
}

#[test]
fn a_failed_queue_case_shows_the_guests_own_reason() {
    let dir = std::env::temp_dir().join(format!("plugboard-cases-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let guest = root().join("guests/dist/chaos.wasm");
    std::fs::write(
        dir.join("function.toml"),
        format!("role = \"queue-worker\"\nguest = {:?}\n", guest.display().to_string()),
    )
    .unwrap();
    // Expects the message to succeed; the guest fails it with its own words.
    std::fs::write(dir.join("fails.toml"), "[[messages]]\nbody = \"fail\"\n[expect]\nbatch-failures = []\n").unwrap();
    let (out, stdout) = plugboard_test(&[dir.to_str().unwrap()]);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("FAILED  fails"), "{stdout}");
    assert!(stdout.contains("log:") && stdout.contains("chaos: asked to fail"), "the guest's reason: {stdout}");
    std::fs::remove_dir_all(&dir).ok();
}
