//! Retrieval quality of a bundle on labelled queries, in the three search
//! modes, sliced by reader language and by query kind.
//!
//! # Query file
//!
//! JSONL, one query per line:
//!
//! ```json
//! {"qid": "es-014", "text": "olvidé mi contraseña", "lang": "es", "kind": "typo", "relevant": {"reset-password": 2, "enable-2fa": 1}}
//! ```
//!
//! `qid` and `text` are required. `lang` is the reader's language (passed to
//! search, which then shows that version of a page when one exists);
//! `kind` is any label to slice by (default `-`); `relevant` maps an article
//! to a grade (1 = related, 2 = answers it; any positive integer works) or is a
//! list of ids (grade 1 each). A query with no relevant article is
//! *unanswerable*: it has no ranking metrics, only the low-confidence rate.
//!
//! # Which hit is which article
//!
//! A hit is one translation group (search returns one page per group). A
//! relevance id matches a hit when it matches any page of the hit's group, and
//! it matches a page when it equals (ignoring a trailing `.html` or `/`):
//! 1. the page id (`/es/reset-password`),
//! 2. the page id without its leading language folder, when the first path
//!    segment is the page's language (`reset-password`, `billing/invoices`), or
//! 3. the last path segment of the page id (`reset-password`).
//!
//! So any language version of an article counts, whatever the labels call it.
//! Each labelled article is credited once, at its best rank.
//!
//! # Low confidence
//!
//! Whether a result list deserves a "no good match" notice, from scores alone.
//! Thresholds are quantiles of the best score over the *answerable* queries,
//! so about [`LOW_CONFIDENCE_QUANTILE`] of them are flagged by construction
//! and the rate on unanswerable queries shows how well the rule separates.
//! - dense: the best dense (cosine) score over all chunks is below its
//!   [`LOW_CONFIDENCE_QUANTILE`] quantile;
//! - lexical: the best BM25 score is below its [`LOW_CONFIDENCE_QUANTILE`]
//!   quantile (no match scores 0);
//! - hybrid: weak dense as above *and* no strong lexical match (best BM25
//!   below its [`STRONG_LEXICAL_QUANTILE`] quantile): an exact match on a rare
//!   token (an error code, a product name) vetoes the notice.
//!
//! The thresholds depend on the model and the site, so they are calibrated
//! per run. Next to them, the report judges every query by the bundle's own
//! levels, the ones search uses for its `lowConfidence` flag, which the
//! indexer sets without labels (`crossfind::search::confidence`): that
//! measures the flag the widget's events carry.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::metrics;
use crossfind::bundle::Docs;
use crossfind::error::{Error, Result};
use crossfind::par::par_map;
use crossfind::search::confidence::{self, Verdict};
use crossfind::search::{search, Bundle, Fusion, Mode, Query};

/// The modes compared, in column order.
pub const MODES: [Mode; 3] = [Mode::Dense, Mode::Lexical, Mode::Hybrid];

/// Share of answerable queries the low-confidence thresholds flag.
pub const LOW_CONFIDENCE_QUANTILE: f64 = 0.10;

/// A best BM25 score at or above this quantile (over answerable queries)
/// counts as a strong lexical match.
pub const STRONG_LEXICAL_QUANTILE: f64 = 0.75;

/// Results fetched per query: enough for the @10 metrics.
const METRIC_DEPTH: usize = 10;

/// One labelled query.
#[derive(Clone, Debug, Serialize)]
pub struct LabelledQuery {
    pub qid: String,
    pub text: String,
    pub lang: Option<String>,
    pub kind: String,
    pub relevant: BTreeMap<String, u32>,
    /// The number used for the even/odd split: the digits ending the qid,
    /// else the line's position in the file.
    pub number: usize,
}

impl LabelledQuery {
    pub fn answerable(&self) -> bool {
        !self.relevant.is_empty()
    }
    pub fn even(&self) -> bool {
        self.number.is_multiple_of(2)
    }
}

