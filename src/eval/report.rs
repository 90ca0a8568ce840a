//! The printed reports: Markdown tables, readable in a terminal and as-is in
//! a `.md` file.

use std::fmt::Write;

use super::pairs::PairsReport;
use super::retrieval::{self, mode_name, Evaluation, Row, TuneRow, MODES};
use crossfind::search::{Fusion, FusionMethod, Mode};

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

fn signed(v: f64) -> String {
    format!("{v:+.3}")
}

fn row_cells(r: &Row) -> String {
    let mut s = format!("| {} | {} |", r.name, r.queries);
    let metrics: [fn(&super::retrieval::ModeSummary) -> Option<f64>; 5] = [
        |m| m.mrr_10,
        |m| m.recall_1,
        |m| m.recall_5,
        |m| m.ndcg_10,
        |m| m.reader_share,
    ];
    for f in metrics {
        for m in MODES {
            let _ = write!(s, " {} |", num(f(r.mode(m))));
        }
    }
    s
}

fn table_head(first: &str) -> String {
    let mut s = format!("| {first} | queries |");
    for name in ["MRR@10", "R@1", "R@5", "nDCG@10", "reader share"] {
        let _ = write!(s, " {name} D | L | H |");
    }
    s.push_str(" |\n|---|--:|");
    s.push_str(&"--:|".repeat(15));
    s.push_str("---|\n");
    s
}

fn abbrev(m: Mode) -> &'static str {
    match m {
        Mode::Dense => "D",
        Mode::Lexical => "L",
        Mode::Hybrid => "H",
    }
}

fn fusion_line(f: &Fusion) -> String {
    let abstain = if f.abstain {
        ", shared terms only when the best dense match is not in the reader's language"
    } else {
        ""
    };
    let fused = match f.method {
        FusionMethod::Rank => format!(
            "rank (RRF): rrf_k {}, dense weight {}, lexical weight {}, depth {}{abstain}",
            f.rrf_k, f.dense_weight, f.lexical_weight, f.depth
        ),
        FusionMethod::Score => format!(
            "score: {} × cosine + {} × BM25 share + {} × identifier share, depth {}{abstain}",
            f.dense_weight, f.lexical_weight, f.identifier_weight, f.depth
        ),
    };
    format!(
        "{fused}; dense = chunk mixed {} with its page, less {} × its crowding",
        f.page_context, f.crowding_weight
    )
}

/// The method and constants of a tuning row, for its first column.
fn fusion_cell(f: &Fusion) -> String {
    match f.method {
        FusionMethod::Rank => format!(
            "rank k {} dense w {}",
            f.rrf_k,
            f.dense_weight / f.lexical_weight
        ),
        FusionMethod::Score => format!(
            "score lexical w {} page {}",
            f.lexical_weight / f.dense_weight,
            f.page_context
        ),
    }
}

