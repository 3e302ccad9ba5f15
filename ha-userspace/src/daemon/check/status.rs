//! What `ha status` and the SIGUSR1 dump show of the checkers and the load balancer.

use serde::{Deserialize, Serialize};

use super::model::Exec;
use crate::check::core::{CheckRef, Core};
use crate::time::MonoTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VsStatus {
    /// `[ip]:port`, `FWM n` or `[group]`.
    pub name: String,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: bool,
    /// The sum of the live real servers' weights.
    pub live_weight: i64,
    /// The sorry server serves (quorum lost).
    pub sorry_active: bool,
    pub real_servers: Vec<RsStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsStatus {
    pub name: String,
    pub alive: bool,
    /// The configured weight.
    pub weight: u32,
    /// The weight in the load balancer, `None` when not in it.
    pub lb_weight: Option<u32>,
    pub checkers: Vec<CheckerStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckerStatus {
    /// `TCP_CHECK`, `HTTP_GET`…
    pub kind: String,
    /// `[ip]:port`, the script, the track file or the BFD instance.
    pub target: String,
    /// `up`, `down`, `retrying N`, `waiting for BFD`, `value N`.
    pub state: String,
    /// The last result's reason.
    #[serde(default)]
    pub last: Option<String>,
    /// Milliseconds since the last result.
    #[serde(default)]
    pub last_ms_ago: Option<u64>,
    /// How long the last probe took, in microseconds.
    #[serde(default)]
    pub took_us: Option<u64>,
    /// Real servers sharing this probe (identical checkers run once).
    #[serde(default)]
    pub shared_by: usize,
}

/// The checker engine's own figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckerStats {
    /// Distinct probes (after identical checkers were merged).
    pub probes: usize,
    /// Checkers as configured.
    pub checkers: usize,
    pub probes_run: u64,
    /// How late probes started against their schedule, over the last ones run (µs).
    pub lateness_p50_us: u64,
    pub lateness_p99_us: u64,
    pub lateness_max_us: u64,
    /// The backend (`log` today) and the changes it applied.
    pub backend: String,
    pub lb_changes: u64,
    /// The backend's own table (IPVS: the kernel's), read at the time of the status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Vec<crate::daemon::lb::ipvs::show::KernelService>>,
    /// What the kernel's table lacks or has extra against what ha applied, as the changes
    /// that would fix it; empty when in sync.
    pub kernel_differences: Vec<String>,
}

pub fn snapshot(core: &Core, execs: &[Exec], now: MonoTime) -> Vec<VsStatus> {
    core.pools()
        .iter()
        .enumerate()
        .map(|(p, pool)| {
            let members = core.members(p);
            VsStatus {
                name: pool.def.name.clone(),
                quorum: pool.def.quorum,
                hysteresis: pool.def.hysteresis,
                quorum_up: pool.quorum_up,
                live_weight: pool.live_weight(),
                sorry_active: pool.sorry_active(),
                real_servers: pool
                    .servers
                    .iter()
                    .zip(members.real_servers)
                    .map(|(s, lb_weight)| RsStatus {
                        name: s.name.clone(),
                        alive: s.alive,
                        weight: s.weight,
                        lb_weight,
                        checkers: s
                            .checks
                            .iter()
                            .map(|c| checker(core, execs, c, now))
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn checker(core: &Core, execs: &[Exec], c: &CheckRef, now: MonoTime) -> CheckerStatus {
    match c {
        CheckRef::Probe(id) => {
            let slot = &core.probes()[*id];
            let state = if !slot.fsm.is_up {
                "down".to_string()
            } else if slot.fsm.retrying() > 0 {
                format!("retrying {}", slot.fsm.retrying())
            } else {
                "up".to_string()
            };
            CheckerStatus {
                kind: slot.def.kind.to_string(),
                target: execs.get(*id).map(|e| e.target()).unwrap_or_default(),
                state,
                last: slot.last.as_ref().map(|(r, _)| r.reason.clone()),
                last_ms_ago: slot
                    .last
                    .as_ref()
                    .map(|(_, at)| now.saturating_since(*at).0 / 1000),
                took_us: slot.last.as_ref().map(|(r, _)| r.took.0),
                shared_by: slot.users.len(),
            }
        }
        CheckRef::File { name, .. } => CheckerStatus {
            kind: "FILE_CHECK".into(),
            target: name.clone(),
            state: format!("value {}", core.file(name).unwrap_or(0)),
            last: None,
            last_ms_ago: None,
            took_us: None,
            shared_by: 1,
        },
        CheckRef::Bfd(name) => CheckerStatus {
            kind: "BFD_CHECK".into(),
            target: name.clone(),
            state: "down (BFD session not running: BFD is not implemented yet)".into(),
            last: None,
            last_ms_ago: None,
            took_us: None,
            shared_by: 1,
        },
    }
}

/// The table `ha status` prints under the VRRP instances.
pub fn render(vss: &[VsStatus]) -> String {
    let mut out = String::new();
    for vs in vss {
        out.push_str(&format!(
            "\nVIRTUAL SERVER {}  quorum {}+/-{} {} (live weight {}){}\n",
            vs.name,
            vs.quorum,
            vs.hysteresis,
            if vs.quorum_up { "UP" } else { "DOWN" },
            vs.live_weight,
            if vs.sorry_active {
                ", sorry server serving"
            } else {
                ""
            }
        ));
        for rs in &vs.real_servers {
            let lb = match rs.lb_weight {
                Some(w) => format!("weight {w}"),
                None => "not in pool".into(),
            };
            out.push_str(&format!(
                "  {:<28} {:<5} {}\n",
                rs.name,
                if rs.alive { "UP" } else { "DOWN" },
                lb
            ));
            for c in &rs.checkers {
                out.push_str(&format!(
                    "    {:<11} {:<28} {:<16} {}\n",
                    c.kind,
                    c.target,
                    c.state,
                    c.last.as_deref().unwrap_or("-")
                ));
            }
        }
    }
    out
}
