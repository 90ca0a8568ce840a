//! The low-confidence levels of a bundle (step 7 of indexing), set without
//! labelled queries: the model pack's sample questions, everyday questions
//! no help site answers, are searched against the site's own vectors, and
//! their best scores per language say what "no answer here" scores on this
//! site (`search::confidence` has the rule and the verdict).

use std::collections::BTreeMap;

use super::cache::EmbedCache;
use super::embed;
use crate::bundle::ConfidenceLevels;
use crate::error::Result;
use crate::format::tensors::DType;
use crate::model::langbasis::SAMPLE;
use crate::model::Encoder;
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
    cache: Option<&mut EmbedCache>,
) -> Result<BTreeMap<String, Vec<f32>>> {
    let questions = sample_questions();
    let texts: Vec<&str> = questions.iter().map(|(_, q)| *q).collect();
    let rows = embed::query_rows(enc, &texts, "crossfind sample question 1", cache)?;
    let mut out: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    let mut v = vec![0f32; vectors.dim];
    for ((lang, _), row) in questions.iter().zip(rows) {
        DType::I8Row.decode_row(&row, &mut v);
        if let Some(best) = vectors.scores(&v).into_iter().reduce(f32::max) {
            out.entry(lang.to_string()).or_default().push(best);
        }
    }
    Ok(out)
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
