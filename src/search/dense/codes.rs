//! The dense first stage of a large bundle: 384-bit sign codes of the chunk
//! vectors centred on the corpus mean, loaded up front, then exact int8
//! rescoring of the candidates' whole pages with their rows fetched by
//! byte range from the vectors shard (docs/large-sites.md, "The choice").
//!
//! A chunk `v` (its int8 row dequantised) is coded as `sign(v − μ)`, one bit
//! a dimension, and `|v − μ|` as f16. A query `q` stays f32 (asymmetric
//! scoring) and a chunk's dot product is estimated as
//! `q · μ + √(2/π) / √d · |v − μ| · Σ_i q_i · sign(v_i − μ_i)`. The first
//! stage ranks chunks by that estimate mixed with their page's estimated
//! cosine and less their crowding, as search mixes the exact scores (on the
//! 5,040-page bench site this lifts the two stages' dense recall@10 of
//! results from 0.961, ranking by `|v − μ| · Σ_i q_i · sign(v_i − μ_i)`
//! alone, to 0.992). The [`CANDIDATES`] best chunks that pass the query's
//! filter name their pages; every chunk of those pages is rescored exactly,
//! so a rescored chunk's score, page-context term and crowding included, is
//! bit for bit the exact scan's. The dense ranking is taken from the
//! rescored chunks only. A chunk that is not rescored (a keyword hit
//! elsewhere, in hybrid fusion; a translation of a hit shown in the
//! reader's language) keeps its estimate. Ties go to the lower chunk id
//! everywhere, and every sum runs in one fixed order: native and wasm
//! rank alike.
//!
//! Rows travel in blocks, one a page: a block is a run of consecutive
//! chunks of one page (a page's chunks are consecutive in a bundle, so its
//! block is the page; [`block_starts`] says where each begins), because
//! rescoring needs every row of a candidate's page and nothing else. Each
//! block's bytes are checked against the first [`SUM_BYTES`] bytes of
//! their sha256, listed here. The codes file itself is checked whole
//! against the manifest; 32 bits a block let a damaged or mismatched block
//! through once in four billion, and save 20 kB on the bench site. Version
//! 1 cut the rows into blocks of 4 whatever their page: a query then
//! fetched 45% more row bytes than its pages hold on the 5,040-page bench
//! site (docs/large-sites.md, "A block a page").
//!
//! The codes of similar chunks share most of their bits (the sections of a
//! page's product editions or versions, the boilerplate a site repeats),
//! but a code is near random, so gzip finds nothing to share. Version 3
//! stores each code as its XOR with the most similar of the 255 codes
//! before it, when that one differs in fewer than half the bits, so that
//! the shared bits are runs of zeros for the codes file's gzip form: 15%
//! smaller on the 5,040-page bench site (1,154 to 974 kB), 11% on the
//! demo forced into codes (docs/large-sites.md, "Codes as differences").
//! The codes in memory, and so every score, are the same.
//!
//! # Byte format (version 3; version 2 has no references), little-endian
//!
//! ```text
//! "CFDC"  u32 version
//! u32 dim (a multiple of 8), u32 chunks, u32 pages, u32 blocks
//! u64 where row 0 starts in the vectors shard (row i at that + i · (4 + dim))
//! u32 flags: bit 0, the crowding is listed
//! f32 × dim      the mean μ of the dequantised rows
//! f32 × pages    each page's summed-vector length (`Vectors::page_norms`)
//! u16 × chunks   the crowding (`Vectors::crowding`) as IEEE half, when
//!                flagged (the indexer rounds it to half precision for
//!                every bundle, so this is the vectors shard's value)
//! u16 × chunks   |v − μ| as IEEE half
//! u8 × chunks    each code's reference r (version 3): 0, the code is
//!                stored as it is; else it is stored XOR the code of the
//!                chunk r places before it
//! (dim / 8) bytes × chunks  the sign code: bit b of byte j is dimension
//!                8j + b, set when v ≥ μ there (XOR its reference's)
//! 4 bytes × blocks  the first 4 bytes of the sha256 of each block's rows
//! ```

use sha2::{Digest, Sha256};

use super::best_n;
use crate::bundle::Docs;
use crate::error::{Error, Result};
use crate::format::tensors::f16_to_f32;
#[cfg(not(target_arch = "wasm32"))]
use crate::format::tensors::f32_to_f16;

const MAGIC: &[u8; 4] = b"CFDC";
const VERSION: u32 = 3;
/// The oldest version read: version 2 is version 3 without references.
const OLDEST_READ: u32 = 2;
/// Codes a code may be stored as a difference from, at most (version 3).
#[cfg(not(target_arch = "wasm32"))]
const REFERENCE_WINDOW: usize = 255;
/// Chunks whose pages the first stage hands to rescoring (0.8% of the
/// 5,040-page bench site's chunks). Dense recall@10 against the exact scan
/// on that site's 396 labelled queries (`benches/dense_recall.mjs`): 0.987
/// at 150, 0.989 at 160, **0.991 at 180**, 0.993 at 200; the rows a query
/// fetches grow with it (docs/large-sites.md, "A block a page").
pub const CANDIDATES: usize = 180;
/// A bundle is written in this layout when its int8 rows are larger than
/// this: the issue's budget for the first semantic result. Below it every
/// row together costs no more than that budget, and a visit of a few
/// queries fetches less in one piece (docs/large-sites.md, "Crossover").
#[cfg(not(target_arch = "wasm32"))]
pub const CODES_ABOVE_BYTES: usize = 1_500_000;

