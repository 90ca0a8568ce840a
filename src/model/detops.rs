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
/// `#[inline(always)]` function), compiled for AVX2 when the CPU has it.
/// Only the vector width changes: the bodies are lane-wise IEEE arithmetic
/// and Rust never fuses a mul and an add into an FMA, so the results are
/// the same bits with or without it (and in wasm).
#[macro_export]
#[doc(hidden)]
macro_rules! avx2_dispatch {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:ident) => {
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn wide($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
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
    // NaN stays NaN through the clamp and the rest (n becomes 0)
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUNDER) - ROUNDER;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // Taylor series of e^r to r^7 on |r| <= 0.35 (error < 2e-9 relative)
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// erf(x), absolute error below 3e-7: a Taylor series below 0.5, the
/// Abramowitz & Stegun 7.1.26 form (with the exp above) from there on.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    if a < 0.5 {
        // Taylor series: no cancellation near 0 (terms to x^11; the next is < 2e-8)
        let z = x * x;
        let s = 1.0
            + z * (-1.0 / 3.0
                + z * (1.0 / 10.0 + z * (-1.0 / 42.0 + z * (1.0 / 216.0 + z * (-1.0 / 1320.0)))));
        return std::f32::consts::FRAC_2_SQRT_PI * x * s;
    }
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp(-(a * a));
    if x < 0.0 {
        -y
    } else {
        y
    }
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

fn f32_slice(t: &TValue) -> TractResult<Vec<f32>> {
    Ok(t.try_as_plain_ram()?.as_slice::<f32>()?.to_vec())
}

fn output(shape: &[usize], v: Vec<f32>) -> TractResult<TVec<TValue>> {
    Ok(tvec![Tensor::from_shape(shape, &v)?.into_tvalue()])
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

avx2_dispatch!(fn layer_norm(params: &[f32], eps: f32, x: &mut [f32]) => layer_norm_body);

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

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let h = self.params.len() / 2;
        let shape: TVec<usize> = inputs[0].shape().into();
        ensure!(shape.len() == 2 && shape[1] == h);
        let mut x = f32_slice(&inputs[0])?;
        if let Some(r) = inputs.get(1) {
            ensure!(r.shape() == &*shape);
            let r = r.try_as_plain_ram()?;
            for (a, b) in x.iter_mut().zip(r.as_slice::<f32>()?) {
                *a += b;
            }
        }
        self.run(&mut x);
        output(&shape, x)
    }
}

impl TypedOp for LayerNorm {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.iter().all(|f| f.datum_type == f32::datum_type()));
        Ok(tvec![f32::fact(inputs[0].shape.clone())])
    }
    as_op!();
}

avx2_dispatch!(fn gelu_all(x: &mut [f32]) => gelu_all_body);

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

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let shape: TVec<usize> = inputs[0].shape().into();
        let mut x = f32_slice(&inputs[0])?;
        gelu_all(&mut x);
        output(&shape, x)
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
/// scale already folded into `q`) to the context `[T, h]`, every token
/// attending to every token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attention {
    pub heads: usize,
}

impl Attention {
    /// Scores are sums over the head's dimensions in order (`d = 0, 1, ...`)
    /// computed for all keys at once from transposed keys; the context sums
    /// over keys in order, for all dimensions at once. Both loops vectorise
    /// without changing any element's order of operations.
    pub fn run(&self, q: &[f32], k: &[f32], v: &[f32], t: usize, h: usize) -> Vec<f32> {
        attention(self.heads, q, k, v, t, h)
    }
}

/// `out += (p[s] * inv) * v[s * h..][..HD]` over `s` in order, the sums held
/// in registers (the same arithmetic as the generic loop).
#[inline(always)]
fn weighted_sum<const HD: usize>(p: &[f32], inv: f32, v: &[f32], h: usize, out: &mut [f32]) {
    let mut acc = [0f32; HD];
    for (s, ps) in p.iter().enumerate() {
        let w = ps * inv;
        let vs: &[f32; HD] = v[s * h..][..HD].try_into().unwrap();
        for j in 0..HD {
            acc[j] += w * vs[j];
        }
    }
    out.copy_from_slice(&acc);
}

