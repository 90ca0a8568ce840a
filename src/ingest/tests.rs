//! Reading the fixture sites under `tests/fixtures/sites/` as a user would
//! point crossfind at them.

use std::path::{Path, PathBuf};

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sites")
        .join(name)
}

fn tiny() -> Corpus {
    read_input(&fixture("tiny")).expect("tiny site reads")
}

fn page<'a>(c: &'a Corpus, id: &str) -> &'a Page {
    c.pages
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no page {id}; have {:?}", ids(c)))
}

fn ids(c: &Corpus) -> Vec<&str> {
    c.pages.iter().map(|p| p.id.as_str()).collect()
}

fn all_text(p: &Page) -> String {
    p.sections
        .iter()
        .map(|s| format!("{}\n{}", s.heading, s.text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The warnings for one file.
fn warnings_for<'a>(c: &'a Corpus, file: &str) -> Vec<&'a str> {
    c.warnings
        .iter()
        .filter(|w| w.file == file)
        .map(|w| w.message.as_str())
        .collect()
}

#[test]
fn html_site_reads_the_good_pages_and_skips_the_bad_ones() {
    let c = tiny();
    assert_eq!(
        ids(&c),
        vec![
            "/en/reset-password",
            "/es/facturas",
            "/es/reset-password",
            "/fr/compte",
            "/ja/reset-password",
            "/malformed",
            "/xss",
        ]
    );
    let has = |file: &str, needle: &str| {
        let ws = warnings_for(&c, file);
        assert!(
            ws.iter().any(|m| m.contains(needle)),
            "{file}: no warning containing {needle:?} in {ws:?}"
        );
    };
    has("x.html", "binary");
    has("empty.html", "no text");
    has("es/facturas.htm", "duplicate page id `/es/facturas`");
    has("404.html", "note: skipped: a 404");
    has("noindex.html", "noindex");
    has("index.html", "list of links");
    has(".", "both HTML (13) and Markdown (1)");
    // Files that are not HTML are ignored without a word.
    assert!(warnings_for(&c, "site.css").is_empty());
    // The kept copy of the duplicate is the .html one.
    assert_eq!(page(&c, "/es/facturas").url, "/es/facturas.html");
    assert_eq!(page(&c, "/es/facturas").source, "es/facturas.html");
}

// Found by the `html` fuzz target: a page without <title> or <h1> is named
// after its file, but its breadcrumbs started with an empty title.
#[test]
fn html_page_without_a_title_starts_its_breadcrumbs_with_the_file_name() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("setup-guide.html"),
        "<html lang=en><body><p>Intro text.</p><h2>Install</h2><p>Run it.</p><h2>setup guide</h2><p>Again.</p></body></html>",
    )
    .unwrap();
    let c = read_input(&tmp.path().join("setup-guide.html")).unwrap();
    let p = &c.pages[0];
    assert_eq!(p.title, "setup guide");
    let paths: Vec<&Vec<String>> = p.sections.iter().map(|s| &s.title_path).collect();
    assert_eq!(
        paths,
        [
            &vec!["setup guide".to_string()],
            &vec!["setup guide".to_string(), "Install".to_string()],
            // a heading that repeats the title is not repeated
            &vec!["setup guide".to_string()],
        ]
    );
}

#[test]
fn html_sections_have_anchors_headings_and_breadcrumbs() {
    let c = tiny();
    let p = page(&c, "/en/reset-password");
    assert_eq!(p.title, "Reset your password");
    assert_eq!(p.url, "/en/reset-password.html");
    let got: Vec<(Option<&str>, bool, &str)> = p
        .sections
        .iter()
        .map(|s| (s.anchor.as_deref(), s.anchor_synthetic, s.heading.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (None, false, ""),
            (Some("before-you-start"), false, "Before you start"),
            (Some("request-a-link"), false, "Request a reset link"),
            (Some("from-the-cli"), false, "From the command line"),
            (Some("no-email"), false, "If the email does not arrive"),
            (Some("still-stuck"), true, "Still stuck?"),
        ]
    );
    assert_eq!(
        p.sections[3].title_path,
        vec![
            "Reset your password",
            "Request a reset link",
            "From the command line"
        ]
    );
    assert_eq!(
        p.sections[4].title_path,
        vec!["Reset your password", "If the email does not arrive"]
    );
    assert_eq!(p.sections[0].title_path, vec!["Reset your password"]);
    assert_eq!(
        p.sections[1].text,
        "The reset link expires after 30 minutes.\nYou can ask for at most 5 links per hour."
    );
    // Code is kept line by line.
    assert_eq!(
        p.sections[3].text,
        "kite auth reset --email you@example.com\nkite auth status"
    );
    // Two headings with the same text get distinct slugs.
    let fr = page(&c, "/fr/compte");
    let anchors: Vec<_> = fr.sections.iter().map(|s| s.anchor.clone()).collect();
    assert_eq!(
        anchors,
        vec![
            None,
            Some("avant-de-supprimer".to_string()),
            Some("avant-de-supprimer-1".to_string())
        ]
    );
}

