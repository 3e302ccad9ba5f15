//! BFD (RFC 5880/5881) in the bridge lab, against keepalived 2.2.7's BFD process: sessions
//! come Up, go Down when a link is cut and come back, in both roles; `track_bfd` moves
//! priorities and FAULTs as keepalived's does; `bfd_takeover` moves the VIP at the BFD
//! expiry, not at Master_Down; a BFD-only failure moves nothing; a flapping link leaves one
//! master after each heal.
//!
//! Skipped with a visible message when keepalived is absent (CI installs it).

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use ha::daemon::bfd::status::SessionStatus;
use ha_tests::daemon::{config, Daemon, InstanceSpec, Kind};
use ha_tests::lab::{Lab, Node, VIP4};
use ha_tests::{can_run_with_keepalived, wait_until};

const WAIT: Duration = Duration::from_secs(20);

fn bfd(name: &str, neighbor: &Node, me: &Node, timers: &str) -> String {
    format!(
        "bfd_instance {name} {{\n    neighbor_ip {}\n    source_ip {}\n{timers}}}\n",
        neighbor.ip4, me.ip4
    )
}

const FAST: &str = "    min_rx 10\n    min_tx 10\n    multiplier 3\n";

fn session(d: &Daemon, name: &str) -> Option<SessionStatus> {
    d.status()?
        .bfd?
        .sessions
        .into_iter()
        .find(|s| s.name == name)
}

fn logs(ds: &[&Daemon]) -> String {
    ds.iter()
        .map(|d| {
            format!(
                "\n--- {} on {} ---\n{}",
                d.kind.name(),
                d.node.name,
                d.log_text()
            )
        })
        .collect()
}

fn count(d: &Daemon, needle: &str) -> usize {
    d.log_text().matches(needle).count()
}

