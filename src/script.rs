//! Writing systems, by fixed code point ranges.
//!
//! Two users: the language detector of `ingest` (which script a page is
//! written in) and the model pack's row order (which embedding rows a site's
//! languages need, `model::roworder`). The table is our own and does not
//! follow the Unicode version of the compiler: the row order computed from it
//! at import must be the one computed at load, years and toolchains later.

/// A writing system the detector and the row order tell apart.
#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord, Hash)]
pub enum Script {
    Latin,
    Cyrillic,
    Greek,
    Armenian,
    Hebrew,
    Arabic,
    Devanagari,
    Bengali,
    Gurmukhi,
    Gujarati,
    Oriya,
    Tamil,
    Telugu,
    Kannada,
    Malayalam,
    Sinhala,
    Thai,
    Lao,
    Tibetan,
    Myanmar,
    Georgian,
    Hangul,
    Ethiopic,
    Khmer,
    Kana,
    Han,
}

pub const SCRIPTS: [Script; 26] = [
    Script::Latin,
    Script::Cyrillic,
    Script::Greek,
    Script::Armenian,
    Script::Hebrew,
    Script::Arabic,
    Script::Devanagari,
    Script::Bengali,
    Script::Gurmukhi,
    Script::Gujarati,
    Script::Oriya,
    Script::Tamil,
    Script::Telugu,
    Script::Kannada,
    Script::Malayalam,
    Script::Sinhala,
    Script::Thai,
    Script::Lao,
    Script::Tibetan,
    Script::Myanmar,
    Script::Georgian,
    Script::Hangul,
    Script::Ethiopic,
    Script::Khmer,
    Script::Kana,
    Script::Han,
];

/// The script whose block holds `c`: letters, and also the digits, signs
/// and punctuation of that block. `None` for everything else (ASCII digits
/// and punctuation, symbols, emoji, and scripts not listed).
pub fn script_of(c: char) -> Option<Script> {
    let u = c as u32;
    Some(match u {
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x24F | 0x1E00..=0x1EFF => {
            Script::Latin
        }
        0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
        0x400..=0x52F => Script::Cyrillic,
        0x530..=0x58F => Script::Armenian,
        0x590..=0x5FF => Script::Hebrew,
        0x600..=0x6FF | 0x750..=0x77F | 0x8A0..=0x8FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFE => {
            Script::Arabic
        }
        0x900..=0x97F => Script::Devanagari,
        0x980..=0x9FF => Script::Bengali,
        0xA00..=0xA7F => Script::Gurmukhi,
        0xA80..=0xAFF => Script::Gujarati,
        0xB00..=0xB7F => Script::Oriya,
        0xB80..=0xBFF => Script::Tamil,
        0xC00..=0xC7F => Script::Telugu,
        0xC80..=0xCFF => Script::Kannada,
        0xD00..=0xD7F => Script::Malayalam,
        0xD80..=0xDFF => Script::Sinhala,
        0xE00..=0xE7F => Script::Thai,
        0xE80..=0xEFF => Script::Lao,
        0xF00..=0xFFF => Script::Tibetan,
        0x1000..=0x109F => Script::Myanmar,
        0x10A0..=0x10FF => Script::Georgian,
        // jamo, compatibility jamo, jamo extended-A, syllables, jamo extended-B
        0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7FF => Script::Hangul,
        0x1200..=0x139F => Script::Ethiopic,
        0x1780..=0x17FF => Script::Khmer,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Script::Kana,
        // ideographs, extension A, compatibility ideographs, and planes 2-3
        // (extensions B-I and the supplements)
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF => Script::Han,
        _ => return None,
    })
}

/// Characters every script shares: ASCII digits and punctuation, the
/// Latin-1 signs, combining accents, general punctuation, currency, letter-
/// like symbols, arrows, maths, box drawing and block elements (SentencePiece's
/// word mark `▁` is one), CJK punctuation, full-width ASCII and emoji.
pub fn is_shared(c: char) -> bool {
    let u = c as u32;
    matches!(u,
        0x00..=0x40 | 0x5B..=0x60 | 0x7B..=0xBF | 0xD7 | 0xF7
        | 0x2B0..=0x36F
        | 0x2000..=0x2BFF
        | 0x3000..=0x303F
        | 0xFE00..=0xFE0F | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF65
        | 0x1F000..=0x1FAFF)
}

