//! Exchange rates as typed by a treasurer (`Rate::parse`), shown (`Display`) and used (`convert`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| steward_fuzz::exchange_rate::run(data));
