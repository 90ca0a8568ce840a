//! HTML parsing in time linear in the size of the page, whatever its
//! nesting.
//!
//! html5ever's tree builder walks its stack of open elements on most tags
//! (is a `<p>` open in button scope? is this end tag's element in scope?),
//! as the HTML standard writes the algorithm, so a page of deeply nested
//! elements takes time quadratic in its depth: 100,000 nested `<div>`s
//! (1.1 MB, well under the page size limit) took 35 s. Browsers bound this by
//! capping the DOM depth at 512 (Chromium's and WebKit's
//! `maximumHTMLParserDOMTreeDepth`); html5ever has no cap and its stack is
//! not ours to change. So:
//!
//! 1. [`parse`] feeds the page to html5ever in pieces through a tree sink
//!    that measures the depth of every element it inserts in the tree it
//!    builds (the open-element stack is, up to foster parenting, a chain of
//!    the current node's ancestors), and gives up as soon as one is deeper
//!    than [`MAX_PARSE_DEPTH`]. Up to that depth every tag costs at most
//!    that many steps: linear.
//! 2. A page that was too deep is [`flatten`]ed, a linear pass over its tags
//!    that keeps the outer [`FLAT_DEPTH`] levels and drops the tags (not
//!    the text) below them, a block's tag becoming a line break; content
//!    that is never page text there (`<nav>`, `<script>`, `hidden`, ...)
//!    is left out whole. It estimates the parser's stack with the usual
//!    implied end tags; where it is wrong, step 1 on the flattened page
//!    still bounds the time, and the page is skipped with a warning.
//!
//! Pages of ordinary depth are parsed exactly as before.

use std::cell::{Cell, Ref};
use std::collections::HashMap;
use std::rc::Rc;

use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{Attribute, QualName};
use scraper::{Html, HtmlTreeSink};

/// Elements nested deeper than this make [`parse`] give up on a page.
pub const MAX_PARSE_DEPTH: usize = 512;

/// Levels of elements [`flatten`] keeps (the parser adds `html`, `body` and
/// the implied ones above them; half of [`MAX_PARSE_DEPTH`] leaves room).
pub const FLAT_DEPTH: usize = 256;

/// Bytes handed to the parser between two depth checks.
const PIECE: usize = 16 * 1024;

type Handle = <HtmlTreeSink as TreeSink>::Handle;

/// scraper's tree sink, measuring the depth of each element it inserts.
struct DepthSink {
    inner: HtmlTreeSink,
    too_deep: Rc<Cell<bool>>,
}

impl DepthSink {
    /// Marks the page too deep if an element put under `parent` is deeper
    /// than [`MAX_PARSE_DEPTH`]. Walks at most that many ancestors.
    fn check_under(&self, parent: &Handle) {
        if self.too_deep.get() {
            return;
        }
        let html = self.inner.0.borrow();
        if let Some(node) = html.tree.get(*parent) {
            // the parent and its ancestors (the document node included)
            // are the new element's ancestors
            let depth = node.ancestors().take(MAX_PARSE_DEPTH + 1).count() + 1;
            if depth > MAX_PARSE_DEPTH {
                self.too_deep.set(true);
            }
        }
    }

    /// The parent `sibling` has (or will give a node inserted before it).
    fn parent_of(&self, sibling: &Handle) -> Option<Handle> {
        let html = self.inner.0.borrow();
        html.tree.get(*sibling)?.parent().map(|p| p.id())
    }
}

impl TreeSink for DepthSink {
    type Handle = Handle;
    type Output = Html;
    type ElemName<'a> = Ref<'a, QualName>;

