//! From the plan's `virtual_server` blocks to what the checker core decides on
//! ([`PoolDef`]s) and what this module executes for each probe ([`Exec`]). The probe key
//! is the whole of what a probe does and when: equal keys are one probe (keepalived would
//! run each copy).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::probe::{ProbeKind, ProbeSpec};
use crate::check::{CheckDef, PoolDef, PoolSettings, ProbeDef, ProbeKey, ServerDef, Timing};
use crate::config::model::lvs::checker::{Checker, CheckerKind, ConnOpts};
use crate::config::model::lvs::real_server::RealServer;
use crate::config::model::lvs::{SslConfig, VirtualServer};
use crate::config::model::script::Script;
use crate::config::model::vrrp::TrackFile;
use crate::daemon::plan::LbPlan;
use crate::daemon::watch::scripts::RunAs;
use crate::lb::services::{expand, ServiceDef};
use crate::system::user_ids;
use crate::units::Micros;

/// What runs for one probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Exec {
    Net(ProbeSpec),
    /// `MISC_CHECK`: the script, its timeout and user.
    Misc {
        script: Script,
        #[serde(skip)]
        timeout: Duration,
        user: Option<(u32, u32)>,
        dynamic: bool,
    },
}

impl Exec {
    /// Where it goes, for status: `[ip]:port` or the script.
    pub fn target(&self) -> String {
        match self {
            Exec::Net(p) => crate::lb::state::bracketed(p.conn.connect_to),
            Exec::Misc { script, .. } => script.args.join(" "),
        }
    }
}

/// Everything the checker thread needs from a plan: the checks of every block, the probes
/// they need by key, the services of the load balancer, and the few global settings. Built
/// on the caller's thread, so the plan is freed there and its memory given back at once.
pub struct Model {
    pub pools: Vec<PoolDef>,
    pub execs: HashMap<ProbeKey, Exec>,
    pub services: Vec<ServiceDef>,
    pub track_files: BTreeMap<String, TrackFile>,
    pub ssl: Option<SslConfig>,
    pub real_servers: usize,
    /// Probes whose every failure is logged (`log_all_failures`, per checker or global).
    pub loud: HashSet<ProbeKey>,
    pub settings: crate::lb::LbSettings,
}

pub fn build(plan: LbPlan, default_user: RunAs) -> Model {
    let (pools, execs, loud) = pools(&plan, default_user);
    Model {
        services: expand(&plan.virtual_servers, &plan.groups),
        real_servers: plan.real_servers(),
        pools,
        execs,
        loud,
        track_files: plan.track_files,
        ssl: plan.ssl,
        settings: plan.settings,
    }
}

type Pools = (Vec<PoolDef>, HashMap<ProbeKey, Exec>, HashSet<ProbeKey>);

