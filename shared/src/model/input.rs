//! Turns a client's JSON document into a [`CompanyInput`] that cannot hold an invalid value,
//! collecting every problem with the path of the field it concerns.

use serde::Serialize;
use serde_json::{Map, Value};

use super::address::{parse_cep, parse_country, parse_uf, Address};
use super::bank_account::{AccountNumber, Agency, BankAccountInput, BankCode};
use super::{Cnpj, Money, Phone};

/// The most bank accounts one company may hold.
pub const MAX_BANK_ACCOUNTS: usize = 20;
/// Longest company name, in characters, after trimming.
pub const MAX_NAME_CHARS: usize = 150;

/// One problem with one field of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything a client may write about a company, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyInput {
    pub company_name: String,
    pub phone: Phone,
    pub tax_id: Option<Cnpj>,
    pub address: Option<Address>,
    pub declared_billing: Money,
    pub bank_accounts: Vec<BankAccountInput>,
}

/// Fields the server owns: a client sending them gets a 400.
pub const SERVER_FIELDS: [&str; 4] = ["id", "created", "updated", "version"];
/// Fields a client may write.
pub const CLIENT_FIELDS: [&str; 6] = [
    "company_name",
    "phone",
    "tax_id",
    "address",
    "declared_billing",
    "bank_accounts",
];
const ADDRESS_FIELDS: [&str; 8] = [
    "street",
    "number",
    "complement",
    "district",
    "city",
    "state",
    "postal_code",
    "country",
];
pub const ACCOUNT_FIELDS: [&str; 3] = ["bank_code", "agency", "account_number"];

/// Reports fields that are not writable: server-owned ones and unknown ones.
pub fn check_top_level_fields(doc: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    for key in doc.keys() {
        if SERVER_FIELDS.contains(&key.as_str()) {
            errors.push(FieldError::new(
                key,
                "is set by the server and cannot be written",
            ));
        } else if !CLIENT_FIELDS.contains(&key.as_str()) {
            errors.push(FieldError::new(
                field_name(key),
                "is not a field of a company",
            ));
        }
    }
}

/// Bounds the echo of a client-chosen field name in an error.
fn field_name(key: &str) -> String {
    key.chars().take(64).collect()
}

/// `path.key`, or `key` at the top level.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn unknown_fields(
    obj: &Map<String, Value>,
    allowed: &[&str],
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    for key in obj.keys().filter(|k| !allowed.contains(&k.as_str())) {
        let message = if SERVER_FIELDS.contains(&key.as_str()) {
            "is set by the server and cannot be written"
        } else {
            "is not a known field"
        };
        errors.push(FieldError::new(join(path, &field_name(key)), message));
    }
}

/// A present, non-null value, or `None` when the field is absent or null.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// A string field, trimmed, with a bounded number of characters and no control characters.
fn text(v: &Value, path: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    let Some(s) = v.as_str() else {
        errors.push(FieldError::new(path, "must be a string"));
        return None;
    };
    let s = s.trim();
    let chars = s.chars().count();
    if chars == 0 {
        errors.push(FieldError::new(path, "must not be empty"));
        None
    } else if chars > max {
        errors.push(FieldError::new(
            path,
            format!("must be at most {max} characters"),
        ));
        None
    } else if s.chars().any(char::is_control) {
        errors.push(FieldError::new(path, "must not contain control characters"));
        None
    } else {
        Some(s.to_owned())
    }
}

fn required<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a Value> {
    let v = present(obj, key);
    if v.is_none() {
        errors.push(FieldError::new(path, "is required"));
    }
    v
}

/// Applies a parser to a string field taken exactly as sent (no trimming).
fn exact<T>(
    v: &Value,
    path: &str,
    parse: impl Fn(&str) -> Result<T, String>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let Some(s) = v.as_str() else {
        errors.push(FieldError::new(path, "must be a string"));
        return None;
    };
    parse(s)
        .map_err(|m| errors.push(FieldError::new(path, m)))
        .ok()
}

/// Applies a parser to a string field, recording its error under `path`.
fn parsed<T>(
    v: &Value,
    path: &str,
    max: usize,
    parse: impl Fn(&str) -> Result<T, String>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let s = text(v, path, max, errors)?;
    parse(&s)
        .map_err(|m| errors.push(FieldError::new(path, m)))
        .ok()
}

