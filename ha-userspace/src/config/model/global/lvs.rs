//! IPVS-wide settings of `global_defs`: connection timeouts, the connection sync daemon
//! (ipvsadm(8) `--start-daemon`) and flushing.

use std::net::IpAddr;

use serde::Serialize;

use super::Global;
use crate::config::ctx::Ctx;
use crate::config::tree::Node;

/// 31 days, keepalived's LVS_MAX_TIMEOUT.
const LVS_MAX_TIMEOUT: u32 = 86_400 * 31;
/// IP_VS_IFNAME_MAXLEN: interface names are shorter than this.
const IFNAME_MAXLEN: usize = 16;

/// `lvs_timeouts [tcp SECS] [tcpfin SECS] [udp SECS]`; unset ones are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcpfin: Option<u32>,
    pub udp: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LvsSyncDaemon {
    pub interface: String,
    /// The VRRP instance whose state decides master/backup; `None`: run both always.
    pub instance: Option<String>,
    /// Sync id; `None`: the instance's VRID (or 0).
    pub id: Option<u8>,
    pub maxlen: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    /// Multicast group (default 224.0.0.81).
    pub group: Option<IpAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushOnStop {
    /// Flush the whole IPVS table.
    Full,
    /// Remove each virtual server keepalived manages (the kernel removes the real servers).
    Vs,
}

/// Which engine forwards the virtual servers (`lb_backend`, ha's own keyword).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LbBackendChoice {
    /// IPVS where the kernel has it, else XDP.
    #[default]
    Auto,
    Ipvs,
    Xdp,
}

/// Handles the LVS keywords of `global_defs`; false if `n` is not one.
pub fn keyword(n: &Node, cx: &mut Ctx, g: &mut Global) -> bool {
    match n.name() {
        "lvs_timeouts" => timeouts(n, cx, g),
        "lvs_sync_daemon" => sync_daemon(n, cx, g),
        "lvs_flush" => g.lvs_flush = true,
        "lb_backend" => {
            extension(n, cx);
            match n.args.first().map(|w| w.text.as_str()) {
                Some("auto") => g.lb_backend = LbBackendChoice::Auto,
                Some("ipvs") => g.lb_backend = LbBackendChoice::Ipvs,
                Some("xdp") => g.lb_backend = LbBackendChoice::Xdp,
                _ => {
                    cx.error(n.loc(), "'lb_backend' needs one of auto, ipvs, xdp")
                        .expected("auto, ipvs or xdp");
                }
            }
        }
        "lb_xdp_table_size" => {
            extension(n, cx);
            if let Some(v) = crate::config::model::lvs::read::unsigned(cx, n, 0, 251, 16_777_213) {
                if crate::lb::maglev::valid_size(v) {
                    g.lb_xdp_table_size = Some(v);
                } else {
                    cx.error(
                        n.args[0].loc,
                        format!("'lb_xdp_table_size' {v} is not a prime (Maglev needs one)"),
                    )
                    .expected("a prime such as 65537, 131071 or 655373");
                }
            }
        }
        // `lvs_flush_onstop` is the name before keepalived 2.1.5, still accepted.
        "lvs_flush_on_stop" | "lvs_flush_onstop" => match n.args.first() {
            None => g.lvs_flush_on_stop = Some(FlushOnStop::Full),
            Some(w) if w.text == "VS" => g.lvs_flush_on_stop = Some(FlushOnStop::Vs),
            Some(w) => {
                cx.warn(w.loc, format!("unknown '{}' type '{}'", n.name(), w.text))
                    .expected("nothing or VS")
                    .fallback("ignoring it");
            }
        },
        _ => return false,
    }
    true
}

/// keepalived does not know ha's own keywords: `--strict` says so.
fn extension(n: &Node, cx: &mut Ctx) {
    if cx.diags.strict() {
        cx.error(
            n.loc(),
            format!("'{}' is an ha extension keepalived does not know", n.name()),
        );
    }
}

