//! A later run after a cut-over window: what changed in the Flask service since is brought
//! over, what changed through the API too is reported, not overwritten.

use companies_store::testing::expected_name_index;
use serde_json::{json, Value};

use crate::helpers::{as_dry_run, contents, fixture, setup, stored};

/// A cut-over: the Flask service kept running after a first run, and a second run (the one
/// made once it stops) must bring over what changed there, without undoing what was changed
/// through the API meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_run_brings_over_what_changed_in_the_flask_service_since() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    s.import(&["--null-created-as-import-time"]);
    let mut before = Vec::new();
    for row in [1, 2, 3, 10, 5] {
        before.push(s.by_legacy_id(row).await.unwrap());
    }
    let [padaria, transportes, acougue, mercado, mercearia] = &before[..] else {
        unreachable!()
    };
    // Through the API: row 2's company renamed, row 3's billing changed.
    let id = |c: &Value| c["id"].as_str().unwrap().to_owned();
    s.patch(
        &id(transportes),
        json!({"company_name": "Transportes Sao Jose ME"}),
    )
    .await;
    let acougue_now = s
        .patch(&id(acougue), json!({"declared_billing": "10.00"}))
        .await;
    // In the Flask service: row 1's phone and one account's agency changed and an account
    // added; row 10 renamed; row 2's phone changed (its company was changed through the API
    // too); row 4's phone fixed (it was refused); row 5 (imported with the time of the first
    // run as its `created`) given an account.
    s.legacy(
        "UPDATE client_company SET phone = '5511911112222' WHERE id = 1;
         UPDATE company_bank_account SET agency = '0002-7' WHERE id = 2;
         INSERT INTO company_bank_account (id, agency, account_number, bank_code, company_id)
           VALUES (20, '3333', '44444-4', '104', 1), (21, '0042', '88888-8', '260', 5);
         UPDATE client_company SET company_name = 'Supermercado Bom Preço' WHERE id = 10;
         UPDATE client_company SET phone = '11978230000' WHERE id = 2;
         UPDATE client_company SET phone = '11954879564' WHERE id = 4;",
    )
    .await;

    // A dry run says what the run will do, and does none of it. Rows 1, 5 and 10 are to
    // update (row 2's company changed through the API too: reported, not rewritten): 3 of 5
    // imported, a mass update by the share, which is meant here.
    let table = s.all().await;
    let args = ["--null-created-as-import-time", "--allow-mass-update"];
    let (_, preview, _) = s.import(&[&args[..], &["--dry-run"]].concat());
    assert_eq!(s.all().await, table, "a dry run wrote");
    assert_eq!(
        (&preview["rows_to_update"], &preview["rows_unchanged"]),
        (&json!(3), &json!(1)),
        "{preview}"
    );
    let (status, summary, stderr) = s.import(&args);
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(
        (
            &summary["companies_written"],
            &summary["companies_updated"],
            &summary["companies_already_present"]
        ),
        (&json!(1), &json!(3), &json!(1)),
        "{summary}"
    );
    assert_eq!(preview, as_dry_run(&summary));
    assert_eq!(summary["refused"]["changed-on-both-sides"], 1, "{summary}");
    let conflict = s.rejects_coded("changed-on-both-sides");
    assert_eq!(conflict.len(), 1);
    assert_eq!(
        (&conflict[0]["table"], &conflict[0]["legacy_id"]),
        (&json!("client_company"), &json!(2))
    );
    assert!(conflict[0]["rule"]
        .as_str()
        .unwrap()
        .contains(&id(transportes)));

    // Row 1: the same company, a new version holding the row as it is now; the account that
    // kept its row keeps its id, the changed one too (same row), the new one gets its own.
    let padaria_now = s.by_legacy_id(1).await.unwrap();
    assert_eq!(id(&padaria_now), id(padaria));
    assert_eq!(padaria_now["version"], 2);
    assert_eq!(padaria_now["created"], padaria["created"]);
    assert_eq!(padaria_now["phone"], "+5511911112222");
    let accounts = padaria_now["bank_accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    assert_eq!(accounts[0], padaria["bank_accounts"][0]);
    assert_eq!(accounts[1]["id"], padaria["bank_accounts"][1]["id"]);
    assert_eq!(accounts[1]["agency"], "0002-7");
    assert_eq!(accounts[2]["account_number"], "44444-4");
    let (_, history) = s.get(&format!("/companies/{}/history", id(padaria))).await;
    let entry = &history["items"][0];
    assert_eq!(
        (&entry["version"], &entry["operation"], &entry["legacy_id"]),
        (&json!(2), &json!("import"), &json!(1))
    );
    assert_eq!(
        entry["changes"],
        json!({"phone": "+5511911112222", "bank_accounts": accounts})
    );
    // Row 10: found by its new name, no longer by the old one.
    assert_eq!(
        s.by_legacy_id(10).await.unwrap()["company_name"],
        "Supermercado Bom Preço"
    );
    let (_, found) = s.get("/companies?q=supermercado").await;
    assert_eq!(found["items"][0]["id"], mercado["id"]);
    let (_, found) = s.get("/companies?q=mercado+bom").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 0, "{found}");
    // Row 5: keeps the id and `created` of the first run.
    let mercearia_now = s.by_legacy_id(5).await.unwrap();
    assert_eq!(
        (&mercearia_now["id"], &mercearia_now["created"]),
        (&mercearia["id"], &mercearia["created"])
    );
    assert_eq!(
        mercearia_now["bank_accounts"][0]["account_number"],
        "88888-8"
    );
    // Row 2 keeps what the API made of it; row 3 too (its row did not change); row 4 arrives.
    let transportes_now = s.by_legacy_id(2).await.unwrap();
    assert_eq!(
        (&transportes_now["company_name"], &transportes_now["phone"]),
        (&json!("Transportes Sao Jose ME"), &transportes["phone"])
    );
    assert_eq!(s.by_legacy_id(3).await.unwrap(), acougue_now);
    assert_eq!(s.by_legacy_id(4).await.unwrap()["phone"], "+5511954879564");
    // The index is exactly that of the companies.
    let (companies, index, _) = contents(&s).await;
    let stored = stored(&s, &companies).await;
    assert_eq!(index, expected_name_index(&stored));

    // Once more: nothing left to bring over; the conflict is still reported.
    let table = s.all().await;
    let (status, again, _) = s.import(&["--null-created-as-import-time"]);
    assert_eq!(status, 2);
    assert_eq!(
        (
            &again["companies_written"],
            &again["companies_updated"],
            &again["companies_already_present"],
            &again["refused"]["changed-on-both-sides"]
        ),
        (&json!(0), &json!(0), &json!(5), &json!(1)),
        "{again}"
    );
    assert_eq!(
        s.all().await,
        table,
        "a run with nothing to bring over wrote"
    );
}
