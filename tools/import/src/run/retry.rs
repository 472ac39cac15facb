//! Trying a step on DynamoDB again: with a back-off while the table is unavailable (throttling
//! past the SDK's retries, timeouts), and at once, reading the company again, after another
//! writer changed it between the step's read and its conditional write.

use std::future::Future;

use anyhow::Context as _;
use companies_store::{Backoff, StoreError};

/// Attempts at one step (writing or deleting a company, reading a page of legacy markers)
/// while DynamoDB is unavailable, waiting [`UNAVAILABLE_BACKOFF`] between them.
const UNAVAILABLE_ATTEMPTS: u32 = 8;
/// Between attempts of a step while DynamoDB is unavailable: long enough, over the attempts,
/// to ride out a throttled table.
const UNAVAILABLE_BACKOFF: Backoff = Backoff::new(200, 12_800);

/// Times a step reads the company again after another writer changed it in between.
const CONCURRENT_CHANGE_ATTEMPTS: u32 = 3;

/// Runs `step` until it ends otherwise than with the store unavailable, backing off
/// ([`UNAVAILABLE_BACKOFF`]) between attempts. A failure names `what` was being done.
pub(super) async fn backing_off<T, F: Future<Output = Result<T, StoreError>>>(
    what: &str,
    mut step: impl FnMut() -> F,
) -> anyhow::Result<T> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match step().await {
            Ok(done) => return Ok(done),
            Err(StoreError::Unavailable(why)) if attempt < UNAVAILABLE_ATTEMPTS => {
                let wait = UNAVAILABLE_BACKOFF.wait(attempt);
                eprintln!(
                    "companies-import: DynamoDB unavailable ({why}); {what} again in {wait:?}"
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e).context(what.to_owned()),
        }
    }
}

/// Runs `attempt` until it ends (`Some`), reading again after another writer changed the
/// company in between (`None`), a few times ([`CONCURRENT_CHANGE_ATTEMPTS`]).
pub(super) async fn rereading_on_concurrent_change<T, F>(
    mut attempt: impl FnMut() -> F,
) -> Result<T, StoreError>
where
    F: Future<Output = Result<Option<T>, StoreError>>,
{
    for _ in 0..CONCURRENT_CHANGE_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
    }
    Err(StoreError::Unavailable(format!(
        "company changed by another writer {CONCURRENT_CHANGE_ATTEMPTS} times while the import \
         read it"
    )))
}

/// `done` once a write conditioned on the company's version succeeded; `None` (read it again)
/// when the company was changed or deleted in between.
pub(super) fn unless_changed_in_between<T>(
    written: Result<(), StoreError>,
    done: T,
) -> Result<Option<T>, StoreError> {
    match written {
        Ok(()) => Ok(Some(done)),
        Err(StoreError::VersionConflict | StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}
