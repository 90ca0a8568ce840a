//! The embedding cache (native): rows an earlier build computed, reused
//! when the same passage is indexed again with the same model pack, so a
//! re-index embeds only what changed.
//!
//! One file per pack, `<cache dir>/<pack id>.cfec`, rewritten at the end of
//! each build:
//!
//! ```text
//! "CFEC" | u32 version | u32 dim | u32 rows | [u8; 32] probe sha256
//! rows × ( [u8; 16] key | u8 flags | (4 + dim) bytes int8 row )
//! [u8; 32] sha256 of everything before it
//! ```
//!
//! - `key` is the first 16 bytes of sha256("crossfind embed key 1\0" ‖
//!   passage), the passage exactly as the encoder gets it (model prefix and
//!   title line included); `flags` bit 0 says the passage was truncated.
//! - The row is the bundle's own int8 row (`DType::I8Row`), so a reused row
//!   is byte for byte the row a fresh embedding would give.
//! - `probe` is the hash of the row the encoder gives [`PROBE`]. It is
//!   computed again when the cache is opened: an encoder whose numbers
//!   changed (another crossfind, another kernel) finds a different probe
//!   and starts from an empty cache instead of mixing rows from two
//!   encoders.
//! - A file that is damaged, truncated, or of another version or dimension
//!   is ignored, with a note; the build goes on as without a cache. The
//!   cache never makes a build fail.
//!
//! The file keeps the rows of the last build first, then older rows up to
//! as many again (at least [`MIN_KEPT`]), so a cache shared by a few sites,
//! or a page that comes back after a build without it, still hits, while
//! the file stays bounded by about twice the largest site.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::format::tensors::quantize_i8_rows;
use crate::model::{Encoder, TextKind};

const MAGIC: &[u8; 4] = b"CFEC";
const VERSION: u32 = 1;
const HEADER: usize = 4 + 4 + 4 + 4 + 32;
/// Older rows kept even when the last build was small.
const MIN_KEPT: usize = 20_000;
/// A passage in several scripts, embedded to check that the encoder that
/// filled the cache computes what this one does.
const PROBE: &str = "passage: Reset your password / Restablecer la contraseña / \
                     パスワードをリセット / 비밀번호 재설정 / إعادة تعيين كلمة المرور";

/// A cache key: the start of the passage's sha256.
pub type Key = [u8; 16];

pub fn key(passage: &str) -> Key {
    let mut h = Sha256::new();
    h.update(b"crossfind embed key 1\0");
    h.update(passage.as_bytes());
    let d = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// A cached row: the int8 row and whether its passage was truncated.
#[derive(Clone)]
pub struct Row {
    pub bytes: Vec<u8>,
    pub truncated: bool,
}

/// The cache of one pack, as loaded, and the rows this build used or added.
pub struct EmbedCache {
    path: PathBuf,
    dim: usize,
    probe: [u8; 32],
    old: HashMap<Key, Row>,
    /// Order of `old` in its file (oldest last), for what is kept.
    old_order: Vec<Key>,
    used: Vec<(Key, Row)>,
    used_keys: std::collections::HashSet<Key>,
    /// Why the file on disk was not used, if it was not.
    pub note: Option<String>,
}

impl EmbedCache {
    /// Opens the cache of `enc`'s pack in `dir` (the folder is created
    /// when the cache is saved). Never fails: an unreadable file gives an
    /// empty cache and a [`EmbedCache::note`].
    pub fn open(dir: &Path, enc: &Encoder) -> crate::error::Result<Self> {
        let dim = enc.dim();
        let probe_row =
            quantize_i8_rows(&enc.embed_for_search(PROBE, TextKind::Passage)?.vector, dim);
        let probe: [u8; 32] = Sha256::digest(&probe_row).into();
        let path = dir.join(format!("{}.cfec", enc.manifest().pack_id()));
        let mut cache = EmbedCache {
            path,
            dim,
            probe,
            old: HashMap::new(),
            old_order: Vec::new(),
            used: Vec::new(),
            used_keys: Default::default(),
            note: None,
        };
        match std::fs::read(&cache.path) {
            Ok(bytes) => {
                if let Err(why) = cache.load(&bytes) {
                    cache.note = Some(format!(
                        "the embedding cache {} was not used: {why}; every chunk is embedded",
                        cache.path.display()
                    ));
                    cache.old.clear();
                    cache.old_order.clear();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                cache.note = Some(format!(
                    "the embedding cache {} could not be read ({e}); every chunk is embedded",
                    cache.path.display()
                ))
            }
        }
        Ok(cache)
    }

    fn load(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        if bytes.len() < HEADER + 32 || &bytes[..4] != MAGIC {
            return Err("it is not a crossfind embedding cache".into());
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != sum {
            return Err("it is damaged (checksum mismatch)".into());
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        if u32_at(4) != VERSION {
            return Err(format!("it is of version {}, not {VERSION}", u32_at(4)));
        }
        if u32_at(8) as usize != self.dim {
            return Err(format!(
                "its rows have {} dimensions, not {}",
                u32_at(8),
                self.dim
            ));
        }
        if bytes[16..48] != self.probe {
            return Err("it was filled by an encoder that computes other numbers (another crossfind version?)".into());
        }
        let rows = u32_at(12) as usize;
        let rec = 16 + 1 + 4 + self.dim;
        if body.len() != HEADER + rows * rec {
            return Err("its length does not match its row count".into());
        }
        for r in body[HEADER..].chunks_exact(rec) {
            let k: Key = r[..16].try_into().unwrap();
            if self.old.contains_key(&k) {
                continue;
            }
            self.old.insert(
                k,
                Row {
                    truncated: r[16] & 1 != 0,
                    bytes: r[17..].to_vec(),
                },
            );
            self.old_order.push(k);
        }
        Ok(())
    }

    /// The file the cache is kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows the cache held when opened.
    pub fn len(&self) -> usize {
        self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.old.is_empty()
    }

    /// The cached row for `k`, marked as used by this build.
    pub fn get(&mut self, k: &Key) -> Option<Row> {
        let row = self.old.get(k)?.clone();
        if self.used_keys.insert(*k) {
            self.used.push((*k, row.clone()));
        }
        Some(row)
    }

    /// A row this build computed.
    pub fn put(&mut self, k: Key, row: Row) {
        debug_assert_eq!(row.bytes.len(), 4 + self.dim);
        if self.used_keys.insert(k) {
            self.used.push((k, row));
        }
    }

    /// Writes the cache: this build's rows, then older ones (see the
    /// module's notes). Written to a temporary name first, then renamed,
    /// so a build that stops half way leaves the previous file.
    pub fn save(&self) -> std::io::Result<()> {
        let keep_old = self.used.len().max(MIN_KEPT);
        let older = self
            .old_order
            .iter()
            .filter(|k| !self.used_keys.contains(*k))
            .take(keep_old)
            .map(|k| (k, &self.old[k]));
        let rows: Vec<(&Key, &Row)> = self.used.iter().map(|(k, r)| (k, r)).chain(older).collect();
        let rec = 16 + 1 + 4 + self.dim;
        let mut out = Vec::with_capacity(HEADER + rows.len() * rec + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.probe);
        for (k, r) in rows {
            out.extend_from_slice(k);
            out.push(r.truncated as u8);
            out.extend_from_slice(&r.bytes);
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::format::fs::replace_file(&self.path, &out)
    }
}

/// The default cache folder: `$CROSSFIND_CACHE`, else
/// `$XDG_CACHE_HOME/crossfind`, else `~/.cache/crossfind`.
pub fn default_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("CROSSFIND_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("crossfind")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("crossfind")))
}