/// Drops BFD (UDP 3784 both ways) on a node: VRRP still flows.
fn block_bfd(node: &Node, on: bool) {
    let script = if on {
        "add table inet bfdblock\n\
         add chain inet bfdblock in { type filter hook input priority 0; }\n\
         add chain inet bfdblock out { type filter hook output priority 0; }\n\
         add rule inet bfdblock in udp dport 3784 drop\n\
         add rule inet bfdblock out udp dport 3784 drop\n"
    } else {
        "delete table inet bfdblock\n"
    };
    let path = std::env::temp_dir().join(format!("{}-bfdblock.nft", node.ns));
    std::fs::write(&path, script).expect("nft script");
    let out = Command::new("ip")
        .args(["netns", "exec", &node.ns, "nft", "-f"])
        .arg(&path)
        .output()
        .expect("nft");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "nft: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// keepalived on one node, ha on the other, a session between them; `ha_passive` /
/// `ka_passive` choose who waits. Cuts each side in turn.
fn session_with_keepalived(ha_passive: bool, ka_passive: bool) {
    let lab = Lab::new("bfdka", 2, false).expect("lab");
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let p = |on: bool| if on { "    passive\n" } else { "" };
    let ha_conf = format!(
        "{}{}",
        bfd("PEER", b, a, &format!("{FAST}{}", p(ha_passive))),
        config("", &[InstanceSpec::new("VI_1", 51, 100)])
    );
    let ka_conf = format!(
        "{}{}",
        bfd("PEER", a, b, &format!("{FAST}{}", p(ka_passive))),
        config("", &[InstanceSpec::new("VI_1", 51, 90)])
    );
    let ha = Daemon::start(&lab, a, Kind::Ha, &ha_conf);
    let ka = Daemon::start(&lab, b, Kind::Keepalived, &ka_conf);
    let up = |d: &Daemon| session(d, "PEER").is_some_and(|s| s.state == "Up");
    let ok = wait_until(WAIT, || {
        up(&ha) && count(&ka, "(PEER) Entering Up state") >= 1
    });
    assert!(ok, "the session did not come Up{}", logs(&[&ha, &ka]));
    // Once keepalived's Poll Sequence has moved it to 10 ms: 3 × 10 ms.
    let ok = wait_until(WAIT, || {
        session(&ha, "PEER")
            .is_some_and(|s| s.remote_state == "Up" && s.detection_time_us == Some(30_000))
    });
    assert!(ok, "{:?}{}", session(&ha, "PEER"), logs(&[&ha, &ka]));
    if std::env::var_os("HA_TEST_NO_XDP").is_none() {
        // The kernel absorbs the steady packets and watches the session.
        let ok = wait_until(WAIT, || {
            session(&ha, "PEER").is_some_and(|s| s.kernel && s.kernel_absorbed > 10)
        });
        assert!(ok, "XDP did not absorb: {:?}", session(&ha, "PEER"));
    }

    // keepalived's side goes silent: ha detects it. (A stall of keepalived's BFD process
    // under load can flap the 30 ms session before this: count from here.)
    let detections = session(&ha, "PEER").map_or(0, |s| s.kernel_detections);
    lab.cut(b).expect("cut");
    let ok = wait_until(WAIT, || {
        session(&ha, "PEER")
            .is_some_and(|s| s.state == "Down" && s.diag == "Control Detection Time Expired")
    });
    assert!(ok, "ha did not detect the cut{}", logs(&[&ha, &ka]));
    if std::env::var_os("HA_TEST_NO_XDP").is_none() {
        let s = session(&ha, "PEER").expect("session");
        assert_eq!(
            s.kernel_detections,
            detections + 1,
            "the kernel's timer detected it: {s:?}"
        );
    }
    lab.restore(b).expect("restore");
    let ok = wait_until(WAIT, || {
        up(&ha) && count(&ka, "(PEER) Entering Up state") >= 2
    });
    assert!(ok, "the session did not come back{}", logs(&[&ha, &ka]));

    // ha's side goes silent: keepalived detects it (its side expired at the first cut too).
    let expired = "(PEER) Entering Down state (Local diagnostic - Control Detection Time Expired";
    let before = count(&ka, expired);
    let ups = count(&ka, "(PEER) Entering Up state");
    lab.cut(a).expect("cut");
    let ok = wait_until(WAIT, || count(&ka, expired) > before);
    assert!(ok, "keepalived did not detect the cut{}", logs(&[&ha, &ka]));
    lab.restore(a).expect("restore");
    let ok = wait_until(WAIT, || {
        up(&ha) && count(&ka, "(PEER) Entering Up state") > ups
    });
    assert!(ok, "the session did not come back{}", logs(&[&ha, &ka]));
}

#[test]
fn a_session_with_keepalived_comes_up_goes_down_and_comes_back() {
    if !can_run_with_keepalived("a_session_with_keepalived_comes_up_goes_down_and_comes_back") {
        return;
    }
    session_with_keepalived(false, true);
}

#[test]
fn a_passive_ha_session_with_an_active_keepalived() {
    if !can_run_with_keepalived("a_passive_ha_session_with_an_active_keepalived") {
        return;
    }
    session_with_keepalived(true, false);
}

/// IPv6 (hop limit 64 both ways, keepalived's default), and new timers by a reload: the
/// session stays Up through the Poll Sequence and the Detection Time follows.
#[test]
fn an_ipv6_session_with_keepalived_and_a_timer_reload() {
    if !can_run_with_keepalived("an_ipv6_session_with_keepalived_and_a_timer_reload") {
        return;
    }
    let lab = Lab::new("bfd6", 2, false).expect("lab");
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let block = |me: &Node, peer: &Node, t: &str| {
        format!(
            "bfd_instance PEER6 {{\n    neighbor_ip {}\n    source_ip {}\n{t}}}\n\
             global_defs {{\n    router_id test\n}}\n",
            peer.ip6, me.ip6
        )
    };
    let ha = Daemon::start(&lab, a, Kind::Ha, &block(a, b, FAST));
    let ka_conf = format!(
        "{}{}",
        block(b, a, FAST),
        config("", &[InstanceSpec::new("VI_1", 51, 90)])
    );
    let ka = Daemon::start(&lab, b, Kind::Keepalived, &ka_conf);
    let up = |d: &Daemon| session(d, "PEER6").is_some_and(|s| s.state == "Up");
    let ok = wait_until(WAIT, || {
        up(&ha) && count(&ka, "(PEER6) Entering Up state") >= 1
    });
    assert!(ok, "no IPv6 session{}", logs(&[&ha, &ka]));
    let ups = count(&ka, "(PEER6) Entering Up state");
    // Slower timers on our side: 3 × max(our 20 ms RX, its 10 ms TX) = 60 ms here.
    std::fs::write(
        &ha.config,
        block(a, b, "    min_rx 20\n    min_tx 20\n    multiplier 3\n"),
    )
    .expect("config");
    let r = ha
        .request(&ha::daemon::control::Request::Reload)
        .expect("reload");
    assert!(r.ok, "{r:?}");
    let ok = wait_until(WAIT, || {
        session(&ha, "PEER6").is_some_and(|s| s.detection_time_us == Some(60_000))
    });
    assert!(ok, "{:?}{}", session(&ha, "PEER6"), logs(&[&ha, &ka]));
    assert!(up(&ha));
    assert_eq!(
        count(&ka, "(PEER6) Entering Up state"),
        ups,
        "the session flapped{}",
        logs(&[&ka])
    );
    lab.cut(b).expect("cut");
    let ok = wait_until(WAIT, || {
        session(&ha, "PEER6").is_some_and(|s| s.state == "Down")
    });
    assert!(ok, "no IPv6 detection{}", logs(&[&ha, &ka]));
}

/// keepalived as the oracle: the same `track_bfd` lines move both daemons' priorities the
/// same way (weight 20: added while Up), and weight 0 puts both in FAULT while Down.
#[test]
fn track_bfd_moves_priority_and_fault_like_keepalived() {
    if !can_run_with_keepalived("track_bfd_moves_priority_and_fault_like_keepalived") {
        return;
    }
    let lab = Lab::new("bfdtr", 2, false).expect("lab");
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let instances = |prio1: u8, prio2: u8| {
        let mut v1 = InstanceSpec::new("VI_1", 51, prio1);
        v1.extra = "    track_bfd {\n        PEER weight 20\n    }\n".into();
        let mut v2 = InstanceSpec::new("VI_2", 52, prio2);
        v2.vips = vec!["192.0.2.101/24".into()];
        v2.extra = "    track_bfd {\n        PEER\n    }\n".into();
        config("", &[v1, v2])
    };
    let ha = Daemon::start(
        &lab,
        a,
        Kind::Ha,
        &format!("{}{}", bfd("PEER", b, a, FAST), instances(100, 100)),
    );
    let ka = Daemon::start(
        &lab,
        b,
        Kind::Keepalived,
        &format!("{}{}", bfd("PEER", a, b, FAST), instances(110, 90)),
    );
    let inst = |n: &str| ha.instance(n);
    // Up: ha 100+20 > keepalived 110+20? No: 120 < 130, keepalived masters VI_1; VI_2 is
    // ha's (100 > 90).
    let ok = wait_until(WAIT, || {
        inst("VI_1").is_some_and(|i| i.effective_priority.0 == 120 && i.state == "BACKUP")
            && inst("VI_2").is_some_and(|i| i.state == "MASTER")
    });
    assert!(
        ok,
        "BFD Up: {:?} {:?}{}",
        inst("VI_1"),
        inst("VI_2"),
        logs(&[&ha, &ka])
    );
    // keepalived's VRRP process hears of it a moment after its BFD process.
    let seen = ka
        .wait_log(|l| l.contains("Tracked BFD instance PEER is UP"))
        .contains("Tracked BFD instance PEER is UP");
    assert!(seen, "keepalived saw no Up{}", logs(&[&ka]));

    block_bfd(b, true);
    // Down: both lose the 20 (ha 100, keepalived 110) and both VI_2 go to FAULT.
    let ok = wait_until(WAIT, || {
        inst("VI_1").is_some_and(|i| i.effective_priority.0 == 100)
            && inst("VI_2").is_some_and(|i| i.state == "FAULT")
    });
    assert!(
        ok,
        "BFD Down: {:?} {:?}{}",
        inst("VI_1"),
        inst("VI_2"),
        logs(&[&ha, &ka])
    );
    let ok = wait_until(WAIT, || {
        let t = ka.log_text();
        t.contains("Tracked BFD instance PEER is DOWN") && t.contains("(VI_2) Entering FAULT STATE")
    });
    assert!(ok, "keepalived did not go the same way{}", logs(&[&ka]));

    block_bfd(b, false);
    let ok = wait_until(WAIT, || {
        inst("VI_1").is_some_and(|i| i.effective_priority.0 == 120)
            && inst("VI_2").is_some_and(|i| i.state == "MASTER")
    });
    assert!(
        ok,
        "BFD back: {:?} {:?}{}",
        inst("VI_1"),
        inst("VI_2"),
        logs(&[&ha, &ka])
    );
}

/// A keepalived master (VRRPv3, advert_int 1: Master_Down ≈ 3.6 s) and an ha backup with
/// `bfd_takeover` on their BFD session: cutting the master's link moves the VIP at the
/// BFD expiry (the log and the transition say why), not at Master_Down.
#[test]
fn bfd_takeover_moves_the_vip_at_the_expiry() {
    if !can_run_with_keepalived("bfd_takeover_moves_the_vip_at_the_expiry") {
        return;
    }
    let lab = Lab::new("bfdtk", 2, false).expect("lab");
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let mut m = InstanceSpec::new("VI_1", 51, 150);
    m.advert_int = "1".into();
    let mut s = m.clone();
    s.priority = 100;
    s.extra = "    bfd_takeover PEER\n".into();
    let ka = Daemon::start(
        &lab,
        a,
        Kind::Keepalived,
        &format!("{}{}", bfd("PEER", b, a, FAST), config("", &[m])),
    );
    let ha = Daemon::start(
        &lab,
        b,
        Kind::Ha,
        &format!("{}{}", bfd("PEER", a, b, FAST), config("", &[s])),
    );
    let vip = IpAddr::V4(VIP4);
    let ok = wait_until(WAIT, || {
        lab.holders(vip) == [a.name.as_str()]
            && session(&ha, "PEER").is_some_and(|s| s.state == "Up")
            && ha.state("VI_1").as_deref() == Some("BACKUP")
    });
    assert!(ok, "no stable start{}", logs(&[&ha, &ka]));
    lab.cut(a).expect("cut");
    let ok = wait_until(WAIT, || lab.holders(vip).contains(&b.name));
    assert!(ok, "ha never took over{}", logs(&[&ha, &ka]));
    // The VIP is added before the transition is logged.
    let log = ha
        .wait_log(|l| l.contains("BFD PEER to 192.0.2.1 expired") && l.contains("reason=BfdDown"));
    assert!(
        log.contains("BFD PEER to 192.0.2.1 expired: the master is dead, taking over now"),
        "{}",
        logs(&[&ha])
    );
    assert!(log.contains("reason=BfdDown"), "{}", logs(&[&ha]));
    // The link returns: keepalived (150) preempts, one master.
    lab.restore(a).expect("restore");
    let ok = wait_until(WAIT, || {
        lab.holders(vip) == [a.name.as_str()] && ha.state("VI_1").as_deref() == Some("BACKUP")
    });
    assert!(ok, "no single master after the heal{}", logs(&[&ha, &ka]));
}

/// The master's adverts still arrive (advert_int 0.05) while only BFD is blocked: the
/// session expires, the backup keeps following the master.
#[test]
fn a_bfd_only_failure_moves_nothing() {
    if !can_run_with_keepalived("a_bfd_only_failure_moves_nothing") {
        return;
    }
    let lab = Lab::new("bfdon", 2, false).expect("lab");
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let mut m = InstanceSpec::new("VI_1", 51, 150);
    m.advert_int = "0.05".into();
    let mut s = m.clone();
    s.priority = 100;
    s.extra = "    bfd_takeover PEER\n".into();
    let timers = "    min_rx 50\n    min_tx 50\n    multiplier 3\n";
    let ka = Daemon::start(
        &lab,
        a,
        Kind::Keepalived,
        &format!("{}{}", bfd("PEER", b, a, timers), config("", &[m])),
    );
    let ha = Daemon::start(
        &lab,
        b,
        Kind::Ha,
        &format!("{}{}", bfd("PEER", a, b, timers), config("", &[s])),
    );
    let vip = IpAddr::V4(VIP4);
    let ok = wait_until(WAIT, || {
        lab.holders(vip) == [a.name.as_str()]
            && session(&ha, "PEER").is_some_and(|s| s.state == "Up")
    });
    assert!(ok, "no stable start{}", logs(&[&ha, &ka]));
    block_bfd(a, true);
    let ok = wait_until(WAIT, || {
        session(&ha, "PEER").is_some_and(|s| s.state == "Down")
    });
    assert!(ok, "BFD did not expire{}", logs(&[&ha]));
    // Several Master_Down_Intervals later, still one master and ha following it.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(lab.holders(vip), [a.name.as_str()], "{}", logs(&[&ha, &ka]));
    assert_eq!(ha.state("VI_1").as_deref(), Some("BACKUP"));
    assert!(
        ha.log_text().contains("the master's adverts still arrive"),
        "{}",
        logs(&[&ha])
    );
    block_bfd(a, false);
}

/// Two ha nodes with `bfd_takeover` both ways: the master's link flaps ten times; after
/// every heal one master holds the VIP, and it is the preempting master.
#[test]
fn a_flapping_link_leaves_one_master_after_each_heal() {
    if !can_run_with_keepalived("a_flapping_link_leaves_one_master_after_each_heal") {
        return;
    }
    let lab = Lab::new("bfdfl", 2, false).expect("lab");
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let spec = |prio: u8| {
        let mut s = InstanceSpec::new("VI_1", 51, prio);
        s.advert_int = "0.1".into();
        s.extra = "    bfd_takeover PEER\n".into();
        s
    };
    let na = Daemon::start(
        &lab,
        a,
        Kind::Ha,
        &format!("{}{}", bfd("PEER", b, a, FAST), config("", &[spec(150)])),
    );
    let nb = Daemon::start(
        &lab,
        b,
        Kind::Ha,
        &format!("{}{}", bfd("PEER", a, b, FAST), config("", &[spec(100)])),
    );
    let vip = IpAddr::V4(VIP4);
    let one_master = || lab.holders(vip) == [a.name.as_str()];
    assert!(
        wait_until(WAIT, one_master),
        "no start{}",
        logs(&[&na, &nb])
    );
    for i in 0..10 {
        lab.cut(a).expect("cut");
        std::thread::sleep(Duration::from_millis(40 + 20 * (i % 3)));
        lab.restore(a).expect("restore");
        // Generous: the returning master waits its Master_Down_Interval (~0.35 s), then
        // preempts, and the backup steps back at its first advert.
        assert!(
            wait_until(Duration::from_secs(5), one_master),
            "flap {i}: holders {:?}{}",
            lab.holders(vip),
            logs(&[&na, &nb])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.holders(vip), [a.name.as_str()], "{}", logs(&[&na, &nb]));
    assert_eq!(nb.state("VI_1").as_deref(), Some("BACKUP"));
}

fn real_alive(d: &Daemon, rs: &str) -> Option<bool> {
    d.status()?
        .virtual_servers
        .into_iter()
        .flat_map(|v| v.real_servers)
        .find(|r| r.name == rs)
        .map(|r| r.alive)
}

/// `BFD_CHECK`: the real server is down until its session is Up (keepalived takes it out
/// at the BFD process's first event), then follows the session.
#[test]
fn bfd_check_follows_the_session() {
    if !can_run_with_keepalived("bfd_check_follows_the_session") {
        return;
    }
    let lab = Lab::new("bfdck", 2, false).expect("lab");
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    // The service's address is nowhere in the lab: the `log` backend records the table.
    let ha_conf = format!(
        "global_defs {{\n    router_id test\n}}\n{}\
         virtual_server 10.0.0.100 80 {{\n    delay_loop 1\n    lb_kind DR\n    protocol TCP\n\
         \x20   real_server {} 80 {{\n        BFD_CHECK {{\n            name PEER\n        }}\n    }}\n}}\n",
        bfd("PEER", b, a, FAST),
        b.ip4
    );
    let ka_conf = format!(
        "{}{}",
        bfd("PEER", a, b, FAST),
        config("", &[InstanceSpec::new("VI_1", 51, 90)])
    );
    let ha = Daemon::start(&lab, a, Kind::Ha, &ha_conf);
    let rs = format!("[{}]:80", b.ip4);
    // Down before the session is Up: keepalived is not running yet.
    let ok = wait_until(WAIT, || real_alive(&ha, &rs) == Some(false));
    assert!(ok, "{:?}{}", real_alive(&ha, &rs), logs(&[&ha]));
    let ka = Daemon::start(&lab, b, Kind::Keepalived, &ka_conf);
    let ok = wait_until(WAIT, || real_alive(&ha, &rs) == Some(true));
    assert!(ok, "not up with the session{}", logs(&[&ha, &ka]));
    lab.cut(b).expect("cut");
    let ok = wait_until(WAIT, || real_alive(&ha, &rs) == Some(false));
    assert!(ok, "not down at the expiry{}", logs(&[&ha, &ka]));
    lab.restore(b).expect("restore");
    let ok = wait_until(WAIT, || real_alive(&ha, &rs) == Some(true));
    assert!(ok, "not back up{}", logs(&[&ha, &ka]));
}
