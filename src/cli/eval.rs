//! `crossfind eval` (labelled queries against a bundle) and
//! `crossfind eval pairs` (a model's cross-lingual alignment).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::embed::embed_all;
use super::index::{load_bundle, Loaded};
use super::term::{clean, one_line, out};
use super::{load_encoder, KindArg};
use crate::eval::baseline::Baseline;
use crate::eval::{pairs, report, retrieval};
use crossfind::search::respell::as_searched;
use crossfind::search::{Fusion, FusionMethod, Mode};
use crossfind::TextKind;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    command: Option<EvalCommand>,
    /// Bundle folder written by `crossfind index`.
    #[arg(long, required = true)]
    bundle: Option<PathBuf>,
    /// Labelled queries (JSONL: qid, text, lang, kind, relevant {article: grade}).
    #[arg(long, required = true)]
    queries: Option<PathBuf>,
    /// Also write every number (per query too) as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Hits per query counted for the reader-language share (metrics use their own cutoffs).
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Also grid-search the fusion constants (tuned on even qids, reported on odd and all).
    #[arg(long)]
    tune: bool,
    /// Override the fusion method: "rank" (reciprocal rank fusion) or "score" (weighted sum).
    #[arg(long)]
    fusion: Option<String>,
    /// Override the fusion's rrf_k.
    #[arg(long)]
    rrf_k: Option<f32>,
    /// Override the fusion's dense weight.
    #[arg(long)]
    dense_weight: Option<f32>,
    /// Override the fusion's lexical weight.
    #[arg(long)]
    lexical_weight: Option<f32>,
    /// Override the candidates taken from each signal before fusion.
    #[arg(long)]
    depth: Option<usize>,
    /// Override the share of a chunk's dense score that is its page's cosine (0 to 1).
    #[arg(long)]
    page_context: Option<f32>,
    /// Override the weight of a chunk's share of the query's identifiers
    /// (error codes, statuses) in score fusion.
    #[arg(long)]
    identifier_weight: Option<f32>,
    /// Override how much of a section's crowding (closeness to other
    /// articles' titles, kept in the bundle) is taken off its dense score.
    #[arg(long)]
    crowding_weight: Option<f32>,
    /// Evaluate the site as if every translated article existed in one
    /// language only: one version of each translation group is kept, the
    /// language chosen by SEED (default 1). Measures answers that exist
    /// only in another language on any multilingual site.
    #[arg(long, value_name = "SEED", num_args = 0..=1, default_missing_value = "1")]
    single_copy: Option<u64>,
    /// Fail (exit 1) when a number drops below this baseline (see
    /// src/eval/baseline.rs): MRR@10 per mode by language, by kind and
    /// macro, and the reader-language share. Also fails when a relevance
    /// label names no page of the bundle or pages of several translation
    /// groups: the numbers it checks would then be wrong.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Largest MRR@10 drop of one language or kind the baseline allows
    /// (macro averages: a third of it).
    #[arg(long, default_value_t = 0.03)]
    max_drop: f64,
    /// Write this run's numbers as a baseline file.
    #[arg(long)]
    write_baseline: Option<PathBuf>,
    /// Let reader-language keyword matches count even when the best dense match has no version in that language.
    #[arg(long)]
    no_abstain: bool,
    /// Search the queries as typed: no respelling of words that neither the
    /// site nor the model knows (search respells them; see
    /// src/search/respell.rs).
    #[arg(long)]
    no_respell: bool,
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Embed translated sentences and report how well the model aligns languages.
    Pairs(PairsArgs),
    /// Run real, unlabelled queries (a log from the widget's events) and
    /// report per reader language the share with no results, low
    /// confidence, or the best answer in another language: what to write content for.
    Log(LogArgs),
}

