//! BM25 keyword index over chunk texts, the lexical half of hybrid search.
//!
//! Terms come from [`super::text::terms`]. Scores are BM25 with k1 = 1.2 and
//! b = 0.75 and the non-negative idf `ln(1 + (N - df + 0.5) / (df + 0.5))`,
//! summed over the distinct query terms in sorted order. Only IEEE basic
//! arithmetic is used (the logarithm is computed here, not by the platform's
//! libm), so native and wasm builds give bit-identical scores.
//!
//! # Byte format (version 1)
//!
//! All integers are unsigned LEB128 varints.
//!
//! ```text
//! "CFLX"  version
//! n_docs  then n_docs doc ids: the first as is, each next as (id - prev - 1)
//! n_terms then n_terms entries, terms strictly increasing by bytes:
//!     shared prefix length with the previous term, suffix length, suffix
//!     df, then df postings over doc positions (indexes into the doc ids):
//!         code = gap << 1 | (tf > 1), gap = first position or (pos - prev - 1)
//!         if tf > 1: tf - 2
//! ```
//!
//! Document lengths are not stored: a document's length is the sum of its
//! term frequencies. BM25 reads it to four significant bits, rounded to
//! the nearest (`length_code`: exact up to 15, then within 1/16), as
//! Lucene stores its norms in one byte: so the head of an index in pieces
//! lists each length in one byte, and every layout scores alike.
//!
//! Version 2 is the same index cut into term-range pieces, fetched per
//! query: a head with the document ids, their lengths and the piece table,
//! and the pieces, each a run of term entries as above (see `pieces`).
//!
//! # Languages
//!
//! A multilingual site's index mixes languages, and a word common in one of
//! them (Spanish `para`, Portuguese `não`) is rare in the whole index, so its
//! idf would score it like a content word. After [`LexicalIndex::partition`]
//! (the bundle passes each chunk's page language), df, N and the average
//! length are counted within the document's own language, and a hit scores
//! its *share*: BM25 divided by the most the query could score in that
//! language, `Σ idf_L(t) · (k1 + 1)` over every query term (a term absent
//! from the language has the largest idf). So 1.0 means every query term
//! matched often, and a match on common words alone stays small. Tokens that
//! are the same in every language (error codes, product and API names,
//! numbers) keep matching in every language.

use std::collections::{BTreeMap, HashMap};

use super::text;
use crate::error::Error;

mod pieces;
pub use pieces::{PieceRef, PIECED_ABOVE, PIECE_BYTES};

const MAGIC: &[u8; 4] = b"CFLX";
const VERSION: u32 = 1;
const FILE: &str = "lexical";
const K1: f32 = 1.2;
const B: f32 = 0.75;
/// The longest term the analyser emits, in bytes (64 chars of 4 bytes).
const MAX_TERM_BYTES: usize = text::MAX_TERM_CHARS * 4;

/// Collects chunk texts; [`finish`](Self::finish) turns them into an index.
#[derive(Debug, Default)]
pub struct LexicalIndexBuilder {
    term_ids: HashMap<String, u32>,
    /// Per doc id: term id -> frequency.
    docs: BTreeMap<u32, HashMap<u32, u32>>,
}

impl LexicalIndexBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Index `text` as document `doc`. Adding the same `doc` again appends to
    /// it. A text with no terms still counts as a document.
    pub fn add(&mut self, doc: u32, text: &str) {
        let counts = self.docs.entry(doc).or_default();
        for term in text::terms(text) {
            let next = self.term_ids.len() as u32;
            let id = *self.term_ids.entry(term).or_insert(next);
            let tf = counts.entry(id).or_insert(0);
            *tf = tf.saturating_add(1);
        }
    }

    pub fn finish(self) -> LexicalIndex {
        let mut terms: Vec<(String, u32)> = self.term_ids.into_iter().collect();
        terms.sort_unstable();
        let mut rank = vec![0u32; terms.len()];
        for (r, (_, old)) in terms.iter().enumerate() {
            rank[*old as usize] = r as u32;
        }
        let mut postings: Vec<Vec<(u32, u32)>> = vec![Vec::new(); terms.len()];
        let mut doc_ids = Vec::with_capacity(self.docs.len());
        for (pos, (doc, counts)) in self.docs.into_iter().enumerate() {
            doc_ids.push(doc);
            for (term, tf) in counts {
                postings[rank[term as usize] as usize].push((pos as u32, tf));
            }
        }
        let mut parts = Parts::new(doc_ids);
        for ((term, _), list) in terms.iter().zip(postings) {
            parts.push_term(term);
            for (pos, tf) in list {
                // Builder frequencies are saturated, so this cannot fail.
                let _ = parts.push_posting(pos, tf);
            }
        }
        parts.into_index()
    }
}

/// A BM25 index: sorted term dictionary with postings, ready to search.
#[derive(Debug, Clone, PartialEq)]
pub struct LexicalIndex {
    /// External ids of the documents, increasing; postings refer to
    /// positions in this list.
    doc_ids: Vec<u32>,
    /// Per doc position: `K1 * (1 - B + B * len / avg_len)`.
    doc_norms: Vec<f32>,
    /// All terms concatenated, in increasing order.
    term_bytes: String,
    /// End of each term in `term_bytes`.
    term_ends: Vec<u32>,
    /// Start of each term's postings; one more entry than terms.
    post_starts: Vec<u32>,
    post_docs: Vec<u32>,
    post_tfs: Vec<u32>,
    /// Per doc position: the document's length (sum of its term frequencies).
    doc_lens: Vec<u64>,
    /// Term statistics per language, when set ([`LexicalIndex::partition`]).
    parts: Option<Partitions>,
    /// Read from a head (version 2): the term pieces, those loaded so far.
    /// The term arrays above hold the loaded pieces' terms only.
    pieces: Option<pieces::Pieces>,
}

