//! Reading a built HTML site: main content, sections, language, title and
//! `hreflang` translation groups.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use scraper::{ElementRef, Html, Node, Selector};

use super::nesting;
use super::sections::{Heading, SectionAssembler};
use super::text::{collapse_whitespace, encode_path, percent_decode, TextBuilder};
use super::{
    assign_groups_by_component, check_groups, fallback_language, page_text, read_text_file,
    rel_display, Corpus, LangSource, Page, PageTags, Section, UnionFind,
};
use crate::lang::{check_tag, path_language, segment_language};

/// Elements whose content is never page text.
const DROPPED: &[&str] = &[
    "nav", "header", "footer", "aside", "script", "style", "noscript", "template", "svg", "form",
    "button", "head", "title", "select", "option", "textarea", "input", "iframe", "object",
    "embed", "canvas", "video", "audio", "map", "dialog", "math", "link", "meta",
];

/// ARIA roles that mark the same page chrome as nav/header/footer.
const DROPPED_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "search",
    "complementary",
];

/// Classes of screen-reader-only helper text ("opens in a new tab").
const SR_ONLY_CLASSES: &[&str] = &[
    "sr-only",
    "visually-hidden",
    "screen-reader-text",
    "visuallyhidden",
];

/// Elements that start a new paragraph.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "caption",
    "figure",
    "figcaption",
    "details",
    "summary",
    "address",
    "center",
    "fieldset",
    "legend",
    "hgroup",
    "body",
    "html",
];

/// Elements that cannot be part of a heading's text. In malformed HTML
/// (`<h1>Title<p>text...` without `</h1>`) the parser nests the content
/// inside the heading; it is read as the section's text instead.
const NOT_HEADING_TEXT: &[&str] = &[
    "p",
    "ul",
    "ol",
    "dl",
    "table",
    "pre",
    "blockquote",
    "section",
    "article",
    "main",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "figure",
    "details",
    "hr",
    "address",
    "fieldset",
];

/// Link texts that are permalink decorations, not heading text.
const PERMALINK_SYMBOLS: &[&str] = &[
    "#",
    "¶",
    "§",
    "🔗",
    "⚓",
    "⚓\u{fe0e}",
    "⚓\u{fe0f}",
    "∞",
    "⁋",
    "link",
    "permalink",
    "anchor",
];

/// Elements nested deeper than this are read as flat text (no recursion),
/// so pathological nesting cannot overflow the stack.
const MAX_DEPTH: usize = 256;

/// A page that is mostly link text with at least this many links is an
/// index or navigation page and is skipped (unless it opts in with
/// `data-crossfind-body`); so is a page of two or more links and no other
/// text.
const LINK_LIST_MIN_LINKS: usize = 5;
const LINK_LIST_SHARE: f64 = 0.8;

/// What one HTML document yields before the site-level steps.
struct Extracted {
    lang_attr: Option<String>,
    title: Option<String>,
    sections: Vec<Section>,
    alternates: Vec<String>,
    /// Whether `alternates` come from a language switcher's `<a hreflang>`
    /// links (the page declares no `<link rel="alternate" hreflang>`).
    switcher: bool,
    base_href: Option<String>,
    noindex: bool,
    refresh: bool,
    explicit_body: bool,
    links: usize,
    link_chars: usize,
    text_chars: usize,
    tags: PageTags,
    /// What was wrong with the page's filters or weight.
    tag_problems: Vec<String>,
}

/// A page read from the site, with what grouping needs.
struct HtmlPage {
    page: Page,
    /// URL keys of the page's `hreflang` alternates.
    alternates: Vec<String>,
    /// The alternates are a language switcher's links (see [`Extracted`]).
    switcher: bool,
    key: String,
}

pub(super) fn read_site(root: &Path, files: &[PathBuf], corpus: &mut Corpus) {
    let mut read: Vec<HtmlPage> = Vec::new();
    let mut ids: HashMap<String, String> = HashMap::new();
    for rel in files {
        let rel_str = rel_display(rel);
        let file_name = rel
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if file_name == "404.html" || file_name == "404.htm" {
            corpus.warn(&rel_str, "note: skipped: a 404 (not found) page");
            continue;
        }
        let Some(src) = read_text_file(&root.join(rel), &rel_str, true, corpus) else {
            continue;
        };
        if let Some(p) = read_page(&rel_str, &src, corpus) {
            if let Some(first) = ids.get(&p.page.id) {
                corpus.warn(
                    &rel_str,
                    format!(
                        "skipped: duplicate page id `{}` (already read from {first})",
                        p.page.id
                    ),
                );
                continue;
            }
            ids.insert(p.page.id.clone(), rel_str.clone());
            read.push(p);
        }
    }
    link_translations(&mut read, corpus);
    corpus.pages.extend(read.into_iter().map(|p| p.page));
    check_groups(corpus);
}