#[test]
fn html_page_chrome_and_ignored_blocks_are_not_text() {
    let c = tiny();
    let text: String = c.pages.iter().map(all_text).collect::<Vec<_>>().join("\n");
    for noise in [
        "NAV-NOISE",
        "HEADER-NOISE",
        "FOOTER-NOISE",
        "ASIDE-NOISE",
        "IGNORED-NOISE",
        "SCRIPT-NOISE",
        "BUTTON-NOISE",
        "FORM-NOISE",
        "REAL-SCRIPT",
        "font-family",
        "¶",
        "Tiny Docs",
    ] {
        assert!(!text.contains(noise), "{noise} leaked into the text");
    }
    let p = page(&c, "/en/reset-password");
    assert!(p.sections[0].text.starts_with("Forgot your password?"));
    assert!(p.sections.iter().all(|s| !s.text.is_empty()));
    assert!(p
        .sections
        .iter()
        .all(|s| !s.text.contains("  ") && !s.text.starts_with(' ')));
}

#[test]
fn html_language_comes_from_attribute_then_path_then_text() {
    let c = tiny();
    let lang = |id: &str| {
        let p = page(&c, id);
        (p.lang.as_str(), p.lang_source)
    };
    assert_eq!(lang("/en/reset-password"), ("en", LangSource::HtmlLang));
    assert_eq!(lang("/es/reset-password"), ("es", LangSource::HtmlLang)); // lang="es-ES"
    assert_eq!(lang("/ja/reset-password"), ("ja", LangSource::HtmlLang));
    assert_eq!(lang("/fr/compte"), ("fr", LangSource::PathPrefix));
    assert_eq!(lang("/malformed"), ("en", LangSource::Detected));
    assert_eq!(
        warnings_for(&c, "malformed.html"),
        vec!["no lang attribute; detected en from the text"]
    );
    // A path language is not a problem worth a warning.
    assert!(!warnings_for(&c, "fr/compte.html")
        .iter()
        .any(|w| w.contains("detected") || w.contains("lang attribute")));
}

#[test]
fn html_hreflang_alternates_link_translations() {
    let c = tiny();
    let group = |id: &str| page(&c, id).group.as_str();
    // Root-relative, relative and absolute hrefs all resolve to the pages.
    assert_eq!(group("/en/reset-password"), "/en/reset-password");
    assert_eq!(group("/es/reset-password"), "/en/reset-password");
    assert_eq!(group("/ja/reset-password"), "/en/reset-password");
    assert_eq!(group("/es/facturas"), "/es/facturas");
    // fr/compte claims the English page as its alternate, but the English
    // page does not link back: not a translation.
    assert_eq!(group("/fr/compte"), "/fr/compte");
    assert!(warnings_for(&c, "fr/compte.html")
        .iter()
        .any(|w| w.contains("does not link back")));
}