#[derive(Args)]
struct LogArgs {
    /// Bundle folder written by `crossfind index`.
    #[arg(long)]
    bundle: PathBuf,
    /// The query log (JSONL: query, optional lang and count; or one query per line).
    #[arg(long)]
    log: PathBuf,
    /// Labelled queries (as for `crossfind eval`) that calibrate the
    /// low-confidence thresholds on this bundle; without them, the bundle's
    /// own levels decide (the flag search reports and the widget's events carry).
    #[arg(long)]
    calibrate: Option<PathBuf>,
    /// Results per query, as the widget shows.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Queries listed under each problem, most asked first.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Also write every number (per query too) as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct PairsArgs {
    /// Model pack folder.
    #[arg(long, default_value = "models/e5-small")]
    model: PathBuf,
    /// Translated sentences (JSONL: group, lang, text).
    #[arg(long)]
    pairs: PathBuf,
    /// Embed the sentences as queries or as passages (selects the model's prefix).
    #[arg(long, value_enum, default_value = "query")]
    kind: KindArg,
    /// Also write every number as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn read_text(p: &Path) -> Result<String> {
    let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", p.display()))
}

fn write_json(p: &Path, v: &impl serde::Serialize) -> Result<()> {
    let s = report::pretty_json(v)?;
    std::fs::write(p, s).with_context(|| format!("cannot write {}", p.display()))?;
    eprintln!("wrote {}", p.display());
    Ok(())
}