fn phone(v: &Value, errors: &mut Vec<FieldError>) -> Option<Phone> {
    let result = match v {
        Value::Number(n) => match n.as_u64() {
            Some(n) => Phone::from_integer(n),
            None => Err("must be a positive whole number or a string".to_string()),
        },
        Value::String(_) => return parsed(v, "phone", 32, Phone::parse, errors),
        _ => Err("must be a string or a number".to_string()),
    };
    result
        .map_err(|m| errors.push(FieldError::new("phone", m)))
        .ok()
}

/// Money from a JSON number (its exact source text when known, see
/// [`crate::http::request::number_text`]) or a decimal string.
fn money(v: &Value, number_text: Option<&str>, errors: &mut Vec<FieldError>) -> Option<Money> {
    let result = match v {
        Value::String(s) => Money::parse_string(s),
        Value::Number(n) => Money::parse(number_text.unwrap_or(&n.to_string())),
        _ => Err("must be a number or a decimal string".to_string()),
    };
    result
        .map_err(|m| errors.push(FieldError::new("declared_billing", m)))
        .ok()
}

fn address(v: &Value, errors: &mut Vec<FieldError>) -> Option<Address> {
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new("address", "must be an object or null"));
        return None;
    };
    let before = errors.len();
    unknown_fields(obj, &ADDRESS_FIELDS, "address", errors);
    let country = match present(obj, "country") {
        Some(v) => parsed(v, "address.country", 2, parse_country, errors),
        None => Some("BR".to_owned()),
    };
    let brazilian = country.as_deref() == Some("BR");
    let opt = |key: &str, max: usize, errors: &mut Vec<FieldError>| {
        present(obj, key).and_then(|v| text(v, &format!("address.{key}"), max, errors))
    };
    let street = required(obj, "street", "address.street", errors)
        .and_then(|v| text(v, "address.street", 200, errors));
    let number = opt("number", 20, errors);
    let complement = opt("complement", 100, errors);
    let district = opt("district", 100, errors);
    let city = required(obj, "city", "address.city", errors)
        .and_then(|v| text(v, "address.city", 100, errors));
    let state = required(obj, "state", "address.state", errors).and_then(|v| {
        if brazilian {
            parsed(v, "address.state", 32, parse_uf, errors)
        } else {
            text(v, "address.state", 100, errors)
        }
    });
    let postal_code = required(obj, "postal_code", "address.postal_code", errors).and_then(|v| {
        if brazilian {
            parsed(v, "address.postal_code", 16, parse_cep, errors)
        } else {
            text(v, "address.postal_code", 20, errors)
        }
    });
    if errors.len() > before {
        return None;
    }
    Some(Address {
        street: street?,
        number,
        complement,
        district,
        city: city?,
        state: state?,
        postal_code: postal_code?,
        country: country?,
    })
}

/// Validates one bank account object found at `path` (empty for a whole request body).
pub fn bank_account(
    v: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<BankAccountInput> {
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new(
            path,
            "must be an object with bank_code, agency and account_number",
        ));
        return None;
    };
    let before = errors.len();
    unknown_fields(obj, &ACCOUNT_FIELDS, path, errors);
    let field = |key: &str| join(path, key);
    let bank_code = required(obj, "bank_code", &field("bank_code"), errors)
        .and_then(|v| exact(v, &field("bank_code"), BankCode::parse, errors));
    let agency = required(obj, "agency", &field("agency"), errors)
        .and_then(|v| exact(v, &field("agency"), Agency::parse, errors));
    let account_number = required(obj, "account_number", &field("account_number"), errors)
        .and_then(|v| exact(v, &field("account_number"), AccountNumber::parse, errors));
    if errors.len() > before {
        return None;
    }
    Some(BankAccountInput {
        bank_code: bank_code?,
        agency: agency?,
        account_number: account_number?,
    })
}

fn bank_accounts(v: Option<&Value>, errors: &mut Vec<FieldError>) -> Vec<BankAccountInput> {
    let Some(v) = v else { return Vec::new() };
    let Some(items) = v.as_array() else {
        errors.push(FieldError::new("bank_accounts", "must be an array"));
        return Vec::new();
    };
    if items.len() > MAX_BANK_ACCOUNTS {
        errors.push(FieldError::new(
            "bank_accounts",
            format!("must hold at most {MAX_BANK_ACCOUNTS} accounts"),
        ));
        return Vec::new();
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| bank_account(item, &format!("bank_accounts[{i}]"), errors))
        .collect()
}

