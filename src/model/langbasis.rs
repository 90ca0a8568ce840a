//! Language-neutral search vectors: the model's language directions removed.
//!
//! multilingual-e5 places a text partly by what it says and partly by the
//! language it is written in: two unrelated sentences in one language are
//! about 0.04 of cosine closer than two in different languages, while a
//! translation is only about 0.1 closer than an unrelated sentence. So a
//! reader's-language page on a neighbouring topic outranks the page in another
//! language that answers. This module removes that component.
//!
//! # How
//!
//! At `model import` the encoder embeds one parallel sample, the same 48
//! sentences and search-box questions in 41 languages ([`SAMPLE`], written for
//! this purpose, on everyday topics and not on any help-center subject), once
//! as passages and once as queries. Because the sample is parallel, the
//! per-language means differ only by language, never by topic. The top
//! [`DEFAULT_RANK`] principal directions of those 82 means (centred per kind)
//! span the language subspace. A search vector is then
//!
//! ```text
//! x = v - centre[kind];  x = x - Σ_k (x·b_k) b_k;  x = x / |x|
//! ```
//!
//! for passages at index time and for queries at search time. No language
//! detection is needed, so a code-switched or mixed-script query is handled
//! like any other, and a language missing from the sample is still mostly
//! covered (its direction lies largely in the span of the others).
//!
//! # File
//!
//! [`LANG_BASIS_FILE`] in the model pack: a tensor file with three int8-row
//! tensors, `passage_centre` (1 × dim), `query_centre` (1 × dim) and `basis`
//! (rank × dim), about 10 kB for e5-small. It changes every search vector, so
//! the pack id covers it. The arithmetic is written out in one order with
//! separate multiplies and adds, so native and wasm give the same bits.

use crate::error::{Error, Result};
use crate::format::tensors::{DType, TensorFile, TensorFileWriter};
use crate::model::vector::{l2_normalize, TextKind};

/// The pack file holding the language basis.
pub const LANG_BASIS_FILE: &str = "lang-basis.bin";

/// Directions removed. Chosen on the even-numbered demo queries among 8 to 40
/// (docs/multilingual.md): 16 to 28 are within noise of each other, below 12
/// cross-lingual queries lose, above 32 same-language ones start to.
pub const DEFAULT_RANK: usize = 24;

