//! See `crossfind_fuzz::jsonl` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crossfind_fuzz::jsonl(data));