    fn finish(self) -> Html {
        self.inner.finish()
    }
    fn parse_error(&self, msg: std::borrow::Cow<'static, str>) {
        self.inner.parse_error(msg)
    }
    fn get_document(&self) -> Handle {
        self.inner.get_document()
    }
    fn elem_name<'a>(&'a self, target: &'a Handle) -> Ref<'a, QualName> {
        self.inner.elem_name(target)
    }
    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> Handle {
        self.inner.create_element(name, attrs, flags)
    }
    fn create_comment(&self, text: StrTendril) -> Handle {
        self.inner.create_comment(text)
    }
    fn create_pi(&self, target: StrTendril, data: StrTendril) -> Handle {
        self.inner.create_pi(target, data)
    }
    fn append(&self, parent: &Handle, child: NodeOrText<Handle>) {
        if matches!(child, NodeOrText::AppendNode(_)) {
            self.check_under(parent);
        }
        self.inner.append(parent, child)
    }
    fn append_based_on_parent_node(
        &self,
        element: &Handle,
        prev_element: &Handle,
        child: NodeOrText<Handle>,
    ) {
        if matches!(child, NodeOrText::AppendNode(_)) {
            match self.parent_of(element) {
                Some(p) => self.check_under(&p),
                None => self.check_under(prev_element),
            }
        }
        self.inner
            .append_based_on_parent_node(element, prev_element, child)
    }
    fn append_doctype_to_document(
        &self,
        name: StrTendril,
        public_id: StrTendril,
        system_id: StrTendril,
    ) {
        self.inner
            .append_doctype_to_document(name, public_id, system_id)
    }
    fn mark_script_already_started(&self, node: &Handle) {
        self.inner.mark_script_already_started(node)
    }
    fn pop(&self, node: &Handle) {
        self.inner.pop(node)
    }
    fn get_template_contents(&self, target: &Handle) -> Handle {
        self.inner.get_template_contents(target)
    }
    fn same_node(&self, x: &Handle, y: &Handle) -> bool {
        self.inner.same_node(x, y)
    }
    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.inner.set_quirks_mode(mode)
    }
    fn append_before_sibling(&self, sibling: &Handle, new_node: NodeOrText<Handle>) {
        if matches!(new_node, NodeOrText::AppendNode(_)) {
            if let Some(p) = self.parent_of(sibling) {
                self.check_under(&p);
            }
        }
        self.inner.append_before_sibling(sibling, new_node)
    }
    fn add_attrs_if_missing(&self, target: &Handle, attrs: Vec<Attribute>) {
        self.inner.add_attrs_if_missing(target, attrs)
    }
    fn associate_with_form(
        &self,
        target: &Handle,
        form: &Handle,
        nodes: (&Handle, Option<&Handle>),
    ) {
        self.inner.associate_with_form(target, form, nodes)
    }
    fn remove_from_parent(&self, target: &Handle) {
        self.inner.remove_from_parent(target)
    }
    fn reparent_children(&self, node: &Handle, new_parent: &Handle) {
        self.check_under(new_parent);
        self.inner.reparent_children(node, new_parent)
    }
    fn is_mathml_annotation_xml_integration_point(&self, handle: &Handle) -> bool {
        self.inner
            .is_mathml_annotation_xml_integration_point(handle)
    }
    fn set_current_line(&self, line_number: u64) {
        self.inner.set_current_line(line_number)
    }
    fn allow_declarative_shadow_roots(&self, intended_parent: &Handle) -> bool {
        self.inner.allow_declarative_shadow_roots(intended_parent)
    }
    fn attach_declarative_shadow(
        &self,
        location: &Handle,
        template: &Handle,
        attrs: &[Attribute],
    ) -> bool {
        self.inner
            .attach_declarative_shadow(location, template, attrs)
    }
    fn maybe_clone_an_option_into_selectedcontent(&self, option: &Handle) {
        self.inner
            .maybe_clone_an_option_into_selectedcontent(option)
    }
}

/// Parses a document as `Html::parse_document` does, or `None` as soon as
/// an element is nested deeper than [`MAX_PARSE_DEPTH`].
pub fn parse(src: &str) -> Option<Html> {
    let too_deep = Rc::new(Cell::new(false));
    let sink = DepthSink {
        inner: HtmlTreeSink::new(Html::new_document()),
        too_deep: too_deep.clone(),
    };
    let mut parser = html5ever::driver::parse_document(sink, Default::default());
    let mut rest = src;
    while !rest.is_empty() {
        let mut cut = rest.len().min(PIECE);
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        parser.process(StrTendril::from_slice(&rest[..cut]));
        if too_deep.get() {
            return None;
        }
        rest = &rest[cut..];
    }
    let html = parser.finish();
    (!too_deep.get()).then_some(html)
}

/// Elements with no content and no end tag.
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Elements whose content is raw text up to their end tag (in HTML, not
/// inside `<svg>`/`<math>`).
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// Start tags that close an open `<p>`.
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "li",
    "dd",
    "dt",
    "listing",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "search",
    "section",
    "summary",
    "table",
    "ul",
];