/// Parses a labelled query file (see the module docs).
pub fn parse_queries(text: &str, source: &str) -> Result<Vec<LabelledQuery>> {
    let bad = |line: usize, why: String| Error::Input(format!("{source}: line {line}: {why}"));
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(n, format!("not JSON ({e})")))?;
        let (Some(qid), Some(qtext)) = (v["qid"].as_str(), v["text"].as_str()) else {
            return Err(bad(n, "needs string fields \"qid\" and \"text\"".into()));
        };
        if !seen.insert(qid.to_string()) {
            return Err(bad(n, format!("qid {qid:?} appears twice")));
        }
        let mut relevant = BTreeMap::new();
        match &v["relevant"] {
            serde_json::Value::Null => {}
            serde_json::Value::Object(m) => {
                for (id, g) in m {
                    let g = g
                        .as_u64()
                        .filter(|&g| g <= u8::MAX as u64)
                        .ok_or_else(|| bad(n, format!("grade of {id:?} is not 0..=255")))?;
                    if g > 0 {
                        relevant.insert(id.clone(), g as u32);
                    }
                }
            }
            serde_json::Value::Array(ids) => {
                for id in ids {
                    let id = id
                        .as_str()
                        .ok_or_else(|| bad(n, "\"relevant\" list must hold strings".into()))?;
                    relevant.insert(id.to_string(), 1);
                }
            }
            _ => {
                return Err(bad(
                    n,
                    "\"relevant\" must be an object {id: grade} or a list of ids".into(),
                ))
            }
        }
        let digits: String = qid
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        out.push(LabelledQuery {
            qid: qid.to_string(),
            text: qtext.to_string(),
            lang: v["lang"].as_str().map(str::to_string),
            kind: v["kind"].as_str().unwrap_or("-").to_string(),
            relevant,
            number: digits.parse().unwrap_or(out.len()),
        });
    }
    if out.is_empty() {
        return Err(Error::Input(format!("{source} holds no queries")));
    }
    Ok(out)
}

fn normalize_id(s: &str) -> &str {
    let s = s.trim();
    let s = s.strip_suffix(".html").unwrap_or(s);
    match s.strip_suffix('/') {
        Some(t) if !t.is_empty() => t,
        _ => s,
    }
}

/// The ids a relevance label may use for a page (see the module docs).
pub fn article_keys(page_id: &str, lang: &str) -> Vec<String> {
    let id = normalize_id(page_id);
    let mut keys = vec![id.to_string()];
    let rest = id.trim_start_matches('/');
    if let Some((first, tail)) = rest.split_once('/') {
        let primary = first.split(['-', '_']).next().unwrap_or(first);
        if !tail.is_empty()
            && (first.eq_ignore_ascii_case(lang) || primary.eq_ignore_ascii_case(lang))
        {
            keys.push(tail.to_string());
        }
    }
    if let Some(last) = id.rsplit('/').next().filter(|s| !s.is_empty()) {
        keys.push(last.to_string());
    }
    keys.dedup();
    keys
}

/// Translation groups of a bundle and the ids labels may use for them.
pub struct Articles {
    group_of_page: HashMap<String, usize>,
    group_langs: Vec<BTreeSet<String>>,
    by_key: HashMap<String, Vec<usize>>,
}

impl Articles {
    pub fn new(docs: &Docs) -> Self {
        let mut group_index: HashMap<&str, usize> = HashMap::new();
        let mut group_langs: Vec<BTreeSet<String>> = Vec::new();
        let mut group_of_page = HashMap::new();
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for p in &docs.pages {
            let g = *group_index.entry(p.group.as_str()).or_insert_with(|| {
                group_langs.push(BTreeSet::new());
                group_langs.len() - 1
            });
            group_langs[g].insert(p.lang.clone());
            group_of_page.insert(p.id.clone(), g);
            for k in article_keys(&p.id, &p.lang) {
                let e = by_key.entry(k).or_default();
                if !e.contains(&g) {
                    e.push(g);
                }
            }
        }
        Articles {
            group_of_page,
            group_langs,
            by_key,
        }
    }

