//! The README's "Try it" block, run as written against `plugboard dev` on the example manifest:
//! an API key from the Invoke API, an item created with it, a route outside its scope refused,
//! a signed webhook accepted and recorded by the worker.

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::app_dir;
use crate::common::dev::Dev;
use crate::common::{root, sh_lines};

/// The line the block starts with; the test points it at its own server.
const URL_LINE: &str = "export PLUGBOARD_URL=http://127.0.0.1:3000";

/// The commands of the README's "Try it" section.
fn try_it_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("\n## Try it\n").expect("the README has a Try it section");
    let section = &readme[start + 1..];
    let end = section[1..].find("\n## ").map_or(section.len(), |i| i + 1);
    sh_lines(&section[..end])
}

/// `script` run by bash (`-euo pipefail`) from the repository root with the test's `plugboard`
/// first on PATH and `dev`'s state directory (its admin token) named, killed after 60 s: its
/// exit status, stdout and stderr.
fn run_script(script: &str, dev: &Dev) -> (std::process::ExitStatus, String, String) {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_plugboard")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(root())
        .env("PATH", path)
        .env("PLUGBOARD_STATE_DIR", &dev.state_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too (curl, `plugboard kv`).
        .process_group(0)
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).ok();
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = Command::new("kill").args(["-KILL", &format!("-{}", child.id())]).status();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, out.join().unwrap(), err.join().unwrap())
}

#[test]
fn the_readmes_try_it_commands_run_as_written() {
    let mut commands = try_it_commands();
    assert_eq!(commands.first().map(String::as_str), Some(URL_LINE), "the block starts by naming the server");
    let dev = Dev::start(&app_dir(&[]));
    commands[0] = format!("export PLUGBOARD_URL={}", dev.url);
    let (status, out, err) = run_script(&commands.join("\n"), &dev);
    assert!(status.success(), "{status}\nstdout:\n{out}\nstderr:\n{err}");

    // What each step prints, in order (`kv get` adds no newline when piped).
    let expected = [
        (r#""id":"lamp""#, "the item created"),
        (" 201\n", "with 201"),
        (" 403\n", "a route outside the key's scope refused"),
        ("Desk lamp", "the item read back"),
        (" 200\n", "publicly"),
        ("202 ", "the signed webhook accepted"),
        (r#""state":"done""#, "its record done"),
        (r#""n":1"#, "counted once"),
        ("plugboard-events", "the queue listing"),
    ];
    let mut rest = out.as_str();
    for (fragment, what) in expected {
        let at = rest.find(fragment).unwrap_or_else(|| panic!("{what}: no {fragment:?} in order in\n{out}"));
        rest = &rest[at + fragment.len()..];
    }
}
