//! crossfind: cross-lingual semantic search for static help sites.
//!
//! One encoder, one tokenizer and one pack reader, compiled natively (the
//! `crossfind` CLI that builds indexes) and to wasm (the browser runtime).

pub mod bundle;
pub mod error;
#[cfg(not(target_arch = "wasm32"))]
pub mod eval;
pub mod format;
#[cfg(not(target_arch = "wasm32"))]
pub mod index;
#[cfg(not(target_arch = "wasm32"))]
pub mod ingest;
pub mod lang;
pub mod model;
#[cfg(not(target_arch = "wasm32"))]
pub mod par;
pub mod script;
pub mod search;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, Result};
pub use model::{Embedding, Encoder, Pack, PackManifest, Profile, TextKind};
