//! The request headers of an attempt, and the names an auth header may not take because
//! Herald sets them (or HTTP reserves them).

use herald_contract::signing::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_header};
use herald_contract::topology::headers as topology_headers;
use herald_contract::trace_context::{valid_traceparent, valid_tracestate};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use crate::client::AttemptRequest;

/// Headers Herald sets itself or HTTP reserves, which an auth header may not replace (nor may
/// any `proxy-*` header: see [`is_reserved`]).
pub const RESERVED: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "user-agent",
    ID_HEADER,
    TIMESTAMP_HEADER,
    SIGNATURE_HEADER,
    topology_headers::TRACEPARENT,
    topology_headers::TRACESTATE,
];

/// Whether an auth header may not be named `name`.
pub fn is_reserved(name: &HeaderName) -> bool {
    RESERVED.contains(&name.as_str()) || name.as_str().starts_with("proxy-")
}

/// The headers of an attempt signed at `timestamp` (Unix seconds).
pub fn attempt_headers(request: &AttemptRequest<'_>, timestamp: i64) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    if let Some(auth) = request.auth_header {
        let name = HeaderName::from_bytes(auth.name.as_bytes())
            .map_err(|_| format!("invalid auth header name `{}`", auth.name))?;
        let mut value = HeaderValue::from_str(&auth.value)
            .map_err(|_| "invalid auth header value".to_owned())?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    let text = |value: &str| {
        HeaderValue::from_str(value).map_err(|_| format!("invalid header value `{value}`"))
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ID_HEADER, text(request.message_id)?);
    headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
    headers.insert(
        SIGNATURE_HEADER,
        text(&signature_header(
            request.secrets.iter().copied(),
            request.message_id,
            timestamp,
            &request.body,
        ))?,
    );
    // Trace context only ever goes out in its W3C form, and never fails an attempt.
    let traceparent = request.traceparent.and_then(valid_traceparent);
    if let Some(value) = traceparent.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(topology_headers::TRACEPARENT, value);
        let tracestate = request.tracestate.and_then(valid_tracestate);
        if let Some(value) = tracestate.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(topology_headers::TRACESTATE, value);
        }
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use herald_contract::SigningSecret;
    use herald_store::AuthHeader;

    use super::*;

    #[test]
    fn an_attempt_carries_the_standard_webhooks_headers_and_the_auth_header() {
        let secret =
            SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let auth = AuthHeader {
            name: "X-Api-Key".into(),
            value: "k3y".into(),
        };
        let url = reqwest::Url::parse("https://example.com/hook").expect("a URL");
        let request = AttemptRequest {
            url: &url,
            auth_header: Some(&auth),
            message_id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            body: Bytes::from_static(br#"{"test": 2432232314}"#),
            secrets: &[&secret],
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            tracestate: None,
        };

        let headers = attempt_headers(&request, 1_614_265_330).expect("valid headers");

        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["webhook-id"], "msg_p5jXN8AQM9LWM0D4loKWxJek");
        assert_eq!(headers["webhook-timestamp"], "1614265330");
        assert_eq!(
            headers["webhook-signature"],
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(headers["x-api-key"], "k3y");
        assert!(headers["x-api-key"].is_sensitive());
        assert_eq!(
            headers["traceparent"],
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
    }

    #[test]
    fn every_header_herald_sets_is_reserved() {
        let secret =
            SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let url = reqwest::Url::parse("https://example.com/hook").expect("a URL");
        let request = AttemptRequest {
            url: &url,
            auth_header: None,
            message_id: "msg_1",
            body: Bytes::from_static(b"{}"),
            secrets: &[&secret],
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            tracestate: Some("congo=t61rcWkgMzE"),
        };
        let headers = attempt_headers(&request, 1_614_265_330).expect("valid headers");
        for name in headers.keys() {
            assert!(
                is_reserved(name),
                "{name} is set by Herald but not reserved"
            );
        }
        assert!(is_reserved(&HeaderName::from_static("proxy-authorization")));
        assert!(!is_reserved(&HeaderName::from_static("authorization")));
    }
}
