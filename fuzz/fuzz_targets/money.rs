//! Amounts as people type them (`steward::money::parse_amount`), in currencies of 0, 2 and 3 decimals, and
//! how amounts are shown (`format`, `plain`) in every locale.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| steward_fuzz::money::run(data));