/// Writes `files` (path, content) into a new temporary folder.
fn site(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (rel, body) in files {
        let path = tmp.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    tmp
}

// Found on MkDocs Material with mkdocs-static-i18n (tests/ssg/): no
// <link rel="alternate" hreflang>; translations are only named by the
// language selector's <a hreflang> links, which fall back to the other
// language's home page where the page has no translation.
#[test]
fn html_language_switcher_links_translations() {
    let page_with = |lang: &str, switcher: &str, text: &str| {
        format!(
            "<html lang={lang}><body><header><nav>{switcher}</nav></header>\
             <main><h1>{text}</h1><p>{text} explained in a full sentence of text.</p></main></body></html>"
        )
    };
    let tmp = site(&[
        (
            "index.html",
            &page_with(
                "en",
                r#"<a hreflang=en href="./">English</a><a hreflang=es href="es/">Español</a>"#,
                "Welcome",
            ),
        ),
        (
            "es/index.html",
            &page_with(
                "es",
                r#"<a hreflang=en href="../">English</a><a hreflang=es href="./">Español</a>"#,
                "Bienvenida",
            ),
        ),
        (
            "reset/index.html",
            &page_with(
                "en",
                r#"<a hreflang=en href="./">English</a><a hreflang=es href="../es/reset/">Español</a>"#,
                "Reset",
            ),
        ),
        (
            "es/reset/index.html",
            &page_with(
                "es",
                r#"<a hreflang=en href="../../reset/">English</a><a hreflang=es href="./">Español</a>"#,
                "Restablecer",
            ),
        ),
        (
            "es/oxxo/index.html",
            &page_with(
                "es",
                r#"<a hreflang=en href="/">English</a><a hreflang=es href="./">Español</a>"#,
                "Pagar en OXXO",
            ),
        ),
        (
            // <link rel="alternate"> wins over the switcher: this page names no translation
            "es/solo/index.html",
            &page_with(
                "es",
                r#"<link rel=alternate hreflang=es href="./"><a hreflang=en href="../../reset/">English</a>"#,
                "Solo",
            ),
        ),
    ]);
    let c = read_input(tmp.path()).unwrap();
    let group = |id: &str| page(&c, id).group.as_str();
    assert_eq!(group("/index"), "/es/index");
    assert_eq!(group("/es/index"), "/es/index");
    assert_eq!(group("/reset/index"), "/es/reset/index");
    assert_eq!(group("/es/reset/index"), "/es/reset/index");
    assert_eq!(group("/es/oxxo/index"), "/es/oxxo/index");
    assert_eq!(group("/es/solo/index"), "/es/solo/index");
    // a switcher pointing at a home page is no mistake worth a warning
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

// Found on VitePress (tests/ssg/): its pages name no translation, neither
// in <link rel="alternate"> nor in the language menu's links (no hreflang);
// a translation is the same path under the language's folder.
#[test]
fn html_pages_without_alternates_group_by_path_across_language_folders() {
    let page_in = |lang: &str, title: &str| {
        format!(
            "<html lang={lang}><body><main><h1>{title}</h1><p>{title}, as a sentence of text.</p></main></body></html>"
        )
    };
    let tmp = site(&[
        ("index.html", &page_in("en", "Pulse Help")),
        ("es/index.html", &page_in("es", "Ayuda de Pulse")),
        ("slack.html", &page_in("en", "Connect Slack")),
        ("es/slack.html", &page_in("es", "Conectar Slack")),
        ("ja/slack.html", &page_in("ja", "Slack と連携する")),
        ("proxy.html", &page_in("en", "Use a proxy")),
        // two English pages at one path: not grouped
        ("guide.html", &page_in("en", "Guide")),
        ("en/guide.html", &page_in("en", "Guide again")),
        ("es/guide.html", &page_in("es", "Guía")),
        // a page that names its translations is grouped by them only
        (
            "ja/index.html",
            &page_in("ja", "Pulse ヘルプ").replace(
                "<body>",
                "<head><link rel=alternate hreflang=ja href=/ja/></head><body>",
            ),
        ),
    ]);
    let c = read_input(tmp.path()).unwrap();
    let group = |id: &str| page(&c, id).group.as_str();
    assert_eq!(group("/slack"), "/es/slack");
    assert_eq!(group("/es/slack"), "/es/slack");
    assert_eq!(group("/ja/slack"), "/es/slack");
    assert_eq!(group("/index"), "/es/index");
    assert_eq!(group("/es/index"), "/es/index");
    assert_eq!(group("/ja/index"), "/ja/index");
    assert_eq!(group("/proxy"), "/proxy");
    assert_eq!(group("/guide"), "/guide");
    assert_eq!(group("/en/guide"), "/en/guide");
    assert_eq!(group("/es/guide"), "/es/guide");
}

// Found on Hugo (tests/ssg/): a small site's home and section pages are a
// title and fewer than five links to its articles, and were indexed as a
// page whose text is the article titles.
#[test]
fn html_page_of_only_a_few_links_is_skipped() {
    let tmp = site(&[
        (
            "en/index.html",
            "<html lang=en><body><main><h1>Lumen Help</h1><ul>\
             <li><a href=a.html>Reset your password</a></li>\
             <li><a href=b.html>Export your notes</a></li></ul></main></body></html>",
        ),
        (
            "en/a.html",
            "<html lang=en><body><main><h1>Reset your password</h1>\
             <p>See <a href=b.html>Export your notes</a> and <a href=c.html>Security</a> first.</p></main></body></html>",
        ),
        (
            "en/b.html",
            "<html lang=en><body><main><h1>Export your notes</h1>\
             <p><a href=a.html>Reset your password</a></p></main></body></html>",
        ),
    ]);
    let c = read_input(tmp.path()).unwrap();
    // a page with prose around its links, and a page of one link, stay
    assert_eq!(ids(&c), vec!["/en/a", "/en/b"]);
    assert!(warnings_for(&c, "en/index.html")
        .iter()
        .any(|w| w.contains("list of links")));
}

#[test]
fn html_malformed_page_still_yields_sections() {
    let c = tiny();
    let p = page(&c, "/malformed");
    assert_eq!(p.title, "Fix sync errors");
    let anchors: Vec<_> = p.sections.iter().map(|s| s.anchor.as_deref()).collect();
    assert_eq!(anchors, vec![None, Some("causes"), Some("retry")]);
    assert!(p.sections[0].text.contains("error E1042"));
    assert!(p.sections[1]
        .text
        .contains("The device is offline for more than 7 days"));
    assert!(p.sections[2].text.contains("E1042 | Sync failed"));
}

#[test]
fn html_markup_in_titles_stays_plain_text() {
    let c = tiny();
    let p = page(&c, "/xss");
    // No h1: the <title>, minus the site name, taken literally.
    assert_eq!(p.title, "<img src=x onerror=alert(1)> in titles");
    assert_eq!(
        p.sections[1].heading,
        "<script>alert(\"heading\")</script> is just text"
    );
    assert_eq!(p.sections[1].anchor.as_deref(), Some("script-heading"));
}

#[test]
fn markdown_site_reads_front_matter_sections_and_groups() {
    let c = read_input(&fixture("tiny-md")).unwrap();
    assert_eq!(
        ids(&c),
        vec![
            "en/reset-password",
            "es/restablecer-clave",
            "ja/reset-password"
        ]
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let en = page(&c, "en/reset-password");
    assert_eq!(en.url, "/en/reset-password.html");
    assert_eq!(
        (en.lang.as_str(), en.lang_source),
        ("en", LangSource::FrontMatter)
    );
    assert_eq!(en.title, "Reset your password");
    assert_eq!(en.group, "reset-password");
    assert_eq!(
        en.sections[0].text,
        "Forgot your password? Ask for a reset link by email and choose a new one. See two-step verification if you use it."
    );
    let got: Vec<(Option<&str>, &str)> = en
        .sections
        .iter()
        .map(|s| (s.anchor.as_deref(), s.heading.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (None, ""),
            (Some("before-you-start"), "Before you start"),
            (Some("request-a-reset-link"), "Request a reset link"),
            (Some("troubleshooting"), "Troubleshooting"),
        ]
    );
    assert_eq!(
        en.sections[2].text,
        "Open the sign-in page.\nClick Forgot password?\nkite auth reset --email you@example.com"
    );
    assert!(en.sections[3].anchor_synthetic);
    // The Spanish page has no lang (path says es) and joins through
    // translation_of; the Japanese one shares the front matter id.
    let es = page(&c, "es/restablecer-clave");
    assert_eq!(
        (es.lang.as_str(), es.lang_source),
        ("es", LangSource::PathPrefix)
    );
    assert_eq!(es.group, "reset-password");
    assert_eq!(es.sections[2].anchor.as_deref(), Some("pedir-un-enlace"));
    assert_eq!(page(&c, "ja/reset-password").group, "reset-password");
    assert_eq!(page(&c, "ja/reset-password").lang, "ja");
}

#[test]
fn jsonl_reads_records_and_reports_bad_lines() {
    let c = read_input(&fixture("tiny.jsonl")).unwrap();
    assert_eq!(
        ids(&c),
        vec!["en-reset", "es-reset", "zh-reset", "ar-billing"]
    );
    let broken = warnings_for(&c, "tiny.jsonl:3");
    assert_eq!(broken.len(), 1);
    assert!(
        broken[0].starts_with("skipped line 3: not valid JSON"),
        "{broken:?}"
    );
    let en = page(&c, "en-reset");
    assert_eq!(en.url, "/en/reset.html");
    assert_eq!(
        (en.lang.as_str(), en.lang_source),
        ("en", LangSource::Field)
    );
    assert_eq!(en.sections.len(), 3);
    assert_eq!(en.sections[1].anchor.as_deref(), Some("before-you-start"));
    assert_eq!(en.sections[1].text, "The link expires after 30 minutes.");
    assert_eq!(
        en.sections[2].text,
        "Open the sign-in page and click Forgot password?"
    );
    assert_eq!(page(&c, "es-reset").lang, "es");
    let zh = page(&c, "zh-reset");
    assert_eq!(zh.lang, "zh");
    // translation_of names a record: it joins that record's group.
    assert_eq!(zh.group, "reset");
    assert_eq!(page(&c, "es-reset").group, "reset");
    let ar = page(&c, "ar-billing");
    assert_eq!(
        (ar.lang.as_str(), ar.lang_source),
        ("ar", LangSource::Detected)
    );
    assert_eq!(ar.group, "ar-billing");
    assert_eq!(
        warnings_for(&c, "tiny.jsonl:5"),
        vec!["no \"lang\" field; detected ar from the text"]
    );
}

#[test]
fn fatal_input_problems_are_errors() {
    let missing = read_input(Path::new("/definitely/not/here")).unwrap_err();
    assert!(matches!(missing, Error::Input(ref m) if m.contains("does not exist")));
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(read_input(dir.path()), Err(Error::Input(_))));
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    assert!(matches!(
        read_input(&dir.path().join("notes.txt")),
        Err(Error::Input(_))
    ));
}

#[test]
fn oversized_and_non_utf8_files_warn_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut big = b"<html lang=en><body><p>".to_vec();
    big.resize(MAX_FILE_BYTES as usize + 10, b'a');
    std::fs::write(root.join("big.html"), big).unwrap();
    std::fs::write(
        root.join("latin1.html"),
        b"<html lang=fr><head><meta charset=\"iso-8859-1\"></head><body><h1>Caf\xe9</h1><p>Cr\xe8me br\xfbl\xe9e \x80 5</p></body></html>",
    )
    .unwrap();
    std::fs::write(
        root.join("bad-utf8.html"),
        b"<html lang=en><body><h1>Bad</h1><p>Broken \xff byte here</p></body></html>",
    )
    .unwrap();
    let c = read_input(root).unwrap();
    assert_eq!(ids(&c), vec!["/bad-utf8", "/latin1"]);
    assert!(warnings_for(&c, "big.html")[0].contains("over the 5 MB limit"));
    let latin = page(&c, "/latin1");
    assert_eq!(latin.title, "Café");
    assert_eq!(latin.sections[0].text, "Crème brûlée € 5");
    assert!(warnings_for(&c, "latin1.html")[0].contains("Windows-1252"));
    assert!(warnings_for(&c, "bad-utf8.html")[0].contains("not valid UTF-8"));
    assert_eq!(
        page(&c, "/bad-utf8").sections[0].text,
        "Broken \u{FFFD} byte here"
    );
}

#[test]
fn helpdesk_markdown_sources_group_by_front_matter_id() {
    let content = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/helpdesk/content");
    if !content.exists() {
        return;
    }
    let c = read_input(&content).unwrap();
    assert!(c.pages.len() > 200, "{}", c.pages.len());
    let p = page(&c, "ar/reset-password");
    assert_eq!(p.group, "reset-password");
    assert_eq!(
        (p.lang.as_str(), p.lang_source),
        ("ar", LangSource::FrontMatter)
    );
    assert_eq!(p.sections[1].anchor.as_deref(), Some("before-you-start"));
    // Every page has text and every language version of an article shares
    // the front matter id as its group.
    for p in &c.pages {
        assert!(!p.sections.is_empty());
        assert_eq!(p.group, p.id.split('/').nth(1).unwrap(), "{}", p.id);
        assert_eq!(p.lang, p.id.split('/').next().unwrap(), "{}", p.id);
    }
}

/// A report on a real site, for eyeballing:
/// `CROSSFIND_INGEST_SITE=/tmp/hd-site cargo test --release --lib ingest::tests::site_report -- --ignored --nocapture`
#[test]
#[ignore = "needs CROSSFIND_INGEST_SITE"]
fn site_report() {
    let Some(site) = std::env::var_os("CROSSFIND_INGEST_SITE") else {
        return;
    };
    let c = read_input(Path::new(&site)).unwrap();
    let mut langs: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    let mut groups: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in &c.pages {
        *langs
            .entry((p.lang.as_str(), p.lang_source.as_str()))
            .or_default() += 1;
        *groups.entry(p.group.as_str()).or_default() += 1;
    }
    let sections: usize = c.pages.iter().map(|p| p.sections.len()).sum();
    let synthetic = c
        .pages
        .iter()
        .flat_map(|p| &p.sections)
        .filter(|s| s.anchor_synthetic)
        .count();
    let chars: usize = c
        .pages
        .iter()
        .flat_map(|p| &p.sections)
        .map(|s| s.text.chars().count())
        .sum();
    println!(
        "pages {} sections {sections} (synthetic anchors {synthetic}) text chars {chars}",
        c.pages.len()
    );
    println!("langs {langs:?}");
    let mut sizes: std::collections::BTreeMap<usize, usize> = Default::default();
    for n in groups.values() {
        *sizes.entry(*n).or_default() += 1;
    }
    println!("groups {} (group size -> count {sizes:?})", groups.len());
    println!("warnings {}", c.warnings.len());
    for w in &c.warnings {
        println!("  {w}");
    }
    let mut mixed = 0;
    for g in groups.keys() {
        let mut names: Vec<&str> = c
            .pages
            .iter()
            .filter(|p| p.group == *g)
            .map(|p| p.id.rsplit('/').next().unwrap_or(""))
            .collect();
        names.dedup();
        if names.len() > 1 {
            mixed += 1;
            println!("  group {g} mixes file names {names:?}");
        }
    }
    println!("groups whose pages have different file names: {mixed}");
    let sentences: Vec<&str> = c
        .pages
        .iter()
        .flat_map(|p| &p.sections)
        .flat_map(|s| split_sentences(&s.text))
        .collect();
    let longest = sentences
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0);
    println!("sentences {} (longest {longest} chars)", sentences.len());
    for s in sentences.iter().filter(|s| s.contains(". ")).take(25) {
        println!("  kept together: {s:?}");
    }
    if let Some(dump) = std::env::var_os("CROSSFIND_INGEST_DUMP") {
        let mut out = String::new();
        for p in &c.pages {
            out.push_str(&format!(
                "=== {} [{}] {} | group {}\n",
                p.id, p.lang, p.title, p.group
            ));
            for s in &p.sections {
                out.push_str(&format!(
                    "--- {:?} {}\n{}\n",
                    s.anchor,
                    s.title_path.join(" > "),
                    s.text
                ));
            }
        }
        std::fs::write(dump, out).unwrap();
    }
    let n = c.pages.len();
    for p in [
        &c.pages[0],
        &c.pages[n / 3],
        &c.pages[n / 2],
        &c.pages[n - 1],
    ] {
        println!(
            "\n== {} [{} via {}] {:?} group={} url={}",
            p.id, p.lang, p.lang_source, p.title, p.group, p.url
        );
        for s in &p.sections {
            let short: String = s.text.chars().take(160).collect();
            println!(
                "  #{:?}{} {:?}\n     {:?}",
                s.anchor,
                if s.anchor_synthetic { " (slug)" } else { "" },
                s.title_path,
                short
            );
        }
    }
}

