//! The stored order of the word-embedding rows: grouped by writing system.
//!
//! A multilingual vocabulary interleaves its scripts: XLM-R's 250k pieces are
//! in frequency order, so a Latin piece sits next to a Cyrillic and a Han
//! one. Rows are fetched and checked in blocks of 8, so in that order a
//! Latin-only site needs nearly every block to work offline. A pack stores
//! its rows grouped instead — pieces without letters first, then pieces of
//! ASCII letters, other Latin, Cyrillic, ... — each group in id order. A
//! site then keeps the groups its languages use, a few contiguous byte
//! ranges ([`groups_for_languages`], `bundle::OfflineRows`).
//!
//! The order is not stored: it is a function of the vocabulary, computed at
//! import and again at load (a few milliseconds) from the same fixed
//! code point table (`crate::script`). The pack records the scheme, the
//! groups' row spans and a digest of the permutation, and the loader refuses
//! a pack whose order it computes differently.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::script::{is_shared, script_of, Script, SCRIPTS};

/// The grouping rule below. A new rule needs a new name.
pub const SCHEME: &str = "scripts-1";

const COMMON: usize = 0;
const LATIN_BASIC: usize = 1;
const LATIN: usize = 2;
const OTHER: usize = GROUPS.len() - 1;

/// The groups, in stored order.
pub const GROUPS: [&str; 29] = [
    "common",
    "latin-basic",
    "latin",
    "cyrillic",
    "greek",
    "armenian",
    "hebrew",
    "arabic",
    "devanagari",
    "bengali",
    "gurmukhi",
    "gujarati",
    "oriya",
    "tamil",
    "telugu",
    "kannada",
    "malayalam",
    "sinhala",
    "thai",
    "lao",
    "tibetan",
    "myanmar",
    "georgian",
    "hangul",
    "ethiopic",
    "khmer",
    "kana",
    "han",
    "other",
];

/// The group of a script's letters other than ASCII ones.
fn script_group(s: Script) -> usize {
    match s {
        Script::Latin => LATIN,
        // SCRIPTS lists Latin first, then the others in GROUPS' order
        other => 2 + SCRIPTS.iter().position(|&x| x == other).expect("listed"),
    }
}

/// The group of one vocabulary piece:
/// - no letters at all (digits, punctuation, `▁`, emoji): `common`;
/// - ASCII letters only: `latin-basic`, which every site keeps;
/// - letters of one script, possibly with ASCII ones: that script's group
///   (`latin` for accented Latin);
/// - Han with kana: `kana` (only Japanese writes both);
/// - anything else: `other`.
pub fn group_of(piece: &str) -> usize {
    if piece.is_ascii() {
        // a third of XLM-R's pieces; the answer the loop below would give
        let letter = piece.bytes().any(|b| b.is_ascii_alphabetic());
        return if letter { LATIN_BASIC } else { COMMON };
    }
    let mut group = COMMON;
    for c in piece.chars() {
        if is_shared(c) {
            continue;
        }
        let g = match script_of(c) {
            None => return OTHER,
            Some(Script::Latin) if c.is_ascii() => LATIN_BASIC,
            Some(s) => script_group(s),
        };
        group = match (group, g) {
            (a, b) if a == b => a,
            (COMMON | LATIN_BASIC, b) => b.max(group),
            (a, LATIN_BASIC) => a,
            (a, b) if is_japanese(a, b) => script_group(Script::Kana),
            _ => return OTHER,
        };
    }
    group
}

fn is_japanese(a: usize, b: usize) -> bool {
    let (kana, han) = (script_group(Script::Kana), script_group(Script::Han));
    (a == kana && b == han) || (a == han && b == kana)
}

