//! The kernel's IPVS table as people read it: rows like `ipvsadm -Ln` (one per service,
//! one per real server), for `ha ipvs` (no daemon needed) and `ha status`.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::config::model::lvs::forwarding::{Csum, Forwarding, TunnelType};
use crate::config::model::lvs::virtual_server::Granularity;
use crate::lb::state::bracketed;
use crate::lb::{KernelView, ServiceParams};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelService {
    /// `TCP [192.0.2.10]:80`, `FWM 7 inet`.
    pub service: String,
    pub scheduler: String,
    pub flags: Vec<String>,
    pub persistence_timeout: Option<u32>,
    pub persistence_granularity: Option<String>,
    pub persistence_engine: Option<String>,
    pub real_servers: Vec<KernelDest>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelDest {
    pub addr: String,
    /// `Masq`, `Route`, `Tunnel ipip|gue port N|gre [csum|remcsum]`, as ipvsadm names them.
    pub forwarding: String,
    pub weight: u32,
    pub uthreshold: u32,
    pub lthreshold: u32,
    pub active: u32,
    pub inactive: u32,
    /// XDP: this real server's slots in the service's Maglev table, and its traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<u32>,
    #[serde(default)]
    pub packets: u64,
    #[serde(default)]
    pub bytes: u64,
}

/// The table's rows, services sorted by key and real servers by address.
pub fn rows(view: &KernelView) -> Vec<KernelService> {
    view.table
        .services
        .iter()
        .map(|(key, svc)| {
            let p = &svc.params;
            KernelService {
                service: key.to_string(),
                scheduler: match view.maglev_size {
                    Some(m) => format!("maglev {m}"),
                    None => p.scheduler.name().to_string(),
                },
                flags: sched_flags(p).into_iter().map(str::to_string).collect(),
                persistence_timeout: p.persistence_timeout,
                persistence_granularity: p.persistence_granularity.map(|g| match g {
                    Granularity::V4(m) => m.to_string(),
                    Granularity::V6(l) => l.to_string(),
                }),
                persistence_engine: p.persistence_engine.clone(),
                real_servers: svc
                    .dests
                    .iter()
                    .map(|(addr, d)| {
                        let (active, inactive) =
                            view.conns.get(&(*key, *addr)).copied().unwrap_or((0, 0));
                        let (packets, bytes) =
                            view.traffic.get(&(*key, *addr)).copied().unwrap_or((0, 0));
                        KernelDest {
                            addr: bracketed(*addr),
                            forwarding: forwarding(&d.forwarding),
                            weight: d.weight,
                            uthreshold: d.uthreshold,
                            lthreshold: d.lthreshold,
                            active,
                            inactive,
                            slots: view.slots.get(&(*key, *addr)).copied(),
                            packets,
                            bytes,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

pub fn render(rows: &[KernelService], timeouts: Option<[u32; 3]>) -> String {
    let mut out = String::new();
    if let Some(t) = timeouts {
        let _ = writeln!(out, "timeouts: tcp {} tcpfin {} udp {}", t[0], t[1], t[2]);
    }
    for s in rows {
        let _ = write!(out, "{} {}", s.service, s.scheduler);
        if !s.flags.is_empty() {
            let _ = write!(out, " ({})", s.flags.join(","));
        }
        if let Some(t) = s.persistence_timeout {
            let _ = write!(out, " persistent {t}");
        }
        if let Some(g) = &s.persistence_granularity {
            let _ = write!(out, " mask {g}");
        }
        if let Some(pe) = &s.persistence_engine {
            let _ = write!(out, " pe {pe}");
        }
        out.push('\n');
        for d in &s.real_servers {
            match d.slots {
                Some(slots) => write!(
                    out,
                    "  -> {} {} weight {} slots {} packets {} bytes {}",
                    d.addr, d.forwarding, d.weight, slots, d.packets, d.bytes
                ),
                None => write!(
                    out,
                    "  -> {} {} weight {} active {} inactive {}",
                    d.addr, d.forwarding, d.weight, d.active, d.inactive
                ),
            }
            .ok();
            if d.uthreshold != 0 || d.lthreshold != 0 {
                let _ = write!(
                    out,
                    " uthreshold {} lthreshold {}",
                    d.uthreshold, d.lthreshold
                );
            }
            out.push('\n');
        }
    }
    out
}

fn sched_flags(p: &ServiceParams) -> Vec<&'static str> {
    let f = &p.flags;
    [
        (f.ops, "ops"),
        (f.flag_1, "flag-1"),
        (f.flag_2, "flag-2"),
        (f.flag_3, "flag-3"),
        (f.sh_fallback, "sh-fallback"),
        (f.sh_port, "sh-port"),
        (f.mh_fallback, "mh-fallback"),
        (f.mh_port, "mh-port"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| n)
    .collect()
}

fn forwarding(f: &Forwarding) -> String {
    match f {
        Forwarding::Nat => "Masq".into(),
        Forwarding::Dr => "Route".into(),
        Forwarding::Tun(t) => {
            let kind = match t.kind {
                TunnelType::Ipip => "ipip".to_string(),
                TunnelType::Gue { port } => format!("gue port {port}"),
                TunnelType::Gre => "gre".into(),
            };
            let csum = match t.csum {
                Csum::Nocsum => "",
                Csum::Csum => " csum",
                Csum::Remcsum => " remcsum",
            };
            format!("Tunnel {kind}{csum}")
        }
    }
}
