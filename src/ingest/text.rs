//! Plain-text helpers shared by the HTML, Markdown and JSONL readers:
//! whitespace normalisation, paragraph assembly, heading slugs and the
//! multilingual sentence splitter.

/// Characters that carry no text and are dropped outright (zero-width space,
/// BOM / zero-width no-break space, soft hyphen, word joiner). ZWJ and ZWNJ
/// are kept: Persian and Indic scripts need them.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{00AD}' | '\u{2060}')
}

/// Collapses every run of whitespace (including no-break spaces) into one
/// space, drops invisible characters and trims both ends.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending = !out.is_empty();
        } else if !is_invisible(c) {
            if pending {
                out.push(' ');
                pending = false;
            }
            out.push(c);
        }
    }
    out
}

/// Builds whitespace-normalised text out of pieces: inline text is joined
/// as HTML renders it (runs of whitespace become one space), and
/// [`TextBuilder::paragraph_break`] starts a new line.
#[derive(Default)]
pub struct TextBuilder {
    lines: Vec<String>,
    current: String,
    pending_space: bool,
}

impl TextBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends inline text; whitespace collapses with what came before.
    pub fn push_inline(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() {
                if !self.current.is_empty() {
                    self.pending_space = true;
                }
            } else if !is_invisible(c) {
                if self.pending_space {
                    self.current.push(' ');
                    self.pending_space = false;
                }
                self.current.push(c);
            }
        }
    }

    /// Appends a separator (e.g. between table cells) only if the current
    /// line already has text.
    pub fn push_separator(&mut self, sep: &str) {
        if !self.current.is_empty() {
            self.current.push_str(sep);
            self.pending_space = false;
        }
    }

    /// Ends the current paragraph (no-op when it is empty).
    pub fn paragraph_break(&mut self) {
        if !self.current.is_empty() {
            let line = std::mem::take(&mut self.current);
            self.lines.push(line);
        }
        self.pending_space = false;
    }

    /// Appends preformatted text (code): each non-blank line becomes its own
    /// whitespace-normalised line.
    pub fn push_preformatted(&mut self, s: &str) {
        self.paragraph_break();
        for line in s.lines() {
            let line = collapse_whitespace(line);
            if !line.is_empty() {
                self.lines.push(line);
            }
        }
    }

    /// The text so far, paragraphs separated by `\n`; the builder is reset.
    pub fn take(&mut self) -> String {
        self.paragraph_break();
        let text = self.lines.join("\n");
        self.lines.clear();
        text
    }
}

/// A URL fragment made from heading text, in the style GitHub and most
/// static site generators use: lowercase, letters and digits of any script
/// kept, spaces and hyphens become `-`, other punctuation dropped.
pub fn slugify(text: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else if c.is_whitespace() || c == '-' {
            dash = true;
        }
    }
    if out.is_empty() {
        out.push_str("section");
    }
    out
}

/// Decodes `%XX` escapes (invalid sequences are kept as they are).
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes the characters that cannot appear literally in a URL path
/// (space, `%`, `#`, `?`, quotes, angle brackets, control characters).
/// Non-ASCII letters are left as they are; browsers accept them.
pub fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' | '%' | '#' | '?' | '"' | '<' | '>' | '`' | '{' | '}' | '\\' | '^' | '|' => {
                out.push_str(&format!("%{:02X}", c as u32))
            }
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

// ------------------------------------------------------------ sentences

/// Terminators that always end a sentence (CJK full stops, danda, Arabic
/// question mark, Urdu full stop): these scripts do not put a space after
/// them.
fn is_strong_terminator(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '．' | '।' | '॥' | '؟' | '۔' | '｡')
}

/// Terminators that end a sentence only when whitespace (or the end of the
/// text) follows.
fn is_weak_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '‼' | '⁇')
}

/// Closing quotes and brackets that stay with the sentence they close.
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '”'
            | '’'
            | '»'
            | '›'
            | ')'
            | ']'
            | '}'
            | '」'
            | '』'
            | '）'
            | '】'
            | '〕'
            | '〉'
            | '》'
            | '］'
    )
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// Abbreviations after which a `.` does not end a sentence (lowercase,
/// without the final dot).
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "sra", "srta", "jr", "st", "vs", "cf", "approx", "fig",
    "figs", "nr", "inc", "ltd", "corp", "dept", "vol", "pp", "resp", "incl", "excl", "dra", "ud",
    "uds", "bzw", "ggf", "vgl", "evtl", "inkl", "mme", "mlle",
];

