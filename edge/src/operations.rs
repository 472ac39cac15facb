//! The registry of the API's operations, declared once (the `operations!` table): for each,
//! its name (its binary under `functions/src/bin/`, the Lambda `<Name>Function` in
//! `template.yaml`, the prefix of its `events/*.json`), its handler, its routes, the OAuth scope
//! they require, the DynamoDB actions and key kinds it needs. The route table, dispatch, the
//! local API and the drift tests (`edge/tests/edge/template/`: template routes, scopes, policies,
//! log groups, alarms, openapi, events) all read it, so an operation added here and forgotten
//! anywhere else fails to compile or fails a test.

use companies::Partition;
use companies_store::Store;
use lambda_http::Request;

use crate::handlers::{self, Handled};

/// The OAuth scope a route requires (`companies/<scope>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    /// The change history: not implied by `Read`.
    Audit,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "companies/read",
            Scope::Write => "companies/write",
            Scope::Audit => "companies/audit",
        }
    }
}

/// What a DynamoDB action is granted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// The companies table itself.
    Table,
    /// One of its indexes, by name.
    Index(&'static str),
}

/// One IAM grant: a DynamoDB action (`dynamodb:GetItem`) on the table or an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub action: &'static str,
    pub on: Resource,
}

/// A route: method and API Gateway path template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
}

/// One operation of the API, served by one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The function's name: its binary (`functions/src/bin/<name>.rs`), its events' prefix.
    pub name: &'static str,
    pub handler: Handler,
    pub routes: &'static [RouteSpec],
    pub scope: Scope,
    /// Exactly what its IAM policy grants, and what its handler's store capabilities use.
    pub grants: &'static [Grant],
    /// Its answers carry signed cursors: deployed, it needs `CURSOR_SECRET` to start.
    pub signs_cursors: bool,
    /// The kinds of the table's partition keys it reads or writes (`COMPANY#` for a company's
    /// item and history, `NAME#` for the name index, …): its policy's table statement holds it
    /// to them (`dynamodb:LeadingKeys`). Index queries are governed by the index statement.
    pub partitions: &'static [Partition],
}

impl Operation {
    /// The template's logical id of the function: `create-company` → `CreateCompanyFunction`.
    pub fn function_id(&self) -> String {
        let mut id: String = self
            .name
            .split('-')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect();
        id.push_str("Function");
        id
    }
}

const fn on_table(action: &'static str) -> Grant {
    Grant {
        action,
        on: Resource::Table,
    }
}

const GET_ITEM: Grant = on_table("dynamodb:GetItem");
const PUT_ITEM: Grant = on_table("dynamodb:PutItem");
const DELETE_ITEM: Grant = on_table("dynamodb:DeleteItem");
const QUERY_TABLE: Grant = on_table("dynamodb:Query");
const BATCH_GET_ITEM: Grant = on_table("dynamodb:BatchGetItem");
const QUERY_LISTING: Grant = Grant {
    action: "dynamodb:Query",
    on: Resource::Index("gsi1"),
};

