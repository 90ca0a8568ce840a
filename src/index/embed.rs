//! Step 3 of indexing: passages embedded on one encoder thread per core,
//! fed through a bounded queue while the pages are still being chunked.

use std::sync::{mpsc, Mutex};

use super::cache::{self, EmbedCache, Key};
use crate::bundle::PageMeta;
use crate::error::{Error, Result};
use crate::format::tensors::{quantize_i8_rows, DType};
use crate::model::vector::l2_normalize;
use crate::model::{Embedding, Encoder, TextKind};

/// Collects the encoder's answers, which arrive out of order, as int8 rows.
pub(super) struct VectorSink {
    dim: usize,
    /// Row `id` is chunk `id`'s vector ([`crate::format::tensors::DType::I8Row`]).
    pub rows: Vec<u8>,
    pub embedded: usize,
    pub truncated: usize,
    /// Whether row `id`'s passage was truncated.
    pub truncated_rows: Vec<bool>,
    /// Rows taken from the embedding cache instead of the encoder.
    pub reused: usize,
}

impl VectorSink {
    fn take(&mut self, (id, res): (u32, Result<Embedding>)) -> Result<()> {
        let e = res?;
        let row = quantize_i8_rows(&e.vector, self.dim);
        self.put(id, &row, e.truncated_from.is_some());
        Ok(())
    }

    /// Row `id`, computed or from the cache.
    pub fn put(&mut self, id: u32, row: &[u8], truncated: bool) {
        let rb = 4 + self.dim;
        let at = id as usize * rb;
        if self.rows.len() < at + rb {
            self.rows.resize(at + rb, 0);
        }
        self.rows[at..at + rb].copy_from_slice(row);
        if self.truncated_rows.len() <= id as usize {
            self.truncated_rows.resize(id as usize + 1, false);
        }
        self.truncated_rows[id as usize] = truncated;
        self.truncated += truncated as usize;
        self.embedded += 1;
    }

    /// Row `id`, as written.
    pub fn row(&self, id: u32) -> &[u8] {
        let rb = 4 + self.dim;
        &self.rows[id as usize * rb..(id as usize + 1) * rb]
    }
}

/// The queue to the encoder threads, and the vectors back so far.
pub(super) struct Embedder {
    jobs: mpsc::SyncSender<(u32, String)>,
    results: mpsc::Receiver<(u32, Result<Embedding>)>,
    pub vectors: VectorSink,
}

impl Embedder {
    /// Queues passage `id`, then takes the vectors that are back. Blocks
    /// while the encoders are busy: at most a few chunks wait, whatever
    /// the size of the site.
    pub fn send(&mut self, id: u32, passage: String) -> Result<()> {
        if self.jobs.send((id, passage)).is_err() {
            return Err(Error::Encoder("the encoder threads stopped".into()));
        }
        while let Ok(r) = self.results.try_recv() {
            self.vectors.take(r)?;
        }
        Ok(())
    }
}

/// Runs `feed` with encoder threads embedding what it sends
/// ([`TextKind::Passage`], as search vectors), then waits for the rest,
/// calling `each` after each vector that comes back then.
pub(super) fn embed_passages<R>(
    enc: &Encoder,
    feed: impl FnOnce(&mut Embedder) -> Result<R>,
    mut each: impl FnMut(&R, &VectorSink),
) -> Result<(R, VectorSink)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (job_tx, job_rx) = mpsc::sync_channel::<(u32, String)>(threads * 4);
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel();
    std::thread::scope(|sc| {
        for _ in 0..threads {
            let (job_rx, res_tx) = (&job_rx, res_tx.clone());
            sc.spawn(move || loop {
                let job = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => break,
                };
                let Ok((id, passage)) = job else { break };
                let r = enc.embed_for_search(&passage, TextKind::Passage);
                if res_tx.send((id, r)).is_err() {
                    break;
                }
            });
        }
        drop(res_tx);
        // owned here, so that any early return closes the queue and the
        // encoder threads end before the scope waits for them
        let mut embedder = Embedder {
            jobs: job_tx,
            results: res_rx,
            vectors: VectorSink {
                dim: enc.dim(),
                rows: Vec::new(),
                embedded: 0,
                truncated: 0,
                truncated_rows: Vec::new(),
                reused: 0,
            },
        };
        let fed = feed(&mut embedder)?;
        let Embedder {
            jobs,
            results,
            mut vectors,
        } = embedder;
        drop(jobs);
        for r in results {
            vectors.take(r)?;
            each(&fed, &vectors);
        }
        Ok((fed, vectors))
    })
}

