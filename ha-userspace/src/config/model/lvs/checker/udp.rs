//! `UDP_CHECK` (keepalived.conf(5), "UDP healthchecker"): send a datagram (random data
//! unless `payload`), fail on an ICMP error, and with `require_reply` expect an answer of
//! `min_reply_length..=max_reply_length` bytes matching the reply pattern.

use serde::Serialize;

use crate::config::ctx::Ctx;
use crate::config::model::lvs::read;
use crate::config::source::Loc;
use crate::config::tree::Node;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UdpCheck {
    pub payload: Option<Vec<u8>>,
    pub require_reply: bool,
    /// Bytes the reply must start with (up to the shorter of the two).
    pub reply_data: Option<Vec<u8>>,
    /// Bits of `reply_data` to ignore (`x` nibbles).
    pub reply_mask: Option<Vec<u8>>,
    pub min_reply_length: u16,
    pub max_reply_length: u16,
}

impl Default for UdpCheck {
    fn default() -> Self {
        UdpCheck {
            payload: None,
            require_reply: false,
            reply_data: None,
            reply_mask: None,
            min_reply_length: 0,
            max_reply_length: u8::MAX as u16,
        }
    }
}

pub fn keyword(u: &mut UdpCheck, c: &Node, cx: &mut Ctx) -> bool {
    let joined = || {
        c.args
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    match c.name() {
        "payload" => {
            if c.args.is_empty() {
                cx.warn(c.loc(), "UDP_CHECK payload requires a payload")
                    .fallback("ignoring it");
            } else {
                match read::hex_string(&joined(), false) {
                    Some((d, _)) => u.payload = Some(d),
                    None => {
                        cx.warn(c.loc(), "invalid hex string for UDP_CHECK payload")
                            .fallback("ignoring it");
                    }
                }
            }
        }
        "require_reply" => {
            u.require_reply = true;
            if !c.args.is_empty() {
                match read::hex_string(&joined(), true) {
                    Some((d, m)) => {
                        u.reply_data = Some(d);
                        u.reply_mask = m;
                    }
                    None => {
                        cx.warn(c.loc(), "invalid hex string for UDP_CHECK reply")
                            .fallback("requiring any reply");
                    }
                }
            }
        }
        "min_reply_length" => {
            if let Some(v) = read::unsigned(cx, c, 0, 0, u16::MAX.into()) {
                u.min_reply_length = v as u16;
            }
        }
        "max_reply_length" => {
            if let Some(v) = read::unsigned(cx, c, 0, 0, u16::MAX.into()) {
                u.max_reply_length = v as u16;
            }
        }
        _ => return false,
    }
    true
}

pub fn end(u: &mut UdpCheck, cx: &mut Ctx, at: Loc) -> bool {
    if u.min_reply_length > u.max_reply_length {
        // keepalived keeps the checker, which then always fails.
        cx.warn(
            at,
            format!(
                "UDP_CHECK min_reply_length {} > max_reply_length {} - will always fail",
                u.min_reply_length, u.max_reply_length
            ),
        )
        .fallback("keeping the checker");
    }
    true
}
