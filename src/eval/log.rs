//! `crossfind eval log`: what real readers asked, judged without labels.
//!
//! A site wires the widget's `results` and `zero-results` events to its
//! own analytics (crossfind sends nothing anywhere) and exports the
//! queries as JSONL, one per line:
//!
//! ```text
//! {"query": "rechnung herunterladen", "lang": "de", "count": 12}
//! ```
//!
//! - `query` (or `text`): what the reader typed;
//! - `lang` (optional): the reader's language, the event's `lang` (the
//!   page's); without it the query's own language is detected;
//! - `count` (optional, default 1): how many times it was asked.
//!
//! A line that is not a JSON object is read as a query of its own. The same
//! query in the same language on several lines is counted once, with the
//! counts added up.
//!
//! Each query runs as the widget runs it (hybrid, the reader's language
//! first), and is reported per reader language, weighted by its count:
//!
//! - **no results**: nothing came back;
//! - **low confidence**: the best match is weak. Without `--calibrate`, by
//!   the bundle's own levels: the flag search reports and the widget's
//!   events carry (`lowConfidence`), set by the indexer without labels
//!   (`crossfind::search::confidence`). With `--calibrate` labelled queries,
//!   by the rule of `crossfind eval` calibrated on them instead. Not
//!   reported for a bundle indexed before it had levels, without `--calibrate`;
//! - **answer in another language**: none of the top results is in the reader's
//!   language, so the site has no page in that language for the question.
//!
//! These are the questions to write content for, and the report lists the
//! most asked of each.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::Serialize;

use super::retrieval::LowConfidenceRule;
use crossfind::par::par_map;
use crossfind::search::{search, Bundle, Fusion, Mode, Query};

/// One distinct query of the log.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedQuery {
    pub text: String,
    /// The reader's language, when the log gives it.
    pub lang: Option<String>,
    pub count: u64,
}

/// Reads a query log (see the module docs); returns the queries and
/// warnings about lines left out.
pub fn parse_log(text: &str, source: &str) -> Result<(Vec<LoggedQuery>, Vec<String>)> {
    let mut out: Vec<LoggedQuery> = Vec::new();
    let mut at: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
    let mut warnings = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (q, lang, count) = if line.starts_with('{') {
            let v: serde_json::Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    warnings.push(format!("{source}:{}: not JSON ({e}); left out", n + 1));
                    continue;
                }
            };
            let q = v
                .get("query")
                .or_else(|| v.get("text"))
                .and_then(|q| q.as_str())
                .map(str::trim)
                .unwrap_or_default()
                .to_string();
            let lang = v
                .get("lang")
                .and_then(|l| l.as_str())
                .map(|l| l.trim().to_ascii_lowercase())
                .filter(|l| !l.is_empty());
            let count = match v.get("count") {
                None | Some(serde_json::Value::Null) => 1,
                Some(c) => match c.as_u64() {
                    Some(c) if c > 0 => c,
                    _ => {
                        warnings.push(format!(
                            "{source}:{}: \"count\" is not a positive whole number; left out",
                            n + 1
                        ));
                        continue;
                    }
                },
            };
            (q, lang, count)
        } else {
            (line.to_string(), None, 1)
        };
        if q.is_empty() {
            warnings.push(format!("{source}:{}: no \"query\"; left out", n + 1));
            continue;
        }
        match at.get(&(q.clone(), lang.clone())) {
            Some(&i) => out[i].count += count,
            None => {
                at.insert((q.clone(), lang.clone()), out.len());
                out.push(LoggedQuery {
                    text: q,
                    lang,
                    count,
                });
            }
        }
    }
    if out.is_empty() {
        bail!("{source} has no queries (JSONL lines with \"query\", or one query per line)");
    }
    Ok((out, warnings))
}

/// One logged query, run.
#[derive(Clone, Debug, Serialize)]
pub struct LoggedResult {
    pub query: String,
    /// The reader's language: the log's, else the query's detected one
    /// (`und` when neither is known).
    pub lang: String,
    pub lang_detected: bool,
    pub count: u64,
    /// Pages shown, best first.
    pub hits: Vec<String>,
    /// Languages of the pages shown.
    pub hit_langs: Vec<String>,
    pub top_dense: Option<f32>,
    pub top_lexical: f32,
    /// `None` with neither a calibrated rule nor levels in the bundle.
    pub low_confidence: Option<bool>,
    /// The best result is in another language than the reader's.
    pub other_language_first: bool,
}

