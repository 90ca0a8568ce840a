//! The docs shard in columns (bundle version 6, `BundleManifest::docs_columns`).
//!
//! Every visit fetches the docs shard before its first keyword result,
//! whatever the query: cross-language fusion reads any hit's language,
//! translation group and filters. As one JSON object per page and per
//! chunk, field names and all, it was 1.96 MB (95 kB gzip) on a 5,040-page
//! site, a third of a first keyword query's bytes. In columns the same
//! table is 23 kB gzip there: languages, groups and filter sets are listed
//! once and referred to by number, a chunk's page and fragment shard are
//! runs, and whether a chunk has a heading is one character.
//!
//! Only a bundle whose display fields travel in the fragment shards
//! (`display_in_fragments`) is written this way, so the columns hold no
//! page URL or title and no heading text, only whether a chunk has one.
//!
//! ```json
//! {"ids": ["/en/a", "/fr/a", "/en/b"],
//!  "langs": ["en", "fr"], "lang": [0, 1, 0],
//!  "groups": ["a"], "group": [1, 1, 0],
//!  "filter_sets": [{"product": ["Billing"]}], "filters": [1, 1, 0],
//!  "page_weights": [[2, 0.5]],
//!  "pages_of_chunks": [[0, 2], [1, 1], [1, 1]],
//!  "frags_of_chunks": [[0, 4]],
//!  "anchors": [null, "s1", null, null], "headed": "0100",
//!  "chunk_weights": [], "records": [311, 290, 402], "record_files": [3]}
//! ```
//!
//! `group` 0 is the page's own id (a page with no other version), `k` is
//! `groups[k - 1]`; `filters` 0 is none, `k` is `filter_sets[k - 1]`. The
//! run lists give `(step, count)` in chunk order: `count` chunks have the
//! previous run's value plus `step` (the first run's step is its value),
//! so a site whose chunks come page after page writes steps of 1, which
//! compress to almost nothing. `records` (version 7) is the stored length
//! of each snippet record, in order (`Docs::records`), and `record_files`
//! how many of them each `snippets` file holds.
//!
//! From version 8 there is no `ids`: each snippet record names its page
//! (`BundleManifest::ids_in_records`). A page's id is then empty until its
//! record is in, and `group` 0 is [`own_group`] of the page's number.

use std::collections::BTreeMap;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{own_group, ChunkMeta, Docs, PageMeta, HEADING_ELSEWHERE};
use crate::error::{Error, Result};

type Filters = BTreeMap<String, Vec<String>>;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Columns {
    /// Up to version 7 (from 8 the snippet records name the pages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ids: Vec<String>,
    langs: Vec<String>,
    lang: Vec<u32>,
    groups: Vec<String>,
    group: Vec<u32>,
    filter_sets: Vec<Filters>,
    filters: Vec<u32>,
    page_weights: Vec<(u32, f32)>,
    pages_of_chunks: Vec<(i64, u32)>,
    frags_of_chunks: Vec<(i64, u32)>,
    anchors: Vec<Option<String>>,
    headed: String,
    chunk_weights: Vec<(u32, f32)>,
    /// The snippet records' stored lengths (version 7, `Docs::records`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    records: Vec<u32>,
    /// Records per `snippets` file (version 7, `Docs::record_files`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    record_files: Vec<u32>,
}

/// Numbers distinct values in order of first appearance.
struct Table<T> {
    index: HashMap<T, u32>,
    values: Vec<T>,
}

impl<T: Clone + Eq + std::hash::Hash> Table<T> {
    fn new() -> Self {
        Table {
            index: HashMap::new(),
            values: Vec::new(),
        }
    }

    /// The value's number, from `base`.
    fn number(&mut self, v: &T, base: u32) -> u32 {
        let next = self.values.len() as u32;
        let n = *self.index.entry(v.clone()).or_insert_with(|| {
            self.values.push(v.clone());
            next
        });
        n + base
    }
}

/// `(step, count)` runs of `values` (see the module's doc).
fn runs(values: impl Iterator<Item = u32>) -> Vec<(i64, u32)> {
    let mut out: Vec<(i64, u32)> = Vec::new();
    let mut last: Option<u32> = None;
    for v in values {
        match (out.last_mut(), last) {
            (Some((_, n)), Some(l)) if l == v => *n += 1,
            _ => {
                out.push((v as i64 - last.unwrap_or(0) as i64, 1));
                last = Some(v);
            }
        }
    }
    out
}

