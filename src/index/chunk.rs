//! Step 1 of indexing: a page's sections cut into chunks that fit the model.

use crate::error::Result;
use crate::ingest::{split_sentences, Page, Section};
use crate::model::Encoder;

/// One piece of a section that fits the model.
pub(super) struct Chunk {
    pub sentences: Vec<String>,
    /// What the encoder embeds: the title line, then the sentences.
    pub passage: String,
}

/// The line a section's chunks start with: the page title, and the
/// section's heading when it has another one.
pub(super) fn title_line(page: &Page, s: &Section) -> String {
    if s.heading.is_empty() || s.heading == page.title {
        page.title.clone()
    } else {
        format!("{} › {}", page.title, s.heading)
    }
}

/// Splits one section into chunks of at most `budget` tokens, on sentence
/// boundaries, repeating the last `overlap` sentences of a chunk at the start
/// of the next.
pub(super) fn chunk_section(
    title_line: &str,
    text: &str,
    enc: &Encoder,
    budget: usize,
    overlap: usize,
) -> Result<Vec<Chunk>> {
    let mut out = Vec::new();
    let flush = |cur: &[&str], out: &mut Vec<Chunk>| {
        if !cur.is_empty() {
            out.push(Chunk {
                sentences: cur.iter().map(|x| x.to_string()).collect(),
                passage: format!("{title_line}\n{}", cur.join(" ")),
            });
        }
    };
    let mut cur: Vec<&str> = Vec::new();
    let mut cur_tokens = 0usize;
    for sent in split_sentences(text) {
        let n = enc.count_tokens(sent)?;
        if cur_tokens + n > budget && !cur.is_empty() {
            flush(&cur, &mut out);
            let keep = cur.len().min(overlap);
            cur.drain(..cur.len() - keep);
            cur_tokens = 0;
            for t in &cur {
                cur_tokens += enc.count_tokens(t)?;
            }
            if cur_tokens + n > budget {
                cur.clear();
                cur_tokens = 0;
            }
        }
        cur.push(sent);
        cur_tokens += n;
    }
    flush(&cur, &mut out);
    Ok(out)
}
