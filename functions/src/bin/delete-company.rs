//! The `delete-company` Lambda.

use companies_edge::handlers::company::delete_company;
use companies_edge::runner::lambda;

fn main() -> Result<(), lambda::Error> {
    lambda::start(env!("CARGO_BIN_NAME"), delete_company)
}