/// The docs shard's bytes in columns. The display fields (page URLs and
/// titles, heading text) are not written: they travel in the fragment
/// shards; so do the page ids unless `with_ids` (version 7 and before).
pub fn to_columns(docs: &Docs, with_ids: bool) -> Vec<u8> {
    let mut langs = Table::new();
    let mut groups = Table::new();
    let mut sets = Table::new();
    let mut c = Columns::default();
    // without ids (version 8) group 0 is a page of no other version: a
    // group named by the id of one of its pages (as ingest names groups
    // of translations) is listed like any other
    let mut members: HashMap<&str, usize> = HashMap::new();
    for p in &docs.pages {
        *members.entry(p.group.as_str()).or_default() += 1;
    }
    let alone = |i: usize, p: &PageMeta| {
        p.group == own_group(i) || (p.group == p.id && (with_ids || members[p.group.as_str()] == 1))
    };
    for (i, p) in docs.pages.iter().enumerate() {
        if with_ids {
            c.ids.push(p.id.clone());
        }
        c.lang.push(langs.number(&p.lang, 0));
        c.group.push(if alone(i, p) {
            0
        } else {
            groups.number(&p.group, 1)
        });
        c.filters.push(if p.filters.is_empty() {
            0
        } else {
            sets.number(&p.filters, 1)
        });
        if let Some(w) = p.weight {
            c.page_weights.push((i as u32, w));
        }
    }
    c.langs = langs.values;
    c.groups = groups.values;
    c.filter_sets = sets.values;
    c.pages_of_chunks = runs(docs.chunks.iter().map(|ch| ch.page));
    c.frags_of_chunks = runs(docs.chunks.iter().map(|ch| ch.frag));
    c.records.clone_from(&docs.records);
    c.record_files.clone_from(&docs.record_files);
    for (i, ch) in docs.chunks.iter().enumerate() {
        c.anchors.push(ch.anchor.clone());
        c.headed.push(if ch.heading.is_empty() { '0' } else { '1' });
        if let Some(w) = ch.weight {
            c.chunk_weights.push((i as u32, w));
        }
    }
    serde_json::to_vec(&c).expect("docs columns serialise")
}

/// Expands runs to `total` values, or says what is wrong.
fn expand(name: &str, what: &str, runs: &[(i64, u32)], total: usize) -> Result<Vec<u32>> {
    let sum: u64 = runs.iter().map(|&(_, n)| n as u64).sum();
    if sum != total as u64 {
        return Err(Error::corrupt(
            name,
            format!("the {what} runs cover {sum} chunks, not {total}"),
        ));
    }
    let mut out = Vec::with_capacity(total);
    let mut value: i64 = 0;
    for &(step, n) in runs {
        value = value.saturating_add(step);
        let v = u32::try_from(value).map_err(|_| {
            Error::corrupt(name, format!("a {what} run reaches {value}, not a {what}"))
        })?;
        out.extend(std::iter::repeat_n(v, n as usize));
    }
    Ok(out)
}

/// `table[k - base]`, or what is wrong with `k`.
fn lookup<'a, T>(name: &str, what: &str, table: &'a [T], k: u32, base: u32) -> Result<&'a T> {
    k.checked_sub(base)
        .and_then(|i| table.get(i as usize))
        .ok_or_else(|| {
            Error::corrupt(
                name,
                format!("{what} {k} is not in its table of {}", table.len()),
            )
        })
}

/// Sparse `(index, weight)` pairs onto `n` items, or what is wrong.
fn weights(name: &str, what: &str, pairs: &[(u32, f32)], n: usize) -> Result<Vec<Option<f32>>> {
    let mut out = vec![None; n];
    for &(i, w) in pairs {
        let slot = out
            .get_mut(i as usize)
            .ok_or_else(|| Error::corrupt(name, format!("a weight for {what} {i}, of {n}")))?;
        *slot = Some(w);
    }
    Ok(out)
}

