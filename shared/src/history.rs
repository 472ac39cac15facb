//! The change history of a company: one entry per version, written in the same transaction as
//! the change it records. An entry's `changes` is the JSON Merge Patch (RFC 7396) that turns the
//! company's previous representation into this version's, so applying the patches oldest first
//! to `{}` rebuilds the company as `GET` returned it at that version (without the server-owned
//! `updated` and `version`, and without null members, which a merge patch cannot state).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::Company;

/// What kind of change made a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Create,
    /// PATCH
    Update,
    /// PUT
    Replace,
    Delete,
    AddBankAccount,
    UpdateBankAccount,
    DeleteBankAccount,
    /// Moved from the Flask service's database by `companies-import`: the company's first
    /// version, or a later one carrying a change made to its row there since.
    Import,
}

/// One version of a company: who made it, when, how, and what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub version: u64,
    #[serde(with = "super::timestamp")]
    pub at: OffsetDateTime,
    pub operation: ChangeKind,
    /// The caller: the token's `sub` (or `client_id`); `anonymous` on the local API.
    pub actor: String,
    /// The API Gateway request id (the local server's locally).
    pub request_id: String,
    /// The Lambda invocation's request id (the access log's `request_id`), where a function
    /// made the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_request_id: Option<String>,
    /// The merge patch from the previous version; the whole company for `create` and a first
    /// `import`, `null` for `delete`. On the oldest entry left once earlier ones reached the end
    /// of their retention, the whole company at this version (see [`answered`]).
    pub changes: Value,
    /// Set on that oldest entry: its `changes` is the whole company, not a patch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rebased: bool,
    /// The whole company at this version (none for a delete): stored with every entry, so that
    /// whichever entry is the oldest left can stand for those gone before it. Never part of an
    /// answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Value>,
    /// The id of the Flask service's row an `import` came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_id: Option<i64>,
    /// That row's `created` exactly as the Flask service stored it (naive UTC, to the
    /// microsecond; the company's `created` keeps milliseconds like every time of this API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_created: Option<String>,
}

/// Who asked for a change, and how: what every entry of one request shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    pub operation: ChangeKind,
    pub actor: String,
    pub request_id: String,
    pub lambda_request_id: Option<String>,
}

impl Audit {
    /// The entry of version `version`, made at `at`, with `changes`, leaving the company as
    /// `state` (`None`: deleted).
    pub fn entry(
        &self,
        version: u64,
        at: OffsetDateTime,
        changes: Value,
        state: Option<&Company>,
    ) -> HistoryEntry {
        HistoryEntry {
            version,
            at,
            operation: self.operation,
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            lambda_request_id: self.lambda_request_id.clone(),
            changes,
            rebased: false,
            snapshot: state.map(|c| Value::Object(representation(c))),
            legacy_id: None,
            legacy_created: None,
        }
    }

    /// The first entry of `company`, imported at `at` from the legacy row `legacy_id` whose
    /// `created` was `legacy_created` (as stored there; `None` for NULL): the whole company.
    pub fn imported(
        &self,
        company: &Company,
        legacy_id: i64,
        legacy_created: Option<String>,
        at: OffsetDateTime,
    ) -> HistoryEntry {
        HistoryEntry {
            legacy_id: Some(legacy_id),
            legacy_created,
            ..self.entry(
                company.version,
                at,
                Value::Object(representation(company)),
                Some(company),
            )
        }
    }

    /// The entry of `next`, the version after `current`, carrying over a change made to the
    /// legacy row `legacy_id` since `current` was imported from it (whose `created` is
    /// `legacy_created`): the merge patch, as for any change.
    pub fn reimported(
        &self,
        current: &Company,
        next: &Company,
        legacy_id: i64,
        legacy_created: Option<String>,
    ) -> HistoryEntry {
        HistoryEntry {
            legacy_id: Some(legacy_id),
            legacy_created,
            ..self.changed(current, next)
        }
    }

    /// The first entry of `company`: the whole company.
    pub fn created(&self, company: &Company) -> HistoryEntry {
        self.entry(
            company.version,
            company.created,
            Value::Object(representation(company)),
            Some(company),
        )
    }

    /// The entry of `next`, the version after `current`.
    pub fn changed(&self, current: &Company, next: &Company) -> HistoryEntry {
        let patch = merge_diff(&representation(current), &representation(next));
        self.entry(next.version, next.updated, Value::Object(patch), Some(next))
    }

    /// The entry of the deletion of `current`, at `at`.
    pub fn deleted(&self, current: &Company, at: OffsetDateTime) -> HistoryEntry {
        self.entry(current.version + 1, at, Value::Null, None)
    }
}

/// A page of a company's history as the API answers it, newest first. `oldest_left`: the page
/// ends with the oldest entry still kept. Snapshots stay behind; when earlier entries have
/// reached the end of their retention (the oldest kept is not version 1), the oldest kept
/// answers with the whole company at its version as `changes`, marked `rebased`, so applying
/// the trail oldest first to `{}` still gives the company (a delete left alone stays `null`:
/// nothing to rebuild). An entry stored without a snapshot keeps its patch.
pub fn answered(mut entries: Vec<HistoryEntry>, oldest_left: bool) -> Vec<HistoryEntry> {
    let oldest = entries.len().checked_sub(1);
    for (i, entry) in entries.iter_mut().enumerate() {
        let snapshot = entry.snapshot.take();
        if oldest_left && Some(i) == oldest && entry.version > 1 {
            if let Some(whole) = snapshot {
                entry.changes = whole;
                entry.rebased = true;
            }
        }
    }
    entries
}

