//! Items and keys: how a company, a CNPJ marker and an idempotency record are laid out in the
//! table. Companies are mapped with serde_dynamo; money is a DynamoDB number written from its
//! exact decimal text; every value type is parsed again when read back.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{IdempotencyRecord, LegacyImport, StoreError, StoredAnswer};
use companies::{
    AccountNumber, Address, Agency, BankAccount, BankCode, Cnpj, Company, HistoryEntry, Money,
    Partition, Phone,
};

pub type Item = HashMap<String, AttributeValue>;

/// Partition and sort key attribute names.
pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The listing index and its key attributes.
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// The TTL attribute of the table.
pub const EXPIRES_AT: &str = "expires_at";

pub(super) const COMPANY_SK: &str = "COMPANY";
pub(super) const COMPANY_LIST_PK: &str = "COMPANY";
pub(super) const TAX_ID_SK: &str = "TAXID";
/// The attribute of a CNPJ marker naming the company that holds the CNPJ.
pub(super) const MARKER_HOLDER: &str = "company_id";
pub(super) const VERSION: &str = "version";
const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";
const TOMBSTONE_SK: &str = "DELETED";
/// The sort key prefix of a history entry in its company's partition.
pub(super) const HISTORY_PREFIX: &str = "HISTORY#";
const ENTRY: &str = "entry";
/// The attribute naming the write that put an item there (see `writes`).
pub(super) const WRITE_TOKEN: &str = "write_token";
/// How long the record of a delete stays, to recognise a delete whose reply was lost.
const TOMBSTONE_SECONDS: i64 = 24 * 60 * 60;
const BILLING: &str = "declared_billing";
const FINGERPRINT: &str = "fingerprint";

fn key_of(pk: String, sk: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// The attribute of a company item holding its name (`CompanyItem::company_name`).
pub(super) const COMPANY_NAME: &str = "company_name";

fn company_pk(id: Uuid) -> String {
    Partition::Company.key(id)
}

/// The company whose partition key is `pk`, if it is one.
pub(super) fn company_of(pk: &str) -> Option<Uuid> {
    Partition::Company.name_in(pk)?.parse().ok()
}

/// The key of company `id`.
pub fn company_key(id: Uuid) -> Item {
    key_of(company_pk(id), COMPANY_SK)
}

/// The key of the record that company `id` was deleted.
pub fn tombstone_key(id: Uuid) -> Item {
    key_of(company_pk(id), TOMBSTONE_SK)
}

/// The record that company `id` was deleted by the write `token`; the table's TTL removes it.
pub fn tombstone_item(id: Uuid, token: &str) -> Item {
    let mut item = tombstone_key(id);
    item.insert(WRITE_TOKEN.into(), AttributeValue::S(token.to_owned()));
    item.insert(
        EXPIRES_AT.into(),
        AttributeValue::N((crate::unix_now() + TOMBSTONE_SECONDS).to_string()),
    );
    item
}

/// The key of the history entry of version `version` of company `id`. Versions are written
/// with 20 digits, so the sort key orders them.
pub fn history_key(id: Uuid, version: u64) -> Item {
    key_of(company_pk(id), &format!("{HISTORY_PREFIX}{version:020}"))
}

/// The partition of company `id` (its item, its history, its tombstone).
pub fn company_partition(id: Uuid) -> AttributeValue {
    AttributeValue::S(company_pk(id))
}

/// The item of a history entry of company `id`: the entry as JSON text, kept exactly as
/// written, and its expiry.
pub fn history_item(id: Uuid, entry: &HistoryEntry) -> Result<Item, StoreError> {
    let text = serde_json::to_string(entry)
        .map_err(|e| StoreError::Internal(format!("encode history entry: {e}")))?;
    let mut item = history_key(id, entry.version);
    item.insert(ENTRY.into(), AttributeValue::S(text));
    let expires = crate::history_expires_at(entry);
    item.insert(EXPIRES_AT.into(), AttributeValue::N(expires.to_string()));
    Ok(item)
}

/// The entry a history item holds, unless its retention has ended.
pub fn history_entry(item: &Item, now: i64) -> Result<Option<HistoryEntry>, StoreError> {
    let expired = item
        .get(EXPIRES_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .is_some_and(|at| at <= now);
    if expired {
        return Ok(None);
    }
    let text = item
        .get(ENTRY)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Internal("corrupt history item: no entry".into()))?;
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| StoreError::Internal(format!("corrupt history item: {e}")))
}

