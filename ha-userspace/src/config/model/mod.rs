//! The typed, validated model of a keepalived.conf, built from the block tree.
//!
//! One module per family of blocks, each owning the top-level keywords it understands:
//! - [`global`]: `global_defs`, the top-level daemon keywords and `bfd_instance`;
//! - [`vrrp`]: `vrrp_instance`, `vrrp_sync_group`, `vrrp_script`, `vrrp_track_process`,
//!   `track_file`, `static_*`, `garp_group`, `linkbeat_interfaces`;
//! - [`lvs`]: `virtual_server`, `virtual_server_group`, `real_server`, the checkers, `SSL`.
//!
//! Each module has `top(node, cx, config) -> bool` (true when it took the keyword) and
//! `finish(config, cx)` for checks across blocks once everything is read.

pub mod global;
pub mod lvs;
pub mod script;
pub mod vrrp;

use serde::Serialize;

use super::ctx::Ctx;
use super::tree::Node;

#[derive(Debug, Default, Serialize)]
pub struct Config {
    pub global: global::Global,
    pub vrrp: vrrp::Vrrp,
    pub lvs: lvs::Lvs,
}

pub fn build(nodes: &[Node], cx: &mut Ctx) -> Config {
    let mut config = Config::default();
    for n in nodes {
        let taken = global::top(n, cx, &mut config)
            || vrrp::top(n, cx, &mut config)
            || lvs::top(n, cx, &mut config);
        if !taken {
            cx.unknown(n, "the top level");
        }
    }
    global::finish(&mut config, cx);
    vrrp::finish(&mut config, cx);
    lvs::finish(&mut config, cx);
    script::check_security(&config, cx);
    config
}