    /// The translation groups a relevance id names (usually one).
    pub fn resolve(&self, label: &str) -> &[usize] {
        self.by_key
            .get(normalize_id(label))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn group_of(&self, page_id: &str) -> Option<usize> {
        self.group_of_page.get(page_id).copied()
    }

    /// Whether the group has a page in `lang`.
    pub fn has_lang(&self, group: usize, lang: &str) -> bool {
        self.group_langs[group].contains(lang)
    }
}

/// Labels that match no page, or more than one translation group.
pub fn label_warnings(queries: &[LabelledQuery], articles: &Articles) -> Vec<String> {
    let mut missing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut ambiguous: BTreeMap<&str, usize> = BTreeMap::new();
    for q in queries {
        for id in q.relevant.keys() {
            match articles.resolve(id).len() {
                0 => missing.entry(id).or_default().push(&q.qid),
                1 => {}
                n => {
                    ambiguous.insert(id, n);
                }
            }
        }
    }
    let mut out: Vec<String> = missing
        .into_iter()
        .map(|(id, qids)| {
            format!(
                "relevance id {id:?} ({}) matches no page of the bundle; it counts as never found",
                qids.join(", ")
            )
        })
        .collect();
    out.extend(ambiguous.into_iter().map(|(id, n)| {
        format!("relevance id {id:?} matches pages of {n} translation groups; use a full page id")
    }));
    out
}

/// One query in one mode.
#[derive(Clone, Debug, Serialize)]
pub struct ModeRun {
    pub mode: Mode,
    /// Page ids shown, best first (at most `max(k, 10)`).
    pub hits: Vec<String>,
    /// Their fused scores (in dense and lexical mode: that signal's score).
    pub scores: Vec<f32>,
    /// The grade credited at each rank (0: not relevant or already credited).
    pub grades: Vec<u32>,
    pub recall_1: Option<f64>,
    pub recall_5: Option<f64>,
    pub mrr_10: Option<f64>,
    pub ndcg_10: Option<f64>,
    /// Among the top k hits, those whose article exists in the reader's language…
    pub reader_available: usize,
    /// … and those of them shown in that language.
    pub reader_shown: usize,
    /// The low-confidence rule's verdict (see the module docs).
    pub low_confidence: bool,
}

/// One query in every mode.
#[derive(Clone, Debug, Serialize)]
pub struct QueryResult {
    pub qid: String,
    pub lang: String,
    pub kind: String,
    pub even: bool,
    pub answerable: bool,
    /// Best dense score over all chunks (no query vector: none).
    pub top_dense: Option<f32>,
    /// Best BM25 score (0 when no term matches).
    pub top_lexical: f32,
    /// The language the query is written in, as search detects it.
    pub query_lang: Option<String>,
    /// The verdict of the bundle's own levels, as search gives it.
    pub bundle_verdict: Verdict,
    pub runs: Vec<ModeRun>,
}

impl QueryResult {
    pub fn run(&self, mode: Mode) -> Option<&ModeRun> {
        self.runs.iter().find(|r| r.mode == mode)
    }
}

/// Runs one query in one mode and judges the ranking.
fn run_mode(
    bundle: &Bundle,
    articles: &Articles,
    q: &LabelledQuery,
    vector: Option<&[f32]>,
    mode: Mode,
    fusion: Fusion,
    k: usize,
) -> ModeRun {
    let hits = search(
        bundle,
        &Query {
            text: &q.text,
            vector: if mode == Mode::Lexical { None } else { vector },
            lang: q.lang.as_deref(),
            k: k.max(METRIC_DEPTH),
            mode,
            fusion,
            filter: None,
        },
    );
    // label -> (grade, groups); each label is credited once
    let labels: Vec<(u32, &[usize])> = q
        .relevant
        .iter()
        .map(|(id, &g)| (g, articles.resolve(id)))
        .collect();
    let mut credited = vec![false; labels.len()];
    let mut grades = Vec::with_capacity(hits.len());
    let (mut available, mut shown) = (0, 0);
    for (rank, h) in hits.iter().enumerate() {
        let group = articles.group_of(&h.page_id);
        let mut grade = 0;
        if let Some(g) = group {
            for (i, (lg, groups)) in labels.iter().enumerate() {
                if !credited[i] && groups.contains(&g) {
                    credited[i] = true;
                    grade = grade.max(*lg);
                }
            }
        }
        grades.push(grade);
        if let (Some(g), Some(l), true) = (group, q.lang.as_deref(), rank < k) {
            if articles.has_lang(g, l) {
                available += 1;
                shown += usize::from(h.lang == l);
            }
        }
    }
    let label_grades: Vec<u32> = labels.iter().map(|(g, _)| *g).collect();
    ModeRun {
        mode,
        hits: hits.iter().map(|h| h.page_id.clone()).collect(),
        scores: hits.iter().map(|h| h.fused).collect(),
        recall_1: metrics::recall_at(&grades, &label_grades, 1),
        recall_5: metrics::recall_at(&grades, &label_grades, 5),
        mrr_10: metrics::reciprocal_rank(&grades, &label_grades, 10),
        ndcg_10: metrics::ndcg_at(&grades, &label_grades, 10),
        grades,
        reader_available: available,
        reader_shown: shown,
        low_confidence: false,
    }
}

/// The low-confidence thresholds, calibrated on the answerable queries.
#[derive(Clone, Debug, Serialize)]
pub struct LowConfidenceRule {
    pub quantile: f64,
    /// Best dense score below this: weak dense evidence.
    pub dense_threshold: Option<f32>,
    /// Best BM25 score below this: weak lexical evidence.
    pub lexical_threshold: Option<f32>,
    /// Best BM25 score at or above this: a strong lexical match (hybrid veto).
    pub strong_lexical_threshold: Option<f32>,
    pub dense_rule: String,
    pub lexical_rule: String,
    pub hybrid_rule: String,
    /// Per reader language with at least [`MIN_QUERIES_PER_LANGUAGE_RULE`]
    /// answerable queries: that language's own dense threshold (scores run
    /// lower in some languages, which a site-wide threshold flags as weak).
    pub dense_threshold_by_lang: BTreeMap<String, f32>,
}

/// Answerable queries a language needs for a threshold of its own.
pub const MIN_QUERIES_PER_LANGUAGE_RULE: usize = 10;

impl LowConfidenceRule {
    pub fn calibrate(results: &[QueryResult]) -> Self {
        let answerable = results.iter().filter(|r| r.answerable);
        let dense: Vec<f32> = answerable.clone().filter_map(|r| r.top_dense).collect();
        let lexical: Vec<f32> = answerable.map(|r| r.top_lexical).collect();
        let q = LOW_CONFIDENCE_QUANTILE;
        let dt = metrics::quantile(&dense, q);
        let lt = metrics::quantile(&lexical, q);
        let st = metrics::quantile(&lexical, STRONG_LEXICAL_QUANTILE);
        let f = |t: Option<f32>| t.map_or("-".to_string(), |t| format!("{t:.3}"));
        let mut by_lang: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
        for r in results.iter().filter(|r| r.answerable) {
            if let Some(d) = r.top_dense {
                by_lang.entry(r.lang.as_str()).or_default().push(d);
            }
        }
        let dense_threshold_by_lang: BTreeMap<String, f32> = by_lang
            .into_iter()
            .filter(|(_, v)| v.len() >= MIN_QUERIES_PER_LANGUAGE_RULE)
            .filter_map(|(l, v)| metrics::quantile(&v, q).map(|t| (l.to_string(), t)))
            .collect();
        let dense_weak = if dense_threshold_by_lang.is_empty() {
            f(dt)
        } else {
            let per: Vec<String> = dense_threshold_by_lang
                .iter()
                .map(|(l, t)| format!("{l} {t:.3}"))
                .collect();
            format!(
                "its language's threshold ({}; others {})",
                per.join(", "),
                f(dt)
            )
        };
        LowConfidenceRule {
            quantile: q,
            dense_threshold: dt,
            lexical_threshold: lt,
            strong_lexical_threshold: st,
            dense_rule: format!("best dense score < {dense_weak}"),
            lexical_rule: format!("best BM25 score < {}", f(lt)),
            hybrid_rule: format!("best dense < {dense_weak} and best BM25 < {}", f(st)),
            dense_threshold_by_lang,
        }
    }