/// The company as `GET` returns it, less `updated` and `version` and null members: the state
/// the history's merge patches rebuild.
pub fn representation(company: &Company) -> Map<String, Value> {
    let mut doc = match serde_json::to_value(company) {
        Ok(Value::Object(doc)) => doc,
        _ => Map::new(),
    };
    doc.remove("updated");
    doc.remove("version");
    without_nulls(doc)
}

fn without_nulls(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::Object(inner) => (k, Value::Object(without_nulls(inner))),
            other => (k, other),
        })
        .collect()
}

/// The JSON Merge Patch that turns `from` into `to` (both free of null members).
pub fn merge_diff(from: &Map<String, Value>, to: &Map<String, Value>) -> Map<String, Value> {
    let mut patch = Map::new();
    for key in from.keys().filter(|k| !to.contains_key(*k)) {
        patch.insert(key.clone(), Value::Null);
    }
    for (key, value) in to {
        match (from.get(key), value) {
            (Some(old), new) if old == new => {}
            (Some(Value::Object(old)), Value::Object(new)) => {
                patch.insert(key.clone(), Value::Object(merge_diff(old, new)));
            }
            _ => {
                patch.insert(key.clone(), value.clone());
            }
        }
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{input, now};
    use serde_json::json;

    fn company(doc: Value) -> Company {
        Company::create(input::company(doc.as_object().unwrap()).unwrap(), now())
    }

    fn apply(state: &mut Value, patch: &Value) {
        json_patch::merge(state, patch);
    }

    #[test]
    fn a_patch_names_what_changed_and_nulls_what_went() {
        let a = company(
            json!({"company_name": "A", "phone": "11978235674", "declared_billing": 1,
            "tax_id": "60746948000112",
            "address": {"street": "Rua A", "number": "1", "city": "Recife", "state": "PE", "postal_code": "50000000"}}),
        );
        let mut doc = a.to_document();
        doc.insert("declared_billing".into(), json!("2500.00"));
        doc.remove("tax_id");
        doc.insert(
            "address".into(),
            json!({"street": "Rua A", "city": "Recife", "state": "PE", "postal_code": "50000000"}),
        );
        let b = a.replaced_by(input::company(&doc).unwrap(), now());
        let audit = Audit {
            operation: ChangeKind::Update,
            actor: "u".into(),
            request_id: "r".into(),
            lambda_request_id: None,
        };
        let entry = audit.changed(&a, &b);
        assert_eq!(
            entry.changes,
            json!({"declared_billing": "2500.00", "tax_id": null, "address": {"number": null}})
        );
        assert_eq!(entry.version, 2);
        assert_eq!(audit.deleted(&b, now()).changes, Value::Null);
        assert_eq!(audit.deleted(&b, now()).version, 3);
    }

    /// A small deterministic generator (xorshift), so the random walk is the same every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn replaying_the_patches_rebuilds_every_version() {
        let names = ["Acme", "Padaria São João", "Transportes Sao Jose"];
        let cnpjs = [None, Some("60746948000112"), Some("12ABC34501DE35")];
        let addresses = [
            Value::Null,
            json!({"street": "Av. Paulista", "number": "1000", "city": "São Paulo", "state": "SP", "postal_code": "01310100"}),
            json!({"street": "Main St", "city": "Lisboa", "state": "Lisboa", "postal_code": "1000-001", "country": "PT"}),
        ];
        let accounts = [
            json!({"bank_code": "336", "agency": "1290-0", "account_number": "1243"}),
            json!({"bank_code": "001", "agency": "0001-9", "account_number": "12345-X"}),
            json!({"bank_code": "260", "agency": "1", "account_number": "98765432-1"}),
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let audit = Audit {
            operation: ChangeKind::Update,
            actor: "a".into(),
            request_id: "r".into(),
            lambda_request_id: None,
        };
        for _walk in 0..50 {
            let mut current = company(
                json!({"company_name": "Start", "phone": "11978235674", "declared_billing": 0}),
            );
            let mut state = json!({});
            apply(&mut state, &audit.created(&current).changes);
            assert_eq!(state, Value::Object(representation(&current)));
            for _step in 0..20 {
                let mut doc = current.to_document();
                match rng.next(5) {
                    0 => {
                        doc.insert("company_name".into(), json!(names[rng.next(3) as usize]));
                    }
                    1 => match cnpjs[rng.next(3) as usize] {
                        Some(c) => {
                            doc.insert("tax_id".into(), json!(c));
                        }
                        None => {
                            doc.remove("tax_id");
                        }
                    },
                    2 => {
                        doc.insert("address".into(), addresses[rng.next(3) as usize].clone());
                    }
                    3 => {
                        let n = rng.next(4) as usize;
                        doc.insert(
                            "bank_accounts".into(),
                            Value::Array(accounts[..n.min(3)].to_vec()),
                        );
                    }
                    _ => {
                        doc.insert(
                            "declared_billing".into(),
                            json!(format!("{}.{:02}", rng.next(100_000), rng.next(100))),
                        );
                    }
                }
                let next = current.replaced_by(input::company(&doc).unwrap(), now());
                apply(&mut state, &audit.changed(&current, &next).changes);
                assert_eq!(state, Value::Object(representation(&next)));
                current = next;
            }
        }
    }
}