/// Name index entries: `pk = NAME#<term>`, `sk = <position>` (see `companies::search`),
/// holding the name key they were filed under and the company's id.
pub(super) const NAME_KEY: &str = "name_key";

/// The partition of the index term `term`.
pub fn name_term_partition(term: &str) -> AttributeValue {
    AttributeValue::S(Partition::Name.key(term))
}

/// The key of company `id`'s entry under `term`, filed under the name key `name_key`.
pub fn name_entry_key(term: &str, name_key: &str, id: Uuid) -> Item {
    name_entry_at(term, &companies::search::position(name_key, id))
}

/// The key of the entry under `term` at `position`.
pub fn name_entry_at(term: &str, position: &str) -> Item {
    key_of(Partition::Name.key(term), position)
}

/// Company `id`'s entry under `term`.
pub fn name_entry_item(term: &str, name_key: &str, id: Uuid) -> Item {
    let mut item = name_entry_key(term, name_key, id);
    item.insert(NAME_KEY.into(), AttributeValue::S(name_key.to_owned()));
    item.insert(MARKER_HOLDER.into(), AttributeValue::S(id.to_string()));
    item
}

/// The position, name key and company of a name index entry.
pub fn name_entry(item: &Item) -> Result<(String, String, Uuid), StoreError> {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| StoreError::Internal(format!("corrupt name index entry: no {name}")))
    };
    let id = text(MARKER_HOLDER)?
        .parse()
        .map_err(|e| StoreError::Internal(format!("corrupt name index entry: {e}")))?;
    Ok((text(SK)?, text(NAME_KEY)?, id))
}

const LEGACY_SK: &str = "LEGACY";

/// The key of the marker of the Flask service's company row `legacy_id`.
pub fn legacy_key(legacy_id: i64) -> Item {
    key_of(Partition::Legacy.key(legacy_id), LEGACY_SK)
}

/// The company's version the last import of a legacy row wrote.
const IMPORTED_VERSION: &str = "imported_version";
/// The digest of the legacy row as the last import read it.
const SOURCE_DIGEST: &str = "source_digest";

/// A legacy marker: the row `legacy_id`, read as `source`, was imported as version `version`
/// of `company`.
pub fn legacy_item(legacy_id: i64, company: Uuid, version: u64, source: &str) -> Item {
    let mut item = legacy_key(legacy_id);
    item.insert(MARKER_HOLDER.into(), AttributeValue::S(company.to_string()));
    item.insert(
        IMPORTED_VERSION.into(),
        AttributeValue::N(version.to_string()),
    );
    item.insert(SOURCE_DIGEST.into(), AttributeValue::S(source.to_owned()));
    item
}

/// The legacy row id of a marker item, if `item` is one.
pub fn legacy_id(item: &Item) -> Option<i64> {
    if item.get(SK)?.as_s().ok()? != LEGACY_SK {
        return None;
    }
    Partition::Legacy
        .name_in(item.get(PK)?.as_s().ok()?)?
        .parse()
        .ok()
}

/// The filter of a Scan that keeps legacy markers: `#sk = :legacy`.
pub fn legacy_filter() -> (&'static str, AttributeValue) {
    ("#sk = :legacy", AttributeValue::S(LEGACY_SK.into()))
}

/// What a legacy marker records. A marker written before the import recorded its version
/// and digest names version 1 (the only version an import wrote then) and no digest.
pub fn legacy_import(marker: &Item) -> Result<LegacyImport, StoreError> {
    let corrupt = |what: &str| StoreError::Internal(format!("corrupt legacy marker: {what}"));
    let company = marker_holder(marker).ok_or_else(|| corrupt("no company"))?;
    let version = match marker.get(IMPORTED_VERSION) {
        None => 1,
        Some(v) => v
            .as_n()
            .ok()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| corrupt("bad version"))?,
    };
    let source = match marker.get(SOURCE_DIGEST) {
        None => None,
        Some(v) => Some(v.as_s().map_err(|_| corrupt("bad digest"))?.clone()),
    };
    Ok(LegacyImport {
        company,
        version,
        source,
    })
}

/// The key of the marker of `cnpj`.
pub fn tax_id_key(cnpj: &Cnpj) -> Item {
    key_of(Partition::TaxId.key(cnpj), TAX_ID_SK)
}

