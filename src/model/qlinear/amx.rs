//! Intel AMX for the [`Layout::Quads`](super::Layout::Quads) layout: one
//! `tdpbsud` multiplies a tile of 16 tokens' signed activation bytes (one
//! 32-value block) by a block's unsigned nibble quads for 16 rows, giving
//! the 16 x 16 exact integer block sums that `vpdpbusd` gives 16 at a time.
//! The float steps after them are the AVX-512 path's, lane by lane, so the
//! outputs are the same bits as every other path (unit test in
//! [`super::tests`]).
//!
//! The tile instructions are written as bytes: Rust's stable compiler has
//! no AMX target features, and LLVM's assembler refuses the mnemonics
//! without them. Each is encoded with fixed registers, named in the `asm!`
//! operands. Linux hands out the tile state only on request
//! (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`); without it, or
//! without AMX-INT8, or with `CROSSFIND_NO_AMX` set, the AVX-512 VNNI path
//! runs instead.

use core::arch::asm;
use core::arch::x86_64::*;
use std::sync::OnceLock;

use super::layout::{group_block, QUAD_ROWS};
use super::Kernel;

/// Tokens per tile: the rows of the activation and result tiles.
const TM: usize = 16;

/// Whether this CPU and OS let us run the AMX path.
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        if std::env::var_os("CROSSFIND_NO_AMX").is_some() || !super::has_avx512_vnni() {
            return false;
        }
        // CPUID.(EAX=7, ECX=0):EDX bit 24 = AMX-TILE, bit 25 = AMX-INT8
        // (leaf 7 exists on every CPU with AVX-512)
        let edx = __cpuid_count(7, 0).edx;
        edx & (3 << 24) == 3 << 24 && request_tile_state()
    })
}

/// Asks Linux for the AMX tile data state for this process.
#[cfg(target_os = "linux")]
fn request_tile_state() -> bool {
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let ret: i64;
    // SAFETY: a plain system call; it only changes which CPU state this
    // process may use.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}

#[cfg(not(target_os = "linux"))]
fn request_tile_state() -> bool {
    false
}

/// The 64-byte tile configuration: palette 1; tmm0 the 16 x 16 i32 sums,
/// tmm2 16 tokens x 32 activation bytes, tmm3 8 quads x (16 rows x 4 bytes).
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    fn new() -> Self {
        let mut c = [0u8; 64];
        c[0] = 1;
        for (tile, rows, bytes_per_row) in [(0, TM, 64u16), (2, TM, 32), (3, 8, 64)] {
            c[16 + 2 * tile..][..2].copy_from_slice(&bytes_per_row.to_le_bytes());
            c[48 + tile] = rows as u8;
        }
        TileConfig(c)
    }
}

#[repr(C, align(64))]
struct Sums([i32; TM * QUAD_ROWS]);

/// [`super::qmatmul`] for the quads layout with AMX tiles.
///
/// # Safety
/// [`available`] must have returned true.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vnni")]
pub unsafe fn qmatmul_quads_amx(k: &Kernel, y: &mut [f32]) {
    let (tokens, inp, nb) = (k.xq.tokens, k.wt.inp, k.nb);
    let acts = k.xq.packed.as_ptr() as *const u8;
    // a last, partial tile reads padded copies: zero activations, sums and
    // scales for the missing tokens (their outputs are never written)
    let full = tokens / TM * TM;
    let rest = tokens - full;
    let (mut pad_a, mut pad_s, mut pad_d) = (Vec::new(), Vec::new(), Vec::new());
    if rest > 0 {
        pad_a = vec![0u8; TM * inp];
        pad_a[..rest * inp]
            .copy_from_slice(std::slice::from_raw_parts(acts.add(full * inp), rest * inp));
        pad_s = vec![0i32; TM * nb];
        pad_s[..rest * nb].copy_from_slice(&k.xq.neg8sum[full * nb..]);
        pad_d = vec![0f32; TM * nb];
        pad_d[..rest * nb].copy_from_slice(&k.xq.d[full * nb..]);
    }
    let cfg = TileConfig::new();
    // ldtilecfg [rax]
    asm!(".byte 0xc4, 0xe2, 0x78, 0x49, 0x00", in("rax") cfg.0.as_ptr(), options(nostack));
    let mut sums = [Sums([0; TM * QUAD_ROWS]), Sums([0; TM * QUAD_ROWS])];
    for g in 0..k.wt.out / QUAD_ROWS {
        let mut t0 = 0;
        while t0 < tokens {
            let n = TM.min(tokens - t0);
            let (a, s, d) = if n == TM {
                (
                    acts.add(t0 * inp),
                    k.xq.neg8sum.as_ptr().add(t0 * nb),
                    k.xq.d.as_ptr().add(t0 * nb),
                )
            } else {
                (pad_a.as_ptr(), pad_s.as_ptr(), pad_d.as_ptr())
            };
            tile(k, g, t0, n, a, s, d, &mut sums, y);
            t0 += TM;
        }
    }
    // tilerelease
    asm!(
        ".byte 0xc4, 0xe2, 0x78, 0x49, 0xc0",
        options(nostack, nomem)
    );
}

