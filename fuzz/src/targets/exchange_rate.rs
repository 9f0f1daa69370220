//! Exchange rates as typed by a treasurer (`Rate::parse`), shown (`Display`) and used (`convert`).

use steward::ledger::rates::Rate;

/// One input of the `exchange_rate` target.
pub fn run(data: &[u8]) {
    // The last 8 bytes (when there are more than 8) are an amount to convert; the rest is the rate's text.
    let (text, amount) = if data.len() > 8 {
        let (t, a) = data.split_at(data.len() - 8);
        (t, i64::from_le_bytes(a.try_into().unwrap_or_default()))
    } else {
        (data, 12_345)
    };
    let raw = super::text(text);
    let Ok(rate) = Rate::parse(&raw) else { return };
    // Stored as text and read back: the same rate, and stable.
    let shown = rate.to_string();
    assert_eq!(Rate::parse(&shown), Ok(rate), "{raw:?} shown as {shown}");
    assert_eq!(Rate::parse(&shown).map(|r| r.to_string()), Ok(shown.clone()));
    for (from, to) in [("EUR", "USD"), ("JPY", "USD"), ("USD", "JPY"), ("KWD", "EUR"), ("USD", "KWD")] {
        // Never a panic; a result that does not fit is an error, never a wrapped number.
        if let Ok(converted) = rate.convert(amount, from, to) {
            assert!(converted == 0 || converted.signum() == amount.signum(), "{amount} {from} at {shown}: {converted}");
            if let Some(negated) = amount.checked_neg() {
                assert_eq!(rate.convert(negated, from, to).ok(), converted.checked_neg(), "rounding is symmetric");
            }
            if let Ok(next) = rate.convert(amount.saturating_add(1), from, to) {
                assert!(next >= converted, "conversion is monotonic: {amount} -> {converted}, +1 -> {next}");
            }
        }
    }
    // The rate 1 keeps any amount within the bound every amount keeps, and refuses the rest.
    let kept = Some(amount).filter(|a| a.unsigned_abs() <= steward::money::MAX_MINOR as u64);
    assert_eq!(Rate::ONE.convert(amount, "EUR", "USD").ok(), kept);
}
