//! See `crossfind_fuzz::bundle` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crossfind_fuzz::bundle(data));
