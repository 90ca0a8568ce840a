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
/// charsmap does not parse, and `spm_precompiled` indexes its trie and its
/// replacement strings without bounds checks when it normalises text; a
/// panic in wasm takes the worker down. Every `Precompiled` in `normalizer`
/// (nested in sequences too) is parsed and walked here first
/// (`check_charsmap`), so bad bytes become an error naming the file.
fn check_normalizer(v: &serde_json::Value, file: &str) -> Result<()> {
    match v {
        serde_json::Value::Object(m) => {
            if m.get("type").and_then(|t| t.as_str()) == Some("Precompiled") {
                let bad = |why: String| {
                    Error::corrupt(file, format!("its Precompiled normalizer: {why}"))
                };
                serde_json::from_str::<tokenizers::normalizers::Precompiled>(&v.to_string())
                    .map_err(|e| bad(e.to_string()))?;
                // it parsed, so this is a string that base64 0.13 (the
                // decoder spm_precompiled uses) accepts
                let b64 = m
                    .get("precompiled_charsmap")
                    .and_then(|c| c.as_str())
                    .unwrap_or_default();
                let bytes = base64::decode(b64).map_err(|e| bad(e.to_string()))?;
                check_charsmap(&bytes).map_err(bad)?;
            }
            m.values().try_for_each(|x| check_normalizer(x, file))
        }
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| check_normalizer(x, file)),
        _ => Ok(()),
    }
}

