//! The network policy: which addresses Herald may send to.
//!
//! By default only public unicast addresses are allowed, so that a webhook URL cannot reach
//! the platform's own network (loopback, private ranges, link-local cloud metadata services,
//! CGNAT, ...). `ALLOW_PRIVATE_TARGETS` lifts that rule; `DENY_TARGETS` names ranges that stay
//! refused even then (a cloud's metadata or DNS address, the platform's own services). The
//! check applies to every address a name resolves to, at connect time, so a name that
//! resolves (or re-resolves) to a refused address is refused too.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A CIDR range (`169.254.169.254/32`, `fd00::/8`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetRange(ipnet::IpNet);

impl TargetRange {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

impl FromStr for TargetRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        text.parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from))
            .map(Self)
            .map_err(|_| format!("`{text}` is not an IP address or CIDR range"))
    }
}

impl fmt::Display for TargetRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A comma-separated list of ranges (`DENY_TARGETS`); empty entries are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetRanges(pub Vec<TargetRange>);

impl FromStr for TargetRanges {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',')
            .filter(|item| !item.trim().is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// Why an address may not be delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a public unicast address, and private targets are not allowed.
    NotPublic,
    /// In a range of `DENY_TARGETS`.
    Denied(TargetRange),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotPublic => f.write_str("not a public address"),
            Refusal::Denied(range) => write!(f, "in the denied range {range} (DENY_TARGETS)"),
        }
    }
}

/// Which addresses this installation delivers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Allows loopback, private, link-local and other non-public addresses.
    pub allow_private_targets: bool,
    /// Refused whatever `allow_private_targets` says.
    pub deny: Vec<TargetRange>,
}