/// Runs every logged query (`vectors[i]`: query `i`'s search vector).
/// Low confidence is judged by `rule` when given, else by the bundle's own
/// levels (search's flag).
pub fn run_log(
    bundle: &Bundle,
    queries: &[LoggedQuery],
    vectors: &[Option<Vec<f32>>],
    rule: Option<&LowConfidenceRule>,
    k: usize,
) -> Vec<LoggedResult> {
    par_map(queries, |i, q| {
        let v = vectors.get(i).and_then(|v| v.as_deref());
        let (lang, lang_detected) = match &q.lang {
            Some(l) => (l.clone(), false),
            None => (
                crossfind::ingest::detect_language(&q.text)
                    .unwrap_or("und")
                    .to_string(),
                true,
            ),
        };
        let hits = search(
            bundle,
            &Query {
                text: &q.text,
                vector: v,
                lang: Some(lang.as_str()).filter(|l| *l != "und"),
                k,
                mode: Mode::Hybrid,
                fusion: Fusion::default(),
                filter: None,
            },
        );
        let (top_dense, top_lexical) = super::retrieval::best_scores(bundle, &q.text, v);
        let hit_langs: Vec<String> = hits.iter().map(|h| h.lang.clone()).collect();
        LoggedResult {
            query: q.text.clone(),
            other_language_first: lang != "und" && hit_langs.first().is_some_and(|l| *l != lang),
            low_confidence: match rule {
                Some(r) => Some(r.flags_scores(&lang, top_dense, top_lexical, Mode::Hybrid)),
                None => {
                    let reader = Some(lang.as_str()).filter(|l| *l != "und");
                    crossfind::search::confidence::verdict(bundle, &q.text, v, reader).low
                }
            },
            lang,
            lang_detected,
            count: q.count,
            hits: hits.iter().map(|h| h.page_id.clone()).collect(),
            hit_langs,
            top_dense,
            top_lexical,
        }
    })
}

/// The shares of one reader language (weighted by count).
#[derive(Clone, Debug, Serialize)]
pub struct LangRow {
    pub lang: String,
    /// Distinct queries, and how many times they were asked in all.
    pub queries: usize,
    pub asked: u64,
    pub no_results: f64,
    pub low_confidence: Option<f64>,
    pub other_language_first: f64,
}

/// Per reader language, then all languages (`lang` "all").
pub fn by_language(results: &[LoggedResult]) -> Vec<LangRow> {
    let mut by: BTreeMap<&str, Vec<&LoggedResult>> = BTreeMap::new();
    for r in results {
        by.entry(r.lang.as_str()).or_default().push(r);
    }
    let row = |lang: &str, rs: &[&LoggedResult]| {
        let asked: u64 = rs.iter().map(|r| r.count).sum();
        let share = |f: &dyn Fn(&LoggedResult) -> bool| {
            rs.iter().filter(|r| f(r)).map(|r| r.count).sum::<u64>() as f64 / asked.max(1) as f64
        };
        LangRow {
            lang: lang.to_string(),
            queries: rs.len(),
            asked,
            no_results: share(&|r| r.hits.is_empty()),
            low_confidence: rs
                .iter()
                .all(|r| r.low_confidence.is_some())
                .then(|| share(&|r| r.low_confidence == Some(true))),
            other_language_first: share(&|r| r.other_language_first),
        }
    };
    let mut rows: Vec<LangRow> = by.iter().map(|(l, rs)| row(l, rs)).collect();
    let all: Vec<&LoggedResult> = results.iter().collect();
    rows.push(row("all", &all));
    rows
}