/// `/es/reset-password` for `es/reset-password.html`.
fn page_id(rel: &str) -> String {
    let stem = match rel.rfind('.') {
        Some(dot) if !rel[dot..].contains('/') => &rel[..dot],
        _ => rel,
    };
    format!("/{stem}")
}

fn read_page(rel: &str, src: &str, corpus: &mut Corpus) -> Option<HtmlPage> {
    let doc = parse_page(rel, src, corpus)?;
    let ex = extract(&doc, rel);
    for p in &ex.tag_problems {
        corpus.warn(rel, p.clone());
    }
    if ex.noindex {
        corpus.warn(
            rel,
            "note: skipped: the page asks not to be indexed (<meta name=\"robots\" content=\"noindex\">)",
        );
        return None;
    }
    if ex.refresh && ex.text_chars < 200 {
        corpus.warn(
            rel,
            "note: skipped: a redirect page (<meta http-equiv=\"refresh\">)",
        );
        return None;
    }
    if ex.sections.is_empty() {
        corpus.warn(rel, "skipped: the page has no text");
        return None;
    }
    // A long list of links, or a short one with no other text (the home
    // or section page of a small site: a title and links to its pages).
    let link_list = (ex.links >= LINK_LIST_MIN_LINKS
        && ex.link_chars as f64 >= LINK_LIST_SHARE * ex.text_chars as f64)
        || (ex.links >= 2 && ex.link_chars >= ex.text_chars);
    if !ex.explicit_body && link_list {
        corpus.warn(
            rel,
            format!(
                "note: skipped: the page is a list of links ({} links, {:.0}% of its text), like an index page; mark its content with data-crossfind-body to index it anyway",
                ex.links,
                100.0 * ex.link_chars as f64 / ex.text_chars.max(1) as f64
            ),
        );
        return None;
    }

    let id = page_id(rel);
    let url = encode_path(&format!("/{rel}"));
    let title = ex.title.clone().unwrap_or_else(|| title_from_file(rel));

    let (attr_lang, attr_problem) = ex.lang_attr.as_deref().map_or((None, None), check_tag);
    let attr_odd = |p: &str| {
        format!(
            "the lang attribute {:?} {p}",
            ex.lang_attr.as_deref().unwrap_or_default()
        )
    };
    let dir_lang = path_language(rel);
    let (lang, lang_source) = match (attr_lang, dir_lang) {
        (Some(l), dir) => {
            if let Some(p) = &attr_problem {
                corpus.warn(rel, attr_odd(p));
            }
            if let Some(d) = dir.filter(|d| *d != l) {
                corpus.warn(
                    rel,
                    format!("the lang attribute says {l} but the folder says {d}; using {l}"),
                );
            }
            (l, LangSource::HtmlLang)
        }
        (None, Some(d)) => {
            if let Some(p) = &attr_problem {
                corpus.warn(rel, format!("{}; using {d}, from the folder", attr_odd(p)));
            }
            (d, LangSource::PathPrefix)
        }
        (None, None) => {
            let what = match &attr_problem {
                Some(p) => attr_odd(p),
                None => "no lang attribute".to_string(),
            };
            fallback_language(&page_text(&ex.sections, &title), &what, rel, corpus)
        }
    };

    let page_path = format!("/{rel}");
    let base = ex
        .base_href
        .as_deref()
        .and_then(|b| resolve_href(&page_path, b))
        .unwrap_or_else(|| page_path.clone());
    let alternates = ex
        .alternates
        .iter()
        .filter_map(|href| resolve_href(&base, href))
        .map(|p| url_key(&p))
        .collect();

    Some(HtmlPage {
        key: url_key(&page_path),
        alternates,
        switcher: ex.switcher,
        page: Page {
            group: id.clone(),
            id,
            url,
            lang,
            lang_source,
            title,
            sections: ex.sections,
            source: rel.to_string(),
            tags: ex.tags,
        },
    })
}

