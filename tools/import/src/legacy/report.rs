//! The line of the rejects file: a row refused (and why), merged into another, or changed on
//! both sides since it was imported.

use companies::Company;
use serde::Serialize;

use super::{ACCOUNT_TABLE, COMPANY_TABLE};

/// What happened to a row that was not imported as it stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowOutcome {
    /// Not imported: it breaks a rule.
    Refused,
    /// Imported as another row of the same company (the same account twice): nothing lost.
    Merged,
}

/// One line of the rejects file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowReport {
    pub outcome: RowOutcome,
    pub table: &'static str,
    pub legacy_id: i32,
    /// The offending column (or the API field it maps to), if one.
    pub field: Option<String>,
    /// The offending value; an account number masked but for its last four characters.
    pub value: Option<String>,
    /// A short, stable name of the rule, for the summary's counts.
    pub code: String,
    /// The rule in words.
    pub rule: String,
}

impl RowReport {
    /// A refusal of `field` of a row of `table`, coded `invalid-<field>` until [`Self::coded`].
    pub(super) fn refused(
        table: &'static str,
        legacy_id: i32,
        field: &str,
        value: Option<String>,
    ) -> Self {
        RowReport {
            outcome: RowOutcome::Refused,
            table,
            legacy_id,
            field: Some(field.to_owned()),
            value,
            code: format!("invalid-{}", field.replace('_', "-")),
            rule: String::new(),
        }
    }

    pub(super) fn because(mut self, rule: impl Into<String>) -> Self {
        self.rule = rule.into();
        self
    }

    pub(super) fn coded(mut self, code: &str) -> Self {
        self.code = code.to_owned();
        self
    }
}

/// What became of a row in the Flask service since it was imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinceImport {
    Changed,
    Deleted,
}

/// The report of a company row changed or deleted in the Flask service since it was imported,
/// while the company it became (now `current`; the import wrote version `imported`) was
/// changed through the API: the company is left as it is.
pub fn changed_on_both_sides(
    legacy_id: i32,
    since: SinceImport,
    current: &Company,
    imported: u64,
) -> RowReport {
    let id = current.id;
    let (there, here, what_to_do) = match since {
        SinceImport::Changed => (
            "changed in",
            "overwritten",
            format!(
                "Its history (GET /companies/{id}/history) shows the API's changes; make the \
                 company what it should be through the API. This row is reported until the \
                 company matches it"
            ),
        ),
        SinceImport::Deleted => (
            "deleted from",
            "deleted",
            "Delete it through the API if it should go; runs with --carry-deletions report it \
             until then"
                .to_owned(),
        ),
    };
    RowReport {
        outcome: RowOutcome::Refused,
        table: COMPANY_TABLE,
        legacy_id,
        field: None,
        value: None,
        code: "changed-on-both-sides".into(),
        rule: format!(
            "{there} the Flask service since it was imported, and company {id} was changed \
             through the API since (version {version}; the import wrote version {imported}): \
             not {here}. {what_to_do}",
            version = current.version,
        ),
    }
}

/// The report of an account row that belongs to no company.
pub fn orphan_account(id: i32) -> RowReport {
    RowReport::refused(ACCOUNT_TABLE, id, "company_id", None)
        .coded("orphan-account")
        .because(
            "company_id is NULL (the Flask service's delete left it behind): it belongs to no \
             company, so it is not imported",
        )
}
