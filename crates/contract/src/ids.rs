//! Validated identifiers. Once parsed, an identifier is known to be safe wherever Herald
//! puts it: a URL path, an HTTP header, an AMQP short string, a log line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters long")]
    TooLong { max: usize },
    #[error("may only contain {allowed}")]
    BadCharacter { allowed: &'static str },
    #[error("must look like `{example}`")]
    Malformed { example: &'static str },
}

fn check(
    value: &str,
    max: usize,
    allowed: &'static str,
    ok: fn(u8) -> bool,
) -> Result<(), InvalidId> {
    if value.is_empty() {
        return Err(InvalidId::Empty);
    }
    if value.len() > max {
        return Err(InvalidId::TooLong { max });
    }
    if !value.bytes().all(ok) {
        return Err(InvalidId::BadCharacter { allowed });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value.to_owned())
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::parse(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id! {
    /// A customer account of the platform. 1–128 characters of `A-Z a-z 0-9 . _ - : @`.
    TenantId
}

impl TenantId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(value: String) -> Result<Self, InvalidId> {
        check(
            &value,
            Self::MAX_LEN,
            "letters, digits and . _ - : @",
            |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@'),
        )?;
        Ok(Self(value))
    }
}

string_id! {
    /// The id of a domain event, sent as `webhook-id` so receivers can dedupe.
    /// 1–255 visible ASCII characters (it travels in an HTTP header and an AMQP short string).
    EventId
}

impl EventId {
    pub const MAX_LEN: usize = 255;

    pub fn parse(value: String) -> Result<Self, InvalidId> {
        check(&value, Self::MAX_LEN, "visible ASCII characters", |b| {
            b.is_ascii_graphic()
        })?;
        Ok(Self(value))
    }
}

string_id! {
    /// A webhook's id: `WEBH-` followed by 32 uppercase hex digits of a UUIDv7, so that ids
    /// sort by creation time.
    WebhookId
}

impl WebhookId {
    const PREFIX: &'static str = "WEBH-";

    /// A fresh id, later than every id generated before it by this process.
    pub fn generate() -> Self {
        Self(format!(
            "{}{}",
            Self::PREFIX,
            uuid::Uuid::now_v7()
                .simple()
                .to_string()
                .to_ascii_uppercase()
        ))
    }

    pub fn parse(value: String) -> Result<Self, InvalidId> {
        let malformed = InvalidId::Malformed {
            example: "WEBH-0193A1B2C3D4E5F60718293A4B5C6D7E",
        };
        let hex = value.strip_prefix(Self::PREFIX).ok_or(malformed.clone())?;
        if hex.len() != 32
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            return Err(malformed);
        }
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_webhook_ids_parse_and_sort_by_creation() {
        let first = WebhookId::generate();
        let second = WebhookId::generate();
        assert_eq!(first.as_str().parse::<WebhookId>(), Ok(first.clone()));
        assert!(first < second);
    }

    #[test]
    fn webhook_ids_of_another_shape_are_refused() {
        for bad in [
            "",
            "WEBH-",
            "webh-0193A1B2C3D4E5F60718293A4B5C6D7E",
            "WEBH-0193a1b2c3d4e5f60718293a4b5c6d7e",
            "WEBH-123",
        ] {
            assert!(bad.parse::<WebhookId>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn tenant_ids_are_bounded_and_url_safe() {
        assert!("acme".parse::<TenantId>().is_ok());
        assert!("tenant_01.eu-west:prod@x".parse::<TenantId>().is_ok());
        assert_eq!("".parse::<TenantId>(), Err(InvalidId::Empty));
        assert!("a/b".parse::<TenantId>().is_err());
        assert!("a b".parse::<TenantId>().is_err());
        assert!("x".repeat(129).parse::<TenantId>().is_err());
    }

    #[test]
    fn event_ids_must_be_header_safe() {
        assert!(
            "3f0c9a4e-1b2c-4d5e-8f90-123456789abc"
                .parse::<EventId>()
                .is_ok()
        );
        assert!("evt 1".parse::<EventId>().is_err());
        assert!("evt\n1".parse::<EventId>().is_err());
        assert!("é".parse::<EventId>().is_err());
        assert!("e".repeat(256).parse::<EventId>().is_err());
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<TenantId>("\"acme\"").is_ok());
        assert!(serde_json::from_str::<TenantId>("\"a/b\"").is_err());
    }
}
