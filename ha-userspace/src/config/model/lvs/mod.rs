//! LVS: `virtual_server_group`, `virtual_server` (with its `real_server`s and their health
//! checkers) and `SSL` (keepalived.conf(5), "LVS CONFIGURATION"), as keepalived 2.2.7 reads
//! them. The model is what the checker engine and the IPVS/XDP backend use: defaults are
//! resolved (real servers inherit from their virtual server, checkers from their real
//! server), invalid objects are dropped as keepalived drops them.
//!
//! Cross-references left to the modules owning the other blocks: `FILE_CHECK track_file`
//! names a top-level `track_file`, `BFD_CHECK name` a `bfd_instance`.

pub mod checker;
pub mod finish;
pub mod forwarding;
pub mod group;
pub mod read;
pub mod real_server;
pub mod ssl;
pub mod virtual_server;

#[cfg(test)]
mod tests;

use serde::Serialize;

use super::Config;
use crate::config::ctx::Ctx;
use crate::config::tree::Node;

pub use group::VirtualServerGroup;
pub use ssl::SslConfig;
pub use virtual_server::VirtualServer;

#[derive(Debug, Default, Serialize)]
pub struct Lvs {
    pub ssl: Option<SslConfig>,
    pub groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
}

pub fn top(n: &Node, cx: &mut Ctx, config: &mut Config) -> bool {
    let lvs = &mut config.lvs;
    match n.name() {
        "SSL" => ssl::parse(n, cx, &mut lvs.ssl),
        "virtual_server_group" => group::parse(n, cx, &mut lvs.groups),
        "virtual_server" => {
            if let Some(vs) = virtual_server::parse(n, cx) {
                lvs.virtual_servers.push(vs);
            }
        }
        _ => return false,
    }
    true
}

pub fn finish(config: &mut Config, cx: &mut Ctx) {
    finish::finish(&mut config.lvs, cx);
}
