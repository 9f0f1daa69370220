//! Amounts as people type them (`steward::money::parse_amount`), in currencies of 0, 2 and 3 decimals, and
//! how amounts are shown (`format`, `plain`) in every locale.

use steward::locale::Locale;
use steward::money::{exponent, format, parse_amount, parse_currency, plain, MAX_MINOR};

/// The bound every accepted amount keeps (999,999,999,999.99 in a two-decimal currency).
const LIMIT: i64 = MAX_MINOR;

/// One input of the `money` target.
pub fn run(data: &[u8]) {
    // Any i64 (a total, a balance) is shown without a panic, in every locale, with the same digits.
    if let Some(bytes) = data.get(..8) {
        let minor = i64::from_le_bytes(bytes.try_into().unwrap_or_default());
        for currency in ["USD", "JPY", "KWD"] {
            let plain_digits: String = plain(minor, currency).chars().filter(char::is_ascii_digit).collect();
            for locale in Locale::ALL {
                locale.make_current();
                let shown = format(minor, currency);
                assert!(shown.contains(currency), "{shown}");
                assert_eq!(shown.starts_with('-'), minor < 0, "{minor} shown as {shown}");
                let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
                assert_eq!(digits, plain_digits, "{minor} {currency}: {shown} and {}", plain(minor, currency));
            }
        }
        Locale::International.make_current();
    }

    let raw = super::text(data);
    let _ = parse_currency(&raw);
    let mut whole_units = None;
    for currency in ["JPY", "USD", "KWD"] {
        let Ok(minor) = parse_amount(&raw, currency) else { continue };
        // The one grammar: digits, commas only between groups of three, a point before the decimals; surrounding
        // spaces aside, nothing else is accepted.
        let text = raw.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        assert!(fraction.bytes().all(|b| b.is_ascii_digit()), "{raw:?}");
        let mut groups = whole.split(',');
        let first = groups.next().unwrap_or_default();
        assert!(!first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()), "{raw:?}");
        let rest: Vec<&str> = groups.collect();
        if !rest.is_empty() {
            assert!(first.len() <= 3, "{raw:?}: a first group of more than three digits");
            assert!(rest.iter().all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit())), "{raw:?}");
        }
        assert!((0..=LIMIT).contains(&minor), "{raw:?} read as {minor} {currency}");
        // What a form shows for editing reads back as the same amount.
        assert_eq!(parse_amount(&plain(minor, currency), currency), Ok(minor), "{raw:?} {currency}");
        // What a page shows reads back too (the default locale writes 1,234.56).
        Locale::International.make_current();
        let shown = format(minor, currency);
        let number = shown.strip_prefix(&format!("{currency} ")).expect("format starts with the code");
        assert_eq!(parse_amount(number, currency), Ok(minor), "{raw:?} shown as {shown}");
        // The same text in a currency with more decimals is the same amount, scaled.
        let places = exponent(currency).expect("a known currency");
        match whole_units {
            None if places == 0 => whole_units = Some(minor),
            Some(units) => {
                let scaled = units.checked_mul(10i64.pow(places)).filter(|v| *v <= LIMIT);
                if let Some(scaled) = scaled {
                    assert_eq!(minor, scaled, "{raw:?}: {units} JPY but {minor} {currency}");
                }
            }
            None => {}
        }
    }
}
