//! Search over a bundle: dense int8 scan, BM25, rank fusion, page grouping
//! with the reader's language first. The same code runs natively and in wasm.

pub mod confidence;
pub(crate) mod dense;
pub mod lexical;
mod loaded;
mod records;
pub mod respell;
pub mod text;

use std::collections::HashMap;

use serde::Serialize;

/// The chunk vectors in the form their size calls for (in one piece, or
/// with the sign codes of a large site's first stage).
#[cfg(not(target_arch = "wasm32"))]
pub use dense::codes::write_vectors;
pub use dense::{best_n, Vectors};
pub use loaded::{Bundle, RowRange};

/// Which signals rank the results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Hybrid,
    Dense,
    Lexical,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hybrid" => Ok(Mode::Hybrid),
            "dense" => Ok(Mode::Dense),
            "lexical" => Ok(Mode::Lexical),
            o => Err(format!("mode must be hybrid, dense or lexical, not {o:?}")),
        }
    }
}

/// How hybrid search combines the two signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FusionMethod {
    /// Reciprocal rank fusion: `w / (rrf_k + rank)` summed over the signals.
    Rank,
    /// Scores added: `dense_weight · cosine + lexical_weight · share`, where
    /// the share is the lexical index's per-language BM25 share (0 to 1).
    Score,
}

/// Fusion constants.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Fusion {
    pub method: FusionMethod,
    pub rrf_k: f32,
    pub dense_weight: f32,
    pub lexical_weight: f32,
    /// Candidates taken from each signal before fusion.
    pub depth: usize,
    /// Only language-neutral terms (with a digit, or in half the languages) count when the best dense match
    /// has no version in the reader's language.
    pub abstain: bool,
    /// Share of a chunk's dense score that is its whole page's cosine with
    /// the query (0: the chunk alone). A section is read in its page's
    /// context, so one off-topic sentence does not carry a page, and a page
    /// about the question lifts all of its sections. Dense and hybrid modes.
    pub page_context: f32,
    /// Added in score fusion × the share of the query's identifiers (error
    /// codes, statuses, versions: [`lexical::LexicalIndex::identifier_shares`])
    /// a chunk holds, on top of their BM25 share.
    pub identifier_weight: f32,
    /// Subtracted from a chunk's dense score × its crowding
    /// ([`Vectors::crowding`]): a section that sits close to the titles of
    /// many other articles matches many questions a little, and crowds out
    /// the answer, most of all one in another language. Dense and hybrid
    /// modes; no effect on a bundle without crowding.
    pub crowding_weight: f32,
}

impl Default for Fusion {
    /// Score fusion, the lexical weight tuned with `crossfind eval --tune` on
    /// the even-numbered demo help-center queries (odd ones held out); see
    /// docs/multilingual.md. Rank fusion gives a keyword match on common words
    /// the same credit as an exact error code at the same rank, and on
    /// held-out queries it lost what it won on the tuning half; a bounded
    /// share of BM25 only decides near-ties and exact tokens.
    fn default() -> Self {
        Fusion {
            method: FusionMethod::Score,
            rrf_k: 30.0,
            dense_weight: 1.0,
            lexical_weight: 0.15,
            depth: 200,
            abstain: true,
            page_context: 0.15,
            identifier_weight: 0.1,
            crowding_weight: 0.3,
        }
    }
}

/// Which pages a search looks at: for each key, the values a page must have
/// one of (all keys must match; a key with no values is ignored). Applied
/// before ranking, so `k` results still come back when enough pages match.
pub type Filter = std::collections::BTreeMap<String, Vec<String>>;

/// Whether page `p` passes `filter`.
pub fn page_passes(p: &crate::bundle::PageMeta, filter: &Filter) -> bool {
    filter.iter().all(|(key, want)| {
        want.is_empty()
            || p.filters
                .get(key)
                .is_some_and(|have| have.iter().any(|v| want.contains(v)))
    })
}

/// How much a page's weight moves its score: `WEIGHT_SCALE × ln(weight)`
/// is added to each of its sections' fused scores. Weight 2 adds 0.035,
/// 0.5 takes 0.035 away: about the cosine gap between the first and the
/// third result of a typical query, so a weight reorders close results and
/// does not bury a clearly better answer. Weights are clamped to
/// `[MIN_WEIGHT, MAX_WEIGHT]`.
pub const WEIGHT_SCALE: f32 = 0.05;
pub const MIN_WEIGHT: f32 = 0.1;
pub const MAX_WEIGHT: f32 = 10.0;

