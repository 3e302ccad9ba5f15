//! `PING_CHECK`: one ICMP echo request and its reply (RFC 792 "Echo or Echo Reply Message",
//! RFC 4443 §4.1-4.2).
//!
//! keepalived uses an unprivileged ICMP datagram ("ping") socket, which the kernel allows
//! when the daemon's group is in net.ipv4.ping_group_range (also for IPv6); keepalived
//! widens that sysctl itself, we do not, and fall back to a raw socket (CAP_NET_RAW)
//! instead. A ping socket gets the identifier from the kernel, which delivers only the
//! replies carrying it; a raw socket sees every echo reply from the peer, so ours are told
//! apart by identifier and sequence number.

use std::sync::atomic::{AtomicU16, Ordering};

use socket2::{Protocol, Socket, Type};

use super::{sock, udp, Outcome};
use crate::config::model::lvs::checker::ConnOpts;

/// keepalived's echo payload length (ICMP_BUFSIZE), of the same filler text as UDP_CHECK.
const PAYLOAD_LEN: usize = 128;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// Sequence numbers, process-wide, so concurrent probes of one server differ.
static SEQ: AtomicU16 = AtomicU16::new(0);

pub async fn probe(conn: &ConnOpts) -> Outcome {
    match ping(conn).await {
        Ok(()) => Outcome::ok("echo reply"),
        Err(why) => Outcome::fail(why),
    }
}

async fn ping(conn: &ConnOpts) -> Result<(), String> {
    let mut dst = sock::destination(conn)?;
    dst.set_port(0);
    let v4 = dst.is_ipv4();
    let (s, raw) = open(conn)?;
    // No bind_port: an ICMP socket has none (a ping socket's "port" is its identifier).
    sock::configure(&s, conn, None)?;
    sock::report_icmp_errors(&s, v4)?;
    let icmp = sock::datagram_connect(s, dst)?;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let id = if raw { fastrand::u16(..) } else { 0 };
    let request = echo_request(v4, id, seq, &udp::filler(PAYLOAD_LEN));
    icmp.send(&request)
        .await
        .map_err(|e| format!("ICMP send: {}", sock::os_text(&e)))?;
    let mut buf = [0u8; 2048];
    loop {
        let n = icmp
            .recv(&mut buf)
            .await
            .map_err(|e| format!("ICMP: {}", sock::os_text(&e)))?;
        let reply = Reply {
            v4,
            ip_header: raw && v4,
            id: raw.then_some(id),
            seq,
        };
        if reply.matches(&buf[..n]) {
            return Ok(());
        }
    }
}

/// A ping socket, else a raw one (`true`).
fn open(conn: &ConnOpts) -> Result<(Socket, bool), String> {
    let proto = if conn.connect_to.is_ipv4() {
        Protocol::ICMPV4
    } else {
        Protocol::ICMPV6
    };
    match sock::new_socket(conn, Type::DGRAM, proto) {
        Ok(s) => Ok((s, false)),
        Err(_) => match sock::new_socket(conn, Type::RAW, proto) {
            Ok(s) => Ok((s, true)),
            Err(e) => Err(format!(
                "ICMP socket: {} (allow the daemon's group in net.ipv4.ping_group_range, \
                 or give it CAP_NET_RAW)",
                sock::os_text(&e)
            )),
        },
    }
}

/// An echo request: type, code 0, checksum, identifier, sequence number, data. The IPv4
/// checksum is ours to compute (RFC 792); the ICMPv6 one covers a pseudo-header with the
/// source address, so the kernel fills it in (RFC 4443 §2.3, RFC 3542 §3.1).
pub fn echo_request(v4: bool, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + data.len());
    p.push(if v4 { ECHO_REQUEST_V4 } else { ECHO_REQUEST_V6 });
    p.push(0);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(data);
    if v4 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// The Internet checksum (RFC 1071): one's complement of the one's complement sum of the
/// 16-bit words, an odd last byte padded with zero. Over a packet holding its checksum it
/// comes out 0.
pub fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// What the reply to our request looks like, as received on our socket.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub v4: bool,
    /// A raw IPv4 socket receives the IP header too.
    pub ip_header: bool,
    /// The identifier to match (raw sockets; the kernel matches it for ping sockets).
    pub id: Option<u16>,
    pub seq: u16,
}

