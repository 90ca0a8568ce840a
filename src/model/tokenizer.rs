//! The text tokenizer: the `tokenizers` pipeline (normaliser, pre-tokeniser,
//! added tokens, template; its pure Rust regex engine, so the same code runs
//! natively and in wasm) with our flat Unigram segmenter as its model when
//! the vocabulary is a Unigram (see `unigram.rs`), plus the profile's
//! truncation rule. Other vocabularies (WordPiece, BPE) run on the
//! `tokenizers` models unchanged.

use tokenizers::decoders::DecoderWrapper;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{AddedToken, TokenizerImpl};

use std::borrow::Cow;

use super::unigram::{split_tokenizer_json, FlatUnigram, PipelineConfig};
use crate::error::{Error, Result};

/// Token ids for one text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// Ids including the special tokens, at most the profile's `max_tokens`.
    pub ids: Vec<u32>,
    /// The token count before truncation, when the text was cut.
    pub truncated_from: Option<usize>,
}

type FlatTokenizer = TokenizerImpl<
    FlatUnigram,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

enum Inner {
    Flat(Box<FlatTokenizer>),
    Hf(Box<tokenizers::Tokenizer>),
}

pub struct TextTokenizer {
    inner: Inner,
    /// Ids of the added tokens (a handful), sorted.
    added_ids: Vec<u32>,
}

/// `tokenizers` 0.23 panics (an `expect`) on a `Precompiled` normaliser whose
/// charsmap does not parse, and a panic in wasm takes the worker down. Every
/// `Precompiled` in `normalizer` (nested in sequences too) is parsed here
/// first, so bad bytes become an error naming the file.
fn check_normalizer(v: &serde_json::Value, file: &str) -> Result<()> {
    match v {
        serde_json::Value::Object(m) => {
            if m.get("type").and_then(|t| t.as_str()) == Some("Precompiled") {
                serde_json::from_str::<tokenizers::normalizers::Precompiled>(&v.to_string())
                    .map_err(|e| {
                        Error::corrupt(file, format!("its Precompiled normalizer: {e}"))
                    })?;
            }
            m.values().try_for_each(|x| check_normalizer(x, file))
        }
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| check_normalizer(x, file)),
        _ => Ok(()),
    }
}

fn tok_err(file: &str) -> impl Fn(tokenizers::Error) -> Error + '_ {
    move |e| Error::Tokenizer(format!("cannot load {file}: {e}"))
}

