//! `MISC_CHECK` (keepalived.conf(5), "MISC healthchecker"): run a program; exit 0 is
//! success, 1 failure, and with `misc_dynamic` 2..255 sets the weight to status - 2.
//! It has the timer keywords but none of the connection keywords.

use serde::Serialize;

use crate::config::ctx::Ctx;
use crate::config::model::lvs::read;
use crate::config::model::script::Script;
use crate::config::source::Loc;
use crate::config::tree::Node;
use crate::units::Micros;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MiscCheck {
    pub misc_path: Option<Script>,
    /// `misc_timeout` in seconds, if set.
    pub misc_timeout: Option<Micros>,
    /// The timeout used: `misc_timeout`, else the virtual server's delay_loop.
    pub effective_timeout: Micros,
    pub misc_dynamic: bool,
    pub user: Option<String>,
    pub group: Option<String>,
    /// A bad `user` removed the checker (keepalived dequeues it on the spot).
    #[serde(skip)]
    removed: bool,
    /// Where `misc_path` and its program were written, for the script checks.
    #[serde(skip)]
    path_at: Option<(Loc, Loc)>,
}

pub fn keyword(m: &mut MiscCheck, c: &Node, cx: &mut Ctx) -> bool {
    match c.name() {
        "misc_path" => {
            // keepalived re-reads the whole line with quotes and escapes: a quoted command
            // line is one word holding the program and its arguments.
            let words: Vec<String> = c
                .args
                .iter()
                .flat_map(|w| {
                    if w.quoted {
                        Script::parse(&w.text).args
                    } else {
                        vec![w.text.clone()]
                    }
                })
                .collect();
            if let Some(first) = c.args.first() {
                m.misc_path = Some(Script { args: words });
                m.path_at = Some((c.loc(), first.loc));
            }
        }
        "misc_timeout" => {
            if let Some(s) = read::unsigned(cx, c, 0, 0, u32::MAX / 1_000_000) {
                m.misc_timeout = (s != 0).then(|| Micros::from_secs(s.into()));
            }
        }
        "misc_dynamic" => m.misc_dynamic = true,
        "user" => {
            if c.args.is_empty() {
                cx.warn(c.loc(), "no user specified for misc checker script")
                    .fallback("ignoring it");
            } else if !cx.env.user_exists(&c.args[0].text) {
                // keepalived: "Failed to set uid/gid for misc checker script - removing".
                cx.warn(
                    c.args[0].loc,
                    format!("unknown user '{}' for misc checker script", c.args[0].text),
                )
                .fallback("removing the checker");
                m.removed = true;
            } else {
                m.user = Some(c.args[0].text.clone());
                m.group = c.args.get(1).map(|w| w.text.clone());
            }
        }
        _ => return false,
    }
    true
}

pub fn end(m: &mut MiscCheck, cx: &mut Ctx, at: Loc) -> bool {
    if m.removed {
        return false;
    }
    if m.misc_path.is_none() {
        cx.warn(at, "no script path has been specified for MISC_CHECK")
            .expected("'misc_path PROGRAM'")
            .fallback("skipping the checker");
        return false;
    }
    // Only scripts of checkers keepalived keeps count for script security.
    if let (Some(script), Some((kw_at, at))) = (&m.misc_path, m.path_at) {
        crate::config::model::script::record(cx, "misc_path", kw_at, at, script);
    }
    true
}
