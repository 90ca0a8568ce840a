//! Activations quantised on the fly, per token and block of 32 ([`QActs`]),
//! in the form the weights' layout needs: the scalar steps here, the same
//! steps with vectors in [`super::avx2`] and [`super::simd128`].

#[cfg(target_arch = "x86_64")]
use super::avx2;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use super::rounding::{block_scale, ROUNDER};
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use super::simd128::quantize_block;
use super::Layout;
use crate::format::tensors::Q4_BLOCK;

/// Activations quantised per block of 32, in the form the weights' layout
/// needs, and the block scales.
pub struct QActs {
    pub tokens: usize,
    pub inp: usize,
    /// [`Layout::Pairs`]: pairs of i16 values packed in a u32 (low half
    /// first, as they lie in memory). [`Layout::Quads`]: four i8 values
    /// packed in a u32, the same way.
    pub(super) packed: Vec<u32>,
    /// Quads only: `-8 * sum(x_q)` per token and block.
    pub(super) neg8sum: Vec<i32>,
    pub(super) d: Vec<f32>,
}

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
    pub(super) fn value(&self, t: usize, k: usize) -> i32 {
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
            *ds = unsafe {
                avx2::quantize_block_avx2(blk.try_into().unwrap(), out.try_into().unwrap())
            };
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
