//! `ha status` as Prometheus metrics (OpenMetrics text, through prometheus-client). Built
//! afresh from one status snapshot per scrape: every figure is the daemon's own counter or
//! state, nothing is sampled here. Names begin with `ha_`; the README lists them.

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::daemon::status::Status;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Instance {
    instance: String,
    interface: String,
    vrid: u32,
    family: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceState {
    instance: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceReason {
    instance: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct XdpCounter {
    interface: String,
    counter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Verdict {
    verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VirtualServer {
    virtual_server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RealServer {
    virtual_server: String,
    real_server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Checker {
    virtual_server: String,
    real_server: String,
    checker: String,
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LbReal {
    service: String,
    real_server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Session {
    session: String,
    neighbor: String,
}

type Counters<L> = Family<L, Counter>;
type Gauges<L> = Family<L, Gauge>;
type FloatGauges<L> = Family<L, Gauge<f64, AtomicU64>>;

/// One family registered under `ha_<name>`.
fn family<L, M>(reg: &mut Registry, name: &str, help: &str) -> Family<L, M>
where
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
    M: prometheus_client::metrics::TypedMetric
        + prometheus_client::encoding::EncodeMetric
        + Default
        + Send
        + Sync
        + std::fmt::Debug
        + 'static,
{
    let f = Family::<L, M>::default();
    reg.register(name, help, f.clone());
    f
}

fn gauge(reg: &mut Registry, name: &str, help: &str, v: i64) {
    let g = Gauge::<i64>::default();
    g.set(v);
    reg.register(name, help, g);
}

fn counter(reg: &mut Registry, name: &str, help: &str, v: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(v);
    reg.register(name, help, c);
}

const STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];

fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

/// The metrics of `s`, as OpenMetrics text.
pub fn render(s: &Status) -> String {
    let mut reg = Registry::with_prefix("ha");
    counter(
        &mut reg,
        "config_reloads",
        "Reloads applied since start",
        s.reloads,
    );
    gauge(
        &mut reg,
        "config_loaded_timestamp_seconds",
        "When the running config was loaded (Unix time)",
        s.loaded_at as i64,
    );
    vrrp(&mut reg, s);
    xdp(&mut reg, s);
    checkers(&mut reg, s);
    bfd(&mut reg, s);
    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        let _ = writeln!(out, "# the metrics could not be encoded");
    }
    out
}

/// Per instance, the RFC 6527 VRRPv3 MIB's state and statistics.
fn vrrp(reg: &mut Registry, s: &Status) {
    let state: Gauges<InstanceState> = family(
        reg,
        "vrrp_state",
        "1 for the instance's current state (INIT, BACKUP, MASTER, FAULT), 0 for the others",
    );
    let prio: Gauges<Instance> = family(reg, "vrrp_priority", "Configured priority");
    let eff: Gauges<Instance> = family(
        reg,
        "vrrp_effective_priority",
        "Priority after tracking, as advertised",
    );
    let became: Counters<Instance> = family(
        reg,
        "vrrp_master_transitions",
        "Transitions to MASTER (vrrpv3StatisticsMasterTransitions)",
    );
    let released: Counters<Instance> =
        family(reg, "vrrp_master_releases", "Transitions out of MASTER");
    let sent: Counters<Instance> = family(reg, "vrrp_adverts_sent", "Adverts sent");
    let rcvd: Counters<Instance> = family(
        reg,
        "vrrp_adverts_received",
        "Valid adverts received, absorbed by XDP included (vrrpv3StatisticsRcvdAdvertisements)",
    );
    let absorbed: Counters<Instance> = family(
        reg,
        "vrrp_adverts_absorbed",
        "Adverts of the followed master the XDP program absorbed without waking the daemon",
    );
    let zero_sent: Counters<Instance> = family(
        reg,
        "vrrp_priority_zero_sent",
        "Priority-0 adverts sent (vrrpv3StatisticsSentPriZeroPackets)",
    );
    let zero_rcvd: Counters<Instance> = family(
        reg,
        "vrrp_priority_zero_received",
        "Priority-0 adverts received (vrrpv3StatisticsRcvdPriZeroPackets)",
    );
    let garp: Counters<Instance> = family(
        reg,
        "vrrp_gratuitous_sent",
        "Gratuitous ARPs and unsolicited NAs sent",
    );
    let errors: Counters<Instance> = family(reg, "vrrp_send_errors", "Adverts the socket refused");
    let dropped: Counters<InstanceReason> = family(
        reg,
        "vrrp_rx_dropped",
        "Received packets dropped by the RFC 5798 §7.1 checks, by reason",
    );
    let gap: FloatGauges<Instance> = family(
        reg,
        "vrrp_max_advert_gap_seconds",
        "Longest time between two adverts sent in a row as MASTER",
    );
    for i in &s.instances {
        let l = Instance {
            instance: i.name.clone(),
            interface: i.interface.clone(),
            vrid: u32::from(i.vrid.0),
            family: i.family.clone(),
        };
        for st in STATES {
            state
                .get_or_create(&InstanceState {
                    instance: i.name.clone(),
                    state: st.into(),
                })
                .set(i64::from(i.state == st));
        }
        let c = &i.counters;
        prio.get_or_create(&l).set(i64::from(i.priority.0));
        eff.get_or_create(&l).set(i64::from(i.effective_priority.0));
        became.get_or_create(&l).inc_by(c.became_master);
        released.get_or_create(&l).inc_by(c.released_master);
        sent.get_or_create(&l).inc_by(c.adverts_sent);
        rcvd.get_or_create(&l)
            .inc_by(c.adverts_received + c.xdp_absorbed);
        absorbed.get_or_create(&l).inc_by(c.xdp_absorbed);
        zero_sent.get_or_create(&l).inc_by(c.priority_zero_sent);
        zero_rcvd.get_or_create(&l).inc_by(c.priority_zero_received);
        garp.get_or_create(&l).inc_by(c.gratuitous_sent);
        errors.get_or_create(&l).inc_by(c.send_errors);
        gap.get_or_create(&l).set(secs(c.max_advert_gap_us));
        for (reason, n) in &c.rx_dropped {
            dropped
                .get_or_create(&InstanceReason {
                    instance: i.name.clone(),
                    reason: reason.clone(),
                })
                .inc_by(*n);
        }
    }
}

/// The XDP program's per-interface counters and the load balancer's verdicts.
fn xdp(reg: &mut Registry, s: &Status) {
    let Some(x) = &s.xdp else { return };
    let frames: Counters<XdpCounter> = family(
        reg,
        "xdp_frames",
        "Frames the XDP program handled on an interface, by named counter",
    );
    for i in &x.interfaces {
        for (name, n) in &i.counters {
            frames
                .get_or_create(&XdpCounter {
                    interface: i.name.clone(),
                    counter: name.clone(),
                })
                .inc_by(*n);
        }
    }
    if let Some(lb) = &x.lb {
        let verdicts: Counters<Verdict> = family(
            reg,
            "lb_xdp_verdicts",
            "What the XDP load balancer did with the frames it took",
        );
        for (name, n) in lb {
            verdicts
                .get_or_create(&Verdict {
                    verdict: name.clone(),
                })
                .inc_by(*n);
        }
    }
}

/// Virtual servers, real servers and their checkers; the load balancer's table.
fn checkers(reg: &mut Registry, s: &Status) {
    if s.virtual_servers.is_empty() && s.checkers.is_none() {
        return;
    }
    let quorum: Gauges<VirtualServer> = family(
        reg,
        "virtual_server_quorum_up",
        "1 while the virtual server has its quorum",
    );
    let live: Gauges<VirtualServer> = family(
        reg,
        "virtual_server_live_weight",
        "Sum of the live real servers' weights",
    );
    let sorry: Gauges<VirtualServer> = family(
        reg,
        "virtual_server_sorry_active",
        "1 while the sorry server serves",
    );
    let up: Gauges<RealServer> = family(
        reg,
        "real_server_up",
        "1 while every checker of the real server passes",
    );
    let weight: Gauges<RealServer> = family(reg, "real_server_weight", "Configured weight");
    let lb_weight: Gauges<RealServer> = family(
        reg,
        "real_server_lb_weight",
        "Weight in the load balancer (absent when not in it)",
    );
    let check_up: Gauges<Checker> = family(reg, "checker_up", "1 while the checker passes");
    let took: FloatGauges<Checker> = family(
        reg,
        "checker_duration_seconds",
        "How long the checker's last probe took",
    );
    for v in &s.virtual_servers {
        let vl = VirtualServer {
            virtual_server: v.name.clone(),
        };
        quorum.get_or_create(&vl).set(i64::from(v.quorum_up));
        live.get_or_create(&vl).set(v.live_weight);
        sorry.get_or_create(&vl).set(i64::from(v.sorry_active));
        for r in &v.real_servers {
            let rl = RealServer {
                virtual_server: v.name.clone(),
                real_server: r.name.clone(),
            };
            up.get_or_create(&rl).set(i64::from(r.alive));
            weight.get_or_create(&rl).set(i64::from(r.weight));
            if let Some(w) = r.lb_weight {
                lb_weight.get_or_create(&rl).set(i64::from(w));
            }
            for c in &r.checkers {
                let cl = Checker {
                    virtual_server: v.name.clone(),
                    real_server: r.name.clone(),
                    checker: c.kind.clone(),
                    target: c.target.clone(),
                };
                check_up.get_or_create(&cl).set(i64::from(c.state == "up"));
                if let Some(t) = c.took_us {
                    took.get_or_create(&cl).set(secs(t));
                }
            }
        }
    }
    let Some(c) = &s.checkers else { return };
    counter(reg, "checker_probes", "Probes run", c.probes_run);
    counter(
        reg,
        "lb_changes",
        "Changes the load-balancer backend applied",
        c.lb_changes,
    );
    let Some(kernel) = &c.kernel else { return };
    let packets: Counters<LbReal> = family(
        reg,
        "lb_real_server_packets",
        "Packets the XDP load balancer sent to the real server",
    );
    let bytes: Counters<LbReal> = family(
        reg,
        "lb_real_server_bytes",
        "Bytes the XDP load balancer sent to the real server",
    );
    let kweight: Gauges<LbReal> = family(
        reg,
        "lb_real_server_kernel_weight",
        "The real server's weight in the kernel's table (IPVS or XDP)",
    );
    for svc in kernel {
        for d in &svc.real_servers {
            let l = LbReal {
                service: svc.service.clone(),
                real_server: d.addr.clone(),
            };
            kweight.get_or_create(&l).set(i64::from(d.weight));
            if d.slots.is_some() {
                packets.get_or_create(&l).inc_by(d.packets);
                bytes.get_or_create(&l).inc_by(d.bytes);
            }
        }
    }
}

/// BFD sessions and the transmit thread.
fn bfd(reg: &mut Registry, s: &Status) {
    let Some(b) = &s.bfd else { return };
    let up: Gauges<Session> = family(reg, "bfd_session_up", "1 while the BFD session is Up");
    let sent: Counters<Session> = family(reg, "bfd_packets_sent", "Control packets sent");
    let rcvd: Counters<Session> = family(
        reg,
        "bfd_packets_received",
        "Control packets received, absorbed by XDP included",
    );
    let absorbed: Counters<Session> = family(
        reg,
        "bfd_packets_absorbed",
        "Control packets the XDP program absorbed without waking the BFD thread",
    );
    let downs: Counters<Session> = family(reg, "bfd_session_downs", "Up → Down transitions");
    let detect: FloatGauges<Session> = family(
        reg,
        "bfd_detection_time_seconds",
        "The session's Detection Time",
    );
    for x in &b.sessions {
        let l = Session {
            session: x.name.clone(),
            neighbor: x.neighbor.to_string(),
        };
        up.get_or_create(&l).set(i64::from(x.state == "Up"));
        sent.get_or_create(&l).inc_by(x.stats.tx);
        rcvd.get_or_create(&l)
            .inc_by(x.stats.rx + x.kernel_absorbed);
        absorbed.get_or_create(&l).inc_by(x.kernel_absorbed);
        downs.get_or_create(&l).inc_by(x.stats.down_transitions);
        if let Some(d) = x.detection_time_us {
            detect.get_or_create(&l).set(secs(d));
        }
    }
    let l = &b.tx_lateness;
    if let Some(mean) = l.sum_us.checked_div(l.count) {
        let g = Gauge::<f64, AtomicU64>::default();
        g.set(secs(mean));
        reg.register(
            "bfd_transmit_lateness_mean_seconds",
            "Mean lateness of the BFD thread's periodic packets (its jitter)",
            g,
        );
        let g = Gauge::<f64, AtomicU64>::default();
        g.set(secs(l.max_us));
        reg.register(
            "bfd_transmit_lateness_max_seconds",
            "Largest lateness of the BFD thread's periodic packets",
            g,
        );
    }
}
