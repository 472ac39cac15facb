//! The addresses the API answers with. Under a custom domain, API Gateway hands the function
//! the path with the mapping's base path (`rawPath` `/v1/companies` for the route `POST
//! /companies`); under the API's own endpoint, without. A `Location` names what was created
//! under the path the caller used, so that following it stays inside the mapping.

use companies_edge::deploy_hook::probes::probe;
use companies_edge::http::IntoResponse;
use companies_edge::operations::{dispatch, Handler, Operation, OPERATIONS};
use companies_store::testing::sample_company;
use companies_store::MemoryStore;
use serde_json::Value;

fn operation(handler: Handler) -> &'static Operation {
    OPERATIONS.iter().find(|o| o.handler == handler).unwrap()
}

/// `handler`'s answer to its API Gateway event for `path` (with `id` as its `{id}`), carrying
/// `body`: status and `Location`.
async fn answer(
    store: &MemoryStore,
    handler: Handler,
    path: &str,
    id: Option<&str>,
    body: Option<Value>,
) -> (u16, Option<String>) {
    let mut request = probe(operation(handler)).unwrap();
    request.path = path.to_owned();
    if let Some(id) = id {
        request.path_parameters = vec![("id", id.to_owned())];
    }
    if body.is_some() {
        request.body = body;
    }
    let event = request.event().to_string();
    let req = lambda_http::request::from_str(&event).unwrap();
    let (response, _) = dispatch(store, handler, req).await.into_parts();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (response.status().as_u16(), location)
}

#[tokio::test]
async fn a_location_stays_under_the_path_the_caller_used() {
    for base in ["", "/v1"] {
        let store = MemoryStore::default();
        let company = Value::Object(sample_company("Endereço Ltda").to_document());
        let companies = format!("{base}/companies");
        let (status, location) = answer(
            &store,
            Handler::CreateCompany,
            &companies,
            None,
            Some(company),
        )
        .await;
        assert_eq!(status, 201, "{base}");
        let location = location.expect("a Location");
        let id = location
            .strip_prefix(&format!("{companies}/"))
            .unwrap_or_else(|| panic!("{location} is not under {companies}"))
            .to_owned();
        let (status, _) = answer(&store, Handler::GetCompany, &location, Some(&id), None).await;
        assert_eq!(status, 200, "{location}");

        let accounts = format!("{location}/bank-accounts");
        let (status, added) =
            answer(&store, Handler::AddBankAccount, &accounts, Some(&id), None).await;
        assert_eq!(status, 201, "{accounts}");
        let added = added.expect("a Location");
        let account = added
            .strip_prefix(&format!("{accounts}/"))
            .unwrap_or_else(|| panic!("{added} is not under {accounts}"));
        assert!(uuid::Uuid::parse_str(account).is_ok(), "{added}");
    }
}