/// Rows `16 * g..` for tokens `t0..t0 + n` (`n` <= 16): `a`, `s`, `d` point
/// at 16 tokens' activations (rows of `inp` bytes), `-8 * sum` and scales
/// (rows of `nb`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile(
    k: &Kernel,
    g: usize,
    t0: usize,
    n: usize,
    a: *const u8,
    s: *const i32,
    d: *const f32,
    sums: &mut [Sums; 2],
    y: &mut [f32],
) {
    let (nb, inp, out) = (k.nb, k.wt.inp, k.wt.out);
    let w = k.wt.w.as_ptr().add(g * nb * group_block(QUAD_ROWS));
    let dw = k.wt.d.as_ptr().add(g * nb * QUAD_ROWS);
    // block `b`'s integer sums into `sums[b % 2]`
    let block = |b: usize, dst: &mut Sums| {
        asm!(
            ".byte 0xc4, 0xe2, 0x7b, 0x49, 0xc0", // tilezero tmm0
            ".byte 0xc4, 0xe2, 0x7b, 0x4b, 0x14, 0x08", // tileloadd tmm2, [rax + rcx]
            ".byte 0xc4, 0xe2, 0x7b, 0x4b, 0x1c, 0x32", // tileloadd tmm3, [rdx + rsi]
            ".byte 0xc4, 0xe2, 0x62, 0x5e, 0xc2", // tdpbsud tmm0, tmm2, tmm3
            ".byte 0xc4, 0xe2, 0x7a, 0x4b, 0x04, 0x37", // tilestored [rdi + rsi], tmm0
            in("rax") a.add(b * 32),
            in("rcx") inp,
            in("rdx") w.add(b * group_block(QUAD_ROWS)),
            in("rsi") 64usize,
            in("rdi") dst.0.as_mut_ptr(),
            options(nostack),
        );
    };
    let mut facc = [_mm512_setzero_ps(); TM];
    // Two blocks in flight: block b + 1's tile work is issued before block
    // b's float steps, which read sums stored one step earlier, so the
    // out-of-order core overlaps the two instead of waiting on the tile
    // store for every block.
    block(0, &mut sums[0]);
    for b in 0..nb {
        if b + 1 < nb {
            block(b + 1, &mut sums[(b + 1) % 2]);
        }
        let cur = &sums[b % 2];
        let dwb = _mm512_loadu_ps(dw.add(b * QUAD_ROWS));
        for (i, f) in facc.iter_mut().enumerate() {
            let c = _mm512_loadu_si512(cur.0.as_ptr().add(i * QUAD_ROWS) as *const __m512i);
            let isum = _mm512_add_epi32(c, _mm512_set1_epi32(*s.add(i * nb + b)));
            let sc = _mm512_mul_ps(dwb, _mm512_set1_ps(*d.add(i * nb + b)));
            *f = _mm512_add_ps(*f, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), sc));
        }
    }
    let bias = _mm512_loadu_ps(k.wt.bias[g * QUAD_ROWS..][..QUAD_ROWS].as_ptr());
    for (i, f) in facc.iter().enumerate().take(n) {
        let o = y[(t0 + i) * out + g * QUAD_ROWS..][..QUAD_ROWS].as_mut_ptr();
        _mm512_storeu_ps(o, _mm512_add_ps(*f, bias));
    }
}
