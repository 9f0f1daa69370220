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

/// The largest amount Steward accepts, in minor units of any currency: 999,999,999,999.99 in a currency of
/// two decimals (99,999,999,999,999 JPY, 99,999,999,999.999 KWD). Every amount typed, and every amount
/// converted into the base currency, is at most this, so a sum of 92,000 of them still fits an `i64`; the
/// ledger also refuses an entry that would take the sum of all its amounts beyond `i64`
/// (`ledger::service::post`), so no balance, total or month can overflow.
pub const MAX_MINOR: i64 = 99_999_999_999_999;

/// How an amount is written, for error messages and documentation.
pub const AMOUNT_FORM: &str =
    "digits with a point before the decimals and, if you like, commas between groups of three digits: 1234.50 or 1,234.50";

/// Reads an amount into minor units of `currency`. The one grammar for amounts, on pages, in the API and in
/// imports:
///
/// ```text
/// amount   = whole [ "." digit+ ]          (at most as many decimals as the currency has)
/// whole    = digit+                          1234
///          | digit{1,3} ( "," digit{3} )+   1,234  12,345,678
/// ```
///
/// Surrounding spaces are ignored; nothing else is: no sign, no spaces or other separators inside, no comma
/// as a decimal mark (`12,50` is refused, not read as 1,250), at most [`MAX_MINOR`].
pub fn parse_amount(raw: &str, currency: &str) -> Result<i64, String> {
    let Some(places) = exponent(currency) else {
        return Err(format!("'{currency}' is not a currency Steward knows."));
    };
    let text = raw.trim();
    if text.is_empty() {
        return Err("Enter an amount.".into());
    }
    if text.starts_with('-') {
        return Err("The amount cannot be negative.".into());
    }
    let malformed = || format!("'{text}' is not an amount; write {AMOUNT_FORM}.");
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let whole_ok = match whole.split_once(',') {
        None => digits(whole),
        Some((first, rest)) => {
            (1..=3).contains(&first.len())
                && digits(first)
                && rest.split(',').all(|group| group.len() == 3 && digits(group))
        }
    };
    if !whole_ok || fraction.is_some_and(|f| !digits(f)) {
        return Err(malformed());
    }
    let whole: String = whole.chars().filter(|c| *c != ',').collect();
    let fraction = fraction.unwrap_or("");
    if fraction.len() > places as usize {
        return Err(match places {
            0 => format!("{currency} has no fractions; enter a whole amount."),
            p => format!("{currency} has {p} decimal places; '{text}' has more."),
        });
    }
    let too_large = || format!("The amount is too large: at most {}.", format(MAX_MINOR, currency));
    // Leading zeros aside, more than 18 digits cannot be within the bound: refuse before parsing.
    let significant = whole.trim_start_matches('0');
    if significant.len() > 18 {
        return Err(too_large());
    }
    let whole: i64 = if significant.is_empty() { 0 } else { significant.parse().map_err(|_| malformed())? };
    let fraction_value: i64 = if fraction.is_empty() { 0 } else { fraction.parse().map_err(|_| malformed())? };
    let fraction_value = fraction_value * 10i64.pow(places - fraction.len() as u32);
    whole
        .checked_mul(10i64.pow(places))
        .and_then(|w| w.checked_add(fraction_value))
        .filter(|v| *v <= MAX_MINOR)
        .ok_or_else(too_large)
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
        assert!(parse_amount("1e5", "USD").unwrap_err().contains("1,234.50"));
    }

    #[test]
    fn commas_only_between_groups_of_three() {
        assert_eq!(parse_amount("1,234.50", "USD"), Ok(123_450));
        assert_eq!(parse_amount("12,345,678", "JPY"), Ok(12_345_678));
        assert_eq!(parse_amount("123,456", "USD"), Ok(12_345_600));
        assert_eq!(parse_amount("007", "USD"), Ok(700));
        for bad in [
            "12,50",
            "1,2345",
            "1,23",
            ",123",
            "1,,234",
            "1234,567",
            "1,234,",
            "1.234,50",
            "1 234",
            "1_234",
            "+5",
            "1,234.5,0",
            "0x10",
            "١٢٣",
        ] {
            let err = parse_amount(bad, "USD").expect_err(bad);
            assert!(err.contains("1,234.50"), "{bad}: {err}");
        }
    }

    #[test]
    fn amounts_are_bounded() {
        assert_eq!(parse_amount("999,999,999,999.99", "USD"), Ok(MAX_MINOR));
        assert_eq!(parse_amount("99999999999999", "JPY"), Ok(MAX_MINOR));
        assert_eq!(parse_amount("99,999,999,999.999", "KWD"), Ok(MAX_MINOR));
        assert_eq!(parse_amount("0000000000000000000000001", "USD"), Ok(100));
        for big in ["1,000,000,000,000", "10000000000000", "999999999999999999999999"] {
            let err = parse_amount(big, "USD").expect_err(big);
            assert!(err.contains("at most USD 999,999,999,999.99"), "{big}: {err}");
        }
        // A sum of many maximal amounts, in the width the ledger adds in, does not overflow.
        assert!((MAX_MINOR as i128) * 1_000_000 < i128::MAX);
        assert!(MAX_MINOR.checked_mul(92_000).is_some());
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
