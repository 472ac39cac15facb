//! The `create-company` Lambda.

use companies_edge::handlers::company::create_company;
use companies_edge::runner::lambda;

fn main() -> Result<(), lambda::Error> {
    lambda::start(env!("CARGO_BIN_NAME"), create_company)
}
