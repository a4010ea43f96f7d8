//! The README's "Try it" block, run as written against `plugboard dev` on the example manifest:
//! an API key from the Invoke API, an item created with it, a route outside its scope refused,
//! a signed webhook accepted and recorded by the worker.

use std::time::Duration;

use super::app_dir;
use crate::common::dev::Dev;
use crate::common::{root, run_bash, section_sh_lines};

/// The line the block starts with; the test points it at its own server.
const URL_LINE: &str = "export PLUGBOARD_URL=http://127.0.0.1:3000";

#[test]
fn the_readmes_try_it_commands_run_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut commands = section_sh_lines(&readme, "Try it");
    assert_eq!(commands.first().map(String::as_str), Some(URL_LINE), "the block starts by naming the server");
    let dev = Dev::start(&app_dir(&[]));
    commands[0] = format!("export PLUGBOARD_URL={}", dev.url);
    let state_dir = dev.state_dir.display().to_string();
    let (status, out, err) =
        run_bash(&commands.join("\n"), &root(), &[("PLUGBOARD_STATE_DIR", &state_dir)], Duration::from_secs(60));
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
