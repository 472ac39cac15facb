//! CNPJ, the Brazilian company tax id, including the 2026 alphanumeric form: twelve characters
//! of `0-9A-Z` (each worth its ASCII code minus 48) followed by two mod-11 check digits.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::bank_account::parsed_from_string;
use super::limits::MAX_CODE_TEXT_CHARS;

/// A CNPJ whose check digits are correct, held as 14 characters without punctuation. Read from
/// anywhere (a client, the table), it has gone through [`Cnpj::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Cnpj(String);

parsed_from_string!(Cnpj);

const FIRST_WEIGHTS: [u32; 12] = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const SECOND_WEIGHTS: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

fn check_digit(chars: &[u8], weights: &[u32]) -> u8 {
    let sum: u32 = chars
        .iter()
        .zip(weights)
        .map(|(&c, &w)| u32::from(c - b'0') * w)
        .sum();
    let rest = sum % 11;
    // `rest` < 11, so the digit fits in a u8.
    let digit = if rest < 2 { 0 } else { 11 - rest };
    b'0' + digit as u8
}

impl Cnpj {
    /// Parses a CNPJ, accepting the usual punctuation (`.`, `/`, `-`, spaces) and lower-case letters.
    pub fn parse(input: &str) -> Result<Self, String> {
        if input.len() > MAX_CODE_TEXT_CHARS {
            return Err("must have 14 characters".into());
        }
        let mut chars: Vec<u8> = Vec::with_capacity(14);
        for c in input.bytes() {
            match c {
                b'.' | b'/' | b'-' | b' ' => {}
                b'0'..=b'9' | b'A'..=b'Z' => chars.push(c),
                b'a'..=b'z' => chars.push(c.to_ascii_uppercase()),
                _ => return Err("may hold only digits, letters and the punctuation . / -".into()),
            }
        }
        if chars.len() != 14 {
            return Err("must have 14 characters (12 digits or letters and 2 check digits)".into());
        }
        if !chars[12..].iter().all(u8::is_ascii_digit) {
            return Err("must end in two check digits".into());
        }
        if chars.iter().all(|&c| c == chars[0]) {
            return Err("is not a valid CNPJ".into());
        }
        let first = check_digit(&chars[..12], &FIRST_WEIGHTS);
        let second = check_digit(&chars[..13], &SECOND_WEIGHTS);
        if chars[12] != first || chars[13] != second {
            return Err("has wrong check digits".into());
        }
        // Every byte is ASCII by construction.
        Ok(Cnpj(chars.iter().map(|&c| char::from(c)).collect()))
    }

    /// The 14 characters, without punctuation.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form safe for logs: everything but the last four characters hidden.
    pub fn masked(&self) -> String {
        super::mask(&self.0)
    }
}

impl fmt::Display for Cnpj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_real_cnpj_in_the_bank_registry() {
        let mut seen = 0;
        for bank in crate::banks::all() {
            let cnpj = Cnpj::parse(bank.cnpj).unwrap_or_else(|e| panic!("{}: {e}", bank.cnpj));
            let digits: String = bank.cnpj.chars().filter(char::is_ascii_digit).collect();
            assert_eq!(cnpj.as_str(), digits);
            seen += 1;
        }
        assert_eq!(seen, 511);
    }

    #[test]
    fn accepts_the_alphanumeric_example() {
        assert_eq!(
            Cnpj::parse("12.ABC.345/01DE-35").unwrap().as_str(),
            "12ABC34501DE35"
        );
        assert_eq!(
            Cnpj::parse("12abc34501de35").unwrap().as_str(),
            "12ABC34501DE35"
        );
    }

    #[test]
    fn rejects_wrong_check_digits_in_either_position() {
        for bad in [
            "60746948000113",
            "60746948000102",
            "12.ABC.345/01DE-36",
            "12ABC34501DE45",
        ] {
            assert_eq!(
                Cnpj::parse(bad).unwrap_err(),
                "has wrong check digits",
                "{bad}"
            );
        }
        // Changing any one body character of a valid CNPJ breaks its check digits.
        let good = "60746948000112";
        for i in 0..12 {
            let mut s = good.as_bytes().to_vec();
            s[i] = if s[i] == b'9' { b'0' } else { s[i] + 1 };
            let s = String::from_utf8(s).unwrap();
            assert!(Cnpj::parse(&s).is_err(), "{s}");
        }
    }

    #[test]
    fn rejects_bad_shapes() {
        for bad in [
            "",
            "6074694800011",
            "607469480001120",
            "12ABC34501DEAB",
            "60746948000112!",
            "00000000000000",
            "11111111111111",
            "6074694800011２",
        ] {
            assert!(Cnpj::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_stored_cnpj_with_wrong_check_digits_cannot_be_read() {
        assert!(serde_json::from_str::<Cnpj>("\"60746948000113\"").is_err());
        let ok: Cnpj = serde_json::from_str("\"60746948000112\"").unwrap();
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"60746948000112\"");
    }

    #[test]
    fn masks_all_but_the_last_four() {
        assert_eq!(
            Cnpj::parse("60746948000112").unwrap().masked(),
            "**********0112"
        );
    }
}
