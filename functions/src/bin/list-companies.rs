//! The `list-companies` Lambda.

use companies_edge::handlers::company::list_companies;
use companies_edge::runner::lambda;

fn main() -> Result<(), lambda::Error> {
    lambda::start(env!("CARGO_BIN_NAME"), list_companies)
}
