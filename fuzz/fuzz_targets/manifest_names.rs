//! See `crossfind_fuzz::manifest_names` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crossfind_fuzz::manifest_names(data));