const HEADINGS: &[&str] = &["h1", "h2", "h3", "h4", "h5", "h6"];

/// How far below the top of the estimated stack an implied end is looked
/// for (bounded, so that the pass stays linear).
const SCAN: usize = 8;

/// A tag found in the source.
struct Tag {
    name: String,
    end: bool,
    self_closing: bool,
    /// Byte range of the attributes inside the tag.
    attrs: (usize, usize),
    /// Bytes of the whole tag from its `<`.
    len: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// The tag at the start of `s` (which starts with `<`), or `None` when the
/// `<` does not open a start or end tag.
fn tag_at(s: &str) -> Option<Tag> {
    let b = s.as_bytes();
    let end = b.get(1) == Some(&b'/');
    let mut j = if end { 2 } else { 1 };
    if !b.get(j).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let start = j;
    while j < b.len() && !is_space(b[j]) && b[j] != b'/' && b[j] != b'>' {
        j += 1;
    }
    let name = s[start..j].to_ascii_lowercase();
    let attrs_start = j;
    loop {
        j = skip_separators(b, j);
        if j >= b.len() {
            break;
        }
        if b[j] == b'>' {
            j += 1;
            break;
        }
        j = attribute_at(s, j).end;
    }
    let closed = j <= b.len() && j >= 2 && b[j - 1] == b'>';
    let self_closing = closed && b[j - 2] == b'/';
    let attrs_end = if closed { j - 1 } else { j };
    Some(Tag {
        name,
        end,
        self_closing,
        attrs: (attrs_start, attrs_end.max(attrs_start)),
        len: j,
    })
}

/// Spaces and `/` between attributes: where the next attribute (or the
/// tag's `>`) starts at or after `j`.
fn skip_separators(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && (is_space(b[j]) || b[j] == b'/') {
        j += 1;
    }
    j
}

/// One attribute of a tag, as byte ranges of the source.
struct Attr {
    name: (usize, usize),
    /// Without its quotes; empty when the attribute has no value.
    value: (usize, usize),
    /// Where the attribute ends.
    end: usize,
}

/// The attribute starting at `j` in `s` (inside a tag, not at a space, `/`
/// or `>`): a name, which may start with `=`, then optionally `=` and a
/// quoted or unquoted value, as the tokenizer reads them.
fn attribute_at(s: &str, start: usize) -> Attr {
    let b = s.as_bytes();
    let mut j = start + 1;
    while j < b.len() && !is_space(b[j]) && !matches!(b[j], b'/' | b'>' | b'=') {
        j += 1;
    }
    let name = (start, j);
    while j < b.len() && is_space(b[j]) {
        j += 1;
    }
    let mut value = (j, j);
    if j < b.len() && b[j] == b'=' {
        j += 1;
        while j < b.len() && is_space(b[j]) {
            j += 1;
        }
        match b.get(j) {
            Some(&q @ (b'"' | b'\'')) => {
                let close = s[j + 1..].find(q as char).map_or(b.len(), |k| j + 1 + k);
                value = (j + 1, close);
                j = (close + 1).min(b.len());
            }
            _ => {
                let v = j;
                while j < b.len() && !is_space(b[j]) && b[j] != b'>' {
                    j += 1;
                }
                value = (v, j);
            }
        }
    }
    Attr {
        name,
        value,
        end: j,
    }
}

/// The attributes in `s` (the inside of a tag after its name, as
/// [`Tag::attrs`] delimits it): lowercased names and raw values.
fn attributes(s: &str) -> Vec<(String, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut j = skip_separators(b, 0);
    while j < b.len() {
        let a = attribute_at(s, j);
        out.push((
            s[a.name.0..a.name.1].to_ascii_lowercase(),
            s[a.value.0..a.value.1].to_string(),
        ));
        j = skip_separators(b, a.end);
    }
    out
}

/// Where the end of raw text content for `name` starts in `s` (its
/// `</name` end tag), or `s.len()`.
fn raw_text_end(s: &str, name: &str) -> usize {
    if name == "script" {
        return script_end(s);
    }
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(k) = s[from..].find("</") {
        let at = from + k;
        let after = at + 2 + name.len();
        if b.len() >= after
            && b[at + 2..after].eq_ignore_ascii_case(name.as_bytes())
            && b.get(after)
                .is_none_or(|&c| is_space(c) || c == b'/' || c == b'>')
        {
            return at;
        }
        from = at + 2;
    }
    s.len()
}

/// Where a script's content ends in `s`, as the tokenizer's script states
/// read it: `</script` ends it, except between a `<!--` and its `-->` when
/// a `<script` came after the `<!--` (the "double escaped" state, in which
/// `</script` only returns to the escaped one). Old pages wrap
/// `document.write("<script>…</script>")` that way, and cutting the
/// script at the first `</script` would publish the rest as page text.
fn script_end(s: &str) -> usize {
    let b = s.as_bytes();
    let tag_at = |i: usize, tag: &[u8]| {
        b.len() >= i + tag.len()
            && b[i..i + tag.len()].eq_ignore_ascii_case(tag)
            && b.get(i + tag.len())
                .is_none_or(|&c| is_space(c) || c == b'/' || c == b'>')
    };
    // 0: script data; 1: escaped (after `<!--`); 2: double escaped
    let mut state = 0u8;
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        match state {
            0 if rest.starts_with(b"<!--") => {
                state = 1;
                i += 4;
                continue;
            }
            0 | 1 if tag_at(i, b"</script") => return i,
            1 | 2 if rest.starts_with(b"-->") => {
                state = 0;
                i += 3;
                continue;
            }
            1 if tag_at(i, b"<script") => {
                state = 2;
                i += 7;
                continue;
            }
            2 if tag_at(i, b"</script") => {
                state = 1;
                i += 8;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// The length of the comment, doctype or other `<!`/`<?` markup at the
/// start of `s`, if it starts with one.
fn markup_declaration(s: &str, foreign: bool) -> Option<usize> {
    let end_at = |from: usize, pat: &str| {
        s[from..]
            .find(pat)
            .map_or(s.len(), |k| from + k + pat.len())
    };
    if let Some(rest) = s.strip_prefix("<!--") {
        if rest.starts_with('>') {
            return Some(5);
        }
        if rest.starts_with("->") {
            return Some(6);
        }
        let a = end_at(4, "-->");
        let b = end_at(4, "--!>");
        return Some(a.min(b));
    }
    if foreign && s.starts_with("<![CDATA[") {
        return Some(end_at(9, "]]>"));
    }
    let bogus_end =
        s.starts_with("</") && !s.as_bytes().get(2).is_some_and(u8::is_ascii_alphabetic);
    if s.starts_with("<!") || s.starts_with("<?") || bogus_end {
        // doctype, bogus comment, or `</` not followed by a letter
        return Some(end_at(2, ">"));
    }
    None
}

/// The next start or end tag in `src` from byte `i`, and where it starts;
/// comments, doctypes and other `<!`/`<?` markup (CDATA sections too, in
/// `foreign` content) are passed over, as are `<`s that open no tag. The
/// one walk over the source that [`flatten`] and [`skip_element`] share.
fn next_tag(src: &str, mut i: usize, foreign: bool) -> Option<(usize, Tag)> {
    while let Some(k) = src[i..].find('<') {
        let at = i + k;
        let s = &src[at..];
        if let Some(n) = markup_declaration(s, foreign) {
            i = at + n;
            continue;
        }
        match tag_at(s) {
            Some(tag) => return Some((at, tag)),
            None => i = at + 1,
        }
    }
    None
}

/// Whether an element is never page text, from its name and attributes.
pub type Invisible<'a> = &'a dyn Fn(&str, &[(String, String)]) -> bool;

/// `src` with the tags of elements nested deeper than [`FLAT_DEPTH`]
/// removed (see the module doc). `invisible(name, attributes)` says which
/// elements are never page text: they are left out with their content.
/// `block(name)` says which elements' tags become a `<br>`.
pub fn flatten(src: &str, invisible: Invisible, block: &dyn Fn(&str) -> bool) -> String {
    let mut f = Flattener {
        out: String::with_capacity(src.len()),
        stack: Vec::new(),
        open: HashMap::new(),
        flattened: HashMap::new(),
    };
    let mut i = 0;
    let mut text_from = 0;
    loop {
        let foreign = f.count("svg") + f.count("math") > 0;
        // comments and the like are copied with the text around them
        let Some((at, tag)) = next_tag(src, i, foreign) else {
            break;
        };
        let s = &src[at..];
        f.out.push_str(&src[text_from..at]);
        let whole = &s[..tag.len];
        let mut next = at + tag.len;
        if tag.end {
            f.end_tag(&tag.name, whole, block);
        } else if VOID.contains(&tag.name.as_str())
            || (foreign && tag.self_closing)
            || matches!(tag.name.as_str(), "html" | "head" | "body")
        {
            f.out.push_str(whole);
        } else if !foreign && (RAW_TEXT.contains(&tag.name.as_str()) || tag.name == "plaintext") {
            // raw text: nothing inside nests; kept with its end tag, unless
            // it is deep and invisible (a script, a style)
            let body = &src[next..];
            let end = if tag.name == "plaintext" {
                body.len()
            } else {
                raw_text_end(body, &tag.name)
            };
            let close = if body[end..].starts_with("</") {
                tag_at(&body[end..]).map_or(0, |t| t.len)
            } else {
                0
            };
            let deep = f.stack.len() >= FLAT_DEPTH;
            let attrs = attributes(&s[tag.attrs.0..tag.attrs.1]);
            if !(deep && invisible(&tag.name, &attrs)) {
                f.out.push_str(whole);
                f.out.push_str(&body[..end + close]);
            }
            next += end + close;
        } else {
            f.close_implied(&tag.name);
            if f.stack.len() < FLAT_DEPTH {
                f.push(&tag.name);
                f.out.push_str(whole);
            } else {
                let attrs = attributes(&s[tag.attrs.0..tag.attrs.1]);
                if invisible(&tag.name, &attrs) {
                    next = skip_element(src, next, &tag.name);
                    f.out.push(' ');
                } else {
                    *f.flattened.entry(tag.name.clone()).or_default() += 1;
                    f.out.push_str(if block(&tag.name) { "<br>" } else { "" });
                }
            }
        }
        i = next;
        text_from = next;
    }
    f.out.push_str(&src[text_from..]);
    f.out
}

/// Where the element whose start tag `name` ended at `from` ends (after its
/// end tag, counting same-name elements inside it), or the end of `src`.
fn skip_element(src: &str, mut i: usize, name: &str) -> usize {
    // inside `<svg>` and `<math>`, `<![CDATA[ … ]]>` is text, and a `>` or
    // an end tag in it ends nothing
    let is_foreign = |n: &str| n == "svg" || n == "math";
    let mut depth = 1usize;
    let mut foreign = usize::from(is_foreign(name));
    while let Some((at, tag)) = next_tag(src, i, foreign > 0) {
        i = at + tag.len;
        if foreign == 0 && !tag.end && RAW_TEXT.contains(&tag.name.as_str()) {
            i += raw_text_end(&src[i..], &tag.name);
            continue;
        }
        if is_foreign(&tag.name) && !tag.self_closing {
            foreign = if tag.end {
                foreign.saturating_sub(1)
            } else {
                foreign + 1
            };
        }
        if tag.name == name {
            if tag.end {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            } else if !tag.self_closing && !VOID.contains(&name) {
                depth += 1;
            }
        }
    }
    src.len()
}

/// The state of [`flatten`]: an estimate of the parser's open elements.
struct Flattener {
    out: String,
    stack: Vec<String>,
    /// How many of each name are on `stack`.
    open: HashMap<String, usize>,
    /// Start tags removed, by name, whose end tags are to be removed too.
    flattened: HashMap<String, usize>,
}

impl Flattener {
    fn count(&self, name: &str) -> usize {
        self.open.get(name).copied().unwrap_or(0)
    }

    fn push(&mut self, name: &str) {
        self.stack.push(name.to_string());
        *self.open.entry(name.to_string()).or_default() += 1;
    }

    fn pop(&mut self) -> Option<String> {
        let name = self.stack.pop()?;
        if let Some(n) = self.open.get_mut(&name) {
            *n -= 1;
        }
        Some(name)
    }

    /// Pops through the nearest of `targets` among the top [`SCAN`]
    /// entries, unless one of `bounds` comes first.
    fn pop_through(&mut self, targets: &[&str], bounds: &[&str]) {
        if targets.iter().all(|t| self.count(t) == 0) {
            return;
        }
        let top = self.stack.len();
        for k in (top.saturating_sub(SCAN)..top).rev() {
            let n = self.stack[k].as_str();
            if targets.contains(&n) {
                while self.stack.len() > k {
                    self.pop();
                }
                return;
            }
            if bounds.contains(&n) {
                return;
            }
        }
    }

    /// The end tags a start tag `name` implies (an estimate of the parser's).
    fn close_implied(&mut self, name: &str) {
        if CLOSES_P.contains(&name) {
            self.pop_through(&["p"], &["button", "table", "td", "th"]);
        }
        match name {
            "li" => self.pop_through(&["li"], &["ul", "ol", "menu", "table"]),
            "dd" | "dt" => self.pop_through(&["dd", "dt"], &["dl", "table"]),
            "tr" => self.pop_through(&["tr"], &["table", "tbody", "thead", "tfoot"]),
            "td" | "th" => self.pop_through(&["td", "th"], &["tr", "table"]),
            "tbody" | "thead" | "tfoot" => {
                self.pop_through(&["tbody", "thead", "tfoot"], &["table"])
            }
            "option" | "optgroup" => {
                if self.stack.last().is_some_and(|t| t == "option") {
                    self.pop();
                }
                if name == "optgroup" && self.stack.last().is_some_and(|t| t == "optgroup") {
                    self.pop();
                }
            }
            "a" | "nobr" | "button" => self.pop_through(&[name], &[]),
            _ if HEADINGS.contains(&name)
                && self
                    .stack
                    .last()
                    .is_some_and(|t| HEADINGS.contains(&t.as_str())) =>
            {
                self.pop();
            }
            _ => {}
        }
    }

    fn end_tag(&mut self, name: &str, whole: &str, block: &dyn Fn(&str) -> bool) {
        if let Some(n) = self.flattened.get_mut(name).filter(|n| **n > 0) {
            *n -= 1;
            self.out.push_str(if block(name) { "<br>" } else { "" });
            return;
        }
        if self.count(name) > 0 {
            while let Some(top) = self.pop() {
                if top == name {
                    break;
                }
            }
        }
        self.out.push_str(whole);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(src: &str) -> String {
        flatten(
            src,
            &|name, attrs| name == "nav" || attrs.iter().any(|(k, _)| k == "hidden"),
            &|name| name == "div" || name == "p",
        )
    }

    #[test]
    fn shallow_pages_pass_through_unchanged() {
        let src = r#"<!doctype html><html lang="en"><body><main><h1 id=a>T</h1>
<p>One<p>Two <a href="/x?a=1&b=<2>">link</a><ul><li>a<li>b</ul>
<table><tr><td>1<td>2<tr><td>3</table><script>if (a < b && "</div>") {}</script>
<!-- <div><div> --><svg><path d="M0 0"/><g/></svg></main></body></html>"#;
        assert_eq!(flat(src), src);
        assert!(parse(src).is_some());
    }

    #[test]
    fn deep_nesting_is_flattened_below_the_limit_and_text_kept() {
        let n = 2000;
        let src = format!(
            "<main><h2 id=deep>Deep</h2>{}Bottom{}<nav>{}Menu{}</nav><p>After</p></main>",
            "<div><span>".repeat(n),
            "</span></div>".repeat(n),
            "<div>".repeat(FLAT_DEPTH + 10),
            "</div>".repeat(FLAT_DEPTH + 10),
        );
        assert!(parse(&src).is_none(), "a page nested 4000 deep parsed");
        let f = flat(&src);
        assert!(f.contains("<h2 id=deep>Deep</h2>") && f.contains("Bottom") && f.contains("After"));
        let html = parse(&f).expect("the flattened page parses");
        let depth = html
            .tree
            .nodes()
            .map(|n| n.ancestors().count())
            .max()
            .unwrap();
        assert!(depth <= FLAT_DEPTH + 8, "{depth}");
        // hidden content deep down stays out
        let deep_nav = format!(
            "{}<nav>Menu<div>x</div></nav><div hidden>Secret</div>Text{}",
            "<div>".repeat(FLAT_DEPTH + 5),
            "</div>".repeat(FLAT_DEPTH + 5)
        );
        let f = flat(&deep_nav);
        assert!(
            !f.contains("Menu") && !f.contains("Secret") && f.contains("Text"),
            "{f}"
        );
    }

    #[test]
    fn a_script_that_writes_a_script_is_cut_where_the_browser_cuts_it() {
        // `<!--<script>…</script>-->` inside a script does not end it: the
        // fallback for deep pages cut it there, and the rest became text
        let script = "<script><!--\ndocument.write('<script src=a.js></script>');\n--> var LEAKWORD = 1;</script>";
        let src = format!(
            "<main>{script}{}{script}Visible{}</main>",
            "<div>".repeat(FLAT_DEPTH + 5),
            "</div>".repeat(FLAT_DEPTH + 5)
        );
        let f = flatten(&src, &|name, _| name == "script", &|name| name == "div");
        // the shallow script kept whole, the deep one left out whole
        assert_eq!(f.matches("LEAKWORD").count(), 1, "{f}");
        assert!(f.contains(script) && f.contains("Visible"), "{f}");
        // and as the tokenizer reads the usual forms
        assert_eq!(script_end("a < b</script>"), 5);
        assert_eq!(script_end("<!-- x </script> y"), 7);
        assert_eq!(script_end("<!-- <script> </script> --> z</SCRIPT >"), 29);
        assert_eq!(script_end("<!--<script>--></script>"), 15);
        assert_eq!(script_end("no end"), 6);
    }

    #[test]
    fn a_deep_svg_is_left_out_whole_cdata_and_all() {
        // a CDATA section holding `>` and `</svg>` ended the skipped svg
        // early, and its text became page text
        let src = format!(
            "<main>{}<svg><![CDATA[ a > </svg> ]]><text>SVGLEAK</text><math><mi>x</mi></math></svg>Visible{}</main>",
            "<div>".repeat(FLAT_DEPTH + 5),
            "</div>".repeat(FLAT_DEPTH + 5)
        );
        let f = flatten(&src, &|name, _| name == "svg", &|name| name == "div");
        assert!(!f.contains("SVGLEAK") && f.contains("Visible"), "{f}");
    }

    #[test]
    fn pieces_parse_like_the_whole_page() {
        // CR LF, a multi-byte character, an entity, a tag and a comment cut
        // at the piece boundary
        for cut in ["\r\n", "é", "&amp;", "<div class=x>", "<!-- c -->"] {
            for shift in 0..cut.len() {
                let mut src = String::from("<!doctype html><html lang=en><body><main><p>");
                while src.len() < PIECE - shift {
                    src.push('a');
                }
                src.push_str(cut);
                src.push_str("tail</p></main>\r\n</body></html>");
                let whole = Html::parse_document(&src).html();
                assert_eq!(parse(&src).unwrap().html(), whole, "{cut:?} at -{shift}");
            }
        }
        let sites = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sites/tiny");
        let mut n = 0;
        for dir in [
            sites.to_string(),
            format!("{sites}/en"),
            format!("{sites}/es"),
        ] {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "html") {
                    let src = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                    assert_eq!(
                        parse(&src).unwrap().html(),
                        Html::parse_document(&src).html()
                    );
                    n += 1;
                }
            }
        }
        assert!(n >= 8);
    }

    #[test]
    fn tags_and_attributes_are_read_like_the_tokenizer() {
        let src = r#"<DIV class="a>b" data-x='>' hidden>rest"#;
        let t = tag_at(src).unwrap();
        assert_eq!((t.name.as_str(), t.end), ("div", false));
        assert_eq!(t.len, src.find("rest").unwrap());
        let t = tag_at("</P >").unwrap();
        assert!(t.end && t.name == "p" && t.len == 5);
        assert!(tag_at("< div>").is_none() && tag_at("<3").is_none());
        assert!(tag_at("<br/>").unwrap().self_closing);
        let a = attributes(r#" class="sr-only x" role=navigation hidden"#);
        assert_eq!(
            a,
            vec![
                ("class".into(), "sr-only x".into()),
                ("role".into(), "navigation".into()),
                ("hidden".into(), String::new())
            ]
        );
        assert_eq!(raw_text_end("a</scriptx></SCRIPT >", "script"), 11);
        assert_eq!(markup_declaration("<!-->x", false), Some(5));
        assert_eq!(markup_declaration("<!-- a --!>x", false), Some(11));
    }
}