/// `texts` embedded as readers' queries ([`TextKind::Query`], search
/// vectors), on all cores, each rounded to an int8 row. The cache, keyed
/// by `domain` and the text, keeps the rows, so a re-index embeds none of
/// them again; the row is what callers use, with or without the cache, so
/// their results do not depend on it.
pub(super) fn query_rows(
    enc: &Encoder,
    texts: &[&str],
    domain: &str,
    mut cache: Option<&mut EmbedCache>,
) -> Result<Vec<Vec<u8>>> {
    let dim = enc.dim();
    let keys: Vec<Key> = texts
        .iter()
        .map(|t| cache::key(&format!("{domain}\0{t}")))
        .collect();
    let mut rows: Vec<Option<Vec<u8>>> = keys
        .iter()
        .map(|k| cache.as_deref_mut().and_then(|c| c.get(k)).map(|r| r.bytes))
        .map(|r| r.filter(|b| b.len() == 4 + dim))
        .collect();
    let todo: Vec<usize> = (0..texts.len()).filter(|&i| rows[i].is_none()).collect();
    let embedded: Vec<Result<Vec<u8>>> = crate::par::par_map(&todo, |_, &i| {
        let v = enc.embed_for_search(texts[i], TextKind::Query)?.vector;
        Ok(quantize_i8_rows(&v, v.len()))
    });
    for (&i, row) in todo.iter().zip(embedded) {
        let row = row?;
        if let Some(c) = cache.as_deref_mut() {
            c.put(
                keys[i],
                cache::Row {
                    bytes: row.clone(),
                    truncated: false,
                },
            );
        }
        rows[i] = Some(row);
    }
    Ok(rows
        .into_iter()
        .map(|r| r.expect("every text has a row"))
        .collect())
}

/// Every page title embedded as a reader's query (search vectors, rounded
/// to int8 and back, as [`query_rows`] keeps them); `None` for an empty
/// title. Used by [`blend_titles`] and [`crowding`].
pub(super) fn title_vectors(
    enc: &Encoder,
    titles: &[&str],
    cache: Option<&mut EmbedCache>,
) -> Result<Vec<Option<Vec<f32>>>> {
    let dim = enc.dim();
    let have: Vec<usize> = (0..titles.len())
        .filter(|&i| !titles[i].trim().is_empty())
        .collect();
    let texts: Vec<&str> = have.iter().map(|&i| titles[i].trim()).collect();
    let rows = query_rows(enc, &texts, "crossfind page title 1", cache)?;
    let mut out: Vec<Option<Vec<f32>>> = vec![None; titles.len()];
    for (&i, row) in have.iter().zip(&rows) {
        let mut v = vec![0f32; dim];
        DType::I8Row.decode_row(row, &mut v);
        out[i] = Some(v);
    }
    Ok(out)
}

/// Step 3b: each chunk's vector moved towards its page title's, embedded
/// as a reader's query: `(1 - w) · chunk + w · title`, rounded to int8
/// again, with `w` = `weights[page]` (see [`title_blend_weights`]).
///
/// A title is written the way readers search: short, and in the words of
/// the question. Matched query to query, it finds the page when a short,
/// misspelt or code-switched question matches the passage poorly, which
/// matters most when the answer exists only in another language. Where the
/// reader's own version exists, the passage finds it better unblended, so
/// an article translated into every language of the site keeps its
/// vectors (measured in docs/multilingual.md, "The title as a query"). The
/// blend is linear, so the bundle keeps one vector per chunk and search is
/// unchanged.
pub(super) fn blend_titles(
    dim: usize,
    titles: &[Option<Vec<f32>>],
    weights: &[f32],
    chunk_pages: impl Iterator<Item = u32>,
    rows: &mut [u8],
) {
    let mut v = vec![0f32; dim];
    for (row, page) in rows.chunks_exact_mut(4 + dim).zip(chunk_pages) {
        let page = page as usize;
        let w = weights.get(page).copied().unwrap_or(0.0);
        let Some(t) = titles
            .get(page)
            .and_then(|t| t.as_ref())
            .filter(|_| w > 0.0)
        else {
            continue;
        };
        DType::I8Row.decode_row(row, &mut v);
        for (x, &y) in v.iter_mut().zip(t) {
            *x = (1.0 - w) * *x + w * y;
        }
        row.copy_from_slice(&quantize_i8_rows(&v, dim));
    }
}

