//! `BFD_CHECK { name NAME }`: the real server follows a `bfd_instance` defined above it.
//! No standard checker options.

use serde::Serialize;

use crate::config::ctx::Ctx;
use crate::config::source::Loc;
use crate::config::tree::Node;

/// keepalived's `BFD_INAME_MAX` - 1.
pub const NAME_MAX: usize = 31;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BfdCheck {
    pub name: String,
}

pub fn keyword(b: &mut BfdCheck, c: &Node, cx: &mut Ctx, owner: &str) -> bool {
    if c.name() != "name" {
        return false;
    }
    if c.args.len() != 1 {
        cx.warn(
            c.loc(),
            format!("({owner}) BFD_CHECK - no or too many names specified"),
        )
        .expected("one bfd_instance name")
        .fallback("skipping the checker");
        b.name.clear();
        return true;
    }
    let name = &c.args[0].text;
    if !b.name.is_empty() {
        cx.warn(
            c.loc(),
            format!(
                "({owner}) BFD_CHECK - BFD {name} already specified as {}",
                b.name
            ),
        )
        .fallback("ignoring it");
    } else if name.len() > NAME_MAX {
        cx.warn(
            c.loc(),
            format!("({owner}) BFD_CHECK - BFD name {name} too long"),
        )
        .expected(format!("at most {NAME_MAX} characters"))
        .fallback("ignoring it");
    } else {
        b.name = name.clone();
    }
    true
}

pub fn end(b: &mut BfdCheck, cx: &mut Ctx, at: Loc, owner: &str) -> bool {
    if b.name.is_empty() {
        cx.warn(
            at,
            format!("({owner}) no name has been specified for BFD_CHECK"),
        )
        .fallback("skipping the checker");
        return false;
    }
    if !cx.defined.bfd_instances.contains(&b.name) {
        // Resolved while parsing, so the bfd_instance block must come first.
        cx.warn(
            at,
            format!("({owner}) BFD_CHECK - BFD {} not configured", b.name),
        )
        .expected("a bfd_instance block defined above this checker")
        .fallback("skipping the checker");
        return false;
    }
    true
}
