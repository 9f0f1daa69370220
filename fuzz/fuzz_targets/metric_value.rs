//! Metric values as typed or imported (`metrics::model::parse_value`, thousandths) and shown (`plain`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| steward_fuzz::metric_value::run(data));
