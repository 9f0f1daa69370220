//! The community-health series, computed from stored items: pure functions over plain values, so each
//! number can be checked by hand. Every value keeps the ids of the items it was computed from.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::Serialize;
use utoipa::ToSchema;

/// The series Steward computes: (key, what it is, unit as the metrics use it).
pub const SERIES: &[(&str, &str, &str)] = &[
    ("active_contributors", "Active contributors (opened a pull request or issue, or commented)", "count"),
    ("new_contributors", "New contributors (first activity in the data)", "count"),
    ("non_maintainer_pr_share", "Merged pull requests by non-maintainers", "percent"),
    ("non_maintainer_comment_share", "Issue and pull request comments by non-maintainers", "percent"),
    ("first_response_days", "Median time to first response on non-maintainers' pull requests", "days"),
    ("minor_releases", "Minor releases (X.Y.0, Y > 0)", "count"),
    ("advisory_fix_days", "Median days from advisory publication to its fixed release", "days"),
    ("line_coverage", "Line coverage", "percent"),
];

pub fn series_label(key: &str) -> Option<&'static str> {
    SERIES.iter().find(|(k, _, _)| *k == key).map(|(_, l, _)| *l)
}

pub fn series_unit(key: &str) -> Option<&'static str> {
    SERIES.iter().find(|(k, _, _)| *k == key).map(|(_, _, u)| *u)
}

#[derive(Clone, Debug)]
pub struct Repo {
    pub id: i64,
    pub full_name: String,
    pub subproject: String,
    pub included: bool,
}

#[derive(Clone, Debug)]
pub struct Item {
    pub id: i64,
    pub repository_id: i64,
    pub kind: String,
    pub number: Option<i64>,
    pub author: String,
    pub occurred_at: NaiveDateTime,
    pub merged_at: Option<NaiveDateTime>,
    pub title: String,
    pub detail: String,
}

#[derive(Clone, Debug)]
pub struct Span {
    pub repository_id: i64,
    pub login: String,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
}

#[derive(Clone, Debug)]
pub struct Coverage {
    pub id: i64,
    pub repository_id: i64,
    pub measured_on: NaiveDate,
    pub covered: i64,
    pub valid: i64,
}

/// Everything stored, loaded once.
#[derive(Clone, Debug, Default)]
pub struct Data {
    pub repos: Vec<Repo>,
    pub items: Vec<Item>,
    pub maintainers: Vec<Span>,
    pub coverage: Vec<Coverage>,
}

/// Which repositories a series covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Overall,
    Subproject(String),
    Repository(String),
}

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() || raw == "overall" {
            Ok(Self::Overall)
        } else if let Some(s) = raw.strip_prefix("subproject:").filter(|s| !s.trim().is_empty()) {
            Ok(Self::Subproject(s.trim().to_string()))
        } else if let Some(r) = raw.strip_prefix("repository:").filter(|r| r.contains('/')) {
            Ok(Self::Repository(r.trim().to_string()))
        } else {
            Err(format!("'{raw}' is not a scope: use overall, subproject:NAME or repository:OWNER/NAME"))
        }
    }

    pub fn code(&self) -> String {
        match self {
            Self::Overall => "overall".into(),
            Self::Subproject(s) => format!("subproject:{s}"),
            Self::Repository(r) => format!("repository:{r}"),
        }
    }

    /// The included repositories in this scope; excluded ones count nowhere.
    pub fn repository_ids(&self, repos: &[Repo]) -> BTreeSet<i64> {
        repos
            .iter()
            .filter(|r| r.included)
            .filter(|r| match self {
                Self::Overall => true,
                Self::Subproject(s) => &r.subproject == s,
                Self::Repository(name) => r.full_name.eq_ignore_ascii_case(name),
            })
            .map(|r| r.id)
            .collect()
    }
}

/// A calendar month or quarter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Period {
    Month(i32, u32),
    Quarter(i32, u32),
}

impl Period {
    pub fn parse(raw: &str) -> Option<Self> {
        let (y, rest) = raw.trim().split_once('-')?;
        let y: i32 = y.parse().ok().filter(|y| (1970..=9999).contains(y))?;
        if let Some(q) = rest.strip_prefix('Q') {
            let q: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
            return Some(Self::Quarter(y, q));
        }
        let m: u32 = rest.parse().ok().filter(|m| (1..=12).contains(m))?;
        Some(Self::Month(y, m))
    }

