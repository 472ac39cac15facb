//! Finding companies by name: folding, the words of a name, the index terms a name is filed
//! under, and what a search matches.
//!
//! A name is folded (lower case, no accents, compatibility forms to their plain letters and
//! digits: `São` → `sao`, `AÇOUGUE` → `acougue`, `1º` → `1o`, `ＡＢＣ` → `abc`, `ﬁ` → `fi`) and
//! split into words on anything that is not a letter or digit. It is filed under every prefix
//! of each of its words up to [`MAX_PREFIX_CHARS`] characters, and under the empty prefix (the
//! alphabetical list of all companies). Within a term, entries are ordered by the folded name,
//! then the id: their [`position`]. A search reads the term of its longest word (cut to
//! [`MAX_PREFIX_CHARS`]) and keeps the entries whose name has, for every query word, a word
//! starting with it.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::limits::{MAX_NAME_INDEX_TERMS, MAX_NAME_KEY_BYTES, MAX_QUERY_CHARS};

/// Longest prefix of a word that is an index term. Longer query words are looked up by their
/// first this many characters and checked against the whole name.
pub const MAX_PREFIX_CHARS: usize = 10;

/// Lower case without diacritics, compatibility characters as their plain forms (Unicode's
/// compatibility decomposition, NFKD): `Câmbio` → `cambio`, `2ª Vara` → `2a vara`, `１º` →
/// `1o`, `ﬁ` → `fi`, `m²` → `m2`.
///
/// Changing this changes the terms and positions names are filed under: the index entries of
/// names already written must then be rewritten (`companies-reindex`, see the README).
pub fn fold(text: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The folded words of `text`, split on anything that is not a letter or digit (after folding,
/// so a decomposed accent does not split a word).
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The folded name as it sorts: its words joined by `.`, which sorts below every letter and
/// digit, so that "sao joao" comes before "sao joao ltda" and before "saoa".
pub fn name_key(name: &str) -> String {
    key_of(&words(name))
}

/// The name key of a name whose folded words are `words`.
fn key_of(words: &[String]) -> String {
    words.join(".")
}

/// The words of a name key.
fn key_words(key: &str) -> impl Iterator<Item = &str> {
    key.split('.').filter(|w| !w.is_empty())
}

/// The first `n` characters of `word`.
fn head(word: &str, n: usize) -> &str {
    word.char_indices().nth(n).map_or(word, |(i, _)| &word[..i])
}

/// Every term `name` is filed under: the empty term and each prefix of each word, up to
/// [`MAX_PREFIX_CHARS`] characters.
pub fn index_terms(name: &str) -> BTreeSet<String> {
    terms_of(&words(name))
}

/// The terms of a name whose folded words are `words` (see [`index_terms`]).
pub fn terms_of(words: &[impl AsRef<str>]) -> BTreeSet<String> {
    let mut terms = BTreeSet::from([String::new()]);
    for word in words {
        let word = word.as_ref();
        for (n, _) in word.chars().enumerate().take(MAX_PREFIX_CHARS) {
            terms.insert(head(word, n + 1).to_owned());
        }
    }
    terms
}

/// Why a name cannot be filed: it has more index terms than one write can hold, or its folded
/// form is too long for a key (a few scripts and ligatures expand when folded: a Hangul
/// syllable becomes two or three letters, `ﷺ` eighteen).
pub fn check_indexable(name: &str) -> Result<(), String> {
    let words = words(name);
    let key = key_of(&words).len();
    if key > MAX_NAME_KEY_BYTES {
        return Err(format!(
            "is too long once folded for sorting and search ({key} bytes; at most \
             {MAX_NAME_KEY_BYTES}): some of its characters expand when folded; shorten it"
        ));
    }
    let terms = terms_of(&words).len();
    if terms > MAX_NAME_INDEX_TERMS {
        return Err(format!(
            "has too many distinct words to be searchable ({terms} word prefixes; at most \
             {MAX_NAME_INDEX_TERMS}): shorten it or use fewer distinct words"
        ));
    }
    Ok(())
}

/// Where an entry sorts within a term: the name key, a space (below `.` and every word
/// character) and the id. Byte order of positions is the order of (folded name, id).
pub fn position(name_key: &str, id: Uuid) -> String {
    format!("{name_key} {id}")
}

/// The name key and the id of a position.
pub fn split_position(position: &str) -> Option<(&str, Uuid)> {
    let (key, id) = position.rsplit_once(' ')?;
    Some((key, id.parse().ok()?))
}

/// What a listing by name returns: every company (`sort=name`) or those matching a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameQuery {
    All,
    Matching(Search),
}

impl NameQuery {
    /// The index term to read.
    pub fn term(&self) -> &str {
        match self {
            NameQuery::All => "",
            NameQuery::Matching(search) => search.term(),
        }
    }

    /// Whether a company with the name key `key` belongs in the listing.
    pub fn accepts(&self, key: &str) -> bool {
        match self {
            NameQuery::All => true,
            NameQuery::Matching(search) => search.matches(key),
        }
    }

    /// A text that identifies the listing, which its cursors are bound to.
    pub fn canonical(&self) -> String {
        match self {
            NameQuery::All => String::new(),
            NameQuery::Matching(search) => search.words.join(" "),
        }
    }
}

/// A search: the folded, distinct words of `q`, each of which must start some word of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    words: Vec<String>,
}