/// Declares the operations once. From the one table it is given follow the [`Handler`] enum,
/// the [`OPERATIONS`] registry and [`dispatch`], so an operation is added in one place and one
/// without a handler does not compile. Each entry names the handler and how it is served:
/// `store` (it is handed the store: a function that reads or writes the table) or `no_store`
/// (its registry entry grants nothing).
macro_rules! operations {
    ($(
        $(#[$doc:meta])*
        $variant:ident $name:literal {
            handler: $serve:ident $handler:path,
            routes: [$(($method:literal, $path:literal)),+ $(,)?],
            scope: $scope:ident,
            grants: [$($grant:ident),* $(,)?],
            signs_cursors: $signs:literal,
            partitions: [$($partition:ident),* $(,)?] $(,)?
        }
    )+) => {
        /// Which handler serves an operation: [`dispatch`] matches on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum Handler {
            $($(#[$doc])* $variant,)+
        }

        /// Every operation, in the order the README lists them.
        pub const OPERATIONS: &[Operation] = &[$(
            Operation {
                name: $name,
                handler: Handler::$variant,
                routes: &[$(RouteSpec { method: $method, path: $path }),+],
                scope: Scope::$scope,
                grants: &[$($grant),*],
                signs_cursors: $signs,
                partitions: &[$(Partition::$partition),*],
            },
        )+];

        /// Runs the handler of `handler` on `req` (what the local API does for every route).
        pub async fn dispatch<S: Store>(store: &S, handler: Handler, req: Request) -> Handled {
            match handler {
                $(Handler::$variant => operations!(@serve $serve $handler, store, req),)+
            }
        }
    };
    (@serve store $handler:path, $store:ident, $req:ident) => {
        $handler($store, $req).await
    };
    (@serve no_store $handler:path, $store:ident, $req:ident) => {
        $handler($req).await
    };
}

operations! {
    CreateCompany "create-company" {
        handler: store handlers::company::create_company,
        routes: [("POST", "/companies")],
        scope: Write,
        grants: [GET_ITEM, PUT_ITEM],
        signs_cursors: false,
        partitions: [Company, TaxId, Name, Idempotency],
    }
    ListCompanies "list-companies" {
        handler: store handlers::company::list_companies,
        routes: [("GET", "/companies")],
        scope: Read,
        grants: [QUERY_LISTING, QUERY_TABLE, GET_ITEM, BATCH_GET_ITEM],
        signs_cursors: true,
        partitions: [Company, Name, TaxId, Legacy],
    }
    GetCompany "get-company" {
        handler: store handlers::company::get_company,
        routes: [("GET", "/companies/{id}")],
        scope: Read,
        grants: [GET_ITEM],
        signs_cursors: false,
        partitions: [Company],
    }
    UpdateCompany "update-company" {
        handler: store handlers::company::update_company,
        routes: [("PATCH", "/companies/{id}"), ("PUT", "/companies/{id}")],
        scope: Write,
        grants: [GET_ITEM, PUT_ITEM, DELETE_ITEM],
        signs_cursors: false,
        partitions: [Company, TaxId, Name],
    }
    DeleteCompany "delete-company" {
        handler: store handlers::company::delete_company,
        routes: [("DELETE", "/companies/{id}")],
        scope: Write,
        // PutItem: the delete's history entry.
        grants: [GET_ITEM, PUT_ITEM, DELETE_ITEM],
        signs_cursors: false,
        partitions: [Company, TaxId, Name],
    }
    AddBankAccount "add-bank-account" {
        handler: store handlers::bank_accounts::add_bank_account,
        routes: [("POST", "/companies/{id}/bank-accounts")],
        scope: Write,
        grants: [GET_ITEM, PUT_ITEM],
        signs_cursors: false,
        partitions: [Company, Idempotency],
    }
    UpdateBankAccount "update-bank-account" {
        handler: store handlers::bank_accounts::update_bank_account,
        routes: [("PATCH", "/companies/{id}/bank-accounts/{account_id}")],
        scope: Write,
        grants: [GET_ITEM, PUT_ITEM],
        signs_cursors: false,
        partitions: [Company],
    }
    DeleteBankAccount "delete-bank-account" {
        handler: store handlers::bank_accounts::delete_bank_account,
        routes: [("DELETE", "/companies/{id}/bank-accounts/{account_id}")],
        scope: Write,
        grants: [GET_ITEM, PUT_ITEM],
        signs_cursors: false,
        partitions: [Company],
    }
    GetCompanyHistory "get-company-history" {
        handler: store handlers::history::get_company_history,
        routes: [("GET", "/companies/{id}/history")],
        scope: Audit,
        grants: [QUERY_TABLE],
        signs_cursors: true,
        partitions: [Company],
    }
    GetBanks "get-banks" {
        handler: no_store handlers::banks::get_banks,
        routes: [("GET", "/banks"), ("GET", "/banks/{code}")],
        scope: Read,
        grants: [],
        signs_cursors: false,
        partitions: [],
    }
}

/// The operation named `name`.
pub fn by_name(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_ids_follow_the_names() {
        let ids: Vec<String> = OPERATIONS.iter().map(Operation::function_id).collect();
        assert_eq!(ids[0], "CreateCompanyFunction");
        assert_eq!(ids[7], "DeleteBankAccountFunction");
        assert_eq!(by_name("get-banks").map(|o| o.grants.len()), Some(0));
        assert!(by_name("nope").is_none());
    }
}
