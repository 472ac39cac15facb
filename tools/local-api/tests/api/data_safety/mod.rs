//! End-to-end: the data-safety promises — idempotent creates, one company per CNPJ, and no lost
//! or duplicated write under races — on the in-memory store and on DynamoDB (where the races
//! are real: many writers at once against DynamoDB Local).

mod idempotency;
mod mixed_writers;
mod one_per_cnpj;
mod races;

use std::collections::BTreeSet;

use crate::common::{acme, Api};
use companies_store::testing::MarkerAudit;
use serde_json::{json, Value};

const CNPJ: &str = "60.746.948/0001-12";
const CNPJ_DIGITS: &str = "60746948000112";
const OTHER_CNPJ: &str = "12.ABC.345/01DE-35";

fn with_cnpj(name: &str, cnpj: Option<&str>) -> Value {
    let mut body = acme();
    body["company_name"] = json!(name);
    if let Some(c) = cnpj {
        body["tax_id"] = json!(c);
    }
    body
}

async fn all_companies(api: &Api) -> Vec<Value> {
    let page = api.get("/companies?limit=100").read_json().await;
    page["items"].as_array().unwrap().clone()
}

/// Every marker points at a live company holding that CNPJ, and every CNPJ has its marker.
async fn assert_no_orphan_markers<S: MarkerAudit>(api: &Api, store: &S) {
    let markers: BTreeSet<(String, String)> = store
        .tax_id_markers()
        .await
        .unwrap()
        .into_iter()
        .map(|(c, id)| (c, id.to_string()))
        .collect();
    let held: BTreeSet<(String, String)> = all_companies(api)
        .await
        .iter()
        .filter_map(|c| {
            Some((
                c["tax_id"].as_str()?.to_owned(),
                c["id"].as_str()?.to_owned(),
            ))
        })
        .collect();
    assert_eq!(markers, held);
}
