//! Typo tolerance: a query word that neither the site nor the model knows is
//! read as the site's word one edit away.
//!
//! A misspelt word (`verlohren`, `passwrd`, `востановить`) is not in the
//! keyword index, so it matches nothing, and the encoder cuts it into
//! fragments that say little; readers' typos cost more than any other kind
//! of query (docs/multilingual.md). A word is respelt when all of these hold:
//!
//! - it is a word of letters in a script written with spaces (Latin,
//!   Cyrillic, Arabic, Devanagari, …), analysed into one term of at least
//!   [`MIN_CHARS`] characters (Han, Kana, Thai and Hangul give bigrams and
//!   are left alone);
//! - the site does not have it (the keyword index, every language);
//! - the model's vocabulary does not have it as one whole piece, as typed,
//!   lowercased or capitalised. Many correct words are missing from a
//!   small site (`quero`, `saying`, `annual` on a site that writes
//!   `anual`), and rewriting them into the site's nearest word changed
//!   their meaning; the vocabulary of 250,000 pieces knows the common
//!   words of a hundred languages, and a typo is rarely among them;
//! - a site term starts with the same two characters and is one edit away
//!   (insertion, deletion, substitution or swap of neighbours). Among
//!   several, the one in the most sections wins, then the first in byte
//!   order.
//!
//! The word is replaced by that term (as the index holds it: lowercased,
//! diacritics folded for Latin, Greek and Cyrillic) in the text that is
//! embedded and matched. Search needs the model's vocabulary for this, so a
//! keyword search before the model is loaded does not respell.

use std::borrow::Cow;
use std::ops::Range;

use unicode_normalization::char::is_combining_mark;
use unicode_segmentation::UnicodeSegmentation;

use super::lexical::LexicalIndex;
use super::text;

/// Shortest term respelt, in chars: shorter words have too many neighbours
/// one edit away.
pub const MIN_CHARS: usize = 5;
/// Unknown words looked at per query, the first in the text: a search box
/// query has a few, and a pasted page must not fetch the whole keyword
/// index for its neighbours.
pub const MAX_WORDS: usize = 8;

/// A query as search reads it after respelling.
#[derive(Clone, Debug, PartialEq)]
pub struct Respelling {
    /// The query with its respelt words replaced.
    pub text: String,
    /// Each word respelt, as typed, and what it was read as.
    pub words: Vec<(String, String)>,
}

/// A word of `text` that respelling may change: its bytes and its term.
struct Word<'a> {
    range: Range<usize>,
    surface: &'a str,
    term: String,
}

fn words(text: &str) -> Vec<Word<'_>> {
    text.split_word_bound_indices()
        .filter(|(_, w)| {
            w.chars().any(char::is_alphabetic)
                && w.chars().all(|c| c.is_alphabetic() || is_combining_mark(c))
        })
        .filter_map(|(start, w)| {
            let mut terms = text::terms(w);
            if terms.len() != 1 || terms[0].chars().count() < MIN_CHARS {
                return None;
            }
            Some(Word {
                range: start..start + w.len(),
                surface: w,
                term: terms.pop()?,
            })
        })
        .collect()
}

/// The first two characters of `term`, the range its neighbours are looked
/// for in.
fn prefix(term: &str) -> &str {
    let end = term.char_indices().nth(2).map_or(term.len(), |(i, _)| i);
    &term[..end]
}

