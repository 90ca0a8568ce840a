//! Versioned JSON manifests (`pack.json`, a bundle's `manifest.json`) and
//! the file names they may use.

use crate::error::{Error, Result};

/// Parses a versioned JSON manifest (`{"format": ..., "version": ...}`):
/// another format is corrupt, another version is a version mismatch, and both
/// are told apart before the rest of the document is interpreted.
pub(crate) fn parse_manifest<T: serde::de::DeserializeOwned>(
    file: &str,
    bytes: &[u8],
    format: &str,
    versions: std::ops::RangeInclusive<u32>,
) -> Result<T> {
    #[derive(serde::Deserialize)]
    struct Probe {
        format: Option<String>,
        version: Option<u32>,
    }
    let probe: Probe = serde_json::from_slice(bytes)
        .map_err(|e| Error::corrupt(file, format!("not valid JSON: {e}")))?;
    if probe.format.as_deref() != Some(format) {
        return Err(Error::corrupt(
            file,
            format!("not a {format} file (format is {:?})", probe.format),
        ));
    }
    let found = probe.version.unwrap_or(0);
    if !versions.contains(&found) {
        return Err(Error::Version {
            file: file.into(),
            found,
            supported: *versions.end(),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| Error::corrupt(file, format!("bad manifest: {e}")))
}

/// Longest file name a manifest may use (bytes).
const MAX_NAME_BYTES: usize = 255;

/// Why `name` is not a plain file name inside its folder, or `None` when it
/// is one: ASCII letters, digits, `.`, `-` and `_` only, not starting with a
/// dot, at most 255 bytes.
///
/// Manifests come from a web server or a folder anyone could have written,
/// and their names are joined to a folder path natively and resolved with
/// `new URL(name, base)` in the browser, so the rule is a whitelist: it
/// shuts out schemes (`https:`, `javascript:`, drive letters), absolute
/// paths, `..` and `.` segments, percent-encoding (`%2e%2e`, `%2f`, `%5c`),
/// backslashes, control characters and whitespace (which URL parsers strip)
/// by construction. The names crossfind writes (`docs.<hash>.json`,
/// `frag-000.<hash>.json`, `encoder.bin`, `emb-000.bin`, ...) all pass.
pub fn plain_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name == "." || name == ".." {
        return Some(format!("is a `{name}` segment"));
    }
    if name.starts_with('.') {
        return Some("starts with a dot".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Some(format!("is longer than {MAX_NAME_BYTES} bytes"));
    }
    let bad = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))?;
    Some(match bad {
        ':' => "has a `:` (a URL scheme or a drive letter)".into(),
        '/' => "has a `/` (a path, not a file name)".into(),
        '\\' => "has a backslash".into(),
        '%' => "has percent-encoding (`%`)".into(),
        c if c.is_control() => format!("has the control character U+{:04X}", c as u32),
        c => format!(
            "has the character {c:?}; only ASCII letters, digits, `.`, `-` and `_` are allowed"
        ),
    })
}

/// Why `path` is not a relative path of plain names (see
/// [`plain_name_problem`]) joined by `/`, or `None` when it is one. Used for
/// folders a manifest points at (the bundle's `model.dir`, `model` today).
pub fn relative_path_problem(path: &str) -> Option<String> {
    if path.is_empty() {
        return Some("is empty".into());
    }
    if path.starts_with('/') {
        return Some("is an absolute path".into());
    }
    if path.len() > 4 * MAX_NAME_BYTES {
        return Some(format!("is longer than {} bytes", 4 * MAX_NAME_BYTES));
    }
    path.split('/').find_map(|seg| {
        plain_name_problem(seg).map(|why| format!("has a segment `{seg}` that {why}"))
    })
}

/// A file name inside a pack or bundle must be a plain name in its folder
/// ([`plain_name_problem`]).
pub(crate) fn check_relative_name(file: &str, name: &str) -> Result<()> {
    match plain_name_problem(name) {
        None => Ok(()),
        Some(why) => Err(Error::corrupt(
            file,
            format!(
                "file name {name:?} {why}: a manifest may only name plain files inside its folder"
            ),
        )),
    }
}

/// A folder a manifest points at must be a relative path inside the
/// manifest's folder ([`relative_path_problem`]).
pub(crate) fn check_relative_path(file: &str, path: &str) -> Result<()> {
    match relative_path_problem(path) {
        None => Ok(()),
        Some(why) => Err(Error::corrupt(
            file,
            format!("folder {path:?} {why}: a manifest may only point at folders inside its own"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_crossfind_writes_are_plain() {
        for name in [
            "manifest.json",
            "docs.a74b8b2d3c6c.json",
            "frag-000.b6a82bad6a4c.json",
            "encoder.bin",
            "emb-030.bin",
            "emb-blocks.bin",
            "tokenizer.json",
            "vocab.bin",
            "a..b",
        ] {
            assert_eq!(plain_name_problem(name), None, "{name}");
        }
        assert_eq!(relative_path_problem("model"), None);
        assert_eq!(relative_path_problem("packs/e5-small"), None);
    }

    #[test]
    fn names_that_leave_the_folder_say_why() {
        let why = |n: &str| plain_name_problem(n).unwrap_or_default();
        assert!(why("https://x.example/a").contains("scheme"));
        assert!(why("a/b").contains('/'));
        assert!(why("..").contains(".."));
        assert!(why("%2e%2e").contains("percent"));
        assert!(why("a\\b").contains("backslash"));
        assert!(why("a\u{7}b").contains("U+0007"));
        assert!(why("").contains("empty"));
        assert!(why(&"a".repeat(256)).contains("255"));
        for p in [
            "/model",
            "model/../x",
            "model/./x",
            "model//x",
            "model/",
            "",
        ] {
            assert!(relative_path_problem(p).is_some(), "{p:?}");
        }
    }
}