/// Validates a whole company document under the create rules.
pub fn company(doc: &Map<String, Value>) -> Result<CompanyInput, Vec<FieldError>> {
    company_with(doc, None)
}

/// Like [`company`], reading a numeric `declared_billing` from its exact source text.
pub fn company_with(
    doc: &Map<String, Value>,
    billing_text: Option<&str>,
) -> Result<CompanyInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    check_top_level_fields(doc, &mut errors);
    let company_name = required(doc, "company_name", "company_name", &mut errors)
        .and_then(|v| text(v, "company_name", MAX_NAME_CHARS, &mut errors));
    let phone = required(doc, "phone", "phone", &mut errors).and_then(|v| phone(v, &mut errors));
    let tax_id =
        present(doc, "tax_id").and_then(|v| parsed(v, "tax_id", 32, Cnpj::parse, &mut errors));
    let address = present(doc, "address").and_then(|v| address(v, &mut errors));
    let declared_billing = required(doc, "declared_billing", "declared_billing", &mut errors)
        .and_then(|v| money(v, billing_text, &mut errors));
    let bank_accounts = bank_accounts(present(doc, "bank_accounts"), &mut errors);
    match (company_name, phone, declared_billing) {
        (Some(company_name), Some(phone), Some(declared_billing)) if errors.is_empty() => {
            Ok(CompanyInput {
                company_name,
                phone,
                tax_id,
                address,
                declared_billing,
                bank_accounts,
            })
        }
        _ => Err(errors),
    }
}

