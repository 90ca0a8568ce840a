//! How well a model aligns languages, measured on translated sentences.
//!
//! Input: JSONL lines `{"group": "g01", "lang": "es", "text": "…"}`; the
//! sentences of a group are translations of each other (one per language).
//!
//! - **Retrieval accuracy A→B**: for each group with both languages, whether
//!   the nearest B sentence to the group's A sentence is its translation.
//! - **Cosine**: mean cosine of true pairs (same group) and of random pairs
//!   (different groups) between the two languages; the gap is what search
//!   relies on. The mean cosine of unrelated sentences of the *same*
//!   language, minus that of unrelated sentences across languages, is the
//!   model's language bias: the head start a page in the reader's language
//!   gets over a translation of the right answer.
//! - **Language clustering**: for each sentence, its 5 nearest neighbours
//!   among all the other sentences, split into the share in the same language
//!   (necessarily another meaning) and the share with the same meaning
//!   (necessarily another language). A model that clusters by language has a
//!   high first share; a well-aligned one a high second share. The chance
//!   levels (the shares among all other sentences) are reported alongside.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crossfind::error::{Error, Result};

/// Neighbours considered by the clustering view.
pub const NEIGHBOURS: usize = 5;

#[derive(Clone, Debug, Serialize)]
pub struct PairItem {
    pub group: String,
    pub lang: String,
    pub text: String,
}

/// Parses a translation-pairs file.
pub fn parse_pairs(text: &str, source: &str) -> Result<Vec<PairItem>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| Error::Input(format!("{source}: line {}: {why}", i + 1));
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not JSON ({e})")))?;
        let (Some(group), Some(lang), Some(t)) =
            (v["group"].as_str(), v["lang"].as_str(), v["text"].as_str())
        else {
            return Err(bad(
                "needs string fields \"group\", \"lang\" and \"text\"".into()
            ));
        };
        if !seen.insert((group.to_string(), lang.to_string())) {
            return Err(bad(format!("group {group:?} has two {lang:?} sentences")));
        }
        out.push(PairItem {
            group: group.into(),
            lang: lang.into(),
            text: t.into(),
        });
    }
    if out.len() < 2 {
        return Err(Error::Input(format!(
            "{source} needs at least two sentences"
        )));
    }
    Ok(out)
}

/// One language pair (both directions).
#[derive(Clone, Debug, Serialize)]
pub struct PairRow {
    pub a: String,
    pub b: String,
    /// Groups with a sentence in both languages.
    pub pairs: usize,
    pub accuracy_a_to_b: f64,
    pub accuracy_b_to_a: f64,
    /// Mean of the two directions.
    pub accuracy: f64,
    pub true_cosine: f64,
    pub random_cosine: f64,
}

