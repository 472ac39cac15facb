//! RFC 9457 problem details: every error response of the API.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use companies::{AccountChangeError, FieldError};
use companies_store::StoreError;

/// An error answer. Its text is written for clients; internal details never go in it: they
/// ride along in `cause`, which the runner logs (`telemetry::observe`) and never sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    /// A problem type URI; `about:blank` when the status code says it all.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u16>,
    pub allow: Option<Box<str>>,
    /// What went wrong inside, for the log line of the request; never part of the response.
    pub cause: Option<Box<str>>,
}

/// The body of a problem+json answer: the problem details object of RFC 9457.
#[derive(Serialize)]
struct ProblemDetails<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
}

impl Problem {
    fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            status,
            kind,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            allow: None,
            cause: None,
        }
    }

    /// The same problem, with the internal cause to log beside it.
    pub fn caused_by(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into().into_boxed_str());
        self
    }

    pub fn company_not_found() -> Self {
        Self::not_found("No company with that id.")
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "about:blank",
            "Bad Request",
            detail,
        )
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut problem = Self::new(
            StatusCode::BAD_REQUEST,
            "urn:companies:problem:validation-error",
            "Invalid request",
            "One or more fields are invalid; see errors.",
        );
        problem.errors = errors;
        problem
    }

    pub fn malformed_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "urn:companies:problem:malformed-json",
            "Malformed JSON",
            "The request body is not valid JSON.",
        )
    }

    pub fn invalid_cursor() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "urn:companies:problem:invalid-cursor",
            "Invalid cursor",
            "The cursor is not one this API issued; start again without it.",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "about:blank", "Forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "about:blank", "Not Found", detail)
    }

    pub fn method_not_allowed(allow: String) -> Self {
        let mut problem = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "about:blank",
            "Method Not Allowed",
            format!("This resource supports: {allow}."),
        );
        problem.allow = Some(allow.into_boxed_str());
        problem
    }

    pub fn duplicate_accounts(errors: Vec<FieldError>) -> Self {
        let mut problem = Self::new(
            StatusCode::CONFLICT,
            "urn:companies:problem:duplicate-bank-account",
            "Duplicate bank account",
            "A bank account with the same bank, agency and account number is already present.",
        );
        problem.errors = errors;
        problem
    }

    pub fn duplicate_account(existing: uuid::Uuid) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "urn:companies:problem:duplicate-bank-account",
            "Duplicate bank account",
            format!("The company already has this bank account (same bank, agency and account number): {existing}."),
        )
    }

    pub fn too_many_accounts(max: usize) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "urn:companies:problem:too-many-bank-accounts",
            "Too many bank accounts",
            format!("A company may hold at most {max} bank accounts; remove one first."),
        )
    }

    pub fn tax_id_taken(holder: Option<uuid::Uuid>) -> Self {
        let message = match holder {
            Some(id) => format!("is already registered to company {id}"),
            None => "is already registered to another company".to_owned(),
        };
        let mut problem = Self::new(
            StatusCode::CONFLICT,
            "urn:companies:problem:duplicate-tax-id",
            "Duplicate CNPJ",
            "Another company already holds this CNPJ.",
        );
        problem.errors = vec![FieldError::new("tax_id", message)];
        problem
    }

    pub fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "urn:companies:problem:idempotency-key-reused",
            "Idempotency key reused",
            "This Idempotency-Key was already used with a different request; use a new key.",
        )
    }

    pub fn idempotency_in_flight() -> Self {
        let mut problem = Self::new(
            StatusCode::CONFLICT,
            "urn:companies:problem:idempotency-key-in-use",
            "Request in progress",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        );
        problem.retry_after = Some(1);
        problem
    }

    pub fn edit_conflict() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "urn:companies:problem:edit-conflict",
            "Edit conflict",
            "The company kept changing while this request was applied; fetch it and retry.",
        )
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "about:blank",
            "Precondition Failed",
            "The company has changed since the given ETag; fetch it again and retry with the new ETag.",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "about:blank",
            "Content Too Large",
            format!("The request body must be at most {limit} bytes."),
        )
    }

    pub fn unsupported_media_type(accepted: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "about:blank",
            "Unsupported Media Type",
            format!("Send the body as {accepted}."),
        )
    }

    pub fn unavailable() -> Self {
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "about:blank",
            "Service Unavailable",
            "The service is temporarily unable to handle the request; retry shortly.",
        );
        problem.retry_after = Some(1);
        problem
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "about:blank",
            "Internal Server Error",
            "The request could not be completed. It has been logged.",
        )
    }

    /// The problem+json response. The cause stays behind.
    pub fn into_response(self) -> Response<Body> {
        let body = ProblemDetails {
            kind: self.kind,
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            errors: &self.errors,
        };
        let text = serde_json::to_string(&body).unwrap_or_default();
        let mut resp = Response::new(Body::Text(text));
        *resp.status_mut() = self.status;
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            headers.insert(header::ALLOW, allow);
        }
        resp
    }
}

impl From<StoreError> for Problem {
    /// A store failure the handler did not handle itself.
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Problem::company_not_found(),
            StoreError::TaxIdTaken(holder) => Problem::tax_id_taken(holder),
            StoreError::IdempotencyKeyTaken => Problem::idempotency_in_flight(),
            StoreError::VersionConflict => Problem::precondition_failed(),
            StoreError::AlreadyExists => {
                Problem::internal().caused_by("generated id collided with an existing company")
            }
            StoreError::Unavailable(detail) => {
                Problem::unavailable().caused_by(format!("store unavailable: {detail}"))
            }
            StoreError::Internal(detail) => {
                Problem::internal().caused_by(format!("store failure: {detail}"))
            }
        }
    }
}

impl From<AccountChangeError> for Problem {
    fn from(err: AccountChangeError) -> Self {
        match err {
            AccountChangeError::NotFound => {
                Problem::not_found("No bank account with that id on this company.")
            }
            AccountChangeError::Duplicate(existing) => Problem::duplicate_account(existing),
            AccountChangeError::TooMany => {
                Problem::too_many_accounts(companies::limits::MAX_BANK_ACCOUNTS)
            }
        }
    }
}

/// What a handler may return: a response, or a problem the runner turns into one.
pub trait IntoResponse {
    /// The response, and the internal cause of a problem (for the log line), if any.
    fn into_parts(self) -> (Response<Body>, Option<Box<str>>);
}

impl IntoResponse for Response<Body> {
    fn into_parts(self) -> (Response<Body>, Option<Box<str>>) {
        (self, None)
    }
}

impl IntoResponse for Result<Response<Body>, Problem> {
    fn into_parts(self) -> (Response<Body>, Option<Box<str>>) {
        match self {
            Ok(response) => (response, None),
            Err(mut problem) => {
                let cause = problem.cause.take();
                (problem.into_response(), cause)
            }
        }
    }
}