/// The `crossfind eval` report.
pub fn render_eval(e: &Evaluation) -> String {
    let mut s = String::new();
    let n = e.queries.len();
    let answerable = e.queries.iter().filter(|q| q.answerable).count();
    let _ = writeln!(s, "# crossfind eval\n");
    let _ = writeln!(
        s,
        "Bundle `{}`, queries `{}`: {n} queries ({answerable} answerable), {} languages, {} kinds.  ",
        e.bundle,
        e.queries_file,
        e.by_lang.len(),
        e.by_kind.len()
    );
    if let Some(seed) = e.single_copy {
        let _ = writeln!(
            s,
            "**Single copy** (seed {seed}): one language version of each translated article kept, so most answers exist in one language only.  "
        );
    }
    let _ = writeln!(s, "Hybrid fusion: {}.  ", fusion_line(&e.fusion));
    let _ = writeln!(
        s,
        "D = dense, L = lexical, H = hybrid. MRR@10, R@1, R@5 (capped recall of the top-grade articles) and graded nDCG@10 over answerable queries; \
         reader share = of the top {} hits whose article exists in the reader's language, the share shown in it.\n",
        e.k
    );

    let _ = writeln!(s, "## By reader language\n");
    s.push_str(&table_head("lang"));
    for r in &e.by_lang {
        let worst: Vec<&str> = MODES
            .iter()
            .filter(|m| e.worst_lang.get(mode_name(**m)) == Some(&r.name))
            .map(|m| abbrev(*m))
            .collect();
        let note = if worst.is_empty() {
            String::new()
        } else {
            format!("<-- worst ({})", worst.join(", "))
        };
        let _ = writeln!(s, "{} {note} |", row_cells(r));
    }
    let _ = writeln!(s, "{} |", row_cells(&e.macro_langs));

    let _ = writeln!(s, "\n## By query kind\n");
    s.push_str(&table_head("kind"));
    for r in &e.by_kind {
        let _ = writeln!(s, "{} |", row_cells(r));
    }
    let _ = writeln!(s, "{} |", row_cells(&e.all));
    let _ = writeln!(s, "{} |", row_cells(&e.macro_langs));

    let rule = &e.low_confidence;
    let _ = writeln!(s, "\n## Low confidence\n");
    let _ = writeln!(
        s,
        "Thresholds are quantiles of the best score over the answerable queries: weak = below the {:.0}% quantile \
         (so about {:.0}% of answerable queries are flagged by construction), strong BM25 = at or above the {:.0}% quantile. \
         A useful rule flags most unanswerable queries.\n",
        rule.quantile * 100.0,
        rule.quantile * 100.0,
        retrieval::STRONG_LEXICAL_QUANTILE * 100.0
    );
    let _ = writeln!(
        s,
        "| mode | low confidence when | unanswerable flagged | answerable flagged |\n|---|---|--:|--:|"
    );
    for m in MODES {
        let text = match m {
            Mode::Dense => &rule.dense_rule,
            Mode::Lexical => &rule.lexical_rule,
            Mode::Hybrid => &rule.hybrid_rule,
        };
        let count = |answerable: bool| {
            flagged_share(
                e.queries
                    .iter()
                    .filter(|q| q.answerable == answerable)
                    .filter_map(|q| q.run(m).map(|r| r.low_confidence)),
            )
        };
        let _ = writeln!(
            s,
            "| {} | {text} | {} | {} |",
            mode_name(m),
            count(false),
            count(true)
        );
    }

    let bundle_count = |answerable: bool| {
        flagged_share(
            e.queries
                .iter()
                .filter(|q| q.answerable == answerable)
                .filter_map(|q| q.bundle_verdict.low),
        )
    };
    match &e.bundle_levels {
        Some(levels) => {
            let per: Vec<String> = levels
                .dense
                .iter()
                .filter(|(l, _)| e.by_lang.iter().any(|r| &r.name == *l))
                .map(|(l, t)| format!("{l} {t:.3}"))
                .collect();
            let _ = writeln!(
                s,
                "| search's flag (`lowConfidence`) | best dense < the bundle's level for the query's language, else the reader's ({}; {} more languages; others {:.3}) | {} | {} |",
                per.join(", "),
                levels.dense.len() - per.len(),
                levels.fallback,
                bundle_count(false),
                bundle_count(true)
            );
            let _ = writeln!(
                s,
                "\nThe last row is the flag search itself reports: its levels are set by the indexer with no labelled queries, from the best scores of the model pack's sample questions (everyday questions in {} languages) on this site ({}); see docs/multilingual.md.",
                e.sample_scores.len(),
                e.bundle_levels_note.as_deref().unwrap_or("read from the bundle's manifest")
            );
        }
        None => {
            let _ = writeln!(
                s,
                "\nThe bundle has no low-confidence levels of its own, so search reports no `lowConfidence` flag."
            );
        }
    }

    let _ = writeln!(
        s,
        "\nShare flagged, per language and kind (unanswerable: should be high; answerable: false alarms). S = search's own flag (the bundle's levels).\n"
    );
    let _ = writeln!(
        s,
        "| slice | unanswerable D | L | H | S | answerable D | L | H | S |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    for r in e.by_lang.iter().chain(&e.by_kind) {
        let mut line = format!("| {} |", r.name);
        for m in MODES {
            let _ = write!(line, " {} |", num(r.mode(m).low_conf_unanswerable));
        }
        let _ = write!(line, " {} |", num(r.bundle_flagged_unanswerable));
        for m in MODES {
            let _ = write!(line, " {} |", num(r.mode(m).low_conf_answerable));
        }
        let _ = write!(line, " {} |", num(r.bundle_flagged_answerable));
        let _ = writeln!(s, "{line}");
    }

    let _ = writeln!(s, "\n## Summary\n");
    let macro_of = |m: Mode| e.macro_langs.mode(m).mrr_10;
    let _ = writeln!(
        s,
        "- macro MRR@10 over languages: dense {}, lexical {}, hybrid {}",
        num(macro_of(Mode::Dense)),
        num(macro_of(Mode::Lexical)),
        num(macro_of(Mode::Hybrid))
    );
    // the fusion constants were tuned on even qids: the odd half is the honest number
    let held = |m: Mode| super::retrieval::macro_mrr(&e.queries, m, |r| !r.even && r.answerable);
    let _ = writeln!(
        s,
        "- held out (odd qids, not used for tuning), macro MRR@10: dense {:.3}, lexical {:.3}, hybrid {:.3}",
        held(Mode::Dense),
        held(Mode::Lexical),
        held(Mode::Hybrid)
    );
    let worst: Vec<String> = MODES
        .iter()
        .filter_map(|m| {
            let name = mode_name(*m);
            e.worst_lang.get(name).map(|l| {
                let v = e
                    .by_lang
                    .iter()
                    .find(|r| &r.name == l)
                    .and_then(|r| r.mode(*m).mrr_10);
                format!("{name} {l} ({})", num(v))
            })
        })
        .collect();
    let _ = writeln!(s, "- worst language (MRR@10): {}", worst.join(", "));
    let mut gaps = Vec::new();
    let mut gap_of = |name: &str, r: &Row| {
        let h = r.mode(Mode::Hybrid).mrr_10;
        let best = r
            .mode(Mode::Dense)
            .mrr_10
            .into_iter()
            .chain(r.mode(Mode::Lexical).mrr_10)
            .reduce(f64::max);
        if let (Some(h), Some(b)) = (h, best) {
            gaps.push(format!("{name} {}", signed(h - b)));
        }
    };
    gap_of("macro", &e.macro_langs);
    for r in &e.by_kind {
        gap_of(&r.name, r);
    }
    let _ = writeln!(
        s,
        "- hybrid MRR@10 minus the better of dense and lexical: {}",
        gaps.join(", ")
    );
    if !e.warnings.is_empty() {
        let _ = writeln!(s, "\n## Warnings\n");
        for w in &e.warnings {
            let _ = writeln!(s, "- {w}");
        }
    }
    s
}

