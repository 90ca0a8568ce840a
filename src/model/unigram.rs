//! A Unigram (SentencePiece) segmenter over a flat vocabulary, plugged into
//! the `tokenizers` pipeline as its model.
//!
//! The `tokenizers` crate builds a trie and a string map for the 250k pieces
//! of the XLM-R vocabulary: ~0.8 s natively and ~4.5 s in wasm, and ~270 MiB
//! of memory. Here the pieces live in one byte buffer with their scores, and
//! an open-addressing table of piece ids is filled at load (tens of
//! milliseconds). The Viterbi search walks each start position once, hashing
//! the candidate piece incrementally as it grows, so every prefix lookup is
//! one probe. Normalisation, pre-tokenisation, added tokens and the template
//! still come from `tokenizers` itself, so only the segmentation is ours; it
//! follows the same rules (best total score, an unknown character scores
//! the lowest piece score minus 10, runs of unknowns fused into one token,
//! ties kept by the earliest start) and the parity fixtures check the ids.
//!
//! The vocabulary ships as `vocab.bin`, derived from `tokenizer.json` at
//! import. Layout (little endian):
//!
//! ```text
//! b"CFVOCAB1"
//! u32      length of the header JSON, then the header JSON: piece count,
//!          unk id, and the tokenizer's normalizer, pre_tokenizer,
//!          post_processor and added_tokens exactly as in tokenizer.json
//! u16 × n  byte length of each piece
//! f64 × n  score of each piece
//! ...      the pieces' UTF-8 bytes, back to back
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokenizers::models::unigram::UnigramTrainer;
use tokenizers::{Model, Token};

use crate::error::{Error, Result};

pub const VOCAB_MAGIC: &[u8; 8] = b"CFVOCAB1";
/// What an unknown character scores below the lowest piece (as SentencePiece).
const UNK_PENALTY: f64 = 10.0;
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The tokenizer parts that stay with `tokenizers`, as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PipelineConfig {
    pub pieces: usize,
    pub unk_id: usize,
    #[serde(default)]
    pub normalizer: Value,
    #[serde(default)]
    pub pre_tokenizer: Value,
    #[serde(default)]
    pub post_processor: Value,
    #[serde(default)]
    pub added_tokens: Vec<Value>,
}

pub struct FlatUnigram {
    blob: String,
    /// `offsets[i]..offsets[i + 1]` is piece `i` in `blob`.
    offsets: Vec<u32>,
    scores: Vec<f64>,
    /// Piece id + 1 per slot, 0 for empty; the length is a power of two.
    table: Vec<u32>,
    table_bits: u32,
    unk_id: u32,
    min_score: f64,
    max_len: usize,
}

fn bad(file: &str, why: impl Into<String>) -> Error {
    Error::corrupt(file, why.into())
}

#[inline]
fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ b as u64).wrapping_mul(FNV_PRIME)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| fnv_step(h, b))
}

/// Bytes of the UTF-8 character that starts with `lead`.
#[inline]
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

impl FlatUnigram {
    /// Builds the segmenter from pieces and scores, in id order. When a piece
    /// appears twice the later id wins, as in `tokenizers`.
    pub fn new(pieces: &[&str], scores: Vec<f64>, unk_id: usize, file: &str) -> Result<Self> {
        let mut blob = Vec::with_capacity(pieces.iter().map(|p| p.len()).sum());
        let mut offsets = Vec::with_capacity(pieces.len() + 1);
        offsets.push(0u32);
        for p in pieces {
            blob.extend_from_slice(p.as_bytes());
            offsets.push(
                u32::try_from(blob.len()).map_err(|_| bad(file, "the vocabulary is over 4 GB"))?,
            );
        }
        Self::from_parts(blob, offsets, scores, unk_id, file)
    }

