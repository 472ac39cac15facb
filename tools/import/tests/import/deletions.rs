//! `--carry-deletions`: the companies of rows deleted from the Flask service deleted, unless
//! changed through the API since, and never a mass deletion unless it is said to be meant.

use companies_store::testing::expected_name_index;
use serde_json::{json, Value};

use crate::helpers::{as_dry_run, contents, fixture, generated, setup, stored};

/// Rows deleted from the Flask database since they were imported: a run with
/// `--carry-deletions` deletes their companies (with a history entry naming the run), except one
/// changed through the API since (reported, kept); a run without it deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_carrying_deletions_deletes_what_the_flask_service_deleted() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    s.import(&[]);
    let id = |c: Option<Value>| c.unwrap()["id"].as_str().unwrap().to_owned();
    let (padaria, transportes, acougue, mercado) = (
        id(s.by_legacy_id(1).await),
        id(s.by_legacy_id(2).await),
        id(s.by_legacy_id(3).await),
        id(s.by_legacy_id(10).await),
    );
    // Through the API: row 3's company changed, row 1's deleted.
    let acougue_now = s
        .patch(&acougue, json!({"declared_billing": "10.00"}))
        .await;
    let r = s
        .http
        .delete(format!("{}/companies/{padaria}", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // In the Flask service (whose delete leaves the accounts behind): rows 1, 2, 3 and 10.
    s.legacy(
        "UPDATE company_bank_account SET company_id = NULL WHERE company_id IN (1, 2, 3, 10);
         DELETE FROM client_company WHERE id IN (1, 2, 3, 10);",
    )
    .await;

    // None of the rows imported is left in the source as it was: refused as a mass update
    // (a wrong source?), whatever else is asked, unless --allow-mass-update says it is meant.
    let before = s.all().await;
    let (status, _, stderr) = s.import(&["--carry-deletions", "--allow-mass-delete"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("--allow-mass-update"), "{stderr}");
    let (_, summary, _) = s.import(&["--allow-mass-update"]);
    assert_eq!(
        (&summary["companies_deleted"], &summary["carry_deletions"]),
        (&json!(0), &json!(false))
    );
    assert_eq!(s.all().await, before, "deleted without --carry-deletions");

    // Four of the few rows imported: a mass deletion, which must be asked for. Row 1's
    // company, deleted through the API, is not counted gone: 3 of 4.
    let asked = [
        "--carry-deletions",
        "--allow-mass-delete",
        "--allow-mass-update",
    ];
    let (_, preview, _) = s.import(&[&asked[..], &["--dry-run"]].concat());
    assert_eq!(s.all().await, before, "a dry run deleted");
    let (status, summary, stderr) = s.import(&asked);
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(preview, as_dry_run(&summary));
    assert_eq!(
        (
            &summary["companies_deleted"],
            &summary["carry_deletions"],
            &summary["rows_gone"]
        ),
        (&json!(2), &json!(true), &json!(3)),
        "{summary}"
    );
    assert_eq!(summary["refused"]["changed-on-both-sides"], 1, "{summary}");
    let conflict = s.rejects_coded("changed-on-both-sides");
    assert_eq!(conflict.len(), 1);
    assert_eq!(conflict[0]["legacy_id"], 3);
    let rule = conflict[0]["rule"].as_str().unwrap();
    assert!(rule.contains("deleted from the Flask service") && rule.contains(&acougue));
    // Rows 2 and 10: their companies are gone, each with a history entry of the run.
    for gone in [&transportes, &mercado] {
        assert_eq!(s.get(&format!("/companies/{gone}")).await.0, 404);
        let (_, history) = s.get(&format!("/companies/{gone}/history")).await;
        let entry = &history["items"][0];
        assert_eq!(
            (&entry["operation"], &entry["version"]),
            (&json!("delete"), &json!(2))
        );
        assert!(entry["actor"]
            .as_str()
            .unwrap()
            .starts_with("companies-import"));
    }
    assert_eq!(s.by_legacy_id(2).await, None);
    assert_eq!(s.by_legacy_id(3).await, Some(acougue_now));
    let (companies, index, _) = contents(&s).await;
    assert_eq!(companies.len(), 1, "{companies:?}");
    assert_eq!(index, expected_name_index(&stored(&s, &companies).await));

    // Once more: nothing left to delete; the kept company is still reported, and the only
    // row gone whose company still exists (the deleted ones are not counted again).
    let (_, again, _) = s.import(&asked);
    assert_eq!(again["companies_deleted"], 0);
    assert_eq!(
        (&again["rows_gone"], &again["rows_imported"]),
        (&json!(1), &json!(4))
    );
    assert_eq!(again["refused"]["changed-on-both-sides"], 1);
    assert_eq!(s.all().await.len(), 1);
}

/// `--carry-deletions` pointed at a source that lost most of its rows, or all of them (an
/// empty restore, the wrong database), deletes nothing and stops (exit 1) unless
/// `--allow-mass-delete` says it is meant; the dry run shows the counts. A few rows gone (at
/// most 10 % of those imported) are deleted as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_carrying_deletions_refuses_to_empty_the_table() {
    let Some(s) = setup(&generated(20)).await else {
        return;
    };
    let (_, first, _) = s.import(&[]);
    let imported = first["companies_written"].as_u64().unwrap();
    assert!(imported >= 19, "{first}");
    // One row gone (row 1 was refused: its account's agency is too long): at most 10 %,
    // deleted without asking.
    s.legacy("UPDATE company_bank_account SET company_id = NULL WHERE company_id = 5; DELETE FROM client_company WHERE id = 5;")
        .await;
    let (_, summary, stderr) = s.import(&["--carry-deletions"]);
    assert_eq!(summary["companies_deleted"], 1, "{stderr}");
    assert_eq!(summary["mass_delete_refused"], false);
    // Three more (3 of 19): refused, nothing deleted, the counts said.
    s.legacy("UPDATE company_bank_account SET company_id = NULL WHERE company_id IN (2, 3, 4); DELETE FROM client_company WHERE id IN (2, 3, 4);")
        .await;
    let before = s.all().await;
    let (code, preview, _) = s.import(&["--carry-deletions", "--dry-run"]);
    assert_ne!(code, 1, "a dry run is a preview, not a failure");
    // Row 5's company, deleted by the run before, is not counted gone again.
    assert_eq!(
        (
            &preview["rows_gone"],
            &preview["mass_delete_refused"],
            &preview["companies_deleted"]
        ),
        (&json!(3), &json!(true), &json!(0)),
        "{preview}"
    );
    let (code, summary, stderr) = s.import(&["--carry-deletions"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("--allow-mass-delete") && stderr.contains("refusing"),
        "{stderr}"
    );
    assert_eq!(preview, as_dry_run(&summary));
    assert_eq!(s.all().await, before, "a refused mass deletion deleted");
    // An empty source: refused whatever the share, --allow-mass-delete or not (none of the
    // imported rows is in it: a mass update too).
    s.legacy("UPDATE company_bank_account SET company_id = NULL; DELETE FROM client_company;")
        .await;
    for extra in [&[][..], &["--allow-mass-delete"], &["--allow-mass-update"]] {
        let (code, summary, stderr) = s.import(&[&["--carry-deletions"][..], extra].concat());
        assert_eq!(code, 1, "{extra:?}: {stderr}");
        assert!(stderr.contains("holds no company"), "{extra:?}: {stderr}");
        assert_eq!(summary["companies_deleted"], 0);
        assert_eq!(s.all().await, before);
    }
    // Asked for: done.
    let (_, summary, stderr) = s.import(&[
        "--carry-deletions",
        "--allow-mass-delete",
        "--allow-mass-update",
    ]);
    assert_eq!(
        summary["companies_deleted"].as_u64(),
        Some(imported - 1),
        "{stderr}"
    );
    assert!(s.all().await.is_empty());
}
