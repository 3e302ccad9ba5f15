//! `global_defs`, the top-level daemon keywords (`net_namespace`, `instance`, ...) and
//! `bfd_instance`.

use serde::Serialize;

use super::Config;
use crate::config::ctx::Ctx;
use crate::config::tree::Node;

#[derive(Debug, Default, Serialize)]
pub struct Global {
    pub enable_script_security: bool,
    pub script_user: Option<ScriptUser>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScriptUser {
    pub user: String,
    pub group: Option<String>,
}

pub fn top(_n: &Node, _cx: &mut Ctx, _config: &mut Config) -> bool {
    false
}

pub fn finish(_config: &mut Config, _cx: &mut Ctx) {}
