//! Report periods: calendar months (`2026-09`), quarters (`2026-Q3`) and half years (`2026-H2`). Pure date
//! arithmetic, tested on its own.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How often reports go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Monthly,
    Quarterly,
    HalfYearly,
}

impl Frequency {
    pub const ALL: [Frequency; 3] = [Self::Monthly, Self::Quarterly, Self::HalfYearly];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monthly => "monthly",
            Self::Quarterly => "quarterly",
            Self::HalfYearly => "half_yearly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Monthly => "Monthly",
            Self::Quarterly => "Quarterly",
            Self::HalfYearly => "Half-yearly",
        }
    }

    /// Months in one period.
    fn months(self) -> u32 {
        match self {
            Self::Monthly => 1,
            Self::Quarterly => 3,
            Self::HalfYearly => 6,
        }
    }
}

/// One reporting period: the `index`-th month, quarter or half of `year`, counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub frequency: Frequency,
    pub year: i32,
    pub index: u32,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Period {
    /// Reads `2026-Q3`, `2026-H2` or `2026-09`.
    pub fn parse(raw: &str) -> Result<Period, String> {
        let text = raw.trim().to_ascii_uppercase();
        let bad = || format!("'{}' is not a period like 2026-Q3, 2026-H2 or 2026-09.", raw.trim());
        let (year, rest) = text.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || !year.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(2000..=2999).contains(&year) {
            return Err("The year must be between 2000 and 2999.".into());
        }
        let number = |s: &str, max: u32| -> Result<u32, String> {
            match s.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) && !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => Ok(n),
                _ => Err(bad()),
            }
        };
        let (frequency, index) = if let Some(q) = rest.strip_prefix('Q') {
            (Frequency::Quarterly, number(q, 4)?)
        } else if let Some(h) = rest.strip_prefix('H') {
            (Frequency::HalfYearly, number(h, 2)?)
        } else if rest.len() == 2 {
            (Frequency::Monthly, number(rest, 12)?)
        } else {
            return Err(bad());
        };
        Ok(Period { frequency, year, index })
    }

    /// The period of `frequency` that `date` falls in.
    pub fn containing(frequency: Frequency, date: NaiveDate) -> Period {
        Period { frequency, year: date.year(), index: (date.month0() / frequency.months()) + 1 }
    }

    /// The period just before this one.
    pub fn previous(self) -> Period {
        if self.index > 1 {
            Period { index: self.index - 1, ..self }
        } else {
            Period { year: self.year - 1, index: 12 / self.frequency.months(), ..self }
        }
    }

    /// The latest period of `frequency` that ended before `today`.
    pub fn last_ended(frequency: Frequency, today: NaiveDate) -> Period {
        Self::containing(frequency, today).previous()
    }

    /// `2026-Q3`, `2026-H2`, `2026-09`.
    pub fn code(&self) -> String {
        match self.frequency {
            Frequency::Monthly => format!("{}-{:02}", self.year, self.index),
            Frequency::Quarterly => format!("{}-Q{}", self.year, self.index),
            Frequency::HalfYearly => format!("{}-H{}", self.year, self.index),
        }
    }

    fn first_month(&self) -> u32 {
        (self.index - 1) * self.frequency.months() + 1
    }

    pub fn starts_on(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.first_month(), 1).unwrap_or_default()
    }

    pub fn ends_on(&self) -> NaiveDate {
        let next = self.starts_on().checked_add_months(chrono::Months::new(self.frequency.months()));
        next.and_then(|d| d.pred_opt()).unwrap_or_default()
    }

    /// As people say it: "July to September 2026", "September 2026".
    pub fn label(&self) -> String {
        let first = MONTHS[(self.first_month() - 1) as usize];
        match self.frequency {
            Frequency::Monthly => format!("{first} {}", self.year),
            _ => {
                let last = MONTHS[(self.first_month() + self.frequency.months() - 2) as usize];
                format!("{first} to {last} {}", self.year)
            }
        }
    }

    /// The day the scheduler sends this period's report: the `send_day`-th day after the period ends.
    pub fn send_on(&self, send_day: u32) -> NaiveDate {
        self.ends_on() + chrono::Duration::days(i64::from(send_day.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_read_and_write_the_same() {
        for code in ["2026-Q3", "2026-H2", "2026-09", "2025-Q1", "2026-01", "2026-12"] {
            assert_eq!(Period::parse(code).unwrap().code(), code);
        }
        assert_eq!(Period::parse(" 2026-q4 ").unwrap().code(), "2026-Q4");
        for bad in ["", "2026", "2026-Q5", "2026-Q0", "2026-H3", "2026-13", "2026-1", "26-Q1", "2026-Q+1", "1999-Q1"] {
            assert!(Period::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn periods_have_their_calendar_dates() {
        let q3 = Period::parse("2026-Q3").unwrap();
        assert_eq!((q3.starts_on(), q3.ends_on()), (d("2026-07-01"), d("2026-09-30")));
        assert_eq!(q3.label(), "July to September 2026");
        let h1 = Period::parse("2024-H1").unwrap();
        assert_eq!((h1.starts_on(), h1.ends_on()), (d("2024-01-01"), d("2024-06-30")));
        let feb = Period::parse("2024-02").unwrap();
        assert_eq!((feb.ends_on(), feb.label()), (d("2024-02-29"), "February 2024".to_string()));
        assert_eq!(Period::parse("2026-Q4").unwrap().ends_on(), d("2026-12-31"));
    }

    #[test]
    fn the_last_ended_period_is_the_one_before_today() {
        assert_eq!(Period::last_ended(Frequency::Quarterly, d("2026-11-26")).code(), "2026-Q3");
        assert_eq!(Period::last_ended(Frequency::Quarterly, d("2026-01-01")).code(), "2025-Q4");
        assert_eq!(Period::last_ended(Frequency::HalfYearly, d("2026-07-01")).code(), "2026-H1");
        assert_eq!(Period::last_ended(Frequency::Monthly, d("2026-01-15")).code(), "2025-12");
        assert_eq!(Period::parse("2026-Q3").unwrap().send_on(10), d("2026-10-10"));
    }
}
