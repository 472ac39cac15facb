//! The store contract: one suite, run on the in-memory store and on DynamoDB (the local
//! server `make test` starts). Both must behave identically. The suite's tests are by
//! concern in the modules below; the `contract!` list at the end runs each on both stores.

use std::collections::HashSet;

use companies::search::{NameQuery, Search};
use companies::{input, now, ChangeKind, Cnpj, Company};
use companies_store::testing::{renamed, sample_company, test_audit, MarkerAudit};
use companies_store::{
    unix_now, CompanyImporter, IdempotencyRecord, LegacyImport, Store, StoreError, StoredAnswer,
};
use serde_json::json;
use uuid::Uuid;

mod import;
mod local_server;
mod reads;
mod search;
mod writes;

/// Runs each test of the contract on both stores: `memory::<test>` and `dynamodb::<test>`.
macro_rules! contract {
    ($($module:ident::$test:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $test() {
                crate::$module::$test(companies_store::MemoryStore::new()).await;
            })*
        }
        mod dynamodb {
            $(#[tokio::test]
            async fn $test() {
                if let Some(store) = companies_store::testing::dynamo_store("contract").await {
                    crate::$module::$test(store).await;
                }
            })*
        }
    };
}

contract!(
    writes::create_then_get_returns_the_same_company,
    writes::create_never_overwrites,
    writes::replace_is_conditional_on_the_version,
    writes::concurrent_replaces_of_one_version_let_exactly_one_win,
    writes::delete_reports_missing_and_stale,
    writes::a_cnpj_belongs_to_one_company_at_a_time,
    writes::idempotency_records_are_written_with_the_company,
    reads::list_walks_every_company_once_newest_first,
    reads::list_continues_past_a_deleted_cursor_company,
    reads::history_is_written_with_the_change,
    search::search_matches_word_prefixes_in_name_order,
    search::pages_by_name_are_complete_and_ordered,
    search::a_rename_or_delete_moves_the_company_in_the_index,
    search::a_rename_of_long_names_leaves_no_stale_entry,
    import::an_import_is_written_once_with_its_legacy_marker,
    import::a_reimport_carries_a_row_change_over_with_its_marker,
    import::a_walk_of_the_legacy_markers_meets_each_once,
);