pub fn run(a: EvalArgs) -> Result<()> {
    match a.command {
        Some(EvalCommand::Pairs(p)) => return run_pairs(p),
        Some(EvalCommand::Log(l)) => return run_log(l),
        None => {}
    }
    let (Some(bundle_dir), Some(qpath)) = (a.bundle, a.queries) else {
        super::term::bad_input!("--bundle and --queries are required");
    };
    let t0 = std::time::Instant::now();
    let mut queries = retrieval::parse_queries(&read_text(&qpath)?, &qpath.display().to_string())?;
    let mut l = load_bundle(&bundle_dir)?;
    if let Some(seed) = a.single_copy {
        l.bundle = l.bundle.single_copy(seed);
        eprintln!(
            "single copy (seed {seed}): {} pages and {} chunks kept",
            l.bundle.docs.pages.len(),
            l.bundle.docs.chunks.len()
        );
    }
    // The bundle's own low-confidence levels, as the indexer sets them; on
    // a single-copy subset (or a bundle indexed before levels existed)
    // computed here the same way, for the site evaluated.
    eprintln!("searching the model's sample questions…");
    let sample_scores =
        crossfind::index::confidence::sample_scores(&l.encoder, &l.bundle.vectors, None)?;
    let levels_note = if a.single_copy.is_some() || l.bundle.manifest.confidence.is_none() {
        l.bundle.manifest.confidence =
            crossfind::search::confidence::levels_from_samples(&sample_scores);
        Some("computed by `crossfind eval` as `crossfind index` sets them, for the site evaluated")
    } else {
        None
    };
    let articles = retrieval::Articles::new(&l.bundle.docs);
    let warnings = retrieval::label_warnings(&queries, &articles);
    for w in &warnings {
        eprintln!("warning: {}", one_line(&w.to_string()));
    }

    // every mode reads a query as search does: respelt where the site and
    // the model both lack a word
    if !a.no_respell {
        let n = respell_all(&l, queries.iter_mut().map(|q| &mut q.text));
        eprintln!("respelt {n} of {} queries", queries.len());
    }
    // one embedding per query, shared by the modes (as `search` would embed it)
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    eprintln!("embedding {} queries…", texts.len());
    let vectors = query_vectors(&l.encoder, &texts)?;

    let d = Fusion::default();
    let method = match a.fusion.as_deref() {
        None => d.method,
        Some("rank") => FusionMethod::Rank,
        Some("score") => FusionMethod::Score,
        Some(o) => super::term::bad_input!("--fusion must be rank or score, not {o:?}"),
    };
    let fusion = Fusion {
        method,
        rrf_k: a.rrf_k.unwrap_or(d.rrf_k),
        dense_weight: a.dense_weight.unwrap_or(d.dense_weight),
        lexical_weight: a.lexical_weight.unwrap_or(d.lexical_weight),
        depth: a.depth.unwrap_or(d.depth),
        abstain: !a.no_abstain,
        page_context: a.page_context.unwrap_or(d.page_context),
        identifier_weight: a.identifier_weight.unwrap_or(d.identifier_weight),
        crowding_weight: a.crowding_weight.unwrap_or(d.crowding_weight),
    };
    if !fusion.crowding_weight.is_finite() {
        super::term::bad_input!("--crowding-weight must be a number");
    }
    if !(0.0..=1.0).contains(&fusion.page_context) {
        super::term::bad_input!(
            "--page-context must be between 0 and 1, not {}",
            fusion.page_context
        );
    }
    let results = retrieval::run_queries(&l.bundle, &articles, &queries, &vectors, fusion, a.k);
    let mut ev = retrieval::evaluate(results, fusion, a.k, warnings);
    ev.bundle = bundle_dir.display().to_string();
    ev.queries_file = qpath.display().to_string();
    ev.single_copy = a.single_copy;
    ev.bundle_levels = l.bundle.manifest.confidence.clone();
    ev.bundle_levels_note = levels_note.map(str::to_string);
    ev.sample_scores = sample_scores;
    out!("{}", clean(&report::render_eval(&ev)))?;

    let mut tuning = None;
    if a.tune {
        let grid = retrieval::tuning_grid();
        eprintln!("tuning: {} fusion settings…", grid.len());
        let rows = retrieval::tune(&l.bundle, &articles, &queries, &vectors, &grid);
        let refs: Vec<report::Reference> = [Mode::Dense, Mode::Lexical]
            .into_iter()
            .map(|m| report::Reference {
                name: format!("{} only", retrieval::mode_name(m)),
                even: retrieval::macro_mrr(&ev.queries, m, |r| r.even),
                odd: retrieval::macro_mrr(&ev.queries, m, |r| !r.even),
                all: retrieval::macro_mrr(&ev.queries, m, |_| true),
                by_kind: ev
                    .by_kind
                    .iter()
                    .filter(|k| k.answerable > 0)
                    .map(|k| {
                        let v = retrieval::macro_mrr(&ev.queries, m, |r| r.kind == k.name);
                        (k.name.clone(), v)
                    })
                    .collect(),
            })
            .collect();
        out!(
            "\n{}",
            clean(&report::render_tuning(&rows, grid.len(), 10, &refs))
        )?;
        tuning = Some(rows);
    }
    if let Some(p) = &a.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            eval: &'a retrieval::Evaluation,
            #[serde(skip_serializing_if = "Option::is_none")]
            tuning: Option<Vec<retrieval::TuneRow>>,
        }
        write_json(p, &Out { eval: &ev, tuning })?;
    }
    eprintln!(
        "evaluated {} queries in {:.1}s",
        queries.len(),
        t0.elapsed().as_secs_f32()
    );
    let now = Baseline::of(&ev);
    if let Some(p) = &a.write_baseline {
        write_json(p, &now)?;
    }
    if let Some(p) = &a.baseline {
        let base: Baseline = serde_json::from_str(&read_text(p)?)
            .with_context(|| format!("{} is not a crossfind eval baseline", p.display()))?;
        let bad = base.regressions(&now, a.max_drop);
        for l in &bad {
            eprintln!("regression: {l}");
        }
        if !ev.warnings.is_empty() {
            // a label that names no article counts as never found, one
            // that names several is credited by either: a renamed page or
            // a site whose translation groups came apart would move the
            // numbers while the gate passed
            anyhow::bail!(
                "{} relevance label(s) of {} do not name exactly one article of the bundle (the warnings above), so the numbers checked against {} would be wrong; fix the labels (a full page id) or the site",
                ev.warnings.len(),
                qpath.display(),
                p.display()
            );
        }
        if !bad.is_empty() {
            anyhow::bail!(
                "{} number(s) fell below the baseline {} (max drop {}); if the change is intended, rewrite it with --write-baseline and say why in the commit",
                bad.len(),
                p.display(),
                a.max_drop
            );
        }
        eprintln!("no regression against {}", p.display());
    }
    Ok(())
}

