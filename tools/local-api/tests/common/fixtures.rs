//! Sample companies: a minimal one and one with every field.

use serde_json::{json, Value};

/// The README's example: the required fields only.
pub fn acme() -> Value {
    json!({"company_name": "Acme", "phone": "11978235674", "declared_billing": 10})
}

/// Every field, as people type them: a punctuated CNPJ and phone, an address, an account.
pub fn full() -> Value {
    json!({
        "company_name": "My Company", "phone": "+55 (11) 97823-5674", "tax_id": "60.746.948/0001-12",
        "declared_billing": 1235.69,
        "address": {"street": "Avenida Paulista", "number": "1000", "city": "São Paulo", "state": "SP",
                    "postal_code": "01310-100"},
        "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"}]
    })
}
