//! A company row (with its accounts) mapped to a company by the API's create rules, or the
//! reports of why it cannot be; and the ids that make every run map a row the same way.

use std::collections::HashMap;

use companies::mask;
use companies::{
    input, AccountNumber, Agency, BankAccount, BankAccountInput, BankCode, Company, FieldError,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use super::{LegacyAccount, LegacyCompany, RowOutcome, RowReport, ACCOUNT_TABLE, COMPANY_TABLE};

/// What to do with a `created` that is NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingCreated {
    /// Refuse the company (the default: nothing is invented).
    Refuse,
    /// Import it with the time of the import as `created`.
    ImportTime,
}

/// A company ready to write, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedCompany {
    pub legacy_id: i32,
    pub company: Company,
    /// The legacy ids of its accounts, in the order of `company.bank_accounts`.
    pub account_ids: Vec<i32>,
    /// `created` as the Flask service stored it, for the history entry.
    pub legacy_created: Option<String>,
    /// The digest of the row as read ([`LegacyCompany::digest`]).
    pub source: String,
}

impl MappedCompany {
    /// The version after `current` (the company imported from this row earlier) that this
    /// row's content makes, at `now`. The company keeps its id and `created` (which the API
    /// never changes; they differ from this mapping's only when `created` was NULL and
    /// imported as the time of an earlier import), and an account its id when it comes from
    /// the same legacy row.
    pub fn rebased(&self, current: &Company, now: OffsetDateTime) -> Company {
        let mut next = self.company.clone();
        for (account, legacy_id) in next.bank_accounts.iter_mut().zip(&self.account_ids) {
            account.id = account_id(current.created, *legacy_id);
        }
        next.id = current.id;
        next.created = current.created;
        next.updated = now;
        next.version = current.version + 1;
        next
    }
}

/// A company's row mapped: the company (unless refused) and the report of every row that was
/// refused or merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowMapping {
    pub company: Option<MappedCompany>,
    pub reports: Vec<RowReport>,
}

/// The id of the account imported from the legacy row `legacy_id` of a company created at
/// `created`.
fn account_id(created: OffsetDateTime, legacy_id: i32) -> Uuid {
    stable_id(created, &format!("{ACCOUNT_TABLE}:{legacy_id}"))
}

