//! Legacy rows for the unit tests of the mapping and the digest.

use time::macros::datetime;

use super::{LegacyAccount, LegacyCompany};

/// A company row of the Padaria São João with `phone` and `accounts`.
pub(super) fn row(id: i32, phone: &str, accounts: Vec<LegacyAccount>) -> LegacyCompany {
    LegacyCompany {
        id,
        company_name: "Padaria São João Ltda".into(),
        phone: phone.into(),
        created: Some(datetime!(2019-03-04 10:11:12.345678)),
        declared_billing: "1234.50".into(),
        accounts,
    }
}

/// An account row.
pub(super) fn acct(id: i32, bank: &str, agency: &str, number: &str) -> LegacyAccount {
    LegacyAccount {
        id,
        agency: agency.into(),
        account_number: number.into(),
        bank_code: bank.into(),
    }
}
