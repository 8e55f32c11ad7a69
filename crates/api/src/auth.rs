//! The admin token.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The bearer token every `/v1` request must present. Only its SHA-256 digest is kept, and
/// `Debug` prints neither.
pub struct AdminToken([u8; 32]);

/// A configured admin token too short to resist guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "ADMIN_TOKEN must be at least {} characters (e.g. `openssl rand -base64 32`)",
    AdminToken::MIN_CHARS
)]
pub struct WeakToken;

impl AdminToken {
    /// The fewest characters a token may have.
    pub const MIN_CHARS: usize = 32;

    /// The configured token, trimmed; refuses one shorter than [`AdminToken::MIN_CHARS`].
    pub fn new(token: &str) -> Result<Self, WeakToken> {
        let token = token.trim();
        if token.chars().count() < Self::MIN_CHARS {
            return Err(WeakToken);
        }
        Ok(Self(digest(token)))
    }

    /// Whether `presented` is the token. Digests of equal length are compared in constant
    /// time, so neither the token's length nor where a guess differs leaks.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(digest(presented).ct_eq(&self.0))
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(****)")
    }
}

/// The credentials of an `Authorization: Bearer <token>` header; the scheme is
/// case-insensitive (RFC 9110).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::new(TOKEN).expect("token");
        assert!(token.matches(TOKEN));
        assert!(!token.matches(&TOKEN[..31]));
        assert!(!token.matches(&format!("{TOKEN}0")));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "AdminToken(****)");
    }

    #[test]
    fn the_configured_token_is_trimmed_and_must_be_long_enough() {
        let token = AdminToken::new(&format!("  {TOKEN}\n")).expect("token");
        assert!(token.matches(TOKEN));
        assert_eq!(AdminToken::new("  ").err(), Some(WeakToken));
        assert_eq!(AdminToken::new(&TOKEN[..31]).err(), Some(WeakToken));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearerabc"), None);
    }
}
