//! The change guard: a run that would overwrite much of what was imported (pointed at the
//! wrong database: another stage's, a test copy) writes nothing unless told the change is
//! meant; a catch-up of a few changes runs as before.

use serde_json::{json, Value};

use crate::helpers::{as_dry_run, cluster, generated, legacy_database, run_to_end, setup, Setup};

/// The same rows with other ids: none of them is a row the table imported.
const OTHER_IDS: &str = "
    ALTER TABLE company_bank_account DROP CONSTRAINT company_bank_account_company_id_fkey;
    UPDATE client_company SET id = id + 1000;
    UPDATE company_bank_account SET company_id = company_id + 1000;";

/// The importer run on `s`'s table from the database at `url`.
fn import_from(s: &Setup, url: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut command = s.command(&[&["--quiet"][..], extra].concat());
    command.env("DATABASE_URL", url);
    run_to_end(command)
}

/// Pointed at a copy whose rows have the imported ids but other names, a run would rewrite
/// every imported company: it writes nothing and says why (exit 1), with --allow-mass-delete
/// too; the dry run shows the share. A copy holding none of the imported rows is refused as
/// well, with or without --carry-deletions. --allow-mass-update lets the run do it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_from_another_database_overwrites_nothing_unless_asked() {
    let Some(s) = setup(&generated(20)).await else {
        return;
    };
    let (_, first, _) = s.import(&["--quiet"]);
    assert_eq!(first["companies_written"], 19, "{first}");
    let before = s.all().await;
    let cluster = cluster().unwrap();
    let renamed = "UPDATE client_company SET company_name = company_name || ' Outra';";
    let other = legacy_database(&cluster, &format!("{}\n{renamed}", generated(20))).await;

    let (code, preview, stderr) = import_from(&s, &other, &["--dry-run"]);
    assert_ne!(code, 1, "a dry run is a preview, not a failure: {stderr}");
    assert!(stderr.contains("a run would stop here"), "{stderr}");
    assert_eq!(
        (
            &preview["rows_imported"],
            &preview["rows_unchanged"],
            &preview["rows_to_update"],
            &preview["update_share_percent"],
            &preview["mass_update_refused"]
        ),
        (
            &json!(19),
            &json!(0),
            &json!(19),
            &json!(100.0),
            &json!(true)
        ),
        "{preview}"
    );
    for extra in [&[][..], &["--carry-deletions", "--allow-mass-delete"]] {
        let (code, summary, stderr) = import_from(&s, &other, extra);
        assert_eq!(code, 1, "{extra:?}: {stderr}");
        assert!(
            stderr.contains("refusing to rewrite 19 of the 19 imported companies (100 %")
                && stderr.contains("Nothing was written")
                && stderr.contains("--allow-mass-update"),
            "{extra:?}: {stderr}"
        );
        if extra.is_empty() {
            assert_eq!(preview, as_dry_run(&summary));
        }
        assert_eq!(s.all().await, before, "{extra:?}: written");
    }

    let disjoint = legacy_database(&cluster, &format!("{}\n{OTHER_IDS}", generated(20))).await;
    for extra in [&[][..], &["--carry-deletions"]] {
        let (code, summary, stderr) = import_from(&s, &disjoint, extra);
        assert_eq!(code, 1, "{extra:?}: {stderr}");
        assert!(
            stderr.contains("none of the 19 imported companies is in the source"),
            "{extra:?}: {stderr}"
        );
        assert_eq!(summary["companies_written"], 0);
        assert_eq!(s.all().await, before, "{extra:?}: written");
    }

    let (code, summary, stderr) = import_from(&s, &other, &["--allow-mass-update"]);
    assert_eq!(code, 2, "one in 50 companies has a bad agency: {stderr}");
    assert_eq!(summary["companies_updated"], 19, "{summary}");
    let names = s.all().await;
    assert!(names
        .iter()
        .all(|c| c["company_name"].as_str().unwrap().ends_with(" Outra")));
}

/// A later run after a few rows changed (3 of 39 imported, 7.7 %) brings them over without
/// being asked; past 10 % (5 more) it stops, having written nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_of_a_few_changes_runs_without_asking() {
    let Some(s) = setup(&generated(40)).await else {
        return;
    };
    s.import(&["--quiet"]);
    s.legacy("UPDATE client_company SET phone = '21987654321' WHERE id IN (2, 3, 4);")
        .await;
    let (code, summary, stderr) = s.import(&["--quiet"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        (
            &summary["rows_to_update"],
            &summary["companies_updated"],
            &summary["update_share_percent"],
            &summary["mass_update_refused"]
        ),
        (&json!(3), &json!(3), &json!(7.7), &json!(false)),
        "{summary}"
    );
    s.legacy("UPDATE client_company SET phone = '21987654321' WHERE id BETWEEN 10 AND 14;")
        .await;
    let before = s.all().await;
    let (code, summary, stderr) = s.import(&["--quiet"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        (&summary["rows_to_update"], &summary["mass_update_refused"]),
        (&json!(5), &json!(true)),
        "{summary}"
    );
    assert_eq!(s.all().await, before, "a refused run wrote");
}
