//! Exchange rates: what one unit of a foreign currency is worth in the base currency from a date on. An
//! entry in a foreign currency is posted at the rate in force on its date, and both amounts are kept.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{self, Actor, Event};
use crate::db::schema::exchange_rates;
use crate::db::{self, DbConn};
use crate::domain::{FieldError, ServiceError};

#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = exchange_rates)]
pub struct ExchangeRate {
    pub id: i64,
    pub currency: String,
    /// The rate applies from this date until a later one for the same currency.
    pub effective_on: NaiveDate,
    /// Base-currency units for one unit of `currency`, as a decimal string ("1.0850").
    pub rate: String,
    pub recorded_by: Option<i64>,
    pub created_at: chrono::NaiveDateTime,
}

/// A positive decimal rate held exactly: `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    mantissa: i128,
    scale: u32,
}

impl Rate {
    pub const ONE: Rate = Rate { mantissa: 1, scale: 0 };

    /// The smallest rate Steward accepts: 0.000001 (`MIN_RATE_TEXT`); the largest is 1,000,000. Within these
    /// bounds an amount of at most `money::MAX_MINOR` converts without overflowing `i128`, and a converted
    /// amount above `MAX_MINOR` is refused by [`Rate::convert`].
    pub const MIN_RATE_TEXT: &'static str = "0.000001";

    /// Reads "1.0850" or "0.92": at most 10 decimal places, from 0.000001 to 1,000,000.
    pub fn parse(raw: &str) -> Result<Rate, String> {
        let text = raw.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        if !digits(whole) || (text.contains('.') && !digits(fraction)) {
            return Err(format!("'{text}' is not a rate like 1.0850."));
        }
        if fraction.len() > 10 {
            return Err("A rate has at most 10 decimal places.".into());
        }
        if whole.len() > 7 {
            return Err("A rate is at most 1,000,000.".into());
        }
        let mantissa: i128 = format!("{whole}{fraction}").parse().map_err(|_| format!("'{text}' is not a rate."))?;
        let rate = Rate { mantissa, scale: fraction.len() as u32 };
        if mantissa == 0 {
            return Err("A rate must be more than zero.".into());
        }
        if rate.mantissa > 1_000_000 * 10i128.pow(rate.scale) {
            return Err("A rate is at most 1,000,000.".into());
        }
        if rate.mantissa * 1_000_000 < 10i128.pow(rate.scale) {
            return Err(format!("A rate is at least {}.", Self::MIN_RATE_TEXT));
        }
        Ok(rate)
    }

    /// `amount_minor` of `from` in minor units of `to`, rounded half away from zero; refused when the result is
    /// beyond `money::MAX_MINOR` either way.
    pub fn convert(self, amount_minor: i64, from: &str, to: &str) -> Result<i64, ServiceError> {
        let exp = |c: &str| {
            crate::money::exponent(c).ok_or_else(|| ServiceError::invalid("currency", format!("'{c}' is unknown.")))
        };
        let (from_exp, to_exp) = (exp(from)?, exp(to)?);
        let numerator = (amount_minor as i128) * self.mantissa * 10i128.pow(to_exp);
        let denominator = 10i128.pow(self.scale + from_exp);
        let (q, r) = (numerator / denominator, numerator % denominator);
        let rounded = if 2 * r.abs() >= denominator { q + numerator.signum() } else { q };
        i64::try_from(rounded).ok().filter(|v| v.unsigned_abs() <= crate::money::MAX_MINOR as u64).ok_or_else(|| {
            ServiceError::invalid(
                "amount",
                format!(
                    "The amount is too large: in {to} it would be more than {}, the most Steward accepts.",
                    crate::money::format(crate::money::MAX_MINOR, to)
                ),
            )
        })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.mantissa);
        }
        let scale = 10i128.pow(self.scale);
        write!(f, "{}.{:0width$}", self.mantissa / scale, self.mantissa % scale, width = self.scale as usize)
    }
}

/// The rate for `currency` in force on `date` (the newest on or before it), if any.
pub fn rate_on(
    conn: &mut DbConn,
    currency: &str,
    date: NaiveDate,
) -> Result<Option<(Rate, ExchangeRate)>, ServiceError> {
    let row: Option<ExchangeRate> = exchange_rates::table
        .filter(exchange_rates::currency.eq(currency))
        .filter(exchange_rates::effective_on.le(date))
        .order(exchange_rates::effective_on.desc())
        .select(ExchangeRate::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| Rate::parse(&r.rate).map(|rate| (rate, r)).map_err(ServiceError::Internal)).transpose()
}

