//! The default script user, as keepalived 2.2.7 settles it while reading (notify.c
//! `get_default_script_user`):
//!
//! - without `script_user`, scripts run as `keepalived_script` if that user exists, else
//!   as root;
//! - but once `enable_script_security` has been read, a missing `keepalived_script` user is
//!   a configuration error ("Unable to set default user keepalived_script for script") for
//!   the first script (or FIFO) that needs the default user before any `script_user`; that
//!   script and every later one needing the default user are dropped, and keepalived keeps
//!   the failure, so a later `script_user` is reported as failing too.
//!
//! Order matters: see [`Pos`].

use super::{Global, Pos};
use crate::config::ctx::Ctx;
use crate::config::source::Loc;

/// keepalived's preferred default script user.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

pub fn default_script_user(g: &Global, cx: &mut Ctx) {
    let Some(security) = g.seen.security else {
        return;
    };
    let user_at = g.seen.script_user.map(|(i, _)| i);
    if cx.env.user_exists(DEFAULT_SCRIPT_USER) {
        return;
    }
    let Some(first) = first_default_use(g, &cx.scripts_at, security, user_at) else {
        return;
    };
    cx.warn(
        first,
        format!("enable_script_security is set but the default script user '{DEFAULT_SCRIPT_USER}' does not exist"),
    )
    .expected("'script_user USER' in global_defs before any script")
    .fallback("this script and later ones using the default user are not run");
    if let Some((_, loc)) = g.seen.script_user {
        if !g.seen.script_user_failed {
            cx.warn(
                loc,
                "'script_user' comes after a script already failed to get the default user",
            )
            .expected("'script_user' before the first script")
            .fallback("keepalived keeps the failure: scripts using the default user are not run");
        }
    }
}

/// The first use of the default user after `security` and before `script_user`: the
/// other areas' scripts (assumed to use the default user; their own `user` settings are
/// not visible here), and our scripts and FIFOs without a user.
fn first_default_use(
    g: &Global,
    scripts_at: &[Loc],
    security: Pos,
    user_at: Option<Pos>,
) -> Option<Loc> {
    let counts = |p: Pos| p > security && user_at.is_none_or(|u| p < u);
    let others = scripts_at
        .iter()
        .enumerate()
        .map(|(i, &loc)| ((i, usize::MAX), loc));
    others
        .chain(g.seen.default_user_uses.iter().copied())
        .filter(|&(p, _)| counts(p))
        .min_by_key(|&(p, _)| p)
        .map(|(_, loc)| loc)
}
