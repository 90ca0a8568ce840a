//! Language tags and a small, dependency-free language detector.
//!
//! The detector decides by script first (Han/Kana, Hangul, Arabic, Cyrillic,
//! Devanagari, ...) and, for Latin-script text, by counting common function
//! words of about twenty languages. It is meant as a fallback for pages that
//! do not declare their language, and to tell a site which language its
//! readers search in (the wasm `Engine.queryLanguage`), not as a
//! general-purpose classifier: it answers `None` rather than guess on short
//! or ambiguous text. Shared by the native indexer and the wasm runtime.

use crate::script::{script_of, Script, SCRIPTS};

/// Whether `code` (lowercase primary subtag) is a language this crate knows.
#[cfg(not(target_arch = "wasm32"))]
pub fn is_known(code: &str) -> bool {
    crate::script::KNOWN_LANGUAGES.contains(&code)
}

/// The primary subtag of a BCP-47 tag, lowercased and with deprecated codes
/// mapped (`iw` → `he`, `in` → `id`, `ji` → `yi`, `jw` → `jv`).
/// `None` for empty tags, private-use tags (`x-...`) and the "no language"
/// codes `und`, `mul`, `zxx`, `mis`.
#[cfg(not(target_arch = "wasm32"))]
pub fn normalize_tag(tag: &str) -> Option<String> {
    let tag = tag.trim();
    let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let primary = match primary.as_str() {
        "und" | "mul" | "zxx" | "mis" => return None,
        "iw" => "he".to_string(),
        "in" => "id".to_string(),
        "ji" => "yi".to_string(),
        "jw" => "jv".to_string(),
        _ => primary,
    };
    Some(primary)
}

/// A declared language tag (`<html lang>`, front matter `lang`, a JSONL
/// `lang` field) checked: the language to use, and what is odd about the
/// tag, to warn about. A tag whose primary subtag is not a language this
/// crate knows (`zz`, `xx-INVALID`), an empty tag and a tag that is no
/// language tag at all give no language: the caller falls back to the path
/// or to detection, and says so. A known language with malformed subtags
/// (`en-!!`) is used, with a warning.
#[cfg(not(target_arch = "wasm32"))]
pub fn check_tag(tag: &str) -> (Option<String>, Option<String>) {
    let t = tag.trim();
    if t.is_empty() {
        return (None, Some("is empty".into()));
    }
    let Some(code) = normalize_tag(t) else {
        return (None, Some("is not a language tag".into()));
    };
    if !is_known(&code) {
        return (
            None,
            Some(format!("names `{code}`, not a language crossfind knows")),
        );
    }
    let odd = t.split(['-', '_']).skip(1).any(|sub| {
        sub.is_empty() || sub.len() > 8 || !sub.chars().all(|c| c.is_ascii_alphanumeric())
    });
    let problem = odd.then(|| format!("is not a well-formed language tag; using `{code}`"));
    (Some(code), problem)
}

/// The language of a URL path segment like `es`, `pt-br`, `zh_Hans` or
/// `en-US`, if its primary subtag is a known language and the other subtags
/// look like regions or scripts.
#[cfg(not(target_arch = "wasm32"))]
pub fn segment_language(segment: &str) -> Option<String> {
    let mut parts = segment.split(['-', '_']);
    let primary = parts.next()?;
    if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    for sub in parts {
        if !(2..=4).contains(&sub.len()) || !sub.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
    }
    let code = normalize_tag(primary)?;
    is_known(&code).then_some(code)
}

/// The first directory segment of a site-relative path that names a
/// language (`/docs/pt-br/setup.html` → `pt`). The file name itself is not
/// considered.
#[cfg(not(target_arch = "wasm32"))]
pub fn path_language(rel_path: &str) -> Option<String> {
    let mut segments: Vec<&str> = rel_path.split('/').filter(|s| !s.is_empty()).collect();
    segments.pop();
    segments.into_iter().find_map(segment_language)
}

// -------------------------------------------------------------- detection

/// The script of a letter (digits and punctuation inside a script's block
/// say little about the language, so they count for none).
fn letter_script(c: char) -> Option<Script> {
    script_of(c).filter(|&s| c.is_alphabetic() || s == Script::Kana)
}

