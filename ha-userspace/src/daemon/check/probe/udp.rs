//! `UDP_CHECK`: send one datagram to the service. An ICMP error back (port, host or
//! network unreachable: RFC 792, RFC 4443 §3.1) fails the check. With `require_reply` a
//! reply must come within the timeout and, when reply data is configured, match it;
//! without, silence until the timeout is success — so this probe bounds itself, and
//! [`super::run`] does not put its own timeout around it.

use std::time::Duration;

use socket2::{Protocol, Type};
use tokio::time::Instant;

use super::{sock, Outcome};
use crate::config::model::lvs::checker::udp::UdpCheck;
use crate::config::model::lvs::checker::ConnOpts;

/// keepalived's datagram when no `payload` is set (layer4.c): 32 bytes of filler text.
const DEFAULT_PAYLOAD_LEN: usize = 32;

pub async fn probe(conn: &ConnOpts, u: &UdpCheck) -> Outcome {
    let t = Duration::from_micros(conn.connect_timeout.0.max(1));
    let deadline = Instant::now() + t;
    let udp = match open(conn) {
        Ok(udp) => udp,
        Err(why) => return Outcome::fail(why),
    };
    let payload = match &u.payload {
        Some(p) => p.clone(),
        None => filler(DEFAULT_PAYLOAD_LEN),
    };
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    let recv = async {
        udp.send(&payload).await?;
        udp.recv(&mut buf).await
    };
    match tokio::time::timeout_at(deadline, recv).await {
        Err(_) if u.require_reply => Outcome::fail(format!("no reply within {t:?}")),
        Err(_) => Outcome::ok(format!("no ICMP error within {t:?}")),
        Ok(Err(e)) => Outcome::fail(sock::os_text(&e)),
        Ok(Ok(n)) if u.require_reply => match reply_matches(&buf[..n], u) {
            Ok(()) => Outcome::ok(format!("reply of {n} bytes")),
            Err(why) => Outcome::fail(why),
        },
        Ok(Ok(n)) => Outcome::ok(format!("reply of {n} bytes")),
    }
}

fn open(conn: &ConnOpts) -> Result<tokio::net::UdpSocket, String> {
    let dst = sock::destination(conn)?;
    let s = sock::socket(conn, Type::DGRAM, Protocol::UDP, conn.bind_port)?;
    sock::report_icmp_errors(&s, dst.is_ipv4())?;
    sock::datagram_connect(s, dst)
}

/// keepalived's filler for datagrams without a configured payload: "keepalived check - "
/// repeated to `len` bytes, so a capture shows who sent it.
pub fn filler(len: usize) -> Vec<u8> {
    b"keepalived check - "
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

/// keepalived's check_udp_reply: only with reply data configured are the reply's length
/// (`min_reply_length..=max_reply_length`) and bytes checked; then the first
/// min(reply, data) bytes must equal the data, except the bits set in the mask (the `x`
/// nibbles of `require_reply`). Without reply data any reply passes.
pub fn reply_matches(reply: &[u8], u: &UdpCheck) -> Result<(), String> {
    let Some(data) = &u.reply_data else {
        return Ok(());
    };
    let (min, max) = (
        usize::from(u.min_reply_length),
        usize::from(u.max_reply_length),
    );
    if reply.len() < min || reply.len() > max {
        return Err(format!(
            "reply of {} bytes, expected {min} to {max}",
            reply.len()
        ));
    }
    let mask = u.reply_mask.as_deref().unwrap_or_default();
    for (i, (&got, &want)) in reply.iter().zip(data).enumerate() {
        let ignore = mask.get(i).copied().unwrap_or(0);
        if (got ^ want) & !ignore != 0 {
            return Err(format!(
                "reply byte {i} is {got:02x}, expected {want:02x} (mask {ignore:02x})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expecting(data: &[u8], mask: Option<&[u8]>) -> UdpCheck {
        UdpCheck {
            require_reply: true,
            reply_data: Some(data.to_vec()),
            reply_mask: mask.map(<[u8]>::to_vec),
            ..UdpCheck::default()
        }
    }

    #[test]
    fn the_default_payload_is_keepalived_s() {
        assert_eq!(
            filler(DEFAULT_PAYLOAD_LEN),
            b"keepalived check - keepalived ch"
        );
        assert_eq!(filler(0), b"");
    }

    #[test]
    fn any_reply_passes_without_reply_data() {
        let u = UdpCheck {
            require_reply: true,
            ..UdpCheck::default()
        };
        assert_eq!(reply_matches(b"", &u), Ok(()));
        // keepalived checks the lengths only along with reply data.
        assert_eq!(reply_matches(&[0; 1000], &u), Ok(()));
    }

    #[test]
    fn replies_match_the_data_up_to_the_shorter_of_the_two() {
        let u = expecting(&[0xab, 0xcd, 0xef], None);
        assert_eq!(reply_matches(&[0xab, 0xcd, 0xef], &u), Ok(()));
        assert_eq!(reply_matches(&[0xab, 0xcd, 0xef, 0x00, 0x11], &u), Ok(()));
        assert_eq!(reply_matches(&[0xab], &u), Ok(()));
        assert_eq!(
            reply_matches(&[0xab, 0xcc, 0xef], &u),
            Err("reply byte 1 is cc, expected cd (mask 00)".to_string())
        );
    }

    #[test]
    fn masked_nibbles_are_ignored() {
        // require_reply "1x 2x": the low nibbles are free.
        let u = expecting(&[0x10, 0x20], Some(&[0x0f, 0x0f]));
        assert_eq!(reply_matches(&[0x1a, 0x2f], &u), Ok(()));
        assert!(reply_matches(&[0x2a, 0x2f], &u).is_err());
    }

    #[test]
    fn reply_lengths_are_bounded() {
        let mut u = expecting(&[0x01], None);
        u.min_reply_length = 2;
        u.max_reply_length = 4;
        assert!(reply_matches(&[0x01, 0], &u).is_ok());
        assert!(reply_matches(&[0x01, 0, 0, 0], &u).is_ok());
        assert_eq!(
            reply_matches(&[0x01], &u),
            Err("reply of 1 bytes, expected 2 to 4".to_string())
        );
        assert!(reply_matches(&[0x01, 0, 0, 0, 0], &u).is_err());
        // The default maximum is 255.
        let u = expecting(&[0x01], None);
        assert!(reply_matches(&[0x01; 255], &u).is_ok());
        assert!(reply_matches(&[0x01; 256], &u).is_err());
    }
}