    pub fn flags(&self, r: &QueryResult, mode: Mode) -> bool {
        self.flags_scores(&r.lang, r.top_dense, r.top_lexical, mode)
    }

    /// The rule's verdict on a query in reader language `lang` whose best
    /// dense and BM25 scores are these.
    pub fn flags_scores(
        &self,
        lang: &str,
        top_dense: Option<f32>,
        top_lexical: f32,
        mode: Mode,
    ) -> bool {
        let threshold = self
            .dense_threshold_by_lang
            .get(lang)
            .copied()
            .or(self.dense_threshold);
        let weak_dense = match (top_dense, threshold) {
            (Some(s), Some(t)) => s < t,
            // no vector: no dense evidence at all
            (None, _) => true,
            (Some(_), None) => false,
        };
        let weak_lexical = self.lexical_threshold.is_some_and(|t| top_lexical < t);
        let strong_lexical = self
            .strong_lexical_threshold
            .is_some_and(|t| top_lexical >= t);
        match mode {
            Mode::Dense => weak_dense,
            Mode::Lexical => weak_lexical,
            Mode::Hybrid => weak_dense && !strong_lexical,
        }
    }
}

/// The best dense score over all chunks (none without a query vector) and
/// the best BM25 score (0 when no term matches): what the low-confidence
/// rule judges.
pub fn best_scores(bundle: &Bundle, text: &str, vector: Option<&[f32]>) -> (Option<f32>, f32) {
    let dense = vector.and_then(|v| confidence::best_dense(bundle, v));
    let lexical = bundle.lexical.search(text, 1).first().map_or(0.0, |x| x.1);
    (dense, lexical)
}

/// Runs every query in every mode (unjudged low-confidence flags).
pub fn run_queries(
    bundle: &Bundle,
    articles: &Articles,
    queries: &[LabelledQuery],
    vectors: &[Option<Vec<f32>>],
    fusion: Fusion,
    k: usize,
) -> Vec<QueryResult> {
    par_map(queries, |i, q| {
        let v = vectors.get(i).and_then(|v| v.as_deref());
        let (top_dense, top_lexical) = best_scores(bundle, &q.text, v);
        let query_lang = crossfind::ingest::detect_language(&q.text);
        QueryResult {
            qid: q.qid.clone(),
            lang: q.lang.clone().unwrap_or_else(|| "-".into()),
            kind: q.kind.clone(),
            even: q.even(),
            answerable: q.answerable(),
            top_dense,
            top_lexical,
            query_lang: query_lang.map(str::to_string),
            bundle_verdict: confidence::verdict(bundle, &q.text, v, q.lang.as_deref()),
            runs: MODES
                .iter()
                .map(|&m| run_mode(bundle, articles, q, v, m, fusion, k))
                .collect(),
        }
    })
}

/// Aggregates of one slice of queries in one mode.
#[derive(Clone, Debug, Serialize)]
pub struct ModeSummary {
    pub mode: Mode,
    pub recall_1: Option<f64>,
    pub recall_5: Option<f64>,
    pub mrr_10: Option<f64>,
    pub ndcg_10: Option<f64>,
    /// Reader-language share (see [`ModeRun::reader_shown`]).
    pub reader_share: Option<f64>,
    /// Share of the unanswerable queries flagged low-confidence.
    pub low_conf_unanswerable: Option<f64>,
    /// Share of the answerable queries flagged (false alarms).
    pub low_conf_answerable: Option<f64>,
}

/// One row of a table: a language, a kind, or an average.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub queries: usize,
    pub answerable: usize,
    pub modes: Vec<ModeSummary>,
    /// Shares flagged by the bundle's own levels (no verdict: not counted),
    /// of the unanswerable queries…
    pub bundle_flagged_unanswerable: Option<f64>,
    /// … and of the answerable ones (false alarms).
    pub bundle_flagged_answerable: Option<f64>,
}

