//! See `crossfind_fuzz::html` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crossfind_fuzz::html(data));
