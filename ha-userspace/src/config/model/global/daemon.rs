//! Keywords outside any block: where and as what the daemon runs (keepalived.conf(5),
//! "Global definitions", first part; global_parser.c `install_keyword_root`).
//! `include` is the preprocessor's.

use serde::Serialize;

use super::read::no_block;
use super::Global;
use crate::config::ctx::Ctx;
use crate::config::tree::Node;

#[derive(Debug, Default, Serialize)]
pub struct Daemon {
    /// Network namespace to run in (cannot change on reload).
    pub net_namespace: Option<String>,
    /// Namespace for IPVS; `Some("")` is the default namespace.
    pub net_namespace_ipvs: Option<String>,
    pub namespace_with_ipsets: bool,
    /// Name used in pid file names when several daemons share a namespace.
    pub instance: Option<String>,
    /// Pid files in /run/keepalived (also implied by `net_namespace` and `instance`).
    pub use_pid_dir: bool,
    /// Poll link state (MII/ethtool/ioctl) instead of netlink.
    pub linkbeat_use_polling: bool,
    /// Seconds to wait for child processes on termination (default 5).
    pub child_wait_time: Option<u32>,
}

/// Handles a top-level keyword if it is one of these; false otherwise.
pub fn keyword(n: &Node, cx: &mut Ctx, g: &mut Global) -> bool {
    let d = &mut g.daemon;
    match n.name() {
        "net_namespace" => {
            if n.args.is_empty() {
                cx.warn(n.loc(), "'net_namespace' needs a namespace name")
                    .fallback("ignoring it");
            } else if d.net_namespace.is_some() {
                duplicate(cx, n);
            } else {
                d.net_namespace = Some(joined(n));
                d.use_pid_dir = true;
            }
        }
        "net_namespace_ipvs" => {
            if d.net_namespace_ipvs.is_some() {
                duplicate(cx, n);
            } else {
                // No name means the default namespace.
                d.net_namespace_ipvs = Some(joined(n));
            }
        }
        "namespace_with_ipsets" => d.namespace_with_ipsets = true,
        "instance" => {
            if n.args.is_empty() {
                cx.warn(n.loc(), "'instance' needs a name")
                    .fallback("ignoring it");
            } else if d.instance.is_some() {
                duplicate(cx, n);
            } else {
                d.instance = Some(joined(n));
                d.use_pid_dir = true;
            }
        }
        "use_pid_dir" => d.use_pid_dir = true,
        "linkbeat_use_polling" => d.linkbeat_use_polling = true,
        "child_wait_time" => {
            if let Some(v) = cx.num(n, 0, 0u32, u32::MAX) {
                d.child_wait_time = Some(v);
            }
        }
        _ => return false,
    }
    no_block(cx, n);
    true
}

fn joined(n: &Node) -> String {
    n.args
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn duplicate(cx: &mut Ctx, n: &Node) {
    cx.warn(n.loc(), format!("duplicate '{}' definition", n.name()))
        .fallback("ignoring it, the first one is used");
}
