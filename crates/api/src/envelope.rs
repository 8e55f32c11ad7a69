//! One error shape for every answer of the API.
//!
//! Handlers answer with [`ApiError`]; what happens before a handler runs — an unknown route, a
//! wrong method, a body over the limit, a wrong content type, a query string that does not
//! parse — is answered by axum's extractors and routing in plain text. [`every_error`]
//! rewrites such answers into the same `{"error":{"code","message"}}` body, so that a client
//! handles one shape whoever produced the error.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ErrorBody, ErrorDetail};

/// Rewrites an error answer that is not already JSON into the error envelope.
pub async fn every_error(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = describe(status);
    let mut rewritten = envelope(status, code, message);
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        close_after(&mut rewritten);
    }
    // Keep what the client needs to act on: the methods allowed, the auth scheme.
    for name in [header::ALLOW, header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => (
            "invalid_request",
            "the request is malformed (query string, path or body)",
        ),
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not accept that method",
        ),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the body is larger than the API accepts (64 KiB)",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as `content-type: application/json`",
        ),
        status if status.is_server_error() => ("internal", "the request could not be served"),
        _ => ("invalid_request", "the request was refused"),
    }
}

fn envelope(status: StatusCode, code: &'static str, message: &str) -> Response {
    (
        status,
        axum::Json(ErrorBody {
            error: ErrorDetail {
                code,
                message: message.to_owned(),
                field: None,
            },
        }),
    )
        .into_response()
}

/// Marks an answer given without reading the request's body: the connection closes after it,
/// and the client knows not to send another request on it.
fn close_after(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

/// The answer to a route the API does not have.
pub async fn unknown_route() -> Response {
    envelope(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// The answer to a method a route does not accept.
pub async fn wrong_method() -> Response {
    let (code, message) = describe(StatusCode::METHOD_NOT_ALLOWED);
    envelope(StatusCode::METHOD_NOT_ALLOWED, code, message)
}

/// Refuses a request that carries a body in anything but JSON (`415`).
pub async fn require_json_body(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let has_body = matches!(
        *request.method(),
        Method::POST | Method::PATCH | Method::PUT
    ) && match length {
        Some(length) => length > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    };
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(is_json_media_type);
    if has_body && !json {
        let (code, message) = describe(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let mut refused = envelope(StatusCode::UNSUPPORTED_MEDIA_TYPE, code, message);
        close_after(&mut refused);
        return refused;
    }
    next.run(request).await
}

/// `application/json`, or a `+json` type, with any parameters.
fn is_json_media_type(value: &HeaderValue) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    let media_type = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_are_recognised_with_their_parameters() {
        for json in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(
                is_json_media_type(&HeaderValue::from_static(json)),
                "{json}"
            );
        }
        for other in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
        ] {
            assert!(
                !is_json_media_type(&HeaderValue::from_static(other)),
                "{other}"
            );
        }
    }
}
