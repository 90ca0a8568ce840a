//! Model packs and the sentence encoder.

pub(crate) mod detops;
pub mod encoder;
#[cfg(not(target_arch = "wasm32"))]
pub mod import;
pub mod langbasis;
#[cfg(all(not(target_arch = "wasm32"), feature = "onnx"))]
pub mod onnx;
pub mod pack;
pub(crate) mod qlinear;
pub(crate) mod roworder;
pub mod tokenizer;
pub mod unigram;
pub mod vector;

pub use encoder::{Embedding, Encoder, TextKind};
pub use pack::{Pack, PackManifest, Profile};
