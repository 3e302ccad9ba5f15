//! Placeholder, filled in by the vrrp front end.

use serde::Serialize;

use super::Config;
use crate::config::ctx::Ctx;
use crate::config::tree::Node;

#[derive(Debug, Default, Serialize)]
pub struct Vrrp {}

pub fn top(_n: &Node, _cx: &mut Ctx, _config: &mut Config) -> bool {
    false
}

pub fn finish(_config: &mut Config, _cx: &mut Ctx) {}