/// ISO 639-1 codes (plus a few 639-2/3 codes used on the web) accepted as a
/// language in a URL path segment such as `/es/` or `/pt-br/`.
#[cfg(not(target_arch = "wasm32"))]
pub const KNOWN_LANGUAGES: &[&str] = &[
    "af", "am", "ar", "as", "az", "be", "bg", "bn", "bo", "bs", "ca", "ceb", "cs", "cy", "da",
    "de", "el", "en", "eo", "es", "et", "eu", "fa", "fi", "fil", "fr", "ga", "gl", "gu", "ha",
    "he", "hi", "hr", "ht", "hu", "hy", "id", "ig", "is", "it", "ja", "jv", "ka", "kk", "km", "kn",
    "ko", "ku", "ky", "la", "lb", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt",
    "my", "nb", "ne", "nl", "nn", "no", "ny", "or", "pa", "pl", "ps", "pt", "ro", "ru", "rw", "sd",
    "si", "sk", "sl", "sm", "sn", "so", "sq", "sr", "st", "su", "sv", "sw", "ta", "te", "tg", "th",
    "tk", "tl", "tr", "tt", "ug", "uk", "ur", "uz", "vi", "xh", "yi", "yo", "yue", "zh", "zu",
];

/// The scripts readers of language `lang` (a lowercase ISO 639 code) type
/// in; `None` for a language this table does not know.
#[cfg(not(target_arch = "wasm32"))]
pub fn scripts_of_language(lang: &str) -> Option<&'static [Script]> {
    use Script::*;
    Some(match lang {
        "be" | "bg" | "kk" | "ky" | "mk" | "mn" | "ru" | "tg" | "tt" | "uk" => &[Cyrillic],
        "sr" | "uz" => &[Cyrillic, Latin],
        "el" => &[Greek],
        "hy" => &[Armenian],
        "he" | "yi" => &[Hebrew],
        "ar" | "fa" | "ps" | "sd" | "ug" | "ur" => &[Arabic],
        "ku" => &[Arabic, Latin],
        "hi" | "mr" | "ne" => &[Devanagari],
        "bn" | "as" => &[Bengali],
        "pa" => &[Gurmukhi],
        "gu" => &[Gujarati],
        "or" => &[Oriya],
        "ta" => &[Tamil],
        "te" => &[Telugu],
        "kn" => &[Kannada],
        "ml" => &[Malayalam],
        "si" => &[Sinhala],
        "th" => &[Thai],
        "lo" => &[Lao],
        "bo" => &[Tibetan],
        "my" => &[Myanmar],
        "ka" => &[Georgian],
        "ko" => &[Hangul],
        "am" => &[Ethiopic],
        "km" => &[Khmer],
        "ja" => &[Kana, Han],
        "zh" | "yue" => &[Han],
        // every other language crossfind knows is written in Latin letters
        _ if KNOWN_LANGUAGES.contains(&lang) => &[Latin],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_fall_in_their_scripts() {
        assert_eq!(script_of('é'), Some(Script::Latin));
        assert_eq!(script_of('ж'), Some(Script::Cyrillic));
        assert_eq!(script_of('あ'), Some(Script::Kana));
        assert_eq!(script_of('語'), Some(Script::Han));
        assert_eq!(script_of('한'), Some(Script::Hangul));
        assert_eq!(script_of('×'), None);
        assert_eq!(script_of('7'), None);
        for c in ['7', '-', '▁', '€', '。', '！', '😀', '\u{301}'] {
            assert!(is_shared(c), "{c:?}");
        }
        for c in ['a', 'é', 'ж', 'あ', 'ß'] {
            assert!(!is_shared(c), "{c:?}");
        }
    }
}
