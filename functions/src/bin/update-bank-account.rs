//! The `update-bank-account` Lambda.

use companies_edge::handlers::bank_accounts::update_bank_account;
use companies_edge::runner::lambda;

fn main() -> Result<(), lambda::Error> {
    lambda::start(env!("CARGO_BIN_NAME"), update_bank_account)
}
