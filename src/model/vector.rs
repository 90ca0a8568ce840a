//! What the encoder and the language basis share about sentence vectors:
//! the two kinds of text and L2 normalisation. Its own file so that
//! `langbasis` (which the encoder applies) does not import the encoder.

/// Whether a text is a search query or an indexed passage (selects the prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    Query,
    Passage,
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}
