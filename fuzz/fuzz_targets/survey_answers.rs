//! Survey answers: what a form or the API sends for each kind of question (`surveys::service::check_answers`),
//! and stored answers read back, by the fast path (`parse_answer`) that must equal the serde reading.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| steward_fuzz::survey_answers::run(data));