/// The score a page's weight adds ([`WEIGHT_SCALE`]).
pub fn weight_boost(weight: Option<f32>) -> f32 {
    match weight {
        Some(w) if w.is_finite() && w > 0.0 && w != 1.0 => {
            WEIGHT_SCALE * w.clamp(MIN_WEIGHT, MAX_WEIGHT).ln()
        }
        _ => 0.0,
    }
}

pub struct Query<'a> {
    pub text: &'a str,
    /// The query's search vector ([`crate::Encoder::embed_for_search`], the
    /// way the bundle's passages were embedded); `None` (model not loaded
    /// yet) falls back to lexical,
    /// as does a bundle without vectors ([`Bundle::has_vectors`]).
    pub vector: Option<&'a [f32]>,
    /// The reader's language: a translation in it is shown instead of the hit.
    pub lang: Option<&'a str>,
    pub k: usize,
    pub mode: Mode,
    pub fusion: Fusion,
    /// Only pages that pass it ([`Filter`]); `None` or empty: every page.
    pub filter: Option<&'a Filter>,
}

/// One result: a page, with the section that matched best.
#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    /// The page's id; on a version 8 bundle whose snippet record for the
    /// page is not in (not fetched yet, or refused), `#` and its number.
    pub page_id: String,
    pub url: String,
    pub title: String,
    pub lang: String,
    pub heading: String,
    pub chunk: u32,
    /// The best-matching sentence(s) of the chunk, when its fragment is loaded.
    pub snippet: Option<String>,
    /// Byte ranges of `snippet` that match query terms.
    pub highlights: Vec<(usize, usize)>,
    pub dense: Option<f32>,
    pub lexical: Option<f32>,
    pub fused: f32,
    /// Languages of the other versions of this page.
    pub also_in: Vec<String>,
    /// The language of the page that actually matched, when another version is shown.
    pub matched_lang: Option<String>,
    /// Other sections of the shown page that matched too, best first (at
    /// most [`MAX_SECTIONS`]): the page is shown once, with these beneath.
    pub sections: Vec<Section>,
}

/// Another section of a result's page that also matched the query.
#[derive(Clone, Debug, Serialize)]
pub struct Section {
    pub heading: String,
    /// The page URL with the section's anchor.
    pub url: String,
    pub chunk: u32,
    pub snippet: Option<String>,
    pub highlights: Vec<(usize, usize)>,
}

/// Sections shown beneath a result at most.
pub const MAX_SECTIONS: usize = 3;

/// The URL of a chunk's section: its page's, with the section's anchor.
/// An id may hold `:~:`, which in a URL's fragment starts a text directive
/// (and stops the widget adding its own): such an id is written with its
/// colons as `%3A` (and `%` as `%25`), which the browser decodes back to
/// the id when it looks for the element.
fn section_url(page_url: &str, anchor: Option<&str>) -> String {
    match anchor {
        Some(a) if a.contains(":~:") => {
            format!("{page_url}#{}", a.replace('%', "%25").replace(':', "%3A"))
        }
        Some(a) => format!("{page_url}#{a}"),
        None => page_url.to_string(),
    }
}

fn ranks(scored: &[(u32, f32)]) -> HashMap<u32, usize> {
    scored
        .iter()
        .enumerate()
        .map(|(r, (c, _))| (*c, r))
        .collect()
}

