//! The low-confidence levels of a bundle (step 7 of indexing), set without
//! labelled queries: the model pack's sample questions, everyday questions
//! no help site answers, are searched against the site's own vectors, and
//! their best scores per language say what "no answer here" scores on this
//! site (`search::confidence` has the rule and the verdict).

use std::collections::BTreeMap;

use super::cache::{self, EmbedCache, Key};
use crate::bundle::ConfidenceLevels;
use crate::error::Result;
use crate::format::tensors::quantize_i8_rows;
use crate::model::langbasis::SAMPLE;
use crate::model::{Encoder, TextKind};
use crate::search::confidence::levels_from_samples;
use crate::search::Vectors;

/// The search-box questions of the pack's parallel sample, by language.
pub fn sample_questions() -> Vec<(&'static str, &'static str)> {
    SAMPLE
        .iter()
        .flat_map(|(lang, lines)| {
            lines.lines().filter_map(move |l| {
                let mut f = l.splitn(3, '\t');
                let (_, kind, text) = (f.next()?, f.next()?, f.next()?);
                (kind == "question" && !text.trim().is_empty()).then_some((*lang, text))
            })
        })
        .collect()
}

/// Each sample question's best dense score against `vectors`, by
/// language. A question is embedded as a reader's query is, then rounded
/// to an int8 row as the bundle stores passages: that row is what the
/// embedding cache keeps (so a re-index embeds none of the ~1,000
/// questions again) and what is scored, with or without the cache, so the
/// levels do not depend on whether the cache was used.
pub fn sample_scores(
    enc: &Encoder,
    vectors: &Vectors,
    mut cache: Option<&mut EmbedCache>,
) -> Result<BTreeMap<String, Vec<f32>>> {
    let questions = sample_questions();
    let keys: Vec<Key> = questions
        .iter()
        .map(|(_, q)| cache::key(&format!("crossfind sample question 1\0{q}")))
        .collect();
    let mut rows: Vec<Option<Vec<u8>>> = keys
        .iter()
        .map(|k| cache.as_deref_mut().and_then(|c| c.get(k)).map(|r| r.bytes))
        .map(|r| r.filter(|b| b.len() == 4 + vectors.dim))
        .collect();
    let todo: Vec<usize> = (0..questions.len())
        .filter(|&i| rows[i].is_none())
        .collect();
    let embedded: Vec<Result<Vec<u8>>> = crate::par::par_map(&todo, |_, &i| {
        let v = enc
            .embed_for_search(questions[i].1, TextKind::Query)?
            .vector;
        Ok(quantize_i8_rows(&v, v.len()))
    });
    for (&i, row) in todo.iter().zip(embedded) {
        let row = row?;
        if let Some(c) = cache.as_deref_mut() {
            c.put(
                keys[i],
                cache::Row {
                    bytes: row.clone(),
                    truncated: false,
                },
            );
        }
        rows[i] = Some(row);
    }
    let mut out: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for ((lang, _), row) in questions.iter().zip(rows) {
        let v = dequantized(&row.expect("every question has a row"));
        if let Some(best) = vectors.scores(&v).into_iter().reduce(f32::max) {
            out.entry(lang.to_string()).or_default().push(best);
        }
    }
    Ok(out)
}

/// An int8 row (`DType::I8Row`: f32 scale, then the values) read back.
fn dequantized(row: &[u8]) -> Vec<f32> {
    let scale = f32::from_le_bytes([row[0], row[1], row[2], row[3]]);
    row[4..].iter().map(|&b| (b as i8) as f32 * scale).collect()
}

/// The bundle's levels: `None` when the vectors are empty.
pub fn levels(
    enc: &Encoder,
    vectors: &Vectors,
    cache: Option<&mut EmbedCache>,
) -> Result<Option<ConfidenceLevels>> {
    if vectors.rows == 0 {
        return Ok(None);
    }
    Ok(levels_from_samples(&sample_scores(enc, vectors, cache)?))
}
