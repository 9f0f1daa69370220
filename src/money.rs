//! Money: integer minor units of an ISO 4217 currency, never floats. Parsing what people type and showing
//! amounts the same way everywhere.

/// Currencies Steward accepts, with their number of decimal places (ISO 4217 minor unit).
#[rustfmt::skip]
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2), ("ARS", 2), ("AUD", 2), ("BHD", 3), ("BRL", 2), ("CAD", 2), ("CHF", 2), ("CLP", 0),
    ("CNY", 2), ("COP", 2), ("CZK", 2), ("DKK", 2), ("EGP", 2), ("EUR", 2), ("GBP", 2), ("HKD", 2),
    ("HUF", 2), ("IDR", 2), ("ILS", 2), ("INR", 2), ("ISK", 0), ("JOD", 3), ("JPY", 0), ("KES", 2),
    ("KRW", 0), ("KWD", 3), ("MXN", 2), ("MYR", 2), ("NGN", 2), ("NOK", 2), ("NZD", 2), ("OMR", 3),
    ("PHP", 2), ("PLN", 2), ("SAR", 2), ("SEK", 2), ("SGD", 2), ("THB", 2), ("TND", 3), ("TRY", 2),
    ("TWD", 2), ("USD", 2), ("ZAR", 2),
];

/// The number of decimal places of a currency code, or `None` for a code Steward does not know.
pub fn exponent(code: &str) -> Option<u32> {
    CURRENCIES.iter().find(|(c, _)| *c == code).map(|(_, e)| *e)
}

/// Upper-cases and checks a currency code.
pub fn parse_currency(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_uppercase();
    match exponent(&code) {
        Some(_) => Ok(code),
        None if code.is_empty() => Err("Choose a currency, e.g. USD or EUR.".into()),
        None => Err(format!("'{code}' is not a currency Steward knows; use an ISO 4217 code such as USD or EUR.")),
    }
}

/// Reads an amount as people type it (`1,234.56`, `1234.5`, `1234`) into minor units of `currency`.
/// Negative amounts, more decimals than the currency has, and anything else are refused with a reason.
pub fn parse_amount(raw: &str, currency: &str) -> Result<i64, String> {
    let Some(places) = exponent(currency) else {
        return Err(format!("'{currency}' is not a currency Steward knows."));
    };
    let text: String = raw.trim().chars().filter(|c| *c != ',' && *c != '_' && *c != ' ').collect();
    if text.is_empty() {
        return Err("Enter an amount.".into());
    }
    if text.starts_with('-') {
        return Err("The amount cannot be negative.".into());
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text.as_str(), ""),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || (!fraction.is_empty() && !digits(fraction)) || (text.contains('.') && fraction.is_empty()) {
        return Err(format!("'{}' is not an amount like 1,234.56.", raw.trim()));
    }
    if fraction.len() as u32 > places {
        return Err(match places {
            0 => format!("{currency} has no fractions; enter a whole amount."),
            p => format!("{currency} has {p} decimal places; '{}' has more.", raw.trim()),
        });
    }
    let scale = 10i64.pow(places);
    let whole: i64 = whole.parse().map_err(|_| "The amount is too large.".to_string())?;
    let mut fraction_value: i64 = if fraction.is_empty() { 0 } else { fraction.parse().unwrap_or(0) };
    fraction_value *= 10i64.pow(places - fraction.len() as u32);
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction_value))
        .filter(|v| *v <= 1_000_000_000_000_000)
        .ok_or_else(|| "The amount is too large.".into())
}

/// Shows an amount with its code and thousands separators: `USD 1,234.56`, `JPY 5,000`, `-EUR 12.00`.
pub fn format(minor: i64, currency: &str) -> String {
    let places = exponent(currency).unwrap_or(2);
    let scale = 10u64.pow(places);
    let abs = minor.unsigned_abs();
    let whole = (abs / scale).to_string();
    let fraction = format!("{:0width$}", abs % scale, width = places as usize);
    let number = crate::locale::Locale::current().number(&whole, (places > 0).then_some(fraction.as_str()));
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{currency} {number}")
}

/// The amount without code or separators, as a form field shows it for editing: `1234.56`.
pub fn plain(minor: i64, currency: &str) -> String {
    let places = exponent(currency).unwrap_or(2);
    if places == 0 {
        return minor.to_string();
    }
    let scale = 10u64.pow(places);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = places as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_people_type() {
        assert_eq!(parse_amount("1,234.56", "USD"), Ok(123_456));
        assert_eq!(parse_amount("1234.5", "EUR"), Ok(123_450));
        assert_eq!(parse_amount(" 25000 ", "USD"), Ok(2_500_000));
        assert_eq!(parse_amount("5000", "JPY"), Ok(5000));
        assert_eq!(parse_amount("1.005", "KWD"), Ok(1005));
        assert_eq!(parse_amount("0", "USD"), Ok(0));
        assert!(parse_amount("12.345", "USD").unwrap_err().contains("2 decimal places"));
        assert!(parse_amount("1.5", "JPY").unwrap_err().contains("no fractions"));
        assert!(parse_amount("-5", "USD").unwrap_err().contains("negative"));
        assert!(parse_amount("abc", "USD").is_err());
        assert!(parse_amount("1.", "USD").is_err());
        assert!(parse_amount(".5", "USD").is_err());
        assert!(parse_amount("1e5", "USD").is_err());
        assert!(parse_amount("99999999999999999999", "USD").is_err());
        assert!(parse_amount("10", "XXX").is_err());
        assert!(parse_amount("", "USD").is_err());
    }

    #[test]
    fn formats_consistently() {
        assert_eq!(format(123_456, "USD"), "USD 1,234.56");
        assert_eq!(format(5, "USD"), "USD 0.05");
        assert_eq!(format(-1_200, "EUR"), "-EUR 12.00");
        assert_eq!(format(5_000_000, "JPY"), "JPY 5,000,000");
        assert_eq!(format(100_000_000, "USD"), "USD 1,000,000.00");
        assert_eq!(plain(123_456, "USD"), "1234.56");
        assert_eq!(plain(7, "JPY"), "7");
        assert_eq!(parse_currency(" eur "), Ok("EUR".into()));
        assert!(parse_currency("EURO").is_err());
    }

    #[test]
    fn every_i64_is_shown() {
        // Found by the fuzzer (fuzz/fuzz_targets/money.rs): `plain` negated i64::MIN and overflowed.
        assert_eq!(plain(i64::MIN, "USD"), "-92233720368547758.08");
        assert_eq!(plain(i64::MAX, "KWD"), "9223372036854775.807");
        assert_eq!(plain(i64::MIN, "JPY"), "-9223372036854775808");
        assert_eq!(format(i64::MIN, "USD"), "-USD 92,233,720,368,547,758.08");
    }
}