/// Documents grouped by language: statistics are counted within a group.
#[derive(Debug, Clone, PartialEq)]
struct Partitions {
    /// Per doc position: its group.
    of_doc: Vec<u16>,
    /// Documents per group.
    docs: Vec<u32>,
    /// Per doc position: `K1 * (1 - B + B * len / avg_len of its group)`.
    norms: Vec<f32>,
}

/// The one-byte code of a document length as BM25 reads it: four
/// significant bits, rounded to the nearest (lengths up to 15 exactly, the
/// longest a code holds, 15 << 30, for any longer).
pub(crate) fn length_code(len: u64) -> u8 {
    if len < 16 {
        return len as u8;
    }
    let mut e = 63 - len.leading_zeros() - 3;
    let mut m = (len + (1 << (e - 1))) >> e;
    if m == 16 {
        m = 8;
        e += 1;
    }
    if e > 30 {
        return 255;
    }
    (16 + (e - 1) * 8 + (m as u32 - 8)) as u8
}

/// The length a [`length_code`] stands for.
pub(crate) fn length_of_code(code: u8) -> u64 {
    if code < 16 {
        return u64::from(code);
    }
    let c = u32::from(code) - 16;
    u64::from(c % 8 + 8) << (c / 8 + 1)
}

/// Accumulates the pieces of an index in sorted order (shared by the builder
/// and the decoder, so both derive lengths and norms the same way).
struct Parts {
    doc_ids: Vec<u32>,
    doc_lens: Vec<u64>,
    term_bytes: String,
    term_ends: Vec<u32>,
    post_starts: Vec<u32>,
    post_docs: Vec<u32>,
    post_tfs: Vec<u32>,
}

impl Parts {
    fn new(doc_ids: Vec<u32>) -> Self {
        let n = doc_ids.len();
        Parts {
            doc_ids,
            doc_lens: vec![0; n],
            term_bytes: String::new(),
            term_ends: Vec::new(),
            post_starts: vec![0],
            post_docs: Vec::new(),
            post_tfs: Vec::new(),
        }
    }

    fn push_term(&mut self, term: &str) {
        self.term_bytes.push_str(term);
        self.term_ends.push(self.term_bytes.len() as u32);
        self.post_starts.push(self.post_docs.len() as u32);
    }

    /// Add a posting to the last term. `pos` must be a valid doc position.
    fn push_posting(&mut self, pos: u32, tf: u32) -> Result<(), Error> {
        let len = &mut self.doc_lens[pos as usize];
        *len = len
            .checked_add(u64::from(tf))
            .ok_or_else(|| Error::corrupt(FILE, "document length overflows"))?;
        self.post_docs.push(pos);
        self.post_tfs.push(tf);
        if let Some(last) = self.post_starts.last_mut() {
            *last = self.post_docs.len() as u32;
        }
        Ok(())
    }

    fn into_index(mut self) -> LexicalIndex {
        for len in self.doc_lens.iter_mut() {
            *len = length_of_code(length_code(*len));
        }
        let n = self.doc_ids.len();
        let total: u64 = self.doc_lens.iter().fold(0u64, |a, &l| a.saturating_add(l));
        let avg = if n == 0 {
            0.0
        } else {
            (total as f64 / n as f64) as f32
        };
        let doc_norms = self
            .doc_lens
            .iter()
            .map(|&len| {
                let rel = if avg > 0.0 { len as f32 / avg } else { 0.0 };
                K1 * (1.0 - B + B * rel)
            })
            .collect();
        let mut term_bytes = self.term_bytes;
        term_bytes.shrink_to_fit();
        LexicalIndex {
            doc_ids: self.doc_ids,
            doc_norms,
            term_bytes,
            term_ends: self.term_ends,
            post_starts: self.post_starts,
            post_docs: self.post_docs,
            post_tfs: self.post_tfs,
            doc_lens: self.doc_lens,
            parts: None,
            pieces: None,
        }
    }
}

impl LexicalIndex {
    /// Counts term statistics per group of documents from now on (see the
    /// module docs): `group_of(doc id)` names each document's group, e.g. its
    /// language. Scores become each hit's share of the most the query could
    /// score in its group.
    pub fn partition(&mut self, group_of: impl Fn(u32) -> u16) {
        let of_doc: Vec<u16> = self.doc_ids.iter().map(|&d| group_of(d)).collect();
        let groups = of_doc.iter().map(|&g| g as usize + 1).max().unwrap_or(0);
        let mut docs = vec![0u32; groups];
        let mut total = vec![0u64; groups];
        for (&g, &len) in of_doc.iter().zip(&self.doc_lens) {
            docs[g as usize] += 1;
            total[g as usize] = total[g as usize].saturating_add(len);
        }
        let avg: Vec<f32> = docs
            .iter()
            .zip(&total)
            .map(|(&n, &t)| {
                if n == 0 {
                    0.0
                } else {
                    (t as f64 / n as f64) as f32
                }
            })
            .collect();
        let norms = of_doc
            .iter()
            .zip(&self.doc_lens)
            .map(|(&g, &len)| {
                let a = avg[g as usize];
                let rel = if a > 0.0 { len as f32 / a } else { 0.0 };
                K1 * (1.0 - B + B * rel)
            })
            .collect();
        self.parts = Some(Partitions {
            of_doc,
            docs,
            norms,
        });
    }

