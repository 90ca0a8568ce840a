//! The lexical index in term-range pieces (version 2), so that the browser
//! fetches the terms a query has rather than the whole index.
//!
//! BM25 needs, besides a term's postings, the number of documents and every
//! document's length (per language, after `partition`). Those live in the
//! head, which is loaded up front; a piece holds only term entries. So with
//! the pieces of a query's terms in, its scores are bit for bit those of
//! the one-piece index.
//!
//! # Byte format (version 2)
//!
//! The head (the bundle's `lexical` shard), varints as in version 1:
//!
//! ```text
//! "CFLX"  2
//! n_docs  then n_docs doc ids as in version 1
//!         then n_docs document lengths (sums of their term frequencies)
//! n_pieces then per piece, in term order:
//!     its first term: length, bytes (the first piece's is empty: every
//!         term has a piece; then strictly increasing)
//!     file: its file among the bundle's `lexical_terms` shards, by index
//!     start, length: its bytes in that file
//!     the sha256 of those bytes (32 bytes)
//! ```
//!
//! A piece: `n_terms` then term entries exactly as in version 1 (the first
//! with no shared prefix), postings over the head's doc positions, every
//! term at or after the piece's first term and before the next piece's.
//!
//! Version 3 stores each piece raw-deflated and lists, after its sha256,
//! the length it inflates to. Version 4 (bundle format 8) stores each
//! piece as a zlib stream and lists no sha256: a piece is checked by its
//! stored length, its Adler-32 and the exact length it must inflate to,
//! then parsed strictly within its term range, as snippet records are.
//! The head of a 5,040-page site's 600 pieces of about 4 kB is 19 kB
//! smaller so, and pieces that small are what lets a query fetch a sixth
//! of the bytes it did with 24 kB pieces.
//!
//! Version 5 is version 4 with each document length as its one-byte
//! [`length_code`](super::length_code) (BM25 reads lengths to four
//! significant bits in every version): on that site the lengths take
//! 14 kB of the head's gzip form instead of 23.5.

use super::{put, read_terms, Error, LexicalIndex, Parts, Reader, FILE, MAX_TERM_BYTES};
use sha2::{Digest, Sha256};

pub(super) const VERSION: u32 = 2;
/// The head's version when its pieces are stored deflated: as version 2,
/// with each piece's inflated length after its sha256.
pub(super) const VERSION_DEFLATED: u32 = 3;
/// The head's version when its pieces are zlib streams: as version 3
/// without the sha256.
pub(super) const VERSION_ZLIB: u32 = 4;
/// The head's version when its pieces are zlib streams and its document
/// lengths one-byte codes: as version 4, the lengths as codes.
pub(super) const VERSION_CODES: u32 = 5;
/// The most bytes a piece may inflate to (a piece is about
/// [`PIECE_BYTES`]; one term's postings can make it larger).
const MAX_PLAIN_BYTES: u64 = 256 << 20;
/// An index whose one-piece form is larger than this is written in pieces:
/// below it, a visit's few pieces and the head come close to the whole.
pub const PIECED_ABOVE: usize = 128 * 1024;
/// About how many bytes of term entries a piece holds (before deflate).
/// A query fetches one piece a term, so smaller pieces cost less a query,
/// while each adds about 12 bytes to the head every visit fetches:
/// measured on the 5,040-page bench site (docs/large-sites.md, step 11).
pub const PIECE_BYTES: usize = 4 * 1024;

pub use crate::bundle::PieceRef;

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Pieces {
    refs: Vec<PieceRef>,
    loaded: Vec<Option<Table>>,
}

/// The term entries of one piece, decoded.
#[derive(Clone, Debug, PartialEq)]
struct Table {
    term_bytes: String,
    term_ends: Vec<u32>,
    post_starts: Vec<u32>,
    post_docs: Vec<u32>,
    post_tfs: Vec<u32>,
}

