//! Which URLs may be delivered to: applied by the API when a URL is saved and by the client
//! before every attempt, so that what is saved is what can be delivered to.

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use crate::policy::{NetworkPolicy, Refusal};

/// What the installation allows as delivery targets.
#[derive(Debug, Clone, Default)]
pub struct TargetRules {
    /// Allows plain `http://` URLs.
    pub allow_http: bool,
    /// Which addresses may be connected to.
    pub network: NetworkPolicy,
}

/// Why a URL cannot be delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlRefusal {
    /// Neither `https` nor `http`.
    UnsupportedScheme(String),
    /// `http` where only `https` is allowed.
    PlainHttp,
    NoHost,
    /// `user:password@` in the URL (an auth header is the way to send credentials).
    Credentials,
    Fragment,
    /// An IP-literal host the network policy refuses.
    Address {
        ip: IpAddr,
        refusal: Refusal,
    },
}

impl UrlRefusal {
    /// Whether the installation's policy refuses it (rather than the URL being unusable
    /// anywhere).
    pub fn is_policy(&self) -> bool {
        matches!(self, UrlRefusal::PlainHttp | UrlRefusal::Address { .. })
    }
}

impl fmt::Display for UrlRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlRefusal::UnsupportedScheme(scheme) => {
                write!(f, "the scheme `{scheme}` is not http(s)")
            }
            UrlRefusal::PlainHttp => f.write_str(
                "plain http:// is not allowed on this installation, use https:// (ALLOW_HTTP)",
            ),
            UrlRefusal::NoHost => f.write_str("the URL has no host"),
            UrlRefusal::Credentials => f.write_str("the URL contains credentials (use authHeader)"),
            UrlRefusal::Fragment => f.write_str("the URL has a fragment"),
            UrlRefusal::Address { ip, refusal } => write!(f, "{ip} is {refusal}"),
        }
    }
}

impl TargetRules {
    /// Applies the scheme rule, the shape rules and, for IP-literal hosts, the address rule
    /// (names are checked by the client's resolver when connecting).
    pub fn check(&self, url: &Url) -> Result<(), UrlRefusal> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err(UrlRefusal::PlainHttp),
            other => return Err(UrlRefusal::UnsupportedScheme(other.to_owned())),
        }
        let host = url.host().ok_or(UrlRefusal::NoHost)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Credentials);
        }
        if url.fragment().is_some() {
            return Err(UrlRefusal::Fragment);
        }
        let ip = match host {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        };
        if let Some(ip) = ip {
            self.network
                .check(ip)
                .map_err(|refusal| UrlRefusal::Address { ip, refusal })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rules: &TargetRules, url: &str) -> Result<(), UrlRefusal> {
        rules.check(&Url::parse(url).expect("a URL"))
    }

    #[test]
    fn plain_http_and_private_ip_literals_are_refused_by_default() {
        let strict = TargetRules::default();
        assert_eq!(
            check(&strict, "http://example.com/"),
            Err(UrlRefusal::PlainHttp)
        );
        for url in [
            "https://127.0.0.1/",
            "https://10.0.0.1/",
            "https://169.254.169.254/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
        ] {
            let refusal = check(&strict, url).expect_err(url);
            assert!(refusal.is_policy(), "{url}");
            assert!(
                refusal.to_string().contains("not a public address"),
                "{url}"
            );
        }
        assert_eq!(check(&strict, "https://example.com/"), Ok(()));
        assert_eq!(
            check(&strict, "ftp://example.com/"),
            Err(UrlRefusal::UnsupportedScheme("ftp".into()))
        );
        assert_eq!(
            check(&strict, "https://user:pw@example.com/"),
            Err(UrlRefusal::Credentials)
        );
        assert_eq!(
            check(&strict, "https://example.com/#x"),
            Err(UrlRefusal::Fragment)
        );

        let lenient = TargetRules {
            allow_http: true,
            network: NetworkPolicy {
                allow_private_targets: true,
                deny: vec!["169.254.169.254".parse().expect("an address")],
            },
        };
        assert_eq!(check(&lenient, "http://127.0.0.1:8080/"), Ok(()));
        assert!(check(&lenient, "http://169.254.169.254/").is_err());
    }
}
