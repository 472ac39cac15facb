//! The `delete-bank-account` Lambda.

use companies_edge::handlers::bank_accounts::delete_bank_account;
use companies_edge::runner::lambda;

fn main() -> Result<(), lambda::Error> {
    lambda::start(env!("CARGO_BIN_NAME"), delete_bank_account)
}
