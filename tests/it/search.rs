//! Search as a user of a help site notices it, on a small multilingual help
//! center indexed once per test run with the CLI.
//!
//! `tests/fixtures/sites/helpdesk-mini` is 22 Markdown pages copied from the
//! demo help center (`examples/helpdesk/content`, same `lang/id.md` layout):
//! reset-password (en es ja de), idempotency-keys (en ja zh),
//! invoices-receipts (en es), refunds (en es pt), cancel-subscription
//! (en es fr), error-e1042-sync-failed (en ko) and the region-only articles
//! factura-electronica-cfdi (es), konbini-payment (ja), pagamento-pix (pt),
//! sepa-lastschrift (de) and mpesa-payments (sw).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use crossfind::search::Bundle;
use crossfind::search::{search, Fusion, Hit, Mode, Query};
use crossfind::TextKind;

use crate::{assert_fails, assert_ok, copy_dir, crossfind, encoder, index_with, root, search_cli};

pub(crate) fn index(input: &Path, out: &Path) -> Output {
    if out.exists() {
        std::fs::remove_dir_all(out).unwrap();
    }
    let mut report = out.as_os_str().to_owned();
    report.push("-report.txt");
    index_with(input, out, Path::new(&report), &[])
}

/// The helpdesk-mini bundle, built by `crossfind index` on first use.
fn mini_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("helpdesk-mini-bundle");
        assert_ok(&index(
            &root().join("tests/fixtures/sites/helpdesk-mini"),
            &out,
        ));
        out
    })
}

fn mini() -> &'static Bundle {
    static B: OnceLock<Bundle> = OnceLock::new();
    B.get_or_init(|| Bundle::read_dir(mini_dir()).expect("helpdesk-mini bundle loads"))
}

fn ask(text: &str, lang: Option<&str>, k: usize) -> Vec<Hit> {
    let v = encoder()
        .embed_for_search(text, TextKind::Query)
        .unwrap()
        .vector;
    search(
        mini(),
        &Query {
            text,
            vector: Some(&v),
            lang,
            k,
            mode: Mode::Hybrid,
            fusion: Fusion::default(),
            filter: None,
        },
    )
}

