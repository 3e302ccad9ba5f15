//! Argument readers with keepalived 2.2.7's LVS semantics, on top of [`Ctx`].
//!
//! keepalived's check parser differs from the generic helpers in a few ways that change the
//! exit code, so they live here:
//! - most handlers read their first argument unconditionally; a missing one makes keepalived
//!   print "Configuration line starting `x` is missing a parameter" and exit: an error here;
//! - booleans are `true|on|yes` / `false|off|no`, lower case only (`check_true_false`);
//! - ports are `1..=65535`, and a port written as all zeros means "no port" (v2.0.7 legacy).

use std::net::{IpAddr, SocketAddr};

use crate::config::ctx::Ctx;
use crate::config::tree::Node;
use crate::units::Micros;

/// keepalived's `TIMER_MAXIMUM` (`ULONG_MAX - 1` microseconds), the bound of unbounded timers.
pub const TIMER_MAX: Micros = Micros(u64::MAX - 1);
/// keepalived's `UINT_MAX` microseconds, the bound of `connect_timeout`.
pub const CONNECT_TIMEOUT_MAX: Micros = Micros(u32::MAX as u64);
/// `IPVS_WEIGHT_LIMIT` in 2.2.7 (`INT_MAX`): checked empirically, `weight 2147483648` is refused.
pub const WEIGHT_LIMIT: u32 = i32::MAX as u32;

/// A timer in seconds (up to 6 decimals) within `[lo, hi]`.
pub fn timer(cx: &mut Ctx, n: &Node, lo: Micros, hi: Micros) -> Option<Micros> {
    cx.arg(n, 0)?;
    cx.micros(n, 0, lo, hi)
}

/// An unsigned integer argument within `[lo, hi]`.
pub fn unsigned(cx: &mut Ctx, n: &Node, i: usize, lo: u32, hi: u32) -> Option<u32> {
    cx.arg(n, i)?;
    cx.num(n, i, lo, hi)
}

/// A port as keepalived's `inet_stosockaddr` reads it: `Ok(None)` for an all-zero port.
pub fn port(s: &str) -> Result<Option<u16>, String> {
    if !s.is_empty() && s.bytes().all(|b| b == b'0') {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(Some(p as u16)),
        _ => Err(format!("invalid port '{s}'")),
    }
}

/// `IP [PORT]` as the virtual, real and sorry server lines write it; port 0 when absent.
pub fn server_addr(ip: &str, port_word: Option<&str>) -> Result<SocketAddr, String> {
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("invalid IP address '{ip}'"))?;
    let p = match port_word {
        Some(p) => port(p)?.unwrap_or(0),
        None => 0,
    };
    Ok(SocketAddr::new(ip, p))
}

/// A hex string as keepalived's `read_hex_str` reads it: words of hex digits taken in pairs
/// (an odd last digit is a byte of its own), `x`/`X` wildcard nibbles when `wildcards`.
/// `Ab12f 3 456` → `AB 12 0F 03 45 06`. Returns the bytes and, if wildcards were used, the
/// mask of ignored bits.
pub fn hex_string(s: &str, wildcards: bool) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let nibble = |c: u8| -> Option<(u8, u8)> {
        match c {
            b'0'..=b'9' => Some((c - b'0', 0)),
            b'a'..=b'f' => Some((c - b'a' + 10, 0)),
            b'A'..=b'F' => Some((c - b'A' + 10, 0)),
            b'x' | b'X' if wildcards => Some((0, 0x0f)),
            _ => None,
        }
    };
    let b = s.as_bytes();
    let (mut data, mut mask) = (Vec::new(), Vec::new());
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let (mut v, mut m) = nibble(b[i])?;
        i += 1;
        if i < b.len() && b[i] != b' ' {
            let (v2, m2) = nibble(b[i])?;
            i += 1;
            v = v << 4 | v2;
            m = m << 4 | m2;
        }
        data.push(v);
        mask.push(m);
    }
    if data.is_empty() {
        return None;
    }
    let masked = mask.iter().any(|&m| m != 0);
    Some((data, masked.then_some(mask)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_strings_read_like_keepalived() {
        // keepalived.conf(5), UDP_CHECK: "Ab12f 3 456 546443123" is AB 12 0F 03 45 06 54 64 43 12 03.
        let (d, m) = hex_string("Ab12f 3 456 546443123", false).unwrap();
        assert_eq!(
            d,
            [0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03]
        );
        assert_eq!(m, None);
        let (d, m) = hex_string("1x", true).unwrap();
        assert_eq!((d, m), (vec![0x10], Some(vec![0x0f])));
        assert!(hex_string("1x", false).is_none());
        assert!(hex_string("  ", false).is_none());
        assert!(hex_string("0g", false).is_none());
    }

    #[test]
    fn ports_of_all_zeros_mean_none() {
        assert_eq!(port("0"), Ok(None));
        assert_eq!(port("000"), Ok(None));
        assert_eq!(port("80"), Ok(Some(80)));
        assert!(port("65536").is_err());
        assert!(port("-1").is_err());
        assert_eq!(server_addr("2001:db8::1", None).unwrap().port(), 0);
    }
}