/// Rows `start..end` of the stored table are group `name`'s.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupSpan {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// How a pack orders its rows (`pack.json`, `embeddings.order`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RowOrderInfo {
    pub scheme: String,
    /// The first 16 hex digits of the sha256 of the stored position of each
    /// id, as little-endian u32.
    pub digest: String,
    /// Non-empty groups, in stored order.
    pub groups: Vec<GroupSpan>,
    /// The sha256 each row shard would have with its rows in id order: the
    /// pack id is computed from these, so reordering a pack's rows keeps
    /// the bundles built with it valid. Filled in at import.
    #[serde(default)]
    pub id_order_sha256: Vec<String>,
}

/// The order itself: `stored[id]` is the row where id's vector is kept.
pub struct RowOrder {
    pub stored: Vec<u32>,
    pub info: RowOrderInfo,
}

impl RowOrder {
    /// Groups ids `0..rows` by their pieces; ids past the vocabulary (rows
    /// a model has beyond its tokenizer's pieces) go to `other`.
    pub fn compute<'a>(rows: usize, piece: impl Fn(u32) -> Option<Cow<'a, str>>) -> Self {
        let group: Vec<u8> = (0..rows as u32)
            .map(|id| piece(id).map_or(OTHER, |p| group_of(&p)) as u8)
            .collect();
        let mut counts = [0usize; GROUPS.len()];
        for &g in &group {
            counts[g as usize] += 1;
        }
        let mut next = [0usize; GROUPS.len()];
        let mut groups = Vec::new();
        let mut at = 0;
        for (g, &n) in counts.iter().enumerate() {
            next[g] = at;
            if n > 0 {
                groups.push(GroupSpan {
                    name: GROUPS[g].to_string(),
                    start: at,
                    end: at + n,
                });
            }
            at += n;
        }
        let stored: Vec<u32> = group
            .iter()
            .map(|&g| {
                let r = next[g as usize];
                next[g as usize] += 1;
                r as u32
            })
            .collect();
        let digest = digest(&stored);
        RowOrder {
            stored,
            info: RowOrderInfo {
                scheme: SCHEME.into(),
                digest,
                groups,
                id_order_sha256: Vec::new(),
            },
        }
    }

    /// Recomputes the order a pack declares and checks it is the same.
    pub fn load<'a>(
        declared: &RowOrderInfo,
        rows: usize,
        file: &str,
        piece: impl Fn(u32) -> Option<Cow<'a, str>>,
    ) -> Result<Self> {
        if declared.scheme != SCHEME {
            return Err(Error::corrupt(
                file,
                format!(
                    "its embedding rows are ordered by `{}`, which this build of crossfind does not know (it knows `{SCHEME}`); use the crossfind version that built the pack",
                    declared.scheme
                ),
            ));
        }
        let mut order = Self::compute(rows, piece);
        order.info.id_order_sha256 = declared.id_order_sha256.clone();
        if order.info != *declared {
            return Err(Error::corrupt(
                file,
                "the order of its embedding rows is not the one computed from its vocabulary: the vocabulary and the rows belong to different imports; import the model again",
            ));
        }
        Ok(order)
    }

    /// Id of each stored row (the inverse permutation).
    pub fn ids_in_stored_order(&self) -> Vec<u32> {
        let mut ids = vec![0u32; self.stored.len()];
        for (id, &r) in self.stored.iter().enumerate() {
            ids[r as usize] = id as u32;
        }
        ids
    }
}

fn digest(stored: &[u32]) -> String {
    let mut h = Sha256::new();
    for r in stored {
        h.update(r.to_le_bytes());
    }
    crate::format::hex(&h.finalize())[..16].to_string()
}