    pub fn containing(date: NaiveDate, quarterly: bool) -> Self {
        if quarterly {
            Self::Quarter(date.year(), (date.month() - 1) / 3 + 1)
        } else {
            Self::Month(date.year(), date.month())
        }
    }

    pub fn code(&self) -> String {
        match self {
            Self::Month(y, m) => format!("{y}-{m:02}"),
            Self::Quarter(y, q) => format!("{y}-Q{q}"),
        }
    }

    pub fn is_quarter(&self) -> bool {
        matches!(self, Self::Quarter(..))
    }

    pub fn starts_on(&self) -> NaiveDate {
        let (y, m) = match *self {
            Self::Month(y, m) => (y, m),
            Self::Quarter(y, q) => (y, (q - 1) * 3 + 1),
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn next(&self) -> Self {
        match *self {
            Self::Month(y, 12) => Self::Month(y + 1, 1),
            Self::Month(y, m) => Self::Month(y, m + 1),
            Self::Quarter(y, 4) => Self::Quarter(y + 1, 1),
            Self::Quarter(y, q) => Self::Quarter(y, q + 1),
        }
    }

    pub fn ends_on(&self) -> NaiveDate {
        self.next().starts_on().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.starts_on() <= date && date <= self.ends_on()
    }

    /// Every period from the one holding `from` to the one holding `to`.
    pub fn range(from: NaiveDate, to: NaiveDate, quarterly: bool) -> Vec<Self> {
        let mut out = Vec::new();
        let mut p = Self::containing(from, quarterly);
        let last = Self::containing(to, quarterly);
        while p <= last && out.len() < 1200 {
            out.push(p);
            p = p.next();
        }
        out
    }
}

/// One computed value and what it stands on.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Value {
    pub period: String,
    /// Thousandths, as metric values are; none when there was nothing to compute from.
    pub value_milli: Option<i64>,
    /// How it was reached, in words ("3 of 4 merged pull requests").
    pub basis: String,
    /// The community items (or, for coverage, the coverage reports) it was computed from.
    pub items: Vec<i64>,
}

impl Data {
    fn is_maintainer(&self, repository_id: i64, login: &str, on: NaiveDate) -> bool {
        self.maintainers.iter().any(|s| {
            s.repository_id == repository_id
                && s.login.eq_ignore_ascii_case(login)
                && s.since <= on
                && s.until.is_none_or(|u| on <= u)
        })
    }

    fn in_scope<'a>(&'a self, repos: &'a BTreeSet<i64>, kind: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.items.iter().filter(move |i| i.kind == kind && repos.contains(&i.repository_id))
    }

    /// The earliest and latest dates of the data in a scope.
    pub fn date_range(&self, scope: &Scope) -> Option<(NaiveDate, NaiveDate)> {
        let repos = scope.repository_ids(&self.repos);
        let dates = self
            .items
            .iter()
            .filter(|i| repos.contains(&i.repository_id))
            .map(|i| i.occurred_at.date())
            .chain(self.coverage.iter().filter(|c| repos.contains(&c.repository_id)).map(|c| c.measured_on));
        dates.fold(None, |acc, d| match acc {
            None => Some((d, d)),
            Some((a, b)) => Some((a.min(d), b.max(d))),
        })
    }
}

/// `n / d` as a percentage in thousandths, rounded half up.
pub fn percent_milli(n: i64, d: i64) -> Option<i64> {
    (d > 0).then(|| (n * 200_000 + d) / (2 * d))
}

/// A duration as days in thousandths, rounded half up.
pub fn days_milli(from: NaiveDateTime, to: NaiveDateTime) -> i64 {
    let seconds = (to - from).num_seconds().max(0);
    (seconds * 2000 + 86_400) / (2 * 86_400)
}

/// The median, the mean of the middle two when even (rounded half up).
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid] + 1).div_euclid(2) })
}

/// A release tag as (major, minor, patch): "v1.2.0", "1.2.0"; anything else is none.
pub fn version(tag: &str) -> Option<(u64, u64, u64)> {
    let t = tag.trim().trim_start_matches(['v', 'V']);
    let mut parts = t.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((major, minor, patch))
}

/// A minor release: X.Y.0 with Y > 0, neither draft nor pre-release.
pub fn is_minor_release(item: &Item) -> bool {
    item.detail.is_empty() && version(&item.title).is_some_and(|(_, minor, patch)| minor > 0 && patch == 0)
}

/// Computes one series over the given periods.
pub fn compute(data: &Data, series: &str, scope: &Scope, periods: &[Period]) -> Vec<Value> {
    let repos = scope.repository_ids(&data.repos);
    periods.iter().map(|p| compute_one(data, series, &repos, p)).collect()
}