impl Reply {
    /// Whether `pkt` is the echo reply to our request; anything else (other ICMP, other
    /// pings, corrupt packets) is not.
    pub fn matches(&self, pkt: &[u8]) -> bool {
        let icmp = if self.ip_header {
            match pkt.first() {
                Some(&b) if b >> 4 == 4 && usize::from(b & 0x0f) * 4 >= 20 => {
                    pkt.get(usize::from(b & 0x0f) * 4..).unwrap_or_default()
                }
                _ => return false,
            }
        } else {
            pkt
        };
        let [kind, code, _, _, i0, i1, s0, s1, ..] = *icmp else {
            return false;
        };
        let want = if self.v4 {
            ECHO_REPLY_V4
        } else {
            ECHO_REPLY_V6
        };
        kind == want
            && code == 0
            && u16::from_be_bytes([s0, s1]) == self.seq
            && self.id.is_none_or(|id| u16::from_be_bytes([i0, i1]) == id)
            && (!self.v4 || checksum(icmp) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_follows_rfc_1071() {
        // RFC 1071 §3's example: the sum of these bytes is ddf2.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
        assert_eq!(checksum(&[]), 0xffff);
        // An odd length pads with a zero byte.
        assert_eq!(checksum(&[0x12]), checksum(&[0x12, 0x00]));
    }

    #[test]
    fn echo_requests_are_laid_out_as_rfc_792_and_4443() {
        let p = echo_request(true, 0xbeef, 3, b"abcd");
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(&p[4..], &[0xbe, 0xef, 0, 3, b'a', b'b', b'c', b'd']);
        assert_eq!(checksum(&p), 0);
        let p = echo_request(false, 1, 2, b"x");
        assert_eq!(p, [128, 0, 0, 0, 0, 1, 0, 2, b'x']);
    }

    /// `request` turned into its reply, as the peer would (RFC 792: type 0, checksum
    /// recomputed).
    fn reply_to(request: &[u8], v4: bool) -> Vec<u8> {
        let mut r = request.to_vec();
        r[0] = if v4 { ECHO_REPLY_V4 } else { ECHO_REPLY_V6 };
        r[2..4].fill(0);
        if v4 {
            let c = checksum(&r);
            r[2..4].copy_from_slice(&c.to_be_bytes());
        }
        r
    }

    fn with_ip_header(icmp: &[u8], ihl: u8) -> Vec<u8> {
        let mut p = vec![0u8; usize::from(ihl) * 4];
        p[0] = 0x40 | ihl;
        p.extend_from_slice(icmp);
        p
    }

    #[test]
    fn ping_socket_replies_match_by_sequence() {
        let want = Reply {
            v4: true,
            ip_header: false,
            id: None,
            seq: 9,
        };
        // The kernel rewrote the identifier: any is fine.
        let r = reply_to(&echo_request(true, 0x4242, 9, b"data"), true);
        assert!(want.matches(&r));
        let other_seq = reply_to(&echo_request(true, 0x4242, 8, b"data"), true);
        assert!(!want.matches(&other_seq));
        let mut corrupt = r.clone();
        corrupt[9] ^= 1;
        assert!(!want.matches(&corrupt));
        // The request itself (pinging ourselves) is not a reply.
        assert!(!want.matches(&echo_request(true, 0x4242, 9, b"data")));
        for n in 0..8 {
            assert!(!want.matches(&r[..n]));
        }
        let v6 = Reply { v4: false, ..want };
        assert!(v6.matches(&reply_to(&echo_request(false, 0, 9, b""), false)));
        assert!(!v6.matches(&echo_request(false, 0, 9, b"")));
        // Destination unreachable (RFC 4443 §3.1) is not a reply.
        assert!(!v6.matches(&[1, 4, 0, 0, 0, 0, 0, 0, 0x60]));
    }

    #[test]
    fn raw_replies_match_by_identifier_too_after_the_ip_header() {
        let want = Reply {
            v4: true,
            ip_header: true,
            id: Some(0x1234),
            seq: 5,
        };
        let icmp = reply_to(&echo_request(true, 0x1234, 5, b"payload"), true);
        assert!(want.matches(&with_ip_header(&icmp, 5)));
        assert!(want.matches(&with_ip_header(&icmp, 15)));
        assert!(!want.matches(&icmp));
        let someone_else = reply_to(&echo_request(true, 0x1235, 5, b"payload"), true);
        assert!(!want.matches(&with_ip_header(&someone_else, 5)));
        // Malformed IP headers.
        assert!(!want.matches(&[]));
        assert!(!want.matches(&with_ip_header(&icmp, 4)));
        let mut v6_version = with_ip_header(&icmp, 5);
        v6_version[0] = 0x65;
        assert!(!want.matches(&v6_version));
        assert!(!want.matches(&with_ip_header(&icmp, 15)[..59]));

        let v6 = Reply {
            v4: false,
            ip_header: false,
            id: Some(7),
            seq: 5,
        };
        assert!(v6.matches(&reply_to(&echo_request(false, 7, 5, b""), false)));
        assert!(!v6.matches(&reply_to(&echo_request(false, 8, 5, b""), false)));
    }
}
