//! Support for the test suites of this workspace (contract, end-to-end): a DynamoDB store on a
//! fresh table of the DynamoDB-compatible server named by `AWS_ENDPOINT_URL_DYNAMODB`.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use std::collections::BTreeSet;

use uuid::Uuid;

use companies::{input, now, search, Audit, ChangeKind, Company};
use serde_json::json;

use crate::{DynamoStore, MemoryStore, StoreError};

/// A store on a new, empty table, or `None` when no local DynamoDB is configured. With
/// `REQUIRE_DYNAMODB=1` (what `make test` sets) a missing endpoint is a failure, not a skip.
pub async fn dynamo_store(suite: &str) -> Option<DynamoStore> {
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        assert!(
            std::env::var("REQUIRE_DYNAMODB").as_deref() != Ok("1"),
            "REQUIRE_DYNAMODB=1 but AWS_ENDPOINT_URL_DYNAMODB is not set"
        );
        eprintln!("AWS_ENDPOINT_URL_DYNAMODB is not set: skipping the DynamoDB run of {suite}");
        return None;
    }
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let table = format!(
        "{suite}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let store = DynamoStore::connect(table).await;
    if let Err(e) = store.ensure_table().await {
        panic!("cannot create a test table: {e}");
    }
    Some(store)
}

/// Consistency checks on a store's raw contents, for tests.
pub trait MarkerAudit: Send + Sync {
    /// Every CNPJ marker as (CNPJ, company id).
    fn tax_id_markers(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, Uuid)>, StoreError>> + Send;

    /// Every name index entry as (term, position).
    fn name_index(
        &self,
    ) -> impl Future<Output = Result<BTreeSet<(String, String)>, StoreError>> + Send;
}

/// The name index entries `companies` must have, and no others: see `model::search`.
pub fn expected_name_index<'a>(
    companies: impl IntoIterator<Item = &'a Company>,
) -> BTreeSet<(String, String)> {
    companies
        .into_iter()
        .flat_map(|c| {
            let position = search::position(&search::name_key(&c.company_name), c.id);
            search::index_terms(&c.company_name)
                .into_iter()
                .map(move |term| (term, position.clone()))
        })
        .collect()
}

/// Files company `id` in the name index under every prefix (up to the cap) of `words`, at the
/// name key `key`, bypassing every rule: the entries an earlier folding or an older name left
/// behind, for a reindex to find. How many entries.
pub async fn file_raw(store: &DynamoStore, id: Uuid, words: &[&str], key: &str) -> usize {
    let terms = search::terms_of(words);
    for term in &terms {
        let entry = crate::dynamo::items::name_entry_item(term, key, id);
        if let Err(e) = store.put_raw(entry).await {
            panic!("cannot file a raw index entry: {e}");
        }
    }
    terms.len()
}

impl MarkerAudit for MemoryStore {
    async fn tax_id_markers(&self) -> Result<Vec<(String, Uuid)>, StoreError> {
        MemoryStore::tax_id_markers(self)
    }

    /// The memory store keeps no index: it searches its companies, so its index is exactly
    /// theirs.
    async fn name_index(&self) -> Result<BTreeSet<(String, String)>, StoreError> {
        Ok(expected_name_index(&MemoryStore::companies(self)?))
    }
}

impl MarkerAudit for DynamoStore {
    async fn tax_id_markers(&self) -> Result<Vec<(String, Uuid)>, StoreError> {
        DynamoStore::tax_id_markers(self).await
    }

    async fn name_index(&self) -> Result<BTreeSet<(String, String)>, StoreError> {
        DynamoStore::name_index(self).await
    }
}

/// A valid company named `name`, with an address and two bank accounts, created now.
pub fn sample_company(name: &str) -> Company {
    let doc = json!({
        "company_name": name, "phone": "11978235674",
        "declared_billing": "9999999999.99",
        "address": {"street": "Av. Paulista", "number": "1000", "city": "São Paulo", "state": "SP",
                    "postal_code": "01310-100"},
        "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"},
                          {"bank_code": "001", "agency": "0001-9", "account_number": "12345-X"}]
    });
    let fields = doc.as_object().expect("an object");
    Company::create(input::company(fields).expect("a valid company"), now())
}

/// The next version of `company`, renamed `name`.
pub fn renamed(company: &Company, name: &str) -> Company {
    let mut doc = company.to_document();
    doc.insert("company_name".into(), json!(name));
    company.replaced_by(input::company(&doc).expect("a valid company"), now())
}

/// Who makes a test's change of kind `kind`.
pub fn test_audit(kind: ChangeKind) -> Audit {
    Audit {
        operation: kind,
        actor: "tester".into(),
        request_id: "r-1".into(),
        lambda_request_id: None,
    }
}
