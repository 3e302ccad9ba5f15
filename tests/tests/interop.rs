//! Interoperability with keepalived 2.2.7: an `ha` node and a keepalived node share one
//! virtual router. For VRRPv2 and v3, IPv4 and IPv6, multicast and unicast, PASS and AH
//! authentication, in both roles (ha MASTER + keepalived BACKUP, and the reverse), each case
//! proves the election, a failover after the master's link is cut, preemption when it
//! returns, and the priority-0 handover of a graceful stop. A master's VIP list changed on
//! one side is judged by both kinds of backup the same way.
//!
//! Skipped with a visible message when keepalived is absent (CI installs it).

use std::net::IpAddr;
use std::time::Duration;

use ha::daemon::control::Request;
use ha::family::Family;
use ha_tests::daemon::{config, Daemon, InstanceSpec, Kind};
use ha_tests::lab::{Lab, VIP4, VIP4_B, VIP6};
use ha_tests::{can_run_with_keepalived, wait_until};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    None,
    Pass,
    Ah,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    version: u8,
    family: Family,
    unicast: bool,
    auth: Auth,
    vmac: bool,
}

/// Long enough for VRRPv2's one-second adverts (Master_Down_Interval ≈ 3.6 s) several times.
const WAIT: Duration = Duration::from_secs(20);

fn spec(c: Case, lab: &Lab, me: usize, prio: u8) -> InstanceSpec {
    let mut s = InstanceSpec::new("VI_1", 51, prio);
    s.version = c.version;
    s.advert_int = if c.version == 2 { "1" } else { "0.1" }.into();
    if c.family == Family::V6 {
        s.vips = vec![format!("{VIP6}/64")];
    }
    if c.unicast {
        let addr = |i: usize| match c.family {
            Family::V4 => IpAddr::V4(lab.nodes[i].ip4),
            Family::V6 => IpAddr::V6(lab.nodes[i].ip6),
        };
        s.unicast = Some((addr(me), vec![addr(1 - me)]));
    }
    if c.vmac {
        s.extra.push_str("    use_vmac\n");
    }
    match c.auth {
        Auth::None => {}
        Auth::Pass => s.auth_pass = Some("s3cret".into()),
        Auth::Ah => {
            s.extra =
                "    authentication {\n        auth_type AH\n        auth_pass s3cret\n    }\n"
                    .into()
        }
    }
    s
}

fn vip(c: Case) -> IpAddr {
    match c.family {
        Family::V4 => IpAddr::V4(VIP4),
        Family::V6 => IpAddr::V6(VIP6),
    }
}

fn holders_are(lab: &Lab, c: Case, want: &[&str], what: &str, logs: &[&Daemon]) {
    let ok = wait_until(WAIT, || lab.holders(vip(c)) == want);
    if !ok {
        let mut text = String::new();
        for d in logs {
            text.push_str(&format!(
                "\n--- {} on {} ---\n{}",
                d.kind.name(),
                d.node.name,
                d.log_text()
            ));
        }
        panic!(
            "{c:?} {what}: VIP on {:?}, expected {want:?}{text}",
            lab.holders(vip(c))
        );
    }
}

/// One case in one role: `high` runs on n1 with priority 200, the other on n2 with 100.
fn run_case(c: Case, high: Kind) {
    let lab = Lab::new("iop", 2, false).unwrap();
    let low = match high {
        Kind::Ha => Kind::Keepalived,
        Kind::Keepalived => Kind::Ha,
    };
    let mut h = Daemon::start(
        &lab,
        &lab.nodes[0],
        high,
        &config("", &[spec(c, &lab, 0, 200)]),
    );
    let l = Daemon::start(
        &lab,
        &lab.nodes[1],
        low,
        &config("", &[spec(c, &lab, 1, 100)]),
    );
    // Election: the higher priority is MASTER, wherever it runs.
    holders_are(&lab, c, &["n1"], "election", &[&h, &l]);
    let ha = if high == Kind::Ha { &h } else { &l };
    let ha_state = if high == Kind::Ha { "MASTER" } else { "BACKUP" };
    assert!(
        wait_until(WAIT, || ha.state("VI_1").as_deref() == Some(ha_state)),
        "{c:?}: ha is {:?}, expected {ha_state}",
        ha.state("VI_1")
    );
    let i = if high == Kind::Keepalived {
        // A backup is silent: only as backup does ha hear the other side.
        let i = ha.wait_following("VI_1", 200);
        assert!(
            i.counters.adverts_received > 0,
            "{c:?}: ha heard keepalived"
        );
        i
    } else {
        ha.instance("VI_1").unwrap()
    };
    assert!(
        i.counters.rx_dropped.is_empty(),
        "{c:?}: ha dropped keepalived's adverts: {:?}",
        i.counters.rx_dropped
    );

    // Hard failure: the master's link is cut, the backup takes over.
    lab.cut(&lab.nodes[0]).unwrap();
    holders_are(&lab, c, &["n2"], "failover after link cut", &[&h, &l]);
    // Return: the higher priority preempts.
    lab.restore(&lab.nodes[0]).unwrap();
    holders_are(&lab, c, &["n1"], "preemption on return", &[&h, &l]);

    // Graceful stop: priority 0, the backup takes over after Skew_Time.
    let ha_low_before = (high == Kind::Keepalived).then(|| {
        let i = l.instance("VI_1").unwrap();
        i.counters.priority_zero_received
    });
    h.stop();
    holders_are(&lab, c, &["n2"], "handover on graceful stop", &[&h, &l]);
    match ha_low_before {
        // ha is the backup: it saw keepalived's priority 0 and took over on it.
        Some(before) => {
            let i = l.instance("VI_1").unwrap();
            assert_eq!(i.state, "MASTER");
            assert_eq!(i.counters.priority_zero_received, before + 1, "{c:?}");
            assert_eq!(i.last_transition.as_deref(), Some("MasterStopped"), "{c:?}");
        }
        // keepalived is the backup: it logs the priority-0 advert ha sent.
        None => {
            let ok = wait_until(WAIT, || {
                l.log_text()
                    .contains("Backup received priority 0 advertisement")
            });
            assert!(ok, "{c:?}: keepalived log:\n{}", l.log_text());
        }
    }
}

