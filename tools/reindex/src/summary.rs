//! What a run prints: the report as one JSON document on stdout, and a summary for a person on
//! stderr. CNPJs are masked in both (the report's own), as in every log.

use companies_store::dynamo::reindex::ReindexReport;
use companies_store::dynamo::repair::RepairReport;

fn verb(dry_run: bool) -> &'static str {
    if dry_run {
        "would repair (dry run)"
    } else {
        "repaired"
    }
}

/// The report as one line of JSON on stdout.
fn print_json(json: serde_json::Result<String>) {
    match json {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("companies-reindex: the report cannot be written as JSON: {e}"),
    }
}

/// The summary of the name index part of a run.
fn name_index(report: &ReindexReport) {
    eprintln!(
        "  name index: {} entries; {}: {} companies ({} entries written, {} deleted)",
        report.entries,
        verb(report.dry_run),
        report.companies_repaired,
        report.entries_written,
        report.entries_deleted
    );
    if report.unreadable_entries > 0 {
        eprintln!(
            "  entries whose key is not a position (left alone): {}",
            report.unreadable_entries
        );
    }
    for failure in &report.failed {
        eprintln!("  not repaired: {}: {}", failure.company, failure.error);
    }
}

/// What a reindex prints.
pub fn reindex(report: &ReindexReport) {
    eprintln!(
        "companies-reindex: scanned {} items: {} companies",
        report.items_scanned, report.companies
    );
    name_index(report);
    if !report.failed.is_empty() {
        eprintln!("companies-reindex: some companies were not repaired; run it again");
    }
    print_json(serde_json::to_string(report));
}

/// What a repair prints.
pub fn repair(report: &RepairReport) {
    let verb = verb(report.dry_run);
    eprintln!(
        "companies-reindex --repair: scanned {} items: {} companies ({} unreadable items left \
         alone); run {}",
        report.items_scanned, report.companies, report.unreadable_items, report.run
    );
    name_index(&report.name_index);
    let tax = &report.tax_id_markers;
    eprintln!(
        "  CNPJ markers: {}; {verb}: {} deleted, {} written; conflicts: {}",
        tax.markers,
        tax.deleted.len(),
        tax.written.len(),
        tax.conflicts.len()
    );
    for c in &tax.conflicts {
        let holders: Vec<String> = c.holders.iter().map(ToString::to_string).collect();
        eprintln!("    conflict: {} held by {}", c.cnpj, holders.join(", "));
    }
    let legacy = &report.legacy_markers;
    eprintln!(
        "  legacy markers: {}; {verb}: {} deleted; of companies deleted since: {}; without \
         any record (kept): {}",
        legacy.markers,
        legacy.deleted.len(),
        legacy.of_deleted_companies,
        legacy.without_record.len()
    );
    let history = &report.history;
    eprintln!(
        "  history: {} entries; {verb}: {} written; companies missing: {}; ahead of their \
         company: {}",
        history.entries,
        history.written.len(),
        history.companies_missing.len(),
        history.ahead.len()
    );
    for m in &history.companies_missing {
        eprintln!(
            "    company {} is absent, its history at version {} records no delete",
            m.company, m.version
        );
    }
    for a in &history.ahead {
        eprintln!(
            "    company {} is at version {}, its history at {}",
            a.company, a.version, a.entry
        );
    }
    for f in &report.failed {
        eprintln!("  not repaired: {:?} {}: {}", f.kind, f.subject, f.error);
    }
    if report.unresolved > 0 {
        eprintln!(
            "companies-reindex: {} disagreements need a person (listed above and in the report)",
            report.unresolved
        );
    }
    if !report.failed.is_empty() || !report.name_index.failed.is_empty() {
        eprintln!("companies-reindex: some items were not repaired; run it again");
    }
    print_json(serde_json::to_string(report));
}
