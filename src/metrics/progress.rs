//! How far a metric has come, whether it will reach its target in time, and what its improvement cost. Pure
//! arithmetic over a metric and its current observations, so it is tested on its own.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::model::{Metric, Observation};

/// Where a metric stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The latest value already meets the target.
    Met,
    /// The trend reaches the target by the target date.
    OnTrack,
    /// The trend gets at least 80% of the way by the target date.
    AtRisk,
    /// The trend falls short of 80%, or the target date passed unmet.
    OffTrack,
    /// No observation yet.
    NoData,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Met => "target met",
            Status::OnTrack => "on track",
            Status::AtRisk => "at risk",
            Status::OffTrack => "off track",
            Status::NoData => "no data",
        }
    }

    /// For badges: met and on track are good news.
    pub fn is_good(self) -> bool {
        matches!(self, Status::Met | Status::OnTrack)
    }
}

/// How a status is worked out, shown on the metric page.
pub const METHOD: &str = "The trend is a straight line fitted (least squares) through the baseline and every current \
observation. Projected forward to the target date, it is on track if it reaches the target, at risk if it gets at least \
80% of the way from baseline to target, and off track otherwise. A metric whose latest value meets the target is \
met; one whose target date has passed unmet is off track. Data is stale when the newest observation is older than \
the metric's expected interval.";

/// The share of the way from baseline to target that reaching it counts as at risk rather than off track.
const AT_RISK_SHARE: f64 = 0.8;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Progress {
    pub latest_on: Option<NaiveDate>,
    pub latest_milli: Option<i64>,
    /// Latest minus baseline.
    pub change_milli: Option<i64>,
    /// How much of the way from baseline to target the latest value has come (100 = there; may exceed 100 or
    /// be negative when it moved the wrong way).
    pub percent_to_target: Option<f64>,
    /// Where the trend line stands on the target date.
    pub projected_milli: Option<i64>,
    pub status: Status,
    /// No observation within the expected interval.
    pub stale: bool,
}

fn meets(metric: &Metric, value: i64) -> bool {
    if metric.higher_is_better() {
        value >= metric.target_milli
    } else {
        value <= metric.target_milli
    }
}

/// `observations` are the current ones (not superseded), in any order.
pub fn progress(metric: &Metric, observations: &[Observation], today: NaiveDate) -> Progress {
    let latest = observations.iter().max_by_key(|o| (o.observed_on, o.id));
    let Some(latest) = latest else {
        return Progress {
            latest_on: None,
            latest_milli: None,
            change_milli: None,
            percent_to_target: None,
            projected_milli: None,
            status: Status::NoData,
            stale: true,
        };
    };
    let span = (metric.target_milli - metric.baseline_milli) as f64;
    let share = |value: i64| if span == 0.0 { None } else { Some((value - metric.baseline_milli) as f64 / span) };
    let projected = trend_at(metric, observations, metric.target_on);
    let status = if meets(metric, latest.value_milli) {
        Status::Met
    } else if today > metric.target_on {
        Status::OffTrack
    } else {
        match projected.and_then(share) {
            Some(s) if s >= 1.0 => Status::OnTrack,
            Some(s) if s >= AT_RISK_SHARE => Status::AtRisk,
            _ => Status::OffTrack,
        }
    };
    Progress {
        latest_on: Some(latest.observed_on),
        latest_milli: Some(latest.value_milli),
        change_milli: Some(latest.value_milli - metric.baseline_milli),
        percent_to_target: share(latest.value_milli).map(|s| (s * 1000.0).round() / 10.0),
        projected_milli: projected,
        status,
        stale: (today - latest.observed_on).num_days() > i64::from(metric.expected_interval_days),
    }
}

/// The least-squares line through the baseline and the observations, read at `date`.
fn trend_at(metric: &Metric, observations: &[Observation], date: NaiveDate) -> Option<i64> {
    let points: Vec<(f64, f64)> = std::iter::once((metric.baseline_on, metric.baseline_milli))
        .chain(observations.iter().map(|o| (o.observed_on, o.value_milli)))
        .map(|(d, v)| ((d - metric.baseline_on).num_days() as f64, v as f64))
        .collect();
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let x = (date - metric.baseline_on).num_days() as f64;
    let y = mean_y + sxy / sxx * (x - mean_x);
    // To a tenth of a unit: the trend is an estimate, not a measurement.
    y.is_finite().then_some((y / 100.0).round() as i64 * 100)
}

/// What an improvement cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CostPerUnit {
    /// Minor units of the base currency per one unit of improvement.
    PerUnit { minor: i64 },
    /// The metric did not move: no cost per unit.
    NoChange,
    /// The metric moved the wrong way.
    Worsened,
    /// No money was spent in the window.
    NoSpending,
}

/// Money spent (minor units) divided by the improvement in the metric's better direction.
pub fn cost_per_unit(metric: &Metric, spent_minor: i64, change_milli: i64) -> CostPerUnit {
    let improvement = if metric.higher_is_better() { change_milli } else { -change_milli };
    if spent_minor <= 0 {
        CostPerUnit::NoSpending
    } else if improvement == 0 {
        CostPerUnit::NoChange
    } else if improvement < 0 {
        CostPerUnit::Worsened
    } else {
        let per = (spent_minor as i128 * 1000 + improvement as i128 / 2) / improvement as i128;
        CostPerUnit::PerUnit { minor: i64::try_from(per).unwrap_or(i64::MAX) }
    }
}