    /// The best `k` documents for `query` as (doc id, score), highest score
    /// first, equal scores by increasing doc id: BM25, or after
    /// [`partition`](Self::partition) the share of the best possible BM25 in
    /// the document's group. Query terms found in no document are ignored; a
    /// query with no terms returns nothing.
    pub fn search(&self, query: &str, k: usize) -> Vec<(u32, f32)> {
        self.search_terms(query, k, false)
    }

    /// Like [`search`](Self::search); with `shared_only` (on a partitioned
    /// index), only language-neutral terms count: terms with a digit (error
    /// codes, numbers) and terms found in at least half the groups (product
    /// and API names, words languages borrow). The terms of
    /// one language alone are left out (they still count towards the best
    /// possible score, so a match on shared terms alone scores its share).
    pub fn search_terms(&self, query: &str, k: usize, shared_only: bool) -> Vec<(u32, f32)> {
        self.search_terms_where(query, k, shared_only, &|_| true)
    }

    /// Like [`search_terms`](Self::search_terms), over the documents `keep`
    /// accepts only: the best `k` of those (term statistics stay the
    /// whole index's).
    pub fn search_terms_where(
        &self,
        query: &str,
        k: usize,
        shared_only: bool,
        keep: &dyn Fn(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        if k == 0 || self.doc_ids.is_empty() {
            return Vec::new();
        }
        let mut query_terms = text::terms(query);
        query_terms.sort_unstable();
        query_terms.dedup();

        let n = self.doc_ids.len();
        let mut scores = vec![0.0f32; n];
        let mut touched: Vec<u32> = Vec::new();
        let mut seen = vec![false; n];
        // per group: the most the query could score there
        let mut best_possible = self
            .parts
            .as_ref()
            .map(|pt| vec![0f32; pt.docs.len()])
            .unwrap_or_default();
        let mut df_group: Vec<u32> = vec![0; best_possible.len()];
        let mut idf_group: Vec<f32> = vec![0.0; best_possible.len()];
        for term in &query_terms {
            let Some(t) = self.find(term) else {
                // absent everywhere: the largest idf in every group
                if let Some(pt) = &self.parts {
                    for (b, &nd) in best_possible.iter_mut().zip(&pt.docs) {
                        *b += idf(nd as usize, 0) * (K1 + 1.0);
                    }
                }
                continue;
            };
            let (start, end) = (
                self.post_starts[t] as usize,
                self.post_starts[t + 1] as usize,
            );
            let posts = self.post_docs[start..end]
                .iter()
                .zip(&self.post_tfs[start..end]);
            match &self.parts {
                None => {
                    let idf = idf(n, end - start);
                    for (&pos, &tf) in posts {
                        let p = pos as usize;
                        let tf = tf as f32;
                        scores[p] += idf * (tf * (K1 + 1.0)) / (tf + self.doc_norms[p]);
                        if !seen[p] {
                            seen[p] = true;
                            touched.push(pos);
                        }
                    }
                }
                Some(pt) => {
                    df_group.iter_mut().for_each(|d| *d = 0);
                    for &pos in &self.post_docs[start..end] {
                        df_group[pt.of_doc[pos as usize] as usize] += 1;
                    }
                    for (g, (&nd, &df)) in pt.docs.iter().zip(&df_group).enumerate() {
                        idf_group[g] = idf(nd as usize, df as usize);
                        best_possible[g] += idf_group[g] * (K1 + 1.0);
                    }
                    if shared_only && !is_neutral(term, &df_group) {
                        continue;
                    }
                    for (&pos, &tf) in posts {
                        let p = pos as usize;
                        let tf = tf as f32;
                        let g = pt.of_doc[p] as usize;
                        scores[p] += idf_group[g] * (tf * (K1 + 1.0)) / (tf + pt.norms[p]);
                        if !seen[p] {
                            seen[p] = true;
                            touched.push(pos);
                        }
                    }
                }
            }
        }
        if let Some(pt) = &self.parts {
            for &p in &touched {
                let b = best_possible[pt.of_doc[p as usize] as usize];
                let s = &mut scores[p as usize];
                *s = if b > 0.0 { *s / b } else { 0.0 };
            }
        }

        let mut hits: Vec<(u32, f32)> = touched
            .into_iter()
            .map(|p| (self.doc_ids[p as usize], scores[p as usize]))
            .filter(|&(id, _)| keep(id))
            .collect();
        let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if hits.len() > k {
            hits.select_nth_unstable_by(k - 1, order);
            hits.truncate(k);
        }
        hits.sort_unstable_by(order);
        hits
    }

    /// For each document holding an identifier of the query, the share of
    /// the query's identifiers it holds (0 to 1): terms with a digit and at
    /// least three characters (error codes like `e3022`, HTTP statuses,
    /// versions) that the index knows. An identifier names one thing in every
    /// language, so a page that holds it is very likely the one asked about,
    /// however the rest of the question is worded. Empty when the query has
    /// no such term.
    pub fn identifier_shares(&self, query: &str) -> HashMap<u32, f32> {
        let mut ids: Vec<usize> = text::terms(query)
            .iter()
            .filter(|t| is_identifier(t))
            .filter_map(|t| self.find(t))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut out: HashMap<u32, f32> = HashMap::new();
        if ids.is_empty() {
            return out;
        }
        let each = 1.0 / ids.len() as f32;
        for t in ids {
            let (start, end) = (
                self.post_starts[t] as usize,
                self.post_starts[t + 1] as usize,
            );
            for &pos in &self.post_docs[start..end] {
                *out.entry(self.doc_ids[pos as usize]).or_default() += each;
            }
        }
        out
    }

    /// The index of the documents `keep` accepts, with their ids renumbered
    /// by `new_id` (which must keep their order): the index a site of only
    /// those documents would have. Not partitioned.
    pub fn subset(&self, keep: impl Fn(u32) -> bool, new_id: impl Fn(u32) -> u32) -> Self {
        let kept_pos: Vec<Option<u32>> = {
            let mut next = 0u32;
            self.doc_ids
                .iter()
                .map(|&d| {
                    keep(d).then(|| {
                        next += 1;
                        next - 1
                    })
                })
                .collect()
        };
        let ids = self
            .doc_ids
            .iter()
            .filter(|&&d| keep(d))
            .map(|&d| new_id(d))
            .collect();
        let mut parts = Parts::new(ids);
        for t in 0..self.term_ends.len() {
            let (start, end) = (
                self.post_starts[t] as usize,
                self.post_starts[t + 1] as usize,
            );
            let posts: Vec<(u32, u32)> = (start..end)
                .filter_map(|i| kept_pos[self.post_docs[i] as usize].map(|p| (p, self.post_tfs[i])))
                .collect();
            if posts.is_empty() {
                continue;
            }
            parts.push_term(self.term(t));
            for (p, tf) in posts {
                // lengths were valid in the full index, so they are here
                let _ = parts.push_posting(p, tf);
            }
        }
        parts.into_index()
    }

    /// Number of documents added (including ones without terms).
    pub fn doc_count(&self) -> usize {
        self.doc_ids.len()
    }

    /// The largest document id, if any document was added.
    pub fn max_doc_id(&self) -> Option<u32> {
        self.doc_ids.last().copied()
    }

    /// Number of distinct terms.
    pub fn term_count(&self) -> usize {
        self.term_ends.len()
    }

    fn term(&self, t: usize) -> &str {
        let start = if t == 0 {
            0
        } else {
            self.term_ends[t - 1] as usize
        };
        &self.term_bytes[start..self.term_ends[t] as usize]
    }

    fn find(&self, term: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.term_ends.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.term(mid).as_bytes().cmp(term.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Whether `term` (an analysed term, see [`text::terms`]) is in the
    /// index; with pieces, among those loaded.
    pub fn has_term(&self, term: &str) -> bool {
        self.find(term).is_some()
    }

    /// The loaded terms that start with `prefix`, in term order, each with
    /// the number of documents that hold it.
    pub fn terms_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, usize)> + 'a {
        let (mut lo, mut hi) = (0, self.term_ends.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.term(mid).as_bytes() < prefix.as_bytes() {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo..self.term_ends.len())
            .map(|t| (self.term(t), t))
            .take_while(move |(term, _)| term.starts_with(prefix))
            .map(|(term, t)| {
                let df = self.post_starts[t + 1] - self.post_starts[t];
                (term, df as usize)
            })
    }

    /// The index in the byte format described in the module docs.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + self.doc_ids.len() + 3 * self.post_docs.len() + self.term_bytes.len(),
        );
        out.extend_from_slice(MAGIC);
        put(&mut out, u64::from(VERSION));
        put(&mut out, self.doc_ids.len() as u64);
        let mut prev: Option<u32> = None;
        for &id in &self.doc_ids {
            put(&mut out, u64::from(prev.map_or(id, |p| id - p - 1)));
            prev = Some(id);
        }
        put(&mut out, self.term_ends.len() as u64);
        self.write_terms(&mut out, 0..self.term_ends.len());
        out
    }

