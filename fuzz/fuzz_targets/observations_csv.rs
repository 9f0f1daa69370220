//! The metric observations CSV import (`metrics::service::import_csv`), run on the demo foundation in a
//! transaction that is rolled back: all or nothing, never an internal error.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The demo database is built once, before fuzzing starts, so it never counts as an input's time.
fuzz_target!(init: steward_fuzz::prepare_demo(), |data: &[u8]| steward_fuzz::observations_csv::run(data));