impl LexicalIndex {
    /// Writes the index in the form its size calls for: in one piece up to
    /// [`PIECED_ABOVE`] bytes, else in term-range pieces of [`PIECE_BYTES`]
    /// with its head (`ShardWriter::lexical_pieces`). `pieces` overrides
    /// it: `Some(0)` one piece, `Some(n)` pieces of about `n` bytes.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn write_shards<S: crate::bundle::write::ShardSink>(
        &self,
        w: &mut crate::bundle::write::ShardWriter<S>,
        pieces: Option<usize>,
    ) -> crate::error::Result<()> {
        let one = self.to_bytes();
        let piece = pieces.unwrap_or(if one.len() > PIECED_ABOVE {
            PIECE_BYTES
        } else {
            0
        });
        if piece == 0 {
            return w.lexical(&one);
        }
        w.lexical_pieces(
            self.split_terms(piece),
            crate::bundle::write::LEXICAL_TERMS_FILE_BYTES,
            |refs| self.head_bytes(refs),
        )
    }

    /// The terms in pieces of about `target` bytes each, in term order:
    /// (first term, bytes), the first piece's first term "".
    pub fn split_terms(&self, target: usize) -> Vec<(String, Vec<u8>)> {
        let n = self.term_ends.len();
        let mut cuts = vec![0usize];
        let mut size = 0usize;
        let mut one = Vec::new();
        for t in 0..n {
            one.clear();
            self.write_terms(&mut one, t..t + 1);
            if size > 0 && size + one.len() > target {
                cuts.push(t);
                size = 0;
            }
            size += one.len();
        }
        cuts.push(n);
        cuts.windows(2)
            .enumerate()
            .map(|(i, w)| {
                let mut out = Vec::with_capacity(target + 16);
                put(&mut out, (w[1] - w[0]) as u64);
                self.write_terms(&mut out, w[0]..w[1]);
                let first = if i == 0 {
                    String::new()
                } else {
                    self.term(w[0]).to_string()
                };
                (first, out)
            })
            .collect()
    }

    /// The head of this index with its pieces at `refs`: version 4 when
    /// they are zlib streams (no `sha256`), 3 when they are stored deflated
    /// (every `plain` set), else 2.
    pub fn head_bytes(&self, refs: &[PieceRef]) -> Vec<u8> {
        let zlib = !refs.is_empty() && refs.iter().all(|r| r.sha256.is_none());
        let deflated = !refs.is_empty() && refs.iter().all(|r| r.plain.is_some());
        assert!(
            !zlib || deflated,
            "zlib pieces list the length they inflate to"
        );
        let mut out = Vec::with_capacity(16 + 3 * self.doc_ids.len() + 48 * refs.len());
        out.extend_from_slice(super::MAGIC);
        put(
            &mut out,
            u64::from(if zlib {
                VERSION_CODES
            } else if deflated {
                VERSION_DEFLATED
            } else {
                VERSION
            }),
        );
        put(&mut out, self.doc_ids.len() as u64);
        let mut prev: Option<u32> = None;
        for &id in &self.doc_ids {
            put(&mut out, u64::from(prev.map_or(id, |p| id - p - 1)));
            prev = Some(id);
        }
        for &len in &self.doc_lens {
            if zlib {
                out.push(super::length_code(len));
            } else {
                put(&mut out, len);
            }
        }
        put(&mut out, refs.len() as u64);
        for r in refs {
            put(&mut out, r.first.len() as u64);
            out.extend_from_slice(r.first.as_bytes());
            put(&mut out, u64::from(r.file));
            put(&mut out, r.start);
            put(&mut out, r.len);
            if let (false, Some(sha256)) = (zlib, &r.sha256) {
                out.extend_from_slice(sha256);
            }
            if deflated {
                put(&mut out, r.plain.unwrap_or(0));
            }
        }
        out
    }

    /// Whether the index was read from a head (version 2): its terms come
    /// piece by piece ([`add_piece`](Self::add_piece)).
    pub fn is_pieced(&self) -> bool {
        self.pieces.is_some()
    }

    /// The pieces (empty for a one-piece index).
    pub fn piece_refs(&self) -> &[PieceRef] {
        self.pieces.as_ref().map_or(&[], |p| p.refs.as_slice())
    }

    /// The pieces holding the terms of `query` (as [`search`](Self::search)
    /// analyses it) that are not loaded yet, in order; empty when the query
    /// can be searched.
    pub fn missing_pieces(&self, query: &str) -> Vec<usize> {
        let Some(p) = &self.pieces else {
            return Vec::new();
        };
        let mut want: Vec<usize> = super::text::terms(query)
            .iter()
            .map(|t| piece_of(&p.refs, t))
            .filter(|&i| p.loaded[i].is_none())
            .collect();
        want.sort_unstable();
        want.dedup();
        want
    }

    /// Whether the piece that would hold `term` is loaded (always, for an
    /// index in one piece): only then does [`has_term`](Self::has_term)
    /// answer for it.
    pub fn term_loaded(&self, term: &str) -> bool {
        self.pieces
            .as_ref()
            .is_none_or(|p| p.loaded[piece_of(&p.refs, term)].is_some())
    }

    /// The pieces that may hold terms starting with `prefix` and are not
    /// loaded yet, in order.
    pub fn missing_prefix_pieces(&self, prefix: &str) -> Vec<usize> {
        let Some(p) = &self.pieces else {
            return Vec::new();
        };
        let first = piece_of(&p.refs, prefix);
        let last = (first + 1..p.refs.len())
            .take_while(|&i| p.refs[i].first.starts_with(prefix))
            .last()
            .unwrap_or(first);
        (first..=last).filter(|&i| p.loaded[i].is_none()).collect()
    }

    /// Adds piece `i` (its bytes, checked against the head's length and
    /// sha256 or, version 4, its own Adler-32, then decoded). Errors name
    /// the `lexical` index; the bundle names the file.
    pub fn add_piece(&mut self, i: usize, bytes: &[u8]) -> Result<(), Error> {
        let p = self
            .pieces
            .as_ref()
            .ok_or_else(|| Error::Input("this lexical index is in one piece".into()))?;
        let r = p
            .refs
            .get(i)
            .ok_or_else(|| Error::Input(format!("no lexical piece {i}")))?;
        if bytes.len() as u64 != r.len {
            return Err(Error::corrupt(
                FILE,
                format!("piece {i}: {} bytes, the head says {}", bytes.len(), r.len),
            ));
        }
        if let Some(expected) = &r.sha256 {
            let actual: [u8; 32] = Sha256::digest(bytes).into();
            if &actual != expected {
                return Err(Error::Checksum {
                    file: FILE.to_string(),
                    expected: hex(expected),
                    actual: hex(&actual),
                });
            }
        }
        let inflated;
        let bytes = match r.plain {
            None => bytes,
            Some(n) => {
                let inflate = if r.sha256.is_none() {
                    // version 4: a zlib stream, whose Adler-32 is checked
                    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit
                } else {
                    miniz_oxide::inflate::decompress_to_vec_with_limit
                };
                inflated = inflate(bytes, n as usize)
                    .ok()
                    .filter(|b| b.len() as u64 == n)
                    .ok_or_else(|| {
                        Error::corrupt(
                            FILE,
                            format!(
                                "piece {i}: does not inflate to the {n} bytes the head says{}",
                                if r.sha256.is_none() {
                                    ", with its checksum"
                                } else {
                                    ""
                                }
                            ),
                        )
                    })?;
                inflated.as_slice()
            }
        };
        let next = p.refs.get(i + 1).map(|n| n.first.as_str());
        let mut parts = Parts::new(vec![0; self.doc_ids.len()]);
        let mut reader = Reader { bytes, pos: 0 };
        read_terms(&mut reader, &mut parts, Some((r.first.as_str(), next)))
            .map_err(|e| piece_error(i, e))?;
        if reader.pos != bytes.len() {
            return Err(Error::corrupt(FILE, format!("piece {i}: trailing bytes")));
        }
        let table = Table {
            term_bytes: parts.term_bytes,
            term_ends: parts.term_ends,
            post_starts: parts.post_starts,
            post_docs: parts.post_docs,
            post_tfs: parts.post_tfs,
        };
        let p = self.pieces.as_mut().expect("checked above");
        p.loaded[i] = Some(table);
        self.gather();
        Ok(())
    }

    /// The term arrays from the loaded pieces, in term order.
    fn gather(&mut self) {
        let Some(p) = &self.pieces else { return };
        let (mut bytes, mut ends, mut starts, mut docs, mut tfs) = (
            String::new(),
            Vec::new(),
            vec![0u32],
            Vec::new(),
            Vec::new(),
        );
        for t in p.loaded.iter().flatten() {
            let (b, d) = (bytes.len() as u32, docs.len() as u32);
            bytes.push_str(&t.term_bytes);
            ends.extend(t.term_ends.iter().map(|e| e + b));
            starts.extend(t.post_starts[1..].iter().map(|s| s + d));
            docs.extend_from_slice(&t.post_docs);
            tfs.extend_from_slice(&t.post_tfs);
        }
        self.term_bytes = bytes;
        self.term_ends = ends;
        self.post_starts = starts;
        self.post_docs = docs;
        self.post_tfs = tfs;
    }
}

