//! Turns a stream of headings and text into [`Section`]s with breadcrumbs
//! and unique anchors. Used by both the HTML and the Markdown readers.

use std::collections::HashSet;

use super::text::{slugify, TextBuilder};
use super::Section;

/// A heading as the readers find it.
pub struct Heading {
    /// 1 for h1, 2 for h2, ...
    pub level: u8,
    pub text: String,
    /// The anchor the document itself defines, if any.
    pub anchor: Option<String>,
    /// The section's weight, when the document gives one.
    pub weight: Option<f32>,
}

/// Collects sections: call [`SectionAssembler::heading`] at each split
/// point and write the section's text into [`SectionAssembler::text`].
pub struct SectionAssembler {
    sections: Vec<Section>,
    /// (level, heading text) of the open headings, outermost first.
    stack: Vec<(u8, String)>,
    current: Option<Current>,
    /// The text of the section being read.
    pub text: TextBuilder,
    used_anchors: HashSet<String>,
}

struct Current {
    anchor: String,
    synthetic: bool,
    heading: String,
    path: Vec<String>,
    weight: Option<f32>,
}

impl SectionAssembler {
    /// `known_anchors` are ids that already exist in the document, so that
    /// a generated slug does not collide with them.
    pub fn new(known_anchors: impl IntoIterator<Item = String>) -> Self {
        SectionAssembler {
            sections: Vec::new(),
            stack: Vec::new(),
            current: None,
            text: TextBuilder::new(),
            used_anchors: known_anchors.into_iter().collect(),
        }
    }

    /// Closes the current section and opens one for `h`.
    pub fn heading(&mut self, h: Heading) {
        self.flush();
        while self.stack.last().is_some_and(|(l, _)| *l >= h.level) {
            self.stack.pop();
        }
        self.stack.push((h.level, h.text.clone()));
        let (anchor, synthetic) = match h.anchor.filter(|a| !a.trim().is_empty()) {
            Some(a) => {
                self.used_anchors.insert(a.clone());
                (a, false)
            }
            None => (self.unique_slug(&h.text), true),
        };
        self.current = Some(Current {
            anchor,
            synthetic,
            heading: h.text,
            path: self.stack.iter().map(|(_, t)| t.clone()).collect(),
            weight: h.weight,
        });
    }

    fn unique_slug(&mut self, text: &str) -> String {
        let base = slugify(text);
        let mut slug = base.clone();
        let mut n = 1;
        while self.used_anchors.contains(&slug) {
            slug = format!("{base}-{n}");
            n += 1;
        }
        self.used_anchors.insert(slug.clone());
        slug
    }

    fn flush(&mut self) {
        let text = self.text.take();
        let current = self.current.take();
        if text.is_empty() {
            // A heading directly followed by a subheading: its words live on
            // in the subsections' breadcrumbs.
            return;
        }
        let section = match current {
            Some(c) => Section {
                anchor: Some(c.anchor),
                anchor_synthetic: c.synthetic,
                heading: c.heading,
                title_path: c.path,
                weight: c.weight,
                text,
            },
            None => Section {
                anchor: None,
                anchor_synthetic: false,
                heading: String::new(),
                title_path: Vec::new(),
                weight: None,
                text,
            },
        };
        self.sections.push(section);
    }

    /// The sections, each `title_path` starting with `title` (a heading
    /// that repeats the title is not repeated in the path).
    pub fn finish(mut self, title: &str) -> Vec<Section> {
        self.flush();
        for s in &mut self.sections {
            let mut path = vec![title.to_string()];
            for p in s.title_path.drain(..) {
                if path.last() != Some(&p) && !p.is_empty() {
                    path.push(p);
                }
            }
            s.title_path = path;
        }
        self.sections
    }
}
