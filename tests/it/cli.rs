//! The command line as a user runs it.

use crate::{assert_fails, assert_ok, cosine, crossfind, model_dir};

fn read_npy(path: &std::path::Path) -> (Vec<usize>, Vec<f32>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..6], b"\x93NUMPY");
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
    let shape = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let dims = shape
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let data = b[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (dims, data)
}

#[test]
fn embed_writes_npy_rows_in_input_order() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("texts.txt");
    std::fs::write(
        &input,
        "Cancel my subscription\nCancelar mi suscripción\nサブスクリプションを解約する\n",
    )
    .unwrap();
    let out = tmp.path().join("v.npy");
    let st = crossfind()
        .args(["embed", "--model"])
        .arg(model_dir())
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let (shape, data) = read_npy(&out);
    assert_eq!(shape, vec![3, 384]);
    let row = |i: usize| &data[i * 384..(i + 1) * 384];
    // same order as the file: row 0 is the English text
    let direct = crate::encoder()
        .embed("Cancel my subscription", crossfind::TextKind::Query)
        .unwrap();
    assert!(cosine(row(0), &direct.vector) > 0.9999);
    assert!(cosine(row(0), row(1)) > 0.8 && cosine(row(0), row(2)) > 0.8);
}

#[test]
fn similarity_matrix_puts_translations_together() {
    let out = crossfind()
        .args(["embed", "--similarity", "--model"])
        .arg(model_dir())
        .args([
            "How do I reset my password?",
            "¿Cómo restablezco mi contraseña?",
            "Wie hoch ist die Rückerstattung?",
        ])
        .output()
        .unwrap();
    assert_ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let row1: Vec<f32> = text
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .skip(1)
        .take(3)
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(row1[0], 1.0);
    assert!(row1[1] > row1[2], "{text}");
}

#[test]
fn invalid_utf8_input_line_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("bad.txt");
    std::fs::write(&input, b"fine text\nbroken \xff\xfe text\n").unwrap();
    let out = crossfind()
        .args(["embed", "--model"])
        .arg(model_dir())
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    let err = assert_fails(&out);
    assert!(err.contains("line 2 is not valid UTF-8"), "{err}");
}

#[test]
fn missing_pack_folder_gives_a_hint() {
    let out = crossfind()
        .args(["embed", "--model", "/nonexistent/pack", "hello"])
        .output()
        .unwrap();
    let err = assert_fails(&out);
    assert!(
        err.contains("pack.json") && err.contains("/nonexistent/pack"),
        "{err}"
    );
}

#[test]
fn hugging_face_folder_round_trips_through_import() {
    let tmp = tempfile::tempdir().unwrap();
    let hf = tmp.path().join("hf");
    let pack = tmp.path().join("pack");
    assert!(crossfind()
        .args(["model", "export-hf"])
        .arg(model_dir())
        .arg("--out")
        .arg(&hf)
        .status()
        .unwrap()
        .success());
    let out = crossfind()
        .args(["model", "import"])
        .arg(&hf)
        .args(["--id", "intfloat/multilingual-e5-small", "--out"])
        .arg(&pack)
        .output()
        .unwrap();
    assert_ok(&out);
    let enc = crossfind::Encoder::from_pack(crossfind::Pack::read_dir(&pack).unwrap()).unwrap();
    // the e5 id brings back the query/passage prefixes
    assert_eq!(enc.manifest().profile.query_prefix, "query: ");
    for text in [
        "Webhook signature verification failed",
        "Zwei-Faktor-Authentifizierung aktivieren",
        "返金はいつ届きますか",
    ] {
        let a = enc.embed(text, crossfind::TextKind::Query).unwrap().vector;
        let b = crate::encoder()
            .embed(text, crossfind::TextKind::Query)
            .unwrap()
            .vector;
        assert!(cosine(&a, &b) > 0.998, "{text}: {}", cosine(&a, &b));
    }
    // A tokenizer.json whose template names a special token that its
    // special_tokens does not define (the `vocab` fuzz target's finding):
    // tokenizers 0.23 panicked on the first text the pack encoded. Import
    // refuses it, naming the file and the token.
    let tok_path = hf.join("tokenizer.json");
    let mut tok: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&tok_path).unwrap()).unwrap();
    let specials = tok["post_processor"]["special_tokens"]
        .as_object_mut()
        .unwrap();
    let eos = specials.remove("</s>").unwrap();
    specials.insert("</x>".into(), eos);
    let good_tok = std::fs::read(&tok_path).unwrap();
    std::fs::write(&tok_path, serde_json::to_vec(&tok).unwrap()).unwrap();
    let out = crossfind()
        .args(["model", "import"])
        .arg(&hf)
        .arg("--out")
        .arg(tmp.path().join("bad-template"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&tok_path.display().to_string()) && err.contains("`</s>`"),
        "{err}"
    );
    std::fs::write(&tok_path, good_tok).unwrap();
    // a folder without weights says what is missing
    std::fs::remove_file(hf.join("model.safetensors")).unwrap();
    let out = crossfind()
        .args(["model", "import"])
        .arg(&hf)
        .arg("--out")
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert!(assert_fails(&out).contains("model.safetensors"));
}

#[test]
fn version_names_the_formats_this_build_writes_and_reads() {
    let o = crossfind().arg("--version").output().unwrap();
    assert_ok(&o);
    let v = String::from_utf8_lossy(&o.stdout);
    assert!(
        v.starts_with(&format!("crossfind {}", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(
        v.contains(&format!(
            "bundle format {}",
            crossfind::bundle::BUNDLE_VERSION
        )),
        "{v}"
    );
    assert!(
        v.contains(&format!(
            "model pack format {}",
            crossfind::model::pack::PACK_VERSION
        )),
        "{v}"
    );
    // each feature names the oldest format a bundle with it is written as
    use crossfind::bundle::*;
    assert!(
        v.contains(&format!(
            "bundle format {BUNDLE_VERSION}: {BUNDLE_VERSION_PLAIN} when no file is compressed, \
             {BUNDLE_VERSION_GZIP} with gzip forms, {BUNDLE_VERSION_CODES} with sign codes, \
             {BUNDLE_VERSION_PIECES} with lexical pieces, {BUNDLE_VERSION} with the page table in columns \
             and snippet records that name their pages; \
             reads {BUNDLE_OLDEST_VERSION} to {BUNDLE_VERSION}"
        )),
        "{v}"
    );
    assert!(
        v.contains(&format!(
            "model pack format {}, {} when no file is compressed",
            crossfind::model::pack::PACK_VERSION,
            crossfind::model::pack::PACK_VERSION_PLAIN
        )),
        "{v}"
    );
}
