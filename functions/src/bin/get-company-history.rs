//! The `get-company-history` Lambda.

use companies_edge::handlers::history::get_company_history;
use companies_edge::runner::lambda;

fn main() -> Result<(), lambda::Error> {
    lambda::start(env!("CARGO_BIN_NAME"), get_company_history)
}
