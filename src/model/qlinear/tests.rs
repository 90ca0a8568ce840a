//! Every kernel this machine (or wasm build) runs, bit for bit against the
//! scalar reference, and the quantisation rules.

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
                unsafe { vnni::qmatmul_quads_avx512(&k, &mut v) };
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
                unsafe { avx2::qmatmul_avx2(&k, &mut v) };
                assert_eq!(bits(&v), bits(&slow), "avx2, {tokens} tokens");
            }
            if has_avx512_vnni() {
                let mut v = vec![0f32; tokens * out];
                let k = Kernel::new(&w, &xq, &v);
                // SAFETY: the CPU has AVX-512 F, BW and VNNI.
                unsafe { vnni::qmatmul_avx512(&k, &mut v) };
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
