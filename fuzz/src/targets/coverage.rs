//! Coverage reports uploaded for a repository: Cobertura XML and LCOV (`community::import::parse_coverage`).

use steward::community::import::{parse_cobertura, parse_coverage, parse_lcov};

/// One input of the `coverage` target.
pub fn run(data: &[u8]) {
    let read = parse_coverage(data);
    if let Ok(c) = &read {
        assert!(c.valid > 0 && (0..=c.valid).contains(&c.covered), "{c:?}");
        assert!(c.format == "cobertura" || c.format == "lcov");
    }
    // Each reader on its own, whatever the text starts with.
    let text = super::text(data);
    for c in [parse_cobertura(&text), parse_lcov(&text)].into_iter().flatten() {
        assert!(c.valid > 0 && (0..=c.valid).contains(&c.covered), "{c:?}");
    }
}