impl CompanyInput {
    /// Indexes of accounts that repeat an earlier one (same bank, agency and account number).
    pub fn duplicate_accounts(&self) -> Vec<FieldError> {
        let mut seen = std::collections::HashMap::new();
        let mut dups = Vec::new();
        for (i, account) in self.bank_accounts.iter().enumerate() {
            if let Some(first) = seen.insert(account.key(), i) {
                seen.insert(account.key(), first);
                dups.push(FieldError::new(
                    format!("bank_accounts[{i}]"),
                    format!(
                        "duplicates bank_accounts[{first}]: same bank, agency and account number"
                    ),
                ));
            }
        }
        dups
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn fields(v: Value) -> Vec<String> {
        let mut f: Vec<String> = company(&obj(v))
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        f.sort();
        f
    }

    fn minimal() -> Value {
        json!({"company_name": "  Acme  ", "phone": "11978235674", "declared_billing": 10})
    }

    #[test]
    fn accepts_the_minimal_company() {
        let c = company(&obj(minimal())).unwrap();
        assert_eq!(c.company_name, "Acme");
        assert_eq!(c.phone.as_str(), "+5511978235674");
        assert_eq!(c.declared_billing.to_string(), "10.00");
        assert!(c.tax_id.is_none() && c.address.is_none() && c.bank_accounts.is_empty());
    }

    #[test]
    fn accepts_a_full_company() {
        let c = company(&obj(json!({
            "company_name": "My Company", "phone": 5511978235674_u64, "tax_id": "60.746.948/0001-12",
            "declared_billing": "1235.69",
            "address": {"street": "Av. Paulista", "number": "1000", "city": "São Paulo", "state": "sp",
                        "postal_code": "01310-100"},
            "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"}]
        })))
        .unwrap();
        assert_eq!(c.tax_id.unwrap().as_str(), "60746948000112");
        let a = c.address.unwrap();
        assert_eq!(
            (a.state.as_str(), a.postal_code.as_str(), a.country.as_str()),
            ("SP", "01310100", "BR")
        );
        assert_eq!(a.district, None);
        assert_eq!(c.bank_accounts.len(), 1);
    }

    #[test]
    fn reports_every_missing_required_field() {
        assert_eq!(
            fields(json!({})),
            ["company_name", "declared_billing", "phone"]
        );
        assert_eq!(
            fields(json!({"company_name": null, "phone": null, "declared_billing": null})),
            ["company_name", "declared_billing", "phone"]
        );
    }

    #[test]
    fn company_name_is_1_to_150_characters_after_trimming() {
        let with = |name: Value| {
            let mut v = minimal();
            v["company_name"] = name;
            company(&obj(v))
        };
        assert!(with(json!("   ")).is_err());
        assert!(with(json!("")).is_err());
        assert!(with(json!(42)).is_err());
        assert!(with(json!("a\u{0}b")).is_err());
        assert!(with(json!("é".repeat(150))).is_ok());
        assert!(with(json!(format!("  {}  ", "x".repeat(150)))).is_ok());
        assert!(with(json!("x".repeat(151))).is_err());
    }

    #[test]
    fn rejects_server_owned_and_unknown_fields() {
        let mut v = minimal();
        v["id"] = json!("x");
        v["version"] = json!(3);
        v["created"] = json!("2026-01-01T00:00:00Z");
        v["updated"] = json!("2026-01-01T00:00:00Z");
        v["colour"] = json!("red");
        assert_eq!(fields(v), ["colour", "created", "id", "updated", "version"]);
    }

    #[test]
    fn reports_nested_paths() {
        let mut v = minimal();
        v["tax_id"] = json!("60746948000113");
        v["address"] =
            json!({"street": "", "city": "X", "state": "ZZ", "postal_code": "123", "zip": 1});
        v["bank_accounts"] = json!([
            {"bank_code": "336", "agency": "1290-0", "account_number": "1243"},
            {"bank_code": "999", "agency": "x", "account_number": "1", "extra": true},
            "not an object"
        ]);
        assert_eq!(
            fields(v),
            [
                "address.postal_code",
                "address.state",
                "address.street",
                "address.zip",
                "bank_accounts[1].agency",
                "bank_accounts[1].bank_code",
                "bank_accounts[1].extra",
                "bank_accounts[2]",
                "tax_id",
            ]
        );
    }

    #[test]
    fn foreign_addresses_skip_uf_and_cep_rules() {
        let mut v = minimal();
        v["address"] = json!({"street": "Main St", "city": "Lisboa", "state": "Lisboa",
                              "postal_code": "1000-001", "country": "pt"});
        let a = company(&obj(v)).unwrap().address.unwrap();
        assert_eq!((a.country.as_str(), a.state.as_str()), ("PT", "Lisboa"));
    }

    #[test]
    fn at_most_twenty_bank_accounts() {
        let account =
            |i: usize| json!({"bank_code": "001", "agency": "1", "account_number": i.to_string()});
        let mut v = minimal();
        v["bank_accounts"] = Value::Array((0..20).map(account).collect());
        assert_eq!(company(&obj(v.clone())).unwrap().bank_accounts.len(), 20);
        v["bank_accounts"] = Value::Array((0..21).map(account).collect());
        assert_eq!(fields(v), ["bank_accounts"]);
    }

    #[test]
    fn finds_duplicate_accounts_after_normalisation() {
        let mut v = minimal();
        v["bank_accounts"] = json!([
            {"bank_code": "001", "agency": "0001", "account_number": "123-x"},
            {"bank_code": "237", "agency": "1", "account_number": "123-X"},
            {"bank_code": "001", "agency": "1", "account_number": "00123-X"}
        ]);
        let dups = company(&obj(v)).unwrap().duplicate_accounts();
        assert_eq!(
            dups,
            [FieldError::new(
                "bank_accounts[2]",
                "duplicates bank_accounts[0]: same bank, agency and account number"
            )]
        );
    }

    #[test]
    fn money_and_phone_accept_numbers_and_strings() {
        for (billing, want) in [
            (json!(1235.69), "1235.69"),
            (json!("0.1"), "0.10"),
            (json!(0), "0.00"),
        ] {
            let mut v = minimal();
            v["declared_billing"] = billing;
            assert_eq!(company(&obj(v)).unwrap().declared_billing.to_string(), want);
        }
        for bad in [
            json!(-1),
            json!("1.234"),
            json!(true),
            json!([1]),
            json!(1e10),
        ] {
            let mut v = minimal();
            v["declared_billing"] = bad.clone();
            assert_eq!(fields(v), ["declared_billing"], "{bad}");
        }
        for bad in [
            json!(-11978235674_i64),
            json!(1.5),
            json!(false),
            json!("abc"),
        ] {
            let mut v = minimal();
            v["phone"] = bad.clone();
            assert_eq!(fields(v), ["phone"], "{bad}");
        }
    }
}
