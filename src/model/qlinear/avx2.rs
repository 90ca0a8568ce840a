//! AVX2 (x86-64, detected at run time): activation quantisation, and the
//! [`Layout::Pairs`](super::Layout::Pairs) kernel, one 256-bit vector for a
//! group's 8 rows, `pmaddwd` on a splat of an activation pair, tiles of 4
//! tokens. Also the odd last group of the AVX-512 pairs path.

use super::layout::{group_block, ROWS};
use super::rounding::{block_scale, ROUNDER};
use super::Kernel;
use crate::format::tensors::Q4_BLOCK;

/// The scalar `quantize_block` of [`super::quant`] with AVX2, the same
/// steps as the wasm version: `max_ps(a, m)` is `if a > m { a } else { m }`
/// (NaN skipped), `max_ps(x, lo)` / `min_ps(x, hi)` the clamp with NaN going
/// to -128.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn quantize_block_avx2(blk: &[f32; Q4_BLOCK], out: &mut [i8; Q4_BLOCK]) -> f32 {
    use core::arch::x86_64::*;
    let p = blk.as_ptr();
    let v: [__m256; 4] = core::array::from_fn(|i| _mm256_loadu_ps(p.add(8 * i)));
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let mut m = _mm256_setzero_ps();
    for x in v {
        m = _mm256_max_ps(_mm256_and_ps(x, abs_mask), m);
    }
    let mut lanes = [0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), m);
    let mut amax = 0f32;
    for a in lanes {
        if a > amax {
            amax = a;
        }
    }
    let (dd, id) = block_scale(amax);
    let (idv, r) = (_mm256_set1_ps(id), _mm256_set1_ps(ROUNDER));
    let (lo, hi) = (_mm256_set1_ps(-128.0), _mm256_set1_ps(127.0));
    let q = |x: __m256| {
        let x = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, idv), r), r);
        _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(x, lo), hi))
    };
    // packs work per 128-bit half: the bytes come out as dwords
    // [a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7]; put them back in order
    let ab = _mm256_packs_epi32(q(v[0]), q(v[1]));
    let cd = _mm256_packs_epi32(q(v[2]), q(v[3]));
    let bytes = _mm256_packs_epi16(ab, cd);
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256(
        out.as_mut_ptr() as *mut __m256i,
        _mm256_permutevar8x32_epi32(bytes, order),
    );
    dd
}

#[target_feature(enable = "avx2")]
pub(super) unsafe fn qmatmul_avx2(k: &Kernel, y: &mut [f32]) {
    for g in 0..k.wt.out / ROWS {
        group_avx2(k, g, y);
    }
}

/// Every token of one group of rows, in AVX2 tiles of 4 tokens.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn group_avx2(k: &Kernel, g: usize, y: &mut [f32]) {
    tiles!(k.tile_avx2, 4, (g), k.xq.tokens, y);
}

impl Kernel<'_> {
    /// Rows `ROWS * g..` for tokens `t0..t0+TT` with 256-bit vectors: one
    /// vector holds the 8 rows' partial sums.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn tile_avx2<const TT: usize>(&self, g: usize, t0: usize, y: &mut [f32]) {
        use core::arch::x86_64::*;
        let (w, dw, a, da) = self.ptrs::<TT>(g, t0);
        let mut facc = [_mm256_setzero_ps(); TT];
        for b in 0..self.nb {
            let wb = w.add(b * group_block(ROWS));
            let mut iacc = [_mm256_setzero_si256(); TT];
            for p in 0..16 {
                let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(wb.add(p * 16) as *const __m128i));
                for i in 0..TT {
                    let av = _mm256_set1_epi32(a[i].add(b * 16 + p).read() as i32);
                    iacc[i] = _mm256_add_epi32(iacc[i], _mm256_madd_epi16(av, wv));
                }
            }
            let dwb = _mm256_loadu_ps(dw.add(b * ROWS));
            for i in 0..TT {
                let s = _mm256_mul_ps(dwb, _mm256_set1_ps(*da[i].add(b)));
                facc[i] = _mm256_add_ps(facc[i], _mm256_mul_ps(_mm256_cvtepi32_ps(iacc[i]), s));
            }
        }
        let bias = _mm256_loadu_ps(self.wt.bias[g * ROWS..][..ROWS].as_ptr());
        for (i, f) in facc.iter().enumerate() {
            let o = y[(t0 + i) * self.wt.out + g * ROWS..][..ROWS].as_mut_ptr();
            _mm256_storeu_ps(o, _mm256_add_ps(*f, bias));
        }
    }
}