fn value(period: &Period, value_milli: Option<i64>, basis: String, items: Vec<i64>) -> Value {
    Value { period: period.code(), value_milli, basis, items }
}

fn activity<'a>(data: &'a Data, repos: &'a BTreeSet<i64>) -> impl Iterator<Item = &'a Item> + 'a {
    data.items
        .iter()
        .filter(move |i| repos.contains(&i.repository_id))
        .filter(|i| matches!(i.kind.as_str(), "pull_request" | "issue" | "comment"))
}

fn compute_one(data: &Data, series: &str, repos: &BTreeSet<i64>, p: &Period) -> Value {
    let within = |t: NaiveDateTime| p.contains(t.date());
    match series {
        "active_contributors" => {
            let items: Vec<&Item> = activity(data, repos).filter(|i| within(i.occurred_at)).collect();
            let people: BTreeSet<String> = items.iter().map(|i| i.author.to_lowercase()).collect();
            let n = people.len() as i64;
            value(p, Some(n * 1000), format!("{n} people in {} items", items.len()), ids(&items))
        }
        "new_contributors" => {
            let mut first: HashMap<String, &Item> = HashMap::new();
            for i in activity(data, repos) {
                let e = first.entry(i.author.to_lowercase()).or_insert(i);
                if (i.occurred_at, i.id) < (e.occurred_at, e.id) {
                    *e = i;
                }
            }
            let mut items: Vec<&Item> = first.values().copied().filter(|i| within(i.occurred_at)).collect();
            items.sort_by_key(|i| (i.occurred_at, i.id));
            let n = items.len() as i64;
            value(p, Some(n * 1000), format!("{n} people whose first item is in this period"), ids(&items))
        }
        "non_maintainer_pr_share" => {
            let items: Vec<&Item> =
                data.in_scope(repos, "pull_request").filter(|i| i.merged_at.is_some_and(within)).collect();
            // Whether the author was a maintainer when they opened it.
            let outside =
                items.iter().filter(|i| !data.is_maintainer(i.repository_id, &i.author, i.occurred_at.date())).count()
                    as i64;
            let total = items.len() as i64;
            let basis = format!("{outside} of {total} merged pull requests by non-maintainers");
            value(p, percent_milli(outside, total), basis, ids(&items))
        }
        "non_maintainer_comment_share" => {
            let items: Vec<&Item> = data.in_scope(repos, "comment").filter(|i| within(i.occurred_at)).collect();
            let outside =
                items.iter().filter(|i| !data.is_maintainer(i.repository_id, &i.author, i.occurred_at.date())).count()
                    as i64;
            let total = items.len() as i64;
            let basis = format!("{outside} of {total} comments by non-maintainers");
            value(p, percent_milli(outside, total), basis, ids(&items))
        }
        "first_response_days" => {
            let prs: Vec<&Item> = data
                .in_scope(repos, "pull_request")
                .filter(|i| within(i.occurred_at))
                .filter(|i| !data.is_maintainer(i.repository_id, &i.author, i.occurred_at.date()))
                .collect();
            let mut days = Vec::new();
            let mut used = Vec::new();
            let mut waiting = 0;
            for pr in &prs {
                let first = data
                    .in_scope(repos, "comment")
                    .filter(|c| c.repository_id == pr.repository_id && c.number == pr.number)
                    .filter(|c| !c.author.eq_ignore_ascii_case(&pr.author) && c.occurred_at >= pr.occurred_at)
                    .min_by_key(|c| (c.occurred_at, c.id));
                match first {
                    Some(c) => {
                        days.push(days_milli(pr.occurred_at, c.occurred_at));
                        used.push(pr.id);
                        used.push(c.id);
                    }
                    None => waiting += 1,
                }
            }
            let basis = format!(
                "median of {} pull requests by non-maintainers opened in this period; {waiting} without a response",
                days.len()
            );
            value(p, median(&mut days), basis, used)
        }
        "minor_releases" => {
            let items: Vec<&Item> =
                data.in_scope(repos, "release").filter(|i| within(i.occurred_at) && is_minor_release(i)).collect();
            let n = items.len() as i64;
            value(p, Some(n * 1000), format!("{n} minor releases"), ids(&items))
        }
        "advisory_fix_days" => {
            let mut days = Vec::new();
            let mut used = Vec::new();
            let mut unmatched = 0;
            for adv in data.in_scope(repos, "advisory").filter(|i| within(i.occurred_at)) {
                let patched: Vec<Option<(u64, u64, u64)>> =
                    adv.detail.split(',').map(|v| version(v.trim().trim_start_matches(['>', '=', ' ']))).collect();
                let fix = data
                    .in_scope(repos, "release")
                    .filter(|r| r.repository_id == adv.repository_id && r.detail != "draft")
                    .filter(|r| version(&r.title).is_some_and(|v| patched.contains(&Some(v))))
                    .min_by_key(|r| (r.occurred_at, r.id));
                match fix {
                    Some(r) => {
                        // A fix released before the advisory went public counts as 0 days.
                        days.push(days_milli(adv.occurred_at, r.occurred_at));
                        used.push(adv.id);
                        used.push(r.id);
                    }
                    None => unmatched += 1,
                }
            }
            let basis = format!(
                "median of {} advisories published in this period; {unmatched} without a release of a patched version",
                days.len()
            );
            value(p, median(&mut days), basis, used)
        }
        "line_coverage" => {
            let mut latest: BTreeMap<i64, &Coverage> = BTreeMap::new();
            for c in data.coverage.iter().filter(|c| repos.contains(&c.repository_id) && p.contains(c.measured_on)) {
                let e = latest.entry(c.repository_id).or_insert(c);
                if c.measured_on > e.measured_on {
                    *e = c;
                }
            }
            let covered: i64 = latest.values().map(|c| c.covered).sum();
            let valid: i64 = latest.values().map(|c| c.valid).sum();
            let basis = format!("{covered} of {valid} lines, latest report of {} repositories", latest.len());
            value(p, percent_milli(covered, valid), basis, latest.values().map(|c| c.id).collect())
        }
        other => value(p, None, format!("unknown series '{other}'"), Vec::new()),
    }
}