/// Groups pages whose `hreflang` alternates point at each other. A link
/// that is not returned is reported and not followed: one wrong link (e.g.
/// every page pointing at a language's home page) must not merge unrelated
/// pages.
fn link_translations(pages: &mut [HtmlPage], corpus: &mut Corpus) {
    let by_key: HashMap<&str, usize> = pages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.key.as_str(), i))
        .collect();
    let mut uf = UnionFind::new(pages.len());
    let mut one_way = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        for alt in &p.alternates {
            let Some(&j) = by_key.get(alt.as_str()) else {
                continue;
            };
            if j == i {
                continue;
            }
            if pages[j].alternates.contains(&p.key) {
                uf.union(i, j);
            } else if !p.switcher {
                // (a language switcher may point at another language's home
                // page when the page has no translation there: no warning)
                one_way.push((p.page.source.clone(), pages[j].page.url.clone()));
            }
        }
    }
    // Pages that name no translation at all: the same path in each
    // language's folder (`/slack.html`, `/es/slack.html`, `/ja/slack.html`),
    // the layout of VitePress and most multilingual set-ups. Not when a
    // language would have two pages there.
    let mut by_path: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in pages.iter().enumerate() {
        if p.alternates.is_empty() {
            by_path
                .entry(path_without_language(&p.key, &p.page.lang))
                .or_default()
                .push(i);
        }
    }
    for members in by_path.values().filter(|m| m.len() > 1) {
        let mut langs = HashSet::new();
        if members
            .iter()
            .all(|&i| langs.insert(pages[i].page.lang.as_str()))
        {
            for w in members.windows(2) {
                uf.union(w[0], w[1]);
            }
        }
    }
    for (file, target) in one_way {
        corpus.warn(
            file,
            format!("hreflang alternate {target} does not link back to this page; not treated as a translation"),
        );
    }
    let mut plain: Vec<Page> = pages.iter().map(|p| p.page.clone()).collect();
    assign_groups_by_component(&mut plain, &mut uf);
    for (p, q) in pages.iter_mut().zip(plain) {
        p.page.group = q.group;
    }
}

/// The comparable form of a site path: no extension, no trailing `index`,
/// so `/es/a.html`, `/es/a` match and `/es/`, `/es/index.html` match.
fn url_key(path: &str) -> String {
    let mut p = path.to_string();
    if p.ends_with('/') {
        p.push_str("index");
    }
    let last = p.rfind('/').map_or(0, |i| i + 1);
    if let Some(dot) = p[last..].rfind('.') {
        let ext = p[last + dot + 1..].to_ascii_lowercase();
        if ext == "html" || ext == "htm" {
            p.truncate(last + dot);
        }
    }
    if p.ends_with("/index") {
        p.truncate(p.len() - "index".len());
    }
    if p.len() > 1 && p.ends_with('/') {
        p.pop();
    }
    if p.is_empty() {
        p.push('/');
    }
    p
}

/// A page's URL key without the folder that names its language:
/// `/slack` for `/es/slack` in Spanish, `/` for `/es`.
fn path_without_language(key: &str, lang: &str) -> String {
    let mut segments: Vec<&str> = key.split('/').filter(|s| !s.is_empty()).collect();
    if let Some(i) = segments
        .iter()
        .position(|s| segment_language(s).as_deref() == Some(lang))
    {
        segments.remove(i);
    }
    format!("/{}", segments.join("/"))
}

/// Resolves an `href` against the page's path and returns a site path
/// (absolute URLs are reduced to their path). `None` for other schemes.
fn resolve_href(base_path: &str, href: &str) -> Option<String> {
    let href = href.trim();
    let href = href.split('#').next().unwrap_or("");
    let href = href.split('?').next().unwrap_or("");
    let path = if let Some(rest) = href.strip_prefix("//") {
        rest.find('/')
            .map_or("/".to_string(), |i| rest[i..].to_string())
    } else if let Some(colon) = href.find(':') {
        let scheme = &href[..colon];
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let rest = href[colon + 1..].trim_start_matches('/');
        rest.find('/')
            .map_or("/".to_string(), |i| rest[i..].to_string())
    } else if href.starts_with('/') {
        href.to_string()
    } else if href.is_empty() {
        base_path.to_string()
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{href}")
    };
    // Normalise `.` and `..`.
    let trailing = path.ends_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut p = format!("/{}", out.join("/"));
    if trailing && p.len() > 1 {
        p.push('/');
    }
    Some(percent_decode(&p))
}

/// `Reset your password` from `reset-your_password.html`.
fn title_from_file(rel: &str) -> String {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    collapse_whitespace(&stem.replace(['-', '_'], " "))
}

/// Removes a site-name suffix (`Page | Site`, `Page · Site`, `Page – Site`).
fn strip_site_suffix(title: &str) -> String {
    const SEPARATORS: &[&str] = &[" | ", " – ", " — ", " · ", " • ", " :: ", " » "];
    let cut = SEPARATORS.iter().filter_map(|sep| title.rfind(sep)).max();
    match cut {
        Some(i) if !title[..i].trim().is_empty() => title[..i].trim().to_string(),
        _ => title.trim().to_string(),
    }
}

