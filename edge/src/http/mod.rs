//! The HTTP edge: reading requests (path and query parameters in [`params`], bodies in
//! [`body`], `If-Match` in [`preconditions`], `Idempotency-Key` in [`idempotency`]), responses,
//! problem details ([`problem`]) and signed cursors ([`cursor`]). Nothing below this module
//! knows about HTTP.

pub mod body;
pub mod cursor;
pub mod idempotency;
pub mod params;
pub mod preconditions;
pub mod problem;
mod strict_json;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

pub use body::MAX_BODY_BYTES;
pub use problem::{IntoResponse, Problem};

/// Whether this process runs as a deployed Lambda function (the runtime sets the variable),
/// where what is only tolerable locally (no identity, a development key) is refused.
pub fn deployed() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// Whether every request reaches the function through the JWT authorizer: deployed on AWS, and
/// not under `sam local` (which sets `AWS_SAM_LOCAL=true` and has no authorizer). Where it
/// does, a change from a token that names no caller is refused.
pub fn authenticated() -> bool {
    deployed() && std::env::var("AWS_SAM_LOCAL").as_deref() != Ok("true")
}

/// API Gateway's id of the request (the access log's `requestId`), when it came through one.
pub fn gateway_request_id(req: &lambda_http::Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.request_id.clone().filter(|id| !id.is_empty())
        }
        _ => None,
    }
}

/// The `Location` of what a `POST` to `req`'s path created: that path, then `id`. The path as
/// the caller sent it, so that the address holds under a custom domain's base path
/// (`/v1/companies/…`) as under the API's own (`/companies/…`) and locally. Always one leading
/// slash: a path sent as `//host/…` never becomes a reference to another host.
pub fn created_at(req: &lambda_http::Request, id: impl std::fmt::Display) -> String {
    match req.uri().path().trim_matches('/') {
        "" => format!("/{id}"),
        path => format!("/{path}/{id}"),
    }
}

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => {
            let mut resp = Response::new(Body::Text(text));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "response serialisation failed");
            Problem::internal().into_response()
        }
    }
}

/// Adds a header whose value the server built (always valid); silently skips an invalid one.
pub fn with_header(
    mut resp: Response<Body>,
    name: header::HeaderName,
    value: &str,
) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
    resp
}

/// The headers every answer carries (OWASP's REST Security Cheat Sheet): answers hold bank
/// details, so no browser or proxy may keep a copy (`no-store`), read them as anything but
/// their declared type, or show them in a frame; browsers reach the API over HTTPS only (a
/// year; ignored, as RFC 6797 says, on the local API's plain HTTP). A header the handler set
/// itself is kept.
pub fn with_security_headers(mut resp: Response<Body>) -> Response<Body> {
    const HEADERS: [(header::HeaderName, &str); 5] = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
    ];
    let headers = resp.headers_mut();
    for (name, value) in HEADERS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    resp
}

/// An empty response with the given status.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = status;
    resp
}

#[cfg(test)]
mod tests {
    use super::created_at;

    fn sent_to(path: &str) -> lambda_http::Request {
        let mut req = lambda_http::Request::default();
        *req.uri_mut() = lambda_http::http::Uri::builder()
            .path_and_query(path)
            .build()
            .unwrap();
        req
    }

    #[test]
    fn a_location_is_under_the_path_sent_to_and_never_another_host() {
        for (path, location) in [
            ("/companies", "/companies/7"),
            ("/v1/companies", "/v1/companies/7"),
            ("/v1/companies/", "/v1/companies/7"),
            ("//evil.example/companies", "/evil.example/companies/7"),
            ("/", "/7"),
        ] {
            assert_eq!(created_at(&sent_to(path), 7), location, "{path}");
        }
    }
}
