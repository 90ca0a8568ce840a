//! Language-agnostic text analysis for the lexical index: the same function
//! turns documents and queries into terms, so anything the two have in common
//! after normalisation can match.
//!
//! The pipeline, applied to each grapheme cluster of the original text so
//! that every term can be mapped back to a byte range for highlighting:
//!
//! 1. NFKC, then lowercase (per char; final sigma folded to `σ`).
//! 2. Diacritics are folded for Latin, Greek and Cyrillic letters only
//!    (`contraseña` → `contrasena`, `ё` → `е`, `ß` → `ss`); marks on every
//!    other script (Devanagari matras and virama, Arabic harakat, Thai vowel
//!    and tone marks, …) are kept. Invisible formatting characters (soft
//!    hyphen, zero-width space, word joiner, BOM, variation selectors, Arabic
//!    tatweel) are dropped.
//! 3. Han, Hiragana, Katakana, Thai, Lao, Khmer and Myanmar are written
//!    without spaces: each run of one of them becomes overlapping bigrams of
//!    grapheme clusters (the single cluster for a one-cluster run).
//! 4. Everything else is split into words at Unicode word boundaries
//!    (UAX #29). Words joined by one of `-_./@:+'` with no space around form a
//!    compound (`x-idempotency-key`, `api_token`, `example.com`) that is
//!    emitted whole and as its alphanumeric parts. Hangul words are also
//!    emitted as bigrams (Korean glues particles onto words) and split from
//!    attached Latin or digits (`api를` → `api`, `를`).
//!
//! Punctuation and symbols produce no terms; numbers do. No stopwords are
//! removed. Terms are capped at [`MAX_TERM_CHARS`] chars.

use crate::script::{script_of, Script};
use std::collections::HashSet;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// Longest term, in chars; longer tokens are truncated to this.
pub const MAX_TERM_CHARS: usize = 64;

/// The index/query terms of `text`, in text order (a token may yield several
/// terms: a compound and its parts, or bigrams).
pub fn terms(text: &str) -> Vec<String> {
    let norm = normalize(text, None);
    let mut out = Vec::new();
    analyze(&norm, &mut |term, _, _| out.push(cap(term).to_string()));
    out
}

/// Index of the sentence that covers the most distinct `query_terms`; ties go
/// to the earlier sentence. `None` when no sentence contains any query term
/// (or there are no sentences / query terms).
pub fn best_sentence(sentences: &[&str], query_terms: &[String]) -> Option<usize> {
    let wanted: HashSet<&str> = query_terms.iter().map(String::as_str).collect();
    if wanted.is_empty() {
        return None;
    }
    let mut best: Option<(usize, usize)> = None;
    for (i, sentence) in sentences.iter().enumerate() {
        let covered: HashSet<String> = terms(sentence)
            .into_iter()
            .filter(|t| wanted.contains(t.as_str()))
            .collect();
        let n = covered.len();
        if n > 0 && best.is_none_or(|(_, m)| n > m) {
            best = Some((i, n));
        }
    }
    best.map(|(i, _)| i)
}