fn selector(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

fn attr_is(el: &ElementRef, name: &str, value: &str) -> bool {
    el.value()
        .attr(name)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
}

/// Whether an element (and everything in it) is left out of the text.
/// `keep_header` lets an article's own `<header>` through (title lookup).
fn is_dropped(el: &ElementRef, keep_header: bool) -> bool {
    let e = el.value();
    is_dropped_parts(e.name(), |n| e.attr(n), keep_header)
}

/// [`is_dropped`] on an element's name and attributes (also used on tags
/// before parsing, see `nesting::flatten`).
fn is_dropped_parts<'a>(
    name: &str,
    attr: impl Fn(&str) -> Option<&'a str>,
    keep_header: bool,
) -> bool {
    if DROPPED.contains(&name) && !(keep_header && name == "header") {
        return true;
    }
    if attr("data-crossfind-ignore").is_some() || attr("hidden").is_some() {
        return true;
    }
    if attr("aria-hidden").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return true;
    }
    if attr("role").is_some_and(|r| DROPPED_ROLES.contains(&r.trim().to_ascii_lowercase().as_str()))
    {
        return true;
    }
    attr("class").is_some_and(|c| {
        c.split_ascii_whitespace()
            .any(|c| SR_ONLY_CLASSES.contains(&c))
    })
}

/// Parses a page in time linear in its size: a page nested too deep for
/// the parser is flattened first (with a warning), and skipped if even that
/// fails (see `nesting`).
fn parse_page(rel: &str, src: &str, corpus: &mut Corpus) -> Option<Html> {
    if let Some(doc) = nesting::parse(src) {
        return Some(doc);
    }
    let invisible = |name: &str, attrs: &[(String, String)]| {
        is_dropped_parts(
            name,
            |k| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()),
            false,
        )
    };
    let block = |name: &str| {
        BLOCKS.contains(&name)
            || heading_level(name).is_some()
            || matches!(name, "pre" | "td" | "th")
    };
    match nesting::parse(&nesting::flatten(src, &invisible, &block)) {
        Some(doc) => {
            corpus.warn(
                rel,
                format!(
                    "elements are nested more than {} levels deep; the markup below level {} was read as plain text",
                    nesting::MAX_PARSE_DEPTH,
                    nesting::FLAT_DEPTH
                ),
            );
            Some(doc)
        }
        None => {
            corpus.warn(
                rel,
                format!(
                    "skipped: elements are nested more than {} levels deep, and the page could not be flattened",
                    nesting::MAX_PARSE_DEPTH
                ),
            );
            None
        }
    }
}