/// The sign codes and what rescoring needs besides the rows.
pub struct DenseCodes {
    pub dim: usize,
    pub chunks: usize,
    rows_at: u64,
    mean: Vec<f32>,
    pub page_norms: Vec<f32>,
    pub crowding: Vec<f32>,
    norms: Vec<f32>,
    codes: Vec<u8>,
    block_sums: Vec<[u8; SUM_BYTES]>,
    /// The first chunk of each block, and the number of chunks last
    /// ([`block_starts`]).
    starts: Vec<u32>,
    /// Rows fetched so far, by block (its rows of `4 + dim` bytes).
    blocks: Vec<Option<Box<[u8]>>>,
    /// The chunks of each page, in chunk order.
    page_chunks: Vec<Vec<u32>>,
    /// The first stage of the last query: naming its rows
    /// ([`candidate_pages`](Self::candidate_pages)) and answering it
    /// ([`two_stage`](Self::two_stage), once more when its snippets are in)
    /// then run it once (about 5 ms a run in the browser on the 5,040-page
    /// bench site).
    last: std::sync::Mutex<Option<std::sync::Arc<Stage>>>,
}

/// The first stage for one query vector.
struct Stage {
    /// The query vector, bit for bit.
    q: Vec<u32>,
    /// Every chunk's estimate ([`DenseCodes::estimates`]).
    est: Vec<f32>,
    /// Every chunk's first-stage score ([`DenseCodes::first_stage`]).
    first: Vec<f32>,
}

/// What the first stage and rescoring give a query: each chunk's dot
/// product with it, exact for `rescored` chunks, estimated for the others.
pub struct TwoStage {
    pub raw: Vec<f32>,
    pub rescored: Vec<bool>,
}

/// Where each row block begins: the chunk ids at which the page changes
/// (0 first, when there is a chunk), then the number of chunks. A block
/// is a run of consecutive chunks of one page.
pub fn block_starts(docs: &Docs) -> Vec<u32> {
    let mut starts = Vec::new();
    let mut page = None;
    for (i, c) in docs.chunks.iter().enumerate() {
        if page != Some(c.page) {
            starts.push(i as u32);
            page = Some(c.page);
        }
    }
    starts.push(docs.chunks.len() as u32);
    starts
}

/// Bytes of a block's listed sum.
const SUM_BYTES: usize = 4;

/// The first [`SUM_BYTES`] bytes of the sha256 of `bytes`.
fn block_sum(bytes: &[u8]) -> [u8; SUM_BYTES] {
    let d = Sha256::digest(bytes);
    let mut out = [0u8; SUM_BYTES];
    out.copy_from_slice(&d[..SUM_BYTES]);
    out
}

/// Writes the chunk vectors (`rows` of `docs.chunks`, int8 with a scale
/// each) and their crowding in the form their size calls for: one piece
/// up to [`CODES_ABOVE_BYTES`] of rows, else with the sign codes of this
/// module (`ShardWriter::vectors_with_codes`). `codes` overrides it.
/// The crowding is written in half precision in either form (the codes
/// list it so, and both forms must score alike). Returns whether the codes
/// were written.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_vectors<S: crate::bundle::write::ShardSink>(
    w: &mut crate::bundle::write::ShardWriter<S>,
    docs: &Docs,
    dim: usize,
    i8_rows: &[u8],
    crowding: &[f32],
    codes: Option<bool>,
) -> Result<bool> {
    let rows = docs.chunks.len();
    let with_codes = codes.unwrap_or(i8_rows.len() > CODES_ABOVE_BYTES) && dim.is_multiple_of(8);
    let crowding: Vec<f32> = crowding
        .iter()
        .map(|&c| f16_to_f32(f32_to_f16(c)))
        .collect();
    let crowding = crowding.as_slice();
    if with_codes {
        let vectors = super::Vectors {
            dim,
            rows,
            raw: i8_rows.to_vec(),
            crowding: crowding.to_vec(),
        };
        w.vectors_with_codes(rows, dim, i8_rows, crowding, |rows_at| {
            codes_bytes(&vectors, docs, rows_at)
        })?;
    } else {
        w.vectors(rows, dim, i8_rows, crowding)?;
    }
    Ok(with_codes)
}

