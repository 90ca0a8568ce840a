//! Reading Markdown sources: front matter, `##` sections with `{#anchor}`,
//! and Markdown → plain text. The body parser is also used for the
//! Markdown-ish `text` of JSONL records.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::sections::{Heading, SectionAssembler};
use super::text::{collapse_whitespace, encode_path};
use super::url::check_page_url;
use super::{
    check_groups, fallback_language, page_text, read_text_file, rel_display, resolve_translations,
    Corpus, LangSource, Page, Section,
};
use crate::lang::{check_tag, path_language, segment_language};

pub(super) fn read_site(root: &Path, files: &[PathBuf], corpus: &mut Corpus) {
    let mut pages: Vec<Page> = Vec::new();
    let mut links: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut ids: HashMap<String, String> = HashMap::new();
    for rel in files {
        let rel_str = rel_display(rel);
        let Some(src) = read_text_file(&root.join(rel), &rel_str, false, corpus) else {
            continue;
        };
        let Some((page, fm_id, translation_of)) = read_page(&rel_str, &src, corpus) else {
            continue;
        };
        if let Some(first) = ids.get(&page.id) {
            corpus.warn(
                &rel_str,
                format!(
                    "skipped: duplicate page id `{}` (already read from {first})",
                    page.id
                ),
            );
            continue;
        }
        ids.insert(page.id.clone(), rel_str);
        pages.push(page);
        links.push((fm_id, translation_of));
    }
    resolve_translations(&mut pages, &links);
    corpus.pages.extend(pages);
    check_groups(corpus);
}

/// Reads one Markdown file; also returns its front matter `id` and
/// `translation_of` for grouping.
fn read_page(
    rel: &str,
    src: &str,
    corpus: &mut Corpus,
) -> Option<(Page, Option<String>, Option<String>)> {
    let src = src.replace("\r\n", "\n").replace('\r', "\n");
    let (fm, body) = match split_front_matter(&src) {
        Ok(x) => x,
        Err(why) => {
            // its title, language and `draft: true` cannot be read: the
            // page is not published on a guess (it may be a draft)
            corpus.warn(
                rel,
                format!("skipped: {why}, so the page's metadata (title, lang, draft) cannot be read; close it with a line of its own"),
            );
            return None;
        }
    };
    let get = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| fm.get(*k))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if get(&["draft"]).is_some_and(|d| d.eq_ignore_ascii_case("true")) {
        corpus.warn(
            rel,
            "note: skipped: a draft (draft: true in the front matter)",
        );
        return None;
    }
    let mut tags = super::PageTags::default();
    if let Some(list) = get(&["crossfind_filters"]) {
        for spec in list.split(',').filter(|s| !s.trim().is_empty()) {
            if let Err(why) = tags.add_filter(spec) {
                corpus.warn(rel, format!("front matter: {why}"));
            }
        }
    }
    if let Some(w) = get(&["crossfind_weight"]) {
        if let Err(why) = tags.set_weight(&w) {
            corpus.warn(rel, format!("front matter: {why}"));
        }
    }
    let doc = parse_body(body, get(&["title"]).as_deref());
    if doc.sections.is_empty() {
        corpus.warn(rel, "skipped: the page has no text");
        return None;
    }
    let stem = strip_md_extension(rel);
    let id = stem.to_string();
    let file_url = || encode_path(&format!("/{stem}.html"));
    // Only links to pages: no `javascript:`, `data:`, `//other.host` (see url.rs).
    let url = match get(&["url", "permalink"]).map(|u| (check_page_url(&u), u)) {
        None => file_url(),
        Some((Ok(u), _)) => u,
        Some((Err(why), raw)) => {
            let fallback = file_url();
            corpus.warn(
                rel,
                format!("the front matter url {raw:?} {why}; linking to {fallback} instead"),
            );
            fallback
        }
    };

    // declared (even empty), so that an odd value is warned about
    let fm_lang = ["lang", "language", "locale"]
        .iter()
        .find_map(|k| fm.get(*k))
        .map(|v| v.trim().to_string());
    let (declared, problem) = fm_lang.as_deref().map_or((None, None), check_tag);
    let odd = |p: &str| {
        format!(
            "the front matter lang {:?} {p}",
            fm_lang.as_deref().unwrap_or_default()
        )
    };
    let (lang, lang_source) = if let Some(l) = declared {
        if let Some(p) = &problem {
            corpus.warn(rel, odd(p));
        }
        (l, LangSource::FrontMatter)
    } else if let Some(l) = path_language(rel).or_else(|| suffix_language(stem)) {
        if let Some(p) = &problem {
            corpus.warn(rel, format!("{}; using {l}, from the file's path", odd(p)));
        }
        (l, LangSource::PathPrefix)
    } else {
        let what = match &problem {
            Some(p) => odd(p),
            None => "no lang in the front matter or the path".to_string(),
        };
        fallback_language(&page_text(&doc.sections, &doc.title), &what, rel, corpus)
    };
    let fm_id = get(&["id"]);
    let base_group = get(&["group"])
        .or_else(|| fm_id.clone())
        .unwrap_or_else(|| id.clone());
    let translation_of = if get(&["group"]).is_some() {
        None
    } else {
        get(&["translation_of", "translationOf", "translation-of"])
    };
    let title = if doc.title.is_empty() {
        stem.rsplit('/')
            .next()
            .unwrap_or(stem)
            .replace(['-', '_'], " ")
    } else {
        doc.title
    };
    let sections = under_title(doc.sections, &title);
    Some((
        Page {
            id,
            url,
            lang,
            lang_source,
            title,
            group: base_group,
            sections,
            source: rel.to_string(),
            tags,
        },
        fm_id,
        translation_of,
    ))
}