/// Whether `el` sits inside a dropped element below `root`.
fn inside_dropped(el: &ElementRef, root: &ElementRef, keep_header: bool) -> bool {
    for a in el.ancestors() {
        if a == **root {
            return false;
        }
        if let Some(a) = ElementRef::wrap(a) {
            if is_dropped(&a, keep_header) {
                return true;
            }
        }
    }
    false
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// `rel` names the page when it has no title of its own
/// ([`title_from_file`]), so that its breadcrumbs start with that name.
fn extract(doc: &Html, rel: &str) -> Extracted {
    let html_el = doc.root_element();
    let body = doc.select(&selector("body")).next();

    // Page-level metadata.
    let mut noindex = false;
    let mut refresh = false;
    let mut tags = PageTags::default();
    let mut tag_problems = Vec::new();
    for m in doc.select(&selector("meta")) {
        let e = m.value();
        let name = e.attr("name").unwrap_or("").trim().to_ascii_lowercase();
        let raw_content = e.attr("content").unwrap_or("");
        let done = match name.as_str() {
            "crossfind:filter" | "crossfind-filter" => tags.add_filter(raw_content),
            "crossfind:weight" | "crossfind-weight" => tags.set_weight(raw_content),
            _ => Ok(()),
        };
        tag_problems.extend(done.err());
        let content = e.attr("content").unwrap_or("").to_ascii_lowercase();
        if (name == "robots" || name == "crossfind") && content.contains("noindex") {
            noindex = true;
        }
        if attr_is(&m, "http-equiv", "refresh") {
            refresh = true;
        }
    }
    for el in doc.select(&selector("[data-crossfind-filter]")) {
        let spec = el.value().attr("data-crossfind-filter").unwrap_or("");
        let done = if spec.contains(':') {
            tags.add_filter(spec)
        } else {
            tags.add_filter_value(spec, &el.text().collect::<String>())
        };
        tag_problems.extend(done.err());
    }
    // on a heading or a <section>, the attribute weighs that section
    // (`Walker::section_weight`); anywhere else, the page
    if let Some(el) = doc.select(&selector("[data-crossfind-weight]")).find(|e| {
        e.value().name() != "section" && !matches!(heading_level(e.value().name()), Some(2 | 3))
    }) {
        let w = el.value().attr("data-crossfind-weight").unwrap_or("");
        tag_problems.extend(tags.set_weight(w).err());
    }
    let mut alternates: Vec<String> = doc
        .select(&selector("link[rel][hreflang][href]"))
        .filter(|l| {
            l.value()
                .attr("rel")
                .unwrap_or("")
                .split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case("alternate"))
        })
        .filter_map(|l| l.value().attr("href").map(str::to_string))
        .collect();
    // Without <link rel="alternate" hreflang>, the page's language switcher:
    // links that name the language of the page they lead to (MkDocs
    // Material's language selector with mkdocs-static-i18n, for one). Only
    // links that are returned count (`link_translations`).
    let switcher = alternates.is_empty();
    if switcher {
        alternates = doc
            .select(&selector("a[hreflang][href]"))
            .filter(|a| !a.value().attr("hreflang").unwrap_or("").trim().is_empty())
            .filter_map(|a| a.value().attr("href").map(str::to_string))
            .collect();
    }
    let base_href = doc
        .select(&selector("base[href]"))
        .next()
        .and_then(|b| b.value().attr("href").map(str::to_string));
    let title_tag = doc
        .select(&selector("title"))
        .next()
        .map(|t| collapse_whitespace(&t.text().collect::<String>()))
        .filter(|t| !t.is_empty());

    // The content roots.
    let marked: Vec<ElementRef> = doc
        .select(&selector("[data-crossfind-body]"))
        .collect::<Vec<_>>();
    let marked: Vec<ElementRef> = marked
        .iter()
        .filter(|m| {
            !m.ancestors()
                .any(|a| marked.iter().any(|other| a == **other))
        })
        .copied()
        .collect();
    let explicit_body = !marked.is_empty();
    let top_level = |tag: &str| -> Vec<ElementRef> {
        let all: Vec<ElementRef> = doc.select(&selector(tag)).collect();
        all.iter()
            .filter(|el| {
                !el.ancestors().any(|a| {
                    ElementRef::wrap(a)
                        .is_some_and(|a| is_dropped(&a, false) || a.value().name() == tag)
                })
            })
            .copied()
            .collect()
    };
    let roots: Vec<ElementRef> = if explicit_body {
        marked
    } else {
        let mains = top_level("main");
        if let Some(m) = mains.into_iter().next() {
            vec![m]
        } else {
            let articles = top_level("article");
            if !articles.is_empty() {
                articles
            } else {
                vec![body.unwrap_or(html_el)]
            }
        }
    };
    let root_is_body = roots.len() == 1 && (Some(roots[0]) == body || roots[0] == html_el);

    // the first lang that says something; else an empty one, if any, to
    // warn about
    let candidates = [
        html_el.value().attr("lang"),
        html_el.value().attr("xml:lang"),
        body.and_then(|b| b.value().attr("lang")),
        roots[0].value().attr("lang"),
    ];
    let lang_attr = candidates
        .iter()
        .flatten()
        .find(|l| !l.trim().is_empty())
        .or_else(|| candidates.iter().flatten().next())
        .map(|l| l.to_string());

    // Title: the h1 when there is exactly one, else <title> minus the site
    // name, else the first h1.
    let h1_sel = selector("h1");
    let mut title_h1s = Vec::new();
    let mut section_h1s = 0usize;
    for root in &roots {
        for h in root.select(&h1_sel) {
            if !inside_dropped(&h, root, !root_is_body) {
                title_h1s.push(heading_text(&h));
                if !inside_dropped(&h, root, false) {
                    section_h1s += 1;
                }
            }
        }
    }
    title_h1s.retain(|t| !t.is_empty());
    let title = match (title_h1s.len(), &title_tag) {
        (1, _) => Some(title_h1s[0].clone()),
        (_, Some(t)) if !strip_site_suffix(t).is_empty() => Some(strip_site_suffix(t)),
        _ => title_h1s.first().cloned(),
    };

    let ids: Vec<String> = doc
        .select(&selector("[id]"))
        .filter_map(|e| e.value().id().map(str::to_string))
        .collect();
    let mut walker = Walker {
        asm: SectionAssembler::new(ids),
        split_h1: section_h1s > 1,
        depth: 0,
        in_link: 0,
        links: 0,
        link_chars: 0,
        text_chars: 0,
        problems: Vec::new(),
    };
    for root in &roots {
        walker.asm.text.paragraph_break();
        walker.children(root);
    }
    let title_for_paths = title.clone().unwrap_or_else(|| title_from_file(rel));
    let (links, link_chars, text_chars) = (walker.links, walker.link_chars, walker.text_chars);
    let sections = walker.asm.finish(&title_for_paths);
    tag_problems.append(&mut walker.problems);
    Extracted {
        lang_attr,
        title,
        sections,
        alternates,
        switcher,
        base_href,
        noindex,
        refresh,
        explicit_body,
        links,
        link_chars,
        text_chars,
        tags,
        tag_problems,
    }
}