/// The language of `text`, or `None` when the text is too short or too
/// ambiguous to tell. Returns a lowercase ISO 639-1 code.
pub fn detect_language(text: &str) -> Option<&'static str> {
    // A long page says what it has to say in its first pages of text.
    let text = match text.char_indices().nth(20_000) {
        Some((cut, _)) => &text[..cut],
        None => text,
    };
    let mut counts = [0usize; SCRIPTS.len()];
    for c in text.chars() {
        if let Some(s) = letter_script(c) {
            counts[s as usize] += 1;
        }
    }
    // One CJK or Hangul character carries about as much as two or three
    // Latin letters.
    let weight = |s: Script| match s {
        Script::Han | Script::Kana | Script::Hangul => 3,
        _ => 1,
    };
    let cjk = counts[Script::Han as usize] + counts[Script::Kana as usize];
    let mut best = (Script::Latin, 0usize);
    for s in SCRIPTS {
        let n = match s {
            Script::Han | Script::Kana => cjk * weight(s),
            _ => counts[s as usize] * weight(s),
        };
        if n > best.1 {
            best = (s, n);
        }
    }
    let (script, score) = best;
    if score == 0 {
        return None;
    }
    if script != Script::Latin && score < 6 {
        return None;
    }
    let share = |c: usize, of: usize| c as f64 / of.max(1) as f64;
    Some(match script {
        Script::Latin => return detect_latin(text),
        Script::Han | Script::Kana => {
            let kana = counts[Script::Kana as usize];
            if kana >= 2 && share(kana, cjk) >= 0.05 {
                "ja"
            } else {
                "zh"
            }
        }
        Script::Hangul => "ko",
        Script::Arabic => arabic_language(text, counts[Script::Arabic as usize]),
        Script::Cyrillic => cyrillic_language(text, counts[Script::Cyrillic as usize]),
        Script::Greek => "el",
        Script::Armenian => "hy",
        Script::Hebrew => "he",
        Script::Devanagari => "hi",
        Script::Bengali => "bn",
        Script::Gurmukhi => "pa",
        Script::Gujarati => "gu",
        Script::Oriya => "or",
        Script::Tamil => "ta",
        Script::Telugu => "te",
        Script::Kannada => "kn",
        Script::Malayalam => "ml",
        Script::Sinhala => "si",
        Script::Thai => "th",
        Script::Lao => "lo",
        Script::Tibetan => "bo",
        Script::Myanmar => "my",
        Script::Georgian => "ka",
        Script::Ethiopic => "am",
        Script::Khmer => "km",
    })
}

fn arabic_language(text: &str, total: usize) -> &'static str {
    let count = |set: &str| text.chars().filter(|c| set.contains(*c)).count();
    // Letters Urdu uses and Arabic/Persian do not.
    let urdu = count("ٹڈڑںےۓ");
    // Letters Persian (and Urdu) use and Arabic does not.
    let persian = count("پچژگکی");
    let ta_marbuta = count("ة");
    let share = |n: usize| n as f64 / total.max(1) as f64;
    if share(urdu) >= 0.01 {
        "ur"
    } else if share(persian) >= 0.02 && share(ta_marbuta) < 0.005 {
        "fa"
    } else {
        "ar"
    }
}

fn cyrillic_language(text: &str, total: usize) -> &'static str {
    let count = |set: &str| text.chars().filter(|c| set.contains(*c)).count();
    let share = |n: usize| n as f64 / total.max(1) as f64;
    if share(count("іїєґІЇЄҐ")) >= 0.01 {
        "uk"
    } else if share(count("ђјљњћџЂЈЉЊЋЏ")) >= 0.01 {
        "sr"
    } else if count("ыэЫЭ") == 0 && share(count("ъЪ")) >= 0.005 {
        "bg"
    } else {
        "ru"
    }
}

