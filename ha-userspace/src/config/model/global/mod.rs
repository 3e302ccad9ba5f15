//! `global_defs`, the top-level daemon keywords (`net_namespace`, `instance`, ...) and
//! `bfd_instance` — keepalived.conf(5) "GLOBAL CONFIGURATION" and "BFD CONFIGURATION".
//!
//! - [`daemon`]: keywords outside any block (keepalived `install_keyword_root` in
//!   global_parser.c);
//! - [`defs`]: the `global_defs` keywords `ha` acts on, as typed fields;
//! - [`notify`]: e-mail, SMTP, notify FIFOs and the startup/shutdown scripts;
//! - [`lvs`]: `lvs_sync_daemon`, `lvs_timeouts`, `lvs_flush*`;
//! - [`tuning`]: the long tail of daemon tuning keywords, validated from a table;
//! - [`bfd`]: `bfd_instance` (RFC 5880 sessions);
//! - [`security`]: the script-user rules keepalived applies once everything is read.

pub mod bfd;
pub mod daemon;
pub mod defs;
pub mod lvs;
pub mod notify;
pub mod read;
pub mod security;
pub mod tuning;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::Config;
use crate::config::ctx::Ctx;
use crate::config::source::Loc;
use crate::config::tree::Node;
use crate::units::Micros;

#[derive(Debug, Default, Serialize)]
pub struct Global {
    /// Refuse to run root scripts writable by non-root users (keepalived `script_security`).
    pub enable_script_security: bool,
    /// Default user (and group) scripts run as; `None`: `keepalived_script` if that user
    /// exists, else root.
    pub script_user: Option<ScriptUser>,

    /// Keywords outside any block.
    pub daemon: daemon::Daemon,

    /// String identifying this machine in e-mails; `None` means the host name.
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    /// `None`: `keepalived@<local host name>`.
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<notify::SmtpServer>,
    /// `None`: the local host name.
    pub smtp_helo_name: Option<String>,
    /// Seconds; keepalived's default is 30.
    pub smtp_connect_timeout: Option<u32>,
    /// Default `smtp_alert` for everything / VRRP instances / checkers (`None`: not set).
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub smtp_alert_checker: Option<bool>,
    pub no_email_faults: bool,
    pub checker_log_all_failures: Option<bool>,

    pub startup_script: Option<notify::GlobalScript>,
    /// Seconds allowed for the startup script (keepalived default 10 when a script is set).
    pub startup_script_timeout: Option<u32>,
    pub shutdown_script: Option<notify::GlobalScript>,
    pub shutdown_script_timeout: Option<u32>,

    pub notify_fifo: notify::Fifo,
    pub vrrp_notify_fifo: notify::Fifo,
    pub lvs_notify_fifo: notify::Fifo,
    pub vrrp_notify_priority_changes: Option<bool>,

    /// VRRP advert groups (RFC 5798 §5.1.1.2 / §5.1.2.2: 224.0.0.18, ff02::12 by default).
    pub vrrp_mcast_group4: Option<Ipv4Addr>,
    pub vrrp_mcast_group6: Option<Ipv6Addr>,
    pub garp: defs::GarpDefaults,
    pub vrrp_lower_prio_no_advert: Option<bool>,
    pub vrrp_higher_prio_send_advert: Option<bool>,
    /// Default VRRP version (2; IPv6 instances use 3).
    pub vrrp_version: Option<u8>,
    pub vrrp_check_unicast_src: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_strict: bool,
    pub vrrp_startup_delay: Option<Micros>,
    pub vrrp_down_timer_adverts: Option<u32>,
    pub log_unknown_vrids: bool,
    pub dynamic_interfaces: Option<defs::DynamicInterfaces>,
    /// Default interface for static addresses (`None`: eth0).
    pub default_interface: Option<String>,

    pub lvs_timeouts: lvs::LvsTimeouts,
    pub lvs_sync_daemon: Option<lvs::LvsSyncDaemon>,
    pub lvs_flush: bool,
    pub lvs_flush_on_stop: Option<lvs::FlushOnStop>,
    /// `lb_backend` (ha's): which engine forwards the virtual servers.
    pub lb_backend: lvs::LbBackendChoice,
    /// `lb_xdp_table_size` (ha's): the XDP forwarder's Maglev table size, a prime.
    pub lb_xdp_table_size: Option<u32>,