struct Walker {
    asm: SectionAssembler,
    /// Several h1s: each starts a section (else the h1 is the title).
    split_h1: bool,
    depth: usize,
    in_link: usize,
    links: usize,
    link_chars: usize,
    text_chars: usize,
    /// What was wrong with section weights.
    problems: Vec<String>,
}

impl Walker {
    /// `data-crossfind-weight` of the heading `el`, else of the nearest
    /// `<section>` around it (a changelog section, say, marked 0.3).
    fn section_weight(&mut self, el: &ElementRef) -> Option<f32> {
        let marked = std::iter::once(*el)
            .chain(
                el.ancestors()
                    .filter_map(ElementRef::wrap)
                    .filter(|a| a.value().name() == "section"),
            )
            .find_map(|e| e.value().attr("data-crossfind-weight"))?;
        let (w, problem) = super::parse_weight(marked, "section");
        if let Some(p) = problem {
            self.problems
                .push(format!("section {:?}: {p}", super::cut(&heading_text(el))));
        }
        w
    }

    fn children(&mut self, el: &ElementRef) {
        for child in el.children() {
            match child.value() {
                Node::Text(t) => {
                    let s: &str = t;
                    let n = s.chars().filter(|c| !c.is_whitespace()).count();
                    self.text_chars += n;
                    if self.in_link > 0 {
                        self.link_chars += n;
                    }
                    self.asm.text.push_inline(s);
                }
                Node::Element(_) => {
                    if let Some(c) = ElementRef::wrap(child) {
                        self.visit(&c);
                    }
                }
                _ => {}
            }
        }
    }

    /// Walks only the block-level content under `el` (see
    /// [`NOT_HEADING_TEXT`]); the inline text was the heading's.
    fn blocks_only(&mut self, el: &ElementRef) {
        for child in el.child_elements() {
            if is_dropped(&child, false) {
                continue;
            }
            if NOT_HEADING_TEXT.contains(&child.value().name()) {
                self.visit(&child);
                self.asm.text.paragraph_break();
            } else if self.depth < MAX_DEPTH {
                self.depth += 1;
                self.blocks_only(&child);
                self.depth -= 1;
            }
        }
    }

    /// Reads an element, or its flat text when nested too deep.
    fn visit(&mut self, el: &ElementRef) {
        if self.depth >= MAX_DEPTH {
            self.flat_text(el);
        } else {
            self.depth += 1;
            self.element(el);
            self.depth -= 1;
        }
    }

    /// The text under `el` without recursion: block starts break lines,
    /// text inside dropped elements is left out.
    fn flat_text(&mut self, el: &ElementRef) {
        if is_dropped(el, false) {
            return;
        }
        for node in el.descendants() {
            match node.value() {
                Node::Text(t) => {
                    let dropped = node
                        .ancestors()
                        .take_while(|a| a != &**el)
                        .filter_map(ElementRef::wrap)
                        .any(|a| is_dropped(&a, false));
                    if !dropped {
                        self.text_chars += t.chars().filter(|c| !c.is_whitespace()).count();
                        self.asm.text.push_inline(t);
                    }
                }
                Node::Element(e) if BLOCKS.contains(&e.name()) || e.name() == "br" => {
                    self.asm.text.paragraph_break();
                }
                _ => {}
            }
        }
    }

    fn element(&mut self, el: &ElementRef) {
        if is_dropped(el, false) {
            return;
        }
        let name = el.value().name();
        if let Some(level) = heading_level(name) {
            let text = heading_text(el);
            if level == 1 && !self.split_h1 {
                // The page title: not part of the text.
                self.asm.text.paragraph_break();
            } else if level <= 3 && !text.is_empty() {
                let weight = self.section_weight(el);
                self.asm.heading(Heading {
                    level,
                    text,
                    anchor: heading_anchor(el),
                    weight,
                });
            } else {
                self.asm.text.paragraph_break();
                self.text_chars += text.chars().filter(|c| !c.is_whitespace()).count();
                self.asm.text.push_inline(&text);
                self.asm.text.paragraph_break();
            }
            // Content that malformed HTML nested inside the heading.
            self.blocks_only(el);
            return;
        }
        match name {
            "pre" | "listing" | "xmp" | "plaintext" => {
                let mut raw = String::new();
                raw_text(el, &mut raw, 0);
                self.text_chars += raw.chars().filter(|c| !c.is_whitespace()).count();
                self.asm.text.push_preformatted(&raw);
            }
            "br" | "hr" => self.asm.text.paragraph_break(),
            "img" | "picture" | "source" | "track" | "wbr" => {}
            "td" | "th" => {
                self.asm.text.push_separator(" | ");
                self.children(el);
            }
            "a" => {
                self.in_link += 1;
                let before = self.text_chars;
                self.children(el);
                self.in_link -= 1;
                if self.text_chars > before {
                    self.links += 1;
                }
            }
            _ if BLOCKS.contains(&name) => {
                self.asm.text.paragraph_break();
                self.children(el);
                self.asm.text.paragraph_break();
            }
            _ => self.children(el),
        }
    }
}

