//! wasm simd128 (the baseline wasm build): activation quantisation and the
//! [`Layout::Pairs`](super::Layout::Pairs) tile of [`super::qmatmul_baseline`],
//! two 128-bit vectors per group of 8 rows, `i32x4.dot_i16x8_s`.

use super::layout::{group_block, ROWS};
use super::rounding::{block_scale, ROUNDER};
use super::Kernel;
use crate::format::tensors::Q4_BLOCK;

/// The scalar `quantize_block` of [`super::quant`] (the other targets'),
/// lane by lane (the same IEEE operations).
pub(super) fn quantize_block(blk: &[f32; Q4_BLOCK], out: &mut [i8; Q4_BLOCK]) -> f32 {
    use core::arch::wasm32::*;
    // SAFETY: 32 f32 read, 32 i8 written, as the array types say.
    unsafe {
        let p = blk.as_ptr() as *const v128;
        let v: [v128; 8] = core::array::from_fn(|i| v128_load(p.add(i)));
        // pmax(m, a) = if m < a { a } else { m }: NaN lanes are skipped, as in the scalar code
        let mut m = f32x4_splat(0.0);
        for x in v {
            m = f32x4_pmax(m, f32x4_abs(x));
        }
        let mut amax = 0f32;
        for a in [
            f32x4_extract_lane::<0>(m),
            f32x4_extract_lane::<1>(m),
            f32x4_extract_lane::<2>(m),
            f32x4_extract_lane::<3>(m),
        ] {
            if a > amax {
                amax = a;
            }
        }
        let (dd, id) = block_scale(amax);
        let (idv, r) = (f32x4_splat(id), f32x4_splat(ROUNDER));
        // The scalar code's `(x * id + R) - R`, clamped to [-128, 127], then
        // converted. Here the clamp is done before subtracting R, against
        // R - 128 and R + 127, and the integer read from the bits: a finite
        // `x * id` is at most ~127 in size, so `u = x * id + R` lies in
        // [2^23, 2^24), where floats are the consecutive integers and
        // consecutive bit patterns: `u - R` is exact, `u - R > -128` iff
        // `u > R - 128` (likewise for 127), and `bits(u) - bits(R)` is the
        // integer `u - R`. An infinite `u` (`id` overflowed) clamps to the
        // same end either way, a NaN to -128 either way. The same values
        // without `i32x4.trunc_sat_f32x4`, which V8 lowers to a long
        // sequence on x86 (quantisation went from ~6 % to ~5 % of a
        // 32-token query in Chromium).
        let (lo, hi) = (f32x4_splat(ROUNDER - 128.0), f32x4_splat(ROUNDER + 127.0));
        let rbits = i32x4_splat(ROUNDER.to_bits() as i32);
        let q = |x: v128| {
            let u = f32x4_add(f32x4_mul(x, idv), r);
            // pmax(lo, u) = if lo < u { u } else { lo } (NaN -> -128), then
            // pmin(hi, u) = if u < hi { u } else { hi }: as the scalar code
            i32x4_sub(f32x4_pmin(hi, f32x4_pmax(lo, u)), rbits)
        };
        let o = out.as_mut_ptr() as *mut v128;
        for i in 0..2 {
            let lo = i16x8_narrow_i32x4(q(v[4 * i]), q(v[4 * i + 1]));
            let hi = i16x8_narrow_i32x4(q(v[4 * i + 2]), q(v[4 * i + 3]));
            v128_store(o.add(i), i8x16_narrow_i16x8(lo, hi));
        }
        dd
    }
}

impl Kernel<'_> {
    /// Rows `ROWS * g..` for tokens `t0..t0+TT`, 128-bit vectors: rows
    /// 0-3 and 4-7 of the group in two vectors.
    #[inline(always)]
    pub(super) fn tile<const TT: usize>(&self, g: usize, t0: usize, y: &mut [f32]) {
        use core::arch::wasm32::*;
        let (w, dw, a, da) = self.ptrs::<TT>(g, t0);
        // SAFETY: `ptrs` and `new` bound every offset below.
        unsafe {
            let mut facc = [[f32x4_splat(0.0); 2]; TT];
            for b in 0..self.nb {
                let wb = w.add(b * group_block(ROWS));
                let mut iacc = [[i32x4_splat(0); 2]; TT];
                for p in 0..16 {
                    let w0 = i16x8_load_extend_i8x8(wb.add(p * 16) as *const i8);
                    let w1 = i16x8_load_extend_i8x8(wb.add(p * 16 + 8) as *const i8);
                    for i in 0..TT {
                        let av = v128_load32_splat(a[i].add(b * 16 + p));
                        iacc[i][0] = i32x4_add(iacc[i][0], i32x4_dot_i16x8(av, w0));
                        iacc[i][1] = i32x4_add(iacc[i][1], i32x4_dot_i16x8(av, w1));
                    }
                }
                let dw0 = v128_load(dw.add(b * ROWS) as *const v128);
                let dw1 = v128_load(dw.add(b * ROWS + 4) as *const v128);
                for i in 0..TT {
                    let dai = f32x4_splat(*da[i].add(b));
                    let (s0, s1) = (f32x4_mul(dw0, dai), f32x4_mul(dw1, dai));
                    let p0 = f32x4_mul(f32x4_convert_i32x4(iacc[i][0]), s0);
                    let p1 = f32x4_mul(f32x4_convert_i32x4(iacc[i][1]), s1);
                    facc[i][0] = f32x4_add(facc[i][0], p0);
                    facc[i][1] = f32x4_add(facc[i][1], p1);
                }
            }
            let bias = &self.wt.bias[g * ROWS..][..ROWS];
            let b0 = v128_load(bias.as_ptr() as *const v128);
            let b1 = v128_load(bias[4..].as_ptr() as *const v128);
            for (i, f) in facc.iter().enumerate() {
                let o = y[(t0 + i) * self.wt.out + g * ROWS..][..ROWS].as_mut_ptr();
                v128_store(o as *mut v128, f32x4_add(f[0], b0));
                v128_store(o.add(4) as *mut v128, f32x4_add(f[1], b1));
            }
        }
    }
}