/// The key of the idempotency record stored under the scoped `key`.
pub fn idempotency_key(key: &str) -> Item {
    key_of(Partition::Idempotency.key(key), IDEMPOTENCY_SK)
}

/// The company a CNPJ marker item names.
pub fn marker_holder(marker: &Item) -> Option<Uuid> {
    marker.get(MARKER_HOLDER)?.as_s().ok()?.parse().ok()
}

/// A CNPJ marker: `cnpj` is held by `company`.
pub fn marker_item(cnpj: &Cnpj, company: Uuid) -> Item {
    let mut item = tax_id_key(cnpj);
    item.insert(MARKER_HOLDER.into(), AttributeValue::S(company.to_string()));
    item
}

#[derive(Serialize, Deserialize)]
struct AccountItem {
    id: Uuid,
    bank_code: BankCode,
    agency: Agency,
    account_number: AccountNumber,
}

/// The item shape, apart from the money attribute, which is written as an exact `N` by hand.
#[derive(Serialize, Deserialize)]
struct CompanyItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    id: Uuid,
    company_name: String,
    phone: Phone,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tax_id: Option<Cnpj>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<Address>,
    bank_accounts: Vec<AccountItem>,
    #[serde(with = "companies::timestamp")]
    created: OffsetDateTime,
    #[serde(with = "companies::timestamp")]
    updated: OffsetDateTime,
    version: u64,
}

fn encode<T: Serialize>(value: T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Internal(format!("encode item: {e}")))
}

/// The table item of a company.
pub fn to_item(c: &Company) -> Result<Item, StoreError> {
    let item = CompanyItem {
        pk: company_pk(c.id),
        sk: COMPANY_SK.into(),
        gsi1pk: COMPANY_LIST_PK.into(),
        gsi1sk: c.id.to_string(),
        id: c.id,
        company_name: c.company_name.clone(),
        phone: c.phone.clone(),
        tax_id: c.tax_id.clone(),
        address: c.address.clone(),
        bank_accounts: c
            .bank_accounts
            .iter()
            .map(|a| AccountItem {
                id: a.id,
                bank_code: a.bank_code.clone(),
                agency: a.agency.clone(),
                account_number: a.account_number.clone(),
            })
            .collect(),
        created: c.created,
        updated: c.updated,
        version: c.version,
    };
    let mut map = encode(item)?;
    map.insert(
        BILLING.into(),
        AttributeValue::N(c.declared_billing.to_string()),
    );
    Ok(map)
}

/// The company a table item holds; an item that does not hold a valid company is an error.
pub fn from_item(mut map: Item) -> Result<Company, StoreError> {
    let corrupt = |what: String| StoreError::Internal(format!("corrupt company item: {what}"));
    let billing = match map.remove(BILLING) {
        Some(AttributeValue::N(n)) => n
            .parse::<Decimal>()
            .map_err(|e| corrupt(format!("billing {e}")))
            .and_then(|d| Money::try_from(d).map_err(corrupt))?,
        _ => return Err(corrupt("billing missing".into())),
    };
    let item: CompanyItem = serde_dynamo::from_item(map).map_err(|e| corrupt(e.to_string()))?;
    Ok(Company {
        id: item.id,
        company_name: item.company_name,
        phone: item.phone,
        tax_id: item.tax_id,
        address: item.address,
        declared_billing: billing,
        bank_accounts: item
            .bank_accounts
            .into_iter()
            .map(|a| BankAccount {
                id: a.id,
                bank_code: a.bank_code,
                agency: a.agency,
                account_number: a.account_number,
            })
            .collect(),
        created: item.created,
        updated: item.updated,
        version: item.version,
    })
}

/// The table item of an idempotency record: the stored answer's attributes, its fingerprint
/// and its expiry.
pub fn idempotency_item(r: &IdempotencyRecord) -> Result<Item, StoreError> {
    let mut item = encode(&r.answer)?;
    item.extend(idempotency_key(&r.key));
    item.insert(FINGERPRINT.into(), AttributeValue::S(r.fingerprint.clone()));
    item.insert(
        EXPIRES_AT.into(),
        AttributeValue::N(r.expires_at.to_string()),
    );
    Ok(item)
}

