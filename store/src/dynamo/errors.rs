//! Mapping SDK failures to store errors: what is worth a retry later (503) and what is not.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use super::items::Item;
use super::writes::StepKind;
use crate::StoreError;
pub use companies::telemetry::causes;

/// Error codes that mean "the service is busy or failing now": the client may retry later.
pub const RETRYABLE: [&str; 7] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflictException",
];

/// A single-item write met an item that a transaction in flight holds: worth a short retry.
pub const TRANSACTION_CONFLICT: &str = "TransactionConflictException";

/// Maps an SDK failure that is not a condition check to a store error.
pub fn sdk_error<E>(op: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        // No answer, or one that could not be read (a cut or garbled body): try again later.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{op}: {}", causes(&err)))
        }
        // A 5xx, or an answer with no error code the SDK could read (a cut or garbled body).
        SdkError::ServiceError(e)
            if e.raw().status().is_server_error() || e.err().code().is_none() =>
        {
            StoreError::Unavailable(format!("{op}: {}", e.err()))
        }
        SdkError::ServiceError(e) if e.err().code().is_some_and(|c| RETRYABLE.contains(&c)) => {
            StoreError::Unavailable(format!("{op}: {}", e.err()))
        }
        SdkError::ServiceError(e) => StoreError::Internal(format!(
            "{op}: {} {}",
            e.err().code().unwrap_or("unknown"),
            e.err().message().unwrap_or("")
        )),
        _ => StoreError::Internal(format!("{op}: {}", causes(&err))),
    }
}

/// Maps the failure of a single-item write: a failed condition by `kind` (with the old item
/// `old_item` finds in the error), anything else as [`sdk_error`].
pub fn single_item_error<E>(
    op: &str,
    kind: StepKind,
    err: SdkError<E, HttpResponse>,
    old_item: impl for<'a> FnOnce(&'a E) -> Option<&'a Item>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(e) = &err {
        if e.err().code() == Some("ConditionalCheckFailedException") {
            return kind.condition_failed(old_item(e.err()));
        }
    }
    sdk_error(op, err)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    /// An answer DynamoDB cut short can hold item data: the cause logged names the failure,
    /// never the raw body.
    #[test]
    fn a_failure_is_described_without_the_raw_answer() {
        let raw = HttpResponse::new(
            200.try_into().unwrap(),
            SdkBody::from(r#"{"Item":{"account_number":{"S":"98765432-1"}}"#),
        );
        let err: SdkError<GetItemError, HttpResponse> =
            SdkError::response_error("unexpected end of input", raw);
        let StoreError::Unavailable(cause) = sdk_error("GetItem", err) else {
            panic!("a cut answer is worth a retry later");
        };
        assert!(
            cause.contains("GetItem") && cause.contains("unexpected end of input"),
            "{cause}"
        );
        assert!(!cause.contains("98765432"), "{cause}");
    }
}
