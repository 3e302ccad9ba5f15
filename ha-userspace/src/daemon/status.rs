//! What `ha status` shows, as the engine reports it and the control socket carries it (JSON).

use serde::{Deserialize, Serialize};

pub use super::check::status::{CheckerStats, CheckerStatus, RsStatus, VsStatus};
use crate::units::{Priority, Vrid};

/// Per-instance counters (keepalived's `vrrp_stats` plus ours).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceCounters {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub became_master: u64,
    pub released_master: u64,
    pub priority_zero_sent: u64,
    pub priority_zero_received: u64,
    pub gratuitous_sent: u64,
    /// Send failures (the socket refused an advert).
    pub send_errors: u64,
    /// Received packets dropped by the RFC 5798 §7.1 checks, per reason (stable names).
    pub rx_dropped: std::collections::BTreeMap<String, u64>,
    /// Adverts of the followed master the XDP program absorbed without waking the daemon
    /// (not counted in `adverts_received`); events the kernel sent for this instance.
    #[serde(default)]
    pub xdp_absorbed: u64,
    #[serde(default)]
    pub xdp_events: u64,
    /// The kernel's master-down timer for this instance is armed.
    #[serde(default)]
    pub xdp_timer_armed: bool,
    /// The longest time between two adverts this instance sent in a row as MASTER, µs (as
    /// the engine sent them: how punctual the Adver_Timer is kept).
    #[serde(default)]
    pub max_advert_gap_us: u64,
    /// The steps of the last takeover, timed.
    #[serde(default)]
    pub last_takeover: Option<TakeoverSteps>,
}

/// When each step of a takeover was done, in µs after the state machine decided to become
/// MASTER, in the order they run (RFC 5798 §6.4.2: advert, then VIPs, then announcements).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeoverSteps {
    /// The first advert as MASTER sent.
    pub advert_us: u64,
    /// The XDP program told to answer ARP / NS for the VIPs (map writes).
    pub xdp_vips_us: u64,
    /// VIPs, routes and rules set (netlink).
    pub addresses_us: u64,
    /// The first gratuitous ARP / NA burst sent (or queued by the pacer).
    pub announced_us: u64,
    /// The kernel's instance entry rewritten for the new state.
    pub xdp_sync_us: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub family: String,
    pub vrid: Vrid,
    pub version: u8,
    /// INIT, BACKUP, MASTER or FAULT (keepalived's names).
    pub state: String,
    /// Configured priority.
    pub priority: Priority,
    /// Priority after tracking, as advertised.
    pub effective_priority: Priority,
    /// The source address of our adverts.
    pub source: String,
    /// The current master (ourselves when MASTER), if known.
    pub master: Option<String>,
    pub master_priority: Option<Priority>,
    pub vips: Vec<String>,
    /// Why the last transition happened and when (Unix seconds).
    pub last_transition: Option<String>,
    pub last_transition_at: Option<u64>,
    /// While in FAULT: what holds it there (a tracked object, the interface, a sync group
    /// member).
    #[serde(default)]
    pub fault: Option<String>,
    pub sync_group: Option<String>,
    pub counters: InstanceCounters,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    pub config: String,
    /// Unix seconds when the running config was loaded.
    pub loaded_at: u64,
    pub reloads: u64,
    /// VRRP packets for a VRID no instance runs (or too short to name one).
    pub unknown_vrid: u64,
    pub instances: Vec<InstanceStatus>,
    /// The XDP fast path, when it runs.
    #[serde(default)]
    pub xdp: Option<XdpStatus>,
    /// The virtual servers, their real servers and checkers.
    #[serde(default)]
    pub virtual_servers: Vec<VsStatus>,
    #[serde(default)]
    pub checkers: Option<CheckerStats>,
    /// The BFD sessions, when the config has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd: Option<super::bfd::BfdStatus>,
}

