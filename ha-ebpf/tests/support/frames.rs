//! Test frames built byte by byte, with correct IPv4 header and VRRPv3 checksums, so the same
//! fixtures stay valid once `vrrp_rx` starts validating adverts (RFC 5798 §7.1).

/// VRRP's IANA protocol number (IPv4 protocol / IPv6 next header).
pub const IPPROTO_VRRP: u8 = 112;
const IPPROTO_TCP: u8 = 6;
const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;

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
fn ethernet(dst: [u8; 6], src: [u8; 6], vlan_id: Option<u16>, ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(18);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(vid) = vlan_id {
        f.extend_from_slice(&ETH_P_8021Q.to_be_bytes());
        f.extend_from_slice(&(vid & 0x0fff).to_be_bytes()); // PCP 0, DEI 0
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// 20-byte IPv4 header (no options) with a valid header checksum.
fn ipv4_header(src: [u8; 4], dst: [u8; 4], protocol: u8, ttl: u8, payload_len: usize) -> Vec<u8> {
    let total_len = u16::try_from(20 + payload_len).expect("test payload fits an IPv4 packet");
    let mut h = vec![0x45, 0xc0]; // version 4, IHL 5; DSCP CS6 as VRRP senders use
    h.extend_from_slice(&total_len.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0x40, 0]); // id 0, DF
    h.extend_from_slice(&[ttl, protocol, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let csum = internet_checksum(&[&h]);
    h[10..12].copy_from_slice(&csum.to_be_bytes());
    h
}

/// RFC 5798 §5.1 VRRPv3 advertisement (type 1) with checksum field zero; `addrs` is the
/// concatenated address list (4 or 16 bytes each).
fn vrrp_v3_advert(
    vrid: u8,
    priority: u8,
    max_advert_centis: u16,
    addrs: &[u8],
    addr_len: usize,
) -> Vec<u8> {
    let count = u8::try_from(addrs.len() / addr_len).expect("address count fits a byte");
    let mut v = vec![0x31, vrid, priority, count]; // version 3, type 1 = ADVERTISEMENT
    v.extend_from_slice(&(max_advert_centis & 0x0fff).to_be_bytes()); // 4 reserved bits zero
    v.extend_from_slice(&[0, 0]); // checksum, filled by the caller
    v.extend_from_slice(addrs);
    v
}

/// Fills the checksum field (bytes 6..8) of a VRRPv3 packet computed over `pseudo` + packet.
fn with_vrrp_checksum(mut vrrp: Vec<u8>, pseudo: &[u8]) -> Vec<u8> {
    let csum = internet_checksum(&[pseudo, &vrrp]);
    vrrp[6..8].copy_from_slice(&csum.to_be_bytes());
    vrrp
}

/// A VRRPv3 IPv4 advert from 192.0.2.1 to 224.0.0.18 (RFC 5798 §5.1.1.2), VRID 51, priority
/// 100, advert interval 1 s, virtual address 192.0.2.10, TTL 255; optionally VLAN-tagged.
pub fn vrrp_v4_advert(vlan_id: Option<u16>) -> Vec<u8> {
    let (src, dst) = ([192, 0, 2, 1], [224, 0, 0, 18]);
    let vrrp = vrrp_v3_advert(51, 100, 100, &[192, 0, 2, 10], 4);
    // RFC 5798 §5.2.8: the v3 checksum covers an IPv4 pseudo-header too (RFC 768 layout).
    let len = u16::try_from(vrrp.len()).expect("small").to_be_bytes();
    let pseudo = [&src[..], &dst[..], &[0, IPPROTO_VRRP], &len[..]].concat();
    let vrrp = with_vrrp_checksum(vrrp, &pseudo);

    let mut f = ethernet(
        [0x01, 0x00, 0x5e, 0, 0, 0x12],
        [0, 0, 0x5e, 0, 1, 51],
        vlan_id,
        ETH_P_IPV4,
    );
    f.extend(ipv4_header(src, dst, IPPROTO_VRRP, 255, vrrp.len()));
    f.extend(vrrp);
    f
}

/// A VRRPv3 IPv6 advert from fe80::1 to ff02::12 (RFC 5798 §5.1.2.2), VRID 51, hop limit 255,
/// virtual address 2001:db8::10.
pub fn vrrp_v6_advert() -> Vec<u8> {
    let src: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let dst: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
    let vip: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let vrrp = vrrp_v3_advert(51, 100, 100, &vip, 16);
    // The IPv6 pseudo-header (RFC 8200 §8.1).
    let len = u32::try_from(vrrp.len()).expect("small").to_be_bytes();
    let pseudo = [&src[..], &dst[..], &len[..], &[0, 0, 0, IPPROTO_VRRP]].concat();
    let vrrp = with_vrrp_checksum(vrrp, &pseudo);

    let mut f = ethernet(
        [0x33, 0x33, 0, 0, 0, 0x12],
        [0, 0, 0x5e, 0, 2, 51],
        None,
        ETH_P_IPV6,
    );
    f.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, traffic class 0, flow label 0
    f.extend_from_slice(&u16::try_from(vrrp.len()).expect("small").to_be_bytes());
    f.extend_from_slice(&[IPPROTO_VRRP, 255]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend(vrrp);
    f
}

/// A TCP SYN from 198.51.100.7:40000 to 192.0.2.10:80 (TCP checksum left zero: nothing here
/// reads it).
pub fn tcp_syn_v4() -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20);
    tcp.extend_from_slice(&40000u16.to_be_bytes());
    tcp.extend_from_slice(&80u16.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]); // seq 1, ack 0
    tcp.extend_from_slice(&[0x50, 0x02]); // data offset 5, SYN
    tcp.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]); // window, checksum, urgent
    let mut f = ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], None, ETH_P_IPV4);
    f.extend(ipv4_header(
        [198, 51, 100, 7],
        [192, 0, 2, 10],
        IPPROTO_TCP,
        64,
        tcp.len(),
    ));
    f.extend(tcp);
    f
}