/// Parses the docs shard `name` written by [`to_columns`]: the table with
/// its display fields empty (a heading the fragment shards carry is
/// [`HEADING_ELSEWHERE`]), as `Docs::without_display` gives it, and, when
/// `ids_in_records` (version 8), its page ids empty too.
pub fn parse_columns(name: &str, bytes: &[u8], ids_in_records: bool) -> Result<Docs> {
    let c: Columns = serde_json::from_slice(bytes)
        .map_err(|e| Error::corrupt(name, format!("bad page table columns: {e}")))?;
    let npages = c.lang.len();
    if ids_in_records {
        if !c.ids.is_empty() {
            return Err(Error::corrupt(
                name,
                "lists page ids, which a version 8 bundle keeps in its snippet records",
            ));
        }
        if let Some(g) = c.groups.iter().find(|g| g.contains(char::is_control)) {
            return Err(Error::corrupt(
                name,
                format!("group {g:?} has a control character"),
            ));
        }
    }
    for (what, len) in [
        ("id", if ids_in_records { npages } else { c.ids.len() }),
        ("lang", c.lang.len()),
        ("group", c.group.len()),
        ("filters", c.filters.len()),
    ] {
        if len != npages {
            return Err(Error::corrupt(
                name,
                format!("{len} {what} values for {npages} pages"),
            ));
        }
    }
    let page_weights = weights(name, "page", &c.page_weights, npages)?;
    let mut pages = Vec::with_capacity(npages);
    for (i, weight) in page_weights.into_iter().enumerate() {
        let id = c.ids.get(i).cloned().unwrap_or_default();
        let group = match c.group[i] {
            0 if ids_in_records => own_group(i),
            0 => id.clone(),
            k => lookup(name, "group", &c.groups, k, 1)?.clone(),
        };
        let filters = match c.filters[i] {
            0 => Filters::new(),
            k => lookup(name, "filter set", &c.filter_sets, k, 1)?.clone(),
        };
        pages.push(PageMeta {
            id,
            url: String::new(),
            lang: lookup(name, "language", &c.langs, c.lang[i], 0)?.clone(),
            title: String::new(),
            group,
            filters,
            weight,
        });
    }
    let nchunks = c.anchors.len();
    if c.headed.len() != nchunks || c.headed.bytes().any(|b| b != b'0' && b != b'1') {
        return Err(Error::corrupt(
            name,
            format!("`headed` is not one 0 or 1 for each of {nchunks} chunks"),
        ));
    }
    let page = expand(name, "page", &c.pages_of_chunks, nchunks)?;
    let frag = expand(name, "fragment shard", &c.frags_of_chunks, nchunks)?;
    let chunk_weights = weights(name, "chunk", &c.chunk_weights, nchunks)?;
    let chunks = c
        .anchors
        .into_iter()
        .zip(c.headed.bytes())
        .enumerate()
        .map(|(i, (anchor, h))| ChunkMeta {
            page: page[i],
            anchor,
            heading: if h == b'1' {
                HEADING_ELSEWHERE.to_string()
            } else {
                String::new()
            },
            frag: frag[i],
            weight: chunk_weights[i],
        })
        .collect();
    Ok(Docs {
        pages,
        chunks,
        records: c.records,
        record_files: c.record_files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Docs {
        let mut pages = vec![
            PageMeta::new("en/a", "en", "a"),
            PageMeta::new("fr/a", "fr", "a"),
            PageMeta::new("en/b", "en", "en/b"),
            PageMeta::new("ja/c", "ja", "c"),
        ];
        pages[1]
            .filters
            .insert("product".into(), vec!["Billing".into(), "API".into()]);
        pages[3].filters = pages[1].filters.clone();
        pages[2].weight = Some(0.37);
        let chunk = |page: u32, heading: &str, frag: u32| ChunkMeta {
            page,
            anchor: (!heading.is_empty()).then(|| format!("s{page}")),
            heading: heading.into(),
            frag,
            weight: None,
        };
        let mut chunks = vec![
            chunk(0, "", 0),
            chunk(0, "Steps", 0),
            chunk(1, "", 0),
            chunk(2, "", 1),
            chunk(2, "Plans", 1),
            chunk(3, "", 3),
            chunk(1, "", 3),
        ];
        chunks[4].weight = Some(2.5);
        Docs {
            pages,
            chunks,
            ..Default::default()
        }
    }

    #[test]
    fn columns_give_back_the_table_without_its_display_fields() {
        let d = docs();
        let bytes = to_columns(&d, true);
        assert_eq!(
            parse_columns("docs", &bytes, false).unwrap(),
            d.without_display()
        );
        // and the same from the table without display fields
        assert_eq!(to_columns(&d.without_display(), true), bytes);
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains(".html") && !text.contains("Steps"), "{text}");
    }

    #[test]
    fn version_8_columns_leave_the_page_ids_to_the_records() {
        let d = docs();
        let bytes = to_columns(&d, false);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            !text.contains("en/a") && !text.contains("\"ids\""),
            "{text}"
        );
        assert!(bytes.len() < to_columns(&d, true).len());
        let parsed = parse_columns("docs", &bytes, true).unwrap();
        let mut want = d.without_display();
        for (i, p) in want.pages.iter_mut().enumerate() {
            if p.group == p.id {
                // a page of no other version is its own group, by number
                p.group = own_group(i);
            }
            p.id.clear();
        }
        assert_eq!(parsed, want);
        assert_eq!(parsed.pages[2].group, own_group(2));
        assert_eq!(parsed.pages[0].group, "a");
        // written again (ids still empty) it is the same shard
        assert_eq!(to_columns(&parsed, false), bytes);
        // a group named by the id of one of its pages keeps that page
        let mut named = d.clone();
        named.pages[0].group = "en/a".into();
        named.pages[1].group = "en/a".into();
        let back = parse_columns("docs", &to_columns(&named, false), true).unwrap();
        assert_eq!(
            (back.pages[0].group.as_str(), back.pages[1].group.as_str()),
            ("en/a", "en/a")
        );
        assert_eq!(back.pages[2].group, own_group(2));
        // a version 8 reader refuses ids in the table, and a group key
        // that could pass for a page's own
        let e = parse_columns("docs.x.json", &to_columns(&d, true), true).unwrap_err();
        assert!(
            e.to_string().contains("keeps in its snippet records"),
            "{e}"
        );
        let mut odd = d.clone();
        odd.pages[0].group = own_group(2);
        odd.pages[1].group = own_group(2);
        let e = parse_columns("docs.x.json", &to_columns(&odd, false), true).unwrap_err();
        assert!(e.to_string().contains("control character"), "{e}");
    }

    #[test]
    fn damaged_columns_say_what_is_wrong() {
        let good: serde_json::Value = serde_json::from_slice(&to_columns(&docs(), true)).unwrap();
        let bad = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            edit(&mut v);
            parse_columns("docs.x.json", &serde_json::to_vec(&v).unwrap(), false)
                .unwrap_err()
                .to_string()
        };
        assert!(bad(&|v| v["lang"][0] = 9.into()).contains("language 9 is not in its table of 3"));
        assert!(bad(&|v| v["group"][1] = 5.into()).contains("group 5"));
        assert!(bad(&|v| v["filters"][1] = 7.into()).contains("filter set 7"));
        assert!(
            bad(&|v| v["group"] = serde_json::json!([0])).contains("1 group values for 4 pages")
        );
        assert!(bad(&|v| v["ids"] = serde_json::json!(["a"])).contains("1 id values for 4 pages"));
        assert!(bad(&|v| v["pages_of_chunks"][0][1] = 5.into())
            .contains("page runs cover 10 chunks, not 7"));
        assert!(bad(&|v| v["frags_of_chunks"] = serde_json::json!([]))
            .contains("fragment shard runs cover 0"));
        assert!(bad(&|v| v["headed"] = "01".into()).contains("`headed`"));
        assert!(bad(&|v| v["headed"] = "01x0000".into()).contains("`headed`"));
        assert!(bad(&|v| v["page_weights"] = serde_json::json!([[4, 1.0]])).contains("page 4"));
        assert!(bad(&|v| v["pages"] = serde_json::json!([])).contains("bad page table columns"));
        assert!(parse_columns("docs.x.json", b"\x00not json", false)
            .unwrap_err()
            .to_string()
            .contains("docs.x.json"));
    }
}
