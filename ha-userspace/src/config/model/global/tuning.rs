//! The long tail of `global_defs`: daemon tuning that `ha` validates like keepalived 2.2.7
//! but does not act on (process names, SNMP, D-Bus, nftables names, netlink buffer sizes,
//! realtime scheduling, reload handling...). Each keyword has a [`Kind`] saying how
//! keepalived reads it; the value is kept in `Global::tuning` for `--dump`.

use serde::Serialize;

use super::read::int_want;
use super::Global;
use crate::config::ctx::parse_bool;
use crate::config::ctx::Ctx;
use crate::config::tree::Node;

/// A validated tuning value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    Flag(bool),
    Int(i64),
    Text(String),
    Words(Vec<String>),
}

/// How keepalived reads a keyword (global_parser.c handler shapes).
#[derive(Clone, Copy)]
enum Kind {
    /// Presence turns it on; words after it are ignored.
    Flag,
    /// Optional `true/false`-style value; an invalid one is reported and ignored.
    Bool,
    /// One word, read unchecked (missing is fatal); longer than `max` is reported.
    Word { max: usize, dup: bool },
    /// The rest of the line; missing is reported and ignored.
    Text,
    /// Optional word (`nftables [TABLE]`), at most `max` long, once.
    OptWord { max: usize, dup: bool },
    /// Unsigned integer read unchecked (missing is fatal).
    Uint { lo: u32, hi: u32 },
    /// Signed integer read unchecked (missing is fatal).
    Int { lo: i32, hi: i32 },
    /// Buffer size: missing is reported; 0 leaves the default.
    BufSize,
    /// Process name: truncated to 15 characters with a warning.
    ProcessName,
    /// `*_rlimit_rttime`: microseconds ≥ 1 (1 becomes 2).
    Rlimit,
    /// Realtime priority, clamped to 1..99 with a warning.
    RtPriority,
    /// List of CPU numbers of this machine.
    CpuAffinity,
    /// Keyword-specific reader.
    Special,
}

const TABLE: &[(&str, Kind)] = &[
    ("process_names", Kind::Flag),
    ("process_name", Kind::ProcessName),
    ("vrrp_process_name", Kind::ProcessName),
    ("checker_process_name", Kind::ProcessName),
    // Deprecated alias (keepalived only logs it).
    ("lvs_process_name", Kind::ProcessName),
    ("bfd_process_name", Kind::ProcessName),
    ("snmp_socket", Kind::Special),
    ("enable_traps", Kind::Flag),
    ("enable_snmp_vrrp", Kind::Flag),
    // Deprecated since keepalived 2.0.0, same as enable_snmp_vrrp.
    ("enable_snmp_keepalived", Kind::Flag),
    ("enable_snmp_rfc", Kind::Flag),
    ("enable_snmp_rfcv2", Kind::Flag),
    ("enable_snmp_rfcv3", Kind::Flag),
    ("enable_snmp_checker", Kind::Flag),
    ("enable_dbus", Kind::Flag),
    ("dbus_service_name", Kind::Text),
    ("vrrp_iptables", Kind::Special),
    (
        "nftables",
        Kind::OptWord {
            max: 255,
            dup: true,
        },
    ),
    (
        "nftables_priority",
        Kind::Int {
            lo: i32::MIN,
            hi: i32::MAX,
        },
    ),
    ("nftables_ifindex", Kind::Flag),
    (
        "nftables_ipvs",
        Kind::OptWord {
            max: 255,
            dup: true,
        },
    ),
    (
        "nftables_ipvs_priority",
        Kind::Int {
            lo: i32::MIN,
            hi: i32::MAX,
        },
    ),
    (
        "nftables_ipvs_start_fwmark",
        Kind::Uint {
            lo: 1,
            hi: u32::MAX,
        },
    ),
    ("nftables_counters", Kind::Flag),
    ("disable_local_igmp", Kind::Special),
    ("vrrp_rt_priority", Kind::RtPriority),
    ("checker_rt_priority", Kind::RtPriority),
    ("bfd_rt_priority", Kind::RtPriority),
    ("vrrp_cpu_affinity", Kind::CpuAffinity),
    ("checker_cpu_affinity", Kind::CpuAffinity),
    ("bfd_cpu_affinity", Kind::CpuAffinity),
    ("vrrp_rlimit_rttime", Kind::Rlimit),
    ("checker_rlimit_rttime", Kind::Rlimit),
    ("bfd_rlimit_rttime", Kind::Rlimit),
    // `*_rlimit_rtime`: deprecated spelling (keepalived only logs it).
    ("vrrp_rlimit_rtime", Kind::Rlimit),
    ("checker_rlimit_rtime", Kind::Rlimit),
    ("bfd_rlimit_rtime", Kind::Rlimit),
    ("vrrp_netlink_cmd_rcv_bufs", Kind::BufSize),
    ("vrrp_netlink_cmd_rcv_bufs_force", Kind::Bool),
    ("vrrp_netlink_monitor_rcv_bufs", Kind::BufSize),
    ("vrrp_netlink_monitor_rcv_bufs_force", Kind::Bool),
    ("lvs_netlink_cmd_rcv_bufs", Kind::BufSize),
    ("lvs_netlink_cmd_rcv_bufs_force", Kind::Bool),
    ("lvs_netlink_monitor_rcv_bufs", Kind::BufSize),
    ("lvs_netlink_monitor_rcv_bufs_force", Kind::Bool),
    ("process_monitor_rcv_bufs", Kind::BufSize),
    ("process_monitor_rcv_bufs_force", Kind::Bool),
    ("rs_init_notifies", Kind::Bool),
    ("no_checker_emails", Kind::Bool),
    ("vrrp_rx_bufs_policy", Kind::Special),
    ("vrrp_rx_bufs_multiplier", Kind::Special),
    (
        "vmac_prefix",
        Kind::Word {
            max: usize::MAX,
            dup: true,
        },
    ),
    (
        "vmac_addr_prefix",
        Kind::Word {
            max: usize::MAX,
            dup: true,
        },
    ),
    ("fifo_write_vrrp_states_on_reload", Kind::Flag),
    ("reload_check_config", Kind::Special),
    ("reload_time_file", Kind::Special),
    ("reload_repeat", Kind::Flag),
    ("reload_file", Kind::Special),
    ("include_check", Kind::Special),
    ("tmp_config_directory", Kind::Special),
    (
        "config_save_dir",
        Kind::Word {
            max: usize::MAX,
            dup: false,
        },
    ),
    ("data_use_instance", Kind::Bool),
];

