//! The `get-banks` Lambda: no table access, so no store.

use companies_edge::handlers::banks::get_banks;
use companies_edge::runner::lambda;

fn main() -> Result<(), lambda::Error> {
    lambda::start_without_store(env!("CARGO_BIN_NAME"), get_banks)
}
