//! The scalar arithmetic every activation quantiser shares: the scalar path
//! in [`super::quant`] and the vector ones in [`super::avx2`] and
//! [`super::simd128`] round with the same constant and the same block
//! scale, so all of them give the same bits.

/// 1.5 * 2^23: adding and subtracting it rounds an f32 of magnitude below
/// 2^22 to the nearest integer, ties to even, with plain IEEE arithmetic.
pub(super) const ROUNDER: f32 = 12_582_912.0;

/// The block scale `amax / 127` and its inverse (0 for an all-zero block).
/// `amax` is a maximum, exact in any order; NaNs are skipped.
#[inline(always)]
pub(super) fn block_scale(amax: f32) -> (f32, f32) {
    let dd = amax / 127.0;
    (dd, if dd > 0.0 { 1.0 / dd } else { 0.0 })
}
