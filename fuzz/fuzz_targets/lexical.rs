//! See `crossfind_fuzz::lexical` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crossfind_fuzz::lexical(data));