impl Row {
    pub fn mode(&self, mode: Mode) -> &ModeSummary {
        self.modes
            .iter()
            .find(|m| m.mode == mode)
            .expect("every row has every mode")
    }
}

fn summarize(name: &str, rs: &[&QueryResult]) -> Row {
    let modes = MODES
        .iter()
        .map(|&mode| {
            let runs: Vec<(&QueryResult, &ModeRun)> = rs
                .iter()
                .filter_map(|r| r.run(mode).map(|m| (*r, m)))
                .collect();
            let rate = |answerable: bool| {
                metrics::mean(
                    runs.iter()
                        .filter(|(r, _)| r.answerable == answerable)
                        .map(|(_, m)| Some(if m.low_confidence { 1.0 } else { 0.0 })),
                )
            };
            let (avail, shown) = runs.iter().fold((0, 0), |(a, s), (_, m)| {
                (a + m.reader_available, s + m.reader_shown)
            });
            ModeSummary {
                mode,
                recall_1: metrics::mean(runs.iter().map(|(_, m)| m.recall_1)),
                recall_5: metrics::mean(runs.iter().map(|(_, m)| m.recall_5)),
                mrr_10: metrics::mean(runs.iter().map(|(_, m)| m.mrr_10)),
                ndcg_10: metrics::mean(runs.iter().map(|(_, m)| m.ndcg_10)),
                reader_share: (avail > 0).then(|| shown as f64 / avail as f64),
                low_conf_unanswerable: rate(false),
                low_conf_answerable: rate(true),
            }
        })
        .collect();
    let bundle_rate = |answerable: bool| {
        metrics::mean(
            rs.iter()
                .filter(|r| r.answerable == answerable)
                .filter_map(|r| r.bundle_verdict.low)
                .map(|low| Some(if low { 1.0 } else { 0.0 })),
        )
    };
    Row {
        name: name.to_string(),
        queries: rs.len(),
        answerable: rs.iter().filter(|r| r.answerable).count(),
        modes,
        bundle_flagged_unanswerable: bundle_rate(false),
        bundle_flagged_answerable: bundle_rate(true),
    }
}