fn strip_md_extension(rel: &str) -> &str {
    for ext in [".md", ".MD", ".markdown", ".Markdown"] {
        if let Some(s) = rel.strip_suffix(ext) {
            return s;
        }
    }
    rel
}

/// `guide.es` (Hugo-style `guide.es.md`) → `es`.
fn suffix_language(stem: &str) -> Option<String> {
    let name = stem.rsplit('/').next()?;
    let (_, suffix) = name.rsplit_once('.')?;
    segment_language(suffix)
}

/// Splits `---` YAML (or `+++` TOML) front matter off the top of a file.
/// Only flat `key: value` / `key = "value"` pairs are read.
fn split_front_matter(src: &str) -> Result<(HashMap<String, String>, &str), String> {
    let (delim, sep) = if src.starts_with("---\n") {
        ("---", ':')
    } else if src.starts_with("+++\n") {
        ("+++", '=')
    } else {
        return Ok((HashMap::new(), src));
    };
    let rest = &src[4..];
    let mut offset = 0;
    let mut end = None;
    for line in rest.split_inclusive('\n') {
        let t = line.trim_end();
        if t == delim || (delim == "---" && t == "...") {
            end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((fm_end, body_start)) = end else {
        return Err(format!(
            "the front matter opened with {delim} is never closed"
        ));
    };
    let mut map = HashMap::new();
    for line in rest[..fm_end].lines() {
        if line.starts_with([' ', '\t', '-', '#']) {
            continue; // nested YAML, list items, comments
        }
        if let Some((k, v)) = line.split_once(sep) {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            map.insert(k.trim().to_string(), v.to_string());
        }
    }
    Ok((map, &rest[body_start..]))
}

/// A Markdown body as sections.
pub(super) struct Document {
    /// The given title, else the (first) `#` heading, else "".
    pub title: String,
    pub sections: Vec<Section>,
}

/// `sections` with `title` as the start of their title paths where the
/// body had no title of its own.
pub(super) fn under_title(sections: Vec<Section>, title: &str) -> Vec<Section> {
    sections
        .into_iter()
        .map(|mut s| {
            if s.title_path.first().is_some_and(|t| t.is_empty()) {
                s.title_path[0] = title.to_string();
            }
            s
        })
        .collect()
}

enum Block {
    Heading(u8, String, Option<String>),
    Para(String),
    Code(String),
}

/// Parses a Markdown body: `##`/`###` headings (and `#` when there are
/// several) start sections; one `#` heading is the title.
pub(super) fn parse_body(body: &str, title: Option<&str>) -> Document {
    let blocks = blocks(body);
    let h1s: Vec<&String> = blocks
        .iter()
        .filter_map(|b| match b {
            Block::Heading(1, t, _) => Some(t),
            _ => None,
        })
        .collect();
    let split_h1 = h1s.len() > 1;
    let title = title
        .map(collapse_whitespace)
        .filter(|t| !t.is_empty())
        .or_else(|| h1s.first().map(|t| t.to_string()))
        .unwrap_or_default();
    let known: Vec<String> = blocks
        .iter()
        .filter_map(|b| match b {
            Block::Heading(_, _, Some(a)) => Some(a.clone()),
            _ => None,
        })
        .collect();
    let mut asm = SectionAssembler::new(known);
    for b in blocks {
        match b {
            Block::Heading(1, _, _) if !split_h1 => asm.text.paragraph_break(),
            Block::Heading(level, text, anchor) if level <= 3 => asm.heading(Heading {
                level,
                text,
                anchor,
                weight: None,
            }),
            Block::Heading(_, text, _) | Block::Para(text) => {
                asm.text.paragraph_break();
                asm.text.push_inline(&text);
                asm.text.paragraph_break();
            }
            Block::Code(code) => asm.text.push_preformatted(&code),
        }
    }
    let sections = asm.finish(&title);
    Document { title, sections }
}

fn fence_marker(trimmed: &str) -> Option<(char, usize)> {
    let c = trimmed.chars().next()?;
    if c != '`' && c != '~' {
        return None;
    }
    let n = trimmed.chars().take_while(|&x| x == c).count();
    (n >= 3).then_some((c, n))
}

fn is_thematic_break(t: &str) -> bool {
    let t: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    t.len() >= 3
        && (t.chars().all(|c| c == '-')
            || t.chars().all(|c| c == '*')
            || t.chars().all(|c| c == '_'))
}

/// The content of a list item line (`- x`, `* x`, `+ x`, `1. x`, `2) x`),
/// without a task box.
fn list_item(t: &str) -> Option<&str> {
    let rest = if let Some(r) = t.strip_prefix(['-', '*', '+']) {
        r
    } else {
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        t[digits..].strip_prefix(['.', ')'])?
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let rest = rest.trim_start();
    for task in ["[ ] ", "[x] ", "[X] "] {
        if let Some(r) = rest.strip_prefix(task) {
            return Some(r);
        }
    }
    Some(rest)
}

/// `Text {#anchor .class}` → (`Text`, Some(`anchor`)).
fn heading_attributes(text: &str) -> (String, Option<String>) {
    let t = text.trim_end();
    if t.ends_with('}') {
        if let Some(open) = t.rfind('{') {
            let inner = &t[open + 1..t.len() - 1];
            let tokens: Vec<&str> = inner.split_whitespace().collect();
            if !tokens.is_empty()
                && tokens
                    .iter()
                    .all(|tok| tok.starts_with('#') || tok.starts_with('.') || tok.contains('='))
            {
                let anchor = tokens
                    .iter()
                    .find_map(|tok| tok.strip_prefix('#'))
                    .filter(|a| !a.is_empty())
                    .map(str::to_string);
                return (t[..open].trim_end().to_string(), anchor);
            }
        }
    }
    (t.to_string(), None)
}

fn blocks(body: &str) -> Vec<Block> {
    let lines: Vec<&str> = body.lines().collect();
    let mut out = Vec::new();
    let mut para: Vec<String> = Vec::new();
    let mut para_is_item = false;
    let flush = |para: &mut Vec<String>, out: &mut Vec<Block>| {
        if !para.is_empty() {
            let text = inline_to_text(&para.join(" "));
            if !text.is_empty() {
                out.push(Block::Para(text));
            }
            para.clear();
        }
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let mut t = line.trim_start();
        let indent = line.len() - t.len();

        if let Some((c, n)) = fence_marker(t) {
            flush(&mut para, &mut out);
            let mut code = Vec::new();
            while i < lines.len() {
                let l = lines[i].trim();
                i += 1;
                if fence_marker(l).is_some_and(|(c2, n2)| c2 == c && n2 >= n)
                    && l.trim_start_matches(c).trim().is_empty()
                {
                    break;
                }
                code.push(lines[i - 1]);
            }
            out.push(Block::Code(code.join("\n")));
            continue;
        }
        if let Some(comment) = t.strip_prefix("<!--") {
            flush(&mut para, &mut out);
            let mut l = comment;
            while !l.contains("-->") && i < lines.len() {
                l = lines[i];
                i += 1;
            }
            // text after the comment on its last line is read as usual
            let after = l.split_once("-->").map_or("", |(_, a)| a.trim());
            if !after.is_empty() {
                para.push(after.to_string());
            }
            continue;
        }
        // Raw HTML whose content readers never see (a script, a style
        // sheet, a template): skipped up to its end tag, blank lines and
        // all, as a browser would; the text after it on that line is read.
        if let Some(name) = hidden_element_at(t) {
            flush(&mut para, &mut out);
            let mut l = t;
            let mut end = hidden_element_end(l, name);
            while end.is_none() && i < lines.len() {
                l = lines[i];
                i += 1;
                end = find_ascii_ci(l, &format!("</{name}")).map(|p| close_after(l, p));
            }
            let after = end.map_or("", |e| l[e..].trim());
            if !after.is_empty() {
                para.push(after.to_string());
            }
            continue;
        }
        if t.is_empty() {
            flush(&mut para, &mut out);
            continue;
        }
        // Blockquotes: read what is inside.
        while let Some(r) = t.strip_prefix('>') {
            t = r.trim_start();
        }
        if t.is_empty() {
            flush(&mut para, &mut out);
            continue;
        }
        if indent <= 3 && t.starts_with('#') {
            let hashes = t.chars().take_while(|&c| c == '#').count();
            let rest = &t[hashes..];
            if hashes <= 6 && (rest.is_empty() || rest.starts_with([' ', '\t'])) {
                flush(&mut para, &mut out);
                let rest = rest.trim();
                // Closing hashes: "## Title ##".
                let rest = match rest.trim_end_matches('#') {
                    r if r.ends_with(' ') || r.is_empty() => r.trim_end(),
                    _ => rest,
                };
                let (text, anchor) = heading_attributes(rest);
                let text = inline_to_text(&text);
                if !text.is_empty() {
                    out.push(Block::Heading(hashes as u8, text, anchor));
                }
                continue;
            }
        }
        // Setext headings: "Title" underlined with === or ---.
        if !para.is_empty() && !para_is_item && indent <= 3 {
            let level = if !t.is_empty() && t.trim_end().chars().all(|c| c == '=') {
                Some(1)
            } else if t.trim_end().chars().all(|c| c == '-') {
                Some(2)
            } else {
                None
            };
            if let Some(level) = level {
                let (text, anchor) = heading_attributes(&para.join(" "));
                para.clear();
                let text = inline_to_text(&text);
                if !text.is_empty() {
                    out.push(Block::Heading(level, text, anchor));
                }
                continue;
            }
        }
        if is_thematic_break(t) {
            flush(&mut para, &mut out);
            continue;
        }
        // Link reference definitions, shortcodes, admonition fences.
        let is_reference_definition =
            t.starts_with('[') && t.find("]:").is_some_and(|p| !t[1..p].contains(['[', ']']));
        if is_reference_definition || t.starts_with("{{<") || t.starts_with("{{%") {
            flush(&mut para, &mut out);
            continue;
        }
        if let Some(r) = t
            .strip_prefix(":::")
            .or_else(|| t.strip_prefix("!!!"))
            .or_else(|| t.strip_prefix("???"))
        {
            flush(&mut para, &mut out);
            // `:::note Title` / `!!! note "Title"`: keep a title, drop the kind.
            let title = r
                .trim()
                .trim_start_matches(|c: char| c.is_alphanumeric() || c == '+' || c == '-');
            let title = title.trim().trim_matches('"');
            if !title.is_empty() {
                out.push(Block::Para(inline_to_text(title)));
            }
            continue;
        }
        // Tables.
        if t.starts_with('|') {
            flush(&mut para, &mut out);
            if t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t')) {
                continue;
            }
            let cells: Vec<String> = t
                .trim_matches('|')
                .split('|')
                .map(inline_to_text)
                .filter(|c| !c.is_empty())
                .collect();
            if !cells.is_empty() {
                out.push(Block::Para(cells.join(" | ")));
            }
            continue;
        }
        if let Some(item) = list_item(t) {
            flush(&mut para, &mut out);
            para.push(item.to_string());
            para_is_item = true;
            continue;
        }
        if para.is_empty() {
            para_is_item = false;
        }
        para.push(t.to_string());
    }
    flush(&mut para, &mut out);
    out
}

/// Finds the `]` closing the `[` at `open` (nesting and escapes respected).
fn closing_bracket(chars: &[char], open: usize, o: char, c: char) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            x if x == o => depth += 1,
            x if x == c => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `[label](url)`, `[label][ref]` or `[label]` at `open`: the label and the
/// index after the construct.
fn link_at(chars: &[char], open: usize) -> Option<(String, usize)> {
    let close = closing_bracket(chars, open, '[', ']')?;
    let label: String = chars[open + 1..close].iter().collect();
    match chars.get(close + 1) {
        Some('(') => {
            let end = closing_bracket(chars, close + 1, '(', ')')?;
            Some((label, end + 1))
        }
        Some('[') => {
            let end = closing_bracket(chars, close + 1, '[', ']')?;
            Some((label, end + 1))
        }
        _ => Some((label, close + 1)),
    }
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = if let Some(hex) = num.strip_prefix(['x', 'X']) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            num.parse().ok()?
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "rarr" => '→',
        "larr" => '←',
        _ => return None,
    })
}