/// Runs a query. Without a query vector, or on a bundle loaded without its
/// vectors, every mode answers lexically.
pub fn search(b: &Bundle, q: &Query) -> Vec<Hit> {
    let mode = if q.vector.is_none() || !b.has_vectors() {
        Mode::Lexical
    } else {
        q.mode
    };
    // the query vector, when the dense signal is used
    let dense_q: Option<&[f32]> = match mode {
        Mode::Lexical => None,
        _ => q.vector,
    };
    let docs = &b.docs;
    // pages the filter lets through (None: all)
    let page_ok: Option<Vec<bool>> = q
        .filter
        .filter(|f| f.values().any(|v| !v.is_empty()))
        .map(|f| docs.pages.iter().map(|p| page_passes(p, f)).collect());
    let chunk_ok = |c: u32| {
        page_ok
            .as_ref()
            .is_none_or(|ok| ok[docs.chunks[c as usize].page as usize])
    };
    // dot products: exact, or on a bundle with sign codes exact for the
    // first stage's candidate pages (dense::codes)
    let dense_raw = dense_q.map(|v| b.dense_raw(v, &chunk_ok));
    let dense_all: Vec<f32> = dense_raw
        .as_ref()
        .map(|d| with_page_context(b, d.raw.clone(), q.fusion.page_context))
        .map(|s| without_crowding(b, s, q.fusion.crowding_weight))
        .unwrap_or_default();
    let dense_top = if dense_all.is_empty() {
        vec![]
    } else {
        let exact = |c: u32| dense_raw.as_ref().is_none_or(|d| d.exact(c));
        let scored = dense_all
            .iter()
            .enumerate()
            .map(|(i, &s)| (i as u32, s))
            .filter(|&(c, _)| chunk_ok(c) && exact(c))
            .collect();
        best_n(scored, q.fusion.depth)
    };
    // Keyword matches are in the query's language. When the best dense
    // match has no version in the reader's language, the answer most likely
    // is not in that language either, and the reader-language matches would
    // pull the wrong pages up: only language-neutral terms (codes, numbers,
    // names found in half the languages) count then.
    let answer_elsewhere = mode == Mode::Hybrid
        && match (q.lang, dense_top.first()) {
            (Some(l), Some(&(c, _))) => {
                let g = &b.docs.pages[b.docs.chunks[c as usize].page as usize].group;
                !b.group_members(g)
                    .iter()
                    .any(|&p| b.docs.pages[p as usize].lang == l)
            }
            _ => false,
        };
    let lex_top = if mode == Mode::Dense {
        vec![]
    } else {
        b.lexical.search_terms_where(
            q.text,
            q.fusion.depth,
            answer_elsewhere && q.fusion.abstain,
            &chunk_ok,
        )
    };
    let lex_score: HashMap<u32, f32> = lex_top.iter().copied().collect();

    // chunk-level fused scores
    let mut fused: HashMap<u32, f32> = HashMap::new();
    match mode {
        Mode::Dense => fused.extend(dense_top.iter().copied()),
        Mode::Lexical => fused.extend(lex_top.iter().copied()),
        Mode::Hybrid => {
            let f = q.fusion;
            match f.method {
                FusionMethod::Rank => {
                    for (c, r) in ranks(&dense_top) {
                        *fused.entry(c).or_default() += f.dense_weight / (f.rrf_k + r as f32 + 1.0);
                    }
                    for (c, r) in ranks(&lex_top) {
                        *fused.entry(c).or_default() +=
                            f.lexical_weight / (f.rrf_k + r as f32 + 1.0);
                    }
                }
                FusionMethod::Score => {
                    let ids = if f.identifier_weight > 0.0 {
                        b.lexical.identifier_shares(q.text)
                    } else {
                        HashMap::new()
                    };
                    for &(c, _) in dense_top.iter().chain(&lex_top) {
                        let d = dense_all[c as usize];
                        let l = lex_score.get(&c).copied().unwrap_or(0.0);
                        let id = ids.get(&c).copied().unwrap_or(0.0);
                        fused.insert(
                            c,
                            f.dense_weight * d + f.lexical_weight * l + f.identifier_weight * id,
                        );
                    }
                }
            }
        }
    }
    // the site's page and section weights
    if b.weighted() {
        for (&c, s) in fused.iter_mut() {
            let chunk = &docs.chunks[c as usize];
            *s += weight_boost(docs.pages[chunk.page as usize].weight) + weight_boost(chunk.weight);
        }
    }

    // A section is shown beneath its page's result when it ranks among the
    // best 2k chunks of the whole query (a scale-free cut: fused scores are
    // cosines, BM25 shares or reciprocal ranks depending on the mode).
    let section_cut = {
        let mut all: Vec<f32> = fused.values().copied().collect();
        let n = (2 * q.k).min(all.len());
        if n == 0 {
            f32::INFINITY
        } else {
            all.select_nth_unstable_by(n - 1, |a, b| b.total_cmp(a));
            all[n - 1]
        }
    };

    // pages: best chunk each; then translation groups: best page each
    let mut best_chunk: HashMap<u32, (u32, f32)> = HashMap::new();
    for (&c, &s) in &fused {
        let page = docs.chunks[c as usize].page;
        let e = best_chunk.entry(page).or_insert((c, f32::NEG_INFINITY));
        if s > e.1 || (s == e.1 && c < e.0) {
            *e = (c, s);
        }
    }
    let mut groups: HashMap<&str, (u32, u32, f32)> = HashMap::new();
    for (&page, &(c, s)) in &best_chunk {
        let g = docs.pages[page as usize].group.as_str();
        let e = groups.entry(g).or_insert((page, c, f32::NEG_INFINITY));
        if s > e.2 || (s == e.2 && page < e.0) {
            *e = (page, c, s);
        }
    }
    let mut ranked: Vec<(&str, u32, u32, f32)> = groups
        .into_iter()
        .map(|(g, (p, c, s))| (g, p, c, s))
        .collect();
    ranked.sort_by(|a, b| b.3.total_cmp(&a.3).then(a.1.cmp(&b.1)));
    ranked.truncate(q.k);

    let terms = text::terms(q.text);
    ranked
        .into_iter()
        .map(|(group, page, chunk, score)| {
            let members = b.group_members(group);
            // show the reader's version when one exists
            let (shown_page, shown_chunk, matched_lang) = match q.lang {
                Some(l) if docs.pages[page as usize].lang != l => {
                    let reader_version = members.iter().find(|&&p| {
                        docs.pages[p as usize].lang == l
                            && page_ok.as_ref().is_none_or(|ok| ok[p as usize])
                    });
                    match reader_version {
                        Some(&p) => {
                            let c = best_chunk
                                .get(&p)
                                .map(|x| x.0)
                                .or_else(|| {
                                    best_chunk_of_page(
                                        b,
                                        p,
                                        dense_raw.as_ref().map(|d| d.raw.as_slice()),
                                        &lex_score,
                                    )
                                })
                                .unwrap_or(chunk);
                            (p, c, Some(docs.pages[page as usize].lang.clone()))
                        }
                        None => (page, chunk, None),
                    }
                }
                _ => (page, chunk, None),
            };
            let pm = &docs.pages[shown_page as usize];
            let cm = &docs.chunks[shown_chunk as usize];
            let (snippet, highlights) = snippet_for(b, shown_chunk, &terms);
            let mut also_in: Vec<String> = members
                .iter()
                .filter(|&&p| p != shown_page)
                .map(|&p| docs.pages[p as usize].lang.clone())
                .collect();
            also_in.sort();
            also_in.dedup();
            let url = section_url(&pm.url, cm.anchor.as_deref());
            let sections = other_sections(b, &fused, shown_page, shown_chunk, section_cut, &terms);
            Hit {
                page_id: if pm.id.is_empty() {
                    // version 8, its snippet record not in (or refused):
                    // still one id a page
                    format!("#{shown_page}")
                } else {
                    pm.id.clone()
                },
                url,
                title: pm.title.clone(),
                lang: pm.lang.clone(),
                heading: cm.heading.clone(),
                chunk: shown_chunk,
                snippet,
                highlights,
                dense: dense_raw.as_ref().map(|d| d.raw[shown_chunk as usize]),
                lexical: lex_score.get(&shown_chunk).copied(),
                fused: score,
                also_in,
                matched_lang,
                sections,
            }
        })
        .collect()
}