fn pools(plan: &LbPlan, default_user: RunAs) -> Pools {
    let mut execs = HashMap::new();
    let mut loud = HashSet::new();
    let pools = plan
        .virtual_servers
        .iter()
        .map(|vs| PoolDef {
            settings: PoolSettings {
                name: vs.display(),
                id: format!("{:?} {:?} {}", vs.protocol, vs.family, vs.display()),
                quorum: vs.quorum,
                hysteresis: vs.hysteresis,
                has_sorry: vs.sorry_server.is_some(),
                sorry_inhibit: vs.sorry_server.as_ref().is_some_and(|s| s.inhibit),
                omega: vs.omega,
            },
            servers: vs
                .real_servers
                .iter()
                .map(|rs| ServerDef {
                    name: crate::lb::state::bracketed(rs.addr),
                    weight: rs.weight,
                    inhibit: rs.inhibit_on_failure,
                    checks: rs
                        .checkers
                        .iter()
                        .filter_map(|c| {
                            let def = check(plan, vs, rs, c, default_user, &mut execs)?;
                            let log_all = c.common.as_ref().is_some_and(|c| c.log_all_failures);
                            if let (CheckDef::Probe(ProbeDef { key, .. }), true) =
                                (&def, log_all || plan.log_all_failures)
                            {
                                loud.insert(*key);
                            }
                            Some(def)
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    (pools, execs, loud)
}

/// keepalived's names of the checker types.
pub fn kind_name(k: &CheckerKind) -> &'static str {
    match k {
        CheckerKind::TcpCheck => "TCP_CHECK",
        CheckerKind::HttpGet(_) => "HTTP_GET",
        CheckerKind::SslGet(_) => "SSL_GET",
        CheckerKind::SmtpCheck(_) => "SMTP_CHECK",
        CheckerKind::DnsCheck(_) => "DNS_CHECK",
        CheckerKind::MiscCheck(_) => "MISC_CHECK",
        CheckerKind::UdpCheck(_) => "UDP_CHECK",
        CheckerKind::PingCheck => "PING_CHECK",
        CheckerKind::FileCheck(_) => "FILE_CHECK",
        CheckerKind::BfdCheck(_) => "BFD_CHECK",
    }
}

fn check(
    plan: &LbPlan,
    vs: &VirtualServer,
    rs: &RealServer,
    c: &Checker,
    default_user: RunAs,
    execs: &mut HashMap<ProbeKey, Exec>,
) -> Option<CheckDef> {
    let kind = kind_name(&c.kind);
    let exec = match &c.kind {
        CheckerKind::FileCheck(f) => {
            let tf = plan.track_files.get(&f.track_file);
            return Some(CheckDef::File {
                name: f.track_file.clone(),
                weight: f.weight.or(tf.map(|t| t.weight)).unwrap_or(1),
                reverse: if f.weight.is_some() {
                    f.reverse
                } else {
                    tf.is_some_and(|t| t.weight_reverse)
                },
            });
        }
        CheckerKind::BfdCheck(b) => {
            return Some(CheckDef::Bfd {
                name: b.name.clone(),
            })
        }
        CheckerKind::MiscCheck(m) => Exec::Misc {
            script: {
                let script = m.misc_path.clone()?;
                let prog = script.program()?;
                // keepalived drops the checker at start ("Disabling misc script … since
                // not found/accessible"): the real server is judged by its other checkers.
                if !crate::config::model::script::runnable(prog, &executable) {
                    tracing::warn!(
                        "disabling MISC_CHECK '{prog}' of {}: not found or not executable",
                        crate::lb::state::bracketed(rs.addr)
                    );
                    return None;
                }
                script
            },
            timeout: Duration::from_micros(m.effective_timeout.0.max(1)),
            user: match &m.user {
                Some(u) => user_ids(u),
                None => default_user,
            },
            dynamic: m.misc_dynamic,
        },
        net => {
            let common = c.common.as_ref()?;
            let mut conn: ConnOpts = common.conn.clone()?;
            if conn.connect_to.port() == 0 {
                // A real server written without a port gets the virtual server's; its
                // checkers go there too.
                conn.connect_to.set_port(rs.addr.port());
            }
            let kind = match net {
                CheckerKind::TcpCheck => ProbeKind::Tcp,
                CheckerKind::HttpGet(h) | CheckerKind::SslGet(h) => ProbeKind::Http {
                    tls: matches!(net, CheckerKind::SslGet(_)),
                    host: h
                        .virtualhost
                        .clone()
                        .or_else(|| rs.virtualhost.clone())
                        .or_else(|| vs.virtualhost.clone()),
                    check: Arc::new((**h).clone()),
                },
                CheckerKind::SmtpCheck(s) => ProbeKind::Smtp {
                    helo_name: s.helo_name.clone(),
                },
                CheckerKind::DnsCheck(d) => ProbeKind::Dns(Arc::new((**d).clone())),
                CheckerKind::UdpCheck(u) => ProbeKind::Udp(Arc::new((**u).clone())),
                _ => ProbeKind::Ping,
            };
            Exec::Net(ProbeSpec { kind, conn })
        }
    };
    let (timing, alpha) = match &c.common {
        Some(common) => (
            Timing {
                delay_loop: common.delay_loop,
                delay_before_retry: common.delay_before_retry,
                retry: common.retry,
                warmup: common.warmup,
            },
            common.alpha,
        ),
        None => (
            Timing {
                delay_loop: rs.delay_loop,
                delay_before_retry: Micros::from_secs(1),
                retry: 0,
                warmup: Micros(0),
            },
            false,
        ),
    };
    let dynamic = matches!(&exec, Exec::Misc { dynamic: true, .. });
    // What is probed, serialized once: its hash is the target; with the schedule after it,
    // the key.
    let mut description = serde_json::to_vec(&exec).unwrap_or_default();
    let target = ProbeKey::of(&description);
    let timeout_us = match &exec {
        Exec::Misc { timeout, .. } => timeout.as_micros(),
        Exec::Net(_) => 0,
    };
    let when = (
        timeout_us,
        timing.delay_loop.0,
        timing.delay_before_retry.0,
        timing.retry,
        timing.warmup.0,
        alpha,
    );
    description.extend(serde_json::to_vec(&when).unwrap_or_default());
    let key = ProbeKey::of(&description);
    execs.entry(key).or_insert(exec);
    Some(CheckDef::Probe(ProbeDef {
        key,
        target,
        kind,
        timing,
        alpha,
        dynamic,
    }))
}

fn executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::load_text;

    fn model(text: &str) -> Model {
        let loaded = load_text(text);
        let plan = crate::daemon::plan::plan(&loaded.config, &loaded.map).unwrap();
        build(plan.lb, None)
    }

    fn vs(port: u16, check: &str) -> String {
        format!(
            "virtual_server 192.0.2.10 {port} {{\n lb_kind DR\n protocol TCP\n \
             real_server 198.51.100.1 {port} {{\n {check}\n }}\n}}\n"
        )
    }

    #[test]
    fn the_same_probe_under_several_virtual_servers_is_one_probe() {
        let check = "TCP_CHECK {\n connect_port 80\n connect_timeout 2\n }";
        let m = model(&format!("{}{}", vs(80, check), vs(81, check)));
        assert_eq!(m.execs.len(), 1);
        let keys: Vec<_> = m
            .pools
            .iter()
            .map(|p| match &p.servers[0].checks[0] {
                CheckDef::Probe(ProbeDef { key, .. }) => *key,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(keys[0], keys[1]);
    }

    #[test]
    fn probes_that_differ_in_target_timing_or_start_state_are_not_merged() {
        let a = "TCP_CHECK {\n connect_port 80\n }";
        for b in [
            "TCP_CHECK {\n connect_port 81\n }",
            "TCP_CHECK {\n connect_port 80\n delay_loop 3\n }",
            "TCP_CHECK {\n connect_port 80\n alpha\n }",
            "TCP_CHECK {\n connect_port 80\n retry 5\n }",
        ] {
            let m = model(&format!("{}{}", vs(80, a), vs(81, b)));
            assert_eq!(m.execs.len(), 2, "{b}");
        }
    }

    #[test]
    fn log_all_failures_marks_the_probe_per_checker_or_globally() {
        let quiet = model(&vs(80, "TCP_CHECK {\n }"));
        assert!(quiet.loud.is_empty());
        let one = model(&vs(80, "TCP_CHECK {\n log_all_failures\n }"));
        assert_eq!(one.loud.len(), 1);
        let global = model(&format!(
            "global_defs {{\n checker_log_all_failures\n}}\n{}",
            vs(80, "TCP_CHECK {\n }")
        ));
        assert_eq!(global.loud.len(), 1);
    }

    #[test]
    fn a_checker_of_a_real_server_without_port_goes_to_the_virtual_servers_port() {
        let m = model(
            "virtual_server 192.0.2.10 8080 {\n lb_kind DR\n protocol TCP\n \
             real_server 198.51.100.1 {\n TCP_CHECK {\n }\n }\n}\n",
        );
        let Some(Exec::Net(spec)) = m.execs.values().next() else {
            panic!("no probe");
        };
        assert_eq!(spec.conn.connect_to.to_string(), "198.51.100.1:8080");
    }
}