fn both_roles(name: &str, c: Case) {
    if !can_run_with_keepalived(name) {
        return;
    }
    run_case(c, Kind::Ha);
    run_case(c, Kind::Keepalived);
}

const fn case(version: u8, family: Family, unicast: bool, auth: Auth) -> Case {
    Case {
        version,
        family,
        unicast,
        auth,
        vmac: false,
    }
}

#[test]
fn v2_ipv4_multicast() {
    both_roles("v2_ipv4_multicast", case(2, Family::V4, false, Auth::None));
}

#[test]
fn v2_ipv4_multicast_pass() {
    both_roles(
        "v2_ipv4_multicast_pass",
        case(2, Family::V4, false, Auth::Pass),
    );
}

#[test]
fn v2_ipv4_multicast_ah() {
    both_roles("v2_ipv4_multicast_ah", case(2, Family::V4, false, Auth::Ah));
}

#[test]
fn v2_ipv4_unicast_pass() {
    both_roles(
        "v2_ipv4_unicast_pass",
        case(2, Family::V4, true, Auth::Pass),
    );
}

#[test]
fn v3_ipv4_multicast() {
    both_roles("v3_ipv4_multicast", case(3, Family::V4, false, Auth::None));
}

#[test]
fn v3_ipv4_unicast() {
    both_roles("v3_ipv4_unicast", case(3, Family::V4, true, Auth::None));
}

#[test]
fn v3_ipv6_multicast() {
    both_roles("v3_ipv6_multicast", case(3, Family::V6, false, Auth::None));
}

#[test]
fn v3_ipv6_unicast() {
    both_roles("v3_ipv6_unicast", case(3, Family::V6, true, Auth::None));
}

#[test]
fn v3_ipv4_multicast_use_vmac() {
    let mut c = case(3, Family::V4, false, Auth::None);
    c.vmac = true;
    both_roles("v3_ipv4_multicast_use_vmac", c);
}

/// Whether a BACKUP of `backup`'s kind takes over when the ha MASTER is reloaded with one
/// more VIP, so that its adverts list an address the backup's config lacks.
fn takes_over_on_a_changed_vip_list(backup: Kind, skip_check_adv_addr: bool) -> bool {
    let lab = Lab::new("vipl", 2, false).unwrap();
    let master = InstanceSpec::new("VI_1", 51, 200);
    let a = Daemon::start(
        &lab,
        &lab.nodes[0],
        Kind::Ha,
        &config("", std::slice::from_ref(&master)),
    );
    let mut low = InstanceSpec::new("VI_1", 51, 100);
    if skip_check_adv_addr {
        low.extra = "    skip_check_adv_addr\n".into();
    }
    let b = Daemon::start(&lab, &lab.nodes[1], backup, &config("", &[low]));
    let what = format!(
        "{} backup, skip_check_adv_addr {skip_check_adv_addr}",
        backup.name()
    );
    let settled = wait_until(WAIT, || {
        lab.holders(IpAddr::V4(VIP4)) == ["n1"]
            && match backup {
                Kind::Ha => b.state("VI_1").as_deref() == Some("BACKUP"),
                Kind::Keepalived => b.log_text().contains("Entering BACKUP STATE"),
            }
    });
    assert!(settled, "{what}: no election\n{}", b.log_text());
    // BACKUP is also the state the backup starts in: a few more adverts, so that it follows
    // this master (`skip_check_adv_addr` spares only the master followed) before the change.
    let sent = |d: &Daemon| d.instance("VI_1").map_or(0, |i| i.counters.adverts_sent);
    let heard = sent(&a) + 3;
    assert!(wait_until(WAIT, || sent(&a) >= heard), "{what}: no adverts");
    let before = sent(&a);
    let mut changed = master;
    changed.vips.push(format!("{VIP4_B}/24"));
    std::fs::write(&a.config, config("", &[changed])).unwrap();
    let r = a.request(&Request::Reload).unwrap();
    assert!(r.ok, "{what}: {r:?}");
    // Ten adverts with the new list: three of the backup's Master_Down_Intervals.
    assert!(
        wait_until(WAIT, || sent(&a) >= before + 10),
        "{what}: the master stopped advertising"
    );
    assert_eq!(a.state("VI_1").as_deref(), Some("MASTER"), "{what}");
    lab.holders(IpAddr::V4(VIP4)).contains(&"n2".to_string())
}

/// RFC 5798 §7.1 lets a router check an advert's address list against its own; keepalived
/// 2.2.7 does (`addr_list_err`) unless `skip_check_adv_addr` is set and the advert comes from
/// the master it follows. ha judges the same way, so a VIP added to the master's config
/// alone makes either kind of backup take over, and neither does with the option.
#[test]
fn a_changed_vip_list_is_judged_as_keepalived_judges_it() {
    if !can_run_with_keepalived("vip_list") {
        return;
    }
    for backup in [Kind::Keepalived, Kind::Ha] {
        assert!(
            takes_over_on_a_changed_vip_list(backup, false),
            "a {} backup kept following a master whose VIPs differ",
            backup.name()
        );
        assert!(
            !takes_over_on_a_changed_vip_list(backup, true),
            "a {} backup with skip_check_adv_addr took over",
            backup.name()
        );
    }
}