/// The groups a site in `langs` needs offline: `common` and `latin-basic`
/// always (numbers, product names and half-English queries), then each
/// language's scripts. A language the table does not know needs them all.
#[cfg(not(target_arch = "wasm32"))]
pub fn groups_for_languages<'a>(langs: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    let mut want = [false; GROUPS.len()];
    want[COMMON] = true;
    want[LATIN_BASIC] = true;
    for lang in langs {
        match crate::script::scripts_of_language(lang) {
            Some(scripts) => {
                for &s in scripts {
                    want[script_group(s)] = true;
                }
            }
            None => want = [true; GROUPS.len()],
        }
    }
    GROUPS
        .iter()
        .zip(want)
        .filter_map(|(g, w)| w.then_some(*g))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(piece: &str) -> &'static str {
        GROUPS[group_of(piece)]
    }

    #[test]
    fn each_script_has_the_group_of_its_name() {
        for s in SCRIPTS {
            assert_eq!(GROUPS[script_group(s)], format!("{s:?}").to_lowercase());
        }
    }

    #[test]
    fn pieces_fall_in_the_groups_their_readers_type() {
        assert_eq!(name("▁"), "common");
        assert_eq!(name("▁2024"), "common");
        assert_eq!(name("▁account"), "latin-basic");
        assert_eq!(name("▁cuenta"), "latin-basic");
        assert_eq!(name("▁contraseña"), "latin");
        assert_eq!(name("ñ"), "latin");
        assert_eq!(name("▁пароль"), "cyrillic");
        assert_eq!(name("▁пароль2"), "cyrillic");
        assert_eq!(name("パスワード"), "kana");
        assert_eq!(name("変更"), "han");
        assert_eq!(name("変える"), "kana");
        assert_eq!(name("Tシャツ"), "kana");
        assert_eq!(name("비밀번호"), "hangul");
        assert_eq!(name("كلمة"), "arabic");
        assert_eq!(name("éж"), "other");
        assert_eq!(name("ދިވެހި"), "other"); // Thaana: not in the table
    }

    #[test]
    fn order_is_a_permutation_grouped_in_id_order() {
        let pieces = ["<unk>", "▁a", "ж", "1", "é", "▁b", "語", "ж2"];
        let order = RowOrder::compute(pieces.len() + 1, |id| {
            pieces.get(id as usize).map(|p| Cow::Borrowed(*p))
        });
        let ids = order.ids_in_stored_order();
        let stored_pieces: Vec<&str> = ids
            .iter()
            .map(|&id| pieces.get(id as usize).copied().unwrap_or("(none)"))
            .collect();
        assert_eq!(
            stored_pieces,
            ["1", "<unk>", "▁a", "▁b", "é", "ж", "ж2", "語", "(none)"]
        );
        let names: Vec<(&str, usize, usize)> = order
            .info
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.start, g.end))
            .collect();
        assert_eq!(
            names,
            [
                ("common", 0, 1),
                ("latin-basic", 1, 4),
                ("latin", 4, 5),
                ("cyrillic", 5, 7),
                ("han", 7, 8),
                ("other", 8, 9)
            ]
        );
    }

    #[test]
    fn a_pack_whose_order_differs_is_refused() {
        let pieces = ["a", "ж", "é"];
        let piece = |id: u32| pieces.get(id as usize).map(|p| Cow::Borrowed(*p));
        let order = RowOrder::compute(3, piece);
        assert!(RowOrder::load(&order.info, 3, "pack.json", piece).is_ok());
        let swapped = ["ж", "a", "é"];
        let err = RowOrder::load(&order.info, 3, "pack.json", |id| {
            swapped.get(id as usize).map(|p| Cow::Borrowed(*p))
        })
        .err()
        .unwrap();
        assert_eq!(err.code(), "corrupt_file");
        let mut other = order.info.clone();
        other.scheme = "scripts-9".into();
        let err = RowOrder::load(&other, 3, "pack.json", piece).err().unwrap();
        assert!(err.to_string().contains("scripts-9"), "{err}");
    }

    #[test]
    fn sites_keep_their_scripts_and_the_shared_groups() {
        assert_eq!(
            groups_for_languages(["en", "es"]),
            ["common", "latin-basic", "latin"]
        );
        assert_eq!(
            groups_for_languages(["ja"]),
            ["common", "latin-basic", "kana", "han"]
        );
        assert_eq!(
            groups_for_languages(["ru", "en"]),
            ["common", "latin-basic", "latin", "cyrillic"]
        );
        assert_eq!(groups_for_languages(["xx"]).len(), GROUPS.len());
    }
}