/// The unweighted mean of rows (macro average).
fn macro_row(name: &str, rows: &[Row]) -> Row {
    let modes = MODES
        .iter()
        .map(|&mode| {
            let ms: Vec<&ModeSummary> = rows.iter().map(|r| r.mode(mode)).collect();
            let avg = |f: fn(&ModeSummary) -> Option<f64>| metrics::mean(ms.iter().map(|m| f(m)));
            ModeSummary {
                mode,
                recall_1: avg(|m| m.recall_1),
                recall_5: avg(|m| m.recall_5),
                mrr_10: avg(|m| m.mrr_10),
                ndcg_10: avg(|m| m.ndcg_10),
                reader_share: avg(|m| m.reader_share),
                low_conf_unanswerable: avg(|m| m.low_conf_unanswerable),
                low_conf_answerable: avg(|m| m.low_conf_answerable),
            }
        })
        .collect();
    Row {
        name: name.to_string(),
        queries: rows.iter().map(|r| r.queries).sum(),
        answerable: rows.iter().map(|r| r.answerable).sum(),
        modes,
        bundle_flagged_unanswerable: metrics::mean(
            rows.iter().map(|r| r.bundle_flagged_unanswerable),
        ),
        bundle_flagged_answerable: metrics::mean(rows.iter().map(|r| r.bundle_flagged_answerable)),
    }
}

/// Names in first-appearance order.
fn ordered<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    names.filter(|n| seen.insert(*n)).collect()
}

/// Everything `crossfind eval` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub bundle: String,
    pub queries_file: String,
    /// `--single-copy`: the seed that chose one version of each translated article.
    pub single_copy: Option<u64>,
    pub k: usize,
    pub fusion: Fusion,
    pub low_confidence: LowConfidenceRule,
    /// The bundle's own low-confidence levels (set by the indexer), when it has them.
    pub bundle_levels: Option<crossfind::bundle::ConfidenceLevels>,
    /// Where they come from, when not from the bundle's manifest.
    pub bundle_levels_note: Option<String>,
    /// The best dense scores of the model pack's sample questions on this
    /// bundle, by language: what the indexer set its levels from.
    pub sample_scores: BTreeMap<String, Vec<f32>>,
    /// One row per reader language, in order of first appearance.
    pub by_lang: Vec<Row>,
    pub by_kind: Vec<Row>,
    /// Mean over the languages (each language weighs the same).
    pub macro_langs: Row,
    /// Mean over all queries.
    pub all: Row,
    /// The language with the lowest MRR@10, per mode.
    pub worst_lang: BTreeMap<String, String>,
    pub warnings: Vec<String>,
    pub queries: Vec<QueryResult>,
}

