//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>).
//!
//! A signature is `v1,` + base64(HMAC-SHA256(key, "<msg id>.<unix seconds>.<body>")), where the
//! key is the base64-decoded part of a `whsec_` secret. Several signatures (during a secret
//! rotation) are separated by spaces in one `webhook-signature` header.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The HTTP header carrying the message id (the event id).
pub const ID_HEADER: &str = "webhook-id";
/// The HTTP header carrying the Unix time of the attempt.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The HTTP header carrying the signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// A webhook's signing secret. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

/// The string is not a `whsec_` secret Herald can sign with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSecret {
    #[error("a signing secret starts with `whsec_`")]
    MissingPrefix,
    #[error("the part after `whsec_` is not base64")]
    NotBase64,
    #[error("a signing secret holds 24 to 64 bytes")]
    BadLength,
}

impl SigningSecret {
    const PREFIX: &'static str = "whsec_";
    const GENERATED_BYTES: usize = 32;

    /// A new secret of 32 random bytes.
    pub fn generate() -> Self {
        Self(rand::random::<[u8; Self::GENERATED_BYTES]>().to_vec())
    }

    /// Parses `whsec_<base64>`.
    pub fn parse(secret: &str) -> Result<Self, InvalidSecret> {
        let encoded = secret
            .strip_prefix(Self::PREFIX)
            .ok_or(InvalidSecret::MissingPrefix)?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| InvalidSecret::NotBase64)?;
        if !(24..=64).contains(&key.len()) {
            return Err(InvalidSecret::BadLength);
        }
        Ok(Self(key))
    }

    /// The secret in its `whsec_<base64>` form, for showing to its owner.
    pub fn expose(&self) -> String {
        format!("{}{}", Self::PREFIX, BASE64.encode(&self.0))
    }

    /// `v1,<base64 signature>` of one message.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any size"));
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(****)")
    }
}

/// The `webhook-signature` header value: one signature per secret, space-separated.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a SigningSecret>,
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .map(|secret| secret.sign(message_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks reference libraries' test suites.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn signs_like_the_standard_webhooks_reference_implementation() {
        let secret = SigningSecret::parse(SECRET).expect("valid secret");
        assert_eq!(
            secret.sign(MSG_ID, TIMESTAMP, BODY),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn several_secrets_give_space_separated_signatures() {
        let old = SigningSecret::parse(SECRET).expect("valid secret");
        let new = SigningSecret::generate();
        let header = signature_header([&new, &old], MSG_ID, TIMESTAMP, BODY);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], new.sign(MSG_ID, TIMESTAMP, BODY));
        assert_eq!(parts[1], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn generated_secrets_round_trip_and_stay_out_of_debug_output() {
        let secret = SigningSecret::generate();
        let exposed = secret.expose();
        assert!(exposed.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&exposed), Ok(secret.clone()));
        assert_eq!(format!("{secret:?}"), "SigningSecret(****)");
    }

    #[test]
    fn malformed_secrets_are_refused() {
        assert_eq!(
            SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(InvalidSecret::MissingPrefix)
        );
        assert_eq!(
            SigningSecret::parse("whsec_!!!"),
            Err(InvalidSecret::NotBase64)
        );
        assert_eq!(
            SigningSecret::parse("whsec_c2hvcnQ="),
            Err(InvalidSecret::BadLength)
        );
    }
}
