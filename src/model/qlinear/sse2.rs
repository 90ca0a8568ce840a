//! SSE2, the x86-64 baseline: the [`Layout::Pairs`](super::Layout::Pairs)
//! tile of [`super::qmatmul_baseline`], two 128-bit vectors per group of 8
//! rows, `pmaddwd`; the same steps as the wasm simd128 tile.

use super::layout::{group_block, ROWS};
use super::Kernel;

impl Kernel<'_> {
    /// As the wasm simd128 tile, with SSE2.
    #[inline(always)]
    pub(super) fn tile<const TT: usize>(&self, g: usize, t0: usize, y: &mut [f32]) {
        use core::arch::x86_64::*;
        let (w, dw, a, da) = self.ptrs::<TT>(g, t0);
        // SAFETY: `ptrs` and `new` bound every offset below; SSE2 is baseline.
        unsafe {
            let mut facc = [[_mm_setzero_ps(); 2]; TT];
            for b in 0..self.nb {
                let wb = w.add(b * group_block(ROWS));
                let mut iacc = [[_mm_setzero_si128(); 2]; TT];
                for p in 0..16 {
                    // sign-extend 8 x i8 to i16: interleave with itself, shift
                    let raw = _mm_loadu_si128(wb.add(p * 16) as *const __m128i);
                    let w0 = _mm_srai_epi16(_mm_unpacklo_epi8(raw, raw), 8);
                    let w1 = _mm_srai_epi16(_mm_unpackhi_epi8(raw, raw), 8);
                    for i in 0..TT {
                        let av = _mm_set1_epi32(a[i].add(b * 16 + p).read() as i32);
                        iacc[i][0] = _mm_add_epi32(iacc[i][0], _mm_madd_epi16(av, w0));
                        iacc[i][1] = _mm_add_epi32(iacc[i][1], _mm_madd_epi16(av, w1));
                    }
                }
                let dw0 = _mm_loadu_ps(dw.add(b * ROWS));
                let dw1 = _mm_loadu_ps(dw.add(b * ROWS + 4));
                for i in 0..TT {
                    let dai = _mm_set1_ps(*da[i].add(b));
                    let (s0, s1) = (_mm_mul_ps(dw0, dai), _mm_mul_ps(dw1, dai));
                    let p0 = _mm_mul_ps(_mm_cvtepi32_ps(iacc[i][0]), s0);
                    let p1 = _mm_mul_ps(_mm_cvtepi32_ps(iacc[i][1]), s1);
                    facc[i][0] = _mm_add_ps(facc[i][0], p0);
                    facc[i][1] = _mm_add_ps(facc[i][1], p1);
                }
            }
            let bias = &self.wt.bias[g * ROWS..][..ROWS];
            let b0 = _mm_loadu_ps(bias.as_ptr());
            let b1 = _mm_loadu_ps(bias[4..].as_ptr());
            for (i, f) in facc.iter().enumerate() {
                let o = y[(t0 + i) * self.wt.out + g * ROWS..][..ROWS].as_mut_ptr();
                _mm_storeu_ps(o, _mm_add_ps(f[0], b0));
                _mm_storeu_ps(o.add(4), _mm_add_ps(f[1], b1));
            }
        }
    }
}