/// The text inside `pre`, line breaks kept, dropped elements (copy buttons)
/// left out.
fn raw_text(el: &ElementRef, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for child in el.children() {
        match child.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => {
                if e.name() == "br" {
                    out.push('\n');
                } else if let Some(c) = ElementRef::wrap(child) {
                    if !is_dropped(&c, false) {
                        raw_text(&c, out, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }
}

fn is_permalink_text(s: &str) -> bool {
    let t = collapse_whitespace(s).to_lowercase();
    t.is_empty() || PERMALINK_SYMBOLS.contains(&t.as_str())
}

/// A heading's visible text without permalink decorations (`#`, `¶`, icon
/// links) or screen-reader helpers.
fn heading_text(el: &ElementRef) -> String {
    fn walk(el: &ElementRef, b: &mut TextBuilder, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        for child in el.children() {
            match child.value() {
                Node::Text(t) => b.push_inline(t),
                Node::Element(_) => {
                    let Some(c) = ElementRef::wrap(child) else {
                        continue;
                    };
                    let name = c.value().name();
                    if is_dropped(&c, false) || name == "img" || NOT_HEADING_TEXT.contains(&name) {
                        continue;
                    }
                    if c.value().name() == "a" && is_permalink_text(&c.text().collect::<String>()) {
                        continue;
                    }
                    // a block inside a heading (`Account<div>Settings</div>`)
                    // is shown on a line of its own: a word boundary
                    let boundary = name == "br"
                        || BLOCKS.contains(&name)
                        || matches!(name, "td" | "th" | "caption" | "dt" | "dd");
                    if boundary {
                        b.push_inline(" ");
                    }
                    walk(&c, b, depth + 1);
                    if boundary {
                        b.push_inline(" ");
                    }
                }
                _ => {}
            }
        }
    }
    let mut b = TextBuilder::new();
    walk(el, &mut b, 0);
    let mut text = b.take().replace('\n', " ");
    // Symbols left as plain text at either end ("Install ¶", "# Install").
    loop {
        let t = text.trim();
        let stripped = if let Some((head, last)) = t.rsplit_once(' ') {
            if is_permalink_text(last) && !last.eq_ignore_ascii_case("link") {
                Some(head.to_string())
            } else {
                None
            }
        } else {
            None
        };
        let stripped = stripped.or_else(|| {
            let (first, rest) = t.split_once(' ')?;
            (is_permalink_text(first) && !first.eq_ignore_ascii_case("link"))
                .then(|| rest.to_string())
        });
        let stripped = stripped.or_else(|| {
            ['¶', '§', '🔗']
                .iter()
                .find(|c| t.ends_with(**c) && t.chars().count() > 1)
                .map(|c| t.trim_end_matches(*c).to_string())
        });
        match stripped {
            Some(s) if !s.trim().is_empty() => text = s.trim().to_string(),
            _ => break,
        }
    }
    text.trim().to_string()
}

/// The id a deep link to this heading should use, if the page has one:
/// the heading's id, an id or `name` inside it, a permalink `href="#..."`
/// inside it, an empty `<a id>` right before it, or the id of a
/// `<section>`/`<div>` it opens.
fn heading_anchor(el: &ElementRef) -> Option<String> {
    let nonempty = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(id) = nonempty(el.value().id()) {
        return Some(id);
    }
    for d in el.descendent_elements().skip(1) {
        if let Some(id) = nonempty(d.value().id()) {
            return Some(id);
        }
        if d.value().name() == "a" {
            if let Some(name) = nonempty(d.value().attr("name")) {
                return Some(name);
            }
        }
    }
    for a in el.select(&selector("a[href^='#']")) {
        let frag = percent_decode(
            a.value()
                .attr("href")
                .unwrap_or("#")
                .trim_start_matches('#'),
        );
        if !frag.trim().is_empty() {
            return Some(frag);
        }
    }
    // <a id="x"></a><h2>...
    let prev = el.prev_siblings().find(|n| {
        !matches!(n.value(), Node::Text(t) if t.trim().is_empty()) && !n.value().is_comment()
    });
    if let Some(prev) = prev.and_then(ElementRef::wrap) {
        if prev.text().all(|t| t.trim().is_empty()) {
            if let Some(id) =
                nonempty(prev.value().id()).or_else(|| nonempty(prev.value().attr("name")))
            {
                return Some(id);
            }
        }
    }
    // <section id="x"><h2>...
    let parent = el.parent().and_then(ElementRef::wrap)?;
    if matches!(parent.value().name(), "section" | "div" | "article") {
        let first = parent.child_elements().next();
        if first.is_some_and(|f| f == *el) {
            return nonempty(parent.value().id());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_keys_match_pretty_and_file_urls() {
        assert_eq!(url_key("/es/a.html"), "/es/a");
        assert_eq!(url_key("/es/a"), "/es/a");
        assert_eq!(url_key("/es/"), "/es");
        assert_eq!(url_key("/es/index.html"), "/es");
        assert_eq!(url_key("/index.html"), "/");
        assert_eq!(url_key("/"), "/");
    }

    #[test]
    fn paths_lose_the_folder_of_their_language() {
        assert_eq!(path_without_language("/es/slack", "es"), "/slack");
        assert_eq!(path_without_language("/slack", "en"), "/slack");
        assert_eq!(path_without_language("/es", "es"), "/");
        assert_eq!(
            path_without_language("/docs/ja/guide/a", "ja"),
            "/docs/guide/a"
        );
        // only the page's own language
        assert_eq!(path_without_language("/es/slack", "en"), "/es/slack");
    }

    #[test]
    fn hrefs_resolve_relative_and_absolute() {
        let base = "/en/guide/reset.html";
        assert_eq!(
            resolve_href(base, "../../es/guide/reset.html").as_deref(),
            Some("/es/guide/reset.html")
        );
        assert_eq!(
            resolve_href(base, "other.html#x").as_deref(),
            Some("/en/guide/other.html")
        );
        assert_eq!(
            resolve_href(base, "https://help.example.com/ja/guide/reset.html?x=1").as_deref(),
            Some("/ja/guide/reset.html")
        );
        assert_eq!(
            resolve_href(base, "//cdn.example.com/fr/").as_deref(),
            Some("/fr/")
        );
        assert_eq!(
            resolve_href(base, "/a%20b.html").as_deref(),
            Some("/a b.html")
        );
        assert_eq!(resolve_href(base, "mailto:x@example.com"), None);
    }

    #[test]
    fn site_suffix_is_removed_from_titles() {
        assert_eq!(
            strip_site_suffix("Reset your password · Kitebook Help Center"),
            "Reset your password"
        );
        assert_eq!(strip_site_suffix("A | B | Docs"), "A | B");
        assert_eq!(
            strip_site_suffix("Error 429 - Too many requests"),
            "Error 429 - Too many requests"
        );
        assert_eq!(strip_site_suffix(" | Docs"), "| Docs");
    }

    #[test]
    fn page_ids_drop_the_extension() {
        assert_eq!(page_id("es/reset-password.html"), "/es/reset-password");
        assert_eq!(page_id("v1.2/index.htm"), "/v1.2/index");
        assert_eq!(
            title_from_file("es/reset-your_password.html"),
            "reset your password"
        );
    }

    #[test]
    fn heading_text_and_anchor_skip_permalinks() {
        let doc = Html::parse_document(
            r##"<main>
            <h2 id="a">Install <a class="headerlink" href="#a">¶</a></h2>
            <h2><a class="anchor" href="#b" aria-hidden="true"><svg></svg></a>C# basics</h2>
            <section id="c"><h2>Sphinx style<a class="headerlink" href="#c">¶</a></h2></section>
            <a id="d"></a>
            <h3>Old style</h3>
            <h2><span class="mw-headline" id="e">Wiki style</span></h2>
            <h2>No id at all #</h2>
            </main>"##,
        );
        let hs: Vec<(String, Option<String>)> = doc
            .select(&selector("h2, h3"))
            .map(|h| (heading_text(&h), heading_anchor(&h)))
            .collect();
        assert_eq!(
            hs,
            vec![
                ("Install".to_string(), Some("a".to_string())),
                ("C# basics".to_string(), Some("b".to_string())),
                ("Sphinx style".to_string(), Some("c".to_string())),
                ("Old style".to_string(), Some("d".to_string())),
                ("Wiki style".to_string(), Some("e".to_string())),
                ("No id at all".to_string(), None),
            ]
        );
    }
}
