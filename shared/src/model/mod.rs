//! The company model: value types that cannot hold an invalid value, and the company itself.

pub mod address;
pub mod bank_account;
pub mod cnpj;
pub mod input;
pub mod money;
pub mod phone;

use serde::Serialize;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

pub use address::Address;
pub use bank_account::{
    AccountKey, AccountNumber, Agency, BankAccount, BankAccountInput, BankCode,
};
pub use cnpj::Cnpj;
pub use input::{CompanyInput, FieldError};
pub use money::Money;
pub use phone::Phone;

/// A client company as stored and as returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Company {
    pub id: Uuid,
    pub company_name: String,
    pub phone: Phone,
    pub tax_id: Option<Cnpj>,
    pub address: Option<Address>,
    pub declared_billing: Money,
    pub bank_accounts: Vec<BankAccount>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    pub version: u64,
}

/// The current UTC time at millisecond precision (what the store keeps).
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(u32::from(now.millisecond()) * 1_000_000)
        .unwrap_or(now)
}

impl Company {
    /// A new company at version 1, with fresh time-ordered ids for it and its accounts.
    pub fn create(input: CompanyInput, now: OffsetDateTime) -> Company {
        let bank_accounts = input
            .bank_accounts
            .iter()
            .map(|a| BankAccount {
                id: Uuid::now_v7(),
                bank_code: a.bank_code.clone(),
                agency: a.agency.clone(),
                account_number: a.account_number.clone(),
            })
            .collect();
        Company {
            id: Uuid::now_v7(),
            company_name: input.company_name,
            phone: input.phone,
            tax_id: input.tax_id,
            address: input.address,
            declared_billing: input.declared_billing,
            bank_accounts,
            created: now,
            updated: now,
            version: 1,
        }
    }

    /// The next version of this company holding `input`. Accounts that match an existing one
    /// (same bank, agency and account number) keep their id; others get a new one.
    pub fn replaced_by(&self, input: CompanyInput, now: OffsetDateTime) -> Company {
        let bank_accounts = input
            .bank_accounts
            .iter()
            .map(|a| {
                let key = a.key();
                let id = self
                    .bank_accounts
                    .iter()
                    .find(|old| old.key() == key)
                    .map_or_else(Uuid::now_v7, |old| old.id);
                BankAccount {
                    id,
                    bank_code: a.bank_code.clone(),
                    agency: a.agency.clone(),
                    account_number: a.account_number.clone(),
                }
            })
            .collect();
        Company {
            id: self.id,
            company_name: input.company_name,
            phone: input.phone,
            tax_id: input.tax_id,
            address: input.address,
            declared_billing: input.declared_billing,
            bank_accounts,
            created: self.created,
            updated: now.max(self.updated),
            version: self.version + 1,
        }
    }

    /// The client-writable part of the company as a JSON document, the target of a merge patch.
    pub fn to_document(&self) -> Map<String, Value> {
        let accounts: Vec<Value> = self
            .bank_accounts
            .iter()
            .map(|a| {
                json!({
                    "bank_code": a.bank_code.as_str(),
                    "agency": a.agency.as_str(),
                    "account_number": a.account_number.as_str(),
                })
            })
            .collect();
        let mut doc = Map::new();
        doc.insert("company_name".into(), json!(self.company_name));
        doc.insert("phone".into(), json!(self.phone.as_str()));
        if let Some(cnpj) = &self.tax_id {
            doc.insert("tax_id".into(), json!(cnpj.as_str()));
        }
        if let Some(address) = &self.address {
            if let Ok(v) = serde_json::to_value(address) {
                doc.insert("address".into(), v);
            }
        }
        doc.insert(
            "declared_billing".into(),
            json!(self.declared_billing.to_string()),
        );
        doc.insert("bank_accounts".into(), Value::Array(accounts));
        doc
    }

    /// The strong entity tag of this version, e.g. `"3"`.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(doc: Value) -> CompanyInput {
        input::company(doc.as_object().unwrap()).unwrap()
    }

    #[test]
    fn document_round_trips_through_validation() {
        let c = Company::create(
            input(json!({
                "company_name": "My Company", "phone": "11978235674", "tax_id": "12.ABC.345/01DE-35",
                "declared_billing": 1235.69,
                "address": {"street": "Rua A", "city": "Recife", "state": "PE", "postal_code": "50000-000"},
                "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"}]
            })),
            now(),
        );
        let again = input(Value::Object(c.to_document()));
        let same = c.replaced_by(again, c.updated);
        assert_eq!(same.bank_accounts, c.bank_accounts, "account ids are kept");
        assert_eq!((same.version, same.id, same.created), (2, c.id, c.created));
        assert_eq!(
            Value::Object(same.to_document()),
            Value::Object(c.to_document())
        );
    }

    #[test]
    fn serialises_the_api_shape() {
        let c = Company::create(
            input(
                json!({"company_name": "Acme", "phone": "11978235674", "declared_billing": "0.1",
                          "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"}]}),
            ),
            now(),
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["declared_billing"], "0.10");
        assert_eq!(v["tax_id"], Value::Null);
        assert_eq!(v["version"], 1);
        assert_eq!(
            v["bank_accounts"][0]["bank"],
            json!({"code": "336", "name": "Banco C6 S.A."})
        );
        assert!(v["created"].as_str().unwrap().ends_with('Z'));
        assert_eq!(c.etag(), "\"1\"");
    }
}
