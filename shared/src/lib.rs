//! The company model: value types that cannot hold an invalid value, the company itself and
//! its history, search terms, and the log conventions every binary shares ([`telemetry`]).

pub mod address;
pub mod bank_account;
pub mod banks;
pub mod cnpj;
pub mod field;
pub mod history;
pub mod input;
pub mod limits;
mod mask;
pub mod money;
pub mod partition;
pub mod phone;
pub mod search;
pub mod telemetry;
pub mod timestamp;

use serde::Serialize;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

pub use address::{Address, Cep, CountryCode, Region, Uf};
pub use bank_account::{
    AccountKey, AccountNumber, Agency, BankAccount, BankAccountInput, BankCode,
};
pub use cnpj::Cnpj;
pub use history::{Audit, ChangeKind, HistoryEntry};
pub use input::{CompanyInput, FieldError};
pub use mask::mask;
pub use money::Money;
pub use partition::Partition;
pub use phone::Phone;

/// Why a change to one bank account of a company cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChangeError {
    /// The company has no account with that id.
    NotFound,
    /// Another account of the company has the same bank, agency and account number.
    Duplicate(Uuid),
    /// The company already holds the most accounts allowed.
    TooMany,
}

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
    #[serde(with = "crate::timestamp")]
    pub created: OffsetDateTime,
    #[serde(with = "crate::timestamp")]
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
            .map(|a| BankAccount::from_input(Uuid::now_v7(), a))
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
                BankAccount::from_input(id, a)
            })
            .collect();
        let mut next = self.next_version(bank_accounts, now);
        next.company_name = input.company_name;
        next.phone = input.phone;
        next.tax_id = input.tax_id;
        next.address = input.address;
        next.declared_billing = input.declared_billing;
        next
    }

    /// Whether this company holds what `other` holds, whatever their versions and `updated`.
    pub fn same_state_as(&self, other: &Company) -> bool {
        let aligned = Company {
            updated: other.updated,
            version: other.version,
            ..self.clone()
        };
        aligned == *other
    }

    /// This company at the next version with other bank accounts.
    fn next_version(&self, bank_accounts: Vec<BankAccount>, now: OffsetDateTime) -> Company {
        Company {
            bank_accounts,
            updated: now.max(self.updated),
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// An account other than `except` with the same bank, agency and account number.
    fn duplicate_of(&self, account: &BankAccountInput, except: Option<Uuid>) -> Option<Uuid> {
        let key = account.key();
        self.bank_accounts
            .iter()
            .find(|a| Some(a.id) != except && a.key() == key)
            .map(|a| a.id)
    }

    /// The next version with one more bank account, which gets a fresh id.
    pub fn with_account_added(
        &self,
        account: &BankAccountInput,
        now: OffsetDateTime,
    ) -> Result<(Company, BankAccount), AccountChangeError> {
        if let Some(existing) = self.duplicate_of(account, None) {
            return Err(AccountChangeError::Duplicate(existing));
        }
        if self.bank_accounts.len() >= limits::MAX_BANK_ACCOUNTS {
            return Err(AccountChangeError::TooMany);
        }
        let added = BankAccount::from_input(Uuid::now_v7(), account);
        let mut accounts = self.bank_accounts.clone();
        accounts.push(added.clone());
        Ok((self.next_version(accounts, now), added))
    }

    /// The next version with the account `id` holding new fields (its id unchanged).
    pub fn with_account_replaced(
        &self,
        id: Uuid,
        account: &BankAccountInput,
        now: OffsetDateTime,
    ) -> Result<(Company, BankAccount), AccountChangeError> {
        let index = self.account_index(id)?;
        if let Some(existing) = self.duplicate_of(account, Some(id)) {
            return Err(AccountChangeError::Duplicate(existing));
        }
        let changed = BankAccount::from_input(id, account);
        let mut accounts = self.bank_accounts.clone();
        accounts[index] = changed.clone();
        Ok((self.next_version(accounts, now), changed))
    }

    /// The next version without the account `id`.
    pub fn without_account(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Company, AccountChangeError> {
        let index = self.account_index(id)?;
        let mut accounts = self.bank_accounts.clone();
        accounts.remove(index);
        Ok(self.next_version(accounts, now))
    }

    /// The account `id`.
    pub fn account(&self, id: Uuid) -> Result<&BankAccount, AccountChangeError> {
        self.account_index(id).map(|i| &self.bank_accounts[i])
    }

    fn account_index(&self, id: Uuid) -> Result<usize, AccountChangeError> {
        self.bank_accounts
            .iter()
            .position(|a| a.id == id)
            .ok_or(AccountChangeError::NotFound)
    }

    /// The client-writable part of the company as a JSON document, the target of a merge patch.
    pub fn to_document(&self) -> Map<String, Value> {
        let accounts: Vec<Value> = self
            .bank_accounts
            .iter()
            .map(|a| Value::Object(a.to_document()))
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