/// How `typed` becomes `site` in one edit, as a rank among readers'
/// typos, most likely first: a doubled letter typed once (`pasword`,
/// `востановить`), two neighbours swapped (`chnage`), a letter left out
/// (`passwrd`), one too many (`verlohren`), one wrong (`تصدبر`). `None`
/// when more than one edit apart (or equal).
fn edit_rank(typed: &[char], site: &[char]) -> Option<u8> {
    let same_head = typed.iter().zip(site).take_while(|(x, y)| x == y).count();
    let i = same_head;
    if site.len() == typed.len() + 1 {
        // a letter left out: site[i] is the missing one
        if typed[i..] != site[i + 1..] {
            return None;
        }
        let doubled = (i > 0 && site[i - 1] == site[i]) || site.get(i + 1) == Some(&site[i]);
        return Some(if doubled { 0 } else { 2 });
    }
    if typed.len() == site.len() + 1 {
        // one letter too many
        return (typed[i + 1..] == site[i..]).then_some(3);
    }
    if typed.len() != site.len() || i == typed.len() {
        return None;
    }
    if i + 1 < typed.len()
        && typed[i] == site[i + 1]
        && typed[i + 1] == site[i]
        && typed[i + 2..] == site[i + 2..]
    {
        return Some(1);
    }
    (typed[i + 1..] == site[i + 1..]).then_some(4)
}

/// The words of `text` that respelling would look at now: not in the site
/// (whose piece is loaded) and not in the model's vocabulary.
fn unknown<'a>(
    index: &LexicalIndex,
    knows_word: &dyn Fn(&str) -> bool,
    text: &'a str,
) -> Vec<Word<'a>> {
    words(text)
        .into_iter()
        .filter(|w| {
            index.term_loaded(&w.term) && !index.has_term(&w.term) && !knows_word(w.surface)
        })
        .take(MAX_WORDS)
        .collect()
}

/// The lexical pieces respelling `text` may need beyond those of its own
/// terms, in order: the pieces of the prefix of each word the model's
/// vocabulary does not hold whole and the site does not have, or may not
/// have (its own piece not in yet). Asking for those with the terms' own
/// pieces saves a round trip for each query with such a word, at the cost
/// of a few pieces when the site has the word after all.
pub fn pieces_needed(
    index: &LexicalIndex,
    knows_word: &dyn Fn(&str) -> bool,
    text: &str,
) -> Vec<usize> {
    let mut want: Vec<usize> = words(text)
        .into_iter()
        .filter(|w| {
            let site_has = index.term_loaded(&w.term) && index.has_term(&w.term);
            !site_has && !knows_word(w.surface)
        })
        .take(MAX_WORDS)
        .flat_map(|w| index.missing_prefix_pieces(prefix(&w.term)))
        .collect();
    want.sort_unstable();
    want.dedup();
    want
}

/// `text` with its unknown words respelt (see the module docs); `None` when
/// no word changes. A word whose neighbours' pieces are not loaded yet is
/// left as it is ([`pieces_needed`] names them).
pub fn respell(
    index: &LexicalIndex,
    knows_word: &dyn Fn(&str) -> bool,
    text: &str,
) -> Option<Respelling> {
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut changed = Vec::new();
    for w in unknown(index, knows_word, text) {
        let p = prefix(&w.term);
        if !index.missing_prefix_pieces(p).is_empty() {
            continue;
        }
        let chars: Vec<char> = w.term.chars().collect();
        let mut best: Option<(&str, u8, usize)> = None;
        for (cand, df) in index.terms_with_prefix(p) {
            let cc: Vec<char> = cand.chars().collect();
            let Some(rank) = edit_rank(&chars, &cc) else {
                continue;
            };
            // the likeliest edit, then most sections, then byte order
            // (terms come in byte order)
            if best.is_none_or(|(_, r, d)| rank < r || (rank == r && df > d)) {
                best = Some((cand, rank, df));
            }
        }
        if let Some((term, _, _)) = best {
            out.push_str(&text[done..w.range.start]);
            out.push_str(term);
            done = w.range.end;
            changed.push((w.surface.to_string(), term.to_string()));
        }
    }
    if changed.is_empty() {
        return None;
    }
    out.push_str(&text[done..]);
    Some(Respelling {
        text: out,
        words: changed,
    })
}

