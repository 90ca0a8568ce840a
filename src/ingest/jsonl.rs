//! Reading a JSONL export: one page per line,
//! `{"id", "lang", "title", "url", "text", "group"?, "translation_of"?}`.
//! `text` may use Markdown (`## Heading {#anchor}` starts a section).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::markdown::parse_body;
use super::text::collapse_whitespace;
use super::url::check_page_url;
use super::{
    check_groups, decode, fallback_language, io_error, page_text, resolve_translations, Corpus,
    LangSource, Page, MAX_FILE_BYTES,
};
use crate::lang::check_tag;
use crate::Error;

pub(super) fn read_file(path: &Path, corpus: &mut Corpus) -> Result<(), Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let (text, note) = decode(&bytes, false);
    if let Some(n) = note {
        corpus.warn(&name, n);
    }
    let Some(text) = text else {
        return Err(Error::Input(format!(
            "`{}` is not a text file, so not JSONL",
            path.display()
        )));
    };

    let mut pages: Vec<Page> = Vec::new();
    let mut links: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let at = format!("{name}:{line_no}");
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.len() as u64 > MAX_FILE_BYTES {
            corpus.warn(
                &at,
                format!(
                    "skipped line {line_no}: it is over the {} MB limit for one page",
                    MAX_FILE_BYTES / (1024 * 1024)
                ),
            );
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                corpus.warn(&at, format!("skipped line {line_no}: not valid JSON ({e})"));
                continue;
            }
        };
        let Some(obj) = value.as_object() else {
            corpus.warn(
                &at,
                format!("skipped line {line_no}: expected a JSON object"),
            );
            continue;
        };
        let field = |k: &str| -> Option<String> {
            match obj.get(k)? {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
            .filter(|s| !s.is_empty())
        };
        let Some(id) = field("id") else {
            corpus.warn(
                &at,
                format!("skipped line {line_no}: no \"id\" (a non-empty string)"),
            );
            continue;
        };
        let Some(body) = obj.get("text").and_then(Value::as_str) else {
            corpus.warn(
                &at,
                format!("skipped line {line_no} (id {id:?}): no \"text\" string"),
            );
            continue;
        };
        if let Some(first) = ids.get(&id) {
            corpus.warn(
                &at,
                format!("skipped line {line_no}: duplicate page id {id:?} (first on line {first})"),
            );
            continue;
        }
        let title_field = field("title").map(|t| collapse_whitespace(&t));
        let doc = parse_body(body, title_field.as_deref());
        if doc.sections.is_empty() {
            corpus.warn(
                &at,
                format!("skipped line {line_no} (id {id:?}): the text is empty"),
            );
            continue;
        }
        let title = if doc.title.is_empty() {
            id.clone()
        } else {
            doc.title
        };
        let sections = super::markdown::under_title(doc.sections, &title);
        let url = field("url").unwrap_or_else(|| {
            corpus.warn(
                &at,
                format!("line {line_no} (id {id:?}) has no \"url\"; using the id as the URL"),
            );
            id.clone()
        });
        // Only links to pages: no `javascript:`, `data:`, `//other.host` (see url.rs).
        let url = match check_page_url(&url) {
            Ok(u) => u,
            Err(why) => {
                corpus.warn(
                    &at,
                    format!("skipped line {line_no} (id {id:?}): its \"url\" {url:?} {why}"),
                );
                continue;
            }
        };
        // declared (even empty), so that an odd value is warned about
        let lang_field = match obj.get("lang") {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let (declared, problem) = lang_field.as_deref().map_or((None, None), check_tag);
        let (lang, lang_source) = match declared {
            Some(l) => {
                if let Some(p) = &problem {
                    let bad = lang_field.as_deref().unwrap_or_default();
                    corpus.warn(&at, format!("\"lang\" {bad:?} {p}"));
                }
                (l, LangSource::Field)
            }
            None => {
                let what = match (&lang_field, &problem) {
                    (Some(bad), Some(p)) => format!("\"lang\" {bad:?} {p}"),
                    _ => "no \"lang\" field".to_string(),
                };
                fallback_language(&page_text(&sections, &title), &what, &at, corpus)
            }
        };
        let mut tags = super::PageTags::default();
        match obj.get("filters") {
            None | Some(Value::Null) => {}
            Some(Value::Object(f)) => {
                for (key, v) in f {
                    let values: Vec<&str> = match v {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                        _ => vec![],
                    };
                    if values.is_empty() {
                        corpus.warn(&at, format!("\"filters\".{key:?} is not a string or an array of strings; left out"));
                    }
                    for v in values {
                        if let Err(why) = tags.add_filter_value(key, v) {
                            corpus.warn(&at, why);
                        }
                    }
                }
            }
            Some(_) => corpus.warn(
                &at,
                "\"filters\" is not an object of key: value(s) (e.g. {\"version\": \"2.0\"}); left out",
            ),
        }
        if let Some(w) = field("weight") {
            if let Err(why) = tags.set_weight(&w) {
                corpus.warn(&at, why);
            }
        }
        let group = field("group");
        let translation_of = if group.is_some() {
            None
        } else {
            field("translation_of")
        };
        ids.insert(id.clone(), line_no);
        links.push((None, translation_of));
        pages.push(Page {
            group: group.unwrap_or_else(|| id.clone()),
            id,
            url,
            lang,
            lang_source,
            title,
            sections,
            source: at,
            tags,
        });
    }
    resolve_translations(&mut pages, &links);
    corpus.pages.extend(pages);
    check_groups(corpus);
    Ok(())
}
