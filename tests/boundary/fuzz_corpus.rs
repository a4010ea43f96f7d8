//! The fuzz targets' committed corpus and every crash input found so far, replayed through the
//! same harnesses (`plugboard::testing::fuzz`) as ordinary tests: a fixed crash stays fixed.
//! `scripts/fuzz.sh` runs the targets coverage-guided.

use std::path::PathBuf;

use plugboard::testing::fuzz;

use crate::common;

/// The inputs of `target`: its corpus and its regressions (crash inputs, kept with their fix).
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(common::root().join("fuzz").join(dir).join(target)) else { continue };
        for entry in entries.flatten() {
            all.push((entry.path(), std::fs::read(entry.path()).unwrap()));
        }
    }
    all.sort();
    assert!(!all.is_empty(), "fuzz/corpus/{target} has no inputs");
    all
}

fn replay(target: &str, run: impl Fn(&[u8])) {
    for (path, data) in inputs(target) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&data)));
        assert!(outcome.is_ok(), "{target}: {} breaks the harness", path.display());
    }
}

#[test]
fn role_events_corpus() {
    let harness = fuzz::RoleHarness::new(&common::root().join("guests/dist")).unwrap();
    replay("role_events", |data| harness.run(data));
}

#[test]
fn config_parsers_corpus() {
    replay("config_parsers", fuzz::config_parsers);
}

#[test]
fn matching_corpus() {
    replay("matching", fuzz::matching);
}