/// Byte ranges of `text` (the original, un-normalised text) whose terms are
/// among `query_terms`, sorted and merged (overlapping or touching ranges
/// become one). Every range starts and ends on a char boundary of `text`.
pub fn highlight_ranges(text: &str, query_terms: &[String]) -> Vec<(usize, usize)> {
    let wanted: HashSet<&str> = query_terms.iter().map(String::as_str).collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut clusters = Vec::new();
    let norm = normalize(text, Some(&mut clusters));
    let mut hits = Vec::new();
    analyze(&norm, &mut |term, start, end| {
        if wanted.contains(cap(term)) {
            hits.push(original_range(&clusters, start, end));
        }
    });
    hits.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(hits.len());
    for (s, e) in hits {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// The first [`MAX_TERM_CHARS`] chars of `term`.
fn cap(term: &str) -> &str {
    match term.char_indices().nth(MAX_TERM_CHARS) {
        Some((i, _)) => &term[..i],
        None => term,
    }
}

// ---------------------------------------------------------------------------
// Normalisation

/// Where the normalised output of one grapheme cluster of the original text
/// starts, and the cluster's byte range in the original.
#[derive(Debug, Clone, Copy)]
struct Cluster {
    norm_start: usize,
    orig_start: usize,
    orig_end: usize,
}

/// Normalise `text` cluster by cluster; when `clusters` is given, record
/// where each cluster's output starts (clusters producing no output are
/// skipped).
fn normalize(text: &str, mut clusters: Option<&mut Vec<Cluster>>) -> String {
    let mut out = String::with_capacity(text.len());
    for (start, g) in text.grapheme_indices(true) {
        let norm_start = out.len();
        normalize_cluster(g, &mut out);
        if out.len() > norm_start {
            if let Some(c) = clusters.as_deref_mut() {
                c.push(Cluster {
                    norm_start,
                    orig_start: start,
                    orig_end: start + g.len(),
                });
            }
        }
    }
    out
}

/// Map a byte range of the normalised text back to the original text.
fn original_range(clusters: &[Cluster], start: usize, end: usize) -> (usize, usize) {
    // The cluster containing a normalised byte is the last one starting at or
    // before it. `start < end` always, and byte 0 starts cluster 0.
    let find = |byte: usize| clusters.partition_point(|c| c.norm_start <= byte) - 1;
    let first = clusters[find(start)];
    let last = clusters[find(end - 1)];
    (first.orig_start, last.orig_end)
}

fn normalize_cluster(g: &str, out: &mut String) {
    if g.is_ascii() {
        out.extend(g.chars().map(|c| c.to_ascii_lowercase()));
        return;
    }
    // Whether the last base char was Latin, Greek or Cyrillic: its combining
    // marks are dropped, those of other scripts kept.
    let mut fold_marks = false;
    for c in g.nfkc() {
        for l in c.to_lowercase() {
            push_folded(l, &mut fold_marks, out);
        }
    }
}

fn push_folded(c: char, fold_marks: &mut bool, out: &mut String) {
    if is_invisible(c) {
        return;
    }
    if is_combining_mark(c) {
        if !*fold_marks {
            out.push(c);
        }
        return;
    }
    if !is_latin_greek_cyrillic(c) {
        *fold_marks = false;
        out.push(match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
            '\u{2010}' | '\u{2011}' => '-',
            c => c,
        });
        return;
    }
    *fold_marks = true;
    if c.is_ascii() {
        out.push(c);
        return;
    }
    let special = match c {
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'đ' | 'ð' => "d",
        'ł' => "l",
        'þ' => "th",
        'ħ' => "h",
        'ı' => "i",
        'ŧ' => "t",
        'ς' => "σ",
        _ => "",
    };
    if !special.is_empty() {
        out.push_str(special);
        return;
    }
    decompose_canonical(c, |d| {
        if !is_combining_mark(d) {
            out.push(d);
        }
    });
}

/// Formatting characters that never change what a word is.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                  // soft hyphen
            | '\u{0640}'            // Arabic tatweel
            | '\u{200B}'            // zero width space
            | '\u{2060}'            // word joiner
            | '\u{FEFF}'            // BOM / ZWNBSP
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{E0100}'..='\u{E01EF}'
    )
}

fn is_latin_greek_cyrillic(c: char) -> bool {
    let u = c as u32;
    let in_block = matches!(
        u,
        0x41..=0x5A
            | 0x61..=0x7A
            | 0xC0..=0x2AF      // Latin-1 letters, Extended-A/B, IPA
            | 0x370..=0x3FF     // Greek
            | 0x400..=0x52F     // Cyrillic + supplement
            | 0x1C80..=0x1C8F   // Cyrillic Extended-C
            | 0x1D00..=0x1DBF   // phonetic extensions
            | 0x1E00..=0x1FFF   // Latin Extended Additional, Greek Extended
            | 0x2C60..=0x2C7F   // Latin Extended-C
            | 0xA640..=0xA69F   // Cyrillic Extended-B
            | 0xA720..=0xA7FF   // Latin Extended-D
            | 0xAB30..=0xAB6F // Latin Extended-E
    );
    in_block && c.is_alphabetic()
}

// ---------------------------------------------------------------------------
// Segmentation

/// Scripts written without spaces, segmented by bigrams, plus `Spaced` for
/// everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Spaced,
    Cjk,
    Thai,
    Lao,
    Khmer,
    Myanmar,
}

