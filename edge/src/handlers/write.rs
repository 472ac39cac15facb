//! The one write path of every change to an existing company: company PATCH, PUT and DELETE and
//! the three bank-account writes. Read, apply the change, check `If-Match`, write on condition
//! that the version is still the one read, and on a lost race either answer 412 (the client
//! pinned a version) or apply the change again to the fresh state, a bounded number of times.
//! Nothing is written unless the whole change succeeds, and every change is written with its
//! history entry; a change that leaves the company as it was writes nothing (no new version, no
//! history entry: a retried PATCH whose first answer was lost stays one change). Errors stay
//! typed until the edge.

use std::future::Future;

use uuid::Uuid;

use crate::http::preconditions::IfMatch;
use crate::http::Problem;
use companies::{now, Audit, Company, HistoryEntry};
use companies_store::{
    CompanyDeleter, CompanyReader, CompanyUpdater, IdempotencyRecord, StoreError,
};

/// Bounded retries of a read-modify-write that lost a race, when the client pinned no version.
/// A writer only loses to another writer's success, so up to this many concurrent writers of one
/// company all land.
pub const MAX_WRITE_ATTEMPTS: usize = 10;

/// Why a change was not written. Nothing was written in any of these cases.
#[derive(Debug)]
pub enum WriteError {
    /// The change itself is refused (invalid, a duplicate account, …).
    Refused(Problem),
    /// The client's `If-Match` names another version than the stored one.
    PreconditionFailed,
    /// Other writers won every one of the [`MAX_WRITE_ATTEMPTS`] rounds.
    KeptChanging,
    /// The store refused or failed.
    Store(StoreError),
}

impl From<StoreError> for WriteError {
    fn from(err: StoreError) -> Self {
        WriteError::Store(err)
    }
}

impl From<WriteError> for Problem {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::Refused(problem) => problem,
            WriteError::PreconditionFailed => Problem::precondition_failed(),
            WriteError::KeptChanging => Problem::edit_conflict(),
            WriteError::Store(e) => e.into(),
        }
    }
}

/// What a delete leaves behind: nothing but the fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted;

/// The outcome of a change of the company `current`: its next version, or its deletion.
pub trait NextState {
    /// The history entry that records it.
    fn entry(&self, audit: &Audit, current: &Company) -> HistoryEntry;

    /// `current` itself when this outcome leaves it as it is: then nothing is written.
    fn unchanged(&self, current: &Company) -> Option<Self>
    where
        Self: Sized;
}

impl NextState for Company {
    fn entry(&self, audit: &Audit, current: &Company) -> HistoryEntry {
        audit.changed(current, self)
    }

    fn unchanged(&self, current: &Company) -> Option<Company> {
        self.same_state_as(current).then(|| current.clone())
    }
}

impl NextState for Deleted {
    fn entry(&self, audit: &Audit, current: &Company) -> HistoryEntry {
        audit.deleted(current, now().max(current.updated))
    }

    fn unchanged(&self, _: &Company) -> Option<Deleted> {
        None
    }
}

/// Writing the outcome `N` of a change, given the version read: a next version of the company
/// ([`CompanyUpdater`]) or its deletion ([`CompanyDeleter`]). A handler needs only the
/// capability of the outcome it produces.
pub trait Commit<N>: CompanyReader {
    fn commit(
        &self,
        current: &Company,
        next: &N,
        idempotency: Option<&IdempotencyRecord>,
        history: &HistoryEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<S: CompanyReader + CompanyUpdater> Commit<Company> for S {
    fn commit(
        &self,
        current: &Company,
        next: &Company,
        idempotency: Option<&IdempotencyRecord>,
        history: &HistoryEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.replace(current, next, idempotency, Some(history))
    }
}

impl<S: CompanyReader + CompanyDeleter> Commit<Deleted> for S {
    fn commit(
        &self,
        current: &Company,
        _: &Deleted,
        idempotency: Option<&IdempotencyRecord>,
        history: &HistoryEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        debug_assert!(idempotency.is_none(), "deletes carry no idempotency record");
        self.delete(current, Some(history))
    }
}

/// One change of company `id`, made for `audit`: `change` maps the stored version to the
/// outcome and an extra value for the answer (the bank account touched, say); `record` makes
/// the idempotency record to write with it, if the request has one.
pub async fn write<S, N, T, F, R>(
    store: &S,
    id: Uuid,
    if_match: Option<&IfMatch>,
    audit: &Audit,
    mut change: F,
    record: R,
) -> Result<(N, T), WriteError>
where
    S: Commit<N>,
    N: NextState,
    F: FnMut(&Company) -> Result<(N, T), Problem>,
    R: Fn(&N, &T) -> Option<IdempotencyRecord>,
{
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = store.get(id).await?.ok_or(StoreError::NotFound)?;
        // An invalid change is a 400 whatever the version; only a valid one meets If-Match.
        let (next, extra) = change(&current).map_err(WriteError::Refused)?;
        if if_match.is_some_and(|m| !m.matches(current.version)) {
            return Err(WriteError::PreconditionFailed);
        }
        if let Some(same) = next.unchanged(&current) {
            tracing::info!(company_id = %id, version = current.version, "company unchanged: nothing written");
            return Ok((same, extra));
        }
        let idempotency = record(&next, &extra);
        let entry = next.entry(audit, &current);
        match store
            .commit(&current, &next, idempotency.as_ref(), &entry)
            .await
        {
            Ok(()) => {
                tracing::info!(company_id = %id, from_version = current.version, "company changed");
                return Ok((next, extra));
            }
            Err(StoreError::VersionConflict) if if_match.is_some_and(IfMatch::is_pinned) => {
                return Err(WriteError::PreconditionFailed)
            }
            Err(StoreError::VersionConflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(WriteError::KeptChanging)
}

/// For writes that carry no idempotency record.
pub fn no_record<N, T>(_: &N, _: &T) -> Option<IdempotencyRecord> {
    None
}