/// The page's other matching sections: candidates at or above `cut`, best
/// first, one per anchor (and not the shown section's), at most [`MAX_SECTIONS`].
fn other_sections(
    b: &Bundle,
    fused: &HashMap<u32, f32>,
    page: u32,
    shown: u32,
    cut: f32,
    terms: &[String],
) -> Vec<Section> {
    let docs = &b.docs;
    let mut cands: Vec<(u32, f32)> = fused
        .iter()
        .filter(|(&c, &s)| c != shown && s >= cut && docs.chunks[c as usize].page == page)
        .map(|(&c, &s)| (c, s))
        .collect();
    cands.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut seen = vec![docs.chunks[shown as usize].anchor.clone()];
    let mut out = Vec::new();
    for (c, _) in cands {
        let cm = &docs.chunks[c as usize];
        if seen.contains(&cm.anchor) || cm.heading.is_empty() {
            continue;
        }
        seen.push(cm.anchor.clone());
        let (snippet, highlights) = snippet_for(b, c, terms);
        out.push(Section {
            heading: cm.heading.clone(),
            url: section_url(&docs.pages[page as usize].url, cm.anchor.as_deref()),
            chunk: c,
            snippet,
            highlights,
        });
        if out.len() == MAX_SECTIONS {
            break;
        }
    }
    out
}