/// The report: the table by language, then the most asked queries of each
/// problem, `top` of each.
pub fn render(
    results: &[LoggedResult],
    rows: &[LangRow],
    log_file: &str,
    calibrated_on: Option<&str>,
    bundle_levels: bool,
    top: usize,
) -> String {
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let mut s = String::from("# crossfind eval log\n\n");
    let asked: u64 = results.iter().map(|r| r.count).sum();
    s.push_str(&format!(
        "Log `{log_file}`: {} distinct queries, asked {asked} times. Each is run as the widget runs it (hybrid, the reader's language first); shares are of the times asked.  \n",
        results.len()
    ));
    match (calibrated_on, bundle_levels) {
        (Some(f), _) => s.push_str(&format!(
            "Low confidence: the rule of `crossfind eval`, calibrated on `{f}`.\n\n"
        )),
        (None, true) => s.push_str(
            "Low confidence: the bundle's own levels, the flag search reports (`lowConfidence` in the widget's events), set by the indexer without labels.\n\n",
        ),
        (None, false) => s.push_str(
            "Low confidence: not reported (the bundle has no levels: re-index it with this crossfind, or pass `--calibrate` labelled queries).\n\n",
        ),
    }
    s.push_str("| reader language | queries | asked | no results | low confidence | answer in another language |\n|---|--:|--:|--:|--:|--:|\n");
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.lang,
            r.queries,
            r.asked,
            pct(r.no_results),
            r.low_confidence.map_or("-".into(), pct),
            pct(r.other_language_first)
        ));
    }
    let detected = results.iter().filter(|r| r.lang_detected).count();
    if detected > 0 {
        s.push_str(&format!(
            "\n{detected} queries had no `lang` in the log: their reader language is the query's detected language.\n"
        ));
    }
    let mut list = |title: &str, pick: &dyn Fn(&LoggedResult) -> bool| {
        let mut rs: Vec<&LoggedResult> = results.iter().filter(|r| pick(r)).collect();
        if rs.is_empty() {
            return;
        }
        rs.sort_by(|a, b| b.count.cmp(&a.count).then(a.query.cmp(&b.query)));
        s.push_str(&format!("\n## {title} ({} queries)\n\n", rs.len()));
        s.push_str("| asked | lang | query | shown first |\n|--:|---|---|---|\n");
        for r in rs.into_iter().take(top) {
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                r.count,
                r.lang,
                cell(&r.query),
                r.hits.first().map_or("-".into(), |h| cell(h))
            ));
        }
    };
    list(
        "Answer in another language: the best page is not in the reader's language",
        &|r| r.other_language_first,
    );
    list("Low confidence: the best match is weak", &|r| {
        r.low_confidence == Some(true)
    });
    list("No results", &|r| r.hits.is_empty());
    s
}