fn show(hits: &[Hit]) -> String {
    hits.iter()
        .map(|h| format!("{} [{}] fused {:.4}", h.page_id, h.lang, h.fused))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn helpdesk_mini_indexes_every_page() {
    let b = mini();
    assert_eq!(b.docs.pages.len(), 22);
    let langs: Vec<&str> = b.manifest.languages.keys().map(String::as_str).collect();
    assert_eq!(
        langs,
        ["de", "en", "es", "fr", "ja", "ko", "pt", "sw", "zh"]
    );
    // translations share a group: reset-password is one group of four pages
    let reset: Vec<&str> = b
        .docs
        .pages
        .iter()
        .filter(|p| p.group == "reset-password")
        .map(|p| p.lang.as_str())
        .collect();
    assert_eq!(reset.len(), 4, "{reset:?}");
}

#[test]
fn japanese_query_finds_spanish_only_article() {
    // "Mexican electronic invoice CFDI": the only answer is in Spanish.
    let hits = ask("メキシコの電子請求書 CFDI", Some("ja"), 3);
    let hit = hits
        .iter()
        .find(|h| h.page_id == "es/factura-electronica-cfdi")
        .unwrap_or_else(|| panic!("CFDI article not in the top 3: {}", show(&hits)));
    // there is no Japanese version, so the Spanish page is shown as is
    assert_eq!(hit.lang, "es");
    assert!(hit.also_in.is_empty() && hit.matched_lang.is_none());
    assert_eq!(
        hit.url.split('#').next(),
        Some("/es/factura-electronica-cfdi.html")
    );
}

#[test]
fn spanish_reader_gets_spanish_version_first() {
    // invoices-receipts exists in English and Spanish
    let hits = ask("¿dónde descargo mis facturas en PDF?", Some("es"), 3);
    let top = &hits[0];
    assert_eq!(top.page_id, "es/invoices-receipts", "{}", show(&hits));
    assert_eq!(top.lang, "es");
    assert_eq!(top.also_in, ["en"]);
    assert!(top.snippet.is_some());

    // an English query from a Spanish reader still lands on the Spanish page,
    // saying which version matched
    let hits = ask("download my invoices as PDF", Some("es"), 3);
    let top = &hits[0];
    assert_eq!(top.page_id, "es/invoices-receipts", "{}", show(&hits));
    assert!(top.url.starts_with("/es/invoices-receipts.html"));
    assert_eq!(top.also_in, ["en"]);
    assert!(matches!(top.matched_lang.as_deref(), None | Some("en")));

    // every hit of a Spanish reader is in Spanish when a Spanish version exists
    for h in ask("reembolso de mi pago", Some("es"), 5) {
        let has_es = mini().docs.pages.iter().any(|p| {
            p.lang == "es"
                && mini()
                    .docs
                    .pages
                    .iter()
                    .any(|q| q.id == h.page_id && q.group == p.group)
        });
        assert!(
            !has_es || h.lang == "es",
            "{} shown in {}",
            h.page_id,
            h.lang
        );
    }
}

#[test]
fn exact_error_code_found_by_hybrid_inside_other_language_page() {
    // E3022 is only in idempotency-keys (en, ja, zh). A Spanish reader typing
    // the bare code gets that article, from a page in another language.
    let hits = ask("E3022", Some("es"), 3);
    let top = &hits[0];
    let group = &mini()
        .docs
        .pages
        .iter()
        .find(|p| p.id == top.page_id)
        .unwrap()
        .group;
    assert_eq!(group, "idempotency-keys", "{}", show(&hits));
    assert_ne!(top.lang, "es");
    assert!(top.lexical.is_some(), "the code matched lexically");
    assert!(
        top.snippet.as_deref().unwrap().contains("E3022"),
        "{:?}",
        top.snippet
    );
    let hl = &top.highlights;
    let snippet = top.snippet.as_deref().unwrap();
    assert!(
        hl.iter()
            .any(|&(s, e)| snippet[s..e].eq_ignore_ascii_case("e3022")),
        "the code is highlighted: {hl:?} in {snippet}"
    );

    // inside a Japanese sentence, for a Japanese reader
    let hits = ask("E3022 エラーの意味", Some("ja"), 3);
    assert_eq!(hits[0].page_id, "ja/idempotency-keys", "{}", show(&hits));
    assert!(hits[0].snippet.as_deref().unwrap().contains("E3022"));
}

#[test]
fn broken_pages_warn_and_rest_of_site_indexes() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tiny-site-bundle");
    let o = index(&root().join("tests/fixtures/sites/tiny"), &out);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stderr}");
    for (file, why) in [
        ("empty.html", "no text"),
        ("x.html", "binary"),
        ("404.html", "404"),
        ("noindex.html", "noindex"),
        ("es/facturas.htm", "duplicate"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("warning: ") && l.contains(file) && l.contains(why)),
            "no warning about {file} ({why}):\n{stderr}"
        );
    }
    assert!(stdout.contains("indexed 7 pages"), "{stdout}");

    let b = Bundle::read_dir(&out).unwrap();
    let ids: HashSet<&str> = b.docs.pages.iter().map(|p| p.id.as_str()).collect();
    for skipped in ["/404", "/empty", "/x", "/noindex", "/index"] {
        assert!(!ids.contains(skipped), "{skipped} was indexed");
    }
    // the good pages, the malformed-but-readable one included, answer queries
    let run = |q: &str| {
        let o = search_cli(&out, &["--json", "--k", "3"], q);
        json_page_ids(&o)
    };
    assert_eq!(run("reset my password")[0], "/en/reset-password");
    assert_eq!(run("sync error E1042")[0], "/malformed");
    assert_eq!(run("facturas IVA")[0], "/es/facturas");
}

