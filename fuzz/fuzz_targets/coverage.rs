//! Coverage reports uploaded for a repository: Cobertura XML and LCOV (`community::import::parse_coverage`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| steward_fuzz::coverage::run(data));
