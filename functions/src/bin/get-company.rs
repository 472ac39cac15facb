//! The `get-company` Lambda.

use companies_edge::handlers::company::get_company;
use companies_edge::runner::lambda;

fn main() -> Result<(), lambda::Error> {
    lambda::start(env!("CARGO_BIN_NAME"), get_company)
}