#[test]
fn deeply_nested_markup_does_not_overflow_the_stack() {
    // Runs on a test thread (2 MB stack by default).
    let dir = tempfile::tempdir().unwrap();
    let depth = 10_000;
    let html = format!(
        "<html lang=en><body><main><h2 id=deep>Deep</h2>{}Bottom text here.{}<p>After.</p></main></body></html>",
        "<div><span>".repeat(depth),
        "</span></div>".repeat(depth)
    );
    std::fs::write(dir.path().join("deep.html"), html).unwrap();
    let md = format!(
        "# Deep\n\n{}text{}\n",
        "[".repeat(5000),
        "](u)".repeat(5000)
    );
    std::fs::write(dir.path().join("deep.md"), md).unwrap();
    let c = read_input(dir.path()).unwrap();
    let p = page(&c, "/deep");
    assert_eq!(p.sections[0].anchor.as_deref(), Some("deep"));
    assert!(p.sections[0].text.contains("Bottom text here."));
    assert!(p.sections[0].text.ends_with("After."));
    let c = read_input(&dir.path().join("deep.md")).unwrap();
    assert!(c.pages[0].sections[0].text.contains("text"));
}

#[test]
fn front_matter_that_never_closes_skips_the_page() {
    // The whole file used to be indexed, `draft: true` and all.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("draft.md"),
        "---\ntitle: Unreleased pricing\ndraft: true\n\n# Unreleased pricing\n\nSecret numbers.\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("toml.md"),
        "+++\ntitle = \"Half done\"\n\nBody text.\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ok.md"),
        "---\nlang: en\n---\n# Published\n\nPublic text.\n",
    )
    .unwrap();
    let c = read_input(dir.path()).unwrap();
    assert_eq!(ids(&c), ["ok"]);
    for (file, delim) in [("draft.md", "---"), ("toml.md", "+++")] {
        let w = warnings_for(&c, file);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("skipped: the front matter opened with ")
                && w[0].contains(delim)
                && w[0].contains("never closed"),
            "{w:?}"
        );
        let warning = c.warnings.iter().find(|x| x.file == file).unwrap();
        assert_eq!(warning.kind(), WarningKind::Skipped);
    }
}

