//! Bank accounts: a registered bank (COMPE code), an agency and an account number.

use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

use super::banks;
use super::limits::{MAX_ACCOUNT_DIGITS, MAX_AGENCY_DIGITS};

/// Value types read from anywhere (a client, the table) go through their `parse`.
macro_rules! parsed_from_string {
    ($($t:ty),*) => {$(
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                <$t>::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
    )*};
}
pub(crate) use parsed_from_string;

parsed_from_string!(BankCode, Agency, AccountNumber);

/// A three-digit COMPE code present in the embedded registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct BankCode(String);

impl BankCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() != 3 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err("must be a 3-digit COMPE code such as \"001\"".into());
        }
        if banks::by_code(s).is_none() {
            return Err(format!("{s} is not a bank in the Brazilian bank registry"));
        }
        Ok(BankCode(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The registered name of the bank (empty only if the registry lost the code).
    pub fn name(&self) -> &'static str {
        banks::by_code(&self.0).map_or("", |b| b.name)
    }
}

/// Digits with an optional `-` and check digit (`0-9` or `X`), such as `1290-0` or `12345-X`.
fn parse_digits_with_check(s: &str, max_digits: usize, what: &str) -> Result<String, String> {
    let s = s.to_ascii_uppercase();
    let (base, check) = match s.split_once('-') {
        Some((base, check)) => (base, Some(check)),
        None => (s.as_str(), None),
    };
    let base_ok =
        (1..=max_digits).contains(&base.len()) && base.bytes().all(|c| c.is_ascii_digit());
    let check_ok =
        check.is_none_or(|c| c.len() == 1 && c.bytes().all(|c| c.is_ascii_digit() || c == b'X'));
    if base_ok && check_ok {
        Ok(s)
    } else {
        Err(format!(
            "must be 1 to {max_digits} digits with an optional dash and check digit, such as {what}"
        ))
    }
}

/// A branch (agência) number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Agency(String);

impl Agency {
    pub fn parse(s: &str) -> Result<Self, String> {
        parse_digits_with_check(s, MAX_AGENCY_DIGITS, "\"1290-0\"").map(Agency)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An account number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct AccountNumber(String);

impl AccountNumber {
    pub fn parse(s: &str) -> Result<Self, String> {
        parse_digits_with_check(s, MAX_ACCOUNT_DIGITS, "\"12345-6\"").map(AccountNumber)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form safe for logs: everything but the last four characters hidden.
    pub fn masked(&self) -> String {
        super::mask(&self.0)
    }
}

/// The account fields a client gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccountInput {
    pub bank_code: BankCode,
    pub agency: Agency,
    pub account_number: AccountNumber,
}

/// Identity of an account for duplicate detection: bank, agency and account with leading zeros
/// of the numeric part dropped, so `0001` and `1` are the same agency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey(String, String, String);

fn canonical(s: &str) -> String {
    let (base, check) = s.split_once('-').unwrap_or((s, ""));
    let base = base.trim_start_matches('0');
    format!("{}-{check}", if base.is_empty() { "0" } else { base })
}

impl BankAccountInput {
    pub fn key(&self) -> AccountKey {
        AccountKey(
            self.bank_code.0.clone(),
            canonical(&self.agency.0),
            canonical(&self.account_number.0),
        )
    }
}

/// A stored account: the client's fields plus a server-assigned id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccount {
    pub id: Uuid,
    pub bank_code: BankCode,
    pub agency: Agency,
    pub account_number: AccountNumber,
}

impl BankAccount {
    pub fn from_input(id: Uuid, input: &BankAccountInput) -> Self {
        BankAccount {
            id,
            bank_code: input.bank_code.clone(),
            agency: input.agency.clone(),
            account_number: input.account_number.clone(),
        }
    }

    /// The client-writable fields as a JSON document, the target of a merge patch.
    pub fn to_document(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut doc = serde_json::Map::new();
        doc.insert("bank_code".into(), self.bank_code.as_str().into());
        doc.insert("agency".into(), self.agency.as_str().into());
        doc.insert("account_number".into(), self.account_number.as_str().into());
        doc
    }

    pub fn input(&self) -> BankAccountInput {
        BankAccountInput {
            bank_code: self.bank_code.clone(),
            agency: self.agency.clone(),
            account_number: self.account_number.clone(),
        }
    }

    pub fn key(&self) -> AccountKey {
        self.input().key()
    }
}

#[derive(Serialize)]
struct BankRef<'a> {
    code: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct BankAccountView<'a> {
    id: &'a Uuid,
    agency: &'a str,
    account_number: &'a str,
    bank: BankRef<'a>,
}

/// The API shape: `{id, agency, account_number, bank: {code, name}}`.
impl Serialize for BankAccount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        BankAccountView {
            id: &self.id,
            agency: self.agency.as_str(),
            account_number: self.account_number.as_str(),
            bank: BankRef {
                code: self.bank_code.as_str(),
                name: self.bank_code.name(),
            },
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bank_code_must_be_registered() {
        assert_eq!(BankCode::parse("336").unwrap().name(), "Banco C6 S.A.");
        assert!(BankCode::parse("999").unwrap_err().contains("registry"));
        for bad in ["1", "0001", "abc", "", "33 6", " 336"] {
            assert!(BankCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn agency_and_account_allow_a_check_digit() {
        assert_eq!(Agency::parse("1290-0").unwrap().as_str(), "1290-0");
        assert_eq!(Agency::parse("1290-x").unwrap().as_str(), "1290-X");
        assert_eq!(AccountNumber::parse("1243").unwrap().as_str(), "1243");
        assert_eq!(
            AccountNumber::parse("00012345-6").unwrap().as_str(),
            "00012345-6"
        );
        for bad in [
            "", "-", "1290-", "1290-00", "129000", "12a0", "-1", "1-2-3", " 1290",
        ] {
            assert!(Agency::parse(bad).is_err(), "agency {bad:?}");
        }
        for bad in ["", "123456789012345678901", "12 34", "12.345", "1-Y"] {
            assert!(AccountNumber::parse(bad).is_err(), "account {bad:?}");
        }
    }

    #[test]
    fn duplicate_key_ignores_leading_zeros_and_case() {
        let a = |b: &str, ag: &str, acc: &str| BankAccountInput {
            bank_code: BankCode::parse(b).unwrap(),
            agency: Agency::parse(ag).unwrap(),
            account_number: AccountNumber::parse(acc).unwrap(),
        };
        assert_eq!(
            a("001", "0001", "00123-x").key(),
            a("001", "1", "123-X").key()
        );
        assert_ne!(a("001", "1", "123").key(), a("237", "1", "123").key());
        assert_ne!(a("001", "1", "123").key(), a("001", "1", "123-4").key());
        assert_ne!(a("001", "1", "123").key(), a("001", "10", "123").key());
    }

    #[test]
    fn invalid_values_cannot_be_deserialised() {
        assert!(serde_json::from_str::<BankCode>("\"999\"").is_err());
        assert!(serde_json::from_str::<Agency>("\"123456\"").is_err());
        assert!(serde_json::from_str::<AccountNumber>("\"12 34\"").is_err());
        let code: BankCode = serde_json::from_str("\"336\"").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"336\"");
    }

    #[test]
    fn masks_account_numbers() {
        assert_eq!(
            AccountNumber::parse("12345678-9").unwrap().masked(),
            "******78-9"
        );
    }
}
