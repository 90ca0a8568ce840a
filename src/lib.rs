//! crossfind: cross-lingual semantic search for static help sites.
//!
//! One encoder, one tokenizer and one pack reader, compiled natively (the
//! `crossfind` CLI that builds indexes) and to wasm (the browser runtime).
//!
//! The public modules are what is used from outside the library: the
//! `crossfind` binary (`src/main.rs` with its `cli` and `eval` modules), the
//! benchmarks, the fuzz harness and the integration tests. Everything else
//! (the integer kernels, the deterministic float ops, the row order, the
//! language and script tables, the wasm bindings) is `pub(crate)` or
//! private.

pub mod bundle;
pub mod error;
pub mod format;
#[cfg(not(target_arch = "wasm32"))]
pub mod index;
#[cfg(not(target_arch = "wasm32"))]
pub mod ingest;
pub(crate) mod lang;
pub mod model;
#[cfg(not(target_arch = "wasm32"))]
pub mod par;
pub(crate) mod script;
pub mod search;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use error::{Error, Result};
pub use model::{Embedding, Encoder, Pack, PackManifest, Profile, TextKind};
