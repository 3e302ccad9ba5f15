//! Names keepalived accepts in place of numbers in addresses, routes and rules (its
//! `find_rttables_*`, from iproute2's default `rt_scopes`, `rt_tables`, `rt_protos`,
//! `rt_dsfield` plus plain numbers).

/// Parses a decimal or `0x` hex number up to `max`.
pub fn number(s: &str, max: u64) -> Option<u64> {
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        s.parse().ok()?
    } else {
        return None;
    };
    (v <= max).then_some(v)
}

pub fn scope(s: &str) -> Option<u8> {
    match s {
        "global" => Some(0),
        "site" => Some(200),
        "link" => Some(253),
        "host" => Some(254),
        "nowhere" => Some(255),
        _ => number(s, 255).map(|v| v as u8),
    }
}

pub fn table(s: &str) -> Option<u32> {
    match s {
        "unspec" => Some(0),
        "default" => Some(253),
        "main" => Some(254),
        "local" => Some(255),
        _ => number(s, u64::from(u32::MAX)).map(|v| v as u32),
    }
}

pub fn protocol(s: &str) -> Option<u8> {
    let v = match s {
        "unspec" => 0,
        "redirect" => 1,
        "kernel" => 2,
        "boot" => 3,
        "static" => 4,
        "gated" => 8,
        "ra" => 9,
        "mrt" => 10,
        "zebra" => 11,
        "bird" => 12,
        "dnrouted" => 13,
        "xorp" => 14,
        "ntk" => 15,
        "dhcp" => 16,
        "keepalived" => 18,
        "babel" => 42,
        "openr" => 99,
        "bgp" => 186,
        "isis" => 187,
        "ospf" => 188,
        "rip" => 189,
        "eigrp" => 192,
        _ => return number(s, 255).map(|v| v as u8),
    };
    Some(v)
}

/// keepalived's own protocol number (RTPROT_KEEPALIVED): routes/rules it tracks use it.
pub const RTPROT_KEEPALIVED: u8 = 18;

pub fn dsfield(s: &str) -> Option<u8> {
    // rt_dsfield names are class selectors and AF codepoints; hex numbers are usual.
    let v = match s {
        "default" => 0x00,
        "CS1" => 0x20,
        "CS2" => 0x40,
        "CS3" => 0x60,
        "CS4" => 0x80,
        "CS5" => 0xa0,
        "CS6" => 0xc0,
        "CS7" => 0xe0,
        "EF" => 0xb8,
        _ => return u8::from_str_radix(s.trim_start_matches("0x"), 16).ok(),
    };
    Some(v)
}

/// Route types (`ip route add TYPE PREFIX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteType {
    Unicast,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
    Nat,
    Xresolve,
}

pub fn route_type(s: &str) -> Option<RouteType> {
    use RouteType::*;
    Some(match s {
        "unicast" => Unicast,
        "local" => Local,
        "broadcast" => Broadcast,
        "anycast" => Anycast,
        "multicast" => Multicast,
        "blackhole" => Blackhole,
        "unreachable" => Unreachable,
        "prohibit" => Prohibit,
        "throw" => Throw,
        "nat" => Nat,
        "xresolve" => Xresolve,
        _ => return None,
    })
}