fn run_pairs(a: PairsArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    let items = pairs::parse_pairs(&read_text(&a.pairs)?, &a.pairs.display().to_string())?;
    let enc = load_encoder(&a.model)?;
    let texts: Vec<String> = items.iter().map(|x| x.text.clone()).collect();
    eprintln!("embedding {} sentences…", texts.len());
    let vectors: Vec<Vec<f32>> = embed_all(&enc, &texts, a.kind.into(), false)?
        .into_iter()
        .map(|e| e.vector)
        .collect();
    let r = pairs::analyze(&items, &vectors);
    let model = enc.manifest().model.id.clone();
    out!(
        "{}",
        clean(&report::render_pairs(
            &r,
            &a.pairs.display().to_string(),
            &model
        ))
    )?;
    if let Some(p) = &a.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            model: &'a str,
            pairs_file: String,
            kind: &'static str,
            #[serde(flatten)]
            report: &'a pairs::PairsReport,
        }
        let kind = match a.kind {
            KindArg::Query => "query",
            KindArg::Passage => "passage",
        };
        write_json(
            p,
            &Out {
                model: &model,
                pairs_file: a.pairs.display().to_string(),
                kind,
                report: &r,
            },
        )?;
    }
    eprintln!(
        "analysed {} sentences in {:.1}s",
        items.len(),
        t0.elapsed().as_secs_f32()
    );
    Ok(())
}

/// Replaces each text by what search reads ([`as_searched`]); the number
/// changed.
fn respell_all<'a>(l: &Loaded, texts: impl Iterator<Item = &'a mut String>) -> usize {
    let mut n = 0;
    for t in texts {
        if let std::borrow::Cow::Owned(r) = as_searched(&l.bundle.lexical, &l.encoder, t) {
            *t = r;
            n += 1;
        }
    }
    n
}

/// Search vectors of `texts` (`None` for an empty one).
fn query_vectors(enc: &crossfind::Encoder, texts: &[&str]) -> Result<Vec<Option<Vec<f32>>>> {
    let nonempty: Vec<usize> = (0..texts.len())
        .filter(|&i| !texts[i].trim().is_empty())
        .collect();
    let owned: Vec<String> = nonempty.iter().map(|&i| texts[i].to_string()).collect();
    let embedded = embed_all(enc, &owned, TextKind::Query, true)?;
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
    for (i, e) in nonempty.into_iter().zip(embedded) {
        vectors[i] = Some(e.vector);
    }
    Ok(vectors)
}

fn run_log(a: LogArgs) -> Result<()> {
    use crate::eval::log;
    let source = a.log.display().to_string();
    let (queries, warnings) = log::parse_log(&read_text(&a.log)?, &source)?;
    for w in &warnings {
        eprintln!("warning: {}", one_line(w));
    }
    let l = load_bundle(&a.bundle)?;
    let rule = match &a.calibrate {
        None => None,
        Some(p) => {
            let labelled = retrieval::parse_queries(&read_text(p)?, &p.display().to_string())?;
            let texts: Vec<&str> = labelled.iter().map(|q| q.text.as_str()).collect();
            eprintln!("calibrating on {} labelled queries…", labelled.len());
            let vectors = query_vectors(&l.encoder, &texts)?;
            let articles = retrieval::Articles::new(&l.bundle.docs);
            let results = retrieval::run_queries(
                &l.bundle,
                &articles,
                &labelled,
                &vectors,
                Fusion::default(),
                a.k,
            );
            Some(retrieval::LowConfidenceRule::calibrate(&results))
        }
    };
    eprintln!("running {} logged queries…", queries.len());
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let vectors = query_vectors(&l.encoder, &texts)?;
    let results = log::run_log(&l.bundle, &queries, &vectors, rule.as_ref(), a.k.max(1));
    let rows = log::by_language(&results);
    let calibrated = a.calibrate.as_ref().map(|p| p.display().to_string());
    out!(
        "{}",
        clean(&log::render(
            &results,
            &rows,
            &source,
            calibrated.as_deref(),
            l.bundle.manifest.confidence.is_some(),
            a.top
        ))
    )?;
    if let Some(p) = &a.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            log: &'a str,
            calibrated_on: Option<&'a str>,
            by_language: &'a [log::LangRow],
            queries: &'a [log::LoggedResult],
        }
        write_json(
            p,
            &Out {
                log: &source,
                calibrated_on: calibrated.as_deref(),
                by_language: &rows,
                queries: &results,
            },
        )?;
    }
    Ok(())
}