/// A single-signal line for the tuning table (macro MRR@10).
pub struct Reference {
    pub name: String,
    pub even: f64,
    pub odd: f64,
    pub all: f64,
    pub by_kind: std::collections::BTreeMap<String, f64>,
}

/// The `crossfind eval --tune` table.
pub fn render_tuning(
    rows: &[TuneRow],
    grid_size: usize,
    show: usize,
    refs: &[Reference],
) -> String {
    let mut s = String::new();
    let current = Fusion::default();
    let _ = writeln!(s, "## Fusion tuning\n");
    let _ = writeln!(
        s,
        "{grid_size} settings (rank fusion: reciprocal ranks, weight ratio dense/lexical; score fusion: cosine + weight x BM25 share), scored by hybrid macro MRR@10 over languages. \
         Tuned on even-numbered qids; odd-numbered qids are held out. Best {show} on the tuning half, then the default in use and plain RRF (k 60, equal weights) if not among them; per-kind columns are on all queries.\n"
    );
    let kinds: Vec<&String> = rows
        .first()
        .map(|r| r.by_kind.keys().collect())
        .unwrap_or_default();
    let mut head = "| fusion | depth | even (tuned) | odd (held out) | all |".to_string();
    for k in &kinds {
        let _ = write!(head, " {k} |");
    }
    let _ = writeln!(
        s,
        "{head} |\n|---|--:|--:|--:|--:|{}---|",
        "--:|".repeat(kinds.len())
    );
    let line = |r: &TuneRow, note: &str| {
        let mut l = format!(
            "| {} | {} | {:.4} | {:.4} | {:.4} |",
            fusion_cell(&r.fusion),
            r.fusion.depth,
            r.even,
            r.odd,
            r.all
        );
        for k in &kinds {
            let _ = write!(l, " {} |", num(r.by_kind.get(*k).copied()));
        }
        format!("{l} {note} |\n")
    };
    for (i, r) in rows.iter().take(show).enumerate() {
        let note = match (i == 0, r.fusion == current) {
            (true, true) => "best on even, default",
            (true, false) => "best on even",
            (false, true) => "default",
            (false, false) => "",
        };
        s.push_str(&line(r, note));
    }
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.fusion == current) {
        if i >= show {
            s.push_str(&line(r, &format!("default (#{} on even)", i + 1)));
        }
    }
    // textbook reciprocal rank fusion: equal weights, k = 60
    let textbook = |r: &&TuneRow| {
        r.fusion.method == FusionMethod::Rank
            && r.fusion.rrf_k == 60.0
            && r.fusion.dense_weight == r.fusion.lexical_weight
            && r.fusion.depth == 200
    };
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| textbook(r)) {
        if i >= show && r.fusion != current {
            s.push_str(&line(r, &format!("plain RRF (#{} on even)", i + 1)));
        }
    }
    for r in refs {
        let mut l = format!(
            "| {} | | {:.4} | {:.4} | {:.4} |",
            r.name, r.even, r.odd, r.all
        );
        for k in &kinds {
            let _ = write!(l, " {} |", num(r.by_kind.get(*k).copied()));
        }
        let _ = writeln!(s, "{l} |");
    }
    s
}

