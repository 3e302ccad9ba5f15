//! `SMTP_CHECK` (keepalived.conf(5), "SMTP healthchecker"): expect a 220 banner, send HELO,
//! expect 250. The deprecated `host { ... }` sub-blocks are handled by the caller: each
//! becomes a checker of its own, as keepalived does.

use serde::Serialize;

use crate::config::ctx::Ctx;
use crate::config::tree::Node;

/// keepalived's `SMTP_DEFAULT_HELO`.
pub const DEFAULT_HELO: &str = "smtpchecker.keepalived.org";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmtpCheck {
    pub helo_name: String,
}

impl Default for SmtpCheck {
    fn default() -> Self {
        SmtpCheck {
            helo_name: DEFAULT_HELO.to_string(),
        }
    }
}

pub fn keyword(s: &mut SmtpCheck, c: &Node, cx: &mut Ctx) -> bool {
    if c.name() != "helo_name" {
        return false;
    }
    if c.args.is_empty() {
        cx.warn(c.loc(), "SMTP_CHECK helo name missing")
            .fallback("ignoring it");
    } else if let Some(v) = cx.rest(c, 0) {
        s.helo_name = v;
    }
    true
}