/// The projection applied to search vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct LanguageBasis {
    dim: usize,
    passage_centre: Vec<f32>,
    query_centre: Vec<f32>,
    /// `rank` rows of `dim`.
    basis: Vec<f32>,
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut s = 0f32;
    for (x, y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

impl LanguageBasis {
    pub fn rank(&self) -> usize {
        self.basis.len() / self.dim
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The language-neutral unit vector of an embedding `v` of `kind`.
    pub fn apply(&self, v: &[f32], kind: TextKind) -> Vec<f32> {
        let centre = match kind {
            TextKind::Query => &self.query_centre,
            TextKind::Passage => &self.passage_centre,
        };
        let mut x: Vec<f32> = v.iter().zip(centre).map(|(a, c)| a - c).collect();
        let coef: Vec<f32> = self
            .basis
            .chunks_exact(self.dim)
            .map(|b| dot(&x, b))
            .collect();
        for (b, c) in self.basis.chunks_exact(self.dim).zip(coef) {
            for (xi, bi) in x.iter_mut().zip(b) {
                *xi -= c * bi;
            }
        }
        l2_normalize(&mut x);
        x
    }

    /// Reads [`LANG_BASIS_FILE`] for a model of width `dim`.
    pub fn parse(bytes: &[u8], dim: usize) -> Result<Self> {
        let tf = TensorFile::parse(LANG_BASIS_FILE, bytes)?;
        let read = |name: &str, rows: Option<usize>| -> Result<Vec<f32>> {
            let (info, raw) = tf.raw(name)?;
            if info.cols != dim || rows.is_some_and(|r| r != info.rows) || info.rows == 0 {
                return Err(Error::corrupt(
                    LANG_BASIS_FILE,
                    format!(
                        "tensor {name} is {}x{}, the model is {dim} wide",
                        info.rows, info.cols
                    ),
                ));
            }
            let rb = info.dtype.row_bytes(dim);
            let mut out = vec![0f32; info.rows * dim];
            for (row, o) in raw.chunks_exact(rb).zip(out.chunks_exact_mut(dim)) {
                info.dtype.decode_row(row, o);
            }
            Ok(out)
        };
        let basis = read("basis", None)?;
        if basis.len() / dim > dim {
            return Err(Error::corrupt(
                LANG_BASIS_FILE,
                "more basis directions than dimensions",
            ));
        }
        Ok(LanguageBasis {
            dim,
            passage_centre: read("passage_centre", Some(1))?,
            query_centre: read("query_centre", Some(1))?,
            basis,
        })
    }

    /// The file bytes (int8 rows, each with its scale).
    pub fn to_bytes(&self) -> Vec<u8> {
        use crate::format::tensors::quantize_i8_rows;
        let mut w = TensorFileWriter::default();
        let mut push = |name: &str, v: &[f32]| {
            let rows = v.len() / self.dim;
            w.push_raw(
                name,
                DType::I8Row,
                rows,
                self.dim,
                &quantize_i8_rows(v, self.dim),
            )
        };
        push("passage_centre", &self.passage_centre);
        push("query_centre", &self.query_centre);
        push("basis", &self.basis);
        w.finish()
    }
}

/// The parallel sample: `(language, "id\tkind\ttext" lines)`, 48 lines each.
pub const SAMPLE: &[(&str, &str)] = &[
    ("ar", include_str!("langsample/ar.txt")),
    ("bg", include_str!("langsample/bg.txt")),
    ("bn", include_str!("langsample/bn.txt")),
    ("cs", include_str!("langsample/cs.txt")),
    ("da", include_str!("langsample/da.txt")),
    ("de", include_str!("langsample/de.txt")),
    ("el", include_str!("langsample/el.txt")),
    ("en", include_str!("langsample/en.txt")),
    ("es", include_str!("langsample/es.txt")),
    ("fa", include_str!("langsample/fa.txt")),
    ("fi", include_str!("langsample/fi.txt")),
    ("fr", include_str!("langsample/fr.txt")),
    ("he", include_str!("langsample/he.txt")),
    ("hi", include_str!("langsample/hi.txt")),
    ("hr", include_str!("langsample/hr.txt")),
    ("hu", include_str!("langsample/hu.txt")),
    ("id", include_str!("langsample/id.txt")),
    ("it", include_str!("langsample/it.txt")),
    ("ja", include_str!("langsample/ja.txt")),
    ("ko", include_str!("langsample/ko.txt")),
    ("lt", include_str!("langsample/lt.txt")),
    ("mr", include_str!("langsample/mr.txt")),
    ("ms", include_str!("langsample/ms.txt")),
    ("nb", include_str!("langsample/nb.txt")),
    ("nl", include_str!("langsample/nl.txt")),
    ("pl", include_str!("langsample/pl.txt")),
    ("pt", include_str!("langsample/pt.txt")),
    ("ro", include_str!("langsample/ro.txt")),
    ("ru", include_str!("langsample/ru.txt")),
    ("sk", include_str!("langsample/sk.txt")),
    ("sv", include_str!("langsample/sv.txt")),
    ("sw", include_str!("langsample/sw.txt")),
    ("ta", include_str!("langsample/ta.txt")),
    ("te", include_str!("langsample/te.txt")),
    ("th", include_str!("langsample/th.txt")),
    ("tl", include_str!("langsample/tl.txt")),
    ("tr", include_str!("langsample/tr.txt")),
    ("uk", include_str!("langsample/uk.txt")),
    ("ur", include_str!("langsample/ur.txt")),
    ("vi", include_str!("langsample/vi.txt")),
    ("zh", include_str!("langsample/zh.txt")),
];

/// The texts of one language of [`SAMPLE`].
pub fn sample_texts(lines: &str) -> Vec<&str> {
    lines
        .lines()
        .filter_map(|l| l.splitn(3, '\t').nth(2))
        .filter(|t| !t.trim().is_empty())
        .collect()
}

/// One language's mean embeddings: (as passages, as queries).
pub type LanguageMeans = (Vec<f64>, Vec<f64>);

/// Fits the basis from per-language embeddings: `means[l] = (passage mean,
/// query mean)`, each `dim` wide. Native only (at import).
#[cfg(not(target_arch = "wasm32"))]
pub fn fit(means: &[LanguageMeans], dim: usize, rank: usize) -> Result<LanguageBasis> {
    let n = means.len();
    if n < 2 {
        return Err(Error::Input(
            "a language basis needs at least two languages".into(),
        ));
    }
    let centre = |pick: fn(&LanguageMeans) -> &Vec<f64>| -> Vec<f64> {
        let mut c = vec![0f64; dim];
        for m in means {
            for (ci, v) in c.iter_mut().zip(pick(m)) {
                *ci += v / n as f64;
            }
        }
        c
    };
    let cp = centre(|m| &m.0);
    let cq = centre(|m| &m.1);
    // rows: passage means then query means, each centred on its kind
    let rows: Vec<Vec<f64>> = means
        .iter()
        .map(|m| m.0.iter().zip(&cp).map(|(a, c)| a - c).collect())
        .chain(
            means
                .iter()
                .map(|m| m.1.iter().zip(&cq).map(|(a, c)| a - c).collect()),
        )
        .collect();
    let r = rank.min(rows.len() - 1).min(dim);
    // principal directions from the small Gram matrix (rows x rows)
    let m = rows.len();
    let mut gram = vec![0f64; m * m];
    for i in 0..m {
        for j in 0..m {
            gram[i * m + j] = rows[i].iter().zip(&rows[j]).map(|(a, b)| a * b).sum();
        }
    }
    let (values, vectors) = jacobi_eigen(gram, m);
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(r);
    for &k in order.iter().take(r) {
        if values[k] <= 1e-12 {
            break;
        }
        let mut b = vec![0f64; dim];
        for (i, row) in rows.iter().enumerate() {
            let u = vectors[i * m + k];
            for (bj, rj) in b.iter_mut().zip(row) {
                *bj += u * rj;
            }
        }
        // re-orthogonalise against the directions kept so far
        for prev in &basis {
            let d: f64 = b.iter().zip(prev).map(|(a, c)| a * c).sum();
            for (bj, pj) in b.iter_mut().zip(prev) {
                *bj -= d * pj;
            }
        }
        let norm = b.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm <= 1e-12 {
            continue;
        }
        b.iter_mut().for_each(|x| *x /= norm);
        // a fixed sign: the largest component positive
        let big = b
            .iter()
            .copied()
            .fold(0f64, |acc, x| if x.abs() > acc.abs() { x } else { acc });
        if big < 0.0 {
            b.iter_mut().for_each(|x| *x = -*x);
        }
        basis.push(b);
    }
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let lb = LanguageBasis {
        dim,
        passage_centre: f(&cp),
        query_centre: f(&cq),
        basis: basis.iter().flat_map(|b| f(b)).collect(),
    };
    // what is stored is the int8 form: hand back exactly what a reader loads
    LanguageBasis::parse(&lb.to_bytes(), dim)
}

/// Embeds [`SAMPLE`] with `enc` (both kinds, on all cores) and fits the
/// basis. Native only (at `model import`).
#[cfg(not(target_arch = "wasm32"))]
pub fn compute(enc: &crate::model::Encoder, rank: usize) -> Result<LanguageBasis> {
    let dim = enc.dim();
    let items: Vec<(usize, TextKind, &str)> = SAMPLE
        .iter()
        .enumerate()
        .flat_map(|(li, (_, lines))| {
            sample_texts(lines)
                .into_iter()
                .flat_map(move |t| [(li, TextKind::Passage, t), (li, TextKind::Query, t)])
        })
        .collect();
    let vectors = crate::par::par_map(&items, |_, (_, kind, text)| {
        enc.embed(text, *kind).map(|e| e.vector)
    });
    let mut means = vec![(vec![0f64; dim], vec![0f64; dim]); SAMPLE.len()];
    let mut counts = vec![(0usize, 0usize); SAMPLE.len()];
    for ((li, kind, _), v) in items.iter().zip(vectors) {
        let v = v?;
        let (m, c) = match kind {
            TextKind::Passage => (&mut means[*li].0, &mut counts[*li].0),
            TextKind::Query => (&mut means[*li].1, &mut counts[*li].1),
        };
        for (a, x) in m.iter_mut().zip(&v) {
            *a += *x as f64;
        }
        *c += 1;
    }
    for (m, c) in means.iter_mut().zip(&counts) {
        m.0.iter_mut().for_each(|x| *x /= c.0.max(1) as f64);
        m.1.iter_mut().for_each(|x| *x /= c.1.max(1) as f64);
    }
    fit(&means, dim, rank)
}

/// Eigenvalues and eigenvectors (columns of the row-major `n x n` result) of
/// a symmetric matrix, by cyclic Jacobi rotations.
#[cfg(not(target_arch = "wasm32"))]
fn jacobi_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        let total: f64 = a.iter().map(|x| x * x).sum();
        if off <= 1e-24 * total.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_parallel() {
        let en = sample_texts(SAMPLE.iter().find(|(l, _)| *l == "en").unwrap().1).len();
        assert_eq!(en, 48);
        for (lang, lines) in SAMPLE {
            let ids: Vec<&str> = lines.lines().map(|l| &l[..3]).collect();
            assert_eq!(sample_texts(lines).len(), en, "{lang}");
            assert_eq!(ids[0], "s01", "{lang}");
            assert_eq!(ids[en - 1], "s48", "{lang}");
        }
    }

    #[test]
    fn jacobi_finds_the_eigenpairs() {
        // [[2,1],[1,2]]: eigenvalues 1 and 3
        let (vals, vecs) = jacobi_eigen(vec![2.0, 1.0, 1.0, 2.0], 2);
        let mut v = vals.clone();
        v.sort_by(f64::total_cmp);
        assert!(
            (v[0] - 1.0).abs() < 1e-12 && (v[1] - 3.0).abs() < 1e-12,
            "{vals:?}"
        );
        let k = if vals[0] > vals[1] { 0 } else { 1 };
        assert!((vecs[k].abs() - vecs[2 + k].abs()).abs() < 1e-12);
    }

    /// Three "languages" that differ only along one axis: after the
    /// projection, a text and its translation are the same vector.
    #[test]
    fn removes_a_language_direction() {
        let dim = 4;
        let lang = |shift: f64| {
            let v = vec![1.0, 0.0, 0.0, shift];
            (v.clone(), v)
        };
        let b = fit(&[lang(0.5), lang(-0.5), lang(0.0)], dim, 1).unwrap();
        assert_eq!(b.rank(), 1);
        let text_a = [0.2, 0.9, 0.1, 0.5];
        let text_b = [0.2, 0.9, 0.1, -0.5]; // the same text, another language
        let (pa, pb) = (
            b.apply(&text_a, TextKind::Passage),
            b.apply(&text_b, TextKind::Query),
        );
        for (x, y) in pa.iter().zip(&pb) {
            assert!((x - y).abs() < 0.02, "{pa:?} {pb:?}");
        }
        let back = LanguageBasis::parse(&b.to_bytes(), dim).unwrap();
        assert_eq!(back, b, "the stored form is what fit returns");
        assert!(LanguageBasis::parse(&b.to_bytes(), 8).is_err());
    }
}