#[test]
fn odd_lang_values_are_warned_about_and_detected_instead() {
    // `xx-INVALID`, `zz` and empty values were stored as the page language
    // (or, empty, passed over) without a word.
    let en = "Forgot your password? Ask for a reset link by email and choose a new one that you have not used before.";
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("site.jsonl");
    let line = |id: &str, lang: &str| {
        format!(
            "{{\"id\": \"{id}\", \"lang\": {lang}, \"title\": \"Reset\", \"url\": \"/{id}.html\", \"text\": \"{en}\"}}\n"
        )
    };
    std::fs::write(
        &jsonl,
        [
            line("a", "\"xx-INVALID\""),
            line("b", "\"zz\""),
            line("c", "\"\""),
            line("d", "\"en-GB\""),
        ]
        .concat(),
    )
    .unwrap();
    let c = read_input(&jsonl).unwrap();
    for (id, n, bad) in [("a", 1, "xx-INVALID"), ("b", 2, "zz"), ("c", 3, "")] {
        let p = page(&c, id);
        assert_eq!(
            (p.lang.as_str(), p.lang_source),
            ("en", LangSource::Detected),
            "{id}"
        );
        let w = warnings_for(&c, &format!("site.jsonl:{n}"));
        assert!(
            w.len() == 1 && w[0].contains(&format!("{bad:?}")) && w[0].contains("detected en"),
            "{id}: {w:?}"
        );
    }
    assert_eq!(page(&c, "d").lang, "en");
    assert!(warnings_for(&c, "site.jsonl:4").is_empty());

    // Markdown front matter and the HTML attribute, with and without a
    // language folder to fall back on
    let site = tempfile::tempdir().unwrap();
    let s = site.path();
    std::fs::create_dir_all(s.join("es")).unwrap();
    std::fs::write(
        s.join("zz.md"),
        format!("---\nlang: zz\n---\n# Reset\n\n{en}\n"),
    )
    .unwrap();
    std::fs::write(
        s.join("empty.md"),
        format!("---\nlang: \"\"\n---\n# Reset\n\n{en}\n"),
    )
    .unwrap();
    std::fs::write(
        s.join("es/x.md"),
        "---\nlang: xx-INVALID\n---\n# Restablecer\n\nPide un enlace por correo.\n",
    )
    .unwrap();
    let c = read_input(s).unwrap();
    for (file, id) in [("zz.md", "zz"), ("empty.md", "empty")] {
        assert_eq!(page(&c, id).lang, "en");
        let w = warnings_for(&c, file);
        assert!(
            w.len() == 1 && w[0].starts_with("the front matter lang"),
            "{w:?}"
        );
    }
    assert_eq!(page(&c, "es/x").lang, "es");
    let w = warnings_for(&c, "es/x.md");
    assert!(
        w.len() == 1 && w[0].contains("\"xx-INVALID\"") && w[0].contains("using es"),
        "{w:?}"
    );

    let html = tempfile::tempdir().unwrap();
    let h = html.path();
    std::fs::create_dir_all(h.join("es")).unwrap();
    let doc = |lang: &str, text: &str| {
        format!(
            "<html lang=\"{lang}\"><body><main><h1>Reset</h1><p>{text}</p></main></body></html>"
        )
    };
    std::fs::write(h.join("zz.html"), doc("zz", en)).unwrap();
    std::fs::write(h.join("empty.html"), doc("", en)).unwrap();
    std::fs::write(
        h.join("es/x.html"),
        doc("xx-INVALID", "Pide un enlace por correo."),
    )
    .unwrap();
    let c = read_input(h).unwrap();
    assert_eq!(page(&c, "/zz").lang, "en");
    assert_eq!(page(&c, "/empty").lang, "en");
    assert_eq!(page(&c, "/es/x").lang, "es");
    for file in ["zz.html", "empty.html", "es/x.html"] {
        let w = warnings_for(&c, file);
        assert!(
            w.len() == 1 && w[0].starts_with("the lang attribute"),
            "{file}: {w:?}"
        );
    }
}