fn timeouts(n: &Node, cx: &mut Ctx, g: &mut Global) {
    if n.args.len() < 2 {
        cx.warn(
            n.loc(),
            "'lvs_timeouts' needs at least one option and value",
        )
        .expected("tcp SECS, tcpfin SECS or udp SECS")
        .fallback("ignoring it");
        return;
    }
    let mut i = 0;
    while i < n.args.len() {
        let w = &n.args[i];
        let slot = match w.text.as_str() {
            "tcp" => &mut g.lvs_timeouts.tcp,
            "tcpfin" => &mut g.lvs_timeouts.tcpfin,
            "udp" => &mut g.lvs_timeouts.udp,
            _ => {
                cx.warn(
                    w.loc,
                    format!("unknown option '{}' for 'lvs_timeouts'", w.text),
                )
                .expected("tcp, tcpfin or udp")
                .fallback("ignoring it");
                i += 1;
                continue;
            }
        };
        match n.args.get(i + 1) {
            None => {
                cx.warn(w.loc, format!("no value for 'lvs_timeouts {}'", w.text))
                    .fallback("ignoring it");
            }
            Some(v) => {
                if let Some(secs) = cx.int_word(n, v, 0, LVS_MAX_TIMEOUT) {
                    *slot = Some(secs);
                }
            }
        }
        i += 2;
    }
}

/// `lvs_sync_daemon IF [[inst] INSTANCE] [id ID] [maxlen LEN] [port PORT] [ttl TTL]
/// [group ADDR]`; the old form `IF INSTANCE [SYNCID]` is still accepted (with a warning
/// for the bare sync id).
fn sync_daemon(n: &Node, cx: &mut Ctx, g: &mut Global) {
    if let Some(d) = &g.lvs_sync_daemon {
        cx.warn(
            n.loc(),
            format!("'lvs_sync_daemon' is already specified as {}", d.interface),
        )
        .fallback("ignoring this one");
        return;
    }
    let Some(ifname) = n.args.first() else {
        cx.warn(n.loc(), "'lvs_sync_daemon' needs an interface")
            .fallback("ignoring it");
        return;
    };
    if ifname.text.len() >= IFNAME_MAXLEN {
        cx.warn(
            ifname.loc,
            format!(
                "lvs_sync_daemon interface name '{}' is too long",
                ifname.text
            ),
        )
        .fallback("ignoring it");
        return;
    }
    let mut d = LvsSyncDaemon {
        interface: ifname.text.clone(),
        ..Default::default()
    };
    // keepalived numbers words from the keyword (0); `i` here is keepalived's index.
    let words = &n.args;
    let mut i = 2;
    while i <= words.len() {
        let w = &words[i - 1];
        let value = words.get(i);
        let option = w.text.as_str();
        if matches!(option, "inst" | "id" | "maxlen" | "port" | "ttl" | "group") {
            i += 2;
            if option == "inst" {
                if let Some(prev) = &d.instance {
                    cx.warn(
                        w.loc,
                        format!("lvs_sync_daemon instance already specified as {prev}"),
                    )
                    .fallback("ignoring this one");
                    continue;
                }
                // keepalived reads the instance name unchecked.
                let Some(v) = cx.arg(n, i - 2) else { return };
                d.instance = Some(v.text.clone());
                continue;
            }
            let Some(v) = value else {
                cx.warn(w.loc, format!("no value for 'lvs_sync_daemon {option}'"))
                    .fallback(if option == "id" {
                        "using the VRID"
                    } else {
                        "ignoring it"
                    });
                continue;
            };
            match option {
                "id" => d.id = cx.int_word(n, v, 0u8, 255).or(d.id),
                "maxlen" => d.maxlen = cx.int_word(n, v, 1u16, 65_535 - 20 - 8).or(d.maxlen),
                "port" => d.port = cx.int_word(n, v, 1u16, u16::MAX).or(d.port),
                "ttl" => d.ttl = cx.int_word(n, v, 1u8, 255).or(d.ttl),
                _ => match v.text.parse::<IpAddr>() {
                    Ok(ip) if ip.is_multicast() => d.group = Some(ip),
                    Ok(_) => {
                        cx.warn(
                            v.loc,
                            format!("lvs_sync_daemon group '{}' is not multicast", v.text),
                        )
                        .fallback("ignoring it");
                    }
                    Err(_) => {
                        cx.warn(v.loc, format!("invalid lvs_sync_daemon group '{}'", v.text))
                            .fallback("ignoring it");
                    }
                },
            }
            continue;
        }
        // Backward compatibility: `IF INSTANCE [SYNCID]`.
        if i == 2 {
            d.instance = Some(w.text.clone());
        } else if i == 3 {
            if let Some(id) = cx.int_word(n, w, 0u8, 255) {
                cx.warn(w.loc, "bare lvs_sync_daemon sync id is deprecated")
                    .expected(format!("'id {}'", w.text));
                d.id = Some(id);
            }
        } else {
            cx.warn(
                w.loc,
                format!("unknown option '{}' for 'lvs_sync_daemon'", w.text),
            )
            .expected("inst, id, maxlen, port, ttl or group")
            .fallback("ignoring it");
        }
        i += 1;
    }
    g.lvs_sync_daemon = Some(d);
}
