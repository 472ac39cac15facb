//! Turns a client's JSON document into a [`CompanyInput`] that cannot hold an invalid value,
//! collecting every problem with the path of the field it concerns.

use serde_json::{Map, Value};

use super::address::{Address, AddressParts};
use super::bank_account::{AccountNumber, Agency, BankAccountInput, BankCode};
pub use super::field::FieldError;
use super::field::RawField;
use super::limits::{
    MAX_BANK_ACCOUNTS, MAX_CODE_TEXT_CHARS, MAX_ECHOED_NAME_CHARS, MAX_NAME_CHARS,
};
use super::{Cnpj, Money, Phone};

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
pub fn field_name(key: &str) -> String {
    key.chars().take(MAX_ECHOED_NAME_CHARS).collect()
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

/// A present value as a field: text or not.
fn given(v: &Value) -> RawField<'_> {
    v.as_str().map_or(RawField::NotText, RawField::Text)
}

/// A string field, checked as free text ([`super::field::text`]).
fn text(v: &Value, path: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    given(v).text(path, max, errors)
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
    given(v).parsed(path, max, parse, errors)
}

fn phone(v: &Value, errors: &mut Vec<FieldError>) -> Option<Phone> {
    let result = match v {
        Value::Number(n) => match n.as_u64() {
            Some(n) => Phone::from_integer(n),
            None => Err("must be a positive whole number or a string".to_string()),
        },
        Value::String(_) => return parsed(v, "phone", MAX_CODE_TEXT_CHARS, Phone::parse, errors),
        _ => Err("must be a string or a number".to_string()),
    };
    result
        .map_err(|m| errors.push(FieldError::new("phone", m)))
        .ok()
}

/// Money from a JSON number (its exact source text when the edge kept it: the request reader
/// of `companies_edge`) or a decimal string.
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

/// Validates an address object found at `address` (what a client sends).
pub fn address(v: &Value, errors: &mut Vec<FieldError>) -> Option<Address> {
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new("address", "must be an object or null"));
        return None;
    };
    let before = errors.len();
    unknown_fields(obj, &ADDRESS_FIELDS, "address", errors);
    let part = |key: &str| present(obj, key).map_or(RawField::Absent, given);
    let parts = AddressParts {
        street: part("street"),
        number: part("number"),
        complement: part("complement"),
        district: part("district"),
        city: part("city"),
        state: part("state"),
        postal_code: part("postal_code"),
        country: part("country"),
    };
    match Address::from_parts(parts, "address") {
        Ok(address) if errors.len() == before => Some(address),
        Ok(_) => None,
        Err(found) => {
            errors.extend(found);
            None
        }
    }
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
        .and_then(|v| text(v, "company_name", MAX_NAME_CHARS, &mut errors))
        .and_then(|name| match super::search::check_indexable(&name) {
            Ok(()) => Some(name),
            Err(message) => {
                errors.push(FieldError::new("company_name", message));
                None
            }
        });
    let phone = required(doc, "phone", "phone", &mut errors).and_then(|v| phone(v, &mut errors));
    let tax_id = present(doc, "tax_id")
        .and_then(|v| parsed(v, "tax_id", MAX_CODE_TEXT_CHARS, Cnpj::parse, &mut errors));
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
mod tests;
