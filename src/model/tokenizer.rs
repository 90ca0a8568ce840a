//! The text tokenizer: the `tokenizers` crate (pure Rust regex engine, so the
//! same code runs natively and in wasm) plus the profile's truncation rule.

use crate::error::{Error, Result};

/// Token ids for one text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// Ids including the special tokens, at most the profile's `max_tokens`.
    pub ids: Vec<u32>,
    /// The token count before truncation, when the text was cut.
    pub truncated_from: Option<usize>,
}

pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
}

impl TextTokenizer {
    /// Loads a `tokenizer.json`. Truncation and padding configured in the file
    /// are switched off: the encoder applies its own, reported truncation.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut inner = tokenizers::Tokenizer::from_bytes(bytes)
            .map_err(|e| Error::Tokenizer(format!("cannot load tokenizer.json: {e}")))?;
        inner
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        inner.with_padding(None);
        Ok(TextTokenizer { inner })
    }

    /// Ids with special tokens, untruncated.
    pub fn ids(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(format!("cannot tokenize: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Ids with special tokens, cut to `max_tokens` keeping the final special
    /// token (as Hugging Face truncation does), with the cut reported.
    pub fn encode(&self, text: &str, max_tokens: usize) -> Result<Encoded> {
        let mut ids = self.ids(text)?;
        let n = ids.len();
        if n <= max_tokens {
            return Ok(Encoded {
                ids,
                truncated_from: None,
            });
        }
        let last = ids[n - 1];
        ids.truncate(max_tokens - 1);
        ids.push(last);
        Ok(Encoded {
            ids,
            truncated_from: Some(n),
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