/// Elements whose content a browser does not show as text.
const HIDDEN_ELEMENTS: [&str; 4] = ["script", "style", "template", "noscript"];

/// The hidden element (`HIDDEN_ELEMENTS`) whose start tag `s` begins with.
fn hidden_element_at(s: &str) -> Option<&'static str> {
    let rest = s.strip_prefix('<')?;
    HIDDEN_ELEMENTS.into_iter().find(|name| {
        rest.get(..name.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(name))
            && rest[name.len()..]
                .chars()
                .next()
                .is_none_or(|c| c == '>' || c == '/' || c.is_ascii_whitespace())
    })
}

/// Where the element `name` that `s` starts ends: just after its end tag.
fn hidden_element_end(s: &str, name: &str) -> Option<usize> {
    let from = name.len() + 1;
    find_ascii_ci(&s[from..], &format!("</{name}")).map(|p| close_after(s, from + p))
}

/// Just after the `>` that closes the tag starting at byte `at` of `l`
/// (the line's end if it has none).
fn close_after(l: &str, at: usize) -> usize {
    l[at..].find('>').map_or(l.len(), |p| at + p + 1)
}

/// The byte offset of `needle` (ASCII) in `hay`, ignoring ASCII case.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    (0..=h.len().checked_sub(n.len())?).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Inline Markdown → plain text: emphasis markers dropped, links and
/// inline code keep their text, images, footnote marks and HTML tags go,
/// escapes and entities are decoded; whitespace is collapsed.
pub(super) fn inline_to_text(s: &str) -> String {
    inline_to_text_at(s, 0)
}

