//! Files stored compressed beside their plain form.
//!
//! Many static hosts send `application/octet-stream` and `.wasm` files as
//! they are, so a reader of such a host downloads every byte. A pack or
//! bundle file that compresses well is therefore also written gzip-compressed
//! under its own name (`vocab.bin.gz` beside `vocab.bin`), and its manifest
//! entry says so with an [`Encoded`] record. The browser fetches the
//! compressed file and decodes it while it streams (`DecompressionStream`);
//! a host that compresses by itself is sent for the plain file instead.
//!
//! ## What the checksums cover
//!
//! A manifest entry's `bytes` and `sha256` are those of the file's content:
//! the plain file, or what its compressed form decodes to. That is what
//! every reader (native, wasm) checks before using a file, whichever form
//! it fetched, and what the pack id hashes, so storing a file compressed
//! changes neither. The [`Encoded`] record's own `bytes` and `sha256` are
//! those of the compressed file as stored and served: what a copy of the
//! stored file is checked against (the offline copy, `offline.json`; the
//! indexer's copy of the pack). Corrupt compressed data is refused by the
//! decoder (gzip's own CRC and length) or else by the content checksum.

use serde::{Deserialize, Serialize};

#[cfg(not(target_arch = "wasm32"))]
use crate::error::{Error, Result};

/// How a compressed form is encoded. Only gzip today: every browser decodes
/// it with `DecompressionStream`; raw deflate would save only gzip's 18
/// bytes of header and trailer per file, and lose its CRC.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Gzip,
}

impl Encoding {
    /// The suffix the compressed file's name adds to the plain name.
    pub fn suffix(self) -> &'static str {
        match self {
            Encoding::Gzip => ".gz",
        }
    }
}

/// The compressed form of a listed file: its name beside the plain file,
/// and the size and sha256 of the compressed bytes as stored.
///
/// A bundle manifest of version 6 or later writes only the encoding and
/// the size: the name is always the plain name and the encoding's suffix
/// (`BundleManifest::parse` fills it in), and readers check the decoded
/// content against the plain file's sha256, never the stored bytes', so a
/// second checksum per file was a third of a large site's manifest. The
/// indexer keeps it in memory for the offline copy's list. Pack manifests
/// still write both.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Encoded {
    pub encoding: Encoding,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
}

/// A compressed form is written only when it saves at least this share of
/// the plain size (the 4-bit encoder weights save less and stay plain)...
pub const MIN_SAVING: f64 = 0.05;
/// ... and at least this many bytes (below that, a second file costs more
/// than it saves).
pub const MIN_SAVED_BYTES: usize = 1024;

/// Whether `compressed` is worth storing beside `plain` ([`MIN_SAVING`],
/// [`MIN_SAVED_BYTES`]).
pub fn worth_storing(plain: usize, compressed: usize) -> bool {
    compressed < plain
        && plain - compressed >= MIN_SAVED_BYTES
        && (plain - compressed) as f64 >= MIN_SAVING * plain as f64
}

/// The gzip form of `bytes` (level 9, no name, no time stamp: the same
/// input always gives the same bytes, so names and checksums are stable).
#[cfg(not(target_arch = "wasm32"))]
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

/// Decodes the compressed form `stored` (file `enc.name`) of a file of
/// `content_bytes` bytes. Stops with [`Error::Corrupt`] naming the
/// compressed file when the data is not valid gzip (bad header, CRC or
/// length, cut short) or decodes to another size than the content's.
#[cfg(not(target_arch = "wasm32"))]
pub fn decode(enc: &Encoded, stored: &[u8], content_bytes: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let bad = |why: String| {
        Error::corrupt(
            &enc.name,
            format!("{why}; copy the folder again or re-run the command that wrote it"),
        )
    };
    match enc.encoding {
        Encoding::Gzip => {
            if !stored.starts_with(&[0x1f, 0x8b]) {
                return Err(bad("is not gzip data (no gzip header)".into()));
            }
            // one byte more than the content may have: a longer stream is
            // refused without decoding all of it
            let mut out = Vec::with_capacity(content_bytes.min(1 << 30) as usize);
            flate2::read::GzDecoder::new(stored)
                .take(content_bytes + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad(format!("is not valid gzip data ({e})")))?;
            if out.len() as u64 != content_bytes {
                return Err(bad(format!(
                    "decodes to {}{} bytes, the manifest says {content_bytes}",
                    if out.len() as u64 > content_bytes {
                        "more than "
                    } else {
                        ""
                    },
                    out.len().min(content_bytes as usize)
                )));
            }
            Ok(out)
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::format::sha256_hex;

    fn encoded(stored: &[u8]) -> Encoded {
        Encoded {
            encoding: Encoding::Gzip,
            name: "vocab.bin.gz".into(),
            bytes: stored.len() as u64,
            sha256: sha256_hex(stored),
        }
    }

    fn text() -> Vec<u8> {
        (0..20_000u32)
            .flat_map(|i| format!("piece {} ", i % 300).into_bytes())
            .collect()
    }

    #[test]
    fn gzip_is_stable_and_decodes_to_the_content() {
        let plain = text();
        let gz = gzip(&plain);
        assert_eq!(gz, gzip(&plain), "the same input gives the same bytes");
        assert!(worth_storing(plain.len(), gz.len()));
        assert_eq!(
            decode(&encoded(&gz), &gz, plain.len() as u64).unwrap(),
            plain
        );
    }

    #[test]
    fn small_or_poor_savings_are_not_stored() {
        assert!(!worth_storing(2000, 1500), "saves under 1 kB");
        assert!(!worth_storing(100_000, 96_000), "saves 4 %");
        assert!(worth_storing(100_000, 94_000));
        assert!(!worth_storing(100, 200));
    }

    #[test]
    fn damaged_compressed_data_names_the_compressed_file() {
        let plain = text();
        let gz = gzip(&plain);
        let n = plain.len() as u64;
        let why = |stored: &[u8], n: u64| match decode(&encoded(stored), stored, n) {
            Err(Error::Corrupt { file, why }) => {
                assert_eq!(file, "vocab.bin.gz");
                why
            }
            other => panic!("expected a corrupt-file error, got {other:?}"),
        };
        // cut short
        assert!(why(&gz[..gz.len() / 2], n).contains("not valid gzip"));
        // a flipped byte in the deflate data or the CRC
        let mut flipped = gz.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(why(&flipped, n).contains("not valid gzip"));
        let mut crc = gz.clone();
        let at = crc.len() - 6;
        crc[at] ^= 1;
        assert!(why(&crc, n).contains("not valid gzip"));
        // not gzip at all (a plain file under the compressed name)
        assert!(why(&plain, n).contains("no gzip header"));
        // decodes, but to another size than the manifest's
        assert!(why(&gz, n - 10).contains("more than"));
        assert!(why(&gz, n + 10).contains(&format!("decodes to {n} bytes")));
    }
}
