//! W3C trace context (<https://www.w3.org/TR/trace-context/>) from publishers, validated.
//!
//! `traceparent` and `tracestate` arrive as AMQP headers set by whoever published the event:
//! untrusted input that Herald may copy into an HTTP request header. Only values of the W3C
//! format pass; anything else is dropped, never an error, so a bad header can neither fail a
//! delivery nor smuggle bytes into a request.

/// The longest `tracestate` carried on (the W3C limit).
pub const MAX_TRACESTATE_LEN: usize = 512;

/// The longest `traceparent` accepted: version 00 is 55 characters; later versions may append
/// fields, which are bounded here.
pub const MAX_TRACEPARENT_LEN: usize = 256;

/// `traceparent` when it is a valid W3C value: `version-traceid-parentid-flags`, lowercase
/// hex, neither id all zeros, version not `ff`; version `00` exactly, later versions with
/// optional further `-`-separated fields.
pub fn valid_traceparent(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.len() < 55 || value.len() > MAX_TRACEPARENT_LEN {
        return None;
    }
    let bytes = value.as_bytes();
    let hex = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    };
    let zeros = |range: std::ops::Range<usize>| bytes[range].iter().all(|b| *b == b'0');
    let shape = hex(0..2)
        && bytes[2] == b'-'
        && hex(3..35)
        && bytes[35] == b'-'
        && hex(36..52)
        && bytes[52] == b'-'
        && hex(53..55);
    if !shape || &value[0..2] == "ff" || zeros(3..35) || zeros(36..52) {
        return None;
    }
    let version_00 = &value[0..2] == "00";
    match value.len() {
        55 => Some(value),
        _ if version_00 => None,
        // A later version's extra fields: `-` then visible ASCII.
        _ if bytes[55] == b'-' && bytes[56..].iter().all(u8::is_ascii_graphic) => Some(value),
        _ => None,
    }
}

/// `tracestate` when it is a valid W3C list: at most 32 `key=value` members separated by
/// commas, keys of `a-z 0-9 _ - * /` (optionally `tenant@system`), values of printable ASCII
/// without `,` or `=` and not ending in a space, 512 characters in all.
pub fn valid_tracestate(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.is_empty() || value.len() > MAX_TRACESTATE_LEN {
        return None;
    }
    let members: Vec<&str> = value
        .split(',')
        .map(|m| m.trim_matches([' ', '\t']))
        .filter(|m| !m.is_empty())
        .collect();
    if members.is_empty() || members.len() > 32 {
        return None;
    }
    members
        .iter()
        .all(|member| valid_member(member))
        .then_some(value)
}

fn valid_member(member: &str) -> bool {
    let Some((key, value)) = member.split_once('=') else {
        return false;
    };
    valid_key(key)
        && !value.is_empty()
        && value.len() <= 256
        && !value.ends_with(' ')
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

fn valid_key(key: &str) -> bool {
    let part = |text: &str, max: usize| {
        let bytes = text.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= max
            && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
            && bytes.iter().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'-' | b'*' | b'/')
            })
    };
    match key.split_once('@') {
        None => part(key, 256),
        Some((tenant, system)) => part(tenant, 241) && part(system, 14),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_w3c_traceparent_passes_unchanged() {
        assert_eq!(valid_traceparent(VALID), Some(VALID));
        assert_eq!(valid_traceparent(&format!(" {VALID} ")), Some(VALID));
        let later = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra";
        assert_eq!(valid_traceparent(later), Some(later));
    }

    #[test]
    fn malformed_traceparents_are_dropped() {
        for bad in [
            "",
            "garbage",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0\n",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333\u{e9}-01",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-\r\nX-Injected: 1",
        ] {
            assert_eq!(valid_traceparent(bad), None, "{bad:?} passed");
        }
        assert_eq!(valid_traceparent(&format!("01-{}", "a".repeat(300))), None);
    }

    #[test]
    fn a_w3c_tracestate_passes_and_anything_else_is_dropped() {
        for good in [
            "congo=t61rcWkgMzE",
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            "a@b=1, c-d*/e=x y",
        ] {
            assert_eq!(valid_tracestate(good), Some(good), "{good:?}");
        }
        for bad in [
            "",
            "novalue",
            "Upper=1",
            "k=",
            "k=a,b",
            "k=v\r\nX-Injected: 1",
            "k=caf\u{e9}",
            "k=a=b",
        ] {
            assert_eq!(valid_tracestate(bad), None, "{bad:?} passed");
        }
        let too_many: Vec<String> = (0..33).map(|n| format!("k{n}=v")).collect();
        assert_eq!(valid_tracestate(&too_many.join(",")), None);
        assert_eq!(valid_tracestate(&format!("k={}", "v".repeat(600))), None);
    }
}