/// The piece whose term range holds `term`.
fn piece_of(refs: &[PieceRef], term: &str) -> usize {
    refs.partition_point(|r| r.first.as_bytes() <= term.as_bytes())
        .saturating_sub(1)
}

fn piece_error(i: usize, e: Error) -> Error {
    match e {
        Error::Corrupt { file, why } => Error::Corrupt {
            file,
            why: format!("piece {i}: {why}"),
        },
        other => other,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Reads a head after its magic and version (2; 3: pieces deflated; 4:
/// pieces as zlib streams, no sha256; 5: as 4, the lengths as codes).
pub(super) fn read_head(r: &mut Reader, version: u32) -> Result<LexicalIndex, Error> {
    let codes = version == VERSION_CODES;
    let zlib = version == VERSION_ZLIB || codes;
    let deflated = version == VERSION_DEFLATED || zlib;
    // Every doc id and length takes at least one byte each.
    let n_docs = r.count(2, "document count")?;
    let doc_ids = super::read_doc_ids(r, n_docs)?;
    let mut parts = Parts::new(doc_ids);
    if codes {
        let bytes = r.take(n_docs)?;
        for (len, &c) in parts.doc_lens.iter_mut().zip(bytes) {
            *len = super::length_of_code(c);
        }
    } else {
        for len in parts.doc_lens.iter_mut() {
            *len = r.varint()?;
        }
    }
    // A piece takes at least 1 + 1 + 1 + 1 + 32 bytes (version 4: 1 + 1 +
    // 1 + 1 + 1).
    let n = r.count(if zlib { 5 } else { 36 }, "piece count")?;
    let mut refs: Vec<PieceRef> = Vec::with_capacity(n);
    for i in 0..n {
        let tl = r.varint()?;
        if tl > MAX_TERM_BYTES as u64 || (i == 0) != (tl == 0) {
            return Err(Error::corrupt(
                FILE,
                format!("piece {i}: bad first term length"),
            ));
        }
        let first = std::str::from_utf8(r.take(tl as usize)?)
            .map_err(|_| Error::corrupt(FILE, format!("piece {i}: first term not valid UTF-8")))?
            .to_string();
        if refs
            .last()
            .is_some_and(|p| p.first.as_bytes() >= first.as_bytes())
        {
            return Err(Error::corrupt(
                FILE,
                format!("piece {i}: pieces are not in term order"),
            ));
        }
        let file = u32::try_from(r.varint()?)
            .map_err(|_| Error::corrupt(FILE, format!("piece {i}: bad file")))?;
        let start = r.varint()?;
        let len = r.varint()?;
        if start.checked_add(len).is_none() || len == 0 {
            return Err(Error::corrupt(FILE, format!("piece {i}: bad byte range")));
        }
        let sha256 = if zlib {
            None
        } else {
            let mut sha256 = [0u8; 32];
            sha256.copy_from_slice(r.take(32)?);
            Some(sha256)
        };
        let plain = if deflated {
            let n = r.varint()?;
            if n == 0 || n > MAX_PLAIN_BYTES {
                return Err(Error::corrupt(
                    FILE,
                    format!("piece {i}: inflates to {n} bytes"),
                ));
            }
            Some(n)
        } else {
            None
        };
        refs.push(PieceRef {
            first,
            file,
            start,
            len,
            sha256,
            plain,
        });
    }
    if r.remaining() != 0 {
        return Err(Error::corrupt(FILE, "trailing bytes after the head"));
    }
    if refs.is_empty() && n_docs > 0 {
        return Err(Error::corrupt(FILE, "a head without pieces"));
    }
    let mut index = parts.into_index();
    index.pieces = Some(Pieces {
        loaded: vec![None; refs.len()],
        refs,
    });
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::super::LexicalIndexBuilder;
    use super::*;

    const TEXTS: [&str; 8] = [
        "How to reset your password from the account settings page.",
        "Cómo restablecer la contraseña desde la configuración de la cuenta.",
        "Billing: download an invoice, change the card, cancel the subscription.",
        "Facturación: descargar una factura y cancelar la suscripción.",
        "パスワードをリセットする方法。アカウント設定のページから。",
        "Error e3022 means the webhook secret does not match.",
        "El error e3022 significa que el secreto del webhook no coincide.",
        "Two-factor authentication with an app or a security key.",
    ];

    fn full() -> LexicalIndex {
        let mut b = LexicalIndexBuilder::new();
        for (i, t) in TEXTS.iter().enumerate() {
            b.add(2 * i as u32, t);
        }
        let mut ix = b.finish();
        ix.partition(|d| (d / 2 % 2) as u16);
        ix
    }

    /// How the tests store pieces: as they are (head version 2), raw
    /// deflate with sha256s (3), zlib streams (4, as written).
    #[derive(Clone, Copy, Debug)]
    enum Stored {
        Plain,
        Deflate,
        Zlib,
    }

    /// The index cut in pieces of about `target` bytes, all in one file,
    /// stored `how` (the indexer writes zlib streams): its head read back,
    /// and the pieces as stored.
    fn stored(target: usize, how: Stored) -> (LexicalIndex, Vec<Vec<u8>>, Vec<PieceRef>) {
        let ix = full();
        let mut refs = Vec::new();
        let mut pieces = Vec::new();
        let mut at = 0u64;
        for (first, plain) in ix.split_terms(target) {
            let bytes = match how {
                Stored::Plain => plain.clone(),
                Stored::Deflate => miniz_oxide::deflate::compress_to_vec(&plain, 9),
                Stored::Zlib => miniz_oxide::deflate::compress_to_vec_zlib(&plain, 9),
            };
            refs.push(PieceRef {
                first,
                file: 0,
                start: at,
                len: bytes.len() as u64,
                sha256: match how {
                    Stored::Zlib => None,
                    _ => Some(Sha256::digest(&bytes).into()),
                },
                plain: match how {
                    Stored::Plain => None,
                    _ => Some(plain.len() as u64),
                },
            });
            at += bytes.len() as u64;
            pieces.push(bytes);
        }
        let head_bytes = ix.head_bytes(&refs);
        let version = match how {
            Stored::Plain => VERSION,
            Stored::Deflate => VERSION_DEFLATED,
            Stored::Zlib => VERSION_CODES,
        };
        assert_eq!(head_bytes[4] as u32, version);
        let mut head = LexicalIndex::from_bytes(&head_bytes).unwrap();
        head.partition(|d| (d / 2 % 2) as u16);
        (head, pieces, refs)
    }

    const QUERIES: [&str; 6] = [
        "reset password",
        "contraseña cuenta",
        "e3022 webhook",
        "パスワード",
        "cancel the subscription invoice",
        "nothing matches zzz",
    ];

    #[test]
    fn with_the_pieces_a_query_needs_it_scores_as_the_one_piece_index_bit_for_bit() {
        for how in [Stored::Plain, Stored::Deflate, Stored::Zlib] {
            pieces_score_as_one(how);
        }
    }

    fn pieces_score_as_one(how: Stored) {
        let ix = full();
        let (head, pieces, refs) = stored(40, how);
        assert!(refs.len() > 5, "{} pieces", refs.len());
        assert_eq!(refs[0].first, "");
        assert!(head.is_pieced() && !ix.is_pieced());
        for q in QUERIES {
            let mut h = head.clone();
            let need = h.missing_pieces(q);
            assert!(!need.is_empty(), "{q}");
            assert!(need.len() < refs.len(), "{q}: every piece");
            for &i in &need {
                h.add_piece(i, &pieces[i]).unwrap();
            }
            assert!(h.missing_pieces(q).is_empty());
            let bits = |hits: Vec<(u32, f32)>| -> Vec<(u32, u32)> {
                hits.into_iter().map(|(d, s)| (d, s.to_bits())).collect()
            };
            for shared in [false, true] {
                assert_eq!(
                    bits(h.search_terms(q, 10, shared)),
                    bits(ix.search_terms(q, 10, shared)),
                    "{q} {shared}"
                );
            }
            assert_eq!(h.identifier_shares(q), ix.identifier_shares(q), "{q}");
        }
        // every piece in: the same index, and the same version 1 bytes
        let mut h = head.clone();
        for (i, p) in pieces.iter().enumerate() {
            h.add_piece(i, p).unwrap();
        }
        assert_eq!(h.to_bytes(), ix.to_bytes());
        assert_eq!(h.term_count(), ix.term_count());
    }

    #[test]
    fn a_damaged_piece_or_head_is_an_error_never_a_panic() {
        for how in [Stored::Deflate, Stored::Zlib] {
            damaged(how);
        }
    }

    fn damaged(how: Stored) {
        let (head, pieces, refs) = stored(40, how);
        let mut h = head.clone();
        let mut bad = pieces[1].clone();
        bad[0] ^= 1;
        let e = h.add_piece(1, &bad).unwrap_err();
        match how {
            Stored::Zlib => assert!(matches!(e, Error::Corrupt { .. }), "{e}"),
            _ => assert!(matches!(e, Error::Checksum { .. }), "{e}"),
        }
        // version 4: a single-bit flip of a piece is refused (its Adler-32,
        // its zlib header or the length it inflates to), unless the bit is
        // one deflate does not read and the piece inflates to its own bytes
        if let Stored::Zlib = how {
            let plain = |b: &[u8]| miniz_oxide::inflate::decompress_to_vec_zlib(b).ok();
            let mut refused = 0;
            let mut flips = 0;
            for p in [1, 2] {
                for n in 0..pieces[p].len() {
                    for bit in 0..8 {
                        let mut b = pieces[p].clone();
                        b[n] ^= 1 << bit;
                        flips += 1;
                        if head.clone().add_piece(p, &b).is_err() {
                            refused += 1;
                        } else {
                            assert_eq!(
                                plain(&b),
                                plain(&pieces[p]),
                                "piece {p} byte {n} bit {bit}"
                            );
                        }
                    }
                }
            }
            assert!(
                refused * 10 >= flips * 9,
                "{refused} of {flips} flips refused"
            );
        }
        assert!(matches!(
            h.add_piece(1, &pieces[1][1..]),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(h.add_piece(99, &pieces[1]), Err(Error::Input(_))));
        // a piece with the right checksum in the wrong place: its terms are outside the range
        let mut swapped = refs.clone();
        swapped.swap(1, 2);
        swapped[1].first.clone_from(&refs[1].first);
        swapped[2].first.clone_from(&refs[2].first);
        let mut h = LexicalIndex::from_bytes(&full().head_bytes(&swapped)).unwrap();
        let e = h.add_piece(1, &pieces[2]).unwrap_err().to_string();
        assert!(e.contains("outside the piece's term range"), "{e}");
        // every cut and every flipped byte of the head: an error or an index, no panic
        let bytes = full().head_bytes(&refs);
        for n in 0..bytes.len() {
            assert!(LexicalIndex::from_bytes(&bytes[..n]).is_err(), "cut at {n}");
        }
        for n in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut b = bytes.clone();
                b[n] ^= bit;
                if let Ok(mut h) = LexicalIndex::from_bytes(&b) {
                    for (i, p) in pieces.iter().enumerate() {
                        let _ = h.add_piece(i, p);
                    }
                    let _ = h.search("reset password e3022", 5);
                }
            }
        }
        // pieces out of term order
        let mut unordered = refs.clone();
        unordered[2].first.clone_from(&refs[1].first);
        assert!(LexicalIndex::from_bytes(&full().head_bytes(&unordered)).is_err());
        // stored bytes that match their checksum but do not inflate to the
        // length the head says, or are not deflate data at all
        let mut lying = refs.clone();
        lying[1].plain = Some(lying[1].plain.unwrap() + 1);
        let mut h = LexicalIndex::from_bytes(&full().head_bytes(&lying)).unwrap();
        let e = h.add_piece(1, &pieces[1]).unwrap_err().to_string();
        assert!(e.contains("piece 1: does not inflate"), "{e}");
        let junk = vec![0xffu8; 40];
        let mut lying = refs.clone();
        lying[1].len = junk.len() as u64;
        if lying[1].sha256.is_some() {
            lying[1].sha256 = Some(Sha256::digest(&junk).into());
        }
        let mut h = LexicalIndex::from_bytes(&full().head_bytes(&lying)).unwrap();
        assert!(matches!(h.add_piece(1, &junk), Err(Error::Corrupt { .. })));
    }
}
