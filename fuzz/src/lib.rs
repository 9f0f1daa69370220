//! The cargo-fuzz targets' shared code: every target's body lives in `targets/` (one module each, with
//! `run(data)`), so that the integration tests can replay the committed corpus through the same code.

mod targets;

pub use targets::*;
