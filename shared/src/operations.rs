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

/// One operation of the API, served by one Lambda function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The function's name: its crate under `functions/`, its binary, its events' prefix.
    pub name: &'static str,
    pub routes: &'static [RouteSpec],
    pub scope: Scope,
    /// Exactly what its IAM policy grants, and what its handler's store capabilities use.
    pub grants: &'static [Grant],
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
        routes: &[route("POST", "/companies")],
        scope: Scope::Write,
        grants: &[GET_ITEM, PUT_ITEM],
    },
    Operation {
        name: "list-companies",
        routes: &[route("GET", "/companies")],
        scope: Scope::Read,
        grants: &[QUERY_LISTING, QUERY_TABLE, GET_ITEM, BATCH_GET_ITEM],
    },
    Operation {
        name: "get-company",
        routes: &[route("GET", "/companies/{id}")],
        scope: Scope::Read,
        grants: &[GET_ITEM],
    },
    Operation {
        name: "update-company",
        routes: &[
            route("PATCH", "/companies/{id}"),
            route("PUT", "/companies/{id}"),
        ],
        scope: Scope::Write,
        grants: &[GET_ITEM, PUT_ITEM, DELETE_ITEM],
    },
    Operation {
        name: "delete-company",
        routes: &[route("DELETE", "/companies/{id}")],
        scope: Scope::Write,
        // PutItem: the delete's history entry.
        grants: &[GET_ITEM, PUT_ITEM, DELETE_ITEM],
    },
    Operation {
        name: "add-bank-account",
        routes: &[route("POST", "/companies/{id}/bank-accounts")],
        scope: Scope::Write,
        grants: &[GET_ITEM, PUT_ITEM],
    },
    Operation {
        name: "update-bank-account",
        routes: &[route("PATCH", "/companies/{id}/bank-accounts/{account_id}")],
        scope: Scope::Write,
        grants: &[GET_ITEM, PUT_ITEM],
    },
    Operation {
        name: "delete-bank-account",
        routes: &[route(
            "DELETE",
            "/companies/{id}/bank-accounts/{account_id}",
        )],
        scope: Scope::Write,
        grants: &[GET_ITEM, PUT_ITEM],
    },
    Operation {
        name: "get-company-history",
        routes: &[route("GET", "/companies/{id}/history")],
        scope: Scope::Audit,
        grants: &[QUERY_TABLE],
    },
    Operation {
        name: "get-banks",
        routes: &[route("GET", "/banks"), route("GET", "/banks/{code}")],
        scope: Scope::Read,
        grants: &[],
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
