//! How numbers, money and dates are written: the foundation's locale (one for every page and email, set by an
//! admin) and each viewer's time zone for times. Dates are stored and computed as dates; only their showing
//! changes.

use std::sync::atomic::{AtomicU8, Ordering};

use chrono::{NaiveDate, NaiveDateTime, TimeZone};

/// A way of writing numbers and dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locale {
    /// 1,234.56 and 2026-11-26 (the default: unambiguous everywhere).
    International,
    /// 1,234.56 and 11/26/2026.
    UnitedStates,
    /// 1,234.56 and 26/11/2026.
    UnitedKingdom,
    /// 1.234,56 and 26.11.2026.
    German,
    /// 1 234,56 and 26/11/2026.
    French,
    /// 1.234,56 and 26-11-2026.
    Dutch,
    /// 1'234.56 and 26.11.2026.
    Swiss,
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

impl Locale {
    pub const ALL: [Locale; 7] = [
        Self::International,
        Self::UnitedStates,
        Self::UnitedKingdom,
        Self::German,
        Self::French,
        Self::Dutch,
        Self::Swiss,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::International => "international",
            Self::UnitedStates => "en-US",
            Self::UnitedKingdom => "en-GB",
            Self::German => "de-DE",
            Self::French => "fr-FR",
            Self::Dutch => "nl-NL",
            Self::Swiss => "de-CH",
        }
    }

    pub fn parse(code: &str) -> Option<Locale> {
        Self::ALL.into_iter().find(|l| l.code() == code.trim())
    }

    /// For the settings page: what it looks like.
    pub fn label(self) -> String {
        let example = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default();
        format!("{} and {}", self.number("1234", Some("56")), self.date(example))
    }

    fn separators(self) -> (&'static str, &'static str) {
        match self {
            Self::International | Self::UnitedStates | Self::UnitedKingdom => (",", "."),
            Self::German | Self::Dutch => (".", ","),
            Self::French => ("\u{202f}", ","),
            Self::Swiss => ("'", "."),
        }
    }

    /// Digits with this locale's grouping and decimal mark: `whole` is plain digits, `fraction` the decimals.
    pub fn number(self, whole: &str, fraction: Option<&str>) -> String {
        let (group, decimal) = self.separators();
        let mut out = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                out.push_str(group);
            }
            out.push(c);
        }
        match fraction {
            Some(f) if !f.is_empty() => format!("{out}{decimal}{f}"),
            _ => out,
        }
    }

    pub fn date(self, d: NaiveDate) -> String {
        let pattern = match self {
            Self::International => "%Y-%m-%d",
            Self::UnitedStates => "%m/%d/%Y",
            Self::UnitedKingdom | Self::French => "%d/%m/%Y",
            Self::German | Self::Swiss => "%d.%m.%Y",
            Self::Dutch => "%d-%m-%Y",
        };
        d.format(pattern).to_string()
    }

    /// The foundation's locale, for every page and email.
    pub fn current() -> Locale {
        Self::ALL.get(usize::from(CURRENT.load(Ordering::Relaxed))).copied().unwrap_or(Self::International)
    }

    /// Makes `self` the locale of this process (set whenever the site settings are read).
    pub fn make_current(self) {
        let index = Self::ALL.iter().position(|l| *l == self).unwrap_or(0);
        CURRENT.store(index as u8, Ordering::Relaxed);
    }
}

/// A time zone name is one of the IANA database's.
pub fn valid_time_zone(name: &str) -> bool {
    name.parse::<chrono_tz::Tz>().is_ok()
}

/// The IANA time zone names, for a choice list.
pub fn time_zones() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// Dates and times as the foundation writes them; times in a viewer's time zone. In templates:
/// `{{ invoice.due_on.shown() }}`, `{{ entry.created_at.shown_in(layout.time_zone) }}`.
pub trait Shown {
    /// The date in the foundation's locale (for a time: its UTC date).
    fn shown(&self) -> String;
    /// For a time (stored in UTC): its date and time in the time zone `tz`, with the zone's abbreviation.
    fn shown_in(&self, tz: &str) -> String;
    /// For a time: its date in the time zone `tz`.
    fn day_in(&self, tz: &str) -> String;
}

impl Shown for NaiveDate {
    fn shown(&self) -> String {
        Locale::current().date(*self)
    }

    fn shown_in(&self, _tz: &str) -> String {
        self.shown()
    }

    fn day_in(&self, _tz: &str) -> String {
        self.shown()
    }
}

impl Shown for NaiveDateTime {
    fn shown(&self) -> String {
        Locale::current().date(self.date())
    }

    fn shown_in(&self, tz: &str) -> String {
        let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
        let local = zone.from_utc_datetime(self);
        format!("{} {}", Locale::current().date(local.date_naive()), local.format("%H:%M %Z"))
    }

    fn day_in(&self, tz: &str) -> String {
        let zone: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
        Locale::current().date(zone.from_utc_datetime(self).date_naive())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_follow_the_locale() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        assert_eq!(Locale::German.number("1234567", Some("89")), "1.234.567,89");
        assert_eq!(Locale::French.number("1234", Some("50")), "1\u{202f}234,50");
        assert_eq!(Locale::Swiss.number("999", None), "999");
        assert_eq!(Locale::UnitedStates.date(d), "03/09/2026");
        assert_eq!(Locale::International.date(d), "2026-03-09");
        for l in Locale::ALL {
            assert_eq!(Locale::parse(l.code()), Some(l));
        }
    }

    #[test]
    fn times_are_shown_in_the_viewers_zone() {
        let t = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap().and_hms_opt(23, 30, 0).unwrap();
        assert_eq!(t.shown_in("UTC"), "2026-01-31 23:30 UTC");
        assert_eq!(t.shown_in("Europe/Berlin"), "2026-02-01 00:30 CET");
        assert_eq!(t.day_in("America/New_York"), "2026-01-31");
        assert_eq!(t.shown_in("Not/AZone"), "2026-01-31 23:30 UTC", "an unknown zone falls back to UTC");
        assert!(valid_time_zone("Asia/Tokyo") && !valid_time_zone("Mars/Olympus"));
    }
}