/// Sets the low-confidence flags and aggregates.
pub fn evaluate(
    mut results: Vec<QueryResult>,
    fusion: Fusion,
    k: usize,
    warnings: Vec<String>,
) -> Evaluation {
    let rule = LowConfidenceRule::calibrate(&results);
    for r in &mut results {
        let flags: Vec<bool> = r.runs.iter().map(|m| rule.flags(r, m.mode)).collect();
        for (m, f) in r.runs.iter_mut().zip(flags) {
            m.low_confidence = f;
        }
    }
    let slice = |pick: &dyn Fn(&QueryResult) -> bool| -> Vec<&QueryResult> {
        results.iter().filter(|r| pick(r)).collect()
    };
    let by_lang: Vec<Row> = ordered(results.iter().map(|r| r.lang.as_str()))
        .into_iter()
        .map(|l| summarize(l, &slice(&|r| r.lang == l)))
        .collect();
    let by_kind: Vec<Row> = ordered(results.iter().map(|r| r.kind.as_str()))
        .into_iter()
        .map(|kd| summarize(kd, &slice(&|r| r.kind == kd)))
        .collect();
    let macro_langs = macro_row("macro (languages)", &by_lang);
    let all = summarize("all queries", &slice(&|_| true));
    let worst_lang = MODES
        .iter()
        .filter_map(|&m| {
            by_lang
                .iter()
                .filter_map(|r| r.mode(m).mrr_10.map(|v| (r, v)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(r, _)| (mode_name(m).to_string(), r.name.clone()))
        })
        .collect();
    Evaluation {
        bundle: String::new(),
        queries_file: String::new(),
        single_copy: None,
        k,
        fusion,
        low_confidence: rule,
        bundle_levels: None,
        bundle_levels_note: None,
        sample_scores: BTreeMap::new(),
        by_lang,
        by_kind,
        macro_langs,
        all,
        worst_lang,
        warnings,
        queries: results,
    }
}

pub fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Dense => "dense",
        Mode::Lexical => "lexical",
        Mode::Hybrid => "hybrid",
    }
}

/// Macro MRR@10 over languages of the queries `pick` keeps, in one mode.
pub fn macro_mrr(results: &[QueryResult], mode: Mode, pick: impl Fn(&QueryResult) -> bool) -> f64 {
    let mut per_lang: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
    for r in results.iter().filter(|r| pick(r)) {
        if let Some(m) = r.run(mode) {
            per_lang.entry(&r.lang).or_default().push(m.mrr_10);
        }
    }
    metrics::mean(per_lang.into_values().map(metrics::mean)).unwrap_or(0.0)
}

/// One fusion setting of the tuning grid, scored by hybrid macro MRR@10.
#[derive(Clone, Debug, Serialize)]
pub struct TuneRow {
    pub fusion: Fusion,
    /// On the even-numbered queries (the ones tuned on).
    pub even: f64,
    /// On the odd-numbered queries (held out).
    pub odd: f64,
    pub all: f64,
    /// On all queries, per kind.
    pub by_kind: BTreeMap<String, f64>,
}

/// The grid `crossfind eval --tune` searches: round numbers only.
pub fn tuning_grid() -> Vec<Fusion> {
    let mut grid = Vec::new();
    for page_context in [0.0, 0.1, 0.15, 0.2, 0.3] {
        for lexical_weight in [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5] {
            for depth in [20, 50, 200] {
                grid.push(Fusion {
                    method: crossfind::search::FusionMethod::Score,
                    rrf_k: 30.0,
                    dense_weight: 1.0,
                    lexical_weight,
                    depth,
                    abstain: true,
                    page_context,
                    identifier_weight: Fusion::default().identifier_weight,
                    crowding_weight: Fusion::default().crowding_weight,
                });
            }
        }
    }
    for rrf_k in [5.0, 10.0, 20.0, 30.0, 60.0] {
        for dense_weight in [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0] {
            for depth in [20, 50, 200] {
                grid.push(Fusion {
                    method: crossfind::search::FusionMethod::Rank,
                    rrf_k,
                    dense_weight,
                    lexical_weight: 1.0,
                    depth,
                    abstain: true,
                    page_context: Fusion::default().page_context,
                    identifier_weight: 0.0,
                    crowding_weight: Fusion::default().crowding_weight,
                });
            }
        }
    }
    grid
}

