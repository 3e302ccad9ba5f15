//! Test frames built byte by byte (independently of the daemon's codec, so the kernel program
//! is checked against the RFCs rather than against our own encoder): VRRP adverts of both
//! versions and families with correct checksums, ARP requests, neighbour solicitations, and
//! the replies the program must produce.
#![allow(dead_code)]

pub const IPPROTO_VRRP: u8 = 112;
pub const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_TCP: u8 = 6;
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_8021Q: u16 = 0x8100;

pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const SRC4: [u8; 4] = [192, 0, 2, 2];
pub const DST4: [u8; 4] = [224, 0, 0, 18];
pub const VIP4: [u8; 4] = [192, 0, 2, 100];
pub const CLIENT4: [u8; 4] = [192, 0, 2, 50];
pub const SRC6: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
pub const DST6: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
pub const VIP6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
pub const CLIENT6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50,
];

/// RFC 1071 one's-complement sum over `chunks`, folded and inverted.
pub fn internet_checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in chunks {
        for pair in chunk.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet header: `dst`, `src`, optional 802.1Q tag with `vlan_id`, then `ethertype`.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], vlan_id: Option<u16>, ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(18);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(vid) = vlan_id {
        f.extend_from_slice(&ETH_P_8021Q.to_be_bytes());
        f.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// IPv4 header with `options` (a multiple of 4 bytes) and a valid header checksum.
pub fn ipv4_header(
    src: [u8; 4],
    dst: [u8; 4],
    protocol: u8,
    ttl: u8,
    options: &[u8],
    frag: u16,
    payload_len: usize,
) -> Vec<u8> {
    let hlen = 20 + options.len();
    let total_len = u16::try_from(hlen + payload_len).expect("fits");
    let mut h = vec![0x40 | (hlen / 4) as u8, 0xc0];
    h.extend_from_slice(&total_len.to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[ttl, protocol, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(options);
    let csum = internet_checksum(&[&h]);
    h[10..12].copy_from_slice(&csum.to_be_bytes());
    h
}

pub fn ipv6_header(src: [u8; 16], dst: [u8; 16], next: u8, hop: u8, payload_len: usize) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&u16::try_from(payload_len).expect("fits").to_be_bytes());
    h.extend_from_slice(&[next, hop]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h
}

/// One VRRP advertisement and the packet around it. Fields are public so a case can break
/// exactly one thing.
#[derive(Clone, Debug)]
pub struct Advert {
    pub version: u8,
    pub kind: u8,
    pub vrid: u8,
    pub priority: u8,
    /// v3: Max Adver Int (centiseconds); v2: Adver Int (seconds).
    pub interval: u16,
    /// v2 auth type (0 none, 1 PASS, 2 AH).
    pub auth_type: u8,
    pub password: [u8; 8],
    /// Addresses, 4 or 16 bytes each.
    pub addrs: Vec<Vec<u8>>,
    /// Overrides the address count field when set.
    pub count: Option<u8>,
    pub src: Vec<u8>,
    pub dst: Vec<u8>,
    pub ttl: u8,
    pub vlan: Option<u16>,
    pub ip_options: Vec<u8>,
    /// IPv4 flags + fragment offset word.
    pub frag: u16,
    /// Added to the computed checksum (0 = correct).
    pub checksum_delta: u16,
    /// Bytes appended after the VRRP message but inside the IP length.
    pub trailing: usize,
    /// Ethernet padding after the IP packet (not in the IP length).
    pub padding: usize,
}

impl Advert {
    /// VRRPv3 over IPv4: 192.0.2.2 → 224.0.0.18, VRID 51, priority 100, 1 s, VIP 192.0.2.100.
    pub fn v3_4() -> Advert {
        Advert {
            version: 3,
            kind: 1,
            vrid: 51,
            priority: 100,
            interval: 100,
            auth_type: 0,
            password: [0; 8],
            addrs: vec![VIP4.to_vec()],
            count: None,
            src: SRC4.to_vec(),
            dst: DST4.to_vec(),
            ttl: 255,
            vlan: None,
            ip_options: Vec::new(),
            frag: 0x4000,
            checksum_delta: 0,
            trailing: 0,
            padding: 0,
        }
    }

    /// VRRPv3 over IPv6: fe80::2 → ff02::12, VRID 51, VIP 2001:db8::100.
    pub fn v3_6() -> Advert {
        Advert {
            addrs: vec![VIP6.to_vec()],
            src: SRC6.to_vec(),
            dst: DST6.to_vec(),
            ..Advert::v3_4()
        }
    }

    /// VRRPv2 over IPv4 with PASS authentication "secret", 1 s.
    pub fn v2_4() -> Advert {
        let mut password = [0u8; 8];
        password[..6].copy_from_slice(b"secret");
        Advert {
            version: 2,
            interval: 1,
            auth_type: 1,
            password,
            ..Advert::v3_4()
        }
    }

    pub fn is_v6(&self) -> bool {
        self.src.len() == 16
    }

    /// The VRRP message with its checksum.
    pub fn message(&self) -> Vec<u8> {
        let count = self.count.unwrap_or(self.addrs.len() as u8);
        let mut v = vec![
            (self.version << 4) | self.kind,
            self.vrid,
            self.priority,
            count,
        ];
        if self.version == 2 {
            v.extend_from_slice(&[self.auth_type, self.interval as u8]);
        } else {
            v.extend_from_slice(&(self.interval & 0x0fff).to_be_bytes());
        }
        v.extend_from_slice(&[0, 0]);
        for a in &self.addrs {
            v.extend_from_slice(a);
        }
        if self.version == 2 && !self.is_v6() {
            v.extend_from_slice(&self.password);
        }
        v.extend(std::iter::repeat_n(0u8, self.trailing));
        let csum = if self.version == 3 {
            let len = v.len() as u32;
            let pseudo = if self.is_v6() {
                [
                    &self.src[..],
                    &self.dst[..],
                    &len.to_be_bytes(),
                    &[0, 0, 0, IPPROTO_VRRP],
                ]
                .concat()
            } else {
                [
                    &self.src[..],
                    &self.dst[..],
                    &[0, IPPROTO_VRRP],
                    &(len as u16).to_be_bytes(),
                ]
                .concat()
            };
            internet_checksum(&[&pseudo, &v])
        } else {
            internet_checksum(&[&v])
        };
        v[6..8].copy_from_slice(&csum.wrapping_add(self.checksum_delta).to_be_bytes());
        v
    }

    pub fn frame(&self) -> Vec<u8> {
        let msg = self.message();
        let mut f = if self.is_v6() {
            let mut f = ethernet([0x33, 0x33, 0, 0, 0, 0x12], PEER_MAC, self.vlan, ETH_P_IPV6);
            let src: [u8; 16] = self.src.clone().try_into().expect("16 bytes");
            let dst: [u8; 16] = self.dst.clone().try_into().expect("16 bytes");
            f.extend(ipv6_header(src, dst, IPPROTO_VRRP, self.ttl, msg.len()));
            f
        } else {
            let mut f = ethernet(
                [0x01, 0x00, 0x5e, 0, 0, 0x12],
                PEER_MAC,
                self.vlan,
                ETH_P_IPV4,
            );
            let src: [u8; 4] = self.src.clone().try_into().expect("4 bytes");
            let dst: [u8; 4] = self.dst.clone().try_into().expect("4 bytes");
            f.extend(ipv4_header(
                src,
                dst,
                IPPROTO_VRRP,
                self.ttl,
                &self.ip_options,
                self.frag,
                msg.len(),
            ));
            f
        };
        f.extend(msg);
        f.extend(std::iter::repeat_n(0u8, self.padding));
        f
    }
}

/// An ARP request from the client for `target`.
pub fn arp_request(target: [u8; 4]) -> Vec<u8> {
    arp(1, CLIENT4, target, [0; 6])
}

/// An ARP frame with op `op` from the client, sender `spa`.
pub fn arp(op: u16, spa: [u8; 4], tpa: [u8; 4], tha: [u8; 6]) -> Vec<u8> {
    let mut f = ethernet([0xff; 6], PEER_MAC, None, ETH_P_ARP);
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa);
    f
}

/// What the program must answer to `arp_request(VIP4)` when it owns the VIP with `mac`.
pub fn arp_reply(vip: [u8; 4], mac: [u8; 6]) -> Vec<u8> {
    let mut f = ethernet(PEER_MAC, mac, None, ETH_P_ARP);
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&vip);
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&CLIENT4);
    f
}

