//! The Brazilian bank registry (COMPE participants), embedded at build time from
//! `shared/data/banks.csv` and parsed once on first use.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Serialize;

/// One participant of the central bank's COMPE clearing system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bank {
    /// Three-digit COMPE code, e.g. `"001"`.
    pub code: String,
    /// Eight-digit ISPB code.
    pub ispb: String,
    /// Registered CNPJ, punctuated as published.
    #[serde(skip)]
    pub cnpj: String,
    /// Full legal name.
    pub name: String,
    /// Abbreviated name as published by the central bank.
    pub short_name: String,
}

pub use crate::model::search::fold;

const BANKS_CSV: &str = include_str!("../data/banks.csv");

#[derive(serde::Deserialize)]
struct Row {
    compe: String,
    ispb: String,
    cnpj: String,
    long_name: String,
    short_name: String,
}

static REGISTRY: LazyLock<BTreeMap<String, Bank>> = LazyLock::new(|| {
    csv::Reader::from_reader(BANKS_CSV.as_bytes())
        .deserialize::<Row>()
        // The file is embedded and checked by a test; a malformed row can only come from a bad
        // commit, and skipping it is safer than failing every request.
        .filter_map(Result::ok)
        .map(|r| {
            let bank = Bank {
                code: r.compe.trim().to_owned(),
                ispb: r.ispb.trim().to_owned(),
                cnpj: r.cnpj.trim().to_owned(),
                name: r.long_name.trim().to_owned(),
                short_name: r.short_name.trim().to_owned(),
            };
            (bank.code.clone(), bank)
        })
        .collect()
});

/// Looks a bank up by its three-digit COMPE code.
pub fn by_code(code: &str) -> Option<&'static Bank> {
    REGISTRY.get(code)
}

/// Both names of every bank folded for search, built on the first search only, so functions
/// that never search carry no Unicode tables.
static FOLDED_NAMES: LazyLock<BTreeMap<&'static str, String>> = LazyLock::new(|| {
    REGISTRY
        .values()
        .map(|b| {
            (
                b.code.as_str(),
                format!("{} {}", fold(&b.name), fold(&b.short_name)),
            )
        })
        .collect()
});

/// Banks whose code or ISPB starts with `query`, or whose name contains it (ignoring case and
/// accents): the bank with exactly that code first, then the others by code.
pub fn search(query: &str) -> Vec<&'static Bank> {
    let folded = fold(query.trim());
    let digits = !folded.is_empty() && folded.bytes().all(|c| c.is_ascii_digit());
    let mut found: Vec<&Bank> = REGISTRY
        .values()
        .filter(|b| {
            (digits && (b.code.starts_with(&folded) || b.ispb.starts_with(&folded)))
                || FOLDED_NAMES
                    .get(b.code.as_str())
                    .is_some_and(|n| n.contains(&folded))
        })
        .collect();
    found.sort_by_key(|b| b.code != folded);
    found
}

/// Every bank, ordered by code.
pub fn all() -> impl Iterator<Item = &'static Bank> {
    REGISTRY.values()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_holds_every_row_of_the_embedded_csv() {
        let rows = BANKS_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count();
        assert_eq!(all().count(), rows);
        assert_eq!(rows, 511);
    }

    #[test]
    fn looks_banks_up_by_code_including_quoted_names() {
        assert_eq!(
            by_code("336").map(|b| b.name.as_str()),
            Some("Banco C6 S.A.")
        );
        assert_eq!(by_code("001").map(|b| b.ispb.as_str()), Some("00000000"));
        let ubs = by_code("015").map(|b| b.name.as_str());
        assert_eq!(
            ubs,
            Some("UBS BB CORRETORA DE CÂMBIO, TÍTULOS E VALORES MOBILIÁRIOS S.A.")
        );
        assert!(by_code("999").is_none());
        assert!(by_code("1").is_none());
    }

    #[test]
    fn search_matches_code_ispb_and_names_ignoring_case_and_accents() {
        let codes = |q: &str| {
            search(q)
                .iter()
                .map(|b| b.code.as_str())
                .collect::<Vec<_>>()
        };
        let c6 = codes("336");
        assert_eq!(c6[0], "336", "the exact code comes first");
        assert!(c6[1..]
            .iter()
            .all(|c| by_code(c).unwrap().ispb.starts_with("336")));
        assert!(codes("00").contains(&"001"), "code prefix");
        assert!(codes("00000000").contains(&"001"), "ISPB");
        assert!(codes("AMAZONIA").contains(&"003"), "case-insensitive");
        assert!(codes("amazônia").contains(&"003"), "accent-insensitive");
        assert!(codes("cambio, titulos").contains(&"015"));
        assert!(codes("no such bank anywhere").is_empty());
        assert_eq!(fold("Crédito Câmbio ÇÃO"), "credito cambio cao");
    }

    #[test]
    fn every_code_is_three_digits_and_every_ispb_eight() {
        for b in all() {
            assert!(
                b.code.len() == 3 && b.code.bytes().all(|c| c.is_ascii_digit()),
                "{b:?}"
            );
            assert!(
                b.ispb.len() == 8 && b.ispb.bytes().all(|c| c.is_ascii_digit()),
                "{b:?}"
            );
        }
    }
}