    /// Scheduling of the vrrp, checker and bfd processes.
    pub vrrp_process: defs::ProcessTuning,
    pub checker_process: defs::ProcessTuning,
    pub bfd_process: defs::ProcessTuning,
    /// Ceiling of automatic realtime priority increases (-1: no warning, 0: off).
    pub max_auto_priority: Option<i32>,
    /// Microseconds late before the priority is raised.
    pub min_auto_priority_delay: Option<u32>,
    /// File creation mask (permission bits only).
    pub umask: Option<u32>,
    /// Seed for `${_RANDOM}`.
    pub random_seed: Option<u32>,

    /// Daemon tuning keywords `ha` validates but does not act on, by keyword.
    pub tuning: BTreeMap<String, tuning::Setting>,

    /// `bfd_instance` blocks that survived validation, in file order. VRRP `track_bfd` and
    /// checker `bfd` references resolve against these names.
    pub bfd: Vec<bfd::BfdInstance>,

    /// Where things were seen, for the checks in [`finish`].
    #[serde(skip)]
    seen: Seen,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScriptUser {
    pub user: String,
    pub group: Option<String>,
}

/// A position in the reading order. keepalived applies the script-user rules as it reads,
/// so order matters. `cx.scripts_at` grows in reading order as the other areas record their
/// scripts: our events are placed by its length at that time, then by our own counter;
/// `scripts_at[i]` itself sits at `(i, usize::MAX)`.
type Pos = (usize, usize);

#[derive(Debug, Default)]
struct Seen {
    /// Counter for [`Pos`].
    seq: usize,
    /// When `enable_script_security` was first read.
    security: Option<Pos>,
    /// When and where the first `script_user` was read.
    script_user: Option<(Pos, Loc)>,
    /// The first `script_user` failed (unknown user or group).
    script_user_failed: bool,
    /// Our scripts and FIFOs configured without their own user.
    default_user_uses: Vec<(Pos, Loc)>,
    /// Runnable startup/shutdown scripts: always checked by the parent process.
    global_scripts: Vec<Loc>,
    /// The notify FIFO scripts: run by the vrrp and/or checker process, and checked by
    /// keepalived only when that process has work.
    fifo_scripts: Vec<FifoScript>,
    /// A `vrrp_instance` / `virtual_server` block was seen (the vrrp / checker process has
    /// work).
    has_vrrp: bool,
    has_lvs: bool,
}

impl Seen {
    fn now(&mut self, cx: &Ctx) -> Pos {
        self.seq += 1;
        (cx.scripts_at.len(), self.seq)
    }

    fn uses_default_user(&mut self, cx: &Ctx, at: Loc) {
        let pos = self.now(cx);
        self.default_user_uses.push((pos, at));
    }
}

#[derive(Debug)]
struct FifoScript {
    at: Loc,
    runnable: bool,
    vrrp: bool,
    lvs: bool,
}

pub fn top(n: &Node, cx: &mut Ctx, config: &mut Config) -> bool {
    let g = &mut config.global;
    match n.name() {
        "global_defs" => {
            // keepalived ignores words after `global_defs` and a missing block.
            for c in n.children() {
                defs::keyword(c, cx, g);
            }
            true
        }
        "bfd_instance" => {
            bfd::instance(n, cx, g);
            true
        }
        name => {
            // Not ours, but which processes will have work decides which global scripts
            // keepalived checks.
            g.seen.has_vrrp |= name == "vrrp_instance";
            g.seen.has_lvs |= name == "virtual_server";
            daemon::keyword(n, cx, g)
        }
    }
}

pub fn finish(config: &mut Config, cx: &mut Ctx) {
    let g = &config.global;
    security::default_script_user(g, cx);
    // Our scripts join the script-security check only now, after the default-user rule
    // (which looks at the order of the other areas' scripts).
    cx.scripts_at.extend(g.seen.global_scripts.iter().copied());
    for f in &g.seen.fifo_scripts {
        if f.runnable && ((f.vrrp && g.seen.has_vrrp) || (f.lvs && g.seen.has_lvs)) {
            cx.scripts_at.push(f.at);
        }
    }
}

#[cfg(test)]
mod tests;