#[test]
fn trec_run_file_has_one_line_per_page() {
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("q.jsonl");
    std::fs::write(
        &queries,
        concat!(
            r#"{"qid": "q1", "text": "reset password", "lang": "en"}"#,
            "\n",
            r#"{"qid": "q2", "text": "返金 申請", "lang": "ja"}"#,
            "\n\n",
            r#"{"qid": "q3", "text": "factura CFDI México"}"#,
            "\n",
            r#"{"qid": "q4", "text": "E3022"}"#,
            "\n",
        ),
    )
    .unwrap();
    let run = tmp.path().join("run.txt");
    let o = crossfind()
        .args(["search", "--k", "8", "--bundle"])
        .arg(mini_dir())
        .arg("--queries")
        .arg(&queries)
        .arg("--run")
        .arg(&run)
        .output()
        .unwrap();
    assert_ok(&o);

    let docs = &mini().docs;
    let group_of: HashMap<&str, &str> = docs
        .pages
        .iter()
        .map(|p| (p.id.as_str(), p.group.as_str()))
        .collect();
    let text = std::fs::read_to_string(&run).unwrap();
    let mut per_query: HashMap<&str, Vec<(&str, usize, f64)>> = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 6, "`{line}`: qid Q0 docid rank score tag");
        assert_eq!((f[1], f[5]), ("Q0", "crossfind"), "{line}");
        assert!(group_of.contains_key(f[2]), "unknown page id in `{line}`");
        per_query.entry(f[0]).or_default().push((
            f[2],
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
        ));
    }
    let mut qids: Vec<&str> = per_query.keys().copied().collect();
    qids.sort();
    assert_eq!(qids, ["q1", "q2", "q3", "q4"]);
    for (qid, rows) in &per_query {
        assert!(
            !rows.is_empty() && rows.len() <= 8,
            "{qid}: {} lines",
            rows.len()
        );
        let ranks: Vec<usize> = rows.iter().map(|r| r.1).collect();
        assert_eq!(ranks, (1..=rows.len()).collect::<Vec<_>>(), "{qid}");
        assert!(
            rows.windows(2).all(|w| w[0].2 >= w[1].2),
            "{qid}: scores rise"
        );
        // one line per page, and one page per translation group
        let pages: HashSet<&str> = rows.iter().map(|r| r.0).collect();
        assert_eq!(pages.len(), rows.len(), "{qid}: a page appears twice");
        let groups: HashSet<&str> = rows.iter().map(|r| group_of[r.0]).collect();
        assert_eq!(
            groups.len(),
            rows.len(),
            "{qid}: two versions of one article"
        );
    }
    // the query's lang picks the version that is listed
    assert_eq!(per_query["q1"][0].0, "en/reset-password");
    assert_eq!(per_query["q3"][0].0, "es/factura-electronica-cfdi");
}