    /// Terms `range` as term entries (the first with no shared prefix).
    fn write_terms(&self, out: &mut Vec<u8>, range: std::ops::Range<usize>) {
        let mut prev_term = "";
        for t in range {
            let term = self.term(t);
            let shared = prev_term
                .bytes()
                .zip(term.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            put(out, shared as u64);
            put(out, (term.len() - shared) as u64);
            out.extend_from_slice(&term.as_bytes()[shared..]);
            let (start, end) = (
                self.post_starts[t] as usize,
                self.post_starts[t + 1] as usize,
            );
            put(out, (end - start) as u64);
            let mut prev_pos: Option<u32> = None;
            for (&pos, &tf) in self.post_docs[start..end]
                .iter()
                .zip(&self.post_tfs[start..end])
            {
                let gap = u64::from(prev_pos.map_or(pos, |p| pos - p - 1));
                put(out, gap << 1 | u64::from(tf > 1));
                if tf > 1 {
                    put(out, u64::from(tf - 2));
                }
                prev_pos = Some(pos);
            }
            prev_term = term;
        }
    }

    /// Decode bytes written by [`to_bytes`](Self::to_bytes). Any malformed
    /// input is an error (never a panic); allocations are bounded by the
    /// input's length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(Error::corrupt(
                FILE,
                "not a crossfind lexical index (bad magic)",
            ));
        }
        let version = r.varint()?;
        if (u64::from(pieces::VERSION)..=u64::from(pieces::VERSION_CODES)).contains(&version) {
            return pieces::read_head(&mut r, version as u32);
        }
        if version != u64::from(VERSION) {
            return Err(Error::Version {
                file: FILE.to_string(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: pieces::VERSION_CODES,
            });
        }

        // Every doc id takes at least one byte.
        let n_docs = r.count(1, "document count")?;
        let doc_ids = read_doc_ids(&mut r, n_docs)?;

        let mut parts = Parts::new(doc_ids);
        read_terms(&mut r, &mut parts, None)?;
        if r.pos != bytes.len() {
            return Err(Error::corrupt(FILE, "trailing bytes after the index"));
        }
        Ok(parts.into_index())
    }
}

