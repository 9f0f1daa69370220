//! Repository data from GitHub's API or a `gh api --paginate` file (`community::import::parse_github_json`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| steward_fuzz::github_json::run(data));