/// A time-ordered id (UUIDv7 at `at`) whose random part is derived from `seed`, so the same
/// legacy row gets the same id on every run.
fn stable_id(at: OffsetDateTime, seed: &str) -> Uuid {
    let digest = Sha256::digest(seed.as_bytes());
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// Naive UTC to the API's time (milliseconds).
fn utc_millis(t: PrimitiveDateTime) -> OffsetDateTime {
    let t = t.assume_utc();
    t.replace_nanosecond(u32::from(t.millisecond()) * 1_000_000)
        .unwrap_or(t)
}

/// Parses one account row by the API's rules: the account, or a report per broken field.
fn parse_account(row: &LegacyAccount) -> Result<BankAccountInput, Vec<RowReport>> {
    let refuse = |field: &str, value: Option<String>, rule: String| {
        RowReport::refused(ACCOUNT_TABLE, row.id, field, value).because(rule)
    };
    let bank_code = BankCode::parse(&row.bank_code).map_err(|m| {
        let known = row.bank_code.len() == 3 && row.bank_code.bytes().all(|b| b.is_ascii_digit());
        let report = refuse("bank_code", Some(row.bank_code.clone()), m);
        if known {
            report.coded("unknown-bank")
        } else {
            report
        }
    });
    let agency =
        Agency::parse(&row.agency).map_err(|m| refuse("agency", Some(row.agency.clone()), m));
    let account_number = AccountNumber::parse(&row.account_number)
        .map_err(|m| refuse("account_number", Some(mask(&row.account_number)), m));
    match (bank_code, agency, account_number) {
        (Ok(bank_code), Ok(agency), Ok(account_number)) => Ok(BankAccountInput {
            bank_code,
            agency,
            account_number,
        }),
        (b, a, n) => Err([b.err(), a.err(), n.err()].into_iter().flatten().collect()),
    }
}

/// The accounts of a company row, each by the API's rules, the same account twice kept once
/// (with its legacy id), and the reports: each refused or merged account row, then the company
/// refused when one of its accounts was.
fn map_accounts(row: &LegacyCompany) -> (Vec<(i32, BankAccountInput)>, Vec<RowReport>) {
    let mut reports = Vec::new();
    let mut accounts: Vec<(i32, BankAccountInput)> = Vec::new();
    let mut first_of = HashMap::new();
    let mut refused_accounts = Vec::new();
    for legacy in &row.accounts {
        match parse_account(legacy) {
            Ok(parsed) => match first_of.get(&parsed.key()) {
                Some(first) => reports.push(RowReport {
                    outcome: RowOutcome::Merged,
                    table: ACCOUNT_TABLE,
                    legacy_id: legacy.id,
                    field: None,
                    value: None,
                    code: "same-account-twice".into(),
                    rule: format!(
                        "the same bank, agency and account number as {ACCOUNT_TABLE} {first} of \
                         the same company: imported once"
                    ),
                }),
                None => {
                    first_of.insert(parsed.key(), legacy.id);
                    accounts.push((legacy.id, parsed));
                }
            },
            Err(mut bad) => {
                refused_accounts.push(legacy.id);
                reports.append(&mut bad);
            }
        }
    }
    if !refused_accounts.is_empty() {
        let ids: Vec<String> = refused_accounts.iter().map(i32::to_string).collect();
        reports.push(
            RowReport::refused(COMPANY_TABLE, row.id, "bank_accounts", None)
                .because(format!(
                    "its {ACCOUNT_TABLE} {} was refused: a company is not imported without one \
                     of its accounts",
                    ids.join(", ")
                ))
                .coded("refused-account"),
        );
    }
    (accounts, reports)
}

/// Maps a company row (with its accounts) at import time `now`.
pub fn map_company(
    row: &LegacyCompany,
    missing: MissingCreated,
    now: OffsetDateTime,
) -> RowMapping {
    let refuse_company = |field: &str, value: Option<String>, rule: String| {
        RowReport::refused(COMPANY_TABLE, row.id, field, value).because(rule)
    };

    // Accounts: each by the API's rules; the same account twice is kept once.
    let (accounts, mut reports) = map_accounts(row);

    // The company's own fields, by the create rules of the API.
    if row.company_name.trim() != row.company_name {
        reports.push(
            refuse_company(
                "company_name",
                Some(row.company_name.clone()),
                "has leading or trailing spaces, which the API would trim: fix the name in the \
                 source (the import changes nothing silently)"
                    .into(),
            )
            .coded("name-would-be-trimmed"),
        );
    }
    let created = match (row.created, missing) {
        (Some(t), _) => Some(utc_millis(t)),
        (None, MissingCreated::ImportTime) => Some(now),
        (None, MissingCreated::Refuse) => {
            reports.push(
                refuse_company(
                    "created",
                    None,
                    "is NULL: rerun with --null-created-as-import-time to import such companies \
                     with the time of the import"
                        .into(),
                )
                .coded("missing-created"),
            );
            None
        }
    };
    let doc = json!({
        "company_name": row.company_name,
        "phone": row.phone,
        "declared_billing": row.declared_billing,
        "bank_accounts": accounts.iter().map(|(_, a)| json!({
            "bank_code": a.bank_code.as_str(),
            "agency": a.agency.as_str(),
            "account_number": a.account_number.as_str(),
        })).collect::<Vec<Value>>(),
    });
    let parsed = doc
        .as_object()
        .map(input::company)
        .unwrap_or_else(|| Err(vec![FieldError::new("", "not an object")]));
    let input = match parsed {
        Ok(input) => Some(input),
        Err(errors) => {
            for e in errors {
                let value = match e.field.as_str() {
                    "company_name" => Some(row.company_name.clone()),
                    "phone" => Some(row.phone.clone()),
                    "declared_billing" => Some(row.declared_billing.clone()),
                    _ => None,
                };
                let field = e.field.split('[').next().unwrap_or("").to_owned();
                reports.push(refuse_company(&field, value, e.message));
            }
            None
        }
    };
    let refused = reports.iter().any(|r| r.outcome == RowOutcome::Refused);
    let (Some(input), Some(created), false) = (input, created, refused) else {
        return RowMapping {
            company: None,
            reports,
        };
    };
    let bank_accounts = input
        .bank_accounts
        .iter()
        .zip(&accounts)
        .map(|(a, (legacy_id, _))| BankAccount::from_input(account_id(created, *legacy_id), a))
        .collect();
    let company = Company {
        id: stable_id(created, &format!("{COMPANY_TABLE}:{}", row.id)),
        company_name: input.company_name,
        phone: input.phone,
        tax_id: None,
        address: None,
        declared_billing: input.declared_billing,
        bank_accounts,
        created,
        updated: now,
        version: 1,
    };
    RowMapping {
        company: Some(MappedCompany {
            legacy_id: row.id,
            company,
            account_ids: accounts.iter().map(|(id, _)| *id).collect(),
            legacy_created: row.created.map(super::legacy_text),
            source: row.digest(),
        }),
        reports,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{acct, row};
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 12:00:00 UTC);

    fn codes(m: &RowMapping) -> Vec<(&'static str, i32, &str)> {
        m.reports
            .iter()
            .map(|r| (r.table, r.legacy_id, r.code.as_str()))
            .collect()
    }

    #[test]
    fn a_valid_row_maps_exactly_with_ids_that_do_not_change_between_runs() {
        let legacy = row(
            17,
            "5511954879564",
            vec![acct(3, "001", "0001-9", "12345-6")],
        );
        let m = map_company(&legacy, MissingCreated::Refuse, NOW);
        assert!(m.reports.is_empty());
        let c = m.company.clone().unwrap().company;
        assert_eq!(c.phone.to_string(), "+5511954879564");
        assert_eq!(c.declared_billing.to_string(), "1234.50");
        assert_eq!(c.created, datetime!(2019-03-04 10:11:12.345 UTC));
        assert_eq!(c.updated, NOW);
        assert_eq!(
            m.company.as_ref().unwrap().legacy_created.as_deref(),
            Some("2019-03-04T10:11:12.345678")
        );
        assert_eq!(c.bank_accounts[0].agency.as_str(), "0001-9");
        // UUIDv7 at the legacy creation time: newest-first listing keeps the legacy order.
        assert_eq!(c.id.get_version_num(), 7);
        let again = map_company(&legacy, MissingCreated::Refuse, NOW + time::Duration::HOUR);
        assert_eq!(again.company.unwrap().company.id, c.id);
        let other = map_company(&row(18, "11954879564", vec![]), MissingCreated::Refuse, NOW);
        assert_ne!(other.company.unwrap().company.id, c.id);
    }

    #[test]
    fn a_bad_account_refuses_the_company_whole_and_says_why() {
        let legacy = row(
            5,
            "11954879564",
            vec![
                acct(1, "001", "1290-0", "1243"),
                acct(2, "001", "123245", "987654"),
            ],
        );
        let m = map_company(&legacy, MissingCreated::Refuse, NOW);
        assert!(m.company.is_none());
        assert_eq!(
            codes(&m),
            [
                (ACCOUNT_TABLE, 2, "invalid-agency"),
                (COMPANY_TABLE, 5, "refused-account")
            ]
        );
        assert_eq!(m.reports[0].value.as_deref(), Some("123245"));
    }

    #[test]
    fn account_numbers_are_masked_in_reports() {
        let legacy = row(5, "11954879564", vec![acct(9, "001", "1", "12345678X9")]);
        let m = map_company(&legacy, MissingCreated::Refuse, NOW);
        let report = &m.reports[0];
        assert_eq!(report.field.as_deref(), Some("account_number"));
        assert_eq!(report.value.as_deref(), Some("******78X9"));
    }

    #[test]
    fn the_same_account_twice_is_imported_once_and_reported_merged() {
        let legacy = row(
            6,
            "11954879564",
            vec![
                acct(1, "001", "0001", "1243-0"),
                acct(2, "001", "1", "0001243-0"),
            ],
        );
        let m = map_company(&legacy, MissingCreated::Refuse, NOW);
        assert_eq!(m.company.as_ref().unwrap().company.bank_accounts.len(), 1);
        assert_eq!(codes(&m), [(ACCOUNT_TABLE, 2, "same-account-twice")]);
        assert_eq!(m.reports[0].outcome, RowOutcome::Merged);
    }

    #[test]
    fn unknown_banks_bad_phones_and_names_are_refused_with_their_rule() {
        let m = map_company(
            &row(7, "954879564", vec![acct(1, "999", "1", "1")]),
            MissingCreated::Refuse,
            NOW,
        );
        assert_eq!(
            codes(&m),
            [
                (ACCOUNT_TABLE, 1, "unknown-bank"),
                (COMPANY_TABLE, 7, "refused-account"),
                (COMPANY_TABLE, 7, "invalid-phone"),
            ]
        );
        let mut spaced = row(8, "11954879564", vec![]);
        spaced.company_name = " Padaria ".into();
        let m = map_company(&spaced, MissingCreated::Refuse, NOW);
        assert!(m.company.is_none());
        assert_eq!(codes(&m)[0], (COMPANY_TABLE, 8, "name-would-be-trimmed"));
    }

    #[test]
    fn a_null_created_is_refused_unless_asked_for_and_then_recorded_as_null() {
        let mut legacy = row(9, "11954879564", vec![]);
        legacy.created = None;
        let m = map_company(&legacy, MissingCreated::Refuse, NOW);
        assert_eq!(codes(&m), [(COMPANY_TABLE, 9, "missing-created")]);
        let m = map_company(&legacy, MissingCreated::ImportTime, NOW);
        let mapped = m.company.unwrap();
        assert_eq!((mapped.company.created, mapped.legacy_created), (NOW, None));
    }
}