#[test]
fn html_reading_is_linear_in_nesting_depth() {
    // 100k nested <div>s (1.1 MB) took 35 s: the parser's work per tag grew
    // with the depth. Now pages nested past 512 levels are flattened below
    // 256 first; each shape here reads in well under a second.
    type Shape = fn(usize) -> String;
    let shapes: [(&str, Shape); 4] = [
        ("div", |n| {
            format!("{}Bottom text.{}", "<div>".repeat(n), "</div>".repeat(n))
        }),
        ("ul-li", |n| format!("{}Bottom text.", "<ul><li>".repeat(n))),
        ("table", |n| {
            format!("{}Bottom text.", "<table><tr><td>".repeat(n))
        }),
        ("b-id", |n| {
            (0..n).map(|i| format!("<b id=b{i}>")).collect::<String>() + "Bottom text."
        }),
    ];
    // Linear reading takes well under a second optimised and up to ~5 s
    // unoptimised (`cargo test` without --release); the quadratic reading
    // took 35 s optimised, so either budget still catches it.
    let budget = if cfg!(debug_assertions) { 30.0 } else { 5.0 };
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    for (name, shape) in shapes {
        let html = format!(
            "<html lang=en><body><main><h2 id=top>Top heading</h2><p>Intro text.</p>{}<p>After.</p></main></body></html>",
            shape(100_000)
        );
        let p = dir.path().join(format!("{name}.html"));
        std::fs::write(&p, &html).unwrap();
        let t = std::time::Instant::now();
        let c = read_input(&p).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert!(secs < budget, "{name}: {secs:.1}s for {} bytes", html.len());
        let page = &c.pages[0];
        assert_eq!(page.sections[0].anchor.as_deref(), Some("top"), "{name}");
        assert!(all_text(page).contains("Bottom text."), "{name}");
        let w = warnings_for(&c, &format!("{name}.html"));
        assert!(
            w.iter().any(|w| w.contains("nested more than 512 levels")),
            "{name}: {w:?}"
        );
    }
    let secs = started.elapsed().as_secs_f64();
    assert!(secs < 2.0 * budget, "{secs:.1}s in all");
}