    fn from_parts(
        blob: Vec<u8>,
        offsets: Vec<u32>,
        scores: Vec<f64>,
        unk_id: usize,
        file: &str,
    ) -> Result<Self> {
        let n = scores.len();
        if n == 0 || offsets.len() != n + 1 {
            return Err(bad(file, "the vocabulary is empty"));
        }
        if unk_id >= n {
            return Err(bad(
                file,
                format!("unknown-token id {unk_id} is outside the {n} pieces"),
            ));
        }
        if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
            return Err(bad(
                file,
                format!("piece {i} has a score that is not a number"),
            ));
        }
        // one UTF-8 check for all pieces, then each piece's ends
        let blob = String::from_utf8(blob).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let id = offsets
                .partition_point(|&o| o as usize <= at)
                .saturating_sub(1);
            bad(file, format!("piece {id} is not UTF-8"))
        })?;
        let min_score = scores.iter().copied().fold(f64::INFINITY, f64::min);
        let table_bits = (n * 2).next_power_of_two().trailing_zeros().max(4);
        let mut me = FlatUnigram {
            blob,
            offsets,
            scores,
            table: vec![0; 1 << table_bits],
            table_bits,
            unk_id: unk_id as u32,
            min_score,
            max_len: 0,
        };
        for id in 0..n {
            let (a, b) = (me.offsets[id] as usize, me.offsets[id + 1] as usize);
            if !me.blob.is_char_boundary(a) || !me.blob.is_char_boundary(b) {
                return Err(bad(file, format!("piece {id} is not UTF-8")));
            }
            let piece = me.piece_bytes(id);
            let (len, slot) = (piece.len(), me.slot_of(fnv(piece), piece));
            me.max_len = me.max_len.max(len);
            me.table[slot] = id as u32 + 1;
        }
        Ok(me)
    }

    fn piece_bytes(&self, id: usize) -> &[u8] {
        &self.blob.as_bytes()[self.offsets[id] as usize..self.offsets[id + 1] as usize]
    }

    /// The slot holding `piece`, or the empty slot where it would go.
    #[inline]
    fn slot_of(&self, hash: u64, piece: &[u8]) -> usize {
        let mask = self.table.len() - 1;
        let mut i = (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - self.table_bits)) as usize;
        loop {
            let e = self.table[i];
            if e == 0 || self.piece_bytes(e as usize - 1) == piece {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn find(&self, hash: u64, piece: &[u8]) -> Option<u32> {
        match self.table[self.slot_of(hash, piece)] {
            0 => None,
            e => Some(e - 1),
        }
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// The piece of `id`.
    pub fn piece(&self, id: usize) -> Option<&str> {
        (id < self.len())
            .then(|| &self.blob[self.offsets[id] as usize..self.offsets[id + 1] as usize])
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The best segmentation of `s` as (id, start, end) byte spans, runs of
    /// unknown characters fused into one span.
    pub fn segment(&self, s: &str) -> Vec<(u32, usize, usize)> {
        const NONE: usize = usize::MAX;
        #[derive(Clone, Copy)]
        struct Node {
            score: f64,
            start: usize,
            id: u32,
        }
        let bytes = s.as_bytes();
        let n = bytes.len();
        if n == 0 {
            return Vec::new();
        }
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best = vec![
            Node {
                score: 0.0,
                start: NONE,
                id: 0
            };
            n + 1
        ];
        let mut pos = 0;
        while pos < n {
            let base = best[pos].score;
            let clen = char_len(bytes[pos]).min(n - pos);
            let mut single = false;
            let mut h = FNV_OFFSET;
            let last = n.min(pos + self.max_len);
            for end in pos + 1..=last {
                h = fnv_step(h, bytes[end - 1]);
                if end < n && (bytes[end] & 0xc0) == 0x80 {
                    continue; // not a character boundary
                }
                if let Some(id) = self.find(h, &bytes[pos..end]) {
                    let cand = base + self.scores[id as usize];
                    let t = &mut best[end];
                    if t.start == NONE || cand > t.score {
                        *t = Node {
                            score: cand,
                            start: pos,
                            id,
                        };
                    }
                    single |= end - pos == clen;
                }
            }
            if !single {
                let cand = base + unk_score;
                let t = &mut best[pos + clen];
                if t.start == NONE || cand > t.score {
                    *t = Node {
                        score: cand,
                        start: pos,
                        id: self.unk_id,
                    };
                }
            }
            pos += clen;
        }
        let mut out: Vec<(u32, usize, usize)> = Vec::new();
        let mut end = n;
        while end > 0 {
            let node = best[end];
            if node.id == self.unk_id {
                // fuse with an unknown run already collected (we walk backwards)
                match out.last_mut() {
                    Some(prev) if prev.0 == self.unk_id && prev.1 == end => prev.1 = node.start,
                    _ => out.push((self.unk_id, node.start, end)),
                }
            } else {
                out.push((node.id, node.start, end));
            }
            end = node.start;
        }
        out.reverse();
        // A fused run of unknowns is looked up as a whole, as `tokenizers` does.
        for span in out.iter_mut().filter(|s| s.0 == self.unk_id) {
            let piece = &bytes[span.1..span.2];
            span.0 = self.find(fnv(piece), piece).unwrap_or(self.unk_id);
        }
        out
    }

    /// Serialises the vocabulary with the pipeline config (`vocab.bin`).
    pub fn to_bytes(&self, config: &PipelineConfig) -> Vec<u8> {
        let header = serde_json::to_vec(config).expect("config serialises");
        let n = self.len();
        let mut out = Vec::with_capacity(16 + header.len() + n * 10 + self.blob.len());
        out.extend_from_slice(VOCAB_MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for w in self.offsets.windows(2) {
            out.extend_from_slice(&((w[1] - w[0]) as u16).to_le_bytes());
        }
        for s in &self.scores {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend_from_slice(self.blob.as_bytes());
        out
    }

    /// Reads `vocab.bin`; every size is checked before it is used.
    pub fn from_bytes(bytes: &[u8], file: &str) -> Result<(Self, PipelineConfig)> {
        let mut at = 0usize;
        let mut take = |len: usize, what: &str| -> Result<&[u8]> {
            let end = at
                .checked_add(len)
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| bad(file, format!("cut short in the {what}")))?;
            let s = &bytes[at..end];
            at = end;
            Ok(s)
        };
        if take(8, "magic")? != VOCAB_MAGIC {
            return Err(bad(file, "not a crossfind vocabulary (bad magic)"));
        }
        let hlen = u32::from_le_bytes(take(4, "header")?.try_into().unwrap()) as usize;
        let config: PipelineConfig = serde_json::from_slice(take(hlen, "header")?)
            .map_err(|e| bad(file, format!("header: {e}")))?;
        let n = config.pieces;
        let lens = take(
            n.checked_mul(2)
                .ok_or_else(|| bad(file, "too many pieces"))?,
            "lengths",
        )?;
        let mut offsets = Vec::with_capacity(n + 1);
        let mut total = 0u64;
        offsets.push(0u32);
        for c in lens.chunks_exact(2) {
            total += u16::from_le_bytes([c[0], c[1]]) as u64;
            offsets.push(u32::try_from(total).map_err(|_| bad(file, "pieces over 4 GB"))?);
        }
        let scores = take(n * 8, "scores")?
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let blob = take(total as usize, "pieces")?.to_vec();
        if at != bytes.len() {
            return Err(bad(
                file,
                format!("{} bytes after the last piece", bytes.len() - at),
            ));
        }
        let model = Self::from_parts(blob, offsets, scores, config.unk_id, file)?;
        Ok((model, config))
    }
}

/// `tokenizer.json` split into the flat vocabulary and the rest, when its
/// model is a Unigram we can run (no byte fallback); `None` otherwise.
pub fn split_tokenizer_json(json: &[u8]) -> Result<Option<(FlatUnigram, PipelineConfig)>> {
    const FILE: &str = "tokenizer.json";
    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        normalizer: Value,
        #[serde(default)]
        pre_tokenizer: Value,
        #[serde(default)]
        post_processor: Value,
        #[serde(default)]
        added_tokens: Vec<Value>,
        model: ModelDoc,
    }
    #[derive(Deserialize)]
    struct ModelDoc {
        #[serde(rename = "type", default)]
        kind: Option<String>,
        #[serde(default)]
        vocab: Value,
        #[serde(default)]
        unk_id: Option<usize>,
        #[serde(default)]
        byte_fallback: bool,
    }
    let doc: Doc = serde_json::from_slice(json).map_err(|e| bad(FILE, e.to_string()))?;
    let m = doc.model;
    if m.kind.as_deref() != Some("Unigram") || m.byte_fallback {
        return Ok(None);
    }
    let Some(unk_id) = m.unk_id else {
        return Ok(None);
    };
    let Value::Array(entries) = m.vocab else {
        return Err(bad(FILE, "the Unigram vocab is not a list"));
    };
    let mut pieces = Vec::with_capacity(entries.len());
    let mut scores = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        match e.as_array().map(|a| a.as_slice()) {
            Some([Value::String(p), s]) if s.is_number() => {
                if p.len() > u16::MAX as usize {
                    return Err(bad(FILE, format!("piece {i} is over 64 kB")));
                }
                pieces.push(p.as_str());
                scores.push(s.as_f64().unwrap_or(f64::NAN));
            }
            _ => return Err(bad(FILE, format!("vocab entry {i} is not [piece, score]"))),
        }
    }
    let model = FlatUnigram::new(&pieces, scores, unk_id, FILE)?;
    let config = PipelineConfig {
        pieces: model.len(),
        unk_id,
        normalizer: doc.normalizer,
        pre_tokenizer: doc.pre_tokenizer,
        post_processor: doc.post_processor,
        added_tokens: doc.added_tokens,
    };
    Ok(Some((model, config)))
}

impl Model for FlatUnigram {
    type Trainer = UnigramTrainer;

    fn tokenize(&self, sequence: &str) -> tokenizers::Result<Vec<Token>> {
        Ok(self
            .segment(sequence)
            .into_iter()
            .map(|(id, a, b)| Token::new(id, sequence[a..b].to_string(), (a, b)))
            .collect())
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.find(fnv(token.as_bytes()), token.as_bytes())
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        let id = id as usize;
        (id < self.len()).then(|| String::from_utf8_lossy(self.piece_bytes(id)).into_owned())
    }

    fn get_vocab(&self) -> HashMap<String, u32> {
        (0..self.len())
            .map(|i| {
                let p = String::from_utf8_lossy(self.piece_bytes(i)).into_owned();
                let id = self.token_to_id(&p).unwrap_or(i as u32);
                (p, id)
            })
            .collect()
    }

    fn get_vocab_size(&self) -> usize {
        self.len()
    }

    fn save(&self, _folder: &Path, _prefix: Option<&str>) -> tokenizers::Result<Vec<PathBuf>> {
        Err("crossfind's flat Unigram is saved as vocab.bin by `crossfind model import`".into())
    }

    fn get_trainer(&self) -> UnigramTrainer {
        UnigramTrainer::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> FlatUnigram {
        let pieces = ["<unk>", "▁", "a", "b", "ab", "▁ab", "c", "abc"];
        let scores = vec![0.0, -1.0, -2.0, -2.0, -3.0, -2.5, -2.0, -10.0];
        FlatUnigram::new(&pieces, scores, 0, "toy").unwrap()
    }

    fn pieces(m: &FlatUnigram, s: &str) -> Vec<String> {
        m.segment(s)
            .into_iter()
            .map(|(_, a, b)| s[a..b].to_string())
            .collect()
    }

    #[test]
    fn picks_the_best_total_score() {
        let m = toy();
        assert_eq!(pieces(&m, "▁ab"), ["▁ab"]);
        // "ab" (-3) beats "a"+"b" (-4); "abc" (-10) loses to "ab"+"c" (-5)
        assert_eq!(pieces(&m, "abc"), ["ab", "c"]);
    }

    #[test]
    fn unknown_characters_fuse_into_one_unk_token() {
        let m = toy();
        let seg = m.segment("aé☃b");
        assert_eq!(seg.len(), 3);
        assert_eq!(seg[1], (0, 1, 1 + "é☃".len()));
    }

    #[test]
    fn vocabulary_round_trips_through_bytes() {
        let m = toy();
        let cfg = PipelineConfig {
            pieces: m.len(),
            unk_id: 0,
            normalizer: Value::Null,
            pre_tokenizer: Value::Null,
            post_processor: Value::Null,
            added_tokens: vec![],
        };
        let bytes = m.to_bytes(&cfg);
        let (back, _) = FlatUnigram::from_bytes(&bytes, "vocab.bin").unwrap();
        assert_eq!(back.segment("▁abcab"), m.segment("▁abcab"));
        for cut in [3, 12, bytes.len() - 1] {
            let err = FlatUnigram::from_bytes(&bytes[..cut], "vocab.bin")
                .err()
                .unwrap();
            assert!(err.to_string().contains("vocab.bin"), "{err}");
        }
    }
}