/// A help center with two product versions and two identical pages, one of
/// them weighted, as JSONL; indexed once.
fn versions_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("versions-site");
        std::fs::create_dir_all(&tmp).unwrap();
        let page = |id: &str, lang: &str, title: &str, text: &str, extra: &str| {
            format!(
                r#"{{"id":"{id}","lang":"{lang}","title":"{title}","url":"/{id}.html","text":"{text}"{extra}}}"#
            )
        };
        let lines = [
            page("v1/reset", "en", "Reset your password", "Open Settings, then Security, and choose Reset password. A link arrives by email.", r#","filters":{"version":"1"}"#),
            page("v2/reset", "en", "Reset your password", "Open Account, then Sign-in, and choose Forgot password. A code arrives by SMS.", r#","filters":{"version":"2"}"#),
            page("v1/invoices", "en", "Download invoices", "Invoices are in Billing, one PDF per month.", r#","filters":{"version":"1"}"#),
            page("v2/invoices", "en", "Download invoices", "Invoices are under Plan and billing, as PDF or CSV.", r#","filters":{"version":"2"}"#),
            page("v2/2fa", "es", "Activar la verificación en dos pasos", "Abre Seguridad y activa la verificación en dos pasos con una app.", r#","filters":{"version":"2"}"#),
            page("notes/a", "en", "Release notes", "The password screen moved to Account in version 2.", ""),
            page("notes/b", "en", "Release notes", "The password screen moved to Account in version 2.", r#","weight":3"#),
        ];
        let input = tmp.join("site.jsonl");
        std::fs::write(&input, lines.join("\n") + "\n").unwrap();
        let out = tmp.join("bundle");
        assert_ok(&index(&input, &out));
        out
    })
}

fn search_json(flags: &[&str], query: &str) -> Vec<serde_json::Value> {
    let o = search_cli(versions_dir(), &[&["--json"], flags].concat(), query);
    json_hits(&o)
}

/// The hits `crossfind search --json` printed, after checking it succeeded.
fn json_hits(o: &Output) -> Vec<serde_json::Value> {
    assert_ok(o);
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The page ids of [`json_hits`], in order.
fn json_page_ids(o: &Output) -> Vec<String> {
    json_hits(o)
        .iter()
        .map(|h| h["page_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_filter_keeps_only_its_pages_and_still_fills_the_results() {
    let all = search_json(&["--k", "4"], "reset my password");
    assert!(all.iter().any(|h| h["page_id"] == "v1/reset"));
    let v2 = search_json(&["--k", "4", "--filter", "version:2"], "reset my password");
    let ids: Vec<&str> = v2.iter().map(|h| h["page_id"].as_str().unwrap()).collect();
    // every version-2 page, the answer first, and nothing else: filtering
    // happens before ranking, so the 3 of them come back although other
    // pages score higher
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0], "v2/reset");
    assert!(ids.iter().all(|id| id.starts_with("v2/")), "{ids:?}");
    // values of one key are alternatives
    let both = search_json(
        &[
            "--k",
            "10",
            "--filter",
            "version:1",
            "--filter",
            "version:2",
        ],
        "invoices",
    );
    assert_eq!(both.len(), 5);
    // a misspelt key is an error naming the bundle's keys, not an empty result
    let o = search_cli(versions_dir(), &["--filter", "verison:2"], "reset");
    let err = crate::assert_fails(&o);
    assert!(
        err.contains("no page has a filter of that name; this bundle's are: version"),
        "{err}"
    );
}

#[test]
fn a_page_weight_moves_it_above_an_equal_page() {
    let hits = search_json(
        &["--k", "3", "--mode", "dense"],
        "where did the password screen go",
    );
    let ids: Vec<&str> = hits
        .iter()
        .map(|h| h["page_id"].as_str().unwrap())
        .collect();
    // notes/a and notes/b have the same text; only b's weight (3) puts it first
    assert_eq!(&ids[..2], ["notes/b", "notes/a"], "{ids:?}");
    let (a, b) = (
        hits[1]["fused"].as_f64().unwrap(),
        hits[0]["fused"].as_f64().unwrap(),
    );
    assert!((b - a - 0.05 * 3f64.ln()).abs() < 1e-4, "{a} {b}");
}

#[test]
fn a_section_weight_moves_that_section_below_an_equal_one() {
    // two pages with the same title and sections; on changelog-a the
    // second section sits in a <section data-crossfind-weight="0.2">, as a
    // site would mark release notes it does not want in front
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let page = |weighted: bool| {
        let open = if weighted {
            r#"<section data-crossfind-weight="0.2">"#
        } else {
            "<section>"
        };
        format!(
            r#"<!doctype html><html lang="en"><head><title>Kitebook 4.2</title></head><body><main>
<h1>Kitebook 4.2</h1>
<h2 id="overview">Overview</h2><p>Version 4.2 brings a new calendar view and faster sync for large workspaces.</p>
{open}<h2 id="changes">Changes</h2><p>The password reset screen moved from Settings to Account, and reset links now expire after one hour.</p></section>
</main></body></html>"#
        )
    };
    std::fs::write(site.join("changelog-a.html"), page(true)).unwrap();
    std::fs::write(site.join("changelog-b.html"), page(false)).unwrap();
    let out = tmp.path().join("bundle");
    assert_ok(&index(&site, &out));
    let o = search_cli(
        &out,
        &["--json", "--k", "2", "--mode", "dense"],
        "where is the password reset screen now",
    );
    let hits = json_hits(&o);
    let ids: Vec<&str> = hits
        .iter()
        .map(|h| h["page_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["/changelog-b", "/changelog-a"], "{hits:?}");
    assert!(
        hits.iter()
            .all(|h| h["url"].as_str().unwrap().ends_with("#changes")),
        "{hits:?}"
    );
    let (b, a) = (
        hits[0]["fused"].as_f64().unwrap(),
        hits[1]["fused"].as_f64().unwrap(),
    );
    assert!((b - a + 0.05 * 0.2f64.ln()).abs() < 1e-4, "{a} {b}");
}

#[test]
fn the_title_weight_decides_between_a_title_match_and_a_body_match() {
    // "invoices" is the title of one page and three words of the other's body
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("site.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id":"a","lang":"en","title":"Invoices","url":"/a.html","text":"Download a PDF for every month from the billing page."}"#,
            "\n",
            r#"{"id":"b","lang":"en","title":"Billing page","url":"/b.html","text":"Old invoices, paid invoices and open invoices are listed by month."}"#,
            "\n"
        ),
    )
    .unwrap();
    let order = |weight: &str| -> Vec<String> {
        let out = tmp.path().join(format!("bundle-{weight}"));
        let report = tmp.path().join("report.txt");
        assert_ok(&index_with(
            &input,
            &out,
            &report,
            &["--title-weight", weight],
        ));
        let o = search_cli(&out, &["--json", "--mode", "lexical"], "invoices");
        json_page_ids(&o)
    };
    assert_eq!(order("1"), ["b", "a"]);
    assert_eq!(order("5"), ["a", "b"]);
    // out of range: bad input, nothing written
    let o = index_with(
        &input,
        &tmp.path().join("x"),
        &tmp.path().join("r.txt"),
        &["--title-weight", "9"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!tmp.path().join("x").exists());
}

#[test]
fn eval_log_lists_what_readers_asked_that_has_no_page_in_their_language() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log.jsonl");
    // the CFDI article exists in Spanish only; password resets in Japanese too
    std::fs::write(
        &log,
        "{\"query\": \"メキシコの電子請求書 CFDI\", \"lang\": \"ja\", \"count\": 4}\n\
         {\"query\": \"パスワードを忘れました\", \"lang\": \"ja\"}\n\
         {\"query\": \"メキシコの電子請求書 CFDI\", \"lang\": \"ja\"}\n",
    )
    .unwrap();
    let json = tmp.path().join("log.json");
    let o = crossfind()
        .args(["eval", "log", "--bundle"])
        .arg(mini_dir())
        .arg("--log")
        .arg(&log)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert_ok(&o);
    let report = String::from_utf8_lossy(&o.stdout);
    // 5 of the 6 times asked: the answer is in Spanish only; both have
    // answers, and the bundle's own levels (no --calibrate) say so
    assert!(
        report.contains("| ja | 2 | 6 | 0.0% | 0.0% | 83.3% |"),
        "{report}"
    );
    assert!(report.contains("the bundle's own levels"), "{report}");
    assert!(
        report.contains("| 5 | ja | メキシコの電子請求書 CFDI | es/factura-electronica-cfdi |"),
        "{report}"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["queries"][1]["hits"][0], "ja/reset-password");
    assert_eq!(v["queries"][1]["other_language_first"], false);
}

#[test]
fn a_misspelt_word_is_read_as_the_site_word_and_a_correct_one_is_not() {
    // "Passwort vergessen" typed in a hurry: neither the site nor the
    // model's vocabulary knows "Pasword" or "vergesen"
    let o = search_cli(
        mini_dir(),
        &["--lang", "de", "--k", "3"],
        "Pasword vergesen",
    );
    assert_ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("searched for: password vergessen"),
        "not respelt: {err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let first = out.split(" 2. ").next().unwrap_or("");
    assert!(first.contains("/de/reset-password"), "{out}");
    // a correct word the site lacks stays as typed ("saying" is one edit
    // from nothing here, "Rechnungen" is a word the model knows)
    let o = search_cli(mini_dir(), &["--lang", "de"], "Rechnungen herunterladen");
    assert_ok(&o);
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("searched for"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_quality_gate_fails_when_a_label_no_longer_names_one_article() {
    let tmp = tempfile::tempdir().unwrap();
    let eval = |bundle: &Path, queries: &str, extra: &[&str]| {
        let q = tmp.path().join("q.jsonl");
        std::fs::write(&q, queries).unwrap();
        crossfind()
            .args(["eval", "--bundle"])
            .arg(bundle)
            .arg("--queries")
            .arg(&q)
            .args(extra)
            .output()
            .unwrap()
    };
    let good = "{\"qid\": \"pt-001\", \"text\": \"quero meu dinheiro de volta\", \"lang\": \"pt\", \"relevant\": [\"refunds\"]}\n\
                {\"qid\": \"es-001\", \"text\": \"olvidé mi contraseña\", \"lang\": \"es\", \"relevant\": [\"reset-password\"]}\n";
    let base = tmp.path().join("base.json");
    let base_s = base.to_str().unwrap();
    assert_ok(&eval(mini_dir(), good, &["--write-baseline", base_s]));
    assert_ok(&eval(mini_dir(), good, &["--baseline", base_s]));
    // the refunds article renamed on the site, its label not: the run
    // itself only warns, the gate fails and says why
    let renamed = good.replace("\"refunds\"", "\"refund-policy\"");
    assert_ok(&eval(mini_dir(), &renamed, &[]));
    let err = assert_fails(&eval(mini_dir(), &renamed, &["--baseline", base_s]));
    assert!(
        err.contains("\"refund-policy\"") && err.contains("matches no page"),
        "{err}"
    );
    assert!(err.contains("1 relevance label(s)"), "{err}");
    // the Portuguese refunds page split off its translation group (its
    // article id changed): "refunds" now names two articles, and either
    // one is credited, so the numbers hold while the site's translation
    // links are broken. The gate must not pass that.
    let site = copy_dir(&root().join("tests/fixtures/sites/helpdesk-mini"));
    let pt = site.path().join("pt/refunds.md");
    let text = std::fs::read_to_string(&pt).unwrap();
    std::fs::write(&pt, text.replacen("id: refunds", "id: refunds-pt", 1)).unwrap();
    let split = tmp.path().join("split");
    assert_ok(&index_with(
        site.path(),
        &split,
        &tmp.path().join("r.txt"),
        &[],
    ));
    let err = assert_fails(&eval(&split, good, &["--baseline", base_s]));
    assert!(
        err.contains("\"refunds\" matches pages of 2 translation groups"),
        "{err}"
    );
    assert!(
        err.contains("would be wrong") && !err.contains("regression:"),
        "the numbers alone pass: {err}"
    );
}