#[test]
fn block_elements_inside_headings_are_word_boundaries() {
    // `<h2>Account<div>Settings</div></h2>` read as "AccountSettings".
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.html"),
        "<html lang=en><body><main>\
         <h1>Kitebook<div>Help center</div></h1>\
         <p>Intro text for the page.</p>\
         <h2 id=a>Account<div>Settings</div>Page</h2><p>Change your email here.</p>\
         <h2 id=b>Two<br>lines</h2><p>Text.</p>\
         <h3 id=c><span>Inline</span><b>Bold</b></h3><p>More text.</p>\
         </main></body></html>",
    )
    .unwrap();
    let c = read_input(dir.path()).unwrap();
    let p = page(&c, "/p");
    assert_eq!(p.title, "Kitebook Help center");
    let headings: Vec<&str> = p.sections.iter().map(|s| s.heading.as_str()).collect();
    assert_eq!(
        headings,
        ["", "Account Settings Page", "Two lines", "InlineBold"]
    );
}

#[test]
fn headings_and_sections_carry_their_own_weight_and_leave_the_pages_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("a.html"),
        r#"<!doctype html><html lang="en"><head><title>A</title></head><body><main>
        <h2 id="setup">Set up</h2><p>Install the app.</p>
        <h2 id="faq" data-crossfind-weight="1.5">FAQ</h2><p>Common questions.</p>
        <section data-crossfind-weight="0.3"><h2 id="changes">Changes</h2><p>Version 2 notes.</p>
          <h3 id="older">Older</h3><p>Version 1 notes.</p></section>
        <section data-crossfind-weight="zero"><h2 id="bad">Bad</h2><p>Text.</p></section>
        </main></body></html>"#,
    )
    .unwrap();
    let c = read_input(&site).unwrap();
    let p = page(&c, "/a");
    // the section attributes are not the page's weight
    assert_eq!(p.tags.weight, None);
    let w: Vec<(&str, Option<f32>)> = p
        .sections
        .iter()
        .map(|s| (s.anchor.as_deref().unwrap_or(""), s.weight))
        .collect();
    assert_eq!(
        w,
        [
            ("setup", None),
            ("faq", Some(1.5)),
            ("changes", Some(0.3)),
            ("older", Some(0.3)),
            ("bad", None)
        ]
    );
    let warnings = warnings_for(&c, "a.html").join("\n");
    assert!(
        warnings.contains("section \"Bad\": the weight \"zero\" is not a positive number"),
        "{warnings}"
    );
}

