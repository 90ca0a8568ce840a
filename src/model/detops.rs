//! The encoder's float ops (layer norm, attention, GELU) as tract ops whose
//! arithmetic is fixed by this code alone: plain IEEE add, mul, div and sqrt
//! in a written-out order, with our own `exp`/`erf`, never a libm call, an
//! FMA or a platform kernel. tract's own kernels differ by target (AVX-512
//! FMA matmuls and exp/erf approximations natively, other ones in wasm), and
//! the 8-bit activation rounding of [`super::qlinear`] turns their last-bit
//! differences into visible ones; with these ops native and wasm embeddings
//! are bitwise equal.
//!
//! Sums that LLVM should vectorise are written over four explicit lanes
//! (lane `j` takes elements `j, j + 4, ...`, lanes added `(0 + 1) + (2 + 3)`
//! at the end): vectorising them keeps every lane's order, so the result is
//! the same whether or not the compiler does.

use std::sync::Arc;

use tract_core::internal::*;

/// Defines `fn $name(args) -> R` calling `$body(args)` (an
/// `#[inline(always)]` function), compiled for AVX-512 or AVX2 when the CPU
/// has it.
/// Only the vector width changes: the bodies are lane-wise IEEE arithmetic
/// and Rust never fuses a mul and an add into an FMA, so the results are
/// the same bits with or without it (and in wasm).
#[macro_export]
#[doc(hidden)]
macro_rules! wide_dispatch {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:ident) => {
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,avx512f")]
                unsafe fn wide512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn wide($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512 F (hence AVX2).
                    return unsafe { wide512($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2.
                    return unsafe { wide($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

/// 1.5 * 2^23: `(x + R) - R` rounds `|x| < 2^22` to an integer, ties to even.
const ROUNDER: f32 = 12_582_912.0;

/// e^x to ~2 ulp, from IEEE add/mul and bit operations only.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that n * LN2_HI is exact for |n| < 2^9
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // NaN stays NaN through the clamp and the rest (p is NaN)
    let x = x.clamp(-87.0, 88.0);
    let f = x * LOG2E + ROUNDER;
    let n = f - ROUNDER;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Taylor series of e^r to r^7 on |r| <= 0.35 (error < 2e-9 relative)
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^n from the bits of f = 1.5 * 2^23 + n, whose low bits hold n (no
    // float-to-int conversion, so loops over exp vectorise)
    let n_int = f.to_bits().wrapping_sub(ROUNDER.to_bits()) as i32;
    p * f32::from_bits((n_int.wrapping_add(127) as u32) << 23)
}

/// erf(x), absolute error below 4e-7 (f32 evaluation included), as
/// `z * P(z^2) / Q(z^2)` with `z` = x clamped to [-4, 4] (|erf| is within
/// 2e-8 of 1 beyond) and P, Q of degree 5: a rational fit for the smallest
/// largest error on [0, 4] (`scripts/fit-erf.py` makes and checks it). One
/// division, no `exp`, no branch: a loop over it vectorises, and it costs
/// about a third of the series-plus-`exp` form it replaced (GELU's share of a
/// 32-token query's profile in Chromium: 13 % -> 4 %).
#[inline(always)]
// P[0] is the fit's value, one ulp from 2 / sqrt(pi), not that constant
#[allow(clippy::approx_constant)]
pub fn erf(x: f32) -> f32 {
    const P: [f32; 6] = [
        1.128_379,
        0.196_246_4,
        0.053_466_775,
        0.004_003_410_7,
        0.000_288_015_14,
        1.974_594_6e-6,
    ];
    const Q: [f32; 5] = [
        0.507_25,
        0.116_475_02,
        0.015_444_002,
        0.001_216_261_4,
        3.747_7e-5,
    ];
    // NaN stays NaN through the clamp and the rest
    let z = x.clamp(-4.0, 4.0);
    let w = z * z;
    let p = P[0] + w * (P[1] + w * (P[2] + w * (P[3] + w * (P[4] + w * P[5]))));
    let q = 1.0 + w * (Q[0] + w * (Q[1] + w * (Q[2] + w * (Q[3] + w * Q[4]))));
    z * p / q
}

/// `0.5 * x * (1 + erf(x / sqrt 2))`, the exact (erf) GELU.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Sum of `a[i] * b[i]` over four lanes (see the module docs); `a.len()` a
/// multiple of 4.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 4];
    for (x, y) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        for j in 0..4 {
            acc[j] += x[j] * y[j];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Sum over four lanes.
#[inline(always)]
fn sum(a: &[f32]) -> f32 {
    let mut acc = [0f32; 4];
    for x in a.chunks_exact(4) {
        for j in 0..4 {
            acc[j] += x[j];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Runs `f` on the input's values in place: without a copy when the plan
/// holds no other reference to it.
fn in_place(x: TValue, f: impl FnOnce(&mut [f32]) -> TractResult<()>) -> TractResult<TVec<TValue>> {
    let mut t = x.into_tensor();
    f(t.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?)?;
    Ok(tvec![t.into_tvalue()])
}

/// A new `[shape]` tensor of zeros that `f` fills in place. (A tensor made
/// from a `Vec` would be copied: tract 0.23's `Tensor::from(ArrayD)`
/// allocates its own buffer.)
pub(crate) fn computed(shape: &[usize], f: impl FnOnce(&mut [f32])) -> TractResult<TVec<TValue>> {
    let mut t = Tensor::zero::<f32>(shape)?;
    f(t.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?);
    Ok(tvec![t.into_tvalue()])
}

/// `LayerNorm(x)` or `LayerNorm(x + r)` over the last axis of `[T, h]`.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    /// gamma then beta, `h` each
    pub params: Arc<Vec<f32>>,
    pub eps: f32,
}

impl PartialEq for LayerNorm {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.params, &other.params) && self.eps.to_bits() == other.eps.to_bits()
    }
}
impl Eq for LayerNorm {}

impl LayerNorm {
    pub fn new(gamma: &[f32], beta: &[f32], eps: f32) -> Self {
        assert!(gamma.len() == beta.len() && gamma.len().is_multiple_of(4));
        LayerNorm {
            params: Arc::new([gamma, beta].concat()),
            eps,
        }
    }

    /// Normalises each row of `x` in place.
    pub fn run(&self, x: &mut [f32]) {
        layer_norm(&self.params, self.eps, x)
    }
}

wide_dispatch!(fn layer_norm(params: &[f32], eps: f32, x: &mut [f32]) => layer_norm_body);

#[inline(always)]
fn layer_norm_body(params: &[f32], eps: f32, x: &mut [f32]) {
    {
        let h = params.len() / 2;
        let (gamma, beta) = params.split_at(h);
        let mut xc = vec![0f32; h];
        for row in x.chunks_exact_mut(h) {
            let mean = sum(row) / h as f32;
            for (c, v) in xc.iter_mut().zip(row.iter()) {
                *c = v - mean;
            }
            let var = dot(&xc, &xc) / h as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for (((o, c), g), b) in row.iter_mut().zip(&xc).zip(gamma).zip(beta) {
                *o = c * inv * g + b;
            }
        }
    }
}

impl Op for LayerNorm {
    fn name(&self) -> StaticName {
        "DetLayerNorm".into()
    }
    op_as_typed_op!();
}

impl EvalOp for LayerNorm {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, mut inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let h = self.params.len() / 2;
        let shape: TVec<usize> = inputs[0].shape().into();
        ensure!(shape.len() == 2 && shape[1] == h);
        let r = inputs.get(1).cloned();
        in_place(inputs.swap_remove(0), |x| {
            if let Some(r) = r {
                ensure!(r.shape() == &*shape);
                let r = r.try_as_plain_ram()?;
                for (a, b) in x.iter_mut().zip(r.as_slice::<f32>()?) {
                    *a += b;
                }
            }
            self.run(x);
            Ok(())
        })
    }
}

impl TypedOp for LayerNorm {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.iter().all(|f| f.datum_type == f32::datum_type()));
        Ok(tvec![f32::fact(inputs[0].shape.clone())])
    }
    as_op!();
}

wide_dispatch!(fn gelu_all(x: &mut [f32]) => gelu_all_body);

#[inline(always)]
fn gelu_all_body(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = gelu(*v);
    }
}

/// The exact GELU, element by element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gelu;

impl Op for Gelu {
    fn name(&self) -> StaticName {
        "DetGelu".into()
    }
    op_as_typed_op!();
}

impl EvalOp for Gelu {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, mut inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        in_place(inputs.swap_remove(0), |x| {
            gelu_all(x);
            Ok(())
        })
    }
}

impl TypedOp for Gelu {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == f32::datum_type());
        Ok(tvec![f32::fact(inputs[0].shape.clone())])
    }
    as_op!();
}

