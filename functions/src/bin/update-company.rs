//! The `update-company` Lambda.

fn main() -> Result<(), companies::runner::lambda::Error> {
    companies::runner::lambda::start(env!("CARGO_BIN_NAME"), companies::handlers::update_company)
}
