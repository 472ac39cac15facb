//! The counts of a run, the rejects file's lines that feed them, and the report of both printed
//! at the end: on stderr for the operator, and as one JSON line on stdout.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context as _;
use serde::Serialize;

use crate::legacy::{RowOutcome, RowReport};

/// The end of a run, printed as the summary.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub companies_read: u64,
    pub accounts_read: u64,
    /// Companies (and their accounts) that pass every rule: what a run writes or finds present.
    pub companies_valid: u64,
    pub accounts_valid: u64,
    pub companies_written: u64,
    pub accounts_written: u64,
    pub companies_already_present: u64,
    pub accounts_already_present: u64,
    /// Companies imported by an earlier run whose row changed since: the change carried over.
    pub companies_updated: u64,
    /// Companies imported by an earlier run whose row is gone from the source: deleted (with
    /// `carry_deletions`).
    pub companies_deleted: u64,
    /// Whether the run looked for rows deleted from the source.
    pub carry_deletions: bool,
    /// Rows imported by earlier runs (the table's legacy markers), when the run read the
    /// table; of those, the rows the source holds as they were imported, and those changed
    /// there since whose companies the run rewrites: see [`preview`](super::preview).
    pub rows_imported: u64,
    pub rows_unchanged: u64,
    pub rows_to_update: u64,
    /// `rows_to_update` in percent of `rows_imported`, to one decimal.
    pub update_share_percent: f64,
    /// The run was refused as a mass update (see
    /// [`mass_update`](super::preview::mass_update)): nothing written.
    pub mass_update_refused: bool,
    /// With `carry_deletions`: the rows imported that the source no longer holds and whose
    /// company still exists (not deleted through the API, or by an earlier run).
    pub rows_gone: u64,
    /// Deleting them was refused as a mass deletion (see
    /// [`mass_deletion`](super::deletions::mass_deletion)): nothing deleted.
    pub mass_delete_refused: bool,
    /// Rows refused, by rule.
    pub refused: BTreeMap<String, u64>,
    /// Account rows imported as another row of the same company.
    pub merged: u64,
    pub dry_run: bool,
    /// Whether the run read the table: in a dry run, the counts of companies written, already
    /// present, updated and deleted are what a run would find.
    pub read_table: bool,
}

impl Summary {
    pub fn refused_rows(&self) -> u64 {
        self.refused.values().sum()
    }

    /// Counts `report` and writes it as a line of the rejects file: the record of what was not
    /// imported as it stood.
    pub(super) fn record_report(
        &mut self,
        rejects: &mut dyn Write,
        report: &RowReport,
    ) -> anyhow::Result<()> {
        match report.outcome {
            RowOutcome::Refused => *self.refused.entry(report.code.clone()).or_default() += 1,
            RowOutcome::Merged => self.merged += 1,
        }
        let line = serde_json::to_string(report).context("cannot encode a rejects line")?;
        writeln!(rejects, "{line}").context("cannot write the rejects file")
    }

    /// Prints the counts on stderr and the summary as one JSON line on stdout.
    pub fn print(&self) {
        eprintln!(
            "companies-import: read {} companies and {} bank accounts",
            self.companies_read, self.accounts_read
        );
        if !self.read_table {
            eprintln!(
                "  would write (dry run, without reading the table): {} companies, {} bank accounts",
                self.companies_valid, self.accounts_valid
            );
        } else {
            let verb = |done: &'static str, would: &'static str| {
                if self.dry_run {
                    would
                } else {
                    done
                }
            };
            eprintln!(
                "  {}: {} companies, {} bank accounts",
                verb("written", "would write (dry run)"),
                self.companies_written,
                self.accounts_written
            );
            eprintln!(
                "  already present: {} companies, {} bank accounts",
                self.companies_already_present, self.accounts_already_present
            );
            eprintln!(
                "  {} (changed in the Flask service since an earlier run): {} companies",
                verb("updated", "would update"),
                self.companies_updated
            );
            eprintln!(
                "  imported rows to update (changed in the source since): {} of {} ({} %){}",
                self.rows_to_update,
                self.rows_imported,
                self.update_share_percent,
                if self.mass_update_refused {
                    " (a mass update: refused without --allow-mass-update)"
                } else {
                    ""
                }
            );
            if self.carry_deletions {
                eprintln!(
                    "  {} (deleted from the Flask service since an earlier run): {} companies",
                    verb("deleted", "would delete"),
                    self.companies_deleted
                );
                eprintln!(
                    "  rows gone from the source: {} of {} imported{}",
                    self.rows_gone,
                    self.rows_imported,
                    if self.mass_delete_refused {
                        " (a mass deletion: refused without --allow-mass-delete)"
                    } else {
                        ""
                    }
                );
            }
        }
        eprintln!(
            "  merged (the same account twice on one company): {}",
            self.merged
        );
        eprintln!("  refused: {} rows", self.refused_rows());
        for (rule, n) in &self.refused {
            eprintln!("    {rule}: {n}");
        }
        if let Ok(json) = serde_json::to_string(self) {
            println!("{json}");
        }
    }
}
