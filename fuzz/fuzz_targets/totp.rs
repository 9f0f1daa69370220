//! Second-factor codes as typed at sign-in (`accounts::totp::matching_step`) and base32 secrets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| steward_fuzz::totp::run(data));