/// The `crossfind eval pairs` report.
pub fn render_pairs(p: &PairsReport, pairs_file: &str, model: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# crossfind eval pairs\n");
    let _ = writeln!(
        s,
        "Pairs `{pairs_file}`, model `{model}`: {} sentences in {} groups, {} languages.\n",
        p.sentences,
        p.groups,
        p.langs.len()
    );
    let _ = writeln!(
        s,
        "- translation retrieval accuracy (nearest sentence of the other language is the translation): {:.3}",
        p.accuracy
    );
    let _ = writeln!(
        s,
        "- mean cosine: true pairs {:.3}, random pairs {:.3}, gap {:.3}",
        p.true_cosine,
        p.random_cosine,
        p.true_cosine - p.random_cosine
    );
    let _ = writeln!(
        s,
        "- language bias: unrelated sentences of the same language {:.3} vs across languages {:.3} (+{:.3})",
        p.same_lang_random_cosine,
        p.random_cosine,
        p.same_lang_random_cosine - p.random_cosine
    );
    let _ = writeln!(
        s,
        "- top-5 neighbours among all sentences: same language {:.3} (chance {:.3}), same meaning {:.3} (chance {:.3})\n",
        p.top5_same_lang, p.top5_same_lang_chance, p.top5_same_meaning, p.top5_same_meaning_chance
    );
    let _ = writeln!(s, "## Per language\n");
    let _ = writeln!(
        s,
        "| lang | sentences | accuracy from | accuracy to | true cos | random cos | gap | same-lang random cos | bias | top-5 same lang | top-5 same meaning |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    for l in &p.by_lang {
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:+.3} | {:.3} | {:.3} |",
            l.lang,
            l.sentences,
            l.accuracy_from,
            l.accuracy_to,
            l.true_cosine,
            l.random_cosine,
            l.true_cosine - l.random_cosine,
            l.same_lang_random_cosine,
            l.same_lang_random_cosine - l.random_cosine,
            l.top5_same_lang,
            l.top5_same_meaning
        );
    }
    let _ = writeln!(
        s,
        "\n## Retrieval accuracy, row language → column language\n"
    );
    let mut head = "| from \\ to |".to_string();
    for l in &p.langs {
        let _ = write!(head, " {l} |");
    }
    let _ = writeln!(s, "{head}\n|---|{}", "--:|".repeat(p.langs.len()));
    for a in &p.langs {
        let mut line = format!("| {a} |");
        for b in &p.langs {
            let v = p.by_pair.iter().find_map(|r| {
                if &r.a == a && &r.b == b {
                    Some(r.accuracy_a_to_b)
                } else if &r.a == b && &r.b == a {
                    Some(r.accuracy_b_to_a)
                } else {
                    None
                }
            });
            let _ = write!(line, " {} |", num(v));
        }
        let _ = writeln!(s, "{line}");
    }
    let mut weakest: Vec<_> = p.by_pair.iter().collect();
    weakest.sort_by(|x, y| {
        x.accuracy
            .total_cmp(&y.accuracy)
            .then((x.true_cosine - x.random_cosine).total_cmp(&(y.true_cosine - y.random_cosine)))
    });
    let _ = writeln!(s, "\n## Weakest language pairs\n");
    let _ = writeln!(
        s,
        "| pair | groups | accuracy | A→B | B→A | true cos | random cos | gap |\n|---|--:|--:|--:|--:|--:|--:|--:|"
    );
    for r in weakest.iter().take(10) {
        let _ = writeln!(
            s,
            "| {}–{} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            r.a,
            r.b,
            r.pairs,
            r.accuracy,
            r.accuracy_a_to_b,
            r.accuracy_b_to_a,
            r.true_cosine,
            r.random_cosine,
            r.true_cosine - r.random_cosine
        );
    }
    s
}

