//! The registry of the API's operations: for each, its name (the crate under `functions/`, the
//! Lambda `<Name>Function` in `template.yaml`, the prefix of its `events/*.json`), its routes,
//! the OAuth scope they require and the DynamoDB actions it needs. The route table, the local
//! API and the drift tests (`shared/tests/template.rs`: template routes, scopes, policies, log
//! groups, alarms, dashboard, openapi, events) all read this one list, so an operation added
//! here and forgotten anywhere else fails a test.

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
pub enum On {
    /// The companies table itself.
    Table,
    /// One of its indexes, by name.
    Index(&'static str),
}

/// One IAM grant: a DynamoDB action (`dynamodb:GetItem`) on the table or an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub action: &'static str,
    pub on: On,
}

/// A route: method and API Gateway path template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
}

/// Which handler serves an operation: `routes::dispatch` matches on it, so an operation
/// without a handler does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Handler {
    CreateCompany,
    ListCompanies,
    GetCompany,
    UpdateCompany,
    DeleteCompany,
    AddBankAccount,
    UpdateBankAccount,
    DeleteBankAccount,
    GetCompanyHistory,
    GetBanks,
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
    pub partitions: &'static [&'static str],
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

const fn route(method: &'static str, path: &'static str) -> RouteSpec {
    RouteSpec { method, path }
}

const fn on_table(action: &'static str) -> Grant {
    Grant {
        action,
        on: On::Table,
    }
}

const GET_ITEM: Grant = on_table("dynamodb:GetItem");
const PUT_ITEM: Grant = on_table("dynamodb:PutItem");
const DELETE_ITEM: Grant = on_table("dynamodb:DeleteItem");
const QUERY_TABLE: Grant = on_table("dynamodb:Query");
const BATCH_GET_ITEM: Grant = on_table("dynamodb:BatchGetItem");
const QUERY_LISTING: Grant = Grant {
    action: "dynamodb:Query",
    on: On::Index("gsi1"),
};

/// Every operation, in the order the README lists them.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "create-company",
        handler: Handler::CreateCompany,
        routes: &[route("POST", "/companies")],
        scope: Scope::Write,
        grants: &[GET_ITEM, PUT_ITEM],
        signs_cursors: false,
        partitions: &["COMPANY#", "TAXID#", "NAME#", "IDEMPOTENCY#"],
    },
    Operation {
        name: "list-companies",
        handler: Handler::ListCompanies,
        routes: &[route("GET", "/companies")],
        scope: Scope::Read,
        grants: &[QUERY_LISTING, QUERY_TABLE, GET_ITEM, BATCH_GET_ITEM],
        signs_cursors: true,
        partitions: &["COMPANY#", "NAME#", "TAXID#", "LEGACY#"],
    },
    Operation {
        name: "get-company",
        handler: Handler::GetCompany,
        routes: &[route("GET", "/companies/{id}")],
        scope: Scope::Read,
        grants: &[GET_ITEM],
        signs_cursors: false,
        partitions: &["COMPANY#"],
    },
    Operation {
        name: "update-company",
        handler: Handler::UpdateCompany,
        routes: &[
            route("PATCH", "/companies/{id}"),
            route("PUT", "/companies/{id}"),
        ],
        scope: Scope::Write,
        grants: &[GET_ITEM, PUT_ITEM, DELETE_ITEM],
        signs_cursors: false,
        partitions: &["COMPANY#", "TAXID#", "NAME#"],
    },
    Operation {
        name: "delete-company",
        handler: Handler::DeleteCompany,
        routes: &[route("DELETE", "/companies/{id}")],
        scope: Scope::Write,
        // PutItem: the delete's history entry.
        grants: &[GET_ITEM, PUT_ITEM, DELETE_ITEM],
        signs_cursors: false,
        partitions: &["COMPANY#", "TAXID#", "NAME#"],
    },
    Operation {
        name: "add-bank-account",
        handler: Handler::AddBankAccount,
        routes: &[route("POST", "/companies/{id}/bank-accounts")],
        scope: Scope::Write,
        grants: &[GET_ITEM, PUT_ITEM],
        signs_cursors: false,
        partitions: &["COMPANY#", "IDEMPOTENCY#"],
    },
    Operation {
        name: "update-bank-account",
        handler: Handler::UpdateBankAccount,
        routes: &[route("PATCH", "/companies/{id}/bank-accounts/{account_id}")],
        scope: Scope::Write,
        grants: &[GET_ITEM, PUT_ITEM],
        signs_cursors: false,
        partitions: &["COMPANY#"],
    },
    Operation {
        name: "delete-bank-account",
        handler: Handler::DeleteBankAccount,
        routes: &[route(
            "DELETE",
            "/companies/{id}/bank-accounts/{account_id}",
        )],
        scope: Scope::Write,
        grants: &[GET_ITEM, PUT_ITEM],
        signs_cursors: false,
        partitions: &["COMPANY#"],
    },
    Operation {
        name: "get-company-history",
        handler: Handler::GetCompanyHistory,
        routes: &[route("GET", "/companies/{id}/history")],
        scope: Scope::Audit,
        grants: &[QUERY_TABLE],
        signs_cursors: true,
        partitions: &["COMPANY#"],
    },
    Operation {
        name: "get-banks",
        handler: Handler::GetBanks,
        routes: &[route("GET", "/banks"), route("GET", "/banks/{code}")],
        scope: Scope::Read,
        grants: &[],
        signs_cursors: false,
        partitions: &[],
    },
];

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
