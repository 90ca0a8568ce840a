//! Page URLs given by the input (the JSONL `url` field, `url` / `permalink`
//! in Markdown front matter). The widget turns them into links, so a URL
//! that is not a plain link to a page would run or go somewhere when a
//! reader opens the result: `javascript:alert(1)` runs script in the site's
//! origin, `//evil.example/` leaves the site. Only relative URLs and
//! `http(s)://host/...` URLs pass; the widget checks again that the link
//! stays on the site's own origin.
//!
//! The check reads the URL as a browser does (WHATWG URL standard):
//! leading and trailing C0 controls and spaces are dropped and tabs and
//! newlines are removed everywhere before the scheme is looked at, so
//! `" java\tscript:alert(1)"` is the `javascript:` URL it is in a browser.

/// The URL as a browser's parser sees it: C0 controls and spaces stripped
/// from both ends, ASCII tabs and newlines removed everywhere.
pub(super) fn browser_normalized(raw: &str) -> String {
    raw.trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// The scheme of `url` (lowercased) when it has one: an ASCII letter, then
/// letters, digits, `+`, `-` or `.`, then `:`. `1x:y` and `a b:c` have none,
/// for a browser they are relative paths.
fn scheme_of(url: &str) -> Option<String> {
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then(|| scheme.to_ascii_lowercase())
}

/// Checks a page URL from the input: `Ok` with the URL as the browser reads
/// it (see [`browser_normalized`]) when it is a relative URL or an
/// `http(s)://host/...` URL, `Err` with the reason otherwise.
pub(super) fn check_page_url(raw: &str) -> Result<String, String> {
    let url = browser_normalized(raw);
    if url.is_empty() {
        return Err("is empty".into());
    }
    if url.chars().any(|c| c.is_ascii_control()) {
        return Err("contains control characters".into());
    }
    if let Some(scheme) = scheme_of(&url) {
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "has the scheme `{scheme}:`; only relative URLs and http(s) URLs are linked"
            ));
        }
        // Browsers also read `https:evil.example` and `https:\\evil.example`
        // as a host; only the plain form passes.
        let rest = &url[scheme.len() + 1..];
        let host_starts = rest
            .strip_prefix("//")
            .and_then(|r| r.chars().next())
            .is_some_and(|c| !matches!(c, '/' | '\\' | '?' | '#'));
        if !host_starts || rest.contains('\\') {
            return Err(format!("is not a plain {scheme}://host/... URL"));
        }
        return Ok(url);
    }
    // For a browser on an http(s) page, `\` in a relative URL is `/`:
    // `//host`, `\\host`, `/\host` and `\/host` all name another host.
    let mut lead = url.chars().take(2);
    let slash = |c: Option<char>| matches!(c, Some('/' | '\\'));
    if slash(lead.next()) && slash(lead.next()) {
        return Err(
            "starts with `//` (another host); give a path on the site or an http(s) URL".into(),
        );
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::{read_input, Corpus};
    use super::*;

    #[test]
    fn relative_and_http_urls_pass() {
        for (raw, want) in [
            ("/es/reset.html", "/es/reset.html"),
            ("es/reset.html#before", "es/reset.html#before"),
            ("../up.html", "../up.html"),
            ("?q=1", "?q=1"),
            ("#top", "#top"),
            ("reset", "reset"),
            ("https://docs.example.com/a", "https://docs.example.com/a"),
            ("HTTP://docs.example.com", "HTTP://docs.example.com"),
            ("  /a b.html\n", "/a b.html"),
            // not schemes for a browser either: relative paths
            ("1x:y.html", "1x:y.html"),
            ("a b:c", "a b:c"),
            ("%6Aavascript:alert(1)", "%6Aavascript:alert(1)"),
            ("javascript&colon;alert(1)", "javascript&colon;alert(1)"),
            ("/x/javascript:alert(1)", "/x/javascript:alert(1)"),
        ] {
            assert_eq!(check_page_url(raw).as_deref(), Ok(want), "{raw:?}");
        }
    }

    #[test]
    fn scripts_other_schemes_and_other_hosts_are_refused() {
        for raw in [
            "javascript:alert(document.cookie)",
            "JavaScript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}\u{0} javascript:alert(1)",
            " \x0bjavascript:alert(1)",
            "jav\rascript:alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "mailto:a@example.com",
            "//evil.example/x",
            "\\\\evil.example/x",
            "/\\evil.example/x",
            "\\/evil.example/x",
            " //evil.example",
            "\t/\t/evil.example",
            "https:evil.example",
            "https:\\\\evil.example",
            "https:/\\evil.example",
            "https:///evil.example",
            "https://",
            "http://evil.example\\@good.example",
            "/a\u{0}b",
            "",
            " \t\n",
        ] {
            let got = check_page_url(raw);
            assert!(got.is_err(), "{raw:?} passed as {got:?}");
        }
        assert_eq!(
            check_page_url("java\tscript:alert(1)").unwrap_err(),
            "has the scheme `javascript:`; only relative URLs and http(s) URLs are linked"
        );
    }

    fn read(name: &str, files: &[(&str, &str)]) -> Corpus {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        read_input(&dir.path().join(name)).unwrap()
    }

    #[test]
    fn jsonl_pages_with_unsafe_urls_are_skipped_with_a_warning() {
        let line = |id: &str, url: Option<&str>| {
            let mut v = serde_json::json!({"id": id, "lang": "en", "title": id, "text": "Reset your password by email."});
            if let Some(u) = url {
                v["url"] = u.into();
            }
            v.to_string()
        };
        let jsonl = [
            line("ok", Some("/en/ok.html")),
            line("abs", Some("https://docs.example.com/abs")),
            line("js", Some("javascript:alert(document.cookie)")),
            line("tab", Some("java\tscript:alert(1)")),
            line("data", Some("data:text/html,<script>alert(1)</script>")),
            line("vb", Some("vbscript:msgbox(1)")),
            line("proto", Some("//evil.example/x")),
            // no url: the id is the url, and is checked as one
            line("javascript:alert(2)", None),
            line("spaced", Some("  /en/spaced.html ")),
        ]
        .join("\n");
        let c = read("site.jsonl", &[("site.jsonl", &jsonl)]);
        let urls: Vec<(&str, &str)> = c
            .pages
            .iter()
            .map(|p| (p.id.as_str(), p.url.as_str()))
            .collect();
        assert_eq!(
            urls,
            vec![
                ("ok", "/en/ok.html"),
                ("abs", "https://docs.example.com/abs"),
                ("spaced", "/en/spaced.html"),
            ]
        );
        let w = |line: usize| {
            c.warnings
                .iter()
                .filter(|w| w.file == format!("site.jsonl:{line}"))
                .map(|w| w.message.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            w(3),
            vec!["skipped line 3 (id \"js\"): its \"url\" \"javascript:alert(document.cookie)\" has the scheme `javascript:`; only relative URLs and http(s) URLs are linked"]
        );
        for line in [4, 5, 6, 7] {
            assert!(
                w(line).len() == 1 && w(line)[0].starts_with(&format!("skipped line {line} ")),
                "{:?}",
                w(line)
            );
        }
        // the control character is shown escaped, not sent to the terminal
        assert!(w(4)[0].contains(r#""java\tscript:alert(1)""#), "{:?}", w(4));
        assert!(
            w(8).iter().any(|m| m.starts_with("skipped line 8")),
            "{:?}",
            w(8)
        );
    }

    #[test]
    fn markdown_front_matter_urls_that_are_unsafe_fall_back_to_the_file_url() {
        let md = |url: &str| {
            format!(
                "---\ntitle: Reset\nlang: en\nurl: {url}\n---\n\nReset your password by email.\n"
            )
        };
        let c = read(
            "docs",
            &[
                ("docs/ok.md", &md("/en/reset/")),
                ("docs/js.md", &md("javascript:alert(document.cookie)")),
                ("docs/tab.md", &md("java\tscript:alert(1)")),
                ("docs/proto.md", &md("//evil.example/x")),
                (
                    "docs/perma.md",
                    "---\ntitle: P\nlang: en\npermalink: vbscript:msgbox(1)\n---\n\nText of the page.\n",
                ),
            ],
        );
        let url = |id: &str| c.pages.iter().find(|p| p.id == id).unwrap().url.as_str();
        assert_eq!(url("ok"), "/en/reset/");
        assert_eq!(url("js"), "/js.html");
        assert_eq!(url("tab"), "/tab.html");
        assert_eq!(url("proto"), "/proto.html");
        assert_eq!(url("perma"), "/perma.html");
        let w = |file: &str| {
            c.warnings
                .iter()
                .filter(|w| w.file == file)
                .map(|w| w.message.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            w("js.md"),
            vec!["the front matter url \"javascript:alert(document.cookie)\" has the scheme `javascript:`; only relative URLs and http(s) URLs are linked; linking to /js.html instead"]
        );
        for f in ["tab.md", "proto.md", "perma.md"] {
            assert_eq!(w(f).len(), 1, "{f}: {:?}", w(f));
        }
        assert!(w("ok.md").is_empty(), "{:?}", w("ok.md"));
    }
}