impl NetworkPolicy {
    /// Whether `ip` may be connected to. An IPv4 address embedded in an IPv6 one (mapped,
    /// NAT64, 6to4) is judged as well, since that is where the connection would go.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        for candidate in std::iter::once(ip).chain(embedded) {
            if let Some(range) = self.deny.iter().find(|range| range.contains(candidate)) {
                return Err(Refusal::Denied(*range));
            }
        }
        if !self.allow_private_targets && !is_public(ip) {
            return Err(Refusal::NotPublic);
        }
        Ok(())
    }
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..=127).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0.0/24
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast 192.88.99.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || a >= 240; // reserved 240.0.0.0/4
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || s[..5] == [0, 0, 0, 0, 0] // IPv4-mapped ::ffff:0:0/96 and IPv4-compatible ::/96
        || s[..6] == [0, 0, 0, 0, 0xffff, 0] // IPv4-translated ::ffff:0:0:0/96
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001) // local-use NAT64 64:ff9b:1::/48
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation 3fff::/20
        || (s[0] == 0x2001 && s[1] == 0x0000) // Teredo 2001::/32
        || (s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0x0000) // benchmarking 2001:2::/48
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0010) // ORCHID 2001:10::/28
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0020) // ORCHIDv2 2001:20::/28
        || s[0] == 0x5f00 // SRv6 SIDs 5f00::/16
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]); // discard 100::/64
    if refused {
        return false;
    }
    // Addresses that embed an IPv4 address (NAT64, 6to4) are judged by it too.
    embedded_v4(ip).is_none_or(is_public_v4)
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:AABB:CCDD::`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(from(hi, lo)),
        // ::1 and :: are loopback and unspecified, not IPv4-compatible addresses.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(from(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().expect("an IP address"))
    }

    #[test]
    fn non_public_ipv4_ranges_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.0.8",
            "192.88.99.1",
            "192.88.99.255",
        ] {
            assert!(!public(ip), "{ip} was allowed");
        }
    }

    #[test]
    fn public_ipv4_addresses_are_allowed() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "192.88.98.1",
            "192.88.100.1",
            "198.20.0.1",
        ] {
            assert!(public(ip), "{ip} was refused");
        }
    }

    #[test]
    fn non_public_ipv6_ranges_and_embedded_ipv4_forms_are_refused() {
        for ip in [
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "fec0::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
            // IPv4-mapped ::ffff:0:0/96, whatever the IPv4 address.
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:8.8.8.8",
            // IPv4-compatible ::/96 and IPv4-translated ::ffff:0:0:0/96.
            "::127.0.0.1",
            "::8.8.8.8",
            "::ffff:0:8.8.8.8",
            "::ffff:0:a00:1",
            // Local-use NAT64 64:ff9b:1::/48, and the well-known prefix with a private IPv4.
            "64:ff9b:1::8.8.8.8",
            "64:ff9b:1:ffff::1",
            "64:ff9b::10.0.0.1",
            // 6to4 of a private IPv4.
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            // Benchmarking 2001:2::/48, ORCHID 2001:10::/28, ORCHIDv2 2001:20::/28.
            "2001:2::1",
            "2001:2:0:ffff::1",
            "2001:10::1",
            "2001:1f:ffff::1",
            "2001:20::1",
            "2001:2f:ffff::1",
            // Documentation 3fff::/20, SRv6 SIDs 5f00::/16.
            "3fff::1",
            "3fff:fff::1",
            "5f00::1",
            "5f00:ffff::1",
        ] {
            assert!(!public(ip), "{ip} was allowed");
        }
    }

    #[test]
    fn public_ipv6_addresses_are_allowed() {
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2001:3::1",
            "2001:30::1",
            "2001:200::1",
            "3ffe::1",
            "3fff:1000::1",
            "5f01::1",
            "5eff::1",
        ] {
            assert!(public(ip), "{ip} was refused");
        }
    }

    #[test]
    fn denied_ranges_apply_even_when_private_targets_are_allowed() {
        let policy = NetworkPolicy {
            allow_private_targets: true,
            deny: vec![
                "169.254.169.254".parse().expect("an address"),
                "10.0.0.0/8".parse().expect("a range"),
                "fd00:ec2::/32".parse().expect("a range"),
            ],
        };
        let check = |ip: &str| policy.check(ip.parse().expect("an IP address"));
        assert_eq!(check("127.0.0.1"), Ok(()));
        assert_eq!(check("192.168.1.1"), Ok(()));
        assert!(matches!(check("169.254.169.254"), Err(Refusal::Denied(_))));
        assert!(matches!(check("10.1.2.3"), Err(Refusal::Denied(_))));
        assert!(matches!(check("::ffff:10.1.2.3"), Err(Refusal::Denied(_))));
        assert!(matches!(check("fd00:ec2::254"), Err(Refusal::Denied(_))));
        let strict = NetworkPolicy::default();
        assert_eq!(
            strict.check("127.0.0.1".parse().expect("an IP address")),
            Err(Refusal::NotPublic)
        );
        assert_eq!(
            strict.check("8.8.8.8".parse().expect("an IP address")),
            Ok(())
        );
    }

    #[test]
    fn ranges_parse_from_cidr_or_a_single_address() {
        assert_eq!(
            "169.254.169.254"
                .parse::<TargetRange>()
                .map(|r| r.to_string()),
            Ok("169.254.169.254/32".to_owned())
        );
        assert!("10.0.0.0/8".parse::<TargetRange>().is_ok());
        assert!("fd00::/8".parse::<TargetRange>().is_ok());
        assert!("10.0.0.0/33".parse::<TargetRange>().is_err());
        assert_eq!("".parse::<TargetRanges>(), Ok(TargetRanges::default()));
        assert_eq!(
            " 10.0.0.0/8, ,::1 "
                .parse::<TargetRanges>()
                .map(|r| r.0.len()),
            Ok(2)
        );
        assert!("10.0.0.0/8,nope".parse::<TargetRanges>().is_err());
        assert!("metadata".parse::<TargetRange>().is_err());
    }
}