/// `n` document ids, each written as the gap to the one before minus one
/// (the first as it is), so they come out strictly increasing.
fn read_doc_ids(r: &mut Reader, n: usize) -> Result<Vec<u32>, Error> {
    let mut doc_ids = Vec::with_capacity(n);
    let mut prev: Option<u32> = None;
    for _ in 0..n {
        let v = r.varint()?;
        let id = match prev {
            None => u32::try_from(v).ok(),
            Some(p) => u64::from(p)
                .checked_add(v)
                .and_then(|x| x.checked_add(1))
                .and_then(|x| u32::try_from(x).ok()),
        }
        .ok_or_else(|| Error::corrupt(FILE, "document id out of range"))?;
        doc_ids.push(id);
        prev = Some(id);
    }
    Ok(doc_ids)
}

/// Reads a term count and that many term entries, strictly increasing,
/// into `parts`. `within`: the bounds a piece's terms must keep to, first
/// included, next excluded.
fn read_terms(
    r: &mut Reader,
    parts: &mut Parts,
    within: Option<(&str, Option<&str>)>,
) -> Result<(), Error> {
    let n_docs = parts.doc_ids.len();
    {
        // Every term entry takes at least four bytes: shared prefix length,
        // suffix length, df and one posting.
        let n_terms = r.count(4, "term count")?;
        parts.term_ends.reserve(n_terms);
        parts.post_starts.reserve(n_terms);
        let mut term: Vec<u8> = Vec::with_capacity(MAX_TERM_BYTES);
        let mut prev_term: Vec<u8> = Vec::new();
        for i in 0..n_terms {
            let shared = r.varint()?;
            let suffix_len = r.varint()?;
            if shared > prev_term.len() as u64 {
                return Err(Error::corrupt(
                    FILE,
                    format!("term {i}: shared prefix longer than the previous term"),
                ));
            }
            // both lengths come from the file: a suffix length near u64::MAX
            // must not wrap past the check
            let len = shared.checked_add(suffix_len);
            if !len.is_some_and(|l| (1..=MAX_TERM_BYTES as u64).contains(&l)) {
                return Err(Error::corrupt(FILE, format!("term {i}: bad length")));
            }
            let suffix = r.take(suffix_len as usize)?;
            term.clear();
            term.extend_from_slice(&prev_term[..shared as usize]);
            term.extend_from_slice(suffix);
            if i > 0 && term <= prev_term {
                return Err(Error::corrupt(
                    FILE,
                    format!("term {i}: terms are not strictly increasing"),
                ));
            }
            let s = std::str::from_utf8(&term)
                .map_err(|_| Error::corrupt(FILE, format!("term {i}: not valid UTF-8")))?;
            if let Some((first, next)) = within {
                if s.as_bytes() < first.as_bytes()
                    || next.is_some_and(|n| s.as_bytes() >= n.as_bytes())
                {
                    return Err(Error::corrupt(
                        FILE,
                        format!("term {i}: outside the piece's term range"),
                    ));
                }
            }
            parts.push_term(s);

            let df = r.count(1, "posting count")?;
            if df == 0 || df > n_docs {
                return Err(Error::corrupt(
                    FILE,
                    format!("term {i}: bad document frequency {df}"),
                ));
            }
            parts.post_docs.reserve(df);
            parts.post_tfs.reserve(df);
            let mut prev_pos: Option<u64> = None;
            for _ in 0..df {
                let code = r.varint()?;
                let gap = code >> 1;
                let pos = match prev_pos {
                    None => Some(gap),
                    Some(p) => p.checked_add(gap).and_then(|x| x.checked_add(1)),
                }
                .filter(|&p| p < n_docs as u64)
                .ok_or_else(|| {
                    Error::corrupt(FILE, format!("term {i}: posting beyond the last document"))
                })?;
                let tf = if code & 1 == 1 {
                    r.varint()?
                        .checked_add(2)
                        .and_then(|x| u32::try_from(x).ok())
                        .ok_or_else(|| {
                            Error::corrupt(FILE, format!("term {i}: term frequency out of range"))
                        })?
                } else {
                    1
                };
                parts.push_posting(pos as u32, tf)?;
                prev_pos = Some(pos);
            }
            std::mem::swap(&mut term, &mut prev_term);
        }
    }
    Ok(())
}

/// Whether a term means the same in every language: it holds a digit (error
/// codes, HTTP statuses, versions, numbers), or it occurs in at least half of
/// the groups (product and API names, borrowed words). The words of one
/// language, or of a few related ones (Spanish and Portuguese `como`), do not.
fn is_neutral(term: &str, df_group: &[u32]) -> bool {
    if term.chars().any(|c| c.is_ascii_digit()) {
        return true;
    }
    let present = df_group.iter().filter(|&&d| d > 0).count();
    present >= 2 && 2 * present >= df_group.len()
}