impl Search {
    /// Parses `q`: 1 to [`MAX_QUERY_CHARS`] characters with at least one letter or digit.
    pub fn parse(q: &str) -> Result<Self, String> {
        let chars = q.chars().count();
        if chars == 0 || chars > MAX_QUERY_CHARS {
            return Err(format!("must be 1 to {MAX_QUERY_CHARS} characters"));
        }
        let mut words: Vec<String> = words(q);
        if words.is_empty() {
            return Err("must contain at least one letter or digit".into());
        }
        // Longest first: the first word is the one whose term is read.
        words.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
        words.dedup();
        Ok(Search { words })
    }

    /// The term read: the longest query word, cut to [`MAX_PREFIX_CHARS`].
    pub fn term(&self) -> &str {
        self.words.first().map_or("", |w| head(w, MAX_PREFIX_CHARS))
    }

    /// Whether every query word starts some word of the name key `key`.
    pub fn matches(&self, key: &str) -> bool {
        self.words
            .iter()
            .all(|q| key_words(key).any(|w| w.starts_with(q.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_removes_every_portuguese_accent_and_case() {
        assert_eq!(
            fold("ÁÀÂÃÄ áàâãä ÉÈÊË éèêë ÍÌÎÏ íìîï ÓÒÔÕÖ óòôõö ÚÙÛÜ úùûü Çç Ññ"),
            "aaaaa aaaaa eeee eeee iiii iiii ooooo ooooo uuuu uuuu cc nn"
        );
        assert_eq!(fold("AÇOUGUE São João"), "acougue sao joao");
        // Decomposed input folds the same as composed input.
        assert_eq!(fold("Sa\u{303}o"), "sao");
        assert_eq!(words("Sa\u{303}o Joa\u{303}o"), ["sao", "joao"]);
    }

    #[test]
    fn compatibility_forms_fold_to_plain_letters_and_digits() {
        assert_eq!(
            words("Cartório do 1º Ofício"),
            ["cartorio", "do", "1o", "oficio"]
        );
        assert_eq!(words("2ª Vara Cível"), ["2a", "vara", "civel"]);
        assert_eq!(words("ＡＢＣ Ｌｔｄａ １２"), ["abc", "ltda", "12"]);
        assert_eq!(words("ﬁlial ﬂores"), ["filial", "flores"]);
        assert_eq!(words("Área 51 m²"), ["area", "51", "m2"]);
        // What a user types finds the name as written, and the other way round.
        let cartorio = name_key("Cartório do 1º Ofício de Notas");
        assert!(Search::parse("1o oficio").unwrap().matches(&cartorio));
        assert!(Search::parse("1º OFÍCIO").unwrap().matches(&cartorio));
        assert!(Search::parse("1ª").unwrap().matches(&name_key("1a Vara")));
        assert!(!Search::parse("2o").unwrap().matches(&cartorio));
    }

    #[test]
    fn a_name_too_long_once_folded_for_a_key_is_refused() {
        use crate::limits::MAX_NAME_CHARS;
        // The longest key a name can have without expanding: four bytes a letter.
        let widest = "𠀀".repeat(MAX_NAME_CHARS);
        assert_eq!(name_key(&widest).len(), MAX_NAME_KEY_BYTES);
        assert!(check_indexable(&widest).is_ok());
        // A Hangul syllable folds to two or three letters of three bytes each.
        let err = check_indexable(&"각".repeat(MAX_NAME_CHARS)).unwrap_err();
        assert!(err.contains("1350 bytes"), "{err}");
        assert!(check_indexable(&"각".repeat(20)).is_ok());
        // A ligature of eighteen letters and spaces.
        assert!(check_indexable(&"\u{fdfa}".repeat(40)).is_err());
    }

    #[test]
    fn words_split_on_anything_but_letters_and_digits() {
        assert_eq!(
            words("  Padaria São-João (Filial 2) LTDA.  "),
            ["padaria", "sao", "joao", "filial", "2", "ltda"]
        );
        assert_eq!(words("A.B.C"), ["a", "b", "c"]);
        assert!(words(" - / . ").is_empty());
        assert_eq!(name_key("Padaria São João Ltda"), "padaria.sao.joao.ltda");
    }

    #[test]
    fn a_name_is_filed_under_every_word_prefix_up_to_the_cap() {
        let terms = index_terms("Sao Sé Ltda");
        let expected: BTreeSet<String> = ["", "s", "sa", "sao", "se", "l", "lt", "ltd", "ltda"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(terms, expected);
        let long = index_terms("Paralelepipedos");
        assert!(long.contains("paralelepi") && !long.contains("paralelepip"));
        assert_eq!(long.len(), 1 + MAX_PREFIX_CHARS);
    }

    #[test]
    fn positions_sort_by_folded_name_then_id() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut positions = [
            position(&name_key("Sao Joao Ltda"), a),
            position(&name_key("Saoa"), a),
            position(&name_key("São João"), b),
            position(&name_key("Sao Joao"), a),
            position(&name_key("Sao 2"), a),
        ];
        positions.sort();
        let keys: Vec<_> = positions
            .iter()
            .map(|p| split_position(p).unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                ("sao.2", a),
                ("sao.joao", a),
                ("sao.joao", b),
                ("sao.joao.ltda", a),
                ("saoa", a)
            ]
        );
    }

    #[test]
    fn every_query_word_must_start_a_word_of_the_name() {
        let q = |text: &str| Search::parse(text).unwrap();
        let padaria = name_key("Padaria São João Ltda");
        let transportes = name_key("Transportes Sao Jose");
        let paulista = name_key("Padaria Paulista");
        assert!(q("sao jo").matches(&padaria) && q("sao jo").matches(&transportes));
        assert!(q("paul").matches(&paulista) && !q("paul").matches(&padaria));
        assert!(!q("ista").matches(&paulista));
        assert!(q("SÃO, joão!").matches(&padaria));
        assert!(!q("sao jose").matches(&padaria));
        // A query word longer than the term is checked whole.
        let long = q("paralelepipedo");
        assert_eq!(long.term(), "paralelepi");
        assert!(long.matches(&name_key("Paralelepipedos SA")));
        assert!(!long.matches(&name_key("Paralelepiped SA")));
    }

    #[test]
    fn the_longest_query_word_is_read() {
        assert_eq!(Search::parse("sao paulo jo").unwrap().term(), "paulo");
        assert_eq!(NameQuery::All.term(), "");
    }

    #[test]
    fn queries_are_bounded_and_need_a_word() {
        assert!(Search::parse("").is_err());
        assert!(Search::parse(" .,;- ").is_err());
        assert!(Search::parse(&"a".repeat(MAX_QUERY_CHARS)).is_ok());
        assert!(Search::parse(&"a".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }

    #[test]
    fn a_name_with_too_many_distinct_words_is_refused_with_its_count() {
        assert!(check_indexable(
            "Associação dos Moradores e Amigos do Bairro Jardim São Paulo e Adjacências de Campinas"
        )
        .is_ok());
        let many: Vec<String> = (0..40).map(|i| format!("w{i:02}xy")).collect();
        let err = check_indexable(&many.join(" ")).unwrap_err();
        assert!(err.contains("word prefixes"), "{err}");
    }
}
