//! Rows of metrics and their observations, and how their values are written and shown.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{metric_observations, metrics};

/// Something measured to know whether a key outcome moves.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = metrics)]
pub struct Metric {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// `count`, `percent`, `days`, `money` (in the base currency) or `score`.
    pub unit: String,
    /// `higher` or `lower` is better.
    pub direction: String,
    pub priority_id: Option<i64>,
    pub key_outcome_id: Option<i64>,
    /// Values are thousandths: 87.5 is 87500.
    pub baseline_milli: i64,
    pub baseline_on: NaiveDate,
    pub target_milli: i64,
    pub target_on: NaiveDate,
    /// `manual`, `import` or `survey`.
    pub source: String,
    pub survey_question_id: Option<i64>,
    /// For survey-fed metrics: `mean`, `nps` or `share_agreeing`.
    pub survey_aggregate: Option<String>,
    /// An observation is expected at least this often; older data is stale.
    pub expected_interval_days: i32,
    pub scope_notes: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Metric {
    pub fn higher_is_better(&self) -> bool {
        self.direction == "higher"
    }

    /// A value in this metric's unit, for pages: "87.5%", "12 days", "1,204".
    pub fn show(&self, milli: impl std::borrow::Borrow<i64>) -> String {
        show_value(&self.unit, *milli.borrow())
    }
}

/// A value in a unit, for pages and reports: "87.5%", "12 days", "1,204".
pub fn show_value(unit: &str, milli: i64) -> String {
    let number = group(&plain(milli));
    match unit {
        "percent" => format!("{number}%"),
        "days" => format!("{number} days"),
        _ => number,
    }
}

/// One dated value with where it came from.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = metric_observations)]
pub struct Observation {
    pub id: i64,
    pub metric_id: i64,
    pub observed_on: NaiveDate,
    pub value_milli: i64,
    /// `manual` (a form), `api`, `import` (a CSV file), `survey` or `collector` (community health; the label
    /// names the run).
    pub source: String,
    /// Which file or survey it came from.
    pub source_label: String,
    pub note: String,
    pub recorded_by: Option<i64>,
    pub recorded_at: NaiveDateTime,
    /// Set when a correction replaced it; it stays in the history.
    pub superseded_at: Option<NaiveDateTime>,
    pub superseded_by: Option<i64>,
}

/// Reads a value as typed: digits with an optional sign and at most three decimals ("87.5", "-3", "1,204").
/// Anything else (words, "NaN", "inf", exponents) is refused.
pub fn parse_value(raw: &str) -> Result<i64, String> {
    let text: String = raw.trim().chars().filter(|c| *c != ',' && *c != '_').collect();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !numeric(whole) || (digits.contains('.') && !numeric(fraction)) {
        return Err(format!("'{}' is not a number like 87.5.", raw.trim()));
    }
    if fraction.len() > 3 {
        return Err("Give at most three decimal places.".into());
    }
    let scaled = format!("{whole}{fraction:0<3}");
    let value: i64 = scaled.parse().map_err(|_| "The number is too large.".to_string())?;
    if value > 1_000_000_000_000_000 {
        return Err("The number is too large.".into());
    }
    Ok(if negative { -value } else { value })
}

/// Thousandths as a plain decimal without trailing zeros: 87500 is "87.5".
pub fn plain(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let (whole, fraction) = (milli.unsigned_abs() / 1000, milli.unsigned_abs() % 1000);
    if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{}", format!("{fraction:03}").trim_end_matches('0'))
    }
}

/// Thousands separators on the whole part of a plain decimal.
fn group(number: &str) -> String {
    let (sign, rest) = number.strip_prefix('-').map(|r| ("-", r)).unwrap_or(("", number));
    let (whole, fraction) = rest.split_once('.').map(|(w, f)| (w, Some(f))).unwrap_or((rest, None));
    format!("{sign}{}", crate::locale::Locale::current().number(whole, fraction))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_exact_thousandths() {
        assert_eq!(parse_value("87.5"), Ok(87_500));
        assert_eq!(parse_value("-3"), Ok(-3_000));
        assert_eq!(parse_value("1,204"), Ok(1_204_000));
        assert_eq!(parse_value("0.125"), Ok(125));
        for bad in ["", "NaN", "inf", "-inf", "1e3", "1.2345", "abc", "1.", ".5", "--1"] {
            assert!(parse_value(bad).is_err(), "{bad}");
        }
        assert_eq!(plain(87_500), "87.5");
        assert_eq!(plain(-3_000), "-3");
        assert_eq!(plain(125), "0.125");
        assert_eq!(group("1204.5"), "1,204.5");
        assert_eq!(group("-1000000"), "-1,000,000");
    }
}
