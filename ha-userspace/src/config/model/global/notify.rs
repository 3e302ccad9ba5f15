//! Notification settings of `global_defs`: e-mail alerts (SMTP), the notify FIFOs with their
//! scripts, and the startup/shutdown scripts (keepalived.conf(5) "Global definitions").

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::read::{int_want, user_group};
use super::{FifoScript, Global, ScriptUser};
use crate::config::ctx::Ctx;
use crate::config::model::script::Script;
use crate::config::tree::Node;

/// keepalived's SMTP_PORT_STR.
pub const SMTP_PORT: u16 = 25;

/// The SMTP relay for alerts.
#[derive(Debug, Serialize)]
pub struct SmtpServer {
    /// As written: an address or a host name (resolved when mail is sent).
    pub host: String,
    pub port: u16,
    /// `host` and `port` when `host` is an IP address.
    pub addr: Option<SocketAddr>,
}

/// `startup_script` / `shutdown_script` / `*notify_fifo_script`: a command line (one word,
/// quoted when it has arguments) and the user it runs as.
#[derive(Debug, Serialize)]
pub struct GlobalScript {
    pub script: Script,
    /// `None`: the default script user.
    pub user: Option<ScriptUser>,
}

/// A notify FIFO: events are written to `name`; `script`, when set, is started with the
/// FIFO name as its last argument to read them.
#[derive(Debug, Default, Serialize)]
pub struct Fifo {
    pub name: Option<String>,
    /// Owner of the FIFO; `None`: the default script user.
    pub user: Option<ScriptUser>,
    pub script: Option<GlobalScript>,
}

/// `notification_email { ADDRESS ... }`: every word of the block is an address.
pub fn emails(n: &Node, cx: &mut Ctx, g: &mut Global) {
    if let Some(w) = n.args.first() {
        cx.warn(
            w.loc,
            "'notification_email' takes no parameters before its block",
        )
        .fallback("ignoring them");
    }
    let before = g.notification_email.len();
    for line in n.children() {
        g.notification_email
            .extend(line.words().map(|w| w.text.clone()));
    }
    if g.notification_email.len() == before {
        cx.warn(n.loc(), "empty 'notification_email' block")
            .expected("{ ADDRESS ... }")
            .fallback("no address added");
    }
}

/// Handles the notification keywords of `global_defs`; false if `n` is not one.
pub fn keyword(n: &Node, cx: &mut Ctx, g: &mut Global) -> bool {
    match n.name() {
        "notification_email_from" => {
            if cx
                .arg_or_warn(n, 0, "'notification_email_from' needs an address")
                .is_some()
            {
                g.notification_email_from = cx.rest(n, 0);
            }
        }
        "smtp_server" => smtp_server(n, cx, g),
        // keepalived silently ignores a missing name here.
        "smtp_helo_name" => {
            if let Some(w) = n.args.first() {
                g.smtp_helo_name = Some(w.text.clone());
            }
        }
        "smtp_connect_timeout" => {
            // 0 is accepted for compatibility with keepalived < 2.0.7 and becomes 1.
            if let Some(v) = cx.num(n, 0, 0u32, u32::MAX / 1_000_000) {
                if v == 0 {
                    cx.warn(
                        n.args[0].loc,
                        "'smtp_connect_timeout' must be greater than 0",
                    )
                    .fallback("using 1");
                }
                g.smtp_connect_timeout = Some(v.max(1));
            }
        }
        "smtp_alert" => set(cx.flag(n), &mut g.smtp_alert),
        "smtp_alert_vrrp" => set(cx.flag(n), &mut g.smtp_alert_vrrp),
        "smtp_alert_checker" => set(cx.flag(n), &mut g.smtp_alert_checker),
        "checker_log_all_failures" => set(cx.flag(n), &mut g.checker_log_all_failures),
        "vrrp_notify_priority_changes" => set(cx.flag(n), &mut g.vrrp_notify_priority_changes),
        "no_email_faults" => g.no_email_faults = true,
        "startup_script" | "shutdown_script" => start_stop_script(n, cx, g),
        "startup_script_timeout" | "shutdown_script_timeout" => {
            let msg = format!("'{}' needs a value", n.name());
            if let Some(v) = int_want(cx, n, 0, 1u32, 1000, &msg) {
                if n.name() == "startup_script_timeout" {
                    g.startup_script_timeout = Some(v);
                } else {
                    g.shutdown_script_timeout = Some(v);
                }
            }
        }
        "notify_fifo" | "vrrp_notify_fifo" | "lvs_notify_fifo" => fifo_name(n, cx, g),
        "notify_fifo_script" | "vrrp_notify_fifo_script" | "lvs_notify_fifo_script" => {
            fifo_script(n, cx, g)
        }
        _ => return false,
    }
    true
}

fn set(v: Option<bool>, field: &mut Option<bool>) {
    if v.is_some() {
        *field = v;
    }
}