fn inline_to_text_at(s: &str, depth: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < n {
        let c = chars[i];
        match c {
            '\\' if i + 1 < n && chars[i + 1].is_ascii_punctuation() => {
                out.push(chars[i + 1]);
                i += 2;
            }
            '`' => {
                let run = chars[i..].iter().take_while(|&&x| x == '`').count();
                let mut j = i + run;
                let mut found = None;
                while j < n {
                    if chars[j] == '`' {
                        let r = chars[j..].iter().take_while(|&&x| x == '`').count();
                        if r == run {
                            found = Some(j);
                            break;
                        }
                        j += r;
                    } else {
                        j += 1;
                    }
                }
                match found {
                    Some(j) => {
                        let code: String = chars[i + run..j].iter().collect();
                        out.push_str(&code);
                        i = j + run;
                    }
                    None => {
                        out.extend(&chars[i..i + run]);
                        i += run;
                    }
                }
            }
            '!' if chars.get(i + 1) == Some(&'[') => match link_at(&chars, i + 1) {
                Some((_, after)) => i = after,
                None => {
                    out.push('!');
                    i += 1;
                }
            },
            '[' => match link_at(&chars, i) {
                Some((label, after)) if label.starts_with('^') => i = after,
                Some((label, after)) if depth >= 16 => {
                    out.push_str(&label);
                    i = after;
                }
                Some((label, after)) => {
                    out.push_str(&inline_to_text_at(&label, depth + 1));
                    i = after;
                }
                None => {
                    out.push('[');
                    i += 1;
                }
            },
            '<' if chars[i..].starts_with(&['<', '!', '-', '-']) => {
                // a comment, whatever it holds, up to `-->` (or the end)
                let rest: String = chars[i + 4..].iter().collect();
                i = match rest.find("-->") {
                    Some(p) => i + 4 + rest[..p].chars().count() + 3,
                    None => n,
                };
                out.push(' ');
            }
            '<' if hidden_element_at(&chars[i..].iter().take(16).collect::<String>()).is_some() => {
                // a script, style sheet or template: its content is not text
                let rest: String = chars[i..].iter().collect();
                let name = hidden_element_at(&rest).unwrap_or("script");
                i = match hidden_element_end(&rest, name) {
                    Some(e) => i + rest[..e].chars().count(),
                    None => n,
                };
                out.push(' ');
            }
            '<' => {
                let end = chars[i..].iter().position(|&x| x == '>').map(|p| i + p);
                let inner: String = end.map_or(String::new(), |e| chars[i + 1..e].iter().collect());
                let is_autolink = !inner.contains(char::is_whitespace)
                    && (inner.starts_with("http://")
                        || inner.starts_with("https://")
                        || inner.starts_with("mailto:")
                        || (inner.contains('@') && !inner.starts_with('/')));
                let is_tag = inner
                    .chars()
                    .next()
                    .is_some_and(|f| f.is_ascii_alphabetic() || f == '/' || f == '!');
                match end {
                    Some(e) if is_autolink => {
                        out.push_str(inner.trim_start_matches("mailto:"));
                        i = e + 1;
                    }
                    Some(e) if is_tag => {
                        // Block-level tags separate words.
                        out.push(' ');
                        i = e + 1;
                    }
                    _ => {
                        out.push('<');
                        i += 1;
                    }
                }
            }
            '*' | '_' | '~' => {
                let run = chars[i..].iter().take_while(|&&x| x == c).count();
                let prev = if i == 0 { ' ' } else { chars[i - 1] };
                let next = chars.get(i + run).copied().unwrap_or(' ');
                let literal = (c == '~' && run < 2)
                    || (c == '_' && prev.is_alphanumeric() && next.is_alphanumeric())
                    || (prev.is_whitespace() && next.is_whitespace());
                if literal {
                    out.extend(&chars[i..i + run]);
                }
                i += run;
            }
            '&' => {
                let semi = chars[i..].iter().take(12).position(|&x| x == ';');
                let decoded = semi.and_then(|p| {
                    let name: String = chars[i + 1..i + p].iter().collect();
                    decode_entity(&name).map(|ch| (ch, p))
                });
                match decoded {
                    Some((ch, p)) => {
                        out.push(ch);
                        i += p + 1;
                    }
                    None => {
                        out.push('&');
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    collapse_whitespace(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_markdown_becomes_plain_text() {
        assert_eq!(
            inline_to_text(
                "Open **Settings > Security** and [read this](/en/x.html#y), `code *here*`."
            ),
            "Open Settings > Security and read this, code *here*."
        );
        assert_eq!(
            inline_to_text("snake_case_name and _emph_ and 2 * 3"),
            "snake_case_name and emph and 2 * 3"
        );
        assert_eq!(
            inline_to_text("![logo](x.png) Hi<br>there &amp; <https://a.example/b>"),
            "Hi there & https://a.example/b"
        );
        assert_eq!(
            inline_to_text("Footnote[^1] and \\*literal\\* ~~gone~~"),
            "Footnote and *literal* gone"
        );
        assert_eq!(
            inline_to_text("[nested [link]](u) [ref][r]"),
            "nested link ref"
        );
    }

    #[test]
    fn raw_html_that_readers_never_see_is_not_text() {
        // a script, a style sheet, a template and comments, as raw HTML in
        // Markdown: their content must not reach the index or a snippet
        let doc = parse_body(
            "# Embedding\n\nPaste the snippet.\n\n<script>\n  key = \"SECRET1\";\n\n  document.write(\"<b>x</b>\");\n</script>\n\n<STYLE media=\"all\">\n.banner { color: SECRET2; }\n</style> After the style.\n\nInline <!-- reviewer: x > y, SECRET3 --> and on, <script>SECRET4()</script>then <template><p>SECRET5</p></template>done.\n\n<!-- a block\ncomment SECRET6 --> Kept.\n\n<noscript>SECRET7</noscript>\n\n```html\n<script src=\"/crossfind/crossfind.js\"></script>\n```\n\nUse `<style>` in code.\n",
            None,
        );
        let text: Vec<&str> = doc.sections.iter().map(|s| s.text.as_str()).collect();
        let all = text.join("\n");
        for secret in [
            "SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5", "SECRET6", "SECRET7",
        ] {
            assert!(!all.contains(secret), "{secret} leaked into {all:?}");
        }
        assert_eq!(
            all,
            "Paste the snippet.\nAfter the style.\nInline and on, then done.\nKept.\n<script src=\"/crossfind/crossfind.js\"></script>\nUse <style> in code."
        );
    }

    #[test]
    fn headings_read_anchor_attributes() {
        assert_eq!(
            heading_attributes("Before you start {#before-you-start}"),
            ("Before you start".into(), Some("before-you-start".into()))
        );
        assert_eq!(
            heading_attributes("Styled {.wide #id2}"),
            ("Styled".into(), Some("id2".into()))
        );
        assert_eq!(
            heading_attributes("Using {braces} here"),
            ("Using {braces} here".into(), None)
        );
        assert_eq!(heading_attributes("Object {}"), ("Object {}".into(), None));
    }

    #[test]
    fn body_splits_into_sections_with_code_and_lists() {
        let doc = parse_body(
            "# Reset your password\n\nIntro *text*.\n\n## Before you start {#before}\n- one\n- **two**\n  continued\n\n```sh\nkite reset --all\n```\n\n### Details\nSetext below\n\nOther\n-----\nLast | line\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
            None,
        );
        assert_eq!(doc.title, "Reset your password");
        let got: Vec<(Option<&str>, &str, &str)> = doc
            .sections
            .iter()
            .map(|s| (s.anchor.as_deref(), s.heading.as_str(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (None, "", "Intro text."),
                (
                    Some("before"),
                    "Before you start",
                    "one\ntwo continued\nkite reset --all"
                ),
                (Some("details"), "Details", "Setext below"),
                (Some("other"), "Other", "Last | line\na | b\n1 | 2"),
            ]
        );
        assert_eq!(
            doc.sections[2].title_path,
            vec!["Reset your password", "Before you start", "Details"]
        );
        assert!(doc.sections[2].anchor_synthetic);
        assert!(!doc.sections[1].anchor_synthetic);
    }

    #[test]
    fn front_matter_is_split_off() {
        let (fm, body) =
            split_front_matter("---\nid: x\ntitle: \"A: b\"\ntags:\n  - t\n---\nBody\n").unwrap();
        assert_eq!(fm["id"], "x");
        assert_eq!(fm["title"], "A: b");
        assert!(!fm.contains_key("  - t"));
        assert_eq!(body, "Body\n");
        assert!(split_front_matter("---\nid: x\nBody\n").is_err());
        assert_eq!(
            split_front_matter("No front matter").unwrap().1,
            "No front matter"
        );
    }
}