/// Common function words per language; each occurrence of a word in the
/// text adds one point to every language listing it.
const STOPWORDS: &[(&str, &str)] = &[
    ("en", "the and of to is in that it for you your with on are this be as at by from or an have not can will if we was which there their when what how do does after before then these they"),
    ("es", "el la los las de del y en que es un una por con para su sus se lo al más como pero este esta si ya puedes tu tus o está son también cuando hay desde sin sobre entre usted"),
    ("fr", "le la les de des du et en un une est que qui dans pour pas sur au aux avec ce cette vous votre vos il elle ne se sont plus par ou mais nous si être peut été"),
    ("de", "der die das und ist nicht ein eine einen zu den dem mit von auf für sie es sich im auch wird werden oder wenn sind bei aus nach noch wie kann ihr ihre ihren dann diese können"),
    ("pt", "o a os as de do da dos das e em no na nos nas um uma que é não para com por se seu sua seus mais como ao você pode ou está são também quando isso este esta"),
    ("it", "il lo la gli le di del della e è un una che non per con in sono si da al alla anche come più questo questa ma se può nel nella dei delle essere tuo tua"),
    ("nl", "de het een en van is dat niet op te in voor met zijn je jouw u uw ook als er maar om aan bij dit wordt kan naar of worden deze wat hoe"),
    ("sv", "och att det som en ett är på för med av inte den till har du din ditt om kan eller jag vi de sig men från när så vara ska"),
    ("da", "og at det som en et er på for med af ikke den til har du din dit om kan eller jeg vi de sig men fra når så være skal også hvis"),
    ("nb", "og å det som en et er på for med av ikke den til har du din ditt om kan eller jeg vi de seg men fra når så være skal også hvis"),
    ("fi", "ja on ei se että hän oli olla kun mutta tai jos niin kuin myös sinun voit tämä ovat ole vain joka mitä sen siitä kanssa voi"),
    ("pl", "i w z na się nie do to że jest o jak ale po co tak od za czy lub są może aby ten ta jeśli przez dla twoje twój"),
    ("cs", "a se na je v že to s z do o jako ale pro by jsou nebo když tak jeho které který jak není můžete vaše váš k po od"),
    ("ro", "și în de la cu pe nu un o este că se care sunt din pentru mai sau ca dacă dar al ale poate acest această vă"),
    ("hu", "a az és hogy nem is egy meg van ez csak de el ha már mint vagy kell volt még lehet ki be után"),
    ("tr", "ve bir bu da de için ile ne olarak çok daha gibi veya ama sonra kadar olan değil var şu her ya mi eğer tüm"),
    ("id", "yang dan di ke dari ini itu untuk dengan tidak ada akan atau pada juga dalam anda bisa dapat kami jika sudah oleh saat"),
    ("sw", "na ya wa kwa ni za la katika kuwa hii hiyo au cha vya kama lakini pia yako wako kisha baada kabla ili sana bila kutoka tu zaidi ambayo"),
    ("vi", "và của là các có được không này cho với một những để trong người khi bạn từ đã sẽ theo nếu hoặc thì cũng"),
];

/// Letters that only (or mostly) one Latin-script language uses.
const DIACRITIC_HINTS: &[(&str, &str)] = &[
    ("es", "ñ¿¡"),
    ("pt", "ãõ"),
    ("de", "ß"),
    ("pl", "łżśźćńąę"),
    ("cs", "řůě"),
    ("tr", "ğşı"),
    ("ro", "șță"),
    ("hu", "őű"),
    ("vi", "đạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹơư"),
];