fn ids(items: &[&Item]) -> Vec<i64> {
    items.iter().map(|i| i.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn item(id: i64, repo: i64, kind: &str, number: i64, author: &str, when: &str) -> Item {
        Item {
            id,
            repository_id: repo,
            kind: kind.into(),
            number: Some(number),
            author: author.into(),
            occurred_at: at(when),
            merged_at: None,
            title: String::new(),
            detail: String::new(),
        }
    }

    fn data() -> Data {
        let mut pr1 = item(1, 1, "pull_request", 1, "ann", "2026-01-05 10:00");
        pr1.merged_at = Some(at("2026-01-06 10:00"));
        let mut pr2 = item(2, 1, "pull_request", 2, "max", "2026-01-10 00:00");
        pr2.merged_at = Some(at("2026-01-20 00:00"));
        let mut pr3 = item(3, 1, "pull_request", 3, "max", "2026-02-10 00:00");
        pr3.merged_at = Some(at("2026-02-11 00:00"));
        let mut excluded = item(9, 2, "pull_request", 1, "zed", "2026-01-05 10:00");
        excluded.merged_at = Some(at("2026-01-06 10:00"));
        let rel = |id, tag: &str, when: &str, detail: &str| {
            let mut r = item(id, 1, "release", 0, "max", when);
            r.title = tag.into();
            r.detail = detail.into();
            r
        };
        let releases = vec![
            rel(20, "v1.1.0", "2026-01-15 00:00", ""),
            rel(21, "v1.1.1", "2026-01-20 00:00", ""),
            rel(22, "v1.2.0", "2026-02-01 00:00", ""),
            rel(23, "v2.0.0", "2026-03-01 00:00", ""),
            rel(24, "v1.3.0", "2026-03-02 00:00", "prerelease"),
        ];
        let mut adv = item(30, 1, "advisory", 0, "", "2026-01-18 00:00");
        adv.title = "GHSA-1".into();
        adv.detail = "1.1.1".into();
        let mut items = vec![
            pr1,
            pr2,
            pr3,
            excluded,
            item(4, 1, "issue", 4, "bea", "2026-01-07 00:00"),
            // Comments on #1 (by ann): max answers 6 hours later; on #2 max's own comment does not count.
            item(10, 1, "comment", 1, "max", "2026-01-05 16:00"),
            item(11, 1, "comment", 1, "ann", "2026-01-05 17:00"),
            item(12, 1, "comment", 4, "cy", "2026-01-08 00:00"),
            item(13, 1, "comment", 3, "bea", "2026-02-12 00:00"),
            adv,
        ];
        items.extend(releases);
        Data {
            repos: vec![
                Repo { id: 1, full_name: "o/core".into(), subproject: "core".into(), included: true },
                Repo { id: 2, full_name: "o/docs".into(), subproject: "core".into(), included: false },
            ],
            items,
            // max became a maintainer on 2026-01-15: his PR of 2026-01-10 is a non-maintainer's.
            maintainers: vec![Span { repository_id: 1, login: "MAX".into(), since: d("2026-01-15"), until: None }],
            coverage: vec![
                Coverage { id: 1, repository_id: 1, measured_on: d("2026-01-10"), covered: 50, valid: 100 },
                Coverage { id: 2, repository_id: 1, measured_on: d("2026-01-31"), covered: 2, valid: 3 },
                Coverage { id: 3, repository_id: 2, measured_on: d("2026-01-31"), covered: 0, valid: 100 },
            ],
        }
    }

    fn one(series: &str, period: &str) -> Value {
        compute(&data(), series, &Scope::Overall, &[Period::parse(period).unwrap()]).remove(0)
    }

    #[test]
    fn hand_computed_values() {
        // January: ann, max, bea, cy (zed's repository is excluded).
        assert_eq!(one("active_contributors", "2026-01").value_milli, Some(4000));
        assert_eq!(one("new_contributors", "2026-01").value_milli, Some(4000));
        assert_eq!(one("new_contributors", "2026-02").value_milli, Some(0));
        // January merges: ann's and max's (max not yet a maintainer when he opened it): 2 of 2.
        assert_eq!(one("non_maintainer_pr_share", "2026-01").value_milli, Some(100_000));
        // February: max's PR, now a maintainer: 0 of 1.
        assert_eq!(one("non_maintainer_pr_share", "2026-02").value_milli, Some(0));
        // January comments: max (not yet maintainer), ann, cy: 3 of 3; February: bea: 1 of 1.
        assert_eq!(one("non_maintainer_comment_share", "2026-01").value_milli, Some(100_000));
        // First response: #1 after 6 hours (0.25 days); #2 has none.
        let v = one("first_response_days", "2026-01");
        assert_eq!(v.value_milli, Some(250));
        assert!(v.basis.contains("1 without a response"));
        // Minor releases: Q1 has 1.1.0 and 1.2.0 (1.1.1 is a patch, 2.0.0 a major, 1.3.0 a pre-release).
        assert_eq!(one("minor_releases", "2026-Q1").value_milli, Some(2000));
        assert_eq!(one("minor_releases", "2026-01").value_milli, Some(1000));
        // Advisory published 01-18, fixed in 1.1.1 on 01-20: 2 days.
        assert_eq!(one("advisory_fix_days", "2026-01").value_milli, Some(2000));
        // Coverage: the latest January report of the included repository, 2 of 3 lines.
        let c = one("line_coverage", "2026-01");
        assert_eq!(c.value_milli, Some(66_667));
        assert_eq!(c.items, vec![2]);
    }

    #[test]
    fn excluded_repositories_count_nowhere() {
        let v = compute(&data(), "active_contributors", &Scope::Repository("o/docs".into()), &[Period::Month(2026, 1)]);
        assert_eq!(v[0].value_milli, Some(0));
        assert!(!one("active_contributors", "2026-01").items.contains(&9));
    }

    #[test]
    fn arithmetic_rounds_half_up() {
        assert_eq!(percent_milli(1, 3), Some(33_333));
        assert_eq!(percent_milli(1, 8), Some(12_500));
        assert_eq!(percent_milli(0, 0), None);
        assert_eq!(median(&mut [3, 1, 2]), Some(2));
        assert_eq!(median(&mut [1, 2]), Some(2));
        assert_eq!(median(&mut []), None);
        assert_eq!(days_milli(at("2026-01-01 00:00"), at("2026-01-01 01:00")), 42);
        assert_eq!(version("v1.2.0"), Some((1, 2, 0)));
        assert_eq!(version("release-1"), None);
    }

    #[test]
    fn periods() {
        assert_eq!(Period::parse("2026-Q4").unwrap().ends_on(), d("2026-12-31"));
        assert_eq!(Period::parse("2026-02").unwrap().ends_on(), d("2026-02-28"));
        assert_eq!(Period::range(d("2025-12-05"), d("2026-02-01"), false).len(), 3);
        assert_eq!(Period::parse("2026-13"), None);
        assert_eq!(Scope::parse("subproject:core").unwrap().code(), "subproject:core");
        assert!(Scope::parse("nonsense").is_err());
    }
}
