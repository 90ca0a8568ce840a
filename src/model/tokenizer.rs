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

/// `tokenizers` 0.23 deserialises a `TemplateProcessing` post-processor
/// without the checks its builder makes, and then panics when a template
/// names a special token that `special_tokens` does not define (a map
/// lookup), or when the single-text template uses the second sequence (an
/// index). Special tokens whose ids and tokens differ in number, and ids
/// outside the vocabulary, would give encodings the encoder cannot use.
/// Checked on the post-processor as `tokenizers` reads it (serialised back,
/// so in one spelling whatever the file's), nested in sequences too.
fn check_post_processor(p: &PostProcessorWrapper, vocab: usize, file: &str) -> Result<()> {
    let v = serde_json::to_value(p).map_err(|e| Error::Tokenizer(e.to_string()))?;
    check_processor_value(&v, vocab)
        .map_err(|why| Error::corrupt(file, format!("its post_processor: {why}")))
}

fn check_processor_value(v: &serde_json::Value, vocab: usize) -> std::result::Result<(), String> {
    use serde_json::Value;
    let check_id = |id: &Value| match id.as_u64() {
        Some(i) if (i as usize) < vocab && i <= u64::from(u32::MAX) => Ok(()),
        _ => Err(format!(
            "special token id {id} is outside the vocabulary of {vocab}"
        )),
    };
    match v {
        Value::Object(m) => {
            match m.get("type").and_then(Value::as_str) {
                Some("TemplateProcessing") => {
                    let empty = serde_json::Map::new();
                    let specials = m
                        .get("special_tokens")
                        .and_then(Value::as_object)
                        .unwrap_or(&empty);
                    for (name, t) in specials {
                        let ids = t.get("ids").and_then(Value::as_array);
                        let tokens = t.get("tokens").and_then(Value::as_array);
                        if ids.map(Vec::len) != tokens.map(Vec::len) {
                            return Err(format!(
                                "special token `{name}` has a different number of ids and tokens"
                            ));
                        }
                        ids.into_iter().flatten().try_for_each(check_id)?;
                    }
                    for which in ["single", "pair"] {
                        let pieces = m.get(which).and_then(Value::as_array);
                        for piece in pieces.into_iter().flatten() {
                            if let Some(id) =
                                piece.pointer("/SpecialToken/id").and_then(Value::as_str)
                            {
                                if !specials.contains_key(id) {
                                    return Err(format!(
                                        "its {which} template names the special token `{id}`, which its special_tokens does not define"
                                    ));
                                }
                            }
                            if which == "single"
                                && piece.pointer("/Sequence/id").and_then(Value::as_str)
                                    == Some("B")
                            {
                                return Err(
                                    "its single template uses the second sequence ($B)".into()
                                );
                            }
                        }
                    }
                }
                Some("BertProcessing" | "RobertaProcessing") => {
                    for k in ["sep", "cls"] {
                        if let Some(id) = m.get(k).and_then(|t| t.get(1)) {
                            check_id(id)?;
                        }
                    }
                }
                _ => {}
            }
            m.values().try_for_each(|x| check_processor_value(x, vocab))
        }
        Value::Array(a) => a.iter().try_for_each(|x| check_processor_value(x, vocab)),
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
        if let Some(p) = inner.get_post_processor() {
            check_post_processor(p, inner.get_vocab_size(true), "tokenizer.json")?;
        }
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
        if let Some(p) = &post {
            check_post_processor(p, t.get_vocab_size(true), file)?;
        }
        t.with_post_processor(post);
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

    fn flat_vocab(
        pieces: &[&str],
        normalizer: serde_json::Value,
        post: serde_json::Value,
    ) -> Vec<u8> {
        let config = PipelineConfig {
            pieces: pieces.len(),
            unk_id: 0,
            normalizer,
            pre_tokenizer: serde_json::Value::Null,
            post_processor: post,
            added_tokens: vec![],
        };
        let scores = (0..pieces.len()).map(|i| -(i.min(1) as f64)).collect();
        FlatUnigram::new(pieces, scores, 0, "vocab.bin")
            .unwrap()
            .to_bytes(&config)
    }

    fn word_level_json(pieces: &[&str], post: serde_json::Value) -> Vec<u8> {
        let vocab: serde_json::Map<String, serde_json::Value> = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| (p.to_string(), i.into()))
            .collect();
        serde_json::json!({"normalizer": null, "pre_tokenizer": null, "post_processor": post,
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": pieces[0]}})
        .to_string()
        .into_bytes()
    }

    /// XLM-R's template (`<s> $A </s>`), with `special_tokens` as given.
    fn template(specials: serde_json::Value, single_b: bool) -> serde_json::Value {
        let seq = if single_b { "B" } else { "A" };
        serde_json::json!({"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": seq, "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": specials})
    }

    fn special(name: &str, ids: &[u32]) -> serde_json::Value {
        serde_json::json!({"id": name, "ids": ids, "tokens": vec![name; ids.len()]})
    }

    const PIECES: &[&str] = &["<unk>", "<s>", "</s>", "a"];

    // Found by the `vocab` fuzz target (fuzz/corpus/vocab/
    // finding-template-missing-special-token): tokenizers 0.23 panicked
    // ("no entry found for key") on the first text.
    #[test]
    fn template_naming_an_undefined_special_token_is_an_error_not_a_panic() {
        // the key of `</s>` misspelled, as the fuzzer did
        let post = template(
            serde_json::json!({"<s>": special("<s>", &[1]), "</x>": special("</s>", &[2])}),
            false,
        );
        let err = TextTokenizer::from_vocab(
            &flat_vocab(PIECES, serde_json::Value::Null, post.clone()),
            "vocab.bin",
        )
        .err()
        .expect("refused at load");
        assert_eq!(err.code(), "corrupt_file");
        let msg = err.to_string();
        assert!(msg.contains("vocab.bin") && msg.contains("`</s>`"), "{msg}");
        // the same in a tokenizer.json the `tokenizers` models run (import
        // and the browser's tokenizer.json path)
        let err = TextTokenizer::from_bytes(&word_level_json(PIECES, post))
            .err()
            .expect("refused at load");
        assert_eq!(err.code(), "corrupt_file");
        let msg = err.to_string();
        assert!(
            msg.contains("tokenizer.json") && msg.contains("`</s>`"),
            "{msg}"
        );
    }

    #[test]
    fn other_broken_templates_are_refused_and_a_sound_one_runs() {
        let ok = serde_json::json!({"<s>": special("<s>", &[1]), "</s>": special("</s>", &[2])});
        for (post, what) in [
            // the single-text template uses the second text: an index panic
            (template(ok.clone(), true), "second sequence"),
            // ids the encoder has no rows for
            (
                template(
                    serde_json::json!({"<s>": special("<s>", &[1]), "</s>": special("</s>", &[99])}),
                    false,
                ),
                "special token id 99",
            ),
            (
                template(
                    serde_json::json!({"<s>": special("<s>", &[1]),
                    "</s>": {"id": "</s>", "ids": [2, 2], "tokens": ["</s>"]}}),
                    false,
                ),
                "different number",
            ),
            // nested in a sequence of processors
            (
                serde_json::json!({"type": "Sequence", "processors": [
                    template(serde_json::json!({"<s>": special("<s>", &[1])}), false)]}),
                "`</s>`",
            ),
            (
                serde_json::json!({"type": "RobertaProcessing", "sep": ["</s>", 7], "cls": ["<s>", 1],
                    "trim_offsets": true, "add_prefix_space": true}),
                "special token id 7",
            ),
        ] {
            for r in [
                TextTokenizer::from_vocab(
                    &flat_vocab(PIECES, serde_json::Value::Null, post.clone()),
                    "vocab.bin",
                ),
                TextTokenizer::from_bytes(&word_level_json(PIECES, post.clone())),
            ] {
                let err = r.err().unwrap_or_else(|| panic!("{what}: accepted"));
                assert_eq!(err.code(), "corrupt_file", "{err}");
                assert!(err.to_string().contains(what), "{what}: {err}");
            }
        }
        let t = TextTokenizer::from_vocab(
            &flat_vocab(PIECES, serde_json::Value::Null, template(ok.clone(), false)),
            "vocab.bin",
        )
        .unwrap();
        assert_eq!(t.ids("a").unwrap(), vec![1, 3, 2]);
        let t = TextTokenizer::from_bytes(&word_level_json(PIECES, template(ok, false))).unwrap();
        assert_eq!(t.ids("a").unwrap(), vec![1, 3, 2]);
    }
}