/// The value a metric had on `date`: the newest current observation on or before it, else the baseline
/// from its date on.
pub fn value_on(metric: &Metric, observations: &[Observation], date: NaiveDate) -> Option<i64> {
    observations
        .iter()
        .filter(|o| o.observed_on <= date)
        .max_by_key(|o| (o.observed_on, o.id))
        .map(|o| o.value_milli)
        .or((date >= metric.baseline_on).then_some(metric.baseline_milli))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(direction: &str, baseline: i64, target: i64) -> Metric {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        Metric {
            id: 1,
            slug: "m".into(),
            name: "m".into(),
            description: String::new(),
            unit: "count".into(),
            direction: direction.into(),
            priority_id: None,
            key_outcome_id: None,
            baseline_milli: baseline,
            baseline_on: d("2025-01-01"),
            target_milli: target,
            target_on: d("2026-12-31"),
            source: "manual".into(),
            survey_question_id: None,
            survey_aggregate: None,
            expected_interval_days: 100,
            scope_notes: String::new(),
            created_by: None,
            created_at: chrono::NaiveDateTime::default(),
            updated_at: chrono::NaiveDateTime::default(),
        }
    }

    fn obs(id: i64, date: &str, value: i64) -> Observation {
        Observation {
            id,
            metric_id: 1,
            observed_on: NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
            value_milli: value,
            source: "manual".into(),
            source_label: String::new(),
            note: String::new(),
            recorded_by: None,
            recorded_at: chrono::NaiveDateTime::default(),
            superseded_at: None,
            superseded_by: None,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    #[test]
    fn higher_is_better_on_track_at_risk_and_off_track() {
        // 100 -> 200 over two years; halfway after one year is on track.
        let m = metric("higher", 100_000, 200_000);
        let on = progress(&m, &[obs(1, "2025-07-01", 126_000), obs(2, "2026-01-01", 152_000)], today());
        assert_eq!(on.status, Status::OnTrack, "{on:?}");
        assert_eq!(on.change_milli, Some(52_000));
        assert_eq!(on.percent_to_target, Some(52.0));
        // 90% of the way by the target date: at risk.
        let risk = progress(&m, &[obs(1, "2026-01-01", 145_000)], today());
        assert_eq!(risk.status, Status::AtRisk, "{risk:?}");
        // Barely moving: off track.
        let off = progress(&m, &[obs(1, "2026-01-01", 110_000)], today());
        assert_eq!(off.status, Status::OffTrack);
        assert_eq!(progress(&m, &[obs(1, "2026-01-01", 200_000)], today()).status, Status::Met);
        assert_eq!(progress(&m, &[], today()).status, Status::NoData);
    }

    #[test]
    fn lower_is_better_counts_going_down_as_progress() {
        // Days to fix a security advisory: 30 -> 10.
        let m = metric("lower", 30_000, 10_000);
        let p = progress(&m, &[obs(1, "2026-01-01", 19_000)], today());
        assert_eq!(p.percent_to_target, Some(55.0));
        assert_eq!(p.change_milli, Some(-11_000));
        assert_eq!(p.status, Status::OnTrack, "{p:?}");
        let worse = progress(&m, &[obs(1, "2026-01-01", 35_000)], today());
        assert_eq!(worse.percent_to_target, Some(-25.0));
        assert_eq!(worse.status, Status::OffTrack);
        assert_eq!(progress(&m, &[obs(1, "2026-01-01", 9_000)], today()).status, Status::Met);
        // Past the target date and not met: off track, whatever the trend.
        let late = NaiveDate::from_ymd_opt(2027, 2, 1).unwrap();
        assert_eq!(progress(&m, &[obs(1, "2027-01-15", 12_000)], late).status, Status::OffTrack);
    }

    #[test]
    fn stale_when_older_than_the_expected_interval() {
        let m = metric("higher", 0, 10_000);
        assert!(progress(&m, &[obs(1, "2025-09-01", 1_000)], today()).stale);
        assert!(!progress(&m, &[obs(1, "2025-12-01", 1_000)], today()).stale);
    }

    #[test]
    fn cost_per_unit_with_zero_and_negative_change() {
        let up = metric("higher", 0, 10_000);
        // USD 12,000.00 for 8 more contributors: USD 1,500.00 each.
        assert_eq!(cost_per_unit(&up, 1_200_000, 8_000), CostPerUnit::PerUnit { minor: 150_000 });
        assert_eq!(cost_per_unit(&up, 1_200_000, 0), CostPerUnit::NoChange);
        assert_eq!(cost_per_unit(&up, 1_200_000, -2_000), CostPerUnit::Worsened);
        assert_eq!(cost_per_unit(&up, 0, 5_000), CostPerUnit::NoSpending);
        // Lower is better: 5 days faster for USD 10,000.00 is USD 2,000.00 per day.
        let down = metric("lower", 30_000, 10_000);
        assert_eq!(cost_per_unit(&down, 1_000_000, -5_000), CostPerUnit::PerUnit { minor: 200_000 });
        assert_eq!(cost_per_unit(&down, 1_000_000, 5_000), CostPerUnit::Worsened);
        // Fractions of a unit: 0.5 points for USD 100.00 is USD 200.00 per point.
        assert_eq!(cost_per_unit(&up, 10_000, 500), CostPerUnit::PerUnit { minor: 20_000 });
    }

    #[test]
    fn value_on_a_date_is_the_newest_observation_or_the_baseline() {
        let m = metric("higher", 5_000, 10_000);
        let o = [obs(1, "2025-06-01", 6_000), obs(2, "2025-09-01", 7_000)];
        assert_eq!(value_on(&m, &o, NaiveDate::from_ymd_opt(2025, 3, 1).unwrap()), Some(5_000));
        assert_eq!(value_on(&m, &o, NaiveDate::from_ymd_opt(2025, 7, 1).unwrap()), Some(6_000));
        assert_eq!(value_on(&m, &o, NaiveDate::from_ymd_opt(2024, 7, 1).unwrap()), None);
    }
}