/// Mixes each chunk's dot product with its page's cosine:
/// `(1 - w) · chunk + w · Σ page chunks / |Σ page vectors|`.
fn with_page_context(b: &Bundle, mut scores: Vec<f32>, w: f32) -> Vec<f32> {
    if w == 0.0 || scores.len() != b.docs.chunks.len() {
        return scores;
    }
    let mut sums = vec![0f32; b.docs.pages.len()];
    for (c, &s) in b.docs.chunks.iter().zip(&scores) {
        sums[c.page as usize] += s;
    }
    for (c, s) in b.docs.chunks.iter().zip(scores.iter_mut()) {
        let n = b.page_norms.get(c.page as usize).copied().unwrap_or(0.0);
        if n > 0.0 {
            *s = (1.0 - w) * *s + w * (sums[c.page as usize] / n);
        }
    }
    scores
}

/// Takes `w` × each chunk's crowding off its score (`Fusion::crowding_weight`).
fn without_crowding(b: &Bundle, mut scores: Vec<f32>, w: f32) -> Vec<f32> {
    let crowding = &b.vectors.crowding;
    if w != 0.0 && crowding.len() == scores.len() {
        for (s, c) in scores.iter_mut().zip(crowding) {
            *s -= w * c;
        }
    }
    scores
}

/// `dense`: every chunk's dot product with the query (`Bundle::dense_raw`).
fn best_chunk_of_page(
    b: &Bundle,
    page: u32,
    dense: Option<&[f32]>,
    lex: &HashMap<u32, f32>,
) -> Option<u32> {
    let chunks = b
        .docs
        .chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.page == page)
        .map(|(i, _)| i as u32);
    match dense {
        Some(d) => chunks
            .map(|c| (c, d[c as usize]))
            .max_by(|x, y| x.1.total_cmp(&y.1).then(y.0.cmp(&x.0)))
            .map(|(c, _)| c),
        None => chunks.max_by(|x, y| {
            let (a, bb) = (
                lex.get(x).copied().unwrap_or(0.0),
                lex.get(y).copied().unwrap_or(0.0),
            );
            a.total_cmp(&bb).then(y.cmp(x))
        }),
    }
}

fn snippet_for(b: &Bundle, chunk: u32, terms: &[String]) -> (Option<String>, Vec<(usize, usize)>) {
    let Some(sentences) = b.sentences(chunk) else {
        return (None, vec![]);
    };
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let i = text::best_sentence(&refs, terms).unwrap_or(0);
    let Some(s) = refs.get(i) else {
        return (None, vec![]);
    };
    let mut snippet = s.to_string();
    // a short sentence reads better with the next one
    if snippet.chars().count() < 80 {
        if let Some(next) = refs.get(i + 1) {
            snippet.push(' ');
            snippet.push_str(next);
        }
    }
    if snippet.chars().count() > 300 {
        let cut = snippet
            .char_indices()
            .nth(300)
            .map(|(i, _)| i)
            .unwrap_or(snippet.len());
        snippet.truncate(cut);
        snippet.push('…');
    }
    let hl = text::highlight_ranges(&snippet, terms);
    (Some(snippet), hl)
}

#[cfg(test)]
mod section_url_tests {
    #[test]
    fn an_anchor_never_carries_a_text_directive() {
        use super::section_url;
        assert_eq!(section_url("/en/a.html", Some("steps")), "/en/a.html#steps");
        assert_eq!(section_url("/en/a.html", None), "/en/a.html");
        assert_eq!(
            section_url("/en/a.html", Some(":~:text=Pay%20now")),
            "/en/a.html#%3A~%3Atext=Pay%2520now"
        );
        assert_eq!(
            section_url("/en/a.html", Some("mod:fn")),
            "/en/a.html#mod:fn"
        );
    }
}