/// How many pages a language needs before its own mean counts half
/// ([`center_languages`]).
pub const LANGUAGE_MEAN_PAGES: f32 = 15.0;

/// Step 3c: each language's mean page vector, shrunk by `n / (n + κ)` for
/// a language of `n` pages (κ = [`LANGUAGE_MEAN_PAGES`]), taken off the
/// vectors of its chunks, which are then scaled to unit length again.
///
/// The pack's language directions (`model::langbasis`) remove most of
/// what the model says about a text's language, but not all of it, and
/// what is left favours the reader's language. Within a site, a
/// language's pages share it, so their mean holds it; but the mean holds
/// their topics too, and a language with few pages would lose the very
/// topic a reader asks about. Shrinking by the number of pages keeps a
/// language of two pages almost as it was (an eighth of its mean comes
/// off) and takes half the mean off a language of fifteen. Only passages
/// move, so a query's score against a language's pages drops by its dot
/// product with that language's mean: no query-side language detection,
/// no bytes, no change to search. Measured in docs/multilingual.md
/// ("The site's own language means, shrunk").
pub(super) fn center_languages(
    dim: usize,
    rows: &mut [u8],
    pages: &[PageMeta],
    chunk_pages: &[u32],
) {
    let mut page_sums = vec![vec![0f32; dim]; pages.len()];
    let mut page_chunks = vec![0usize; pages.len()];
    let mut v = vec![0f32; dim];
    for (row, &p) in rows.chunks_exact(4 + dim).zip(chunk_pages) {
        DType::I8Row.decode_row(row, &mut v);
        for (s, x) in page_sums[p as usize].iter_mut().zip(&v) {
            *s += x;
        }
        page_chunks[p as usize] += 1;
    }
    // language -> (sum of its pages' mean vectors, pages)
    let mut langs: std::collections::BTreeMap<&str, (Vec<f32>, usize)> = Default::default();
    for ((page, sum), &n) in pages.iter().zip(&page_sums).zip(&page_chunks) {
        if n == 0 {
            continue;
        }
        let e = langs
            .entry(page.lang.as_str())
            .or_insert_with(|| (vec![0f32; dim], 0));
        for (m, s) in e.0.iter_mut().zip(sum) {
            *m += s / n as f32;
        }
        e.1 += 1;
    }
    for (sum, n) in langs.values_mut() {
        let keep = *n as f32 / (*n as f32 + LANGUAGE_MEAN_PAGES);
        for m in sum.iter_mut() {
            *m *= keep / *n as f32;
        }
    }
    for (row, &p) in rows.chunks_exact_mut(4 + dim).zip(chunk_pages) {
        let Some((mean, _)) = langs.get(pages[p as usize].lang.as_str()) else {
            continue;
        };
        DType::I8Row.decode_row(row, &mut v);
        for (x, m) in v.iter_mut().zip(mean) {
            *x -= m;
        }
        l2_normalize(&mut v);
        row.copy_from_slice(&quantize_i8_rows(&v, dim));
    }
}

/// Other articles a chunk's crowding averages over.
pub const CROWDING_K: usize = 5;
/// Titles the crowding of a large site is measured against at most.
pub const CROWDING_TITLES: usize = 4096;

