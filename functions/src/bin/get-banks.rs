//! The `get-banks` Lambda: no table access, so no store.

fn main() -> Result<(), companies::runner::lambda::Error> {
    companies::runner::lambda::start_without_store(
        env!("CARGO_BIN_NAME"),
        companies::handlers::get_banks,
    )
}
