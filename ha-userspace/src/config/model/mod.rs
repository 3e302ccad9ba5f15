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

use super::ctx::{Ctx, Defined, Env};
use super::diag::Diagnostics;
use super::source::Loc;
use super::tree::Node;

#[derive(Debug, Default, Serialize)]
pub struct Config {
    pub global: global::Global,
    pub vrrp: vrrp::Vrrp,
    pub lvs: lvs::Lvs,
}

/// Builds the model one top-level block at a time, in reading order (keepalived resolves
/// some references while it reads, so order matters), then runs the checks across blocks.
#[derive(Default)]
pub struct Builder {
    config: Config,
    /// The parts of [`Ctx`] that live across blocks.
    scripts_at: Vec<Loc>,
    defined: Defined,
}

impl Builder {
    pub fn node(&mut self, n: &Node, diags: &mut Diagnostics, env: &dyn Env) {
        self.with_ctx(diags, env, |cx, config| {
            let taken =
                global::top(n, cx, config) || vrrp::top(n, cx, config) || lvs::top(n, cx, config);
            if !taken {
                cx.unknown(n, "the top level");
            }
        });
    }

    pub fn finish(mut self, diags: &mut Diagnostics, env: &dyn Env) -> Config {
        self.with_ctx(diags, env, |cx, config| {
            global::finish(config, cx);
            vrrp::finish(config, cx);
            lvs::finish(config, cx);
            script::check_security(config, cx);
        });
        self.config
    }

    fn with_ctx(
        &mut self,
        diags: &mut Diagnostics,
        env: &dyn Env,
        f: impl FnOnce(&mut Ctx, &mut Config),
    ) {
        let mut cx = Ctx::new(diags, env);
        cx.scripts_at = std::mem::take(&mut self.scripts_at);
        cx.defined = std::mem::take(&mut self.defined);
        f(&mut cx, &mut self.config);
        self.scripts_at = cx.scripts_at;
        self.defined = cx.defined;
    }
}

/// The model of a whole tree at once (for tests and small inputs).
pub fn build(nodes: &[Node], diags: &mut Diagnostics, env: &dyn Env) -> Config {
    let mut b = Builder::default();
    for n in nodes {
        b.node(n, diags, env);
    }
    b.finish(diags, env)
}