/// Whether a query term names one thing in every language: a digit and at
/// least three characters (`e3022`, `429`, `v2024`), not `2` or `10`.
fn is_identifier(term: &str) -> bool {
    term.chars().count() >= 3 && term.chars().any(|c| c.is_ascii_digit())
}

/// BM25 idf, never negative. Computed in f64 with [`ln`], rounded to f32.
fn idf(n: usize, df: usize) -> f32 {
    let (n, df) = (n as f64, df as f64);
    ln(1.0 + (n - df + 0.5) / (df + 0.5)) as f32
}

/// Natural logarithm of a finite `x > 0` from basic arithmetic only, so the
/// result is the same on every platform (platform `ln` may differ in the
/// last bit). Accurate to a few ulps, which is all scoring needs.
fn ln(x: f64) -> f64 {
    const LN2: f64 = std::f64::consts::LN_2;
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    if !(x > 0.0 && x.is_finite()) {
        return 0.0;
    }
    // x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
    let mut m = x;
    let mut e = 0i32;
    while m >= SQRT2 {
        m *= 0.5;
        e += 1;
    }
    while m < SQRT2 * 0.5 {
        m *= 2.0;
        e -= 1;
    }
    // ln(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    while k < 40.0 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    2.0 * sum + f64::from(e) * LN2
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(Error::corrupt(FILE, "truncated"));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, Error> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let &b = self
                .bytes
                .get(self.pos)
                .ok_or_else(|| Error::corrupt(FILE, "truncated"))?;
            self.pos += 1;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(Error::corrupt(FILE, "varint overflows 64 bits"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::corrupt(FILE, "varint longer than 10 bytes"))
    }

    /// A count of items that each take at least `min_bytes` of what remains.
    fn count(&mut self, min_bytes: usize, what: &str) -> Result<usize, Error> {
        let v = self.varint()?;
        if v > (self.remaining() / min_bytes) as u64 {
            return Err(Error::corrupt(
                FILE,
                format!("{what} {v} exceeds the remaining bytes"),
            ));
        }
        Ok(v as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(docs: &[(u32, &str)]) -> LexicalIndex {
        let mut b = LexicalIndexBuilder::new();
        for &(id, text) in docs {
            b.add(id, text);
        }
        b.finish()
    }

    fn ids(hits: &[(u32, f32)]) -> Vec<u32> {
        hits.iter().map(|h| h.0).collect()
    }

    fn sample() -> LexicalIndex {
        index(&[
            (
                0,
                "How to reset your password from the account settings page.",
            ),
            (
                1,
                "Error E1042 means the payment card was declined by the bank.",
            ),
            (
                2,
                "HTTP 429 Too Many Requests: you hit the rate limit, retry later.",
            ),
            (
                3,
                "Send the X-Idempotency-Key header so retries do not charge twice.",
            ),
            (
                5,
                "Para restablecer la contraseña, abre la configuración de la cuenta.",
            ),
            (
                7,
                "パスワードをリセットするには、アカウント設定を開きます。",
            ),
            (8, "비밀번호를 재설정하려면 계정 설정을 여세요."),
            (9, "पासवर्ड रीसेट करने के लिए सेटिंग्स खोलें।"),
            (10, "لإعادة تعيين كلمة المرور افتح الإعدادات."),
            (12, "Use the api_token field; E10420 is a different error."),
        ])
    }

    #[test]
    fn japanese_query_without_spaces_matches_japanese_text() {
        let hits = sample().search("パスワードリセット", 3);
        assert_eq!(hits[0].0, 7);
    }

    #[test]
    fn korean_query_matches_word_with_particle() {
        let hits = sample().search("비밀번호 재설정", 3);
        assert_eq!(hits[0].0, 8);
    }

    #[test]
    fn accentless_spanish_query_matches_accented_text() {
        let hits = sample().search("contrasena configuracion", 3);
        assert_eq!(ids(&hits), vec![5]);
    }

    #[test]
    fn error_code_matches_exactly() {
        let idx = sample();
        assert_eq!(ids(&idx.search("E1042", 5)), vec![1]);
        assert_eq!(ids(&idx.search("e10420", 5)), vec![12]);
        assert_eq!(ids(&idx.search("429", 5)), vec![2]);
    }

    #[test]
    fn hyphenated_header_name_matches_parts() {
        let idx = sample();
        assert_eq!(idx.search("x-idempotency-key", 5)[0].0, 3);
        assert_eq!(ids(&idx.search("idempotency", 5)), vec![3]);
        assert_eq!(ids(&idx.search("api token", 5)), vec![12]);
    }

    #[test]
    fn hindi_and_arabic_terms_keep_their_marks() {
        let idx = sample();
        assert_eq!(ids(&idx.search("पासवर्ड", 5)), vec![9]);
        assert_eq!(ids(&idx.search("كلمة المرور", 5)), vec![10]);
    }

    #[test]
    fn rare_term_outranks_common_term() {
        let idx = index(&[
            (0, "account settings account"),
            (1, "account billing"),
            (2, "account invoice"),
            (3, "account refund"),
        ]);
        // "refund" is in one doc, "account" in all four.
        let hits = idx.search("account refund", 4);
        assert_eq!(hits[0].0, 3);
        assert_eq!(hits.len(), 4);
        assert!(hits[0].1 > hits[1].1);
    }

    #[test]
    fn shorter_document_wins_on_equal_tf() {
        let idx = index(&[
            (0, "refund policy and many other words here"),
            (1, "refund policy"),
        ]);
        assert_eq!(ids(&idx.search("refund", 2)), vec![1, 0]);
    }

    #[test]
    fn ties_are_broken_by_doc_id_and_k_truncates() {
        let idx = index(&[(9, "alpha"), (4, "alpha"), (6, "alpha"), (2, "beta")]);
        let hits = idx.search("alpha", 2);
        assert_eq!(ids(&hits), vec![4, 6]);
        assert_eq!(hits[0].1, hits[1].1);
        assert!(idx.search("alpha", 0).is_empty());
    }

    #[test]
    fn unknown_and_repeated_query_terms_are_ignored() {
        let idx = sample();
        let a = idx.search("password", 5);
        let b = idx.search("password password zzzunknown", 5);
        assert_eq!(a, b);
    }

    #[test]
    fn empty_query_returns_nothing() {
        let idx = sample();
        assert!(idx.search("", 10).is_empty());
        assert!(idx.search("   \n\t", 10).is_empty());
        assert!(idx.search("?!… — ;", 10).is_empty());
        assert!(LexicalIndexBuilder::new()
            .finish()
            .search("password", 10)
            .is_empty());
    }

    #[test]
    fn doc_count_counts_sparse_and_empty_docs() {
        let idx = index(&[(100, "a"), (3, ""), (3, "b"), (7, "...")]);
        assert_eq!(idx.doc_count(), 3);
        assert_eq!(ids(&idx.search("b", 5)), vec![3]);
    }

    #[test]
    fn round_trip_bytes_gives_identical_scores() {
        let idx = sample();
        let bytes = idx.to_bytes();
        let back = LexicalIndex::from_bytes(&bytes).unwrap();
        assert_eq!(back, idx);
        assert_eq!(back.to_bytes(), bytes);
        for q in [
            "password reset",
            "E1042",
            "パスワード",
            "contraseña",
            "retry twice",
            "비밀번호",
        ] {
            let a = idx.search(q, 10);
            let b = back.search(q, 10);
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.0, y.0);
                assert_eq!(x.1.to_bits(), y.1.to_bits());
            }
        }
        let empty = LexicalIndexBuilder::new().finish();
        assert_eq!(LexicalIndex::from_bytes(&empty.to_bytes()).unwrap(), empty);
    }

    #[test]
    fn scores_are_fixed_bits() {
        // Pins the arithmetic so a platform difference (native vs wasm) or
        // an accidental change in evaluation order shows up as a failure.
        let idx = index(&[(0, "a b c"), (1, "a a d e f g"), (2, "h")]);
        let hits = idx.search("a d", 3);
        assert_eq!(ids(&hits), vec![1, 0]);
        assert!((hits[0].1 - 1.2665).abs() < 1e-3, "{}", hits[0].1);
        let bits: Vec<u32> = hits.iter().map(|h| h.1.to_bits()).collect();
        assert_eq!(bits, vec![0x3fa2_1dda, 0x3efa_e7fd]);
        assert_eq!(
            bits,
            idx.search("d a", 3)
                .iter()
                .map(|h| h.1.to_bits())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn ln_matches_std_closely() {
        for x in [1e-9, 0.3, 1.0, 1.5, 2.0, 3.7, 10.0, 12345.678, 1e12] {
            assert!(
                (ln(x) - x.ln()).abs() <= 1e-14 * x.ln().abs().max(1.0),
                "{x}"
            );
        }
    }

    #[test]
    fn identifiers_name_the_pages_that_hold_them_in_any_wording() {
        let x = index(&[
            (
                0,
                "Error E3022: the idempotency key was reused with another body.",
            ),
            (1, "エラー E1042: 同期に失敗しました。"),
            (
                2,
                "HTTP 429 means too many requests; E3022 is unrelated here.",
            ),
            (3, "Version 2 of the API, released in 10 steps."),
        ]);
        let s = x.identifier_shares("E3022 エラーの意味");
        assert_eq!(s.get(&0), Some(&1.0));
        assert_eq!(s.get(&2), Some(&1.0));
        assert!(!s.contains_key(&1));
        // two identifiers: a page with one of them gets half
        let s = x.identifier_shares("e3022 or 429?");
        assert_eq!((s.get(&0), s.get(&2)), (Some(&0.5), Some(&1.0)));
        // short numbers and unknown codes are no identifiers
        assert!(x.identifier_shares("API 2 in 10").is_empty());
        assert!(x.identifier_shares("E9999").is_empty());
    }

    #[test]
    fn lengths_read_to_four_significant_bits_round_trip_through_one_byte() {
        let mut last = 0;
        for len in (0u64..5000).chain([1 << 20, (1 << 20) + 12345, u64::MAX]) {
            let q = length_of_code(length_code(len));
            // exact to 15, then within half a step of 1/8 of the length
            if len < 16 {
                assert_eq!(q, len);
            } else if len < 15 << 30 {
                assert!(q.abs_diff(len) * 16 <= len, "{len} read as {q}");
            }
            // a code stands for itself, and longer never reads shorter
            assert_eq!(length_code(q), length_code(len), "{len}");
            assert!(q >= last || len == u64::MAX, "{len}");
            last = q;
        }
        assert_eq!(length_of_code(255), 15 << 30);
        assert_eq!(
            (0u8..=255)
                .map(length_of_code)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            256
        );
    }

    #[test]
    fn bad_magic_and_version_are_errors() {
        let mut bytes = sample().to_bytes();
        bytes[4] = 6;
        assert!(matches!(
            LexicalIndex::from_bytes(&bytes),
            Err(Error::Version { found: 6, .. })
        ));
        bytes[0] = b'X';
        assert!(matches!(
            LexicalIndex::from_bytes(&bytes),
            Err(Error::Corrupt { .. })
        ));
        let mut bytes = sample().to_bytes();
        bytes.push(0);
        assert!(LexicalIndex::from_bytes(&bytes).is_err());
    }

    #[test]
    fn hostile_counts_do_not_allocate() {
        // Huge declared counts with almost no bytes behind them.
        let mut bytes = MAGIC.to_vec();
        put(&mut bytes, 1);
        put(&mut bytes, u64::from(u32::MAX));
        assert!(LexicalIndex::from_bytes(&bytes).is_err());
        let mut bytes = MAGIC.to_vec();
        put(&mut bytes, 1);
        put(&mut bytes, 1);
        put(&mut bytes, 0);
        put(&mut bytes, u64::MAX);
        assert!(LexicalIndex::from_bytes(&bytes).is_err());
        // An 11-byte varint.
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[0xff; 11]);
        assert!(LexicalIndex::from_bytes(&bytes).is_err());
    }

    // Found by the `bundle` fuzz target (fuzz/corpus/lexical/
    // finding-term-length-overflow): the second term's suffix length is
    // u64::MAX, so `shared + suffix_len` overflowed (a panic with overflow
    // checks; without them it wrapped to a small length and only a later
    // read happened to fail).
    #[test]
    fn term_length_that_overflows_is_a_bad_length() {
        let bytes = b"CFLX\x01\x0c\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x01\x64\x01\x16\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
        let err = LexicalIndex::from_bytes(bytes).unwrap_err();
        assert_eq!(err.code(), "corrupt_file");
        assert!(err.to_string().contains("term 1: bad length"), "{err}");
        // built by hand: one term "ab", then one sharing 2 bytes of it with
        // a suffix of u64::MAX bytes (unchecked, 2 + u64::MAX wrapped to a
        // length of 1, which passed the check)
        let mut bytes = MAGIC.to_vec();
        put(&mut bytes, u64::from(VERSION));
        put(&mut bytes, 1);
        put(&mut bytes, 0);
        put(&mut bytes, 2);
        for (shared, suffix) in [(0u64, 2u64), (2, u64::MAX)] {
            put(&mut bytes, shared);
            put(&mut bytes, suffix);
            if shared == 0 {
                bytes.extend_from_slice(b"ab");
                put(&mut bytes, 1);
                put(&mut bytes, 0);
            }
        }
        let err = LexicalIndex::from_bytes(&bytes).unwrap_err();
        assert!(err.to_string().contains("term 1: bad length"), "{err}");
    }

    #[test]
    fn truncated_or_flipped_bytes_are_errors_not_panics() {
        let idx = index(&[
            (0, "reset password"),
            (2, "Error E1042 déclinée"),
            (5, "パスワード 비밀번호를 पासवर्ड"),
            (6, "password password password api_token"),
        ]);
        let bytes = idx.to_bytes();
        for len in 0..bytes.len() {
            assert!(
                LexicalIndex::from_bytes(&bytes[..len]).is_err(),
                "truncated to {len}"
            );
        }
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= mask;
                if let Ok(idx) = LexicalIndex::from_bytes(&b) {
                    // Whatever decoded must be usable and re-encodable.
                    let _ = idx.search("password e1042 パスワード", 10);
                    let again = LexicalIndex::from_bytes(&idx.to_bytes()).unwrap();
                    assert_eq!(again, idx);
                }
            }
        }
    }

    #[test]
    #[ignore = "size report: cargo test --release --lib bytes_per_chunk -- --ignored --nocapture"]
    fn bytes_per_chunk() {
        // 1,000 chunks of 150 words drawn Zipf-like from a 5,000-word vocabulary.
        let vocab: Vec<String> = (0..5000u32)
            .map(|i| {
                let mut w = String::new();
                let mut x = i.wrapping_mul(2_654_435_761) ^ 0x9e37;
                for _ in 0..(3 + i % 7) {
                    w.push((b'a' + (x % 26) as u8) as char);
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345) >> 3;
                }
                w
            })
            .collect();
        let mut state = 0x1234_5678_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut b = LexicalIndexBuilder::new();
        let mut text_bytes = 0;
        for doc in 0..1000u32 {
            let words: Vec<&str> = (0..150)
                .map(|_| {
                    // Zipf-ish: rank = floor(5000^u) - 1.
                    let u = (next() % 1_000_000) as f64 / 1_000_000.0;
                    let rank = (5000f64.powf(u) as usize).saturating_sub(1).min(4999);
                    vocab[rank].as_str()
                })
                .collect();
            let text = words.join(" ");
            text_bytes += text.len();
            b.add(doc, &text);
        }
        let idx = b.finish();
        let bytes = idx.to_bytes();
        println!(
            "{} chunks, {} terms, {} postings, {} bytes ({:.1} bytes/chunk; text {} bytes)",
            idx.doc_count(),
            idx.term_count(),
            idx.post_docs.len(),
            bytes.len(),
            bytes.len() as f64 / 1000.0,
            text_bytes
        );
        assert_eq!(LexicalIndex::from_bytes(&bytes).unwrap(), idx);
    }
}