/// Multi-head self-attention core: `q`, `k`, `v` `[T, h]` (the softmax
/// scale already folded into `q`), as three inputs or, `fused`, as one
/// `[T, 3h]` input (the three projections side by side, as one fused
/// linear layer gives them), to the context `[T, h]`, every token attending
/// to every token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attention {
    pub heads: usize,
    pub fused: bool,
}

/// Queries, keys and values: row `i` of each starts at `i * stride`.
#[derive(Clone, Copy)]
pub struct Qkv<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub stride: usize,
}

/// The tests' entry point (the op calls [`attention`] on its own buffer).
#[cfg(test)]
impl Attention {
    /// The context `[t, h]` (see [`attention_tiled`] for the arithmetic).
    pub fn run(&self, x: Qkv, t: usize, h: usize) -> Vec<f32> {
        let mut ctx = vec![0f32; t * h];
        attention(self.heads, x, t, h, &mut ctx);
        ctx
    }
}

/// Keys scored together: one 512-bit vector, two AVX2 or four 128-bit ones.
const KEYS: usize = 16;

/// The attention core for every head. Per query, element by element:
/// - a score is a sum over the head's dimensions in order, `d = 0, 1, ...`;
/// - the maximum is exact in any order;
/// - the softmax total is a sum over keys in order, `s = 0, 1, ...`;
/// - a context value is a sum over keys in order, `s = 0, 1, ...`.
///
/// Queries are taken `QS` at a time for the scores and `QC` at a time for
/// the context, so each key or value vector loaded serves several queries;
/// the tile sizes only change how many sums are in flight, never one sum's
/// order, so every path (and wasm) gives the same bits.
#[inline(always)]
fn attention_tiled<const QS: usize, const QC: usize>(
    heads: usize,
    x: Qkv,
    t: usize,
    h: usize,
    avx512: bool,
    ctx: &mut [f32],
) {
    let Qkv { q, k, v, stride } = x;
    let hd = h / heads;
    let tp = t.div_ceil(KEYS) * KEYS;
    assert_eq!(ctx.len(), t * h);
    // scores of up to QS queries, `tp` each (the padding keys score 0 and
    // are never read)
    let mut p = vec![0f32; QS * tp];
    let mut kt = vec![0f32; hd * tp];
    for head in 0..heads {
        let col = head * hd;
        for (s, ks) in k.chunks(stride).take(t).enumerate() {
            for (d, &x) in ks[col..][..hd].iter().enumerate() {
                kt[d * tp + s] = x;
            }
        }
        let mut i0 = 0;
        while i0 < t {
            // queries i0..i0 + n (a short last tile repeats query t - 1;
            // those rows are never read)
            let n = QS.min(t - i0);
            let rows: [usize; QS] = core::array::from_fn(|r| (i0 + r).min(t - 1));
            scores_tile::<QS>(q, &kt, &rows, col, hd, stride, tp, &mut p);
            // every row of the tile (rows past n repeat a real query)
            for r in 0..QS {
                exp_shifted(&mut p[r * tp..][..t]);
            }
            // each total a plain sum over keys in order; the QS rows in step,
            // so the additions' latency overlaps across rows
            let prow: [&[f32]; QS] = core::array::from_fn(|r| &p[r * tp..][..t]);
            let mut total = [0f32; QS];
            for s in 0..t {
                for (sum, row) in total.iter_mut().zip(&prow) {
                    *sum += row[s];
                }
            }
            // the softmax weights `p * (1 / total)`, in place
            for (row, sum) in p.chunks_exact_mut(tp).zip(total).take(n) {
                let inv = 1.0 / sum;
                row[..t].iter_mut().for_each(|x| *x *= inv);
            }
            let mut r0 = 0;
            while r0 < n {
                let m = QC.min(n - r0);
                let out = &mut ctx[(i0 + r0) * h..];
                let w = &p[r0 * tp..];
                match hd {
                    32 | 64 if m == QC => {
                        context::<QC>(w, tp, t, v, col, stride, h, hd, out, avx512)
                    }
                    _ => {
                        for r in 0..m {
                            let o = &mut out[r * h + col..][..hd];
                            for (s, &w) in w[r * tp..][..t].iter().enumerate() {
                                for (o, vv) in o.iter_mut().zip(&v[s * stride + col..][..hd]) {
                                    *o += w * vv;
                                }
                            }
                        }
                    }
                }
                r0 += m;
            }
            i0 += n;
        }
    }
}