/// Linux TASK_COMM_LEN - 1.
const PROCESS_NAME_MAX: usize = 15;
/// PATH_MAX - 1.
const PATH_MAX: usize = 4095;

/// Handles a tuning keyword; false if `n` is not one.
pub fn keyword(n: &Node, cx: &mut Ctx, g: &mut Global) -> bool {
    let Some(&(name, kind)) = TABLE.iter().find(|(k, _)| *k == n.name()) else {
        return false;
    };
    let value = match kind {
        Kind::Flag => Some(Setting::Flag(true)),
        Kind::Bool => match n.args.first() {
            None => Some(Setting::Flag(true)),
            Some(w) => match parse_bool(&w.text) {
                Some(b) => Some(Setting::Flag(b)),
                None => {
                    cx.warn(w.loc, format!("invalid value '{}' for '{name}'", w.text))
                        .expected("true/false, yes/no or on/off (lower case)")
                        .fallback("ignoring it");
                    None
                }
            },
        },
        Kind::Word { max, dup } => {
            let Some(w) = cx.arg(n, 0) else { return true };
            if dup && already(cx, n, g) {
                return true;
            }
            text_within(cx, n, &w.text, max)
        }
        Kind::OptWord { max, dup } => {
            if dup && already(cx, n, g) {
                return true;
            }
            match n.args.first() {
                None => Some(Setting::Text(String::new())),
                Some(w) => text_within(cx, n, &w.text, max),
            }
        }
        Kind::Text => cx
            .arg_or_warn(n, 0, &format!("'{name}' needs a value"))
            .and_then(|_| cx.rest(n, 0))
            .map(Setting::Text),
        Kind::Uint { lo, hi } => cx.num(n, 0, lo, hi).map(|v| Setting::Int(v.into())),
        Kind::Int { lo, hi } => cx.num(n, 0, lo, hi).map(|v| Setting::Int(v.into())),
        Kind::BufSize => {
            let msg = format!("'{name}' needs a size");
            match int_want(cx, n, 0, 0u32, u32::MAX, &msg) {
                Some(0) | None => None,
                Some(v) => Some(Setting::Int(v.into())),
            }
        }
        Kind::ProcessName => process_name(n, cx),
        Kind::Rlimit => cx
            .num(n, 0, 1u32, u32::MAX)
            .map(|v| Setting::Int(v.max(2).into())),
        Kind::RtPriority => rt_priority(n, cx),
        Kind::CpuAffinity => cpu_affinity(n, cx),
        Kind::Special => special(n, cx, g),
    };
    if let Some(v) = value {
        g.tuning.insert(name.to_string(), v);
    }
    true
}

