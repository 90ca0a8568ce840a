//! The dense signal: the bundle's int8 chunk vectors and their exact scan,
//! or, on a large bundle, sign codes then exact rescoring ([`codes`]).

pub mod codes;

use crate::bundle::Docs;
use crate::error::{Error, Result};
use crate::format::tensors::{DType, TensorFile};

/// The tensor of the vectors shard holding [`Vectors::crowding`] (f32,
/// one column; optional).
pub const CROWDING: &str = crate::bundle::CROWDING_TENSOR;

/// int8 vectors with a scale per vector.
pub struct Vectors {
    pub dim: usize,
    pub rows: usize,
    /// `rows * (4 + dim)` bytes, [`DType::I8Row`] layout.
    pub raw: Vec<u8>,
    /// Per chunk, how crowded its place is: the mean of its best dot
    /// products with the titles of the `k` nearest other articles, embedded
    /// as queries (`index::embed::crowding`). Search subtracts
    /// `Fusion::crowding_weight` × this. Empty when the bundle has none
    /// (built before it, or for keyword search only).
    pub crowding: Vec<f32>,
}

impl Vectors {
    pub fn parse(name: &str, bytes: &[u8], dim: usize, rows: usize) -> Result<Self> {
        let tf = TensorFile::parse(name, bytes)?;
        let (info, raw) = tf.raw("vectors")?;
        if info.dtype != DType::I8Row || info.cols != dim || info.rows != rows {
            return Err(Error::corrupt(
                name,
                format!(
                    "holds {}x{} {:?} vectors, expected {rows}x{dim} int8",
                    info.rows, info.cols, info.dtype
                ),
            ));
        }
        // `scores` walks rows of 4 + dim bytes: a dim near usize::MAX would
        // wrap that to a zero-byte row, so the size is checked here exactly.
        let want = dim.checked_add(4).and_then(|rb| rb.checked_mul(rows));
        if want != Some(raw.len()) {
            return Err(Error::corrupt(
                name,
                format!(
                    "{} bytes of vectors, not {rows} rows of {dim} dimensions",
                    raw.len()
                ),
            ));
        }
        let crowding = if tf.tensors().iter().any(|t| t.name == CROWDING) {
            let c = tf.f32(CROWDING, rows, 1)?;
            if let Some(i) = c.iter().position(|x| !x.is_finite()) {
                return Err(Error::corrupt(
                    name,
                    format!("the crowding of chunk {i} is not a number"),
                ));
            }
            c
        } else {
            Vec::new()
        };
        Ok(Vectors {
            dim,
            rows,
            raw: raw.to_vec(),
            crowding,
        })
    }

    /// No vectors (a bundle loaded for keyword search only).
    pub fn empty(dim: usize) -> Self {
        Vectors {
            dim,
            rows: 0,
            raw: Vec::new(),
            crowding: Vec::new(),
        }
    }

    fn row(&self, i: usize) -> (f32, &[u8]) {
        let rb = 4 + self.dim;
        let row = &self.raw[i * rb..(i + 1) * rb];
        (
            f32::from_le_bytes([row[0], row[1], row[2], row[3]]),
            &row[4..],
        )
    }

    /// Dot product of `q` with vector `i`.
    pub fn score(&self, q: &[f32], i: u32) -> f32 {
        let (scale, v) = self.row(i as usize);
        dot_i8(q, v) * scale
    }

    /// The `n` best `(chunk, score)` pairs for `q`, best first (ties: lower
    /// id first), from an exact scan of every vector.
    pub fn top(&self, q: &[f32], n: usize) -> Vec<(u32, f32)> {
        let scored = self
            .scores(q)
            .into_iter()
            .enumerate()
            .map(|(i, s)| (i as u32, s))
            .collect();
        best_n(scored, n)
    }

    /// The length of each page's summed chunk vectors (0 for a page without
    /// chunks, and for every page when no vectors are loaded). With it, a
    /// page's cosine with a query is the sum of its chunks' dot products
    /// divided by this length, so no page vector is stored or fetched.
    /// Summed in chunk order, dimension by dimension: native and wasm agree.
    pub fn page_norms(&self, docs: &Docs) -> Vec<f32> {
        let mut sums =
            vec![vec![0f32; self.dim]; if self.rows == 0 { 0 } else { docs.pages.len() }];
        for (i, c) in docs.chunks.iter().enumerate().take(self.rows) {
            let (scale, v) = self.row(i);
            if let Some(acc) = sums.get_mut(c.page as usize) {
                for (a, &b) in acc.iter_mut().zip(v) {
                    *a += scale * (b as i8) as f32;
                }
            }
        }
        let mut norms: Vec<f32> = sums
            .iter()
            .map(|acc| {
                let mut ss = 0f32;
                for a in acc {
                    ss += a * a;
                }
                ss.sqrt()
            })
            .collect();
        norms.resize(docs.pages.len(), 0.0);
        norms
    }

    /// Dot products of `q` with every vector.
    pub fn scores(&self, q: &[f32]) -> Vec<f32> {
        let rb = 4 + self.dim;
        self.raw
            .chunks_exact(rb)
            .map(|row| {
                let scale = f32::from_le_bytes([row[0], row[1], row[2], row[3]]);
                dot_i8(q, &row[4..]) * scale
            })
            .collect()
    }
}

/// Every chunk's dot product with a query, as search uses it: exact for
/// every chunk on a bundle in one piece; on a bundle with sign codes exact
/// for the chunks of the first stage's candidate pages (`rescored`) and
/// estimated for the others ([`codes`]).
pub struct DenseRaw {
    pub raw: Vec<f32>,
    /// `None`: every chunk is exact.
    pub rescored: Option<Vec<bool>>,
}

impl DenseRaw {
    /// Whether chunk `c`'s score is exact (the dense ranking takes only those).
    pub fn exact(&self, c: u32) -> bool {
        self.rescored
            .as_ref()
            .is_none_or(|r| r.get(c as usize).copied().unwrap_or(false))
    }

    /// The best exact score.
    pub fn best(&self) -> Option<f32> {
        self.raw
            .iter()
            .enumerate()
            .filter(|&(c, _)| self.exact(c as u32))
            .map(|(_, &s)| s)
            .reduce(f32::max)
    }
}

/// f32 x int8 dot product in 8 independent lanes (the compiler vectorises it
/// with SSE/AVX natively and SIMD128 in wasm); fixed order, so native and wasm agree.
fn dot_i8(q: &[f32], v: &[u8]) -> f32 {
    let mut acc = [0f32; 8];
    let (qc, vc) = (q.chunks_exact(8), v.chunks_exact(8));
    let (qr, vr) = (qc.remainder(), vc.remainder());
    for (a, b) in qc.zip(vc) {
        for i in 0..8 {
            acc[i] += a[i] * (b[i] as i8) as f32;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (a, b) in qr.iter().zip(vr) {
        s += a * (*b as i8) as f32;
    }
    s
}

/// The `k` best of `(id, score)` pairs, best first, ties to the lower id.
pub fn best_n(mut idx: Vec<(u32, f32)>, k: usize) -> Vec<(u32, f32)> {
    let k = k.min(idx.len());
    if k == 0 {
        return vec![];
    }
    idx.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    idx.truncate(k);
    idx.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    idx
}
