//! Dates and periods people type: report periods (`2026-Q3`), community periods and scopes (from query
//! strings), form dates (`2026-07-01`) and survey opening times (`2026-12-01T09:00`).

use chrono::Datelike;
use steward::community::compute::{Period as CommunityPeriod, Scope};
use steward::reports::period::{Frequency, Period};

/// One input of the `dates` target.
pub fn run(data: &[u8]) {
    let raw = super::text(data);

    if let Ok(p) = Period::parse(&raw) {
        assert_eq!(Period::parse(&p.code()), Ok(p), "{raw:?} read as {p:?}, written {}", p.code());
        let (start, end) = (p.starts_on(), p.ends_on());
        assert!(start.day() == 1 && start < end, "{p:?}: {start} to {end}");
        assert_eq!(end.succ_opt().map(|d| d.day()), Some(1), "{p:?} ends on the last day of a month");
        assert_eq!(Period::containing(p.frequency, start), p);
        assert_eq!(Period::containing(p.frequency, end), p);
        assert_eq!(p.previous().ends_on().succ_opt(), Some(start));
        assert!(!p.label().is_empty());
        for day in [1, 28] {
            assert!(p.send_on(day) > end);
        }
    }
    for f in Frequency::ALL {
        assert_eq!(Frequency::parse(f.as_str()), Some(f));
    }

    if let Some(p) = CommunityPeriod::parse(&raw) {
        assert_eq!(CommunityPeriod::parse(&p.code()), Some(p), "{raw:?} read as {p:?}");
        assert!(p.starts_on() <= p.ends_on() && p.contains(p.starts_on()) && p.contains(p.ends_on()));
        assert_eq!(p.next().starts_on(), p.ends_on().succ_opt().unwrap_or(chrono::NaiveDate::MAX));
        let range = CommunityPeriod::range(p.starts_on(), p.ends_on(), p.is_quarter());
        assert_eq!(range, vec![p]);
    }
    if let Ok(scope) = Scope::parse(&raw) {
        assert_eq!(Scope::parse(&scope.code()), Ok(scope.clone()), "{raw:?} read as {scope:?}");
    }
    let _ = steward::community::service::parse_view(&raw, &raw);
    if let Some((scope, period)) = raw.split_once('\n') {
        let _ = steward::community::service::parse_view(scope, period);
    }

    let mut errors = Vec::new();
    if let Some(d) = steward::domain::parse_date(&raw, "on", &mut errors) {
        assert!(errors.is_empty());
        let again = steward::domain::parse_date(&d.to_string(), "on", &mut errors);
        assert_eq!(again, Some(d), "{raw:?} read as {d}");
    } else {
        assert_eq!(errors.len(), 1, "a refused date says why once");
    }

    let mut errors = Vec::new();
    match steward::surveys::service::parse_time(&raw, "opens_at", &mut errors) {
        Some(t) => {
            assert!(errors.is_empty());
            let written = t.format("%Y-%m-%dT%H:%M:%S").to_string();
            let again = steward::surveys::service::parse_time(&written, "opens_at", &mut errors);
            assert_eq!(again, Some(t), "{raw:?} read as {t}");
        }
        None => assert_eq!(errors.len(), 1),
    }
}