fn detect_latin(text: &str) -> Option<&'static str> {
    let mut scores = vec![0usize; STOPWORDS.len()];
    let mut words = 0usize;
    for word in text
        .split(|c: char| !(c.is_alphabetic() || c == '\''))
        .filter(|w| !w.is_empty())
    {
        words += 1;
        let lower = word.to_lowercase();
        for (i, (_, list)) in STOPWORDS.iter().enumerate() {
            if list.split(' ').any(|w| w == lower) {
                scores[i] += 1;
            }
        }
    }
    for c in text.chars().flat_map(char::to_lowercase) {
        for (lang, letters) in DIACRITIC_HINTS {
            if letters.contains(c) {
                if let Some(i) = STOPWORDS.iter().position(|(l, _)| l == lang) {
                    scores[i] += 1;
                }
            }
        }
    }
    if words < 3 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(scores[i]));
    let (best, second) = (scores[order[0]], scores[order[1]]);
    // Enough evidence, and a clear winner.
    if best < 2 || best == second {
        return None;
    }
    Some(STOPWORDS[order[0]].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_language_names_its_scripts() {
        // a site in a language missing here would keep the whole row table offline
        for lang in crate::script::KNOWN_LANGUAGES {
            assert!(crate::script::scripts_of_language(lang).is_some(), "{lang}");
        }
    }

    #[test]
    fn declared_tags_that_are_odd_say_why() {
        assert_eq!(check_tag("es-MX"), (Some("es".into()), None));
        assert_eq!(check_tag("zh_Hant_TW"), (Some("zh".into()), None));
        assert_eq!(check_tag("iw"), (Some("he".into()), None));
        for bad in ["xx-INVALID", "zz", "", "  ", "und", "123", "english"] {
            let (lang, why) = check_tag(bad);
            assert!(lang.is_none() && why.is_some(), "{bad:?}");
        }
        let (lang, why) = check_tag("en-!!");
        assert_eq!(lang.as_deref(), Some("en"));
        assert!(why.unwrap().contains("not a well-formed"));
    }

    #[test]
    fn tags_normalise_to_primary_subtag() {
        assert_eq!(normalize_tag("pt-BR").as_deref(), Some("pt"));
        assert_eq!(normalize_tag(" zh_Hant ").as_deref(), Some("zh"));
        assert_eq!(normalize_tag("EN").as_deref(), Some("en"));
        assert_eq!(normalize_tag("iw").as_deref(), Some("he"));
        assert_eq!(normalize_tag("x-default"), None);
        assert_eq!(normalize_tag("und"), None);
        assert_eq!(normalize_tag(""), None);
    }

    #[test]
    fn path_language_uses_first_language_directory() {
        assert_eq!(path_language("es/reset.html").as_deref(), Some("es"));
        assert_eq!(
            path_language("/docs/pt-br/setup.html").as_deref(),
            Some("pt")
        );
        assert_eq!(path_language("zh_Hans/a/b.html").as_deref(), Some("zh"));
        assert_eq!(path_language("guides/setup.html"), None);
        assert_eq!(path_language("es.html"), None);
        assert_eq!(path_language("assets/img/x.html"), None);
    }

    #[test]
    fn detects_languages_by_script() {
        assert_eq!(
            detect_language("パスワードを再設定するには、設定を開きます。"),
            Some("ja")
        );
        assert_eq!(detect_language("要重置密码，请打开设置页面。"), Some("zh"));
        assert_eq!(
            detect_language("비밀번호를 재설정하려면 설정을 여세요."),
            Some("ko")
        );
        assert_eq!(
            detect_language("نسيت كلمة المرور؟ لا داعي للقلق."),
            Some("ar")
        );
        assert_eq!(
            detect_language("پاسخ به این پرسش را پیدا کنید و گزینه را انتخاب کنید"),
            Some("fa")
        );
        assert_eq!(detect_language("पासवर्ड भूल गए? कोई बात नहीं।"), Some("hi"));
        assert_eq!(
            detect_language("Забыли пароль? Ничего страшного, мы поможем."),
            Some("ru")
        );
        assert_eq!(
            detect_language("Забули пароль? Нічого страшного, відкрийте її."),
            Some("uk")
        );
        assert_eq!(
            detect_language("Ξεχάσατε τον κωδικό πρόσβασης;"),
            Some("el")
        );
    }

    #[test]
    fn detects_latin_languages_by_function_words() {
        let cases = [
            ("en", "If you forgot your password, you can ask for a reset link by email."),
            ("es", "Si olvidaste tu contraseña, puedes pedir un enlace para restablecerla por correo."),
            ("fr", "Si vous avez oublié votre mot de passe, vous pouvez demander un lien par e-mail."),
            ("de", "Wenn Sie Ihr Passwort vergessen haben, können Sie einen Link per E-Mail anfordern."),
            ("pt", "Se você esqueceu a sua senha, pode pedir um link de redefinição por e-mail."),
            ("sw", "Ikiwa umesahau nenosiri lako, unaweza kuomba kiungo kwa barua pepe na kisha ufuate hatua."),
            ("it", "Se hai dimenticato la password, puoi chiedere un link per reimpostarla con la tua email."),
            ("nl", "Als je je wachtwoord bent vergeten, kun je een link aanvragen via e-mail."),
        ];
        for (lang, text) in cases {
            assert_eq!(detect_language(text), Some(lang), "{text}");
        }
    }

    #[test]
    fn detection_declines_short_or_empty_text() {
        assert_eq!(detect_language(""), None);
        assert_eq!(detect_language("Kitebook"), None);
        assert_eq!(detect_language("42 — 17"), None);
        assert_eq!(detect_language("API"), None);
    }
}
