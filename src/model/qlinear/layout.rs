//! The weights of one layer in the layout its kernels read ([`Layout`]:
//! both layouts are described in the [module docs](super)), built from
//! Q4_0 rows, and the row group sizes the layouts use.

use crate::format::tensors::{f16_to_f32, Q4_BLOCK};

/// Output rows a layer's row count must be a multiple of (the i32 lanes of
/// one 256-bit vector, or of two 128-bit ones).
pub const ROWS: usize = 8;
/// Rows of one group in the [`Layout::Quads`] layout (one 512-bit vector).
pub(super) const QUAD_ROWS: usize = 16;
/// Bytes of weights per group of `rows` rows and block, in either layout
/// (one byte per value; [`Layout::group_rows`] gives `rows`).
pub(super) const fn group_block(rows: usize) -> usize {
    rows * Q4_BLOCK
}

/// How a layer's weights are laid out, i.e. which integer kernels run it
/// ([module docs](super)). Every layout gives the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Signed pairs, groups of 8 rows: SSE2, AVX2, wasm simd128, scalar.
    Pairs,
    /// Unsigned quads, groups of 16 rows: AVX-512 VNNI, wasm relaxed SIMD.
    // The baseline wasm build has no quads kernel, so nothing there picks
    // this layout (only the tests and the other builds construct it).
    #[cfg_attr(
        all(target_arch = "wasm32", not(target_feature = "relaxed-simd")),
        allow(dead_code)
    )]
    Quads,
}

impl Layout {
    /// The fastest layout this CPU (or this wasm build) has kernels for.
    pub fn preferred() -> Self {
        #[cfg(target_arch = "x86_64")]
        if super::has_avx512_vnni() {
            return Layout::Quads;
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
        return Layout::Quads;
        #[allow(unreachable_code)]
        Layout::Pairs
    }

    pub(super) fn group_rows(self) -> usize {
        match self {
            Layout::Pairs => ROWS,
            Layout::Quads => QUAD_ROWS,
        }
    }
}

/// The quantised weights of one linear layer.
pub struct QWeights {
    pub out: usize,
    pub inp: usize,
    pub layout: Layout,
    /// One byte per value, in `layout`: signed `w_q` (Pairs) or `w_q + 8`
    /// (Quads).
    pub(super) w: Vec<u8>,
    /// Block scales (times the layer's folded scale), `[group][block][row]`.
    pub(super) d: Vec<f32>,
    pub(super) bias: Vec<f32>,
}

impl std::fmt::Debug for QWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "QWeights({}x{} q4 as {:?})",
            self.out, self.inp, self.layout
        )
    }
}

impl QWeights {
    /// From Q4_0 rows (`out` rows of `inp` values) and the bias; block scales
    /// and bias are multiplied by `scale`. `out` must be a multiple of
    /// [`ROWS`] and `inp` of the block size. In [`Layout::preferred`], or
    /// in pairs when `out` does not fill groups of 16.
    pub fn from_q4_0(raw: &[u8], bias: &[f32], out: usize, inp: usize, scale: f32) -> Self {
        Self::from_q4_0_scaled(raw, bias, out, inp, &vec![scale; out])
    }

    /// As [`QWeights::from_q4_0`] with one scale per row (layers fused
    /// into one, each with its own folded scale).
    pub fn from_q4_0_scaled(
        raw: &[u8],
        bias: &[f32],
        out: usize,
        inp: usize,
        scales: &[f32],
    ) -> Self {
        let layout = match Layout::preferred() {
            Layout::Quads if out.is_multiple_of(QUAD_ROWS) => Layout::Quads,
            _ => Layout::Pairs,
        };
        Self::from_q4_0_in(raw, bias, out, inp, scales, layout)
    }

    /// As [`QWeights::from_q4_0_scaled`], in the given layout (`out` a
    /// multiple of its group size).
    pub fn from_q4_0_in(
        raw: &[u8],
        bias: &[f32],
        out: usize,
        inp: usize,
        scales: &[f32],
        layout: Layout,
    ) -> Self {
        let gr = layout.group_rows();
        assert!(out.is_multiple_of(gr) && inp.is_multiple_of(Q4_BLOCK));
        let nb = inp / Q4_BLOCK;
        let row_bytes = nb * 18;
        assert_eq!(raw.len(), out * row_bytes);
        assert_eq!(bias.len(), out);
        assert_eq!(scales.len(), out);
        let mut w = vec![0u8; out * inp];
        let mut d = vec![0f32; out * nb];
        for row in 0..out {
            let (g, r) = (row / gr, row % gr);
            for b in 0..nb {
                let blk = &raw[row * row_bytes + b * 18..][..18];
                let mut ds = f16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
                if scales[row] != 1.0 {
                    ds *= scales[row];
                }
                d[(g * nb + b) * gr + r] = ds;
                // the nibbles, 0..15, in value order
                let mut u = [0u8; Q4_BLOCK];
                for j in 0..16 {
                    u[j] = blk[2 + j] & 0x0f;
                    u[j + 16] = blk[2 + j] >> 4;
                }
                let base = (g * nb + b) * group_block(gr);
                match layout {
                    Layout::Pairs => {
                        for p in 0..Q4_BLOCK / 2 {
                            for k in 0..2 {
                                w[base + p * 2 * ROWS + r * 2 + k] = (u[2 * p + k] as i8 - 8) as u8;
                            }
                        }
                    }
                    Layout::Quads => {
                        for j in 0..Q4_BLOCK / 4 {
                            w[base + j * 4 * QUAD_ROWS + r * 4..][..4]
                                .copy_from_slice(&u[4 * j..4 * j + 4]);
                        }
                    }
                }
            }
        }
        let bias = bias
            .iter()
            .zip(scales)
            .map(|(&b, &s)| if s != 1.0 { b * s } else { b })
            .collect();
        QWeights {
            out,
            inp,
            layout,
            w,
            d,
            bias,
        }
    }

    /// The signed value `w_q` of `row`, input `k` (for the scalar path).
    pub(super) fn value(&self, row: usize, k: usize) -> i32 {
        let gr = self.layout.group_rows();
        let nb = self.inp / Q4_BLOCK;
        let (g, r, b, i) = (row / gr, row % gr, k / Q4_BLOCK, k % Q4_BLOCK);
        let base = (g * nb + b) * group_block(gr);
        match self.layout {
            Layout::Pairs => self.w[base + (i / 2) * 2 * ROWS + r * 2 + i % 2] as i8 as i32,
            Layout::Quads => self.w[base + (i / 4) * 4 * QUAD_ROWS + r * 4 + i % 4] as i32 - 8,
        }
    }

    /// The scale of `row`'s block `b`.
    pub(super) fn scale(&self, row: usize, b: usize) -> f32 {
        let gr = self.layout.group_rows();
        let nb = self.inp / Q4_BLOCK;
        self.d[(row / gr * nb + b) * gr + row % gr]
    }
}