/// Abbreviations that usually end a sentence when a capital letter follows.
const SOFT_ABBREVIATIONS: &[&str] = &["etc", "usw"];

/// Splits text into sentences on `. ! ? 。 ！ ？ ． । ؟ ۔` and line breaks.
///
/// The punctuation stays with its sentence, pieces are trimmed and empty
/// pieces are dropped. A `.` only ends a sentence when whitespace follows
/// and it does not close a decimal (`1.5`), an abbreviation (`e.g.`, `Dr.`),
/// a list number at the start of a line (`1.`) or precede a lowercase word.
pub fn split_sentences(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut i = 0usize;
    fn push<'a>(out: &mut Vec<&'a str>, piece: &'a str) {
        let t = piece.trim();
        if !t.is_empty() {
            out.push(t);
        }
    }
    while i < n {
        let (pos, c) = chars[i];
        if is_line_break(c) {
            push(&mut out, &text[start..pos]);
            start = pos + c.len_utf8();
            i += 1;
            continue;
        }
        if !(is_strong_terminator(c) || is_weak_terminator(c)) {
            i += 1;
            continue;
        }
        // The whole run of terminators, then closing quotes and brackets.
        let mut j = i + 1;
        let mut strong = is_strong_terminator(c);
        while j < n && (is_strong_terminator(chars[j].1) || is_weak_terminator(chars[j].1)) {
            strong |= is_strong_terminator(chars[j].1);
            j += 1;
        }
        let run_end = j;
        while j < n && is_closer(chars[j].1) {
            j += 1;
        }
        let end = if j < n { chars[j].0 } else { text.len() };
        let split = if strong {
            true
        } else {
            let followed_by_space = j >= n || chars[j].1.is_whitespace();
            let lone_dot = c == '.' && run_end == i + 1 && j == run_end;
            followed_by_space && !(lone_dot && dot_continues(text, start, pos, &chars[j..]))
        };
        if split {
            push(&mut out, &text[start..end]);
            start = end;
        }
        i = j;
    }
    push(&mut out, &text[start..]);
    out
}