#[test]
fn pages_declare_filters_and_a_weight_in_html_markdown_and_jsonl() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("a.html"),
        r#"<!doctype html><html lang="en"><head><title>A</title>
        <meta name="crossfind:filter" content="product: Billing">
        <meta name="crossfind:weight" content="2"></head>
        <body><main data-crossfind-filter="version:2.0">
        <span data-crossfind-filter="audience">  Admins </span>
        <p>Invoices are sent every month.</p></main></body></html>"#,
    )
    .unwrap();
    std::fs::write(
        site.join("b.html"),
        r#"<html lang="en"><head><title>B</title></head>
        <body data-crossfind-weight="lots" data-crossfind-filter="oops"><p>Text.</p></body></html>"#,
    )
    .unwrap();
    let c = read_input(&site).unwrap();
    let a = &page(&c, "/a").tags;
    assert_eq!(a.filters["product"], ["Billing"]);
    assert_eq!(a.filters["version"], ["2.0"]);
    assert_eq!(a.filters["audience"], ["Admins"]);
    assert_eq!(a.weight, Some(2.0));
    let b = &page(&c, "/b").tags;
    assert_eq!(b.weight, None);
    let w = warnings_for(&c, "b.html").join("\n");
    assert!(
        w.contains("the weight \"lots\" is not a positive number"),
        "{w}"
    );
    // a key without a colon takes the element's text: "Text." is not empty,
    // so `oops: Text.` is a filter, which is what the markup says
    assert_eq!(b.filters["oops"], ["Text."]);

    let md = tmp.path().join("md");
    std::fs::create_dir_all(md.join("en")).unwrap();
    std::fs::write(
        md.join("en/page.md"),
        "---\ntitle: Page\nweight: 30\ncrossfind_filters: product:Billing, version:2.0\ncrossfind_weight: 50\n---\nSome text.\n",
    )
    .unwrap();
    let c = read_input(&md).unwrap();
    let p = &c.pages[0].tags;
    assert_eq!(p.filters["version"], ["2.0"]);
    // Hugo's menu `weight` is not ours; ours is clamped to 10, with a note
    assert_eq!(p.weight, Some(10.0));
    assert!(warnings_for(&c, "en/page.md")
        .iter()
        .any(|w| w.contains("outside 0.1..10")));

    let jsonl = tmp.path().join("pages.jsonl");
    std::fs::write(
        &jsonl,
        r#"{"id":"p1","lang":"en","title":"P1","url":"/p1","text":"Text one.","filters":{"version":["1.0","2.0"],"product":"Billing"},"weight":0.5}
{"id":"p2","lang":"en","title":"P2","url":"/p2","text":"Text two.","filters":"version:2"}
"#,
    )
    .unwrap();
    let c = read_input(&jsonl).unwrap();
    assert_eq!(c.pages[0].tags.filters["version"], ["1.0", "2.0"]);
    assert_eq!(c.pages[0].tags.weight, Some(0.5));
    assert!(c.pages[1].tags.filters.is_empty());
    assert!(c
        .warnings
        .iter()
        .any(|w| w.message.contains("\"filters\" is not an object")));
}
