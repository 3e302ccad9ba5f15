//! `DNS_CHECK`: one query over UDP (RFC 1035 §4.2.1), recursion desired, for the configured
//! name and type. As in keepalived, the first datagram with the query's id and the QR bit
//! decides: RCODE NOERROR passes, whatever the answer count; anything else that arrives
//! (too short, another id, a query) is skipped.

use hickory_proto::op::{Header, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use socket2::{Protocol, Type};

use super::{sock, Outcome};
use crate::config::model::lvs::checker::dns::DnsCheck;
use crate::config::model::lvs::checker::ConnOpts;

/// The DNS port (RFC 1035 §4.2.1), used when the real server has none.
const PORT: u16 = 53;

/// Largest UDP reply without EDNS (RFC 1035 §4.2.1); longer ones are truncated to this and
/// only the header is read anyway.
const MAX_REPLY: usize = 512;

pub async fn probe(conn: &ConnOpts, d: &DnsCheck) -> Outcome {
    match ask(conn, d).await {
        Ok(o) | Err(o) => o,
    }
}

async fn ask(conn: &ConnOpts, d: &DnsCheck) -> Result<Outcome, Outcome> {
    let mut dst = sock::destination(conn).map_err(Outcome::fail)?;
    if dst.port() == 0 {
        dst.set_port(PORT);
    }
    let id = fastrand::u16(..);
    let q = query(id, d).map_err(Outcome::fail)?;
    let s =
        sock::socket(conn, Type::DGRAM, Protocol::UDP, conn.bind_port).map_err(Outcome::fail)?;
    // An ICMP unreachable fails the check at once instead of waiting out the timeout.
    sock::report_icmp_errors(&s, dst.is_ipv4()).map_err(Outcome::fail)?;
    let udp = sock::datagram_connect(s, dst).map_err(Outcome::fail)?;
    udp.send(&q)
        .await
        .map_err(|e| Outcome::fail(format!("DNS send: {}", sock::os_text(&e))))?;
    let mut buf = [0u8; MAX_REPLY];
    loop {
        let n = udp
            .recv(&mut buf)
            .await
            .map_err(|e| Outcome::fail(format!("DNS: {}", sock::os_text(&e))))?;
        if let Some(o) = judge(&buf[..n], id) {
            return Ok(o);
        }
    }
}

/// The query for `d` with `id`, on the wire.
pub fn query(id: u16, d: &DnsCheck) -> Result<Vec<u8>, String> {
    let name = Name::from_ascii(&d.name).map_err(|e| format!("DNS name {:?}: {e}", d.name))?;
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name, RecordType::from(d.qtype.code())));
    m.to_vec().map_err(|e| format!("DNS query: {e}"))
}

/// What a datagram says about the query `id`: `None` when it is not the answer to it.
pub fn judge(reply: &[u8], id: u16) -> Option<Outcome> {
    let header = Header::read(&mut BinDecoder::new(reply)).ok()?;
    if header.id() != id || header.message_type() != MessageType::Response {
        return None;
    }
    let rcode = u16::from(header.response_code());
    Some(if rcode == 0 {
        Outcome::ok("DNS reply RCODE NOERROR")
    } else {
        Outcome::fail(format!("DNS reply RCODE {}", rcode_name(rcode)))
    })
}

/// Mnemonics of RFC 1035 §4.1.1 and RFC 2136 §2.2 (only 4 bits without EDNS).
fn rcode_name(code: u16) -> String {
    let name = match code {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => return code.to_string(),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::DNSClass;

    use super::*;
    use crate::config::model::lvs::checker::dns::DnsType;

    fn check(name: &str, qtype: DnsType) -> DnsCheck {
        let mut d = DnsCheck::default();
        d.name = name.to_string();
        d.qtype = qtype;
        d
    }

    fn reply(id: u16, rcode: ResponseCode, kind: MessageType) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(id)
            .set_message_type(kind)
            .set_op_code(OpCode::Query)
            .set_response_code(rcode);
        m.to_vec().unwrap()
    }

    #[test]
    fn queries_ask_for_the_name_and_type_with_recursion() {
        let q = query(0x1234, &check("example.com", DnsType::AAAA)).unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]); // id, RD only
        assert_eq!(&q[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]); // one question
        assert_eq!(&q[12..], b"\x07example\x03com\x00\x00\x1c\x00\x01");
        let m = Message::from_vec(&q).unwrap();
        let question = &m.queries()[0];
        assert_eq!(question.query_type(), RecordType::AAAA);
        assert_eq!(question.query_class(), DNSClass::IN);

        // The default: SOA of the root.
        let q = query(1, &DnsCheck::default()).unwrap();
        assert_eq!(&q[12..], b"\x00\x00\x06\x00\x01");
        // A trailing dot changes nothing.
        assert_eq!(
            query(1, &check("example.com.", DnsType::A)).unwrap(),
            query(1, &check("example.com", DnsType::A)).unwrap()
        );
        assert!(query(1, &check(&"a".repeat(64), DnsType::A)).is_err());
    }

    #[test]
    fn the_rcode_of_the_matching_reply_decides() {
        let ok = judge(&reply(7, ResponseCode::NoError, MessageType::Response), 7);
        assert_eq!(ok.map(|o| o.ok), Some(true));
        let nx = judge(&reply(7, ResponseCode::NXDomain, MessageType::Response), 7).unwrap();
        assert_eq!(nx, Outcome::fail("DNS reply RCODE NXDOMAIN"));
        let sf = judge(&reply(7, ResponseCode::ServFail, MessageType::Response), 7).unwrap();
        assert_eq!(sf.reason, "DNS reply RCODE SERVFAIL");
        let odd = judge(
            &reply(7, ResponseCode::Unknown(12), MessageType::Response),
            7,
        )
        .unwrap();
        assert_eq!(odd.reason, "DNS reply RCODE 12");
    }

    #[test]
    fn other_datagrams_are_skipped() {
        assert_eq!(
            judge(&reply(8, ResponseCode::NoError, MessageType::Response), 7),
            None
        );
        assert_eq!(
            judge(&reply(7, ResponseCode::NoError, MessageType::Query), 7),
            None
        );
        let r = reply(7, ResponseCode::NoError, MessageType::Response);
        assert_eq!(judge(&r[..11], 7), None);
        assert_eq!(judge(&[], 7), None);
        // The header alone decides: a reply whose body does not parse still counts.
        let mut r = r.clone();
        r.extend_from_slice(&[0xff; 7]);
        assert_eq!(judge(&r, 7).map(|o| o.ok), Some(true));
    }
}