fn run_class(c: char) -> Run {
    // Han ideographs: the one table in crate::script
    if script_of(c) == Some(Script::Han) {
        return Run::Cjk;
    }
    match c as u32 {
        // Han radicals and iteration/ideographic marks (shared punctuation
        // blocks for crate::script, but written inside Han words).
        0x2E80..=0x2FDF
        | 0x3005..=0x3007
        | 0x3021..=0x3029
        | 0x3038..=0x303B
        // Hiragana, Katakana (without ゠ and ・), phonetic extensions, kana supplements.
        | 0x3041..=0x309F
        | 0x30A1..=0x30FA
        | 0x30FC..=0x30FF
        | 0x31F0..=0x31FF
        | 0x1AFF0..=0x1B16F => Run::Cjk,
        // Letters and marks, without currency, punctuation and digits.
        0x0E01..=0x0E3A | 0x0E40..=0x0E4E => Run::Thai,
        0x0E81..=0x0ECF | 0x0EDC..=0x0EDF => Run::Lao,
        0x1780..=0x17D3 | 0x17D7 | 0x17DC | 0x17DD => Run::Khmer,
        0x1000..=0x103F | 0x1050..=0x108F | 0x109A..=0x109F | 0xA9E0..=0xA9EF | 0xA9FA..=0xA9FE
        | 0xAA60..=0xAA7F => Run::Myanmar,
        _ => Run::Spaced,
    }
}

fn is_hangul(c: char) -> bool {
    script_of(c) == Some(Script::Hangul)
}

/// Chars that belong inside a word part (everything else splits compounds).
fn is_part_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c) || c == '\u{200C}' || c == '\u{200D}'
}

/// Single-char segments that glue two words into a compound.
fn is_joiner(seg: &str) -> bool {
    matches!(seg, "-" | "_" | "." | "/" | "@" | ":" | "+" | "'")
}

fn is_word(seg: &str) -> bool {
    seg.chars().any(char::is_alphanumeric)
}

/// Emit every term of the normalised text `norm` as (term, start, end) with
/// byte offsets into `norm`. Terms are never empty; they are not yet capped.
fn analyze(norm: &str, emit: &mut dyn FnMut(&str, usize, usize)) {
    let mut run_start = 0;
    let mut run = Run::Spaced;
    for (i, c) in norm.char_indices() {
        // Combining marks and joiners continue the run they follow.
        if is_combining_mark(c) || c == '\u{200C}' || c == '\u{200D}' {
            continue;
        }
        let class = run_class(c);
        if class != run {
            emit_run(norm, run_start, i, run, emit);
            run_start = i;
            run = class;
        }
    }
    emit_run(norm, run_start, norm.len(), run, emit);
}

fn emit_run(
    norm: &str,
    start: usize,
    end: usize,
    run: Run,
    emit: &mut dyn FnMut(&str, usize, usize),
) {
    if start == end {
        return;
    }
    let text = &norm[start..end];
    if run == Run::Spaced {
        emit_spaced(text, start, emit);
    } else {
        emit_bigrams(text, start, emit);
    }
}

/// Overlapping bigrams of grapheme clusters, or the single cluster.
fn emit_bigrams(text: &str, base: usize, emit: &mut dyn FnMut(&str, usize, usize)) {
    let mut units = text.grapheme_indices(true).map(|(i, g)| (i, i + g.len()));
    let Some(mut prev) = units.next() else {
        return;
    };
    let mut single = true;
    for unit in units {
        single = false;
        emit(&text[prev.0..unit.1], base + prev.0, base + unit.1);
        prev = unit;
    }
    if single {
        emit(&text[prev.0..prev.1], base + prev.0, base + prev.1);
    }
}

fn emit_spaced(text: &str, base: usize, emit: &mut dyn FnMut(&str, usize, usize)) {
    let segs: Vec<(usize, &str)> = text.split_word_bound_indices().collect();
    let mut i = 0;
    while i < segs.len() {
        if !is_word(segs[i].1) {
            i += 1;
            continue;
        }
        let start = segs[i].0;
        let mut end = start + segs[i].1.len();
        let mut j = i + 1;
        while j + 1 < segs.len() && is_joiner(segs[j].1) && is_word(segs[j + 1].1) {
            end = segs[j + 1].0 + segs[j + 1].1.len();
            j += 2;
        }
        emit_compound(&text[start..end], base + start, emit);
        i = j;
    }
}