/// Scores every fusion setting in hybrid mode, best on the even queries first.
pub fn tune(
    bundle: &Bundle,
    articles: &Articles,
    queries: &[LabelledQuery],
    vectors: &[Option<Vec<f32>>],
    grid: &[Fusion],
) -> Vec<TuneRow> {
    let mut rows: Vec<TuneRow> = grid
        .iter()
        .map(|&fusion| {
            let results: Vec<QueryResult> = par_map(queries, |i, q| {
                let v = vectors.get(i).and_then(|v| v.as_deref());
                QueryResult {
                    qid: q.qid.clone(),
                    lang: q.lang.clone().unwrap_or_else(|| "-".into()),
                    kind: q.kind.clone(),
                    even: q.even(),
                    answerable: q.answerable(),
                    top_dense: None,
                    top_lexical: 0.0,
                    query_lang: None,
                    bundle_verdict: confidence::judge(None, None, &[]),
                    runs: vec![run_mode(
                        bundle,
                        articles,
                        q,
                        v,
                        Mode::Hybrid,
                        fusion,
                        METRIC_DEPTH,
                    )],
                }
            });
            let kinds: BTreeSet<&str> = results.iter().map(|r| r.kind.as_str()).collect();
            TuneRow {
                fusion,
                even: macro_mrr(&results, Mode::Hybrid, |r| r.even),
                odd: macro_mrr(&results, Mode::Hybrid, |r| !r.even),
                all: macro_mrr(&results, Mode::Hybrid, |_| true),
                by_kind: kinds
                    .into_iter()
                    .filter(|kd| results.iter().any(|r| r.kind == *kd && r.answerable))
                    .map(|kd| {
                        (
                            kd.to_string(),
                            macro_mrr(&results, Mode::Hybrid, |r| r.kind == kd),
                        )
                    })
                    .collect(),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.even.total_cmp(&a.even).then(b.all.total_cmp(&a.all)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossfind::bundle::PageMeta;

    #[test]
    fn keys_of_a_page() {
        assert_eq!(
            article_keys("/es/reset-password", "es"),
            ["/es/reset-password", "reset-password"]
        );
        assert_eq!(
            article_keys("/pt-br/billing/invoices", "pt"),
            ["/pt-br/billing/invoices", "billing/invoices", "invoices"]
        );
        // no language folder: only the id and its last segment
        assert_eq!(
            article_keys("/docs/setup.html", "en"),
            ["/docs/setup", "setup"]
        );
        assert_eq!(article_keys("faq", "en"), ["faq"]);
    }

    #[test]
    fn labels_resolve_to_groups() {
        let page = PageMeta::new;
        let docs = Docs {
            pages: vec![
                page("/en/reset-password", "en", "g1"),
                page("/es/restablecer", "es", "g1"),
                page("/en/billing/index", "en", "g2"),
                page("/en/account/index", "en", "g3"),
            ],
            chunks: vec![],
            records: Vec::new(),
            record_files: Vec::new(),
        };
        let a = Articles::new(&docs);
        assert_eq!(a.resolve("reset-password"), [0]);
        // a translated slug still finds the group, and any version counts
        assert_eq!(a.resolve("restablecer"), [0]);
        assert_eq!(a.resolve("/es/restablecer.html"), [0]);
        assert_eq!(a.resolve("billing/index"), [1]);
        assert_eq!(a.resolve("index"), [1, 2]);
        assert!(a.resolve("nope").is_empty());
        assert!(a.has_lang(0, "es") && !a.has_lang(1, "es"));
        let qs = parse_queries(
            r#"{"qid":"q1","text":"x","relevant":{"index":2,"nope":1,"reset-password":0}}"#,
            "t",
        )
        .unwrap();
        assert_eq!(qs[0].relevant.len(), 2, "grade 0 is dropped");
        let w = label_warnings(&qs, &a);
        assert_eq!(w.len(), 2, "{w:?}");
    }

    #[test]
    fn parses_queries() {
        let text = "{\"qid\": \"en-002\", \"text\": \"a\", \"lang\": \"en\", \"kind\": \"typo\", \"relevant\": {\"x\": 2}}\n\n{\"qid\": \"b\", \"text\": \"c\", \"relevant\": [\"y\"]}\n";
        let qs = parse_queries(text, "q.jsonl").unwrap();
        assert_eq!(qs.len(), 2);
        assert!(qs[0].even() && qs[0].answerable());
        assert_eq!(qs[1].kind, "-");
        assert_eq!(qs[1].relevant["y"], 1);
        assert_eq!(qs[1].number, 1, "no digits: position in the file");
        let e = parse_queries("{\"qid\": \"a\"}", "q.jsonl").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(parse_queries(
            "{\"qid\":\"a\",\"text\":\"b\"}\n{\"qid\":\"a\",\"text\":\"b\"}",
            "q"
        )
        .is_err());
    }
}