/// "0.250 (3/12)": the share of flags that are set, or "-" for none.
fn flagged_share(flags: impl Iterator<Item = bool>) -> String {
    let (mut k, mut n) = (0usize, 0usize);
    for f in flags {
        k += usize::from(f);
        n += 1;
    }
    if n == 0 {
        "-".to_string()
    } else {
        format!("{:.3} ({k}/{n})", k as f64 / n as f64)
    }
}

/// Pretty JSON, except that arrays of numbers or strings stay on one line
/// (per-query hit lists would otherwise take a line per value).
pub fn pretty_json(v: &impl serde::Serialize) -> serde_json::Result<String> {
    let text = serde_json::to_string_pretty(v)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.ends_with('[') {
            // the array's items up to its closing bracket
            let end = (i + 1..lines.len()).find(|&j| lines[j].trim_start().starts_with(']'));
            if let Some(end) = end {
                let items = &lines[i + 1..end];
                let flat = items.iter().all(|l| {
                    let t = l.trim().trim_end_matches(',');
                    !t.ends_with('[') && !t.ends_with('{')
                });
                if flat {
                    out.push_str(line);
                    let joined: Vec<&str> = items.iter().map(|l| l.trim()).collect();
                    out.push_str(&joined.join(" "));
                    out.push_str(lines[end].trim_start());
                    out.push('\n');
                    i = end + 1;
                    continue;
                }
            }
        }
        out.push_str(line);
        out.push('\n');
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_arrays_stay_on_one_line() {
        let v = serde_json::json!({
            "a": [1, 2.5, "x"],
            "b": [{"c": [true, null]}, []],
            "d": "q"
        });
        let s = pretty_json(&v).unwrap();
        assert!(s.contains("\"a\": [1, 2.5, \"x\"],\n"), "{s}");
        assert!(s.contains("\"c\": [true, null]\n"), "{s}");
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }
}