impl TextTokenizer {
    /// Loads a `tokenizer.json`. A Unigram vocabulary is moved into the flat
    /// segmenter; truncation and padding configured in the file are left
    /// out: the encoder applies its own, reported truncation.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if let Some((model, config)) = split_tokenizer_json(bytes)? {
            return Self::flat(model, &config, "tokenizer.json");
        }
        #[derive(serde::Deserialize)]
        struct Normalizer {
            #[serde(default)]
            normalizer: serde_json::Value,
        }
        let n: Normalizer = serde_json::from_slice(bytes)
            .map_err(|e| Error::corrupt("tokenizer.json", e.to_string()))?;
        check_normalizer(&n.normalizer, "tokenizer.json")?;
        let mut inner =
            tokenizers::Tokenizer::from_bytes(bytes).map_err(tok_err("tokenizer.json"))?;
        inner
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        inner.with_padding(None);
        Ok(TextTokenizer {
            inner: Inner::Hf(Box::new(inner)),
            added_ids: Vec::new(),
        })
    }

    /// Loads the flat vocabulary `vocab.bin` derived from `tokenizer.json`
    /// at import: the same ids, without parsing 17 MB of JSON.
    pub fn from_vocab(bytes: &[u8], file: &str) -> Result<Self> {
        let (model, config) = FlatUnigram::from_bytes(bytes, file)?;
        Self::flat(model, &config, file)
    }

    /// The `vocab.bin` bytes for a `tokenizer.json`, when its vocabulary is
    /// a Unigram the flat segmenter runs.
    pub fn vocab_file(tokenizer_json: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(split_tokenizer_json(tokenizer_json)?.map(|(m, c)| m.to_bytes(&c)))
    }

    fn flat(model: FlatUnigram, config: &PipelineConfig, file: &str) -> Result<Self> {
        fn part<T: serde::de::DeserializeOwned>(
            v: &serde_json::Value,
            what: &str,
            file: &str,
        ) -> Result<Option<T>> {
            if v.is_null() {
                return Ok(None);
            }
            serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| Error::Tokenizer(format!("cannot load {file}: its {what}: {e}")))
        }
        let mut t = FlatTokenizer::new(model);
        check_normalizer(&config.normalizer, file)?;
        let normalizer: Option<NormalizerWrapper> = part(&config.normalizer, "normalizer", file)?;
        t.with_normalizer(normalizer).map_err(tok_err(file))?;
        let pre: Option<PreTokenizerWrapper> = part(&config.pre_tokenizer, "pre_tokenizer", file)?;
        t.with_pre_tokenizer(pre);
        let post: Option<PostProcessorWrapper> =
            part(&config.post_processor, "post_processor", file)?;
        t.with_post_processor(post);
        let added = config
            .added_tokens
            .iter()
            .map(|v| {
                serde_json::from_value::<AddedToken>(v.clone()).map_err(|e| {
                    Error::Tokenizer(format!("cannot load {file}: an added token: {e}"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        t.add_tokens(added).map_err(tok_err(file))?;
        let mut added_ids: Vec<u32> = t.get_added_tokens_decoder().into_keys().collect();
        added_ids.sort_unstable();
        Ok(TextTokenizer {
            added_ids,
            inner: Inner::Flat(Box::new(t)),
        })
    }

    /// Ids with special tokens, untruncated.
    pub fn ids(&self, text: &str) -> Result<Vec<u32>> {
        let enc = match &self.inner {
            Inner::Flat(t) => t.encode(text, true),
            Inner::Hf(t) => t.encode(text, true),
        }
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

    /// The vocabulary piece (or added token) of `id`, as `id_to_token`
    /// gives it; model pieces of the flat vocabulary without a copy (the
    /// row order reads all 250k at load).
    pub fn piece(&self, id: u32) -> Option<Cow<'_, str>> {
        match &self.inner {
            Inner::Flat(t) if !self.added_ids.contains(&id) => {
                t.get_model().piece(id as usize).map(Cow::Borrowed)
            }
            Inner::Flat(t) => t.id_to_token(id).map(Cow::Owned),
            Inner::Hf(t) => t.id_to_token(id).map(Cow::Owned),
        }
    }

    pub fn vocab_size(&self) -> usize {
        match &self.inner {
            Inner::Flat(t) => t.get_vocab_size(true),
            Inner::Hf(t) => t.get_vocab_size(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Found by the `vocab` fuzz target: tokenizers panics on this charsmap.
    #[test]
    fn damaged_precompiled_charsmap_is_an_error_not_a_panic() {
        let config = PipelineConfig {
            pieces: 2,
            unk_id: 0,
            normalizer: serde_json::json!({"type": "Sequence", "normalizers": [
                {"type": "Precompiled", "precompiled_charsmap": "AL`QCAAC"}]}),
            pre_tokenizer: serde_json::Value::Null,
            post_processor: serde_json::Value::Null,
            added_tokens: vec![],
        };
        let model = FlatUnigram::new(&["<unk>", "a"], vec![0.0, -1.0], 0, "vocab.bin").unwrap();
        let bytes = model.to_bytes(&config);
        let err = TextTokenizer::from_vocab(&bytes, "vocab.bin")
            .err()
            .unwrap();
        assert_eq!(err.code(), "corrupt_file");
        assert!(err.to_string().contains("Precompiled"), "{err}");
        let json = serde_json::json!({"normalizer": config.normalizer, "pre_tokenizer": null,
            "model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}});
        let err = TextTokenizer::from_bytes(json.to_string().as_bytes())
            .err()
            .unwrap();
        assert_eq!(err.code(), "corrupt_file");
    }
}