/// Checks that `spm_precompiled` 0.1.4 can normalise any text with this
/// charsmap without indexing outside it. The charsmap is a SentencePiece
/// double-array trie over UTF-8 bytes (a little-endian `u32` byte length,
/// that many bytes of `u32` units) followed by the replacement strings
/// (UTF-8, each ended by a NUL). A lookup starts at node `offset(unit[0])`;
/// from node `p` a byte `c` (1 to 255) reads `unit[p ^ c]`, and when that
/// unit's label is `c` goes on to node `p ^ c ^ offset`; a leaf flag on the
/// unit means that `unit[that node]` holds a byte offset into the strings,
/// sliced from there to the next NUL. So every node reachable from the root
/// must have all of its 255 neighbours inside the trie, and every leaf must
/// be inside the trie and point at a character boundary of the strings.
///
/// A unit `q` with label `c` in 1..=255 is reached from one node only,
/// `q ^ c`, so the units are grouped by that node first and the walk visits
/// each reachable node once: linear in the trie (0.5 ms natively for the
/// default pack's 240 kB charsmap, against 8.5 ms trying all 255 bytes at
/// every node).
fn check_charsmap(bytes: &[u8]) -> std::result::Result<(), String> {
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let trie_bytes = word(0).ok_or("shorter than its 4-byte header")?;
    let units: Vec<usize> = (0..trie_bytes / 4)
        .map(|i| word(4 + 4 * i).ok_or("its trie runs past the end"))
        .collect::<std::result::Result<_, _>>()?;
    let strings = std::str::from_utf8(&bytes[4 + 4 * units.len()..])
        .map_err(|_| "its replacement strings are not UTF-8")?;
    let offset = |u: usize| (u >> 10) << ((u & (1 << 9)) >> 6);
    let label = |u: usize| u & ((1 << 31) | 0xFF);
    let has_leaf = |u: usize| (u >> 8) & 1 == 1;
    let value = |u: usize| u & ((1 << 31) - 1);
    let n = units.len();
    let root = offset(*units.first().ok_or("its trie is empty")?);
    // the units reached from node p: by_node[starts[p]..starts[p + 1]]
    // (p < n + 256, as q < n and c < 256)
    let parent = |q: usize| match label(units[q]) {
        c @ 1..=255 => Some(q ^ c),
        _ => None,
    };
    let mut starts = vec![0usize; n + 257];
    for p in (0..n).filter_map(parent) {
        starts[p + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut fill = starts.clone();
    let mut by_node = vec![0usize; starts[n + 256]];
    for q in 0..n {
        if let Some(p) = parent(q) {
            by_node[fill[p]] = q;
            fill[p] += 1;
        }
    }
    let mut seen = vec![false; n];
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        // the largest p ^ c for c in 1..=255
        let last = if p & 0xFF == 0xFF { p ^ 1 } else { p | 0xFF };
        if last >= n {
            return Err(format!("its trie points past its end (unit {last} of {n})"));
        }
        // so p < n too
        if std::mem::replace(&mut seen[p], true) {
            continue;
        }
        for &q in &by_node[starts[p]..starts[p + 1]] {
            let next = q ^ offset(units[q]);
            if has_leaf(units[q]) {
                let leaf = *units
                    .get(next)
                    .ok_or_else(|| format!("its trie points past its end (leaf {next} of {n})"))?;
                let at = value(leaf);
                if !strings.is_char_boundary(at) {
                    return Err(format!(
                        "a replacement starts at byte {at}, outside its {}-byte strings or inside a character",
                        strings.len()
                    ));
                }
            }
            todo.push(next);
        }
    }
    Ok(())
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

    /// Whether the vocabulary holds `word` as one whole piece, as typed,
    /// lowercased or capitalised: a word the model learnt as such (for
    /// XLM-R's 250k pieces, the common words of its hundred languages).
    pub fn is_whole_word(&self, word: &str) -> bool {
        let Ok(specials) = self.ids("").map(|v| v.len()) else {
            return false;
        };
        let lower = word.to_lowercase();
        let mut cs = lower.chars();
        let capital: String = cs
            .next()
            .into_iter()
            .flat_map(char::to_uppercase)
            .chain(cs)
            .collect();
        [word, lower.as_str(), capital.as_str()]
            .iter()
            .any(|w| self.ids(w).is_ok_and(|ids| ids.len() == specials + 1))
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

    /// A charsmap of `n` trie units, zero but for `units`, then `strings`.
    fn charsmap(n: usize, units: &[(usize, u32)], strings: &str) -> Vec<u8> {
        let mut trie = vec![0u32; n];
        for &(i, u) in units {
            trie[i] = u;
        }
        let mut out = ((n * 4) as u32).to_le_bytes().to_vec();
        out.extend(trie.iter().flat_map(|u| u.to_le_bytes()));
        out.extend_from_slice(strings.as_bytes());
        out
    }

    /// "a" -> the string at byte `at`: from the root (unit 0, offset 0),
    /// byte 97 reads unit 97 (label 97, a leaf, offset 256), whose leaf is
    /// unit 97 ^ 256 = 353, holding `at`.
    fn a_to(n: usize, at: u32, strings: &str) -> Vec<u8> {
        charsmap(n, &[(97, (256 << 10) | (1 << 8) | 97), (353, at)], strings)
    }

    fn precompiled(bytes: &[u8]) -> serde_json::Value {
        serde_json::json!({"type": "Precompiled", "precompiled_charsmap": base64::encode(bytes)})
    }

    // Found by the `vocab` fuzz target (fuzz/corpus/vocab/
    // finding-precompiled-trie-out-of-bounds, the empty trie): the charsmap
    // parses, and spm_precompiled 0.1.4 indexes out of bounds on the first
    // text it normalises.
    #[test]
    fn charsmap_whose_trie_points_outside_itself_is_an_error_not_a_panic() {
        use tokenizers::normalizers::Precompiled;
        // how spm_precompiled reads a sound one: "a" becomes "ab"
        let good = a_to(512, 0, "ab\0");
        assert_eq!(
            Precompiled::from(&good).unwrap().normalize_string("xa"),
            "xab"
        );
        let pieces = ["<unk>", "a", "b", "ab", "x"];
        let t = TextTokenizer::from_vocab(
            &flat_vocab(&pieces, precompiled(&good), serde_json::Value::Null),
            "vocab.bin",
        )
        .unwrap();
        assert_eq!(t.ids("a").unwrap(), vec![3]);
        for (bytes, text, what) in [
            // the fuzzer's: no trie at all
            (charsmap(0, &[], ""), "a", "its trie is empty"),
            // the root's neighbours run past a one-unit trie
            (charsmap(1, &[], ""), "a", "past its end"),
            // node 353 is inside, but its neighbour for 0xCC (of U+0301, one
            // grapheme with the "a") is unit 429
            (a_to(360, 0, "ab\0"), "a\u{301}", "past its end"),
            // a replacement past the strings, and one inside a character
            (a_to(512, 100, "ab\0"), "a", "outside its 3-byte strings"),
            (a_to(512, 1, "é\0"), "a", "inside a character"),
        ] {
            let p = Precompiled::from(&bytes).expect("spm_precompiled parses it");
            // what the check prevents (the library's own behaviour)
            let r = std::panic::catch_unwind(|| p.normalize_string(text));
            assert!(r.is_err(), "{what}: spm_precompiled no longer panics");
            let v = flat_vocab(&pieces, precompiled(&bytes), serde_json::Value::Null);
            let err = TextTokenizer::from_vocab(&v, "vocab.bin")
                .err()
                .unwrap_or_else(|| panic!("{what}: accepted"));
            assert_eq!(err.code(), "corrupt_file");
            assert!(err.to_string().contains(what), "{err}");
            assert!(err.to_string().contains("vocab.bin"), "{err}");
        }
    }
}
