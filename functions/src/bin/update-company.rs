//! The `update-company` Lambda.

use companies_edge::handlers::company::update_company;
use companies_edge::runner::lambda;

fn main() -> Result<(), lambda::Error> {
    lambda::start(env!("CARGO_BIN_NAME"), update_company)
}