/// `amount_minor` of `currency` on `date` in the base currency, with the rate used; refused when no rate is
/// recorded for that currency on or before that date.
pub fn to_base(
    conn: &mut DbConn,
    amount_minor: i64,
    currency: &str,
    date: NaiveDate,
) -> Result<(i64, Rate), ServiceError> {
    let base = super::service::base_currency(conn)?;
    if currency == base {
        return Ok((amount_minor, Rate::ONE));
    }
    match rate_on(conn, currency, date)? {
        Some((rate, _)) => Ok((rate.convert(amount_minor, currency, &base)?, rate)),
        None => Err(ServiceError::Conflict(format!(
            "There is no exchange rate from {currency} to {base} on or before {date}; record one under Exchange rates first."
        ))),
    }
}

pub fn list(conn: &mut DbConn) -> Result<Vec<ExchangeRate>, ServiceError> {
    Ok(exchange_rates::table
        .order((exchange_rates::currency, exchange_rates::effective_on.desc()))
        .select(ExchangeRate::as_select())
        .load(conn)?)
}

/// Records a rate (treasurer). One rate per currency and date; the base currency has none.
pub fn record(
    conn: &mut DbConn,
    actor: i64,
    currency: &str,
    effective_on: &str,
    rate: &str,
) -> Result<ExchangeRate, ServiceError> {
    let mut errors = Vec::new();
    let base = super::service::base_currency(conn)?;
    let currency = match crate::money::parse_currency(currency) {
        Ok(c) if c == base => {
            errors.push(FieldError::new("currency", format!("{base} is the base currency; it needs no rate.")));
            None
        }
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(FieldError::new("currency", e));
            None
        }
    };
    let date = crate::domain::parse_date(effective_on, "effective_on", &mut errors);
    let parsed = Rate::parse(rate).map_err(|e| errors.push(FieldError::new("rate", e))).ok();
    let (Some(currency), Some(date), Some(parsed), true) = (currency, date, parsed, errors.is_empty()) else {
        return Err(ServiceError::Validation(errors));
    };
    db::write_transaction(conn, |conn| {
        let taken: i64 = exchange_rates::table
            .filter(exchange_rates::currency.eq(&currency))
            .filter(exchange_rates::effective_on.eq(date))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(ServiceError::invalid(
                "effective_on",
                format!("{currency} already has a rate from {date}; rates are kept as recorded, so give a new date."),
            ));
        }
        let row: ExchangeRate = crate::on_backend!(conn, |c| diesel::insert_into(exchange_rates::table)
            .values((
                exchange_rates::currency.eq(&currency),
                exchange_rates::effective_on.eq(date),
                exchange_rates::rate.eq(parsed.to_string()),
                exchange_rates::recorded_by.eq(actor),
                exchange_rates::created_at.eq(db::now()),
            ))
            .returning(ExchangeRate::as_returning())
            .get_result(c))?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "exchange_rate.recorded")
                .target("exchange_rate", row.id)
                .details(json!({ "currency": currency, "effective_on": date, "rate": row.rate })),
        )?;
        Ok(row)
    })
}

#[cfg(test)]
mod tests {
    use super::Rate;

    #[test]
    fn rates_parse_exactly_and_convert_with_half_up_rounding() {
        let r = Rate::parse("1.0850").unwrap();
        assert_eq!(r.to_string(), "1.0850");
        assert_eq!(r.convert(10_000, "EUR", "USD").unwrap(), 10_850);
        // 0.5 of a cent rounds away from zero, both ways.
        let half = Rate::parse("1.5").unwrap();
        assert_eq!(half.convert(1, "EUR", "USD").unwrap(), 2);
        assert_eq!(half.convert(-1, "EUR", "USD").unwrap(), -2);
        // Different minor units: 1,000 JPY at 0.0067 USD = USD 6.70.
        assert_eq!(Rate::parse("0.0067").unwrap().convert(1_000, "JPY", "USD").unwrap(), 670);
        assert_eq!(Rate::parse("150").unwrap().convert(100, "USD", "JPY").unwrap(), 150);
        assert_eq!(Rate::parse("0.000001").unwrap().to_string(), "0.000001");
        assert!(Rate::parse("0.0000009").unwrap_err().contains("at least 0.000001"));
        assert!(Rate::parse("1000000").is_ok());
        // The largest amount converts at the largest rate into a currency of more decimals without a panic,
        // and the result, beyond the bound, is refused.
        let max = crate::money::MAX_MINOR;
        assert!(Rate::parse("1000000").unwrap().convert(max, "JPY", "KWD").is_err());
        assert!(Rate::parse("9000").unwrap().convert(max, "EUR", "USD").is_err());
        assert_eq!(Rate::parse("0.000001").unwrap().convert(max, "KWD", "JPY").unwrap(), 100_000);
        for bad in ["", "0", "0.0", "-1", "1,5", "abc", "1.", "1.12345678901", "10000000", "0.0000001"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }
}