/// Page and query text in a Markdown table cell.
fn cell(s: &str) -> String {
    s.chars()
        .map(|c| if c == '|' || c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_json_or_plain_and_repeats_add_up() {
        let (q, w) = parse_log(
            "{\"query\": \"rechnung\", \"lang\": \"DE\", \"count\": 3}\n\
             rechnung herunterladen\n\
             {\"text\": \"rechnung\", \"lang\": \"de\"}\n\
             {\"query\": \"\"}\n\
             {\"query\": \"x\", \"count\": -1}\n\
             {broken\n",
            "log.jsonl",
        )
        .unwrap();
        assert_eq!(
            q,
            [
                LoggedQuery {
                    text: "rechnung".into(),
                    lang: Some("de".into()),
                    count: 4
                },
                LoggedQuery {
                    text: "rechnung herunterladen".into(),
                    lang: None,
                    count: 1
                },
            ]
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("log.jsonl:4:"), "{w:?}");
        assert!(parse_log("\n\n", "empty.jsonl").is_err());
    }

    /// A two-page bundle with 4-dimensional vectors and confidence levels.
    fn tiny_bundle(levels: Option<crossfind::bundle::ConfidenceLevels>) -> Bundle {
        use crossfind::bundle::write::{write_shards, Content};
        use crossfind::bundle::{BundleManifest, ChunkMeta, Docs, Fragments, ModelRef, PageMeta};
        use crossfind::search::lexical::LexicalIndexBuilder;
        let page = |id: &str| PageMeta {
            id: id.into(),
            url: format!("{id}.html"),
            lang: "en".into(),
            title: id.into(),
            group: id.into(),
            filters: Default::default(),
            weight: None,
        };
        let docs = Docs {
            pages: vec![page("/en/invoices"), page("/en/password")],
            chunks: (0..2)
                .map(|p| ChunkMeta {
                    page: p,
                    anchor: None,
                    heading: String::new(),
                    frag: 0,
                    weight: None,
                })
                .collect(),
            records: Vec::new(),
            record_files: Vec::new(),
        };
        let mut lex = LexicalIndexBuilder::new();
        lex.add(0, "download an invoice");
        lex.add(1, "reset a password");
        let lexical = lex.finish().to_bytes();
        let values = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let vectors = crossfind::format::tensors::quantize_i8_rows(&values, 4);
        let fragments = [Fragments {
            page: "/en/invoices".into(),
            chunks: vec![(0, vec!["invoice".into()]), (1, vec!["password".into()])],
            ..Default::default()
        }];
        let content = Content {
            docs: &docs,
            dim: 4,
            vectors: &vectors,
            lexical: &lexical,
            fragments: &fragments,
        };
        let model = ModelRef {
            pack_id: "0000000000000000".into(),
            id: "test".into(),
            dim: 4,
            dir: "model".into(),
        };
        let (mut manifest, files) =
            write_shards(std::collections::HashMap::new(), &content, model).unwrap();
        manifest.confidence = levels;
        let manifest = BundleManifest::parse(&manifest.to_json()).unwrap();
        Bundle::from_files(manifest, |n| Ok(files.get(n).cloned()), true).unwrap()
    }

    #[test]
    fn without_labels_the_bundle_levels_judge_confidence() {
        let levels = crossfind::bundle::ConfidenceLevels {
            method: "test".into(),
            dense: [("en".to_string(), 0.5)].into(),
            fallback: 0.6,
        };
        let queries = [
            LoggedQuery {
                text: "invoice".into(),
                lang: Some("en".into()),
                count: 2,
            },
            LoggedQuery {
                text: "weather tomorrow".into(),
                lang: Some("en".into()),
                count: 1,
            },
        ];
        // the first query points at the invoice chunk, the second at nothing
        let vectors = [
            Some(vec![0.9, 0.1, 0.0, 0.42]),
            Some(vec![0.3, 0.3, 0.9, 0.0]),
        ];
        let b = tiny_bundle(Some(levels));
        let results = run_log(&b, &queries, &vectors, None, 5);
        assert_eq!(results[0].low_confidence, Some(false));
        assert_eq!(results[1].low_confidence, Some(true));
        let rows = by_language(&results);
        assert_eq!(rows[0].low_confidence, Some(1.0 / 3.0));
        let report = render(&results, &rows, "log.jsonl", None, true, 5);
        assert!(report.contains("the bundle's own levels"), "{report}");
        assert!(report.contains("| 1 | en | weather tomorrow |"), "{report}");
        // a bundle indexed before levels existed: not reported
        let old = tiny_bundle(None);
        let results = run_log(&old, &queries, &vectors, None, 5);
        assert!(results.iter().all(|r| r.low_confidence.is_none()));
        assert_eq!(by_language(&results)[0].low_confidence, None);
    }

    #[test]
    fn shares_are_weighted_by_how_often_a_query_was_asked() {
        let r = |lang: &str, count: u64, hits: &[&str], other: bool| LoggedResult {
            query: format!("{lang}{count}"),
            lang: lang.into(),
            lang_detected: false,
            count,
            hits: hits.iter().map(|h| h.to_string()).collect(),
            hit_langs: vec![],
            top_dense: None,
            top_lexical: 0.0,
            low_confidence: None,
            other_language_first: other,
        };
        let rows = by_language(&[
            r("de", 3, &["/en/a"], true),
            r("de", 1, &[], false),
            r("ja", 2, &["/ja/b"], false),
        ]);
        assert_eq!(rows[0].lang, "de");
        assert_eq!(rows[0].asked, 4);
        assert_eq!(rows[0].other_language_first, 0.75);
        assert_eq!(rows[0].no_results, 0.25);
        assert_eq!(rows[0].low_confidence, None);
        assert_eq!(rows[2].lang, "all");
        assert_eq!(rows[2].other_language_first, 0.5);
    }
}