/// Whether the lone `.` at byte `dot` (in the sentence starting at byte
/// `start`) is part of an abbreviation or list number rather than the end of
/// a sentence. `rest` are the characters after the dot.
fn dot_continues(text: &str, start: usize, dot: usize, rest: &[(usize, char)]) -> bool {
    let before = &text[start..dot];
    let token = before
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("")
        .trim_start_matches(|c: char| "([{\"'“‘«¿¡".contains(c));
    let next = rest.iter().map(|&(_, c)| c).find(|c| !c.is_whitespace());
    let next_lower = next.is_some_and(|c| c.is_lowercase());
    let next_upper = next.is_some_and(|c| c.is_uppercase());
    if token.is_empty() {
        return false;
    }
    // "1." at the start of a line: a list number.
    if token.chars().all(|c| c.is_ascii_digit()) && before.trim() == token {
        return true;
    }
    let lower = token.to_lowercase();
    // "e.g", "i.e", "U.S", "z.B": dotted short segments.
    if token.contains('.')
        && token.split('.').all(|seg| {
            !seg.is_empty() && seg.chars().count() <= 2 && seg.chars().all(char::is_alphabetic)
        })
    {
        return !next_upper || lower.len() <= 3;
    }
    if SOFT_ABBREVIATIONS.contains(&lower.as_str()) {
        return !next_upper;
    }
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    // A single letter ("J. Smith", "option a. or b.").
    if token.chars().count() == 1 && token.chars().all(char::is_alphabetic) {
        return true;
    }
    // A lowercase word after a short or mixed-case token ("approx. five",
    // "USt-IdNr. hinterlegen"): an abbreviation, the sentence goes on. After
    // an ordinary word ("is false. has_more ...") it is a new sentence that
    // starts with an identifier.
    let abbreviation_like =
        token.chars().count() <= 4 || token.chars().skip(1).any(char::is_uppercase);
    next_lower && abbreviation_like
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_whitespace_normalises_runs_and_invisibles() {
        assert_eq!(collapse_whitespace("  a \t\u{a0} b\u{200b}c \n"), "a bc");
    }

    #[test]
    fn text_builder_joins_inline_and_breaks_paragraphs() {
        let mut b = TextBuilder::new();
        b.push_inline("  Hello ");
        b.push_inline(" world");
        b.paragraph_break();
        b.paragraph_break();
        b.push_inline("next");
        b.push_preformatted("  let x = 1;\n\n  let y = 2;  \n");
        assert_eq!(b.take(), "Hello world\nnext\nlet x = 1;\nlet y = 2;");
        assert_eq!(b.take(), "");
    }

    #[test]
    fn slugify_keeps_letters_of_any_script() {
        assert_eq!(slugify("Before you start!"), "before-you-start");
        assert_eq!(slugify("  Étape 2 : choisir  "), "étape-2-choisir");
        assert_eq!(slugify("パスワードの再設定"), "パスワードの再設定");
        assert_eq!(slugify("¶"), "section");
    }

    #[test]
    fn percent_decoding_and_encoding_round_trip() {
        assert_eq!(percent_decode("/a%20b/%E6%97%A5.html"), "/a b/日.html");
        assert_eq!(percent_decode("/bad%zz%"), "/bad%zz%");
        assert_eq!(encode_path("/a b/c#d.html"), "/a%20b/c%23d.html");
    }

    #[test]
    fn sentences_english() {
        let s = split_sentences(
            "Open Settings, e.g. the gear icon. Version 1.5 is out! Is it? Yes.\nNext line",
        );
        assert_eq!(
            s,
            vec![
                "Open Settings, e.g. the gear icon.",
                "Version 1.5 is out!",
                "Is it?",
                "Yes.",
                "Next line"
            ]
        );
    }

    #[test]
    fn sentences_english_edge_cases() {
        let s = split_sentences("1. Open the page. Dr. Smith said \"hi.\" Then i.e. stop. Mail no-reply@kitebook.example. Done...");
        assert_eq!(
            s,
            vec![
                "1. Open the page.",
                "Dr. Smith said \"hi.\"",
                "Then i.e. stop.",
                "Mail no-reply@kitebook.example.",
                "Done..."
            ]
        );
        assert_eq!(
            split_sentences("Stop when has_more is false. has_more is then null. Die USt-IdNr. hinterlegen, ca. fünf."),
            vec!["Stop when has_more is false.", "has_more is then null.", "Die USt-IdNr. hinterlegen, ca. fünf."]
        );
        assert!(split_sentences("   \n \n").is_empty());
        assert_eq!(split_sentences("no terminator"), vec!["no terminator"]);
    }

    #[test]
    fn sentences_japanese_and_chinese() {
        let s = split_sentences("パスワードを忘れましたか？「設定」を開きます。完了です！");
        assert_eq!(
            s,
            vec![
                "パスワードを忘れましたか？",
                "「設定」を開きます。",
                "完了です！"
            ]
        );
        let s = split_sentences("打开设置。点击保存．好");
        assert_eq!(s, vec!["打开设置。", "点击保存．", "好"]);
    }

    #[test]
    fn sentences_hindi_and_arabic() {
        let s = split_sentences("पासवर्ड भूल गए? कोई बात नहीं। लिंक 30 मिनट में समाप्त होता है।");
        assert_eq!(
            s,
            vec![
                "पासवर्ड भूल गए?",
                "कोई बात नहीं।",
                "लिंक 30 मिनट में समाप्त होता है।"
            ]
        );
        let s = split_sentences("نسيت كلمة المرور؟ لا داعي للقلق. افتح الرابط خلال 30 دقيقة.");
        assert_eq!(
            s,
            vec![
                "نسيت كلمة المرور؟",
                "لا داعي للقلق.",
                "افتح الرابط خلال 30 دقيقة."
            ]
        );
        let s = split_sentences("یہ پہلا جملہ ہے۔ یہ دوسرا ہے۔");
        assert_eq!(s, vec!["یہ پہلا جملہ ہے۔", "یہ دوسرا ہے۔"]);
    }
}