/// Keys scored together (two AVX2 or four 128-bit vectors of sums).
const KEYS: usize = 16;

avx2_dispatch!(fn attention(heads: usize, q: &[f32], k: &[f32], v: &[f32], t: usize, h: usize) -> Vec<f32> => attention_body);

#[inline(always)]
fn attention_body(heads: usize, q: &[f32], k: &[f32], v: &[f32], t: usize, h: usize) -> Vec<f32> {
    {
        let hd = h / heads;
        let mut ctx = vec![0f32; t * h];
        let mut p = vec![0f32; t];
        let mut kt = vec![0f32; hd * t];
        for head in 0..heads {
            let col = head * hd;
            for s in 0..t {
                for d in 0..hd {
                    kt[d * t + s] = k[s * h + col + d];
                }
            }
            for i in 0..t {
                let qi = &q[i * h + col..][..hd];
                // keys in chunks of KEYS, their sums held in registers over d
                let mut s0 = 0;
                while s0 + KEYS <= t {
                    let mut acc = [0f32; KEYS];
                    for (&qd, kd) in qi.iter().zip(kt.chunks_exact(t)) {
                        let kd: &[f32; KEYS] = kd[s0..s0 + KEYS].try_into().unwrap();
                        for j in 0..KEYS {
                            acc[j] += qd * kd[j];
                        }
                    }
                    p[s0..s0 + KEYS].copy_from_slice(&acc);
                    s0 += KEYS;
                }
                let rest = &mut p[s0..];
                rest.iter_mut().for_each(|x| *x = 0.0);
                for (&qd, kd) in qi.iter().zip(kt.chunks_exact(t)) {
                    for (ps, &kv) in rest.iter_mut().zip(&kd[s0..]) {
                        *ps += qd * kv;
                    }
                }
                // the maximum is exact in any order: eight lanes, NaNs skipped
                let mut lanes = [f32::NEG_INFINITY; 8];
                for c in p.chunks(8) {
                    for (m, &x) in lanes.iter_mut().zip(c) {
                        *m = if *m < x { x } else { *m };
                    }
                }
                let mut max = f32::NEG_INFINITY;
                for x in lanes {
                    if x > max {
                        max = x;
                    }
                }
                p.iter_mut().for_each(|x| *x = exp(*x - max));
                let mut total = 0f32;
                for &ps in p.iter() {
                    total += ps;
                }
                let inv = 1.0 / total;
                let out = &mut ctx[i * h + col..][..hd];
                match hd {
                    32 => weighted_sum::<32>(&p, inv, &v[col..], h, out),
                    64 => weighted_sum::<64>(&p, inv, &v[col..], h, out),
                    _ => {
                        for (s, ps) in p.iter().enumerate() {
                            let w = ps * inv;
                            for (o, vv) in out.iter_mut().zip(&v[s * h + col..][..hd]) {
                                *o += w * vv;
                            }
                        }
                    }
                }
            }
        }
        ctx
    }
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
        ensure!(
            shape.len() == 2
                && shape[1].is_multiple_of(self.heads)
                && (shape[1] / self.heads).is_multiple_of(4)
        );
        ensure!(inputs.iter().all(|i| i.shape() == &*shape));
        let (q, k, v) = (
            inputs[0].try_as_plain_ram()?,
            inputs[1].try_as_plain_ram()?,
            inputs[2].try_as_plain_ram()?,
        );
        let ctx = self.run(
            q.as_slice::<f32>()?,
            k.as_slice::<f32>()?,
            v.as_slice::<f32>()?,
            shape[0],
            shape[1],
        );
        output(&shape, ctx)
    }
}

impl TypedOp for Attention {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 3 && inputs.iter().all(|f| f.datum_type == f32::datum_type()));
        Ok(tvec![f32::fact(inputs[0].shape.clone())])
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
                (erf(x) as f64 - e).abs() < 3e-7,
                "erf({x}) = {} vs {e}",
                erf(x)
            );
            x += 0.0137;
        }
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
        let v = vec![2.0f32; t * h];
        let ctx = Attention { heads }.run(&q, &k, &v, t, h);
        for c in ctx {
            assert!((c - 2.0).abs() < 1e-5);
        }
    }
}