fn icmpv6(src: [u8; 16], dst: [u8; 16], mut body: Vec<u8>) -> Vec<u8> {
    let len = body.len() as u32;
    let pseudo = [
        &src[..],
        &dst[..],
        &len.to_be_bytes(),
        &[0, 0, 0, IPPROTO_ICMPV6],
    ]
    .concat();
    let csum = internet_checksum(&[&pseudo, &body]);
    body[2..4].copy_from_slice(&csum.to_be_bytes());
    body
}

/// The solicited-node multicast address of `target` (RFC 4291 §2.7.1).
fn solicited_node(target: [u8; 16]) -> [u8; 16] {
    let mut a = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    a[13..].copy_from_slice(&target[13..]);
    a
}

/// A neighbour solicitation from the client for `target`, with a source link-layer option
/// unless `without_option`; `src` all-zero makes it a DAD probe.
pub fn neighbor_solicit(target: [u8; 16], src: [u8; 16], hop: u8, without_option: bool) -> Vec<u8> {
    let dst = solicited_node(target);
    let mut body = vec![135, 0, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(&target);
    if !without_option {
        body.extend_from_slice(&[1, 1]);
        body.extend_from_slice(&PEER_MAC);
    }
    let body = icmpv6(src, dst, body);
    let mut f = ethernet(
        [0x33, 0x33, 0xff, dst[13], dst[14], dst[15]],
        PEER_MAC,
        None,
        ETH_P_IPV6,
    );
    f.extend(ipv6_header(src, dst, IPPROTO_ICMPV6, hop, body.len()));
    f.extend(body);
    f
}

/// What the program must answer to `neighbor_solicit(VIP6, CLIENT6, 255, false)`.
pub fn neighbor_advert(target: [u8; 16], mac: [u8; 6], router: bool) -> Vec<u8> {
    let mut body = vec![136, 0, 0, 0, if router { 0xe0 } else { 0x60 }, 0, 0, 0];
    body.extend_from_slice(&target);
    body.extend_from_slice(&[2, 1]);
    body.extend_from_slice(&mac);
    let body = icmpv6(target, CLIENT6, body);
    let mut f = ethernet(PEER_MAC, mac, None, ETH_P_IPV6);
    f.extend(ipv6_header(
        target,
        CLIENT6,
        IPPROTO_ICMPV6,
        255,
        body.len(),
    ));
    f.extend(body);
    f
}

/// A TCP SYN from 198.51.100.7:40000 to the VIP (TCP checksum zero: nothing reads it).
pub fn tcp_syn_v4() -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20);
    tcp.extend_from_slice(&40000u16.to_be_bytes());
    tcp.extend_from_slice(&80u16.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
    tcp.extend_from_slice(&[0x50, 0x02]);
    tcp.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
    let mut f = ethernet(OUR_MAC, PEER_MAC, None, ETH_P_IPV4);
    f.extend(ipv4_header(
        [198, 51, 100, 7],
        VIP4,
        IPPROTO_TCP,
        64,
        &[],
        0x4000,
        tcp.len(),
    ));
    f.extend(tcp);
    f
}

/// An ICMPv6 echo request to the VIP: ICMPv6 that is not a solicitation.
pub fn ping6() -> Vec<u8> {
    let body = icmpv6(CLIENT6, VIP6, vec![128, 0, 0, 0, 0, 1, 0, 1]);
    let mut f = ethernet(OUR_MAC, PEER_MAC, None, ETH_P_IPV6);
    f.extend(ipv6_header(CLIENT6, VIP6, IPPROTO_ICMPV6, 64, body.len()));
    f.extend(body);
    f
}
