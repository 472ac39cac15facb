//! The company the sample events (`events/*.json`) name, so that each event answers as it
//! says against a fresh table: `scripts/sam-local.sh` files it, and the SAM suite files it
//! again before each event.

use companies::{input, now, Audit, ChangeKind, Company};
use companies_store::{CompanyCreator, CompanyReader, StoreError};
use uuid::Uuid;

/// The id in the events' paths.
pub const COMPANY_ID: Uuid = Uuid::from_u128(0x0193a5b2_7c1d_7e4f_9a10_3b5c7d9e1f20);
/// The bank account id in the account events' paths.
pub const ACCOUNT_ID: Uuid = Uuid::from_u128(0x0193a5b2_7c1d_7e4f_9a10_3b5c7d9e1f21);

/// Creates the sample company at version 1 (with its one bank account) unless it exists.
/// Whether it was created.
pub async fn file<S: CompanyCreator + CompanyReader>(store: &S) -> Result<bool, StoreError> {
    if store.get(COMPANY_ID).await?.is_some() {
        return Ok(false);
    }
    let doc = serde_json::json!({
        "company_name": "Sample Events Ltda", "phone": "11978235674", "declared_billing": "1000.00",
        "bank_accounts": [{"bank_code": "001", "agency": "1234", "account_number": "56789-0"}]
    });
    let Some(doc) = doc.as_object() else {
        return Ok(false);
    };
    let input = input::company(doc)
        .map_err(|_| StoreError::Unavailable("the sample company is refused".into()))?;
    let mut company = Company::create(input, now());
    company.id = COMPANY_ID;
    if let Some(account) = company.bank_accounts.first_mut() {
        account.id = ACCOUNT_ID;
    }
    let audit = Audit {
        operation: ChangeKind::Create,
        actor: "sample-events".into(),
        request_id: "sample-events".into(),
        lambda_request_id: None,
    };
    store
        .create(&company, None, Some(&audit.created(&company)))
        .await?;
    Ok(true)
}