/// Step 3d: each chunk's crowding (`search::Vectors::crowding`): for every
/// other article (translation group), the best dot product of the chunk
/// with the title of one of its versions, embedded as a query; then the
/// mean of the [`CROWDING_K`] best articles.
///
/// Titles stand for the questions readers ask. A section close to the
/// titles of many other articles matches many questions a little, and
/// pushes the answer down for all of them; when the answer exists only in
/// another language, its cross-lingual score is lower and such a section
/// wins. Search takes `Fusion::crowding_weight` × this off the section's
/// score (measured in docs/multilingual.md, "Crowded sections"). Articles
/// count once however many versions they have, so a site with every
/// article in twelve languages and one with each in a single language get
/// the same scale. A site with more than [`CROWDING_TITLES`] titles is
/// measured against the articles that come first by a hash of their
/// group, until that many titles: a fixed sample, so a re-index gives the
/// same numbers.
pub(super) fn crowding(
    dim: usize,
    rows: &[u8],
    pages: &[PageMeta],
    chunk_pages: &[u32],
    titles: &[Option<Vec<f32>>],
) -> Vec<f32> {
    use std::collections::HashMap;
    // the bank: (group index, title) for the sampled groups
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    let mut by_group: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        let g = *group_of.entry(p.group.as_str()).or_insert_with(|| {
            by_group.push((p.group.as_str(), Vec::new()));
            by_group.len() - 1
        });
        if titles.get(i).is_some_and(|t| t.is_some()) {
            by_group[g].1.push(i);
        }
    }
    let mut order: Vec<usize> = (0..by_group.len()).collect();
    order.sort_by_key(|&g| (crate::format::sha256_hex(by_group[g].0.as_bytes()), g));
    let mut bank: Vec<(usize, &[f32])> = Vec::new();
    for g in order {
        if bank.len() + by_group[g].1.len() > CROWDING_TITLES && !bank.is_empty() {
            break;
        }
        bank.extend(
            by_group[g]
                .1
                .iter()
                .filter_map(|&p| titles[p].as_deref().map(|t| (g, t))),
        );
    }
    let groups = by_group.len();
    let page_group: Vec<usize> = pages.iter().map(|p| group_of[p.group.as_str()]).collect();
    let ids: Vec<usize> = (0..chunk_pages.len()).collect();
    crate::par::par_map(&ids, |_, &c| {
        let mut v = vec![0f32; dim];
        DType::I8Row.decode_row(&rows[c * (4 + dim)..(c + 1) * (4 + dim)], &mut v);
        let own = page_group.get(chunk_pages[c] as usize).copied();
        let mut best = vec![f32::NEG_INFINITY; groups];
        for &(g, t) in &bank {
            if Some(g) == own {
                continue;
            }
            let d = dot(&v, t);
            if d > best[g] {
                best[g] = d;
            }
        }
        let mut found: Vec<f32> = best.into_iter().filter(|d| d.is_finite()).collect();
        found.sort_by(|a, b| b.total_cmp(a));
        found.truncate(CROWDING_K);
        if found.is_empty() {
            0.0
        } else {
            found.iter().sum::<f32>() / found.len() as f32
        }
    })
}

