//! Low confidence without labelled queries: whether a query's best match
//! is so weak that the site most likely has no page about it. The widget
//! puts the verdict in its `results` and `zero-results` events, so a site
//! can count, per language, the questions it has no answer for.
//!
//! # The levels (set by the indexer)
//!
//! The model pack's parallel sample (`model::langbasis::SAMPLE`) holds the
//! same 24 search-box questions in 41 languages, on everyday topics (tap
//! water, boiling an egg, cheap flights) and on no help-site subject. At
//! index time each of them is searched against the site's own vectors
//! (`index::confidence`): its best dense score is what a question the site
//! cannot answer scores on this site, in that language.
//!
//! A language's level is [`LEVEL_QUANTILE`] of its sample questions' best
//! scores plus [`LEVEL_MARGIN`] ([`levels_from_samples`]); the fallback, for
//! a query in a language the sample lacks, is the median of the languages'
//! levels. Both constants were chosen on the demo help center's labelled
//! queries (docs/multilingual.md, "Low confidence without labels"): real
//! unanswerable questions ("do you have a dark mode?") sit closer to a help
//! site than everyday ones, so the level sits above most of the sample; at
//! these constants the flag catches 14 of the demo's 24 unanswerable
//! queries and flags 10 % of the answerable ones, as a threshold calibrated
//! on the labels does. What the sample cannot see is how well the model
//! matches *answers* in a language: Swahili's answered questions score
//! lower than others', not its unrelated ones, so a third of Swahili's
//! answerable queries are flagged on the demo.
//!
//! # The verdict (at search time, natively and in wasm)
//!
//! The score judged is the best dense score over every chunk (the cosine of
//! the query's search vector with its closest chunk; no filter, no page
//! context), the number `crossfind eval` calibrates its own thresholds on.
//! The level is that of the language the query is written in
//! (`lang::detect_language`), else the reader's language, else the
//! fallback. Without a query vector (a keyword-only answer, the model not
//! loaded yet) or without levels (a bundle indexed before them) there is no
//! verdict.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Bundle;
use crate::bundle::ConfidenceLevels;

/// [`ConfidenceLevels::method`] of the levels [`levels_from_samples`] sets.
pub const METHOD: &str = "sample-questions";

/// Which quantile of a language's sample-question scores its level starts from.
pub const LEVEL_QUANTILE: f64 = 0.9;

/// Added to that quantile: swept over 0 to 0.1 on the demo (0.06: 11 of 24
/// unanswerable queries flagged at 7 % false alarms; 0.10: 17 at 13 %).
pub const LEVEL_MARGIN: f32 = 0.08;

/// Sample questions a language needs for a level of its own.
pub const MIN_SAMPLE_QUESTIONS: usize = 8;

/// The best dense score of search vector `v` over every chunk (`None` on a
/// bundle without vectors).
pub fn best_dense(b: &Bundle, v: &[f32]) -> Option<f32> {
    if !b.has_vectors() {
        return None;
    }
    // on a bundle with sign codes: the best of the rescored chunks
    b.dense_raw(v, &|_| true).best()
}

/// A query's confidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// Whether the best match is weak; `None`: not judged (no query vector,
    /// or no levels in the bundle).
    pub low: Option<bool>,
    /// The score judged: the best dense score over every chunk.
    pub score: Option<f32>,
    /// The level it was compared with.
    pub level: Option<f32>,
    /// The language whose level that is; `None` for the fallback.
    pub level_lang: Option<String>,
}

/// Compares `score` with the level of the first of `langs` that has one,
/// else with the fallback.
pub fn judge(
    levels: Option<&ConfidenceLevels>,
    score: Option<f32>,
    langs: &[Option<&str>],
) -> Verdict {
    let Some(levels) = levels else {
        return Verdict {
            low: None,
            score,
            level: None,
            level_lang: None,
        };
    };
    let own = langs
        .iter()
        .flatten()
        .find_map(|l| levels.dense.get(*l).map(|&v| (l.to_string(), v)));
    let (level_lang, level) = match own {
        Some((l, v)) => (Some(l), v),
        None => (None, levels.fallback),
    };
    Verdict {
        low: score.map(|s| s < level),
        score,
        level: Some(level),
        level_lang,
    }
}

