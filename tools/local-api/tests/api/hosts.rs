//! The local API answers only requests addressed to this machine's loopback: a page on another
//! site whose name was rebound to 127.0.0.1 (DNS rebinding) cannot drive it from a browser.

use crate::common::Api;
use companies_store::MemoryStore;
use serde_json::json;

#[tokio::test]
async fn requests_for_other_hosts_are_refused_and_write_nothing() {
    let api = Api::start(MemoryStore::new()).await;
    let body =
        json!({"company_name": "Rebound Ltda", "phone": "11978235674", "declared_billing": 1});
    for host in [
        "evil.example",
        "evil.example:3000",
        "127.0.0.1.nip.io",
        "10.0.0.5:3000",
    ] {
        let refused = api
            .post("/companies")
            .header("host", host)
            .json(&body)
            .await;
        assert_eq!(refused.status(), 403, "{host}");
        assert_eq!(refused.headers()["cache-control"], "no-store");
        let docs = api.get("/docs/").header("host", host).await;
        assert_eq!(docs.status(), 403, "{host}");
    }
    let listing = api.get("/companies").read_json().await;
    assert_eq!(listing["items"], json!([]), "a refused request wrote");
    for host in ["localhost:3000", "127.0.0.1", "[::1]:8080", "LOCALHOST."] {
        let page = api.get("/docs/").header("host", host).await;
        assert_eq!(page.status(), 200, "{host}");
    }
    assert!(local_api::allowed_host("localhost"));
    assert!(!local_api::allowed_host("localhost.evil.example"));
    assert!(!local_api::allowed_host("[::2]:80"));
}