/// `a · b` in 8 independent lanes, so the compiler vectorises it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Each page's title blend: `weight` × the share of the site's languages
/// that no page of its translation group is written in. A site in one
/// language, or an article in all of them, gets 0.
pub(super) fn title_blend_weights(pages: &[PageMeta], weight: f32) -> Vec<f32> {
    use std::collections::{BTreeSet, HashMap};
    let site: BTreeSet<&str> = pages.iter().map(|p| p.lang.as_str()).collect();
    let mut groups: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for p in pages {
        groups.entry(&p.group).or_default().insert(&p.lang);
    }
    pages
        .iter()
        .map(|p| {
            let have = groups[p.group.as_str()].len();
            let missing = site.len().saturating_sub(have) as f32 / site.len().max(1) as f32;
            weight * missing
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowding_is_the_mean_of_the_nearest_other_articles_best_titles() {
        let page = PageMeta::new;
        // article a in two languages, b, c, and article d holding the chunks
        let pages = [
            page("en/a", "en", "a"),
            page("es/a", "es", "a"),
            page("en/b", "en", "b"),
            page("en/c", "en", "c"),
            page("en/d", "en", "d"),
        ];
        let unit = |i: usize| -> Vec<f32> { (0..4).map(|j| (i == j) as u8 as f32).collect() };
        let titles = vec![
            Some(vec![0.5, 0.0, 0.0, 0.0]),
            Some(vec![0.9, 0.0, 0.0, 0.0]),
            Some(vec![0.0, 0.8, 0.0, 0.0]),
            None,
            // d's own title is close to its chunk, and never counts
            Some(vec![1.0, 1.0, 1.0, 1.0]),
        ];
        let mut values = Vec::new();
        values.extend(unit(0));
        values.extend(unit(1));
        values.extend(unit(3));
        let rows = quantize_i8_rows(&values, 4);
        let c = crowding(4, &rows, &pages, &[4, 4, 4], &titles);
        // chunk 0: a's best version 0.9, b 0; mean of the two articles with a title
        assert!((c[0] - 0.45).abs() < 1e-3, "{c:?}");
        // chunk 1: b 0.8, a 0
        assert!((c[1] - 0.4).abs() < 1e-3, "{c:?}");
        // chunk 2: near no other title
        assert!(c[2].abs() < 1e-6, "{c:?}");
        // a site of one article has nothing to be crowded by
        let one = crowding(4, &rows[..8], &pages[4..], &[0], &titles[4..]);
        assert_eq!(one, [0.0]);
    }

    #[test]
    fn a_language_of_many_pages_loses_what_its_pages_share_and_one_of_few_keeps_its_topic() {
        // dimension 0 says "English" in every English page, as the part of
        // the language the pack's correction leaves; dimensions 1 to 7 are
        // topics. Fifteen English pages, one Spanish page.
        let dim = 8;
        let row = |lang: f32, topic: usize| -> Vec<f32> {
            (0..dim)
                .map(|j| {
                    if j == 0 {
                        lang
                    } else {
                        0.8 * (j == topic) as u8 as f32
                    }
                })
                .collect()
        };
        let mut pages = Vec::new();
        let mut values = Vec::new();
        for i in 0..15 {
            pages.push(PageMeta::new(&format!("en/{i}"), "en", &format!("{i}")));
            values.extend(row(0.6, 1 + i % 7));
        }
        pages.push(PageMeta::new("es/x", "es", "x"));
        values.extend(row(0.6, 1));
        let chunk_pages: Vec<u32> = (0..16).collect();
        let mut rows = quantize_i8_rows(&values, dim);
        center_languages(dim, &mut rows, &pages, &chunk_pages);
        let decoded = |i: usize| {
            let mut v = vec![0f32; dim];
            DType::I8Row.decode_row(&rows[i * (4 + dim)..(i + 1) * (4 + dim)], &mut v);
            v
        };
        // half the English mean came off: the shared "English" shrinks, the
        // topic stays what the page is about, and the vector is unit length
        let en = decoded(0);
        assert!(en[0] < 0.45, "{en:?}");
        assert!(en[1] > 0.85, "{en:?}");
        assert!((dot(&en, &en) - 1.0).abs() < 0.02, "{en:?}");
        // a language of one page: a sixteenth of its own vector came off,
        // which is the same direction after scaling
        let es = decoded(15);
        assert!(
            (es[0] - 0.6).abs() < 0.01 && (es[1] - 0.8).abs() < 0.01,
            "{es:?}"
        );
    }

    #[test]
    fn only_articles_missing_in_some_language_are_blended_with_their_title() {
        let page = PageMeta::new;
        let pages = [
            page("en/a", "en", "a"),
            page("es/a", "es", "a"),
            page("ja/a", "ja", "a"),
            page("en/b", "en", "b"),
            page("es/b", "es", "b"),
            page("ja/c", "ja", "c"),
        ];
        let w = title_blend_weights(&pages, 0.15);
        // in every language of the site: the passages find it in the reader's
        assert_eq!(&w[..3], &[0.0; 3]);
        // missing in one of three languages, then in two
        assert!((w[3] - 0.05).abs() < 1e-6 && (w[4] - 0.05).abs() < 1e-6);
        assert!((w[5] - 0.10).abs() < 1e-6);
        // a site in one language blends nothing
        let mono = [page("en/a", "en", "a"), page("en/b", "en", "b")];
        assert_eq!(title_blend_weights(&mono, 0.15), vec![0.0, 0.0]);
    }
}
