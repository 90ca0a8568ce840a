//! The bodies of crossfind's fuzz targets, shared by the libFuzzer binaries in
//! `fuzz_targets/` and by `examples/make_seeds.rs`, which writes the seed
//! corpora in the same framing.
//!
//! # Input framing of the `bundle` target
//!
//! An input is a list of parts joined by [`SEP`]: the manifest JSON first,
//! then one part per shard in the manifest's order, then optionally one more
//! part used as an extra query text. The harness rewrites each shard's size
//! and sha256 in the parsed manifest to match its part, so mutated shard
//! bytes get past the checksum and reach the shard parsers; a shard without
//! a part is reported missing.

use std::collections::HashMap;

use crossfind::bundle::{Bundle, BundleManifest};
use crossfind::model::pack::sha256_hex;
use crossfind::model::tensors::TensorFile;
use crossfind::search::lexical::LexicalIndex;
use crossfind::search::{search, Fusion, Hit, Mode, Query};

/// Separates the parts of a `bundle` input.
pub const SEP: &[u8] = b"\0--cf--\0";

/// Fixed queries run against every bundle that loads: words of the seed
/// bundles in four scripts, an error code, and nothing.
const QUERIES: &[&str] = &[
    "reset password",
    "E4011 token",
    "返金 申請",
    "contraseña olvidé",
    "",
];

/// Query vectors are made at the bundle's dimension up to this one (a
/// manifest may claim any `dim`).
const MAX_QUERY_DIM: usize = 4096;

/// Splits `data` at every [`SEP`].
pub fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(i) = find(rest, SEP) {
        parts.push(&rest[..i]);
        rest = &rest[i + SEP.len()..];
    }
    parts.push(rest);
    parts
}

/// Joins parts with [`SEP`]; the inverse of [`split`] when no part holds it.
pub fn join(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(SEP);
        }
        out.extend_from_slice(p);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A deterministic unit-ish query vector for `text`.
fn query_vector(text: &str, dim: usize) -> Vec<f32> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in text.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) / (dim as f32).sqrt()
        })
        .collect()
}

/// Loads the framed bundle in `data` and, if it loads, searches it.
pub fn bundle(data: &[u8]) {
    let parts = split(data);
    let Ok(mut manifest) = BundleManifest::parse(parts[0]) else {
        return;
    };
    let mut files: HashMap<String, &[u8]> = HashMap::new();
    for (s, bytes) in manifest.shards.iter_mut().zip(&parts[1..]) {
        s.bytes = bytes.len() as u64;
        s.sha256 = sha256_hex(bytes);
        files.insert(s.name.clone(), bytes);
    }
    let extra_query = parts
        .get(manifest.shards.len() + 1)
        .map(|b| String::from_utf8_lossy(b).into_owned());
    // Odd-length inputs load the fragments later, as the browser does.
    let lazy = data.len() % 2 == 1;
    let frag_names: Vec<String> = manifest.fragment_shards().map(|s| s.name.clone()).collect();
    let loaded = Bundle::from_files(
        manifest,
        |name| Ok(files.get(name).map(|b| b.to_vec())),
        !lazy,
    );
    let Ok(mut b) = loaded else {
        return;
    };
    if lazy {
        for (i, name) in frag_names.iter().enumerate() {
            if let Some(bytes) = files.get(name.as_str()) {
                // Two fragment shards may share a name: only one can match.
                let _ = b.add_fragments(i, bytes);
            }
        }
    }
    for c in 0..b.docs.chunks.len() as u32 + 1 {
        let _ = b.sentences(c);
    }

    let dim = b.manifest.model.dim;
    let first_lang = b.docs.pages.first().map(|p| p.lang.clone());
    let pick = data.iter().fold(0usize, |a, &x| a.wrapping_add(x as usize));
    // the empty query runs one time in five
    let mut texts: Vec<String> = vec![QUERIES[pick % QUERIES.len()].to_string()];
    texts.extend(extra_query);
    for text in &texts {
        // A query vector of the bundle's dimension; for an absurd `dim`, one
        // of the default model's, as from a page whose encoder disagrees.
        let vector = query_vector(text, if dim <= MAX_QUERY_DIM { dim } else { 384 });
        // one reader language per input keeps execs fast; the corpus covers all
        let lang = [None, Some("es"), first_lang.as_deref()][pick / 5 % 3];
        let k = 1 + pick % 10;
        for mode in [Mode::Hybrid, Mode::Dense, Mode::Lexical] {
            let q = Query {
                text,
                vector: Some(&vector),
                lang,
                k,
                mode,
                fusion: Fusion::default(),
            };
            check_hits(&b, &search(&b, &q), k);
        }
    }
}

