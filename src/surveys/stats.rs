//! Survey arithmetic on hand-checkable inputs: distributions, mean and median, NPS, ranking (mean rank and
//! first-place share), points shares. Pure functions, tested on their own.

use serde::Serialize;
use utoipa::ToSchema;

/// Mean and median of some values, with their count.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Summary {
    pub count: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
}

pub fn summary(values: &[f64]) -> Summary {
    if values.is_empty() {
        return Summary { count: 0, mean: None, median: None };
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let n = sorted.len();
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    Summary { count: n, mean: Some(round2(sorted.iter().sum::<f64>() / n as f64)), median: Some(median) }
}

pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Net promoter score: the share of promoters (9-10) less the share of detractors (0-6), in points.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Nps {
    pub count: usize,
    pub promoters: usize,
    pub passives: usize,
    pub detractors: usize,
    /// From -100 to 100; none without answers.
    pub score: Option<f64>,
}

pub fn nps(scores: &[i64]) -> Nps {
    let promoters = scores.iter().filter(|s| **s >= 9).count();
    let detractors = scores.iter().filter(|s| **s <= 6).count();
    let count = scores.len();
    Nps {
        count,
        promoters,
        passives: count - promoters - detractors,
        detractors,
        score: (count > 0).then(|| round2((promoters as f64 - detractors as f64) * 100.0 / count as f64)),
    }
}

/// One option's result in a ranking question.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct RankResult {
    pub option: String,
    /// 1 is first; lower is better.
    pub mean_rank: Option<f64>,
    /// Share of rankers who put it first, in percent.
    pub first_share: Option<f64>,
}

/// `rankings` hold option indexes, best first; every ranking names every option once.
pub fn ranking(labels: &[String], rankings: &[Vec<i64>]) -> Vec<RankResult> {
    let n = rankings.len();
    labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let ranks: Vec<f64> =
                rankings.iter().filter_map(|r| r.iter().position(|o| *o == i as i64).map(|p| (p + 1) as f64)).collect();
            let firsts = rankings.iter().filter(|r| r.first() == Some(&(i as i64))).count();
            RankResult {
                option: label.clone(),
                mean_rank: (!ranks.is_empty()).then(|| round2(ranks.iter().sum::<f64>() / ranks.len() as f64)),
                first_share: (n > 0).then(|| round2(firsts as f64 * 100.0 / n as f64)),
            }
        })
        .collect()
}

/// The mean share (percent) each option received over `allocations` (each a list of points summing to 100).
pub fn mean_shares(options: usize, allocations: &[Vec<i64>]) -> Vec<Option<f64>> {
    (0..options)
        .map(|i| {
            let values: Vec<f64> = allocations.iter().filter_map(|a| a.get(i)).map(|v| *v as f64).collect();
            (!values.is_empty()).then(|| round2(values.iter().sum::<f64>() / values.len() as f64))
        })
        .collect()
}

/// How many answers chose each option (single choice: one per answer; multiple: any number).
pub fn counts(options: usize, chosen: &[Vec<i64>]) -> Vec<usize> {
    (0..options).map(|i| chosen.iter().filter(|c| c.contains(&(i as i64))).count()).collect()
}

/// Which groups (of `counts` answers each, out of `total`: answers in no group count in the total only) may be
/// shown apart: those of at least `min`, less enough of the smallest shown ones that what is not shown (the total
/// less the shown groups) is either nothing or itself at least `min`, so no small group is found by
/// subtracting the shown ones from the total.
pub fn shown_groups(counts: &[usize], total: usize, min: usize) -> Vec<bool> {
    let mut shown: Vec<bool> = counts.iter().map(|c| *c >= min.max(1)).collect();
    loop {
        let hidden = total.saturating_sub(counts.iter().zip(&shown).filter(|(_, s)| **s).map(|(c, _)| c).sum());
        if hidden == 0 || hidden >= min {
            return shown;
        }
        let smallest = counts.iter().enumerate().filter(|(i, _)| shown[*i]).min_by_key(|(_, c)| **c).map(|(i, _)| i);
        match smallest {
            Some(i) => shown[i] = false,
            None => return shown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_median_by_hand() {
        assert_eq!(summary(&[4.0, 5.0, 3.0, 4.0]), Summary { count: 4, mean: Some(4.0), median: Some(4.0) });
        assert_eq!(summary(&[1.0, 2.0, 5.0]), Summary { count: 3, mean: Some(2.67), median: Some(2.0) });
        assert_eq!(summary(&[]).mean, None);
    }

    #[test]
    fn nps_by_hand() {
        // 3 promoters, 2 passives, 5 detractors of 10: 30% - 50% = -20.
        let r = nps(&[10, 9, 9, 8, 7, 6, 5, 0, 3, 6]);
        assert_eq!((r.promoters, r.passives, r.detractors, r.score), (3, 2, 5, Some(-20.0)));
        assert_eq!(nps(&[10, 10]).score, Some(100.0));
        assert_eq!(nps(&[]).score, None);
    }

    #[test]
    fn ranking_by_hand() {
        let labels: Vec<String> = ["A", "B", "C"].iter().map(|s| s.to_string()).collect();
        // A first twice, B first once; A's ranks 1, 1, 3 (mean 1.67); B's 2, 3, 1 (2.0); C's 3, 2, 2 (2.33).
        let r = ranking(&labels, &[vec![0, 1, 2], vec![0, 2, 1], vec![1, 2, 0]]);
        assert_eq!(r[0].mean_rank, Some(1.67));
        assert_eq!(r[1].mean_rank, Some(2.0));
        assert_eq!(r[2].mean_rank, Some(2.33));
        assert_eq!(r[0].first_share, Some(66.67));
        assert_eq!(r[1].first_share, Some(33.33));
        assert_eq!(r[2].first_share, Some(0.0));
    }

    #[test]
    fn shares_and_counts() {
        assert_eq!(mean_shares(3, &[vec![50, 30, 20], vec![70, 10, 20]]), vec![Some(60.0), Some(20.0), Some(20.0)]);
        assert_eq!(counts(3, &[vec![0], vec![0, 2], vec![2]]), vec![2, 0, 2]);
    }

    #[test]
    fn no_small_group_is_shown_or_found_by_subtraction() {
        // Both large: both shown.
        assert_eq!(shown_groups(&[3, 4], 7, 3), vec![true, true]);
        // One small group hidden alone would be total - the other: the next smallest goes too.
        assert_eq!(shown_groups(&[1, 4, 5], 10, 3), vec![false, false, true]);
        // Two small groups hidden together make a group of the minimum: the others stay.
        assert_eq!(shown_groups(&[1, 2, 5], 8, 3), vec![false, false, true]);
        // Answers in no group count as hidden too.
        assert_eq!(shown_groups(&[3, 3], 7, 3), vec![false, true]);
        assert_eq!(shown_groups(&[0, 5], 5, 3), vec![false, true]);
        assert_eq!(shown_groups(&[], 2, 3), Vec::<bool>::new());
    }
}
