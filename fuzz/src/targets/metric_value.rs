//! Metric values as typed or imported (`metrics::model::parse_value`, thousandths) and shown (`plain`).

use steward::metrics::model::{parse_value, plain};

/// One input of the `metric_value` target.
pub fn run(data: &[u8]) {
    if let Some(bytes) = data.get(..8) {
        let milli = i64::from_le_bytes(bytes.try_into().unwrap_or_default());
        let shown = plain(milli);
        if milli.unsigned_abs() <= 1_000_000_000_000_000 {
            assert_eq!(parse_value(&shown), Ok(milli), "{milli} shown as {shown}");
        }
    }
    let raw = super::text(data);
    let Ok(value) = parse_value(&raw) else { return };
    assert!(value.unsigned_abs() <= 1_000_000_000_000_000, "{raw:?} read as {value}");
    assert_eq!(parse_value(&plain(value)), Ok(value), "{raw:?} read as {value}, shown as {}", plain(value));
}