/// What every result list must satisfy, whatever the bundle holds.
fn check_hits(b: &Bundle, hits: &[Hit], k: usize) {
    assert!(hits.len() <= k, "{} hits for k = {k}", hits.len());
    for h in hits {
        assert!((h.chunk as usize) < b.docs.chunks.len());
        if let Some(s) = &h.snippet {
            for &(start, end) in &h.highlights {
                assert!(start < end && end <= s.len(), "highlight {start}..{end}");
                assert!(s.is_char_boundary(start) && s.is_char_boundary(end));
            }
        }
    }
}

/// Decodes a lexical index; one that decodes must search and re-encode.
pub fn lexical(data: &[u8]) {
    let Ok(idx) = LexicalIndex::from_bytes(data) else {
        return;
    };
    for q in QUERIES {
        let hits = idx.search(q, 10);
        assert!(hits.len() <= 10);
        assert!(
            hits.windows(2).all(|w| w[0].1 >= w[1].1),
            "hits not sorted: {hits:?}"
        );
    }
    let bytes = idx.to_bytes();
    let again = LexicalIndex::from_bytes(&bytes).expect("re-encoded index decodes");
    assert_eq!(again, idx);
    assert_eq!(again.to_bytes(), bytes);
}

/// Parses a tensor file and decodes every tensor it lists.
pub fn tensors(data: &[u8]) {
    let Ok(tf) = TensorFile::parse("fuzz.bin", data) else {
        return;
    };
    let infos = tf.tensors().to_vec();
    for t in infos {
        let (info, raw) = tf.raw(&t.name).expect("listed tensor has bytes");
        assert_eq!(raw.len(), info.byte_len());
        // A tensor of zero-byte rows may claim any number of them.
        if t.rows.saturating_mul(t.cols) <= 1 << 20 {
            let v = tf.f32(&t.name, t.rows, t.cols);
            if let Ok(v) = v {
                assert_eq!(v.len(), t.rows * t.cols);
            }
        }
    }
}

/// The flat vocabulary reader and the tokenizer built on it
/// (`TextTokenizer::from_vocab`, what `Tokenizer.fromVocab` runs in the
/// browser). Input: the `vocab.bin` bytes, then optionally a separator and
/// a text to tokenise. Any damage must be an error; any text must give ids
/// inside the vocabulary.
pub fn vocab(data: &[u8]) {
    let parts = split(data);
    let Ok(tok) = crossfind::model::tokenizer::TextTokenizer::from_vocab(parts[0], "vocab.bin") else {
        return;
    };
    let text = parts.get(1).map(|t| String::from_utf8_lossy(t)).unwrap_or_default();
    if let Ok(ids) = tok.ids(&text) {
        let n = tok.vocab_size() as u32;
        assert!(ids.iter().all(|&i| i < n), "id outside the vocabulary of {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_inverts_join() {
        let parts: Vec<&[u8]> = vec![b"{}", b"", b"abc\0--", b"x"];
        assert_eq!(split(&join(&parts)), parts);
        assert_eq!(split(b""), vec![b"" as &[u8]]);
    }
}
