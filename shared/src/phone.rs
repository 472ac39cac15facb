//! Phone numbers, normalised to E.164. A bare 10- or 11-digit number is Brazilian and gets `+55`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::bank_account::parsed_from_string;
use super::limits::MAX_CODE_TEXT_CHARS;

/// A phone number in E.164 form, e.g. `+5511978235674`. Read from anywhere (a client, the
/// table), it has gone through [`Phone::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Phone(String);

parsed_from_string!(Phone);

impl Phone {
    /// Parses digits with an optional leading `+`, spaces, parentheses and dashes.
    pub fn parse(input: &str) -> Result<Self, String> {
        let input = input.trim();
        if input.len() > MAX_CODE_TEXT_CHARS {
            return Err("is too long for a phone number".into());
        }
        let (international, rest) = match input.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        if international && !rest.starts_with(|c: char| c.is_ascii_digit() || c == ' ' || c == '(')
        {
            return Err("must have digits after the +".into());
        }
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '(' | ')' | '-' | '.' => {}
                _ => {
                    return Err(
                        "may hold only digits, a leading +, spaces, parentheses and dashes".into(),
                    )
                }
            }
        }
        let e164 = if international {
            digits
        } else if matches!(digits.len(), 10 | 11) {
            format!("55{digits}")
        } else if matches!(digits.len(), 12 | 13) && digits.starts_with("55") {
            digits
        } else {
            return Err("must be a Brazilian number with area code (10 or 11 digits) or an international number starting with +".into());
        };
        if !(8..=15).contains(&e164.len()) || e164.starts_with('0') {
            return Err("is not a valid international number (E.164 allows 8 to 15 digits)".into());
        }
        if let Some(national) = e164.strip_prefix("55") {
            let valid_area = national.len() >= 2 && !national[..2].contains('0');
            if !matches!(national.len(), 10 | 11) || !valid_area {
                return Err("is not a valid Brazilian number: expected a 2-digit area code and 8 or 9 digits".into());
            }
        }
        Ok(Phone(format!("+{e164}")))
    }

    /// Accepts a JSON integer, as the original service did.
    pub fn from_integer(n: u64) -> Result<Self, String> {
        Self::parse(&n.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        Phone::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .to_string()
    }

    #[test]
    fn normalises_brazilian_numbers_to_e164() {
        assert_eq!(ok("11978235674"), "+5511978235674");
        assert_eq!(ok("(11) 97823-5674"), "+5511978235674");
        assert_eq!(ok("1132345678"), "+551132345678");
        assert_eq!(ok("+55 11 97823-5674"), "+5511978235674");
        assert_eq!(ok("5511978235674"), "+5511978235674");
        assert_eq!(
            Phone::from_integer(11978235674).unwrap().as_str(),
            "+5511978235674"
        );
    }

    #[test]
    fn keeps_international_numbers() {
        assert_eq!(ok("+1 (415) 555-2671"), "+14155552671");
        assert_eq!(ok("+44 20 7946 0958"), "+442079460958");
    }

    #[test]
    fn rejects_what_is_not_a_phone_number() {
        for bad in [
            "",
            "abc",
            "12345",
            "978235674",
            "+1234567",
            "+1234567890123456",
            "+55 11 9782",
            "+55 01 97823-5674",
            "0011978235674",
            "11 97823-5674 ext 2",
            "+-11978235674",
            "1197823567４",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
