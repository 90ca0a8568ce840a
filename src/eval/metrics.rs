//! Ranking metrics over one query's judged ranking.
//!
//! A ranking is given as the grade of each returned result, in rank order
//! (`ranked[0]` is the top hit; 0 = not relevant). The caller must already
//! have credited each labelled item at most once (a second hit on the same
//! article has grade 0). `labels` holds the grade of every labelled item,
//! found or not; it decides the ideal ranking and what counts as an answer.
//!
//! - **Answers** are the labelled items with the query's highest grade
//!   (grade 2 in the help-center labels; with binary labels, every labelled
//!   item). Recall and reciprocal rank count answers only.
//! - **Recall@k** is the share of answers in the top k, out of
//!   `min(k, answers)`: Recall@1 is 1 when the top hit is an answer even if
//!   the query has two answers (BEIR's "capped recall").
//! - **RR@k** is 1 / rank of the first answer within the top k, else 0; its
//!   mean over queries is MRR@k.
//! - **nDCG@k** uses linear gains (gain = grade, as trec_eval does) and the
//!   `log2(rank + 1)` discount, divided by the DCG of the ideal ordering of
//!   `labels`.
//!
//! A query without labels has no answers: every metric is `None`.

/// The grade answers have: the highest grade among the labels.
fn answer_grade(labels: &[u32]) -> Option<u32> {
    labels.iter().copied().filter(|&g| g > 0).max()
}

/// Share of the answers found in the top `k`, capped: out of `min(k, answers)`.
pub fn recall_at(ranked: &[u32], labels: &[u32], k: usize) -> Option<f64> {
    let top = answer_grade(labels)?;
    let answers = labels.iter().filter(|&&g| g == top).count();
    let found = ranked.iter().take(k).filter(|&&g| g == top).count();
    let denom = k.min(answers);
    if denom == 0 {
        return None;
    }
    Some(found.min(denom) as f64 / denom as f64)
}

/// Reciprocal rank of the first answer within the top `k`, 0 when none.
pub fn reciprocal_rank(ranked: &[u32], labels: &[u32], k: usize) -> Option<f64> {
    let top = answer_grade(labels)?;
    Some(
        ranked
            .iter()
            .take(k)
            .position(|&g| g == top)
            .map_or(0.0, |r| 1.0 / (r + 1) as f64),
    )
}

fn dcg<'a>(gains: impl Iterator<Item = &'a u32>) -> f64 {
    gains
        .enumerate()
        .map(|(i, &g)| g as f64 / ((i + 2) as f64).log2())
        .sum()
}

/// Normalised discounted cumulative gain at `k` with graded (linear) gains.
pub fn ndcg_at(ranked: &[u32], labels: &[u32], k: usize) -> Option<f64> {
    answer_grade(labels)?;
    let mut ideal: Vec<u32> = labels.iter().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg = dcg(ideal.iter().take(k));
    if idcg <= 0.0 {
        return None;
    }
    Some(dcg(ranked.iter().take(k)) / idcg)
}

/// Mean of the values that exist; `None` when there are none.
pub fn mean(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values.into_iter().flatten() {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

/// The `q`-quantile (0..=1) of `values` by the nearest-rank rule: the
/// smallest value with at least `q` of the values at or below it.
pub fn quantile(values: &[f32], q: f64) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) {
        let a = a.expect("a value");
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    /// Labels {a: 2, b: 1, c: 2}; the engine returns [x, a, b, y, c]
    /// (x, y unlabelled), i.e. grades [0, 2, 1, 0, 2].
    ///
    /// Answers are a and c (grade 2, the top grade), so 2 of them.
    /// - Recall@1 = 0 / min(1, 2) = 0
    /// - Recall@2 = 1 / min(2, 2) = 0.5 (a)
    /// - Recall@5 = 2 / min(5, 2) = 1
    /// - RR@10 = 1/2 (first answer a at rank 2); RR@1 = 0
    /// - DCG@10 = 2/log2(3) + 1/log2(4) + 2/log2(6)
    ///   = 1.2618595 + 0.5 + 0.7737056 = 2.5355651
    /// - IDCG@10 (ideal [2, 2, 1]) = 2/log2(2) + 2/log2(3) + 1/log2(4)
    ///   = 2 + 1.2618595 + 0.5 = 3.7618595
    /// - nDCG@10 = 2.5355651 / 3.7618595 = 0.6740191
    /// - nDCG@3 = (2/log2(3) + 1/log2(4)) / 3.7618595 = 1.7618595 / 3.7618595 = 0.4683480
    #[test]
    fn hand_computed_example() {
        let ranked = [0, 2, 1, 0, 2];
        let labels = [2, 1, 2];
        close(recall_at(&ranked, &labels, 1), 0.0);
        close(recall_at(&ranked, &labels, 2), 0.5);
        close(recall_at(&ranked, &labels, 5), 1.0);
        close(reciprocal_rank(&ranked, &labels, 10), 0.5);
        close(reciprocal_rank(&ranked, &labels, 1), 0.0);
        let dcg = 2.0 / 3f64.log2() + 1.0 / 4f64.log2() + 2.0 / 6f64.log2();
        let idcg = 2.0 + 2.0 / 3f64.log2() + 1.0 / 4f64.log2();
        close(ndcg_at(&ranked, &labels, 10), dcg / idcg);
        close(ndcg_at(&ranked, &labels, 10), 0.674_019_089_973_333);
        close(ndcg_at(&ranked, &labels, 3), 0.468_348_034_741_208);
    }

    #[test]
    fn perfect_and_empty() {
        // one answer at rank 1: everything is 1
        close(recall_at(&[2, 0], &[2], 1), 1.0);
        close(reciprocal_rank(&[2, 0], &[2], 10), 1.0);
        close(ndcg_at(&[2, 0], &[2], 10), 1.0);
        // the answer beyond the cutoff counts for nothing
        let late = [0, 0, 0, 2];
        close(reciprocal_rank(&late, &[2], 3), 0.0);
        close(recall_at(&late, &[2], 3), 0.0);
        close(ndcg_at(&late, &[2], 3), 0.0);
        // binary labels: grade 1 is the top grade, so it is the answer
        close(reciprocal_rank(&[0, 1], &[1], 10), 0.5);
        // no labels: an unanswerable query has no ranking metrics
        assert_eq!(recall_at(&[0], &[], 5), None);
        assert_eq!(reciprocal_rank(&[0], &[], 10), None);
        assert_eq!(ndcg_at(&[0], &[], 10), None);
        // a partial hit (grade 1) earns nDCG but not reciprocal rank
        close(reciprocal_rank(&[1], &[2, 1], 10), 0.0);
        close(ndcg_at(&[1], &[2, 1], 10), 1.0 / (2.0 + 1.0 / 3f64.log2()));
    }

    #[test]
    fn mean_and_quantile() {
        close(mean([Some(1.0), None, Some(0.0)]), 0.5);
        assert_eq!(mean([None]), None);
        let v = [0.9, 0.1, 0.5, 0.3, 0.7];
        assert_eq!(quantile(&v, 0.0), Some(0.1));
        assert_eq!(quantile(&v, 0.2), Some(0.1));
        assert_eq!(quantile(&v, 0.21), Some(0.3));
        assert_eq!(quantile(&v, 1.0), Some(0.9));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
