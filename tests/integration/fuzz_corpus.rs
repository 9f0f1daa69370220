//! Every committed fuzzing input (`fuzz/corpus/<target>/`) replayed through its target's checks, in the
//! ordinary test build: the corpus is the fuzzers' memory of every shape that once found new code or a bug,
//! so a change that breaks a parser's property on any of them fails here, without building the fuzz targets
//! (an instrumented build of every dependency) or running libFuzzer. `scripts/fuzz` (and `scripts/test
//! --long`) fuzz for real, from the same corpus and through the same code.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

#[path = "../../fuzz/src/targets/mod.rs"]
#[allow(dead_code)]
mod targets;

/// Runs every committed input of `target` through `run`, and fails naming each input whose checks fail.
fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "{target}: only {} committed inputs in {}", inputs.len(), dir.display());
    let mut failed = Vec::new();
    for input in &inputs {
        let data = std::fs::read(input).expect("reading a corpus input");
        if let Err(cause) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
            let message = cause
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| cause.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{}: {message}", input.display()));
        }
    }
    println!("{target}: {} committed inputs replayed", inputs.len());
    assert!(failed.is_empty(), "{} of {} inputs of {target} fail:\n{}", failed.len(), inputs.len(), failed.join("\n"));
}

macro_rules! corpus_tests {
    ($($target:ident),* $(,)?) => {$(
        #[test]
        fn $target() {
            replay(stringify!($target), targets::$target::run);
        }
    )*};
}

corpus_tests!(
    coverage,
    dates,
    exchange_rate,
    flash_cookie,
    github_json,
    maintainers_file,
    members_csv,
    metric_value,
    money,
    observations_csv,
    survey_answers,
    totp,
);

/// The fuzz targets in `fuzz/fuzz_targets/` are exactly the modules replayed above.
#[test]
fn every_fuzz_target_is_replayed() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut binaries: Vec<String> = std::fs::read_dir(root.join("fuzz/fuzz_targets"))
        .expect("fuzz/fuzz_targets")
        .map(|e| e.expect("an entry").path().file_stem().expect("a name").to_string_lossy().into_owned())
        .collect();
    binaries.sort();
    let source = std::fs::read_to_string(root.join("tests/integration/fuzz_corpus.rs")).expect("this file");
    let listed = source.split("corpus_tests!(").nth(1).expect("the list of targets");
    let listed: Vec<&str> = listed.split(')').next().unwrap_or_default().split(',').map(str::trim).collect();
    let listed: Vec<String> = listed.into_iter().filter(|s| !s.is_empty()).map(String::from).collect();
    assert_eq!(binaries, listed, "add the new fuzz target to corpus_tests! above");
}
