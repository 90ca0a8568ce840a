//! wasm relaxed SIMD (the relaxed wasm build): the
//! [`Layout::Quads`](super::Layout::Quads) kernel, `i32x4.relaxed_dot_i8x16_i7x16_add_s`
//! on a splat of four activation bytes, 16 rows per tile, tiles of 4 tokens.

use super::layout::{group_block, QUAD_ROWS};
use super::Kernel;
use crate::format::tensors::Q4_BLOCK;

/// [`super::qmatmul`] for the quads layout: each group of 16 rows, every
/// token.
pub(super) fn qmatmul_quads(k: &Kernel, y: &mut [f32]) {
    for g in 0..k.wt.out / QUAD_ROWS {
        tiles!(k.tile_relaxed, 4, (g), k.xq.tokens, y);
    }
}

impl Kernel<'_> {
    /// Quads, rows `16 * g..16 * g + 16` (four 128-bit vectors) for tokens
    /// `t0..t0 + TT`, with wasm relaxed SIMD:
    /// `i32x4.relaxed_dot_i8x16_i7x16_add_s` takes the activations as its
    /// signed operand and the nibbles (0..15, so their top bit is clear and
    /// every engine reads them alike) as its 7-bit one; a pair of products is
    /// at most 2 * 128 * 15 in size, so the i16 step neither saturates nor
    /// wraps, and the result is the exact integer sum on every engine.
    ///
    /// Shaped for V8, which gives wasm 16 vector registers: all 16 rows per
    /// activation splat (one splat per four dot products; reloaded at each
    /// use rather than held, which costs a load, not a register), and the
    /// float sums in a stack array read and written once per block with
    /// volatile accesses, so that neither LLVM nor V8 keeps them in
    /// registers across the integer loop, where they would push the 16
    /// integer sums out to the stack. Half-group tiles (8 rows, float sums in
    /// registers) were ~20 % slower in Chromium. The arithmetic is unchanged:
    /// each float sum starts at 0.0 and adds the blocks' terms in order.
    #[inline(always)]
    // `k` and `i` index the weights, the splats and both sums' arrays at once
    #[allow(clippy::needless_range_loop)]
    fn tile_relaxed<const TT: usize>(&self, g: usize, t0: usize, y: &mut [f32]) {
        use core::arch::wasm32::*;
        let (w, dw, a, da) = self.ptrs::<TT>(g, t0);
        let s = self.neg8sums::<TT>(t0);
        // SAFETY: `ptrs`, `neg8sums` and `new` bound every offset below;
        // `facc` is an array of v128, so `fp` is aligned for them.
        unsafe {
            let mut facc = [[f32x4_splat(0.0); 4]; TT];
            let fp = facc.as_mut_ptr() as *mut v128;
            for b in 0..self.nb {
                let wb = w.add(b * group_block(QUAD_ROWS));
                let mut iacc = [[i32x4_splat(0); 4]; TT];
                for (i, acc) in iacc.iter_mut().enumerate() {
                    *acc = [i32x4_splat(*s[i].add(b)); 4];
                }
                for j in 0..Q4_BLOCK / 4 {
                    for k in 0..4 {
                        let wv = v128_load(wb.add(j * 64 + k * 16) as *const v128);
                        for i in 0..TT {
                            let av = v128_load32_splat(a[i].add(b * 8 + j));
                            iacc[i][k] = i32x4_relaxed_dot_i8x16_i7x16_add(av, wv, iacc[i][k]);
                        }
                    }
                }
                for k in 0..4 {
                    let dwk = v128_load(dw.add(b * QUAD_ROWS + 4 * k) as *const v128);
                    for i in 0..TT {
                        let sk = f32x4_mul(dwk, f32x4_splat(*da[i].add(b)));
                        let p = f32x4_mul(f32x4_convert_i32x4(iacc[i][k]), sk);
                        let f = fp.add(4 * i + k).read_volatile();
                        fp.add(4 * i + k).write_volatile(f32x4_add(f, p));
                    }
                }
            }
            let bias = self.wt.bias[g * QUAD_ROWS..][..QUAD_ROWS].as_ptr();
            for (i, f) in facc.iter().enumerate() {
                let o = y[(t0 + i) * self.wt.out + g * QUAD_ROWS..][..QUAD_ROWS].as_mut_ptr();
                for (k, fk) in f.iter().enumerate() {
                    let bk = v128_load(bias.add(4 * k) as *const v128);
                    v128_store(o.add(4 * k) as *mut v128, f32x4_add(*fk, bk));
                }
            }
        }
    }
}
