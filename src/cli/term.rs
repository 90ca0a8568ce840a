//! What the command prints: text from indexed content made safe for a
//! terminal, and writes that end quietly when the reader has gone away.
//!
//! Titles, headings, snippets and URLs come from the site, so from anyone
//! who can edit a page; file names come from the folder; model names from
//! `pack.json`. Printed raw, an escape sequence among them could recolour
//! the terminal, rewrite its title, hide text or move the cursor over
//! earlier lines. [`clean`] removes escape sequences and control
//! characters (and the bidirectional overrides that reorder what is shown).

/// Writes a line to stdout. The result is an `io::Result`: callers pass it
/// on with `?`, and `main` ends quietly when stdout was closed
/// (`crossfind search … | head -1`), as command line tools do.
macro_rules! outln {
    () => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock())
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// [`outln!`] without the line break.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// Writes a line to stderr; a closed stderr is ignored (there is nobody to
/// tell), where `eprintln!` would panic.
macro_rules! errln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// A problem with what the user gave: arguments, input files, bundles or
/// packs. `main` exits with status 2 for it (and for the library's input
/// errors), 1 for every other failure, as clap already does for bad flags.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Returns a [`BadInput`] error from the current function (`bail!` for the
/// user's mistakes).
macro_rules! bad_input {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::cli::term::BadInput(format!($($arg)*))))
    };
}

pub(crate) use bad_input;
pub(crate) use errln;
pub(crate) use out;
pub(crate) use outln;

/// Whether `c` reorders or hides the text around it when displayed:
/// the bidirectional embeddings, overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// `s` without terminal escape sequences (CSI `ESC [ … final`, OSC
/// `ESC ] … BEL/ST`, DCS/SOS/PM/APC strings, two-character `ESC x`, and
/// their 8-bit C1 forms), without other control characters and bidi
/// controls. Line breaks are kept; tabs become spaces.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push('\n'),
            '\t' => out.push(' '),
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// [`clean`], and on one line: line breaks become spaces (a title cannot
/// pose as another result).
pub fn one_line(s: &str) -> String {
    clean(s).replace('\n', " ")
}

/// JSON text (as `serde_json` writes it) with the control characters it
/// leaves raw (DEL, the C1 controls such as the 8-bit CSI U+009B) and the
/// bidi controls written as `\uXXXX` escapes: the same JSON value, safe to
/// print to a terminal.
pub fn json_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() || is_bidi_control(c) {
            // serde_json already escaped U+0000..U+001F; these are all BMP
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Skips a CSI sequence: its parameter and intermediate bytes
/// (`0x20..=0x3F`) and the character that ends it (the final byte, or
/// whatever broke the sequence off).
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars>) {
    for c in chars.by_ref() {
        if !(' '..='?').contains(&c) {
            break;
        }
    }
}

/// Skips an OSC/DCS/SOS/PM/APC string up to its terminator (BEL, ST or
/// `ESC \`); an unterminated one runs to the end of the text.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m text"), "red text");
        assert_eq!(clean("a\u{1b}]0;owned title\u{7}b"), "ab");
        assert_eq!(
            clean("a\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\b"),
            "alinkb"
        );
        assert_eq!(clean("x\u{9b}2Jy"), "xy");
        assert_eq!(clean("bell\u{7} back\u{8}space\r"), "bell backspace");
        assert_eq!(clean("ok\u{202E}txt.exe"), "oktxt.exe");
        assert_eq!(clean("line\nnext\ttab"), "line\nnext tab");
        assert_eq!(one_line("Title\n 2. fake"), "Title  2. fake");
        assert_eq!(clean("Contraseña パスワード"), "Contraseña パスワード");
        assert_eq!(clean("cut\u{1b}["), "cut");
        let json = serde_json::to_string("a\u{1b}b\u{9b}c\u{202e}d").unwrap();
        let safe = json_safe(&json);
        assert!(
            !safe.chars().any(|c| c.is_control() || is_bidi_control(c)),
            "{safe}"
        );
        assert_eq!(
            serde_json::from_str::<String>(&safe).unwrap(),
            "a\u{1b}b\u{9b}c\u{202e}d"
        );
    }
}