fn already(cx: &mut Ctx, n: &Node, g: &Global) -> bool {
    // `vrrp_iptables` stands in for `nftables` in this keepalived build.
    let taken = g.tuning.contains_key(n.name())
        || (n.name() == "nftables" && g.tuning.contains_key("vrrp_iptables"));
    if taken {
        cx.warn(n.loc(), format!("'{}' is already specified", n.name()))
            .fallback("ignoring this one");
    }
    taken
}

fn text_within(cx: &mut Ctx, n: &Node, text: &str, max: usize) -> Option<Setting> {
    if text.len() > max {
        cx.warn(
            n.args[0].loc,
            format!("'{}' value is longer than {max} characters", n.name()),
        )
        .fallback("ignoring it");
        return None;
    }
    Some(Setting::Text(text.to_string()))
}

fn process_name(n: &Node, cx: &mut Ctx) -> Option<Setting> {
    let w = cx.arg(n, 0)?;
    let mut name = w.text.clone();
    if name.len() > PROCESS_NAME_MAX {
        cx.warn(
            w.loc,
            format!("process name '{name}' is longer than {PROCESS_NAME_MAX} characters"),
        )
        .fallback("truncating it");
        while name.len() > PROCESS_NAME_MAX {
            name.pop();
        }
    }
    Some(Setting::Text(name))
}

fn rt_priority(n: &Node, cx: &mut Ctx) -> Option<Setting> {
    let msg = format!("'{}' needs a realtime priority", n.name());
    let v = int_want(cx, n, 0, i32::MIN, i32::MAX, &msg)?;
    // sched_get_priority_min/max(SCHED_RR)
    let clamped = v.clamp(1, 99);
    if clamped != v {
        cx.warn(
            n.args[0].loc,
            format!("realtime priority {v} for '{}' outside 1..99", n.name()),
        )
        .fallback(format!("using {clamped}"));
    }
    Some(Setting::Int(clamped.into()))
}

fn cpu_affinity(n: &Node, cx: &mut Ctx) -> Option<Setting> {
    let msg = format!("'{}' needs CPU numbers", n.name());
    cx.arg_or_warn(n, 0, &msg)?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1);
    let last = i32::try_from(cpus - 1).unwrap_or(i32::MAX);
    let mut set = Vec::new();
    for w in &n.args {
        // keepalived drops the whole set at the first bad CPU.
        set.push(cx.int_word(n, w, 0, last)?.to_string());
    }
    Some(Setting::Words(set))
}

fn special(n: &Node, cx: &mut Ctx, g: &mut Global) -> Option<Setting> {
    let words = || Setting::Words(n.args.iter().map(|w| w.text.clone()).collect());
    match n.name() {
        "snmp_socket" => {
            if n.args.len() > 1 {
                cx.warn(n.args[1].loc, "too many parameters for 'snmp_socket'")
                    .fallback("ignoring it");
                return None;
            }
            let w = cx.arg_or_warn(n, 0, "'snmp_socket' needs a socket name")?;
            if already(cx, n, g) {
                return None;
            }
            text_within(cx, n, &w.text, PATH_MAX)
        }
        "vrrp_iptables" => {
            // This keepalived build has no iptables support and uses nftables instead.
            cx.warn(
                n.loc(),
                "iptables is not supported, nftables is used instead",
            )
            .expected("'nftables' instead of 'vrrp_iptables'");
            Some(words())
        }
        "disable_local_igmp" => {
            let path = "/proc/sys/net/ipv4/igmp_link_local_mcast_reports";
            if std::fs::metadata(path).is_err() {
                cx.warn(n.loc(), format!("the kernel does not support {path}"))
                    .fallback("ignoring it");
                return None;
            }
            Some(Setting::Flag(true))
        }
        "vrrp_rx_bufs_policy" => rx_bufs_policy(n, cx, g),
        "vrrp_rx_bufs_multiplier" => {
            if n.args.len() != 1 {
                cx.warn(
                    n.loc(),
                    "'vrrp_rx_bufs_multiplier' takes exactly one number",
                )
                .fallback("ignoring it");
                return None;
            }
            cx.int_word(n, &n.args[0], 1u32, u32::MAX)
                .map(|v| Setting::Int(v.into()))
        }
        // No file: /dev/null.
        "reload_check_config" => Some(Setting::Text(cx_rest_or(n, "/dev/null"))),
        "reload_time_file" => {
            if n.args.len() != 1 {
                cx.warn(n.loc(), "'reload_time_file' takes exactly one file name")
                    .fallback("ignoring it");
                return None;
            }
            Some(Setting::Text(n.args[0].text.clone()))
        }
        // No file: keepalived.reload in the pid directory.
        "reload_file" => Some(Setting::Text(
            n.args.first().map_or_else(String::new, |w| w.text.clone()),
        )),
        "include_check" => include_check(n, cx),
        "tmp_config_directory" => {
            if g.tuning.contains_key("tmp_config_directory") {
                already(cx, n, g);
                return None;
            }
            let w = cx.arg_or_warn(n, 0, "'tmp_config_directory' needs a directory")?;
            Some(Setting::Text(w.text.clone()))
        }
        _ => {
            cx.unknown(n, "global_defs");
            None
        }
    }
}