/// The idempotency record a table item holds, stored under the scoped `key`.
pub fn idempotency_record(key: &str, item: Item) -> Result<IdempotencyRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Internal(format!("corrupt idempotency record: {what}"));
    let fingerprint = item
        .get(FINGERPRINT)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| corrupt("fingerprint"))?
        .clone();
    let expires_at = item
        .get(EXPIRES_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| corrupt("expires_at"))?;
    let answer: StoredAnswer =
        serde_dynamo::from_item(item).map_err(|e| corrupt(&e.to_string()))?;
    Ok(IdempotencyRecord {
        key: key.to_owned(),
        fingerprint,
        answer,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use companies::{input, now};
    use serde_json::json;

    #[test]
    fn item_mapping_round_trips_and_keeps_money_exact() {
        let doc = json!({
            "company_name": "My Company", "phone": "11978235674", "tax_id": "12.ABC.345/01DE-35",
            "declared_billing": "9999999999.99",
            "address": {"street": "Rua A", "city": "Recife", "state": "PE", "postal_code": "50000-000"},
            "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"}]
        });
        let company = Company::create(input::company(doc.as_object().unwrap()).unwrap(), now());
        let item = to_item(&company).unwrap();
        assert_eq!(item[BILLING], AttributeValue::N("9999999999.99".into()));
        assert_eq!(
            item[PK],
            AttributeValue::S(Partition::Company.key(company.id))
        );
        assert_eq!(item[GSI1_SK], AttributeValue::S(company.id.to_string()));
        // What a reindex reads of a company item without mapping it.
        assert_eq!(item[COMPANY_NAME], AttributeValue::S("My Company".into()));
        assert_eq!(company_of(item[PK].as_s().unwrap()), Some(company.id));
        assert_eq!(from_item(item).unwrap(), company);
    }

    #[test]
    fn optional_fields_are_omitted_not_null() {
        let doc = json!({"company_name": "A", "phone": "11978235674", "declared_billing": 0});
        let company = Company::create(input::company(doc.as_object().unwrap()).unwrap(), now());
        let item = to_item(&company).unwrap();
        assert!(!item.contains_key("tax_id") && !item.contains_key("address"));
        assert_eq!(from_item(item).unwrap(), company);
    }

    #[test]
    fn a_corrupt_item_is_an_internal_error_not_a_panic() {
        let mut item = company_key(Uuid::now_v7());
        assert!(matches!(
            from_item(item.clone()),
            Err(StoreError::Internal(_))
        ));
        item.insert(BILLING.into(), AttributeValue::N("-1".into()));
        assert!(matches!(from_item(item), Err(StoreError::Internal(_))));
    }

    #[test]
    fn a_stored_value_that_breaks_a_rule_is_not_read_as_valid() {
        let doc = json!({"company_name": "A", "phone": "11978235674", "declared_billing": 0,
                         "tax_id": "60746948000112",
                         "bank_accounts": [{"bank_code": "336", "agency": "1", "account_number": "1"}]});
        let company = Company::create(input::company(doc.as_object().unwrap()).unwrap(), now());
        let good = to_item(&company).unwrap();
        let mut bad_cnpj = good.clone();
        bad_cnpj.insert("tax_id".into(), AttributeValue::S("60746948000113".into()));
        assert!(matches!(from_item(bad_cnpj), Err(StoreError::Internal(_))));
        let mut bad_phone = good.clone();
        bad_phone.insert("phone".into(), AttributeValue::S("12".into()));
        assert!(matches!(from_item(bad_phone), Err(StoreError::Internal(_))));
        let mut bad_bank = good;
        let mut account = Item::new();
        account.insert("id".into(), AttributeValue::S(Uuid::now_v7().to_string()));
        account.insert("bank_code".into(), AttributeValue::S("999".into()));
        account.insert("agency".into(), AttributeValue::S("1".into()));
        account.insert("account_number".into(), AttributeValue::S("1".into()));
        bad_bank.insert(
            "bank_accounts".into(),
            AttributeValue::L(vec![AttributeValue::M(account)]),
        );
        assert!(matches!(from_item(bad_bank), Err(StoreError::Internal(_))));
    }

    #[test]
    fn idempotency_records_round_trip() {
        let record = IdempotencyRecord {
            key: "k".into(),
            fingerprint: "f".into(),
            answer: StoredAnswer {
                status: 201,
                location: Some("/companies/1".into()),
                etag: None,
                body: "{}".into(),
            },
            expires_at: 42,
        };
        let item = idempotency_item(&record).unwrap();
        assert!(!item.contains_key("etag"));
        assert_eq!(idempotency_record("k", item).unwrap(), record);
    }
}
