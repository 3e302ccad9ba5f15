//! `DNS_CHECK` (keepalived.conf(5), "DNS healthchecker"): a UDP query that must get an
//! answer with RCODE 0. Defaults: type SOA, name ".", retry 3, delay_before_retry =
//! delay_loop.

use serde::Serialize;

use crate::config::ctx::Ctx;
use crate::config::tree::Node;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum DnsType {
    A,
    NS,
    CNAME,
    #[default]
    SOA,
    MX,
    TXT,
    AAAA,
    RRSIG,
    DNSKEY,
}

impl DnsType {
    /// The query type number (RFC 1035 §3.2.2, RFC 3596, RFC 4034).
    pub fn code(self) -> u16 {
        match self {
            DnsType::A => 1,
            DnsType::NS => 2,
            DnsType::CNAME => 5,
            DnsType::SOA => 6,
            DnsType::MX => 15,
            DnsType::TXT => 16,
            DnsType::AAAA => 28,
            DnsType::RRSIG => 46,
            DnsType::DNSKEY => 48,
        }
    }
}

const TYPES: &[(&str, DnsType)] = &[
    ("A", DnsType::A),
    ("NS", DnsType::NS),
    ("CNAME", DnsType::CNAME),
    ("SOA", DnsType::SOA),
    ("MX", DnsType::MX),
    ("TXT", DnsType::TXT),
    ("AAAA", DnsType::AAAA),
    ("RRSIG", DnsType::RRSIG),
    ("DNSKEY", DnsType::DNSKEY),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DnsCheck {
    #[serde(rename = "type")]
    pub qtype: DnsType,
    pub name: String,
    #[serde(skip)]
    name_set: bool,
}

impl Default for DnsCheck {
    fn default() -> Self {
        DnsCheck {
            qtype: DnsType::SOA,
            name: ".".to_string(),
            name_set: false,
        }
    }
}

pub fn keyword(d: &mut DnsCheck, c: &Node, cx: &mut Ctx) -> bool {
    match c.name() {
        "type" => {
            let Some(w) = cx.arg(c, 0) else {
                return true;
            };
            // Case-insensitive (strcasecmp in check_dns.c).
            match TYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(&w.text)) {
                Some((_, t)) => d.qtype = *t,
                None => {
                    cx.warn(w.loc, format!("unknown DNS check type {}", w.text))
                        .expected("A, NS, CNAME, SOA, MX, TXT, AAAA, RRSIG or DNSKEY")
                        .fallback("ignoring it");
                }
            }
        }
        "name" => {
            let Some(w) = cx.arg(c, 0) else {
                return true;
            };
            if d.name_set {
                cx.warn(w.loc, "DNS_CHECK name already specified")
                    .fallback("ignoring it");
            } else if !valid_name(&w.text) {
                cx.warn(
                    w.loc,
                    format!("DNS_CHECK name '{}' has empty label", w.text),
                )
                .fallback("ignoring it");
            } else {
                d.name = w.text.clone();
                d.name_set = true;
            }
        }
        _ => return false,
    }
    true
}

/// No empty label: "." alone is the root; otherwise no leading dot and no "..".
pub fn valid_name(s: &str) -> bool {
    s == "." || (!s.starts_with('.') && !s.contains(".."))
}