/// The codes file of `vectors` (every row in), whose rows start at byte
/// `rows_at` of the vectors shard, for the pages of `docs`.
#[cfg(not(target_arch = "wasm32"))]
pub fn codes_bytes(vectors: &super::Vectors, docs: &Docs, rows_at: u64) -> Vec<u8> {
    let (dim, n) = (vectors.dim, vectors.rows);
    assert!(
        dim.is_multiple_of(8),
        "sign codes need a dimension that is a multiple of 8"
    );
    let rb = 4 + dim;
    let row = |i: usize| -> Vec<f32> {
        let r = &vectors.raw[i * rb..(i + 1) * rb];
        let scale = f32::from_le_bytes([r[0], r[1], r[2], r[3]]);
        r[4..].iter().map(|&b| (b as i8) as f32 * scale).collect()
    };
    let mut mean = vec![0f64; dim];
    for i in 0..n {
        for (m, x) in mean.iter_mut().zip(row(i)) {
            *m += f64::from(x);
        }
    }
    let mean: Vec<f32> = mean.iter().map(|m| (m / n.max(1) as f64) as f32).collect();
    let page_norms = vectors.page_norms(docs);
    let starts = block_starts(docs);
    let blocks = starts.len() - 1;
    let mut out = Vec::with_capacity(
        48 + 4 * (dim + page_norms.len()) + n * (dim / 8 + 4) + SUM_BYTES * blocks,
    );
    out.extend_from_slice(MAGIC);
    for x in [
        VERSION,
        dim as u32,
        n as u32,
        page_norms.len() as u32,
        blocks as u32,
    ] {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.extend_from_slice(&rows_at.to_le_bytes());
    let crowded = !vectors.crowding.is_empty();
    out.extend_from_slice(&u32::from(crowded).to_le_bytes());
    for x in mean.iter().chain(&page_norms) {
        out.extend_from_slice(&x.to_le_bytes());
    }
    if crowded {
        for &x in &vectors.crowding {
            out.extend_from_slice(&f32_to_f16(x).to_le_bytes());
        }
    }
    let mut codes = Vec::with_capacity(n * dim / 8);
    for i in 0..n {
        let v = row(i);
        let mut ss = 0f64;
        for (x, m) in v.iter().zip(&mean) {
            ss += f64::from(x - m) * f64::from(x - m);
        }
        out.extend_from_slice(&f32_to_f16(ss.sqrt() as f32).to_le_bytes());
        for j in 0..dim / 8 {
            let mut byte = 0u8;
            for b in 0..8 {
                if v[8 * j + b] >= mean[8 * j + b] {
                    byte |= 1 << b;
                }
            }
            codes.push(byte);
        }
    }
    let (refs, stored) = as_differences(&codes, dim / 8);
    out.extend_from_slice(&refs);
    out.extend_from_slice(&stored);
    for w in starts.windows(2) {
        out.extend_from_slice(&block_sum(
            &vectors.raw[w[0] as usize * rb..w[1] as usize * rb],
        ));
    }
    out
}

/// `codes` (`nb` bytes each) as version 3 stores them: each code's
/// reference (0: none; else how many codes before it) and the codes XOR
/// their references'. The reference is the code within
/// [`REFERENCE_WINDOW`] before that differs in the fewest bits (the
/// nearest on a tie), when that is under half the bits.
#[cfg(not(target_arch = "wasm32"))]
fn as_differences(codes: &[u8], nb: usize) -> (Vec<u8>, Vec<u8>) {
    let n = codes.len() / nb.max(1);
    let code = |i: usize| &codes[i * nb..(i + 1) * nb];
    // each code as 64-bit words (the last zero-padded), so that two codes
    // differ by a few popcounts: six a pair for 384 dimensions, some 700
    // million for the 450,000 chunks of a 100,000-page site
    let per = nb.div_ceil(8);
    let words: Vec<u64> = (0..n)
        .flat_map(|i| {
            code(i).chunks(8).map(|c| {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                u64::from_le_bytes(w)
            })
        })
        .collect();
    let differ = |i: usize, j: usize| -> u32 {
        let (a, b) = (&words[i * per..][..per], &words[j * per..][..per]);
        a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
    };
    let mut refs = vec![0u8; n];
    let mut stored = codes.to_vec();
    for i in 1..n {
        let mut best = (nb as u32 * 8 / 2, 0usize);
        for r in 1..=i.min(REFERENCE_WINDOW) {
            let d = differ(i, i - r);
            if d < best.0 {
                best = (d, r);
            }
        }
        if best.1 > 0 {
            refs[i] = best.1 as u8;
            for (s, x) in stored[i * nb..(i + 1) * nb]
                .iter_mut()
                .zip(code(i - best.1))
            {
                *s ^= x;
            }
        }
    }
    (refs, stored)
}

/// Reads little-endian values off a byte slice, an error naming `file` when
/// it runs out.
struct Cursor<'a> {
    file: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| Error::corrupt(self.file, "the sign codes file is cut short"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    /// `n` values of `width` bytes each, read by `read`.
    fn values(&mut self, n: usize, width: usize, read: fn(&[u8]) -> f32) -> Result<Vec<f32>> {
        let b = self.take(
            n.checked_mul(width)
                .ok_or_else(|| Error::corrupt(self.file, "too large"))?,
        )?;
        Ok(b.chunks_exact(width).map(read).collect())
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        self.values(n, 4, |c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }
    fn f16s(&mut self, n: usize) -> Result<Vec<f32>> {
        self.values(n, 2, |h| f16_to_f32(u16::from_le_bytes([h[0], h[1]])))
    }
}

impl DenseCodes {
    /// Parses the codes shard `name` of a bundle with `chunks` chunks of
    /// `dim` dimensions whose page table is `docs`; any disagreement is an
    /// error naming the file.
    pub fn parse(name: &str, bytes: &[u8], dim: usize, docs: &Docs) -> Result<Self> {
        let mut c = Cursor {
            file: name,
            bytes,
            pos: 0,
        };
        if c.take(4).ok() != Some(MAGIC.as_slice()) {
            return Err(Error::corrupt(
                name,
                "not a crossfind sign codes file (bad magic)",
            ));
        }
        let version = c.u32()?;
        if !(OLDEST_READ..=VERSION).contains(&version) {
            return Err(Error::Version {
                file: name.to_string(),
                found: version,
                supported: VERSION,
            });
        }
        let (d, n, pages, block) = (
            c.u32()? as usize,
            c.u32()? as usize,
            c.u32()? as usize,
            c.u32()?,
        );
        if d != dim || n != docs.chunks.len() || pages != docs.pages.len() {
            return Err(Error::corrupt(
                name,
                format!(
                    "codes {n} chunks of {d} dimensions on {pages} pages, the bundle has {} of {dim} on {}",
                    docs.chunks.len(),
                    docs.pages.len()
                ),
            ));
        }
        let starts = block_starts(docs);
        let nblocks = starts.len() - 1;
        if block as usize != nblocks {
            return Err(Error::corrupt(
                name,
                format!("codes {block} row blocks, the bundle's pages make {nblocks}"),
            ));
        }
        if !dim.is_multiple_of(8) || dim == 0 {
            return Err(Error::corrupt(
                name,
                format!("{dim} dimensions, not a multiple of 8"),
            ));
        }
        let rows_at = u64::from_le_bytes(c.take(8)?.try_into().expect("8 bytes"));
        let flags = c.u32()?;
        if flags > 1 {
            return Err(Error::corrupt(name, format!("unknown flags {flags}")));
        }
        let mean = c.f32s(dim)?;
        let page_norms = c.f32s(pages)?;
        let crowding = if flags & 1 == 1 {
            c.f16s(n)?
        } else {
            Vec::new()
        };
        let norms = c.f16s(n)?;
        let finite = |xs: &[f32]| xs.iter().position(|x| !x.is_finite());
        for (what, xs) in [
            ("mean", &mean),
            ("page norms", &page_norms),
            ("crowding", &crowding),
            ("norms", &norms),
        ] {
            if let Some(i) = finite(xs) {
                return Err(Error::corrupt(
                    name,
                    format!("{what} value {i} is not a number"),
                ));
            }
        }
        let code_bytes = n
            .checked_mul(dim / 8)
            .ok_or_else(|| Error::corrupt(name, "too large"))?;
        let refs = if version > OLDEST_READ {
            c.take(n)?.to_vec()
        } else {
            vec![0; n]
        };
        let mut codes = c.take(code_bytes)?.to_vec();
        let nb = dim / 8;
        for (i, &r) in refs.iter().enumerate() {
            let r = r as usize;
            if r == 0 {
                continue;
            }
            if r > i {
                return Err(Error::corrupt(
                    name,
                    format!("code {i} refers to the code {r} before it, which does not exist"),
                ));
            }
            let (before, here) = codes.split_at_mut(i * nb);
            for (x, y) in here[..nb]
                .iter_mut()
                .zip(&before[(i - r) * nb..(i - r + 1) * nb])
            {
                *x ^= y;
            }
        }
        let block_sums = c
            .take(nblocks * SUM_BYTES)?
            .chunks_exact(SUM_BYTES)
            .map(|s| s.try_into().expect("a sum"))
            .collect();
        if c.pos != bytes.len() {
            return Err(Error::corrupt(name, "trailing bytes after the sign codes"));
        }
        let mut page_chunks = vec![Vec::new(); pages];
        for (i, ch) in docs.chunks.iter().enumerate() {
            if let Some(p) = page_chunks.get_mut(ch.page as usize) {
                p.push(i as u32);
            }
        }
        Ok(DenseCodes {
            dim,
            chunks: n,
            rows_at,
            mean,
            page_norms,
            crowding,
            norms,
            codes,
            block_sums,
            starts,
            blocks: vec![None; nblocks],
            page_chunks,
            last: std::sync::Mutex::new(None),
        })
    }

    fn row_bytes(&self) -> usize {
        4 + self.dim
    }

    /// Rows of block `b`.
    fn block_rows(&self, b: usize) -> usize {
        (self.starts[b + 1] - self.starts[b]) as usize
    }

    /// The block holding chunk `i`.
    fn block_of(&self, i: usize) -> usize {
        self.starts.partition_point(|&s| s as usize <= i) - 1
    }

    /// Where block `b` starts in the vectors shard (`b` = the number of
    /// blocks: where the rows end).
    fn block_start(&self, b: usize) -> u64 {
        self.rows_at + u64::from(self.starts[b]) * self.row_bytes() as u64
    }

    /// Byte range of blocks `first..end` in the vectors shard, `end` exclusive.
    pub fn block_range(&self, first: usize, end: usize) -> (u64, u64) {
        (self.block_start(first), self.block_start(end))
    }

    /// Where each of blocks `first..end` ends in the vectors shard, in
    /// order: how a fetched range is cut into its blocks.
    pub fn block_ends(&self, first: usize, end: usize) -> Vec<u64> {
        (first + 1..=end).map(|b| self.block_start(b)).collect()
    }

    /// Adds the rows of consecutive blocks from `first` (`bytes`: their
    /// rows, as the vectors shard `name` holds them), each checked against
    /// its listed sum. Nothing is added when one is wrong.
    pub fn add_blocks(&mut self, name: &str, first: usize, bytes: &[u8]) -> Result<()> {
        let rb = self.row_bytes();
        let mut at = 0usize;
        let mut parts = Vec::new();
        let mut b = first;
        while at < bytes.len() {
            if b >= self.blocks.len() {
                return Err(Error::corrupt(
                    name,
                    format!(
                        "rows past the last block ({} blocks) from block {first}",
                        self.blocks.len()
                    ),
                ));
            }
            let len = self.block_rows(b) * rb;
            let part = bytes.get(at..at + len).ok_or_else(|| {
                Error::corrupt(name, format!("block {b} of its rows is cut short"))
            })?;
            if block_sum(part) != self.block_sums[b] {
                return Err(Error::Checksum {
                    file: name.to_string(),
                    expected: hex(&self.block_sums[b]),
                    actual: hex(&block_sum(part)),
                });
            }
            parts.push((b, part));
            at += len;
            b += 1;
        }
        for (b, part) in parts {
            self.blocks[b] = Some(part.into());
        }
        Ok(())
    }

    /// Adds every row from the whole vectors shard (`bytes`, verified
    /// against the manifest already).
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let (start, end) = self.block_range(0, self.blocks.len());
        let rows = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| bytes.get(s..e))
            .ok_or_else(|| Error::corrupt(name, "the rows the sign codes list are not in it"))?;
        self.add_blocks(name, 0, rows)
    }

    fn row(&self, i: usize) -> Option<(f32, &[u8])> {
        if i >= self.chunks {
            return None;
        }
        let rb = self.row_bytes();
        let b = self.block_of(i);
        let at = i - self.starts[b] as usize;
        let block = self.blocks[b].as_ref()?;
        let r = &block[at * rb..(at + 1) * rb];
        Some((f32::from_le_bytes([r[0], r[1], r[2], r[3]]), &r[4..]))
    }

    /// `Σ_i q_i · sign_i` of every chunk, times its norm.
    fn signed_sums(&self, q: &[f32]) -> Vec<f32> {
        let nb = self.dim / 8;
        // a query of another length (a bundle whose manifest disagrees with
        // its model) is cut or padded with zeros rather than read past
        let mut q = q.to_vec();
        q.resize(self.dim, 0.0);
        // per code byte, the signed sum of its 8 query values for each of
        // the 256 byte values, summed in a fixed order (native = wasm)
        let mut table = vec![0f32; nb * 256];
        for j in 0..nb {
            let qs = &q[8 * j..8 * j + 8];
            for v in 0..256usize {
                let mut s = 0f32;
                for (b, &x) in qs.iter().enumerate() {
                    if v >> b & 1 == 1 {
                        s += x;
                    } else {
                        s -= x;
                    }
                }
                table[j * 256 + v] = s;
            }
        }
        self.codes
            .chunks_exact(nb)
            .zip(&self.norms)
            .map(|(code, &norm)| {
                let mut s = 0f32;
                for (j, &byte) in code.iter().enumerate() {
                    s += table[j * 256 + byte as usize];
                }
                norm * s
            })
            .collect()
    }

    /// Every chunk's estimated dot product with `q`:
    /// `q · μ + √(2/π) / √d · |v − μ| · Σ_i q_i · sign(v_i − μ_i)`, the
    /// expected `q · v` given the signs and the norm when the centred values
    /// are Gaussian (each `|v_i − μ_i|` then averages `√(2/π) |v − μ| / √d`).
    fn estimates(&self, q: &[f32]) -> Vec<f32> {
        let mut qmu = 0f32;
        for (a, b) in q.iter().zip(&self.mean) {
            qmu += a * b;
        }
        let scale = (2.0 / std::f32::consts::PI).sqrt() / (self.dim as f32).sqrt();
        self.signed_sums(q)
            .into_iter()
            .map(|s| qmu + scale * s)
            .collect()
    }

    /// The first stage's score of every chunk from its estimate
    /// ([`estimates`](Self::estimates)): the estimate, mixed with its
    /// page's estimated cosine and less its crowding as search mixes the
    /// exact dot products (`search::Fusion`'s default page context and
    /// crowding weight), so the candidates are those the exact score would
    /// put first.
    fn first_stage(&self, docs: &Docs, mut est: Vec<f32>) -> Vec<f32> {
        let f = crate::search::Fusion::default();
        let w = f.page_context;
        if w != 0.0 {
            let mut sums = vec![0f32; self.page_norms.len()];
            for (c, &s) in docs.chunks.iter().zip(&est) {
                if let Some(x) = sums.get_mut(c.page as usize) {
                    *x += s;
                }
            }
            for (c, s) in docs.chunks.iter().zip(est.iter_mut()) {
                let n = self.page_norms.get(c.page as usize).copied().unwrap_or(0.0);
                if n > 0.0 {
                    *s = (1.0 - w) * *s + w * (sums[c.page as usize] / n);
                }
            }
        }
        if f.crowding_weight != 0.0 && self.crowding.len() == est.len() {
            for (s, c) in est.iter_mut().zip(&self.crowding) {
                *s -= f.crowding_weight * c;
            }
        }
        est
    }

    /// The pages whose chunks rescoring needs for `q`, in page order: those
    /// of the [`CANDIDATES`] best chunks by the first stage among those
    /// `ok` lets through (ties to the lower chunk).
    pub fn candidate_pages(&self, docs: &Docs, q: &[f32], ok: &dyn Fn(u32) -> bool) -> Vec<u32> {
        self.best_pages(docs, &self.stage(docs, q).first, ok)
    }

    /// The first stage for `q`: the last query's when `q` is its vector.
    fn stage(&self, docs: &Docs, q: &[f32]) -> std::sync::Arc<Stage> {
        let bits: Vec<u32> = q.iter().map(|x| x.to_bits()).collect();
        let last = self.last.lock().ok().and_then(|l| l.clone());
        if let Some(s) = last.filter(|s| s.q == bits) {
            return s;
        }
        let est = self.estimates(q);
        let first = self.first_stage(docs, est.clone());
        let s = std::sync::Arc::new(Stage {
            q: bits,
            est,
            first,
        });
        if let Ok(mut l) = self.last.lock() {
            *l = Some(s.clone());
        }
        s
    }

    /// The pages of [`candidate_pages`](Self::candidate_pages) for each of
    /// `oks`, together, from one first stage.
    pub fn candidate_pages_of(
        &self,
        docs: &Docs,
        q: &[f32],
        oks: &[&dyn Fn(u32) -> bool],
    ) -> Vec<u32> {
        let stage = self.stage(docs, q);
        let mut pages: Vec<u32> = oks
            .iter()
            .flat_map(|ok| self.best_pages(docs, &stage.first, ok))
            .collect();
        pages.sort_unstable();
        pages.dedup();
        pages
    }

    /// The pages of the [`CANDIDATES`] best chunks by `first` among those
    /// `ok` lets through, in page order.
    fn best_pages(&self, docs: &Docs, first: &[f32], ok: &dyn Fn(u32) -> bool) -> Vec<u32> {
        let scored = first
            .iter()
            .enumerate()
            .map(|(i, &s)| (i as u32, s))
            .filter(|&(c, _)| ok(c))
            .collect();
        let mut pages: Vec<u32> = best_n(scored, CANDIDATES)
            .into_iter()
            .filter_map(|(c, _)| docs.chunks.get(c as usize).map(|ch| ch.page))
            .collect();
        pages.sort_unstable();
        pages.dedup();
        pages
    }

    /// The row blocks `pages` need that are not in yet, in order.
    pub fn missing_blocks(&self, pages: &[u32]) -> Vec<u32> {
        let mut want: Vec<u32> = pages
            .iter()
            .filter_map(|&p| self.page_chunks.get(p as usize))
            .flatten()
            .map(|&c| self.block_of(c as usize) as u32)
            .filter(|&b| self.blocks[b as usize].is_none())
            .collect();
        want.sort_unstable();
        want.dedup();
        want
    }

    /// Both stages for `q`: candidates' pages rescored exactly from their
    /// rows (a page with a row not in yet is estimated, which the browser
    /// avoids by fetching [`missing_blocks`](Self::missing_blocks) first).
    pub fn two_stage(&self, docs: &Docs, q: &[f32], ok: &dyn Fn(u32) -> bool) -> TwoStage {
        let stage = self.stage(docs, q);
        let mut raw = stage.est.clone();
        let mut rescored = vec![false; self.chunks];
        for p in self.best_pages(docs, &stage.first, ok) {
            let chunks = &self.page_chunks[p as usize];
            let rows: Option<Vec<(f32, &[u8])>> =
                chunks.iter().map(|&c| self.row(c as usize)).collect();
            let Some(rows) = rows else { continue };
            for (&c, (scale, v)) in chunks.iter().zip(rows) {
                raw[c as usize] = super::dot_i8(q, v) * scale;
                rescored[c as usize] = true;
            }
        }
        TwoStage { raw, rescored }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A fixed sequence of values in [-0.5, 0.5) from `seed`, for tests that
/// build vectors (a linear congruential generator).
#[cfg(test)]
pub(crate) fn test_values(mut seed: u64) -> impl FnMut() -> f32 {
    move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{ChunkMeta, PageMeta};
    use crate::format::tensors::quantize_i8_rows;
    use crate::search::Vectors;

    #[test]
    fn halves_round_to_nearest() {
        use crate::format::tensors::f32_to_f16;
        for x in [0.0f32, 1.0, 0.5, 3.140625, 65504.0, 1e-5, 0.333_333, 12.34] {
            let back = f16_to_f32(f32_to_f16(x));
            assert!((back - x).abs() <= x * 1e-3 + 6e-8, "{x} -> {back}");
        }
        assert_eq!(f32_to_f16(1.0), 0x3c00);
    }

    /// Pages of 4 chunks near a page centre in 64 dimensions.
    fn site(pages: usize) -> (Vectors, Docs) {
        site_of(pages, |_| 4)
    }

    /// Pages of `chunks(p)` chunks near a page centre in 64 dimensions.
    fn site_of(pages: usize, chunks: impl Fn(usize) -> usize) -> (Vectors, Docs) {
        let dim = 64;
        let mut rnd = test_values(18);
        let mut values = Vec::new();
        let mut docs = Docs::default();
        for p in 0..pages {
            docs.pages
                .push(PageMeta::new(&format!("p{p}"), "en", &format!("g{p}")));
            let centre: Vec<f32> = (0..dim).map(|_| rnd()).collect();
            for _ in 0..chunks(p) {
                values.extend(centre.iter().map(|c| c + 0.3 * rnd()));
                docs.chunks.push(ChunkMeta {
                    page: p as u32,
                    anchor: None,
                    heading: String::new(),
                    frag: 0,
                    weight: None,
                });
            }
        }
        let n = docs.chunks.len();
        let v = Vectors {
            dim,
            rows: n,
            raw: quantize_i8_rows(&values, dim),
            crowding: (0..n).map(|i| (i % 7) as f32 * 0.01).collect(),
        };
        (v, docs)
    }

    #[test]
    fn rescored_chunks_score_as_the_exact_scan_and_the_best_are_rescored() {
        // pages of 1 to 9 chunks: one row block each
        let (v, docs) = site_of(120, |p| 1 + p * 7 % 9);
        let bytes = codes_bytes(&v, &docs, 16);
        let mut c = DenseCodes::parse("codes.x.bin", &bytes, 64, &docs).unwrap();
        assert_eq!(c.page_norms, v.page_norms(&docs));
        assert_eq!(c.blocks.len(), 120);
        for (got, want) in c.crowding.iter().zip(&v.crowding) {
            assert_eq!(
                *got,
                f16_to_f32(f32_to_f16(*want)),
                "crowding in half precision"
            );
        }
        let mut file = vec![0u8; 16];
        file.extend_from_slice(&v.raw);
        let exact_all = |q: &[f32]| v.scores(q);
        let n = docs.chunks.len();
        for t in [0usize, 37, 250, n - 1] {
            // a query near chunk t
            let (scale, row) = (
                f32::from_le_bytes(v.raw[t * 68..t * 68 + 4].try_into().unwrap()),
                &v.raw[t * 68 + 4..(t + 1) * 68],
            );
            let q: Vec<f32> = row.iter().map(|&b| (b as i8) as f32 * scale).collect();
            let pages = c.candidate_pages(&docs, &q, &|_| true);
            assert!(pages.len() < docs.pages.len(), "not every page");
            for b in c.missing_blocks(&pages) {
                let b = b as usize;
                let (s, e) = c.block_range(b, b + 1);
                assert_eq!(c.block_ends(b, b + 1), vec![e]);
                let page = docs.chunks[c.starts[b] as usize].page;
                assert!(
                    docs.chunks[c.starts[b] as usize..c.starts[b + 1] as usize]
                        .iter()
                        .all(|ch| ch.page == page),
                    "a block holds one page's rows"
                );
                assert_eq!((e - s) as usize, c.block_rows(b) * 68);
                c.add_blocks("vectors.x.bin", b, &file[s as usize..e as usize])
                    .unwrap();
            }
            assert!(c.missing_blocks(&pages).is_empty());
            let two = c.two_stage(&docs, &q, &|_| true);
            let exact = exact_all(&q);
            let mut best = best_n(
                exact
                    .iter()
                    .copied()
                    .enumerate()
                    .map(|(i, s)| (i as u32, s))
                    .collect(),
                10,
            );
            for (i, s) in &best {
                assert!(
                    two.rescored[*i as usize],
                    "chunk {i} of the exact top 10 rescored"
                );
                assert_eq!(two.raw[*i as usize].to_bits(), s.to_bits());
            }
            best.truncate(1);
            assert_eq!(
                docs.chunks[best[0].0 as usize].page, docs.chunks[t].page,
                "the query's own page first"
            );
        }
    }

    #[test]
    fn each_query_gets_its_own_first_stage_though_the_last_is_kept() {
        let (v, docs) = site_of(300, |p| 1 + p % 5);
        let bytes = codes_bytes(&v, &docs, 0);
        let kept = DenseCodes::parse("codes.x.bin", &bytes, 64, &docs).unwrap();
        let query = |t: usize| -> Vec<f32> {
            let scale = f32::from_le_bytes(v.raw[t * 68..t * 68 + 4].try_into().unwrap());
            v.raw[t * 68 + 4..(t + 1) * 68]
                .iter()
                .map(|&b| (b as i8) as f32 * scale)
                .collect()
        };
        let (a, b) = (query(3), query(700));
        for q in [&a, &b, &a, &a, &b] {
            // a fresh parse has nothing kept: what the kept one gives must be its answer
            let fresh = DenseCodes::parse("codes.x.bin", &bytes, 64, &docs).unwrap();
            assert_eq!(
                kept.candidate_pages(&docs, q, &|_| true),
                fresh.candidate_pages(&docs, q, &|_| true)
            );
            let (k, f) = (
                kept.two_stage(&docs, q, &|_| true),
                fresh.two_stage(&docs, q, &|_| true),
            );
            assert_eq!(k.raw, f.raw);
        }
        assert_ne!(
            kept.candidate_pages(&docs, &a, &|_| true),
            kept.candidate_pages(&docs, &b, &|_| true)
        );
    }

    #[test]
    fn a_range_of_blocks_is_cut_at_its_block_ends() {
        let (v, docs) = site_of(6, |p| [3, 1, 5, 2, 2, 4][p]);
        let mut c =
            DenseCodes::parse("codes.x.bin", &codes_bytes(&v, &docs, 0), 64, &docs).unwrap();
        assert_eq!(c.starts, vec![0, 3, 4, 9, 11, 13, 17]);
        let (s, e) = c.block_range(1, 4);
        assert_eq!((s, e), (3 * 68, 11 * 68));
        assert_eq!(c.block_ends(1, 4), vec![4 * 68, 9 * 68, 11 * 68]);
        c.add_blocks("vectors.x.bin", 1, &v.raw[s as usize..e as usize])
            .unwrap();
        assert!(
            c.row(2).is_none() && c.row(3).is_some() && c.row(10).is_some() && c.row(11).is_none()
        );
        assert_eq!(c.missing_blocks(&[0, 1, 2, 3, 5]), vec![0, 5]);
        // one block too many or too few rows: refused
        let (s5, e5) = c.block_range(5, 6);
        assert!(c
            .add_blocks("vectors.x.bin", 5, &v.raw[s5 as usize - 68..e5 as usize])
            .is_err());
        assert!(c
            .add_blocks("vectors.x.bin", 5, &v.raw[s5 as usize..e5 as usize - 68])
            .is_err());
        // codes written for other pages than the bundle's: refused
        let mut other = docs.clone();
        other.chunks[3].page = 2; // page 2's rows in two runs
        other.chunks[4].page = 1;
        let e = DenseCodes::parse("codes.x.bin", &codes_bytes(&v, &docs, 0), 64, &other)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("codes.x.bin") && e.contains("blocks"), "{e}");
    }

    /// Where the codes start in a codes file of `v` (version 3: the
    /// references, then the codes), with crowding.
    fn refs_at(v: &Vectors, docs: &Docs) -> usize {
        let n = docs.chunks.len();
        4 + 4 * 5 + 8 + 4 + 4 * (v.dim + docs.pages.len()) + 2 * n * 2
    }

    /// The sign code of every chunk of `v`, computed straight from its rows.
    fn straight_codes(c: &DenseCodes, v: &Vectors) -> Vec<u8> {
        let rb = 4 + v.dim;
        let mut out = Vec::new();
        for i in 0..v.rows {
            let r = &v.raw[i * rb..(i + 1) * rb];
            let scale = f32::from_le_bytes([r[0], r[1], r[2], r[3]]);
            for j in 0..v.dim / 8 {
                let mut byte = 0u8;
                for b in 0..8 {
                    if (r[4 + 8 * j + b] as i8) as f32 * scale >= c.mean[8 * j + b] {
                        byte |= 1 << b;
                    }
                }
                out.push(byte);
            }
        }
        out
    }

    #[test]
    fn codes_stored_as_differences_read_back_bit_for_bit_and_compress_better() {
        // 40 pages of 4 chunks near their page's centre: similar codes
        let (v, docs) = site(40);
        let n = docs.chunks.len();
        let nb = v.dim / 8;
        let bytes = codes_bytes(&v, &docs, 0);
        let c = DenseCodes::parse("codes.x.bin", &bytes, 64, &docs).unwrap();
        assert_eq!(
            c.codes,
            straight_codes(&c, &v),
            "the codes as their rows give them"
        );
        let at = refs_at(&v, &docs);
        let refs = &bytes[at..at + n];
        assert_eq!(refs[0], 0, "the first code has nothing before it");
        assert!(
            refs.iter().filter(|&&r| r > 0).count() > n / 2,
            "most codes are stored as a difference from a page mate"
        );
        // the same file with every code stored as it is (version 2)
        let mut v2 = bytes[..at].to_vec();
        v2[4..8].copy_from_slice(&2u32.to_le_bytes());
        v2.extend_from_slice(&c.codes);
        v2.extend_from_slice(&bytes[at + n + n * nb..]);
        let old = DenseCodes::parse("codes.x.bin", &v2, 64, &docs).unwrap();
        assert_eq!(old.codes, c.codes, "a version 2 file still reads");
        let q: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin()).collect();
        let bits = |xs: Vec<f32>| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(c.estimates(&q)),
            bits(old.estimates(&q)),
            "the same first stage"
        );
        let gz = |b: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::Write::write_all(&mut e, b).unwrap();
            e.finish().unwrap().len()
        };
        assert!(
            gz(&bytes) < gz(&v2),
            "the gzip form is smaller: {} against {} bytes",
            gz(&bytes),
            gz(&v2)
        );
        // a reference to before the first code: refused, naming the file
        let mut bad = bytes.clone();
        bad[at + 2] = 3;
        let e = DenseCodes::parse("codes.x.bin", &bad, 64, &docs)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("codes.x.bin") && e.contains("code 2"), "{e}");
    }

    #[test]
    fn a_damaged_codes_file_or_row_block_is_an_error_naming_it() {
        let (v, docs) = site(10);
        let bytes = codes_bytes(&v, &docs, 0);
        for n in 0..bytes.len() {
            let e = DenseCodes::parse("codes.x.bin", &bytes[..n], 64, &docs)
                .err()
                .unwrap();
            assert!(e.to_string().contains("codes.x.bin"), "{e}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(DenseCodes::parse("codes.x.bin", &long, 64, &docs).is_err());
        let e = DenseCodes::parse("codes.x.bin", &bytes, 32, &docs)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("codes.x.bin") && e.contains("dimensions"), "{e}");
        let (_, fewer) = site(9);
        assert!(DenseCodes::parse("codes.x.bin", &bytes, 64, &fewer).is_err());
        let mut c = DenseCodes::parse("codes.x.bin", &bytes, 64, &docs).unwrap();
        let mut rows = v.raw[..2 * 4 * 68].to_vec();
        rows[4 * 68 + 9] ^= 1;
        let e = c.add_blocks("vectors.x.bin", 0, &rows).unwrap_err();
        assert_eq!(e.code(), "checksum_mismatch");
        assert!(e.to_string().contains("vectors.x.bin"));
        assert!(c.row(0).is_none(), "nothing added from a damaged range");
        assert!(c.add_blocks("vectors.x.bin", 0, &v.raw[..100]).is_err());
        assert!(c.add_blocks("vectors.x.bin", 9, &v.raw[..4 * 68]).is_err());
        assert!(c.add_blocks("vectors.x.bin", 10, &v.raw[..4 * 68]).is_err());
        c.add_file("vectors.x.bin", &v.raw).unwrap();
        assert!(c.row(39).is_some());
        // a query of another length than the codes: scored, no panic
        for len in [0, 10, 64, 100] {
            let t = c.two_stage(&docs, &vec![0.1; len], &|_| true);
            assert_eq!(t.raw.len(), 40);
        }
    }
}
