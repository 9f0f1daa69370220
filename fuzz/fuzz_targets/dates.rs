//! Dates and periods people type: report periods (`2026-Q3`), community periods and scopes (from query
//! strings), form dates (`2026-07-01`) and survey opening times (`2026-12-01T09:00`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| steward_fuzz::dates::run(data));