/// `out[r][s] = sum over d of q[rows[r]][col + d] * kt[d][s]` for all `tp`
/// keys, `KEYS` keys at a time with their `QS` x `KEYS` sums in registers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn scores_tile<const QS: usize>(
    q: &[f32],
    kt: &[f32],
    rows: &[usize; QS],
    col: usize,
    hd: usize,
    stride: usize,
    tp: usize,
    out: &mut [f32],
) {
    let qr: [&[f32]; QS] = core::array::from_fn(|r| &q[rows[r] * stride + col..][..hd]);
    let mut s0 = 0;
    while s0 < tp {
        let mut acc = [[0f32; KEYS]; QS];
        for d in 0..hd {
            let kd: &[f32; KEYS] = kt[d * tp + s0..][..KEYS].try_into().unwrap();
            for r in 0..QS {
                let qd = qr[r][d];
                for j in 0..KEYS {
                    acc[r][j] += qd * kd[j];
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            out[r * tp + s0..][..KEYS].copy_from_slice(a);
        }
        s0 += KEYS;
    }
}

/// Replaces scores by `exp(score - max)`.
#[inline(always)]
fn exp_shifted(p: &mut [f32]) {
    // the maximum is exact in any order (NaNs skipped)
    let mut lanes = [f32::NEG_INFINITY; KEYS];
    let mut chunks = p.chunks_exact(KEYS);
    for c in &mut chunks {
        for j in 0..KEYS {
            lanes[j] = if lanes[j] < c[j] { c[j] } else { lanes[j] };
        }
    }
    for (m, &x) in lanes.iter_mut().zip(chunks.remainder()) {
        *m = if *m < x { x } else { *m };
    }
    let mut max = f32::NEG_INFINITY;
    for x in lanes {
        if x > max {
            max = x;
        }
    }
    p.iter_mut().for_each(|x| *x = exp(*x - max));
}

/// `ctx[r][col + j] = sum over s < keys of w[r][s] * v[s][col + j]` for
/// `QC` queries (`w` the softmax weights, row `r` at `r * ws`), the sums
/// held in registers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn context_tile<const QC: usize, const HD: usize>(
    w: &[f32],
    ws: usize,
    keys: usize,
    v: &[f32],
    col: usize,
    stride: usize,
    h: usize,
    ctx: &mut [f32],
) {
    let wr: [&[f32]; QC] = core::array::from_fn(|r| &w[r * ws..][..keys]);
    let mut acc = [[0f32; HD]; QC];
    for s in 0..keys {
        let vs: &[f32; HD] = v[s * stride + col..][..HD].try_into().unwrap();
        for r in 0..QC {
            let wrs = wr[r][s];
            for j in 0..HD {
                acc[r][j] += wrs * vs[j];
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        ctx[r * h + col..][..HD].copy_from_slice(a);
    }
}

/// [`context_tile`] for `QC` queries, `hd` 32 or 64: with explicit AVX-512
/// vectors when `avx512` (the caller checked the CPU) (LLVM's own vectorisation of the generic
/// tile keeps its sums in memory in some builds, three times slower), the
/// generic tile elsewhere. The same arithmetic either way.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn context<const QC: usize>(
    w: &[f32],
    ws: usize,
    keys: usize,
    v: &[f32],
    col: usize,
    stride: usize,
    h: usize,
    hd: usize,
    ctx: &mut [f32],
    avx512: bool,
) {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx512;
    #[cfg(target_arch = "x86_64")]
    if avx512 {
        // SAFETY: `attention` passes true only on CPUs with AVX-512 F.
        unsafe {
            match hd {
                32 => context_avx512::<QC, 2>(w, ws, keys, v, col, stride, h, ctx),
                _ => context_avx512::<QC, 4>(w, ws, keys, v, col, stride, h, ctx),
            }
        }
        return;
    }
    match hd {
        32 => context_tile::<QC, 32>(w, ws, keys, v, col, stride, h, ctx),
        _ => context_tile::<QC, 64>(w, ws, keys, v, col, stride, h, ctx),
    }
}

/// [`context_tile`] with `NV` 512-bit vectors per query (`hd = 16 * NV`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn context_avx512<const QC: usize, const NV: usize>(
    w: &[f32],
    ws: usize,
    keys: usize,
    v: &[f32],
    col: usize,
    stride: usize,
    h: usize,
    ctx: &mut [f32],
) {
    use core::arch::x86_64::*;
    assert!(keys == 0 || (QC - 1) * ws + keys <= w.len());
    assert!(keys == 0 || (keys - 1) * stride + col + 16 * NV <= v.len());
    assert!((QC - 1) * h + col + 16 * NV <= ctx.len());
    let mut acc = [[_mm512_setzero_ps(); NV]; QC];
    for s in 0..keys {
        let vp = v.as_ptr().add(s * stride + col);
        let vs: [__m512; NV] = core::array::from_fn(|j| _mm512_loadu_ps(vp.add(16 * j)));
        for (r, a) in acc.iter_mut().enumerate() {
            let wr = _mm512_set1_ps(*w.get_unchecked(r * ws + s));
            for j in 0..NV {
                a[j] = _mm512_add_ps(a[j], _mm512_mul_ps(wr, vs[j]));
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        let o = ctx.as_mut_ptr().add(r * h + col);
        for (j, x) in a.iter().enumerate() {
            _mm512_storeu_ps(o.add(16 * j), *x);
        }
    }
}

/// The attention core with the widest vectors the CPU has; tiles sized for
/// its registers (results are the same on every path, see
/// [`attention_tiled`]).
/// `ctx` is `[t, h]`, zeros.
fn attention(heads: usize, x: Qkv, t: usize, h: usize, ctx: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,avx512f")]
        unsafe fn avx512(heads: usize, x: Qkv, t: usize, h: usize, ctx: &mut [f32]) {
            attention_tiled::<8, 4>(heads, x, t, h, true, ctx)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(heads: usize, x: Qkv, t: usize, h: usize, ctx: &mut [f32]) {
            attention_tiled::<4, 2>(heads, x, t, h, false, ctx)
        }
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512 F (hence AVX2).
            return unsafe { avx512(heads, x, t, h, ctx) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { avx2(heads, x, t, h, ctx) };
        }
    }
    attention_tiled::<2, 1>(heads, x, t, h, false, ctx)
}

impl Op for Attention {
    fn name(&self) -> StaticName {
        "DetAttention".into()
    }
    op_as_typed_op!();
}

impl EvalOp for Attention {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let shape: TVec<usize> = inputs[0].shape().into();
        ensure!(shape.len() == 2 && inputs.len() == if self.fused { 1 } else { 3 });
        let (t, h) = (shape[0], if self.fused { shape[1] / 3 } else { shape[1] });
        ensure!(
            h.is_multiple_of(self.heads)
                && (h / self.heads).is_multiple_of(4)
                && (!self.fused || shape[1] == 3 * h)
        );
        ensure!(inputs.iter().all(|i| i.shape() == &*shape));
        let views = inputs
            .iter()
            .map(|i| i.try_as_plain_ram())
            .collect::<TractResult<Vec<_>>>()?;
        let slices = views
            .iter()
            .map(|v| v.as_slice::<f32>())
            .collect::<TractResult<Vec<_>>>()?;
        let x = if self.fused {
            let all = slices[0];
            Qkv {
                q: all,
                k: &all[h..],
                v: &all[2 * h..],
                stride: 3 * h,
            }
        } else {
            Qkv {
                q: slices[0],
                k: slices[1],
                v: slices[2],
                stride: h,
            }
        };
        computed(&[t, h], |ctx| attention(self.heads, x, t, h, ctx))
    }
}

impl TypedOp for Attention {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs.len() == if self.fused { 1 } else { 3 }
                && inputs
                    .iter()
                    .all(|f| f.datum_type == f32::datum_type() && f.rank() == 2)
        );
        let t = inputs[0].shape[0].clone();
        let cols = inputs[0].shape[1].to_usize()?;
        let h = if self.fused { cols / 3 } else { cols };
        Ok(tvec![f32::fact(&[t, h.to_dim()])])
    }
    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_are_close_to_libm() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let (a, b) = (exp(x), x.exp());
            assert!(
                (a - b).abs() <= 4.0 * f32::EPSILON * b,
                "exp({x}) = {a} vs {b}"
            );
            x += 0.173;
        }
        assert_eq!(exp(-200.0), exp(-87.0));
        let mut x = -6.0f32;
        while x < 6.0 {
            let e = libm_erf(x as f64);
            assert!(
                (erf(x) as f64 - e).abs() < 4e-7,
                "erf({x}) = {} vs {e}",
                erf(x)
            );
            x += 0.0137;
        }
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(9.0), erf(4.0));
        assert!(erf(f32::NAN).is_nan());
    }

    /// erf in f64 by its Taylor series / continued fraction, for the test only.
    fn libm_erf(x: f64) -> f64 {
        if x.abs() < 3.0 {
            // Taylor series
            let mut sum = 0.0f64;
            let mut term = x;
            let mut n = 0.0;
            while term.abs() > 1e-17 * sum.abs().max(1e-300) || n < 3.0 {
                sum += term / (2.0 * n + 1.0);
                n += 1.0;
                term *= -x * x / n;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            x.signum()
                * (1.0
                    - (-x * x).exp() / (x.abs() * std::f64::consts::PI.sqrt())
                        * (1.0 - 0.5 / (x * x)))
        }
    }

    #[test]
    fn attention_rows_are_convex_combinations() {
        let (t, h, heads) = (3, 8, 2);
        let q: Vec<f32> = (0..t * h).map(|i| (i as f32 * 0.37).sin()).collect();
        let k: Vec<f32> = (0..t * h).map(|i| (i as f32 * 0.91).cos()).collect();
        let separate = |v: &[f32]| {
            let x = Qkv {
                q: &q,
                k: &k,
                v,
                stride: h,
            };
            let op = Attention {
                heads,
                fused: false,
            };
            op.run(x, t, h)
        };
        for c in separate(&vec![2.0f32; t * h]) {
            assert!((c - 2.0).abs() < 1e-5);
        }
        // with varied values, the same three side by side in one [t, 3h]
        // input give the same bits
        let v: Vec<f32> = (0..t * h).map(|i| (i as f32 * 0.53).sin()).collect();
        let ctx = separate(&v);
        let fused: Vec<f32> = (0..t)
            .flat_map(|i| {
                [&q, &k, &v]
                    .map(|m| m[i * h..(i + 1) * h].to_vec())
                    .concat()
            })
            .collect();
        let ctx2 = Attention { heads, fused: true }.run(
            Qkv {
                q: &fused,
                k: &fused[h..],
                v: &fused[2 * h..],
                stride: 3 * h,
            },
            t,
            h,
        );
        assert_eq!(ctx, ctx2);
    }
}