/// One language against all the others.
#[derive(Clone, Debug, Serialize)]
pub struct LangRow {
    pub lang: String,
    pub sentences: usize,
    /// Retrieval accuracy with this language as the query side.
    pub accuracy_from: f64,
    /// … and as the side searched.
    pub accuracy_to: f64,
    pub true_cosine: f64,
    pub random_cosine: f64,
    /// Mean cosine of unrelated sentences both in this language.
    pub same_lang_random_cosine: f64,
    /// Mean share of the top-5 neighbours in the same language.
    pub top5_same_lang: f64,
    /// Mean share of the top-5 neighbours with the same meaning.
    pub top5_same_meaning: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PairsReport {
    pub sentences: usize,
    pub groups: usize,
    pub langs: Vec<String>,
    /// Micro average over every directional trial.
    pub accuracy: f64,
    pub true_cosine: f64,
    pub random_cosine: f64,
    /// Unrelated sentences of the same language (`random_cosine` is across languages).
    pub same_lang_random_cosine: f64,
    pub top5_same_lang: f64,
    pub top5_same_meaning: f64,
    /// What the two shares would be with neighbours drawn at random.
    pub top5_same_lang_chance: f64,
    pub top5_same_meaning_chance: f64,
    pub by_lang: Vec<LangRow>,
    pub by_pair: Vec<PairRow>,
}

fn normalized(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter().map(|x| x / n).collect()
    } else {
        v.to_vec()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[derive(Default, Clone, Copy)]
struct Acc {
    sum: f64,
    n: usize,
}

impl Acc {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.n += 1;
    }
    fn merge(&mut self, o: Acc) {
        self.sum += o.sum;
        self.n += o.n;
    }
    fn mean(self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }
}

/// Analyses the sentences given their embeddings (row-aligned with `items`).
pub fn analyze(items: &[PairItem], vectors: &[Vec<f32>]) -> PairsReport {
    assert_eq!(items.len(), vectors.len(), "one vector per sentence");
    let n = items.len();
    let vs: Vec<Vec<f32>> = vectors.iter().map(|v| normalized(v)).collect();
    let sim: Vec<Vec<f32>> = (0..n)
        .map(|i| (0..n).map(|j| dot(&vs[i], &vs[j])).collect())
        .collect();

    let mut langs: Vec<String> = items.iter().map(|x| x.lang.clone()).collect();
    langs.sort();
    langs.dedup();
    let li = |l: &str| langs.iter().position(|x| x == l).expect("known language");
    let lang_of: Vec<usize> = items.iter().map(|x| li(&x.lang)).collect();
    let nl = langs.len();
    // members[l] = sentence indexes in language l
    let mut members = vec![Vec::new(); nl];
    for (i, &l) in lang_of.iter().enumerate() {
        members[l].push(i);
    }
    // partner[(group, lang)] = sentence index
    let partner: BTreeMap<(&str, usize), usize> = items
        .iter()
        .enumerate()
        .map(|(i, x)| ((x.group.as_str(), lang_of[i]), i))
        .collect();

    // directional accuracy and cosines per ordered language pair
    let mut acc = vec![vec![Acc::default(); nl]; nl];
    let mut true_cos = vec![vec![Acc::default(); nl]; nl];
    let mut rand_cos = vec![vec![Acc::default(); nl]; nl];
    let mut same_rand = vec![Acc::default(); nl];
    for i in 0..n {
        let (la, g) = (lang_of[i], items[i].group.as_str());
        for &j in members[la].iter().filter(|&&j| j != i) {
            same_rand[la].add(sim[i][j] as f64);
        }
        for lb in (0..nl).filter(|&l| l != la) {
            for &j in &members[lb] {
                if items[j].group == g {
                    true_cos[la][lb].add(sim[i][j] as f64);
                } else {
                    rand_cos[la][lb].add(sim[i][j] as f64);
                }
            }
            if let Some(&t) = partner.get(&(g, lb)) {
                let best = members[lb]
                    .iter()
                    .copied()
                    .max_by(|&x, &y| sim[i][x].total_cmp(&sim[i][y]).then(y.cmp(&x)))
                    .expect("the partner is a member");
                acc[la][lb].add(if best == t { 1.0 } else { 0.0 });
            }
        }
    }

    // clustering: top-5 neighbours among all others
    let mut same_lang = vec![Acc::default(); nl];
    let mut same_meaning = vec![Acc::default(); nl];
    let (mut chance_lang, mut chance_meaning) = (Acc::default(), Acc::default());
    for i in 0..n {
        let mut others: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        others.sort_by(|&x, &y| sim[i][y].total_cmp(&sim[i][x]).then(x.cmp(&y)));
        let top = &others[..NEIGHBOURS.min(others.len())];
        if top.is_empty() {
            continue;
        }
        let share = |f: &dyn Fn(usize) -> bool| {
            top.iter().filter(|&&j| f(j)).count() as f64 / top.len() as f64
        };
        let sl = |j: usize| lang_of[j] == lang_of[i];
        let sm = |j: usize| items[j].group == items[i].group;
        same_lang[lang_of[i]].add(share(&sl));
        same_meaning[lang_of[i]].add(share(&sm));
        let all = others.len() as f64;
        chance_lang.add(others.iter().filter(|&&j| sl(j)).count() as f64 / all);
        chance_meaning.add(others.iter().filter(|&&j| sm(j)).count() as f64 / all);
    }

    let mut by_pair = Vec::new();
    for a in 0..nl {
        for b in a + 1..nl {
            if acc[a][b].n == 0 {
                continue;
            }
            let mut t = true_cos[a][b];
            t.merge(true_cos[b][a]);
            let mut r = rand_cos[a][b];
            r.merge(rand_cos[b][a]);
            by_pair.push(PairRow {
                a: langs[a].clone(),
                b: langs[b].clone(),
                pairs: acc[a][b].n,
                accuracy_a_to_b: acc[a][b].mean(),
                accuracy_b_to_a: acc[b][a].mean(),
                accuracy: (acc[a][b].mean() + acc[b][a].mean()) / 2.0,
                true_cosine: t.mean(),
                random_cosine: r.mean(),
            });
        }
    }
    let fold = |m: &Vec<Vec<Acc>>, l: usize, from: bool| {
        let mut s = Acc::default();
        for o in (0..nl).filter(|&o| o != l) {
            s.merge(if from { m[l][o] } else { m[o][l] });
        }
        s.mean()
    };
    let by_lang = (0..nl)
        .map(|l| LangRow {
            lang: langs[l].clone(),
            sentences: members[l].len(),
            accuracy_from: fold(&acc, l, true),
            accuracy_to: fold(&acc, l, false),
            true_cosine: fold(&true_cos, l, true),
            random_cosine: fold(&rand_cos, l, true),
            same_lang_random_cosine: same_rand[l].mean(),
            top5_same_lang: same_lang[l].mean(),
            top5_same_meaning: same_meaning[l].mean(),
        })
        .collect();
    let total = |m: &Vec<Vec<Acc>>| {
        let mut s = Acc::default();
        m.iter().flatten().for_each(|a| s.merge(*a));
        s.mean()
    };
    let all = |v: &Vec<Acc>| {
        let mut s = Acc::default();
        v.iter().for_each(|a| s.merge(*a));
        s.mean()
    };
    let groups: HashSet<&str> = items.iter().map(|x| x.group.as_str()).collect();
    PairsReport {
        sentences: n,
        groups: groups.len(),
        accuracy: total(&acc),
        true_cosine: total(&true_cos),
        random_cosine: total(&rand_cos),
        same_lang_random_cosine: all(&same_rand),
        top5_same_lang: all(&same_lang),
        top5_same_meaning: all(&same_meaning),
        top5_same_lang_chance: chance_lang.mean(),
        top5_same_meaning_chance: chance_meaning.mean(),
        langs,
        by_lang,
        by_pair,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(g: &str, l: &str) -> PairItem {
        PairItem {
            group: g.into(),
            lang: l.into(),
            text: String::new(),
        }
    }

    #[test]
    fn aligned_and_clustered_toy_spaces() {
        // two meanings x two languages
        let items = vec![
            item("g1", "en"),
            item("g1", "es"),
            item("g2", "en"),
            item("g2", "es"),
        ];
        // aligned: translations share a direction
        let aligned = vec![
            vec![1.0, 0.0],
            vec![1.0, 0.1],
            vec![0.0, 1.0],
            vec![0.1, 1.0],
        ];
        let r = analyze(&items, &aligned);
        assert_eq!(r.accuracy, 1.0);
        assert!(r.true_cosine > 0.99 && r.random_cosine < 0.2);
        assert_eq!(r.by_pair.len(), 1);
        assert_eq!(r.by_pair[0].pairs, 2);
        // the 3 other sentences: 1 same meaning, 1 same language
        assert!((r.top5_same_meaning_chance - 1.0 / 3.0).abs() < 1e-9);
        // clustered by language: each language on its own axis, the two
        // meanings slightly apart, translations crossed over
        let clustered = vec![
            vec![1.0, 0.0, 0.1],
            vec![0.0, 1.0, -0.1],
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.1],
        ];
        let r = analyze(&items, &clustered);
        assert_eq!(r.accuracy, 0.0);
        assert!(r.random_cosine > r.true_cosine);
        assert!(r.by_lang.iter().all(|l| l.sentences == 2));
    }

    #[test]
    fn parse_rejects_duplicates() {
        let ok = "{\"group\":\"g\",\"lang\":\"en\",\"text\":\"a\"}\n{\"group\":\"g\",\"lang\":\"es\",\"text\":\"b\"}";
        assert_eq!(parse_pairs(ok, "p").unwrap().len(), 2);
        let dup = "{\"group\":\"g\",\"lang\":\"en\",\"text\":\"a\"}\n{\"group\":\"g\",\"lang\":\"en\",\"text\":\"b\"}";
        assert!(parse_pairs(dup, "p").is_err());
    }
}