/// `ha status`'s XDP part: where the program runs, in which mode, and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdpStatus {
    pub interfaces: Vec<XdpInterface>,
    /// The program's named counters, summed over CPUs and interfaces.
    pub counters: std::collections::BTreeMap<String, u64>,
    /// The load balancer's verdict counters, when it forwards (`lb_backend xdp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb: Option<std::collections::BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdpInterface {
    pub name: String,
    /// "native" or "generic".
    pub mode: String,
    pub why: Option<String>,
    /// This interface's counters.
    #[serde(default)]
    pub counters: std::collections::BTreeMap<String, u64>,
}

impl Status {
    /// The human-readable table of `ha status`.
    pub fn render(&self) -> String {
        let mut out = format!(
            "ha pid {}, config {}, {} reload(s)\n",
            self.pid, self.config, self.reloads
        );
        out.push_str(&format!(
            "{:<16} {:<10} {:>4} {:<7} {:>4} {:>4}  {:<26} {}\n",
            "INSTANCE", "INTERFACE", "VRID", "STATE", "PRIO", "EFF", "MASTER", "VIPS"
        ));
        for i in &self.instances {
            let master = match (&i.master, i.master_priority) {
                (Some(m), Some(p)) => format!("{m} ({p})"),
                (Some(m), None) => m.clone(),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "{:<16} {:<10} {:>4} {:<7} {:>4} {:>4}  {:<26} {}\n",
                i.name,
                i.interface,
                i.vrid,
                i.state,
                i.priority,
                i.effective_priority,
                master,
                i.vips.join(" ")
            ));
        }
        match &self.xdp {
            None => out.push_str("XDP: off (raw sockets)\n"),
            Some(x) => {
                for i in &x.interfaces {
                    let c = |n: &str| i.counters.get(n).copied().unwrap_or(0);
                    let dropped: u64 = i
                        .counters
                        .iter()
                        .filter(|(k, _)| k.starts_with("drop_"))
                        .map(|(_, v)| v)
                        .sum();
                    out.push_str(&format!(
                        "XDP {} ({}): adverts absorbed {}, events {}, dropped {}; ARP replies {}, NA replies {}\n",
                        i.name,
                        i.mode,
                        c("absorbed"),
                        c("advert_events"),
                        dropped,
                        c("arp_reply"),
                        c("na_reply")
                    ));
                }
                if let Some(lb) = &x.lb {
                    out.push_str(&render_lb_counters(lb));
                }
            }
        }
        if let Some(b) = &self.bfd {
            out.push_str(&b.render());
        }
        out.push_str(&super::check::status::render(&self.virtual_servers));
        if let Some(k) = self
            .checkers
            .as_ref()
            .and_then(|c| c.kernel.as_ref().map(|k| (c, k)))
        {
            let (c, view) = k;
            out.push_str(&format!(
                "\nKERNEL TABLE ({}): {}\n",
                c.backend,
                if c.kernel_differences.is_empty() {
                    "matches what ha applied".to_string()
                } else {
                    format!(
                        "{} difference(s) from what ha applied",
                        c.kernel_differences.len()
                    )
                }
            ));
            for d in &c.kernel_differences {
                out.push_str(&format!("  missing: {d}\n"));
            }
            out.push_str(&super::lb::ipvs::show::render(view, None));
        }
        out
    }
}

/// The XDP load balancer's verdicts on one line: what it forwarded, passed and dropped.
fn render_lb_counters(lb: &std::collections::BTreeMap<String, u64>) -> String {
    let c = |n: &str| lb.get(n).copied().unwrap_or(0);
    let dropped: u64 = [
        "no_real",
        "fragment",
        "drop_too_big",
        "no_route",
        "no_neigh",
        "fwd_disabled",
        "drop_other",
    ]
    .iter()
    .map(|n| c(n))
    .sum();
    format!(
        "XDP load balancer: seen {}, forwarded DR {} IPIP {} GUE {}, connections hit {} new {}, \
         persistent {}, passed (not MASTER) {}, too big answered {}, dropped {}\n",
        c("seen"),
        c("forward_dr"),
        c("forward_ipip"),
        c("forward_gue"),
        c("conn_hit"),
        c("conn_miss"),
        c("persist_hit"),
        c("pass_backup"),
        c("icmp_too_big"),
        dropped
    )
}
