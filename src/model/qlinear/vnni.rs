//! AVX-512 VNNI (x86-64, detected at run time): both layouts with 512-bit
//! vectors, tiles of 8 tokens. [`Layout::Pairs`](super::Layout::Pairs): two
//! groups of 8 rows per vector, `vpdpwssd`; [`Layout::Quads`](super::Layout::Quads):
//! one group of 16 rows, `vpdpbusd` (the [`super::amx`] path's fallback).

use super::avx2::group_avx2;
use super::layout::{group_block, QUAD_ROWS, ROWS};
use super::Kernel;
use crate::format::tensors::Q4_BLOCK;

/// Whether [`super::qmatmul`] takes the AVX-512 VNNI paths on this CPU.
pub fn has_avx512_vnni() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vnni")
}

/// Pairs: two groups of rows (16 rows, one 512-bit vector) at a time, tiles
/// of 8 tokens; an odd last group goes through the AVX2 tile.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn qmatmul_avx512(k: &Kernel, y: &mut [f32]) {
    let groups = k.wt.out / ROWS;
    let mut g = 0;
    while g + 2 <= groups {
        tiles!(k.tile_avx512, 8, (g), k.xq.tokens, y);
        g += 2;
    }
    if g < groups {
        group_avx2(k, g, y);
    }
}

/// Quads: one group of 16 rows (one 512-bit vector), tiles of 8 tokens.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn qmatmul_quads_avx512(k: &Kernel, y: &mut [f32]) {
    for g in 0..k.wt.out / QUAD_ROWS {
        tiles!(k.tile_quads_avx512, 8, (g), k.xq.tokens, y);
    }
}

impl Kernel<'_> {
    /// Quads, rows `16 * g..16 * g + 16` for tokens `t0..t0 + TT` with
    /// 512-bit vectors: `vpdpbusd` adds four `u * x_q` products to each
    /// row's i32 lane (u8 times i8, the pair sums exact in i16, no
    /// saturation in the non-`s` form), starting from `-8 * sum(x_q)`: the
    /// block's integer sum, as on the other paths.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn tile_quads_avx512<const TT: usize>(&self, g: usize, t0: usize, y: &mut [f32]) {
        use core::arch::x86_64::*;
        let (w, dw, a, da) = self.ptrs::<TT>(g, t0);
        let s = self.neg8sums::<TT>(t0);
        let mut facc = [_mm512_setzero_ps(); TT];
        for b in 0..self.nb {
            let wb = w.add(b * group_block(QUAD_ROWS));
            let mut iacc: [__m512i; TT] = core::array::from_fn(|i| _mm512_set1_epi32(*s[i].add(b)));
            for j in 0..Q4_BLOCK / 4 {
                let wv = _mm512_loadu_si512(wb.add(j * 64) as *const __m512i);
                for i in 0..TT {
                    let av = _mm512_set1_epi32(a[i].add(b * 8 + j).read() as i32);
                    iacc[i] = _mm512_dpbusd_epi32(iacc[i], wv, av);
                }
            }
            let dwb = _mm512_loadu_ps(dw.add(b * QUAD_ROWS));
            for i in 0..TT {
                let s = _mm512_mul_ps(dwb, _mm512_set1_ps(*da[i].add(b)));
                facc[i] = _mm512_add_ps(facc[i], _mm512_mul_ps(_mm512_cvtepi32_ps(iacc[i]), s));
            }
        }
        let bias = _mm512_loadu_ps(self.wt.bias[g * QUAD_ROWS..][..QUAD_ROWS].as_ptr());
        for (i, f) in facc.iter().enumerate() {
            let o = y[(t0 + i) * self.wt.out + g * QUAD_ROWS..][..QUAD_ROWS].as_mut_ptr();
            _mm512_storeu_ps(o, _mm512_add_ps(*f, bias));
        }
    }

    /// Rows `ROWS * g..ROWS * (g + 2)` (groups `g` and `g + 1`) for tokens
    /// `t0..t0+TT` with 512-bit vectors: the i32 lanes 0-7 hold group `g`'s
    /// rows, 8-15 group `g + 1`'s. `vpdpwssd` adds `a0 * w0 + a1 * w1` to each
    /// i32 lane without saturation, exactly what `pmaddwd` + `paddd` give
    /// (|block sum| <= 32 * 8 * 128, far from overflow), so the per-block
    /// integer sums, and the float steps after them, are those of the other
    /// paths, lane by lane.
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn tile_avx512<const TT: usize>(&self, g: usize, t0: usize, y: &mut [f32]) {
        use core::arch::x86_64::*;
        let (w0, dw0, a, da) = self.ptrs::<TT>(g, t0);
        let (w1, dw1, _, _) = self.ptrs::<TT>(g + 1, t0);
        // two 8-lane halves into one 16-lane vector
        let join = |lo: __m256, hi: __m256| {
            _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                _mm512_castpd256_pd512(_mm256_castps_pd(lo)),
                _mm256_castps_pd(hi),
            ))
        };
        let mut facc = [_mm512_setzero_ps(); TT];
        for b in 0..self.nb {
            let (wb0, wb1) = (w0.add(b * group_block(ROWS)), w1.add(b * group_block(ROWS)));
            let mut iacc = [_mm512_setzero_si512(); TT];
            for p in 0..16 {
                let lo = _mm_loadu_si128(wb0.add(p * 16) as *const __m128i);
                let hi = _mm_loadu_si128(wb1.add(p * 16) as *const __m128i);
                let wv = _mm512_cvtepi8_epi16(_mm256_inserti128_si256::<1>(
                    _mm256_castsi128_si256(lo),
                    hi,
                ));
                for i in 0..TT {
                    let av = _mm512_set1_epi32(a[i].add(b * 16 + p).read() as i32);
                    iacc[i] = _mm512_dpwssd_epi32(iacc[i], av, wv);
                }
            }
            let dwb = join(
                _mm256_loadu_ps(dw0.add(b * ROWS)),
                _mm256_loadu_ps(dw1.add(b * ROWS)),
            );
            for i in 0..TT {
                let s = _mm512_mul_ps(dwb, _mm512_set1_ps(*da[i].add(b)));
                facc[i] = _mm512_add_ps(facc[i], _mm512_mul_ps(_mm512_cvtepi32_ps(iacc[i]), s));
            }
        }
        let bias = self.wt.bias[g * ROWS..][..2 * ROWS].as_ptr();
        let bias = join(_mm256_loadu_ps(bias), _mm256_loadu_ps(bias.add(ROWS)));
        for (i, f) in facc.iter().enumerate() {
            let o = y[(t0 + i) * self.wt.out + g * ROWS..][..2 * ROWS].as_mut_ptr();
            _mm512_storeu_ps(o, _mm512_add_ps(*f, bias));
        }
    }
}
