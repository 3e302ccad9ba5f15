//! Adverts captured from the real keepalived 2.2.7 (Debian bookworm's package), shared by the
//! codec, AH and validation tests.
//!
//! How they were captured: two network namespaces joined by a veth pair; keepalived ran in
//! one (`keepalived -n -l -D --vrrp -f ka.conf`, interface address 10.99.0.1/24 and
//! fd00:99::1/64, link-local fe80::ecfa:a8ff:fe77:1384) with seven instances, one per vector
//! below; in the other namespace a Python `AF_PACKET` socket on the peer veth wrote every
//! frame of IP protocol 112 or 51 (and IPv6 next header 112) as hex. Each instance's first
//! advert after it became MASTER is kept, and for some the priority-0 advert keepalived sent
//! on SIGTERM. IPv4 vectors are whole IP packets (what an IPv4 raw socket returns); IPv6
//! vectors are the VRRP message only (what an IPv6 raw socket returns), the IPv6 header's
//! source and destination given beside them. All checksums and the AH ICV were re-verified
//! independently (Python `hmac`/`hashlib`) before being pasted here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Decodes a hex string (test constants only).
pub fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

pub const KA_SRC4: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
pub const PEER4: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
/// The link-local source keepalived used for IPv6 adverts.
pub const KA_SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0xecfa, 0xa8ff, 0xfe77, 0x1384);

pub fn ka_src4() -> IpAddr {
    IpAddr::V4(KA_SRC4)
}

pub fn ka_src6() -> IpAddr {
    IpAddr::V6(KA_SRC6)
}

/// `version 2`, VRID 51, priority 100, `advert_int 1`, no authentication, VIPs
/// 192.168.200.16 and .17; IP id 1.
pub const V2_NOAUTH: &str = "45c0002c00010000ff70d02a0a630001e0000012\
                             2133640200016955c0a8c810c0a8c8110000000000000000";
/// The same instance's priority-0 advert on shutdown (IP id 8).
pub const V2_NOAUTH_PRIO0: &str = "45c0002c00080000ff70d0230a630001e0000012\
                                   213300020001cd55c0a8c810c0a8c8110000000000000000";
/// `version 2`, VRID 52, priority 150, `auth_type PASS`, `auth_pass secret`, VIP
/// 192.168.201.1.
pub const V2_PASS: &str = "45c0002800010000ff70d02e0a630001e0000012\
                           21349601010181d2c0a8c9017365637265740000";
/// `version 2`, VRID 53, priority 200, `auth_type AH`, `auth_pass secret`, VIP 192.168.202.1;
/// IP protocol 51, AH sequence number 1.
pub const V2_AH: &str = "45c0004000010000ff33d0530a630001e0000012\
                         700400000a63000100000001abb1a26659e67e3a45976132\
                         2135c80102018a1dc0a8ca010000000000000000";
/// The same instance's priority-0 advert (IP id 8, AH sequence number 8).
pub const V2_AH_PRIO0: &str = "45c0004000080000ff33d04c0a630001e0000012\
                               700400000a630001000000084e33518d3d526a3bfad26b4e\
                               213500010201521ec0a8ca010000000000000000";
/// `version 3`, VRID 54, priority 120, `advert_int 0.5` (50 cs), VIPs 192.168.203.1 and .2.
pub const V3_V4: &str = "45c0002400010000ff70d0320a630001e0000012\
                         3136780200325448c0a8cb01c0a8cb02";
/// `version 3`, VRID 55, priority 110, `advert_int 1`, unicast from 10.99.0.1 to 10.99.0.2
/// (the pseudo-header uses the unicast destination), VIP 192.168.204.1.
pub const V3_V4_UNICAST: &str = "45c0002000010000ff70a5e40a6300010a630002\
                                 31376e010064be73c0a8cc01";
/// `version 3`, VRID 56, priority 130, `advert_int 0.25` (25 cs), VIPs fd00:99::100 and
/// fd00:99::101; sent from [`KA_SRC6`] to ff02::12 with hop limit 255.
pub const V3_V6: &str = "313882020019a952\
                         fd000099000000000000000000000100\
                         fd000099000000000000000000000101";
/// `version 2` over IPv6 (keepalived's extension: no authentication data, checksum with the
/// IPv6 pseudo-header), VRID 57, priority 140, `advert_int 2`, VIP fd00:99::200.
pub const V2_V6: &str = "21398c010002ad14fd000099000000000000000000000200";
