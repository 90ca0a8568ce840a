//! Plain scalar arithmetic: [`qmatmul_scalar`], the reference every vector
//! path is tested against (and the quads fallback where no quads kernel
//! runs), and the [`Layout::Pairs`](super::Layout::Pairs) tile of
//! [`super::qmatmul_baseline`] on targets without vectors.

#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
)))]
use super::{layout::ROWS, Kernel};
use super::{QActs, QWeights};
use crate::format::tensors::Q4_BLOCK;

/// The scalar version of [`super::qmatmul`] on any target and layout: the
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

#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
)))]
impl Kernel<'_> {
    /// Elsewhere: the scalar arithmetic, token by token.
    pub(super) fn tile<const TT: usize>(&self, g: usize, t0: usize, y: &mut [f32]) {
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