/// A word or compound: emitted whole when it has punctuation inside, then
/// each alphanumeric part.
fn emit_compound(word: &str, base: usize, emit: &mut dyn FnMut(&str, usize, usize)) {
    let mut parts = Vec::new();
    let mut part_start = None;
    for (i, c) in word.char_indices() {
        match (is_part_char(c), part_start) {
            (true, None) => part_start = Some(i),
            (false, Some(s)) => {
                parts.push((s, i));
                part_start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = part_start {
        parts.push((s, word.len()));
    }
    if parts.is_empty() {
        return;
    }
    if parts.len() > 1 || parts[0] != (0, word.len()) {
        emit(word, base, base + word.len());
    }
    for (s, e) in parts {
        let part = &word[s..e];
        emit(part, base + s, base + e);
        if part.chars().any(is_hangul) {
            emit_hangul(part, base + s, emit);
        }
    }
}

/// Extra terms for a part containing Hangul: its Hangul and non-Hangul
/// pieces when it mixes them, and bigrams of each Hangul piece of three or
/// more clusters (a two-cluster piece is its own bigram).
fn emit_hangul(part: &str, base: usize, emit: &mut dyn FnMut(&str, usize, usize)) {
    let mut pieces: Vec<(usize, usize, bool)> = Vec::new();
    for (i, g) in part.grapheme_indices(true) {
        let hangul = g.chars().next().is_some_and(is_hangul);
        match pieces.last_mut() {
            Some(last) if last.2 == hangul => last.1 = i + g.len(),
            _ => pieces.push((i, i + g.len(), hangul)),
        }
    }
    let mixed = pieces.len() > 1;
    for (s, e, hangul) in pieces {
        let piece = &part[s..e];
        if mixed {
            emit(piece, base + s, base + e);
        }
        if hangul && piece.graphemes(true).nth(2).is_some() {
            emit_bigrams(piece, base + s, emit);
        }
    }
}

#[cfg(test)]
mod tests {

    /// Hangul and Han are decided by one table (crate::script) for both
    /// term analysis and row order: they used to disagree on the jamo
    /// extensions (U+A960-A97F, U+D7B0-D7FF) and on where Han ends.
    #[test]
    fn hangul_and_han_agree_with_the_script_table() {
        for (c, hangul) in [
            ('\u{A960}', true),
            ('\u{D7B0}', true),
            ('한', true),
            ('\u{3131}', true),
        ] {
            assert_eq!(is_hangul(c), hangul, "{c:?}");
            assert_eq!(script_of(c), Some(Script::Hangul), "{c:?}");
        }
        for c in ['語', '\u{2A700}', '\u{30000}', '\u{3134A}'] {
            assert!(matches!(run_class(c), Run::Cjk), "{c:?}");
            assert_eq!(script_of(c), Some(Script::Han), "{c:?}");
        }
        // every Hangul char of the table is a Hangul char of the analyser, and back
        for u in 0x1000u32..0x40000 {
            if let Some(c) = char::from_u32(u) {
                assert_eq!(
                    is_hangul(c),
                    script_of(c) == Some(Script::Hangul),
                    "U+{u:04X}"
                );
                if script_of(c) == Some(Script::Han) {
                    assert!(matches!(run_class(c), Run::Cjk), "U+{u:04X}");
                }
            }
        }
    }

    use super::*;

    fn has(text: &str, term: &str) -> bool {
        terms(text).iter().any(|t| t == term)
    }

    #[test]
    fn case_and_width_are_normalised() {
        assert_eq!(terms("Hello ＷＯＲＬＤ"), vec!["hello", "world"]);
    }

    #[test]
    fn latin_greek_and_cyrillic_diacritics_are_folded() {
        assert_eq!(terms("Contraseña résumé"), vec!["contrasena", "resume"]);
        assert_eq!(terms("Straße"), vec!["strasse"]);
        assert_eq!(terms("ёлка"), vec!["елка"]);
        assert_eq!(terms("Άλφα ΟΔΟΣ"), vec!["αλφα", "οδοσ"]);
        // Decomposed input folds the same as precomposed.
        assert_eq!(terms("re\u{301}sume\u{301}"), vec!["resume"]);
        assert_eq!(terms("İstanbul"), vec!["istanbul"]);
    }

    #[test]
    fn hindi_and_arabic_terms_keep_their_marks() {
        // "नमस्ते" has a virama and a matra; "पासवर्ड" a matra and a virama.
        assert_eq!(terms("नमस्ते पासवर्ड।"), vec!["नमस्ते", "पासवर्ड"]);
        // Arabic with harakat keeps them.
        assert_eq!(terms("كَلِمَة المرور"), vec!["كَلِمَة", "المرور"]);
        // Thai tone marks survive inside bigrams.
        assert!(terms("ที่").iter().any(|t| t.contains('\u{E48}')));
    }

    #[test]
    fn error_codes_and_numbers_are_kept_whole() {
        assert_eq!(
            terms("Error E1042: HTTP 429!"),
            vec!["error", "e1042", "http", "429"]
        );
        assert_eq!(terms("v1.2"), vec!["v1.2", "v1", "2"]);
    }

    #[test]
    fn compounds_emit_whole_and_parts() {
        assert_eq!(
            terms("X-Idempotency-Key"),
            vec!["x-idempotency-key", "x", "idempotency", "key"]
        );
        assert_eq!(terms("api_token"), vec!["api_token", "api", "token"]);
        assert_eq!(terms("l’erreur"), vec!["l'erreur", "l", "erreur"]);
        // Spaced or doubled punctuation does not join.
        assert_eq!(terms("a - b"), vec!["a", "b"]);
        assert_eq!(terms("end. Next"), vec!["end", "next"]);
    }

    #[test]
    fn punctuation_and_symbols_give_no_terms() {
        assert!(terms("  ... !!! — ¿? 🙂 $ ").is_empty());
        assert!(terms("").is_empty());
    }

    #[test]
    fn cjk_runs_become_bigrams() {
        assert_eq!(terms("密码"), vec!["密码"]);
        assert_eq!(terms("重置密码"), vec!["重置", "置密", "密码"]);
        assert_eq!(terms("字"), vec!["字"]);
        // Japanese mixes scripts in one run; Latin splits it.
        assert_eq!(terms("APIキーを"), vec!["api", "キー", "ーを"]);
        // Half-width katakana is widened by NFKC.
        assert_eq!(terms("ｷｰ"), vec!["キー"]);
        // Punctuation breaks runs.
        assert_eq!(terms("密码。重置"), vec!["密码", "重置"]);
    }

    #[test]
    fn thai_runs_become_cluster_bigrams() {
        let t = terms("รหัสผ่าน");
        assert!(t.len() >= 3);
        assert!(t.iter().all(|x| x.graphemes(true).count() == 2));
    }

    #[test]
    fn korean_words_also_give_bigrams() {
        assert_eq!(
            terms("비밀번호를 재설정"),
            vec![
                "비밀번호를",
                "비밀",
                "밀번",
                "번호",
                "호를",
                "재설정",
                "재설",
                "설정"
            ]
        );
        assert_eq!(terms("API를"), vec!["api를", "api", "를"]);
        assert!(has("비밀번호를", "번호"));
    }

    #[test]
    fn long_terms_are_capped() {
        let long = "a".repeat(200);
        assert_eq!(terms(&long), vec!["a".repeat(MAX_TERM_CHARS)]);
    }

    #[test]
    fn best_sentence_prefers_most_distinct_terms_then_earlier() {
        let sentences = [
            "Reset your password.",
            "Billing and invoices.",
            "Reset the API token password.",
        ];
        let q = terms("reset api password");
        assert_eq!(best_sentence(&sentences, &q), Some(2));
        let q = terms("password");
        assert_eq!(best_sentence(&sentences, &q), Some(0));
        let q = terms("nothing");
        assert_eq!(best_sentence(&sentences, &q), None);
        assert_eq!(best_sentence(&[], &q), None);
    }

    #[test]
    fn highlights_map_to_original_bytes() {
        let text = "Ｒésumé of the X-Idempotency-Key header";
        let r = highlight_ranges(text, &terms("resume key"));
        let got: Vec<&str> = r.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(got, vec!["Ｒésumé", "Key"]);

        let text = "请重置您的密码。";
        let r = highlight_ranges(text, &terms("重置密码"));
        let got: Vec<&str> = r.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(got, vec!["重置", "密码"]);

        // Decomposed accents stay inside the highlighted range.
        let text = "un cafe\u{301} noir";
        let r = highlight_ranges(text, &terms("café"));
        assert_eq!(&text[r[0].0..r[0].1], "cafe\u{301}");
        assert!(highlight_ranges(text, &[]).is_empty());
    }
}
