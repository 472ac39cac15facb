//! Postal addresses. Brazilian ones (the default) must carry a valid UF and an 8-digit CEP.

use serde::{Deserialize, Serialize};

/// The 27 federative units of Brazil.
pub const UFS: [&str; 27] = [
    "AC", "AL", "AM", "AP", "BA", "CE", "DF", "ES", "GO", "MA", "MG", "MS", "MT", "PA", "PB", "PE",
    "PI", "PR", "RJ", "RN", "RO", "RR", "RS", "SC", "SE", "SP", "TO",
];

/// A validated address. Built only by [`crate::model::input`] or read back from the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street: String,
    pub number: Option<String>,
    pub complement: Option<String>,
    pub district: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

/// Validates a UF (case-insensitive) and returns it upper-cased.
pub fn parse_uf(s: &str) -> Result<String, String> {
    let up = s.trim().to_ascii_uppercase();
    if UFS.contains(&up.as_str()) {
        Ok(up)
    } else {
        Err("must be a Brazilian state code (UF) such as \"SP\"".into())
    }
}

/// Validates a CEP (`01310-100` or `01310100`) and returns its 8 digits.
pub fn parse_cep(s: &str) -> Result<String, String> {
    let s = s.trim();
    let digits: String = s.chars().filter(|c| *c != '-' && *c != '.').collect();
    if s.len() <= 10 && digits.len() == 8 && digits.bytes().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err("must be a CEP of 8 digits such as \"01310-100\"".into())
    }
}

/// Validates an ISO 3166-1 alpha-2 country code (case-insensitive) and returns it upper-cased.
pub fn parse_country(s: &str) -> Result<String, String> {
    let up = s.trim().to_ascii_uppercase();
    if up.len() == 2 && up.bytes().all(|c| c.is_ascii_uppercase()) {
        Ok(up)
    } else {
        Err("must be a two-letter ISO 3166-1 country code such as \"BR\"".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uf_is_one_of_the_27() {
        assert_eq!(parse_uf("sp").unwrap(), "SP");
        assert_eq!(parse_uf("DF").unwrap(), "DF");
        assert!(parse_uf("XX").is_err());
        assert!(parse_uf("São Paulo").is_err());
        assert!(parse_uf("").is_err());
    }

    #[test]
    fn cep_has_eight_digits() {
        assert_eq!(parse_cep("01310-100").unwrap(), "01310100");
        assert_eq!(parse_cep("01310100").unwrap(), "01310100");
        assert!(parse_cep("1310-100").is_err());
        assert!(parse_cep("01310-1000").is_err());
        assert!(parse_cep("0131O-100").is_err());
    }

    #[test]
    fn country_is_two_letters() {
        assert_eq!(parse_country("br").unwrap(), "BR");
        assert!(parse_country("BRA").is_err());
        assert!(parse_country("B1").is_err());
    }
}