/// `smtp_server HOST [PORT]`. keepalived tries HOST as an address unless it contains '-' or
/// '/', then as a host name; an unresolvable name is reported (we do not resolve names
/// here, so only obviously invalid ones are).
fn smtp_server(n: &Node, cx: &mut Ctx, g: &mut Global) {
    let Some(host) = cx.arg(n, 0) else { return };
    let port = match n.args.get(1) {
        None => Some(SMTP_PORT),
        Some(w) => cx.int_word(n, w, 1u16, u16::MAX),
    };
    let addr = if host.text.contains(['-', '/']) {
        None
    } else {
        host.text.parse::<IpAddr>().ok()
    };
    let valid_name = || {
        !host.text.is_empty()
            && host.text.len() <= 253
            && host.text.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    };
    match port {
        Some(port) if addr.is_some() || valid_name() => {
            g.smtp_server = Some(SmtpServer {
                host: host.text.clone(),
                port,
                addr: addr.map(|a| SocketAddr::new(a, port)),
            });
        }
        _ => {
            cx.warn(host.loc, format!("invalid smtp server '{}'", host.text))
                .expected("an IP address or host name, and a port in 1..65535")
                .fallback("ignoring it");
        }
    }
}

/// `startup_script SCRIPT [USER [GROUP]]`, only one of each.
fn start_stop_script(n: &Node, cx: &mut Ctx, g: &mut Global) {
    let startup = n.name() == "startup_script";
    let already = if startup {
        g.startup_script.is_some()
    } else {
        g.shutdown_script.is_some()
    };
    if already {
        cx.warn(n.loc(), format!("'{}' is already specified", n.name()))
            .fallback("ignoring this one");
        return;
    }
    let Some(s) = script_with_user(n, cx, g, false) else {
        return;
    };
    // Only scripts run as root matter for keepalived's script security.
    if runnable(cx, &s) && s.user.as_ref().is_none_or(|u| u.user == "root") {
        g.seen.global_scripts.push(n.loc());
    }
    if startup {
        g.startup_script = Some(s);
    } else {
        g.shutdown_script = Some(s);
    }
}

fn fifo_mut<'g>(g: &'g mut Global, name: &str) -> &'g mut Fifo {
    if name.starts_with("vrrp_") {
        &mut g.vrrp_notify_fifo
    } else if name.starts_with("lvs_") {
        &mut g.lvs_notify_fifo
    } else {
        &mut g.notify_fifo
    }
}

/// `[vrrp_|lvs_]notify_fifo NAME [USER [GROUP]]`.
fn fifo_name(n: &Node, cx: &mut Ctx, g: &mut Global) {
    let Some(w) = cx.arg_or_warn(n, 0, &format!("'{}' needs a FIFO name", n.name())) else {
        return;
    };
    if fifo_mut(g, n.name()).name.is_some() {
        cx.warn(n.loc(), format!("'{}' is already specified", n.name()))
            .fallback(format!("ignoring {}", w.text));
        return;
    }
    let user = match user_group(cx.env, n, 1) {
        // keepalived only logs this (no configuration error) and drops the FIFO.
        Some(Err(_)) => return,
        Some(Ok(u)) => Some(u),
        None => {
            g.seen.uses_default_user(cx, n.loc());
            None
        }
    };
    let f = fifo_mut(g, n.name());
    f.name = Some(w.text.clone());
    f.user = user;
}

fn fifo_script(n: &Node, cx: &mut Ctx, g: &mut Global) {
    let Some(_) = cx.arg_or_warn(n, 0, &format!("'{}' needs a script", n.name())) else {
        return;
    };
    let name = n.name().trim_end_matches("_script");
    if fifo_mut(g, name).script.is_some() {
        cx.warn(n.loc(), format!("'{}' is already specified", n.name()))
            .fallback(format!("ignoring {}", n.args[0].text));
        return;
    }
    if let Some(s) = script_with_user(n, cx, g, true) {
        g.seen.fifo_scripts.push(FifoScript {
            at: n.loc(),
            runnable: runnable(cx, &s),
            vrrp: !name.starts_with("lvs_"),
            lvs: !name.starts_with("vrrp_"),
        });
        fifo_mut(g, name).script = Some(s);
    }
}

/// A script given as one word (quoted when it has arguments) followed by an optional
/// user and group. An unknown user or group makes the script invalid, except for FIFO
/// scripts (`lenient`), where keepalived does not check them when reading.
///
/// These scripts are not recorded in `cx.scripts_at` here: keepalived silently skips a
/// global script that cannot be run, and checks FIFO scripts only when their process has
/// work, which is known in [`super::finish`].
fn script_with_user(n: &Node, cx: &mut Ctx, g: &mut Global, lenient: bool) -> Option<GlobalScript> {
    let first = cx.arg_or_warn(n, 0, &format!("'{}' needs a script", n.name()))?;
    let user = match user_group(cx.env, n, 1) {
        Some(Err(why)) if !lenient => {
            cx.warn(n.args[1].loc, format!("invalid '{}': {why}", n.name()))
                .fallback("the script is not run");
            return None;
        }
        Some(Err(_)) => None,
        Some(Ok(u)) => Some(u),
        None => {
            g.seen.uses_default_user(cx, n.loc());
            None
        }
    };
    let script = Script::parse(&first.text);
    if script.program().is_none() {
        cx.warn(first.loc, format!("empty script for '{}'", n.name()))
            .fallback("ignoring it");
        return None;
    }
    Some(GlobalScript { script, user })
}

/// Whether keepalived would run it: the program exists and is executable.
pub(super) fn runnable(cx: &Ctx, s: &GlobalScript) -> bool {
    s.script.program().is_some_and(|p| cx.env.executable(p))
}
