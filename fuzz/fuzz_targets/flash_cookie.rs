//! The flash-message cookie a client sends back (`web::flash::parse`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| steward_fuzz::flash_cookie::run(data));
