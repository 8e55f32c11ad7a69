//! The admin token.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The bearer token every `/v1` request must present. `Debug` never prints it.
pub struct AdminToken(String);

impl AdminToken {
    /// Refuses an empty token.
    pub fn new(token: String) -> anyhow::Result<Self> {
        anyhow::ensure!(!token.trim().is_empty(), "ADMIN_TOKEN must not be empty");
        Ok(Self(token))
    }

    /// Whether `presented` is the token, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(****)")
    }
}

/// Lets the request through only with `Authorization: Bearer <ADMIN_TOKEN>`.
pub async fn require_admin_token(
    State(token): State<Arc<AdminToken>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(presented) if token.matches(presented.trim()) => next.run(request).await,
        Some(_) => ApiError::Unauthorized("the bearer token is not valid").into_response(),
        None => {
            ApiError::Unauthorized("send `Authorization: Bearer <ADMIN_TOKEN>`").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::new("s3cret-token".into()).expect("token");
        assert!(token.matches("s3cret-token"));
        assert!(!token.matches("s3cret-toke"));
        assert!(!token.matches("s3cret-token2"));
        assert!(!token.matches(""));
        assert!(AdminToken::new("  ".into()).is_err());
        assert_eq!(format!("{token:?}"), "AdminToken(****)");
    }
}
