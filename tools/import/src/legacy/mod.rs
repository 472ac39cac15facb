//! The Flask service's rows and how each maps to a company of this API, or why it cannot.
//!
//! Mapped as documented (README, "Moving from the Flask service"): `phone` to E.164 (a 10- or
//! 11-digit number gets `+55`; 12–13 digits starting with 55 get `+`), `created` (naive UTC) to
//! UTC with milliseconds (the exact value is kept in the import's history entry),
//! `declared_billing` exactly, accounts by the API's own rules. Anything else the API's rules
//! refuse refuses the row, and a company with a refused account is refused whole. The same
//! account twice on one company is imported once, the repeat reported as merged.
//!
//! - this module: the rows as read, and the digest that tells whether a row changed;
//! - [`mapping`]: a company row (with its accounts) to a company, by the API's rules;
//! - [`report`]: the line of the rejects file for a row refused, merged, or changed on both
//!   sides.

mod mapping;
mod report;

#[cfg(test)]
mod fixtures;

pub use mapping::{map_company, MappedCompany, MissingCreated};
pub use report::{changed_on_both_sides, orphan_account, RowOutcome, RowReport, SinceImport};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;

pub const COMPANY_TABLE: &str = "client_company";
pub const ACCOUNT_TABLE: &str = "company_bank_account";

/// A row of `client_company`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyCompany {
    pub id: i32,
    pub company_name: String,
    pub phone: String,
    pub created: Option<PrimitiveDateTime>,
    /// `NUMERIC(12,2)` as PostgreSQL prints it.
    pub declared_billing: String,
    /// Its rows of `company_bank_account`, by id.
    pub accounts: Vec<LegacyAccount>,
}

impl LegacyCompany {
    /// A digest of the row and its accounts as read: what tells a later run whether the row
    /// changed in the Flask service since it was imported.
    pub fn digest(&self) -> String {
        let accounts: Vec<Value> = self
            .accounts
            .iter()
            .map(|a| json!([a.id, a.agency, a.account_number, a.bank_code]))
            .collect();
        let row = json!([
            self.id,
            self.company_name,
            self.phone,
            self.created.map(legacy_text),
            self.declared_billing,
            accounts,
        ]);
        format!("{:x}", Sha256::digest(row.to_string().as_bytes()))
    }
}

/// A row of `company_bank_account`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyAccount {
    pub id: i32,
    pub agency: String,
    pub account_number: String,
    pub bank_code: String,
}

/// The legacy text of a naive timestamp, to the microsecond.
fn legacy_text(t: PrimitiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::fixtures::{acct, row};
    use super::*;

    /// The digest tells a later run whether the row changed: any column of the company or of
    /// one of its accounts, an account added or removed.
    #[test]
    fn the_digest_changes_with_every_column_and_account_of_the_row() {
        let legacy = row(
            17,
            "5511954879564",
            vec![acct(3, "001", "0001-9", "12345-6")],
        );
        assert_eq!(legacy.digest(), legacy.clone().digest());
        let changed: Vec<LegacyCompany> = vec![
            LegacyCompany {
                company_name: "Padaria São João ME".into(),
                ..legacy.clone()
            },
            LegacyCompany {
                phone: "5511954879565".into(),
                ..legacy.clone()
            },
            LegacyCompany {
                created: None,
                ..legacy.clone()
            },
            LegacyCompany {
                declared_billing: "1234.51".into(),
                ..legacy.clone()
            },
            LegacyCompany {
                accounts: vec![],
                ..legacy.clone()
            },
            LegacyCompany {
                accounts: vec![acct(3, "001", "0001-9", "12345-7")],
                ..legacy.clone()
            },
            LegacyCompany {
                accounts: vec![acct(3, "001", "0002-7", "12345-6")],
                ..legacy.clone()
            },
            LegacyCompany {
                accounts: vec![acct(3, "104", "0001-9", "12345-6")],
                ..legacy.clone()
            },
            LegacyCompany {
                accounts: vec![acct(4, "001", "0001-9", "12345-6")],
                ..legacy.clone()
            },
        ];
        let mut digests: Vec<String> = changed.iter().map(LegacyCompany::digest).collect();
        digests.push(legacy.digest());
        digests.sort();
        digests.dedup();
        assert_eq!(digests.len(), changed.len() + 1);
    }
}