fn cx_rest_or(n: &Node, default: &str) -> String {
    if n.args.is_empty() {
        default.to_string()
    } else {
        n.args
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `vrrp_rx_bufs_policy MTU|ADVERT|SIZE ...`. Policies accumulate over repeated keywords.
/// keepalived 2.2.7 validates every size word by reading the *first* word, which we copy.
fn rx_bufs_policy(n: &Node, cx: &mut Ctx, g: &mut Global) -> Option<Setting> {
    let first = cx.arg_or_warn(n, 0, "'vrrp_rx_bufs_policy' needs a policy")?;
    let mut words = match g.tuning.get("vrrp_rx_bufs_policy") {
        Some(Setting::Words(w)) => w.clone(),
        _ => Vec::new(),
    };
    for w in &n.args {
        if w.text.eq_ignore_ascii_case("MTU") || w.text.eq_ignore_ascii_case("ADVERT") {
            words.push(w.text.to_ascii_uppercase());
        } else if let Some(size) = cx.int_word(n, first, 0u32, u32::MAX) {
            words.push(size.to_string());
        }
    }
    let has = |p: &str| words.iter().any(|w| w == p);
    let has_size = words
        .iter()
        .any(|w| w.starts_with(|c: char| c.is_ascii_digit()));
    if has_size && (has("MTU") || has("ADVERT")) {
        cx.warn(
            n.loc(),
            "'vrrp_rx_bufs_policy' cannot set both a size and a policy",
        )
        .fallback("ignoring the policy");
        words.retain(|w| w != "MTU" && w != "ADVERT");
    } else if has("MTU") && has("ADVERT") {
        cx.warn(
            n.loc(),
            "'vrrp_rx_bufs_policy' cannot be both MTU and ADVERT",
        )
        .fallback("ignoring ADVERT");
        words.retain(|w| w != "ADVERT");
    }
    Some(Setting::Words(words))
}

/// `include_check [[+|-]match|wildcard_match|brace_match ...]` (keepalived 2.2.7 does not
/// recognise `readable`, although its manual lists it; each check includes the readable
/// check, so two checks added on one line are reported as duplicates).
fn include_check(n: &Node, cx: &mut Ctx) -> Option<Setting> {
    const READABLE: u8 = 1;
    let mut set = 0u8;
    let mut kept = Vec::new();
    for w in &n.args {
        let (remove, name) = match w.text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, w.text.strip_prefix('+').unwrap_or(&w.text)),
        };
        let bits = match name {
            "match" => 2 | READABLE,
            "wildcard_match" => 4 | READABLE,
            "brace_match" => 8 | READABLE,
            _ => {
                cx.warn(w.loc, format!("unknown include_check type '{}'", w.text))
                    .expected("match, wildcard_match or brace_match")
                    .fallback("ignoring it");
                continue;
            }
        };
        if remove {
            set &= !bits;
        } else if set & bits != 0 {
            cx.warn(w.loc, format!("duplicate include_check '{}'", w.text))
                .fallback("ignoring it");
            continue;
        } else {
            set |= bits;
        }
        kept.push(w.text.clone());
    }
    Some(Setting::Words(kept))
}