/// `text` as search reads it with `encoder`'s vocabulary at hand: respelt,
/// or as it is. Native search, `crossfind eval` and the wasm engine all
/// read a query through this.
pub fn as_searched<'a>(
    index: &LexicalIndex,
    encoder: &crate::Encoder,
    text: &'a str,
) -> Cow<'a, str> {
    match respell(index, &|w| encoder.knows_word(w), text) {
        Some(r) => Cow::Owned(r.text),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::lexical::LexicalIndexBuilder;

    fn index(docs: &[&str]) -> LexicalIndex {
        let mut b = LexicalIndexBuilder::new();
        for (i, d) in docs.iter().enumerate() {
            b.add(i as u32, d);
        }
        b.finish()
    }

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn edits_rank_as_readers_typo() {
        for (typed, site, rank) in [
            ("pasword", "password", 0),
            ("востановить", "восстановить", 0),
            ("vergesen", "vergessen", 0),
            ("chnage", "change", 1),
            ("emial", "email", 1),
            ("passwrd", "password", 2),
            ("refnd", "refund", 2),
            ("rechnungn", "rechnungen", 2),
            ("verlohren", "verloren", 3),
            ("vergesen", "vergeben", 4),
            ("تصدبر", "تصدير", 4),
        ] {
            assert_eq!(
                edit_rank(&chars(typed), &chars(site)),
                Some(rank),
                "{typed} {site}"
            );
        }
        for (a, b) in [
            ("pasword", "passwords"),
            ("abcde", "badce"),
            ("cancel", "camcol"),
            ("cancel", "cancel"),
        ] {
            assert_eq!(edit_rank(&chars(a), &chars(b)), None, "{a} {b}");
        }
    }

    #[test]
    fn the_likeliest_edit_wins_then_the_word_in_most_sections() {
        // "vergeben" is in more sections, but a doubled letter typed once
        // is the likelier typo
        let idx = index(&[
            "vergeben",
            "vergeben vergeben",
            "vergeben",
            "Passwort vergessen",
        ]);
        let r = respell(&idx, &|_| false, "passwort vergesen").unwrap();
        assert_eq!(r.text, "passwort vergessen");
    }

    #[test]
    fn a_typo_is_read_as_the_site_word_and_a_known_word_is_left_alone() {
        let idx = index(&[
            "Passwort vergessen oder Handy verloren",
            "Handy verloren: Wiederherstellungscodes",
            "reset your password",
            "verlosung",
        ]);
        // the model knows "saying" and "Handy" as words; not the typos
        let vocab = ["saying", "handy", "Handy", "zwei"];
        let knows = |w: &str| vocab.contains(&w);
        let r = respell(&idx, &knows, "zwei Faktor Handy verlohren, passwrd").unwrap();
        assert_eq!(r.text, "zwei Faktor Handy verloren, password");
        assert_eq!(
            r.words,
            vec![
                ("verlohren".to_string(), "verloren".to_string()),
                ("passwrd".to_string(), "password".to_string())
            ]
        );
        // a word the vocabulary has is never rewritten, even one edit from
        // a site word; nor is one the site has, nor a short one
        assert_eq!(respell(&idx, &knows, "saying verloren handy"), None);
        assert_eq!(respell(&idx, &|_| false, "reset"), None);
        assert_eq!(respell(&idx, &|_| false, "rest"), None);
    }

    #[test]
    fn the_neighbour_in_most_sections_wins() {
        let idx = index(&["cancel", "cancel", "cancer", "cancel plan"]);
        let r = respell(&idx, &|_| false, "how to cancek").unwrap();
        assert_eq!(r.text, "how to cancel");
    }

    #[test]
    fn a_pasted_text_respells_only_its_first_unknown_words() {
        let idx = index(&["password"]);
        let q = vec!["passwrd"; 20].join(" ");
        let r = respell(&idx, &|_| false, &q).unwrap();
        assert_eq!(r.words.len(), MAX_WORDS);
        assert!(r.text.starts_with("password password"));
        assert!(r.text.ends_with("passwrd passwrd"));
    }

    #[test]
    fn scripts_without_spaces_and_mixed_tokens_are_not_respelt() {
        let idx = index(&["パスワード", "e1042 error", "密码"]);
        for q in ["パスワート", "e1043", "密碼", "errorr2"] {
            assert_eq!(respell(&idx, &|_| false, q), None, "{q}");
        }
    }
}
