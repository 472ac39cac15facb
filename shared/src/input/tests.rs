//! The validation rules of client documents.

use super::*;
use serde_json::json;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn fields(v: Value) -> Vec<String> {
    let mut f: Vec<String> = company(&obj(v))
        .unwrap_err()
        .into_iter()
        .map(|e| e.field)
        .collect();
    f.sort();
    f
}

fn minimal() -> Value {
    json!({"company_name": "  Acme  ", "phone": "11978235674", "declared_billing": 10})
}

#[test]
fn accepts_the_minimal_company() {
    let c = company(&obj(minimal())).unwrap();
    assert_eq!(c.company_name, "Acme");
    assert_eq!(c.phone.as_str(), "+5511978235674");
    assert_eq!(c.declared_billing.to_string(), "10.00");
    assert!(c.tax_id.is_none() && c.address.is_none() && c.bank_accounts.is_empty());
}

#[test]
fn accepts_a_full_company() {
    let c = company(&obj(json!({
        "company_name": "My Company", "phone": 5511978235674_u64, "tax_id": "60.746.948/0001-12",
        "declared_billing": "1235.69",
        "address": {"street": "Av. Paulista", "number": "1000", "city": "São Paulo", "state": "sp",
                    "postal_code": "01310-100"},
        "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"}]
    })))
    .unwrap();
    assert_eq!(c.tax_id.unwrap().as_str(), "60746948000112");
    let a = c.address.unwrap();
    assert_eq!(
        (a.state(), a.postal_code(), a.country()),
        ("SP", "01310100", "BR")
    );
    assert_eq!(a.district, None);
    assert_eq!(c.bank_accounts.len(), 1);
}

#[test]
fn reports_every_missing_required_field() {
    assert_eq!(
        fields(json!({})),
        ["company_name", "declared_billing", "phone"]
    );
    assert_eq!(
        fields(json!({"company_name": null, "phone": null, "declared_billing": null})),
        ["company_name", "declared_billing", "phone"]
    );
}

#[test]
fn company_name_is_1_to_150_characters_after_trimming() {
    let with = |name: Value| {
        let mut v = minimal();
        v["company_name"] = name;
        company(&obj(v))
    };
    assert!(with(json!("   ")).is_err());
    assert!(with(json!("")).is_err());
    assert!(with(json!(42)).is_err());
    assert!(with(json!("a\u{0}b")).is_err());
    assert!(with(json!("é".repeat(150))).is_ok());
    assert!(with(json!(format!("  {}  ", "x".repeat(150)))).is_ok());
    assert!(with(json!("x".repeat(151))).is_err());
}

#[test]
fn rejects_server_owned_and_unknown_fields() {
    let mut v = minimal();
    v["id"] = json!("x");
    v["version"] = json!(3);
    v["created"] = json!("2026-01-01T00:00:00Z");
    v["updated"] = json!("2026-01-01T00:00:00Z");
    v["colour"] = json!("red");
    assert_eq!(fields(v), ["colour", "created", "id", "updated", "version"]);
}

#[test]
fn reports_nested_paths() {
    let mut v = minimal();
    v["tax_id"] = json!("60746948000113");
    v["address"] =
        json!({"street": "", "city": "X", "state": "ZZ", "postal_code": "123", "zip": 1});
    v["bank_accounts"] = json!([
        {"bank_code": "336", "agency": "1290-0", "account_number": "1243"},
        {"bank_code": "999", "agency": "x", "account_number": "1", "extra": true},
        "not an object"
    ]);
    assert_eq!(
        fields(v),
        [
            "address.postal_code",
            "address.state",
            "address.street",
            "address.zip",
            "bank_accounts[1].agency",
            "bank_accounts[1].bank_code",
            "bank_accounts[1].extra",
            "bank_accounts[2]",
            "tax_id",
        ]
    );
}

#[test]
fn foreign_addresses_skip_uf_and_cep_rules() {
    let mut v = minimal();
    v["address"] = json!({"street": "Main St", "city": "Lisboa", "state": "Lisboa",
                          "postal_code": "1000-001", "country": "pt"});
    let a = company(&obj(v)).unwrap().address.unwrap();
    assert_eq!((a.country(), a.state()), ("PT", "Lisboa"));
}

#[test]
fn at_most_twenty_bank_accounts() {
    let account =
        |i: usize| json!({"bank_code": "001", "agency": "1", "account_number": i.to_string()});
    let mut v = minimal();
    v["bank_accounts"] = Value::Array((0..20).map(account).collect());
    assert_eq!(company(&obj(v.clone())).unwrap().bank_accounts.len(), 20);
    v["bank_accounts"] = Value::Array((0..21).map(account).collect());
    assert_eq!(fields(v), ["bank_accounts"]);
}

#[test]
fn finds_duplicate_accounts_after_normalisation() {
    let mut v = minimal();
    v["bank_accounts"] = json!([
        {"bank_code": "001", "agency": "0001", "account_number": "123-x"},
        {"bank_code": "237", "agency": "1", "account_number": "123-X"},
        {"bank_code": "001", "agency": "1", "account_number": "00123-X"}
    ]);
    let dups = company(&obj(v)).unwrap().duplicate_accounts();
    assert_eq!(
        dups,
        [FieldError::new(
            "bank_accounts[2]",
            "duplicates bank_accounts[0]: same bank, agency and account number"
        )]
    );
}

#[test]
fn money_and_phone_accept_numbers_and_strings() {
    for (billing, want) in [
        (json!(1235.69), "1235.69"),
        (json!("0.1"), "0.10"),
        (json!(0), "0.00"),
    ] {
        let mut v = minimal();
        v["declared_billing"] = billing;
        assert_eq!(company(&obj(v)).unwrap().declared_billing.to_string(), want);
    }
    for bad in [
        json!(-1),
        json!("1.234"),
        json!(true),
        json!([1]),
        json!(1e10),
    ] {
        let mut v = minimal();
        v["declared_billing"] = bad.clone();
        assert_eq!(fields(v), ["declared_billing"], "{bad}");
    }
    for bad in [
        json!(-11978235674_i64),
        json!(1.5),
        json!(false),
        json!("abc"),
    ] {
        let mut v = minimal();
        v["phone"] = bad.clone();
        assert_eq!(fields(v), ["phone"], "{bad}");
    }
}