/// The verdict on query `text` (search vector `vector`, `None` when it
/// was answered by keywords) from a reader in `reader_lang`: see the module docs.
pub fn verdict(
    b: &Bundle,
    text: &str,
    vector: Option<&[f32]>,
    reader_lang: Option<&str>,
) -> Verdict {
    let score = vector.and_then(|v| best_dense(b, v));
    let query_lang = crate::lang::detect_language(text);
    judge(
        b.manifest.confidence.as_ref(),
        score,
        &[query_lang, reader_lang],
    )
}

/// The levels from the sample questions' best dense scores on the site,
/// by language (see the module docs); `None` when no language has
/// [`MIN_SAMPLE_QUESTIONS`] scores.
pub fn levels_from_samples(scores: &BTreeMap<String, Vec<f32>>) -> Option<ConfidenceLevels> {
    let dense: BTreeMap<String, f32> = scores
        .iter()
        .filter(|(_, s)| s.len() >= MIN_SAMPLE_QUESTIONS && s.iter().all(|x| x.is_finite()))
        .map(|(l, s)| {
            let level = quantile(s, LEVEL_QUANTILE) + LEVEL_MARGIN;
            (l.clone(), round4(level.clamp(-1.0, 1.0)))
        })
        .collect();
    if dense.is_empty() {
        return None;
    }
    let all: Vec<f32> = dense.values().copied().collect();
    Some(ConfidenceLevels {
        method: METHOD.into(),
        fallback: round4(quantile(&all, 0.5)),
        dense,
    })
}

/// Four decimals: the manifest stays readable, and the level is what it says.
fn round4(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}

/// Linear-interpolated quantile `q` of non-empty `xs`.
fn quantile(xs: &[f32], q: f64) -> f32 {
    let mut v = xs.to_vec();
    v.sort_by(f32::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let w = (pos - lo as f64) as f32;
    v[lo] + (v[hi] - v[lo]) * w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels() -> ConfidenceLevels {
        ConfidenceLevels {
            method: METHOD.into(),
            dense: [("en".to_string(), 0.4), ("sw".to_string(), 0.3)].into(),
            fallback: 0.35,
        }
    }

    #[test]
    fn the_query_language_decides_the_level_then_the_reader_language_then_the_fallback() {
        let l = levels();
        let v = judge(Some(&l), Some(0.33), &[Some("sw"), Some("en")]);
        assert_eq!(
            (v.low, v.level, v.level_lang.as_deref()),
            (Some(false), Some(0.3), Some("sw"))
        );
        let v = judge(Some(&l), Some(0.33), &[None, Some("en")]);
        assert_eq!((v.low, v.level_lang.as_deref()), (Some(true), Some("en")));
        let v = judge(Some(&l), Some(0.33), &[Some("xx"), None]);
        assert_eq!(
            (v.low, v.level, v.level_lang),
            (Some(true), Some(0.35), None)
        );
    }

    #[test]
    fn no_score_or_no_levels_is_no_verdict() {
        assert_eq!(judge(Some(&levels()), None, &[Some("en")]).low, None);
        let v = judge(None, Some(0.9), &[Some("en")]);
        assert_eq!((v.low, v.score, v.level), (None, Some(0.9), None));
    }

    #[test]
    fn levels_sit_above_most_sample_questions_per_language() {
        let mut scores = BTreeMap::new();
        scores.insert(
            "en".to_string(),
            (0..24).map(|i| 0.2 + i as f32 * 0.01).collect(),
        );
        scores.insert(
            "sw".to_string(),
            (0..24).map(|i| 0.1 + i as f32 * 0.01).collect(),
        );
        scores.insert("xx".to_string(), vec![0.9; 3]); // too few to count
        let l = levels_from_samples(&scores).unwrap();
        assert_eq!(l.dense.keys().collect::<Vec<_>>(), ["en", "sw"]);
        let en = l.dense["en"];
        let above = scores["en"].iter().filter(|&&s| s < en).count();
        assert!((21..=24).contains(&above), "{en} is above {above} of 24");
        assert!(l.dense["sw"] < en);
        assert!(l.fallback > l.dense["sw"] && l.fallback < en);
        assert!(levels_from_samples(&BTreeMap::new()).is_none());
    }
}
