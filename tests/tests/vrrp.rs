//! `ha` nodes in network namespaces on a bridge: election, failures, handovers, tracking,
//! sync groups, unicast, reload, the control socket and notifications. Each test builds its
//! own lab and removes it. Waits have generous upper bounds only: speed is measured by
//! `cargo xtask bench failover`, not here.

use std::net::IpAddr;
use std::time::Duration;

use ha::daemon::control::Request;
use ha::units::Priority;
use ha_tests::daemon::{config, Daemon, InstanceSpec, Kind};
use ha_tests::lab::{Lab, VIP4, VIP4_B, VIP6};
use ha_tests::{can_run, wait_until};

const WAIT: Duration = Duration::from_secs(10);

fn vip() -> IpAddr {
    IpAddr::V4(VIP4)
}

fn ha(lab: &Lab, i: usize, specs: &[InstanceSpec]) -> Daemon {
    Daemon::start(lab, &lab.nodes[i], Kind::Ha, &config("", specs))
}

fn wait_state(d: &Daemon, instance: &str, state: &str) {
    let ok = wait_until(WAIT, || d.state(instance).as_deref() == Some(state));
    assert!(
        ok,
        "{} on {} is {:?}, expected {state}\n--- log ---\n{}",
        instance,
        d.node.name,
        d.state(instance),
        d.log_text()
    );
}

fn wait_holders(lab: &Lab, addr: IpAddr, want: &[&str]) {
    let ok = wait_until(WAIT, || lab.holders(addr) == want);
    assert!(
        ok,
        "{addr} is on {:?}, expected {want:?}",
        lab.holders(addr)
    );
}

/// RFC 5798 §6.4.1–§6.4.3: of three routers the highest priority becomes MASTER, the others
/// BACKUP and follow it; only the master holds the VIP.
#[test]
fn election_of_three() {
    if !can_run("election_of_three") {
        return;
    }
    let lab = Lab::new("elect", 3, false).unwrap();
    let d: Vec<Daemon> = [100, 200, 150]
        .iter()
        .enumerate()
        .map(|(i, p)| ha(&lab, i, &[InstanceSpec::new("VI_1", 51, *p)]))
        .collect();
    wait_state(&d[1], "VI_1", "MASTER");
    wait_state(&d[0], "VI_1", "BACKUP");
    wait_state(&d[2], "VI_1", "BACKUP");
    wait_holders(&lab, vip(), &["n2"]);
    let b = d[0].wait_following("VI_1", 200);
    assert_eq!(b.master.as_deref(), Some("192.0.2.2"));
    assert!(b.counters.adverts_received > 0);
    assert!(d[1].instance("VI_1").unwrap().counters.adverts_sent > 0);
}

/// RFC 5798 §6.4.2 (Master_Down_Timer fires) then §6.4.2 preemption when the higher
/// priority router returns.
#[test]
fn link_cut_fails_over_and_the_master_preempts_on_return() {
    if !can_run("link_cut_fails_over") {
        return;
    }
    let lab = Lab::new("cut", 2, false).unwrap();
    let a = ha(&lab, 0, &[InstanceSpec::new("VI_1", 51, 200)]);
    let b = ha(&lab, 1, &[InstanceSpec::new("VI_1", 51, 100)]);
    wait_state(&a, "VI_1", "MASTER");
    wait_state(&b, "VI_1", "BACKUP");
    lab.cut(&lab.nodes[0]).unwrap();
    wait_state(&b, "VI_1", "MASTER");
    // The cut node lost carrier: FAULT, addresses released.
    wait_state(&a, "VI_1", "FAULT");
    wait_holders(&lab, vip(), &["n2"]);
    assert_eq!(
        b.instance("VI_1").unwrap().last_transition.as_deref(),
        Some("MasterDown")
    );
    lab.restore(&lab.nodes[0]).unwrap();
    wait_state(&a, "VI_1", "MASTER");
    wait_state(&b, "VI_1", "BACKUP");
    wait_holders(&lab, vip(), &["n1"]);
}

/// RFC 5798 §6.4.3 Shutdown: the master sends priority 0 and removes its VIPs; the backup
/// takes over after Skew_Time instead of Master_Down_Interval.
#[test]
fn graceful_stop_hands_over_with_priority_zero() {
    if !can_run("graceful_stop") {
        return;
    }
    let lab = Lab::new("stop", 2, false).unwrap();
    let mut a = ha(&lab, 0, &[InstanceSpec::new("VI_1", 51, 200)]);
    let b = ha(&lab, 1, &[InstanceSpec::new("VI_1", 51, 100)]);
    wait_state(&a, "VI_1", "MASTER");
    let zeros = b
        .wait_following("VI_1", 200)
        .counters
        .priority_zero_received;
    let st = a.stop().expect("ha exited");
    assert!(st.success(), "graceful stop exit status {st}");
    assert!(
        !lab.nodes[0].has_addr(vip()),
        "the stopped master removed its VIP"
    );
    wait_state(&b, "VI_1", "MASTER");
    let i = b.instance("VI_1").unwrap();
    assert_eq!(i.counters.priority_zero_received, zeros + 1);
    assert_eq!(i.last_transition.as_deref(), Some("MasterStopped"));
    wait_holders(&lab, vip(), &["n2"]);
}

/// keepalived's `nopreempt`: a returning higher-priority BACKUP does not take over.
#[test]
fn nopreempt_keeps_the_current_master() {
    if !can_run("nopreempt") {
        return;
    }
    let lab = Lab::new("nopre", 2, false).unwrap();
    let mut high = InstanceSpec::new("VI_1", 51, 200);
    high.extra = "    nopreempt\n".into();
    let b = ha(&lab, 1, &[InstanceSpec::new("VI_1", 51, 100)]);
    wait_state(&b, "VI_1", "MASTER");
    let a = ha(&lab, 0, &[high]);
    wait_state(&a, "VI_1", "BACKUP");
    // Several master-down intervals later, still BACKUP.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(a.state("VI_1").as_deref(), Some("BACKUP"));
    assert_eq!(b.state("VI_1").as_deref(), Some("MASTER"));
    assert_eq!(a.instance("VI_1").unwrap().counters.became_master, 0);
}

/// RFC 5798 §6.4.3: equal priorities, the higher primary address wins.
#[test]
fn equal_priority_higher_address_wins() {
    if !can_run("equal_priority") {
        return;
    }
    let lab = Lab::new("tie", 2, false).unwrap();
    // Split brain first: both nodes isolated become MASTER; when the network heals the two
    // masters hear each other's equal-priority adverts and the lower address yields.
    for n in &lab.nodes {
        lab.isolate(n).unwrap();
    }
    let a = ha(&lab, 0, &[InstanceSpec::new("VI_1", 51, 100)]);
    let b = ha(&lab, 1, &[InstanceSpec::new("VI_1", 51, 100)]);
    wait_state(&a, "VI_1", "MASTER");
    wait_state(&b, "VI_1", "MASTER");
    for n in &lab.nodes {
        lab.rejoin(n).unwrap();
    }
    wait_state(&b, "VI_1", "MASTER");
    wait_state(&a, "VI_1", "BACKUP");
}

/// `track_script` with a negative weight: the check failing lowers the master below the
/// backup, which preempts; the check recovering moves it back.
#[test]
fn track_script_weight_moves_the_master() {
    if !can_run("track_script") {
        return;
    }
    let lab = Lab::new("trk", 2, false).unwrap();
    let flag = lab.path("healthy");
    std::fs::write(&flag, "").unwrap();
    let script = format!(
        "vrrp_script chk {{\n    script \"/bin/test -e {}\"\n    interval 1\n    weight -150\n    fall 1\n    rise 1\n}}\n",
        flag.display()
    );
    let mut high = InstanceSpec::new("VI_1", 51, 200);
    high.extra = "    track_script {\n        chk\n    }\n".into();
    let cfg = format!("{}{}", config("", &[]), script) + &high.render();
    let a = Daemon::start(&lab, &lab.nodes[0], Kind::Ha, &cfg);
    let b = ha(&lab, 1, &[InstanceSpec::new("VI_1", 51, 100)]);
    wait_state(&a, "VI_1", "MASTER");
    wait_state(&b, "VI_1", "BACKUP");
    std::fs::remove_file(&flag).unwrap();
    wait_state(&b, "VI_1", "MASTER");
    wait_state(&a, "VI_1", "BACKUP");
    assert_eq!(a.instance("VI_1").unwrap().effective_priority, Priority(50));
    std::fs::write(&flag, "").unwrap();
    wait_state(&a, "VI_1", "MASTER");
    assert_eq!(
        a.instance("VI_1").unwrap().effective_priority,
        Priority(200)
    );
    wait_holders(&lab, vip(), &["n1"]);
}

/// A failing weight-0 `track_script` puts the instance in FAULT naming the script (not the
/// interface, which stayed up). A reload that changes the script's interval takes effect
/// (the old check stops), the new check starts from the state the old one reached, so the
/// instance leaves FAULT as soon as the script succeeds again; a reload to a negative
/// weight turns the same failure into a lower priority instead of a FAULT.
#[test]
fn track_script_fault_names_the_script_and_reloads_apply_new_script_settings() {
    if !can_run("track_script reload") {
        return;
    }
    let lab = Lab::new("tsr", 1, false).unwrap();
    let flag = lab.path("healthy");
    let runs = lab.path("runs");
    std::fs::write(&flag, "").unwrap();
    let cfg = |interval: u32, weight: i32| {
        let mut one = InstanceSpec::new("VI_1", 51, 200);
        one.extra = "    track_script {\n        chk\n    }\n".into();
        format!(
            "{}vrrp_script chk {{\n    script \"/bin/sh -c 'echo run >> {}; test -e {}'\"\n    \
             interval {interval}\n    weight {weight}\n    fall 1\n    rise 1\n}}\n{}",
            config("", &[]),
            runs.display(),
            flag.display(),
            one.render()
        )
    };
    let a = Daemon::start(&lab, &lab.nodes[0], Kind::Ha, &cfg(1, 0));
    wait_state(&a, "VI_1", "MASTER");
    std::fs::remove_file(&flag).unwrap();
    wait_state(&a, "VI_1", "FAULT");
    let st = a.instance("VI_1").unwrap();
    assert_eq!(st.fault.as_deref(), Some("track_script chk failed"));
    let shown = st.last_transition.unwrap_or_default();
    assert!(
        shown.contains("track_script chk failed") && !shown.contains("Interface"),
        "the transition names the script: {shown}"
    );
    // A slower check: the running state carries over, the old timing stops.
    std::fs::write(&a.config, cfg(4, 0)).unwrap();
    assert!(a.request(&Request::Reload).unwrap().ok);
    let count = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    std::thread::sleep(Duration::from_millis(500));
    let before = count();
    std::thread::sleep(Duration::from_secs(6));
    let ran = count() - before;
    assert!(
        ran <= 2,
        "{ran} runs in 6 s after a reload to interval 4 (the old 1 s check still running?)"
    );
    assert_eq!(a.state("VI_1").as_deref(), Some("FAULT"), "still failing");
    std::fs::write(&flag, "").unwrap();
    wait_state(&a, "VI_1", "MASTER");
    assert_eq!(a.instance("VI_1").unwrap().fault, None);
    assert!(
        a.log_text()
            .contains("Entering BACKUP STATE: recovered from track_script chk failed"),
        "leaving FAULT names what recovered"
    );
    // A weight: the failure costs priority, not the MASTER state.
    std::fs::write(&a.config, cfg(1, -50)).unwrap();
    assert!(a.request(&Request::Reload).unwrap().ok);
    std::fs::remove_file(&flag).unwrap();
    assert!(wait_until(WAIT, || a
        .instance("VI_1")
        .is_some_and(|i| i.effective_priority == Priority(150))));
    assert_eq!(a.state("VI_1").as_deref(), Some("MASTER"));
}

/// Two `ha run` on one host, each in its own network namespace, need no `-S`: each serves
/// the control socket named after its namespace (`/run/ha/ha_NETNS.sock`), and `ha status`
/// run in the same namespace finds it.
#[test]
fn a_daemon_per_network_namespace_needs_no_control_socket_option() {
    if !can_run("a daemon per namespace") {
        return;
    }
    let lab = Lab::new("pns", 2, false).unwrap();
    struct Stop(Vec<std::process::Child>, Vec<std::path::PathBuf>);
    impl Drop for Stop {
        fn drop(&mut self) {
            for c in &mut self.0 {
                // SAFETY: signalling our own child.
                unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
                let _ = c.wait();
            }
            for p in &self.1 {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    let mut daemons = Stop(Vec::new(), Vec::new());
    let mut confs = Vec::new();
    for (i, node) in lab.nodes.iter().enumerate() {
        let conf = lab.write(
            &format!("pns{i}.conf"),
            &config("", &[InstanceSpec::new("VI_1", 51, 100 + i as u8)]),
        );
        let log = std::fs::File::create(lab.path(&format!("pns{i}.log"))).unwrap();
        let child = node
            .command(&ha_tests::ha_bin())
            .args(["run", "--no-xdp", "-f"])
            .arg(&conf)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        daemons.0.push(child);
        daemons
            .1
            .push(format!("/run/ha/ha_{}.sock", node.ns).into());
        confs.push(conf);
    }
    for (i, node) in lab.nodes.iter().enumerate() {
        let status = || {
            node.command(&ha_tests::ha_bin())
                .args(["status", "--json", "-f"])
                .arg(&confs[i])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        };
        assert!(
            wait_until(WAIT, || status().is_some_and(|s| s.contains("\"VI_1\""))),
            "ha status in {} does not find its daemon; log:\n{}",
            node.ns,
            std::fs::read_to_string(lab.path(&format!("pns{i}.log"))).unwrap_or_default()
        );
        assert!(daemons.1[i].exists(), "socket named after the namespace");
    }
    drop(daemons);
}

/// `vrrp_sync_group`: one member going to FAULT (a weight-0 script) takes the whole group
/// to the other node.
#[test]
fn sync_group_moves_together() {
    if !can_run("sync_group") {
        return;
    }
    let lab = Lab::new("sync", 2, false).unwrap();
    let flag = lab.path("healthy");
    std::fs::write(&flag, "").unwrap();
    let mk = |prio: u8, tracked: bool| {
        let mut one = InstanceSpec::new("VI_1", 51, prio);
        if tracked {
            one.extra = "    track_script {\n        chk\n    }\n".into();
        }
        let mut two = InstanceSpec::new("VI_2", 52, prio);
        two.vips = vec![format!("{VIP4_B}/24")];
        format!(
            "{}vrrp_script chk {{\n    script \"/bin/test -e {}\"\n    interval 1\n    weight 0\n    fall 1\n    rise 1\n}}\n\
             vrrp_sync_group G {{\n    group {{\n        VI_1\n        VI_2\n    }}\n}}\n{}{}",
            config("", &[]),
            flag.display(),
            one.render(),
            two.render()
        )
    };
    let a = Daemon::start(&lab, &lab.nodes[0], Kind::Ha, &mk(200, true));
    let b = Daemon::start(&lab, &lab.nodes[1], Kind::Ha, &mk(100, false));
    wait_state(&a, "VI_1", "MASTER");
    wait_state(&a, "VI_2", "MASTER");
    wait_state(&b, "VI_2", "BACKUP");
    std::fs::remove_file(&flag).unwrap();
    wait_state(&a, "VI_1", "FAULT");
    wait_state(&a, "VI_2", "FAULT");
    wait_state(&b, "VI_1", "MASTER");
    wait_state(&b, "VI_2", "MASTER");
    wait_holders(&lab, IpAddr::V4(VIP4_B), &["n2"]);
    std::fs::write(&flag, "").unwrap();
    wait_state(&a, "VI_2", "MASTER");
    wait_state(&a, "VI_1", "MASTER");
    wait_holders(&lab, IpAddr::V4(VIP4_B), &["n1"]);
}

/// `unicast_peer`: adverts go to the peer only; election and failover work the same.
#[test]
fn unicast_election_and_failover() {
    if !can_run("unicast") {
        return;
    }
    let lab = Lab::new("uni", 2, false).unwrap();
    let (ip1, ip2) = (IpAddr::V4(lab.nodes[0].ip4), IpAddr::V4(lab.nodes[1].ip4));
    let mut s1 = InstanceSpec::new("VI_1", 51, 200);
    s1.unicast = Some((ip1, vec![ip2]));
    let mut s2 = InstanceSpec::new("VI_1", 51, 100);
    s2.unicast = Some((ip2, vec![ip1]));
    let mut a = ha(&lab, 0, &[s1]);
    let b = ha(&lab, 1, &[s2]);
    wait_state(&a, "VI_1", "MASTER");
    wait_state(&b, "VI_1", "BACKUP");
    a.kill();
    wait_state(&b, "VI_1", "MASTER");
}

/// IPv6: VRRPv3 to ff02::12 from the link-local address, VIP announced with an NA.
#[test]
fn ipv6_election_and_failover() {
    if !can_run("ipv6") {
        return;
    }
    let lab = Lab::new("v6", 2, false).unwrap();
    let spec = |p| {
        let mut s = InstanceSpec::new("VI_6", 61, p);
        s.vips = vec![format!("{VIP6}/64")];
        s
    };
    let mut a = ha(&lab, 0, &[spec(200)]);
    let b = ha(&lab, 1, &[spec(100)]);
    wait_state(&a, "VI_6", "MASTER");
    wait_holders(&lab, IpAddr::V6(VIP6), &["n1"]);
    let master = b.wait_following("VI_6", 200).master.unwrap();
    assert!(master.starts_with("fe80::"), "{master}");
    a.stop();
    wait_state(&b, "VI_6", "MASTER");
    wait_holders(&lab, IpAddr::V6(VIP6), &["n2"]);
}

/// SIGHUP applies a difference: a MASTER whose settings changed (priority, VIPs) keeps its
/// state and VIP with no transition and no priority 0 (the backup never takes over), the
/// added VIP appears; a new instance starts; an invalid file is refused and the running
/// config stays. The backup has `skip_check_adv_addr`: without it, the master's adverts now
/// list an address the backup's config lacks, and it drops them (RFC 5798 §7.1, keepalived
/// 2.2.7's `addr_list_err`) and takes over, as keepalived does.
#[test]
fn reload_without_a_gap_and_bad_reload_keeps_running() {
    if !can_run("reload") {
        return;
    }
    let lab = Lab::new("rel", 2, false).unwrap();
    let one = InstanceSpec::new("VI_1", 51, 200);
    let a = ha(&lab, 0, std::slice::from_ref(&one));
    let mut backup = InstanceSpec::new("VI_1", 51, 100);
    backup.extra = "    skip_check_adv_addr\n".into();
    let b = ha(&lab, 1, &[backup]);
    wait_state(&a, "VI_1", "MASTER");
    // Under load the backup's daemon can come up first and be MASTER for a moment before
    // the higher priority preempts it: only what happens from here on is the reload's.
    let b_before = b.wait_following("VI_1", 200);
    let before = a.instance("VI_1").unwrap();

    // VI_1 changes in place (priority, one more VIP); VI_2 is new.
    let mut changed = one.clone();
    changed.priority = 180;
    changed.vips.push("198.51.100.77/32".into());
    let mut two = InstanceSpec::new("VI_2", 52, 200);
    two.vips = vec![format!("{VIP4_B}/24")];
    std::fs::write(&a.config, config("", &[changed, two])).unwrap();
    a.signal(libc::SIGHUP);
    wait_state(&a, "VI_2", "MASTER");
    let after = a.instance("VI_1").unwrap();
    assert_eq!(after.state, "MASTER");
    assert_eq!(after.effective_priority, Priority(180));
    assert_eq!(after.counters.became_master, before.counters.became_master);
    assert_eq!(
        after.counters.priority_zero_sent,
        before.counters.priority_zero_sent
    );
    assert!(lab.nodes[0].has_addr("198.51.100.77".parse().unwrap()));
    assert_eq!(a.status().unwrap().reloads, 1);
    // Ten adverts with the new list: three Master_Down_Intervals of the backup's.
    wait_until(WAIT, || {
        a.instance("VI_1")
            .is_some_and(|i| i.counters.adverts_sent >= after.counters.adverts_sent + 10)
    });
    let bi = b.instance("VI_1").unwrap();
    assert_eq!(
        bi.counters.became_master, b_before.counters.became_master,
        "the backup took over during the reload\n--- master's log ---\n{}\n--- backup's log ---\n{}",
        a.log_text(),
        b.log_text()
    );
    assert_eq!(
        bi.counters.priority_zero_received,
        b_before.counters.priority_zero_received
    );
    assert!(lab.nodes[0].has_addr(vip()));

    // A keyword without its value: an error (keepalived -t stops reading there).
    std::fs::write(
        &a.config,
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id\n}\n",
    )
    .unwrap();
    let r = a.request(&Request::Reload).unwrap();
    assert!(!r.ok, "an invalid config is refused: {r:?}");
    let s = a.status().unwrap();
    assert_eq!(s.reloads, 1);
    assert_eq!(s.instances.len(), 2);
    assert!(s.instances.iter().all(|i| i.state == "MASTER"));
}

/// `ha failover`: the master hands over (priority 0) and the backup takes the VIP.
#[test]
fn manual_failover_from_the_control_socket() {
    if !can_run("manual_failover") {
        return;
    }
    let lab = Lab::new("fo", 2, false).unwrap();
    let mut spec_a = InstanceSpec::new("VI_1", 51, 200);
    spec_a.extra = "    nopreempt\n".into();
    let mut spec_b = InstanceSpec::new("VI_1", 51, 100);
    spec_b.extra = "    nopreempt\n".into();
    let a = ha(&lab, 0, &[spec_a]);
    wait_state(&a, "VI_1", "MASTER");
    let b = ha(&lab, 1, &[spec_b]);
    wait_state(&b, "VI_1", "BACKUP");
    let r = a
        .request(&Request::Failover {
            instance: "VI_1".into(),
        })
        .unwrap();
    assert!(r.ok, "{r:?}");
    wait_state(&b, "VI_1", "MASTER");
    wait_state(&a, "VI_1", "BACKUP");
    wait_holders(&lab, vip(), &["n2"]);
    let r = a
        .request(&Request::Failover {
            instance: "nope".into(),
        })
        .unwrap();
    assert!(!r.ok);
    assert!(r.message.unwrap().contains("no vrrp_instance named nope"));
}

/// Notify scripts get keepalived's arguments; the FIFO gets keepalived's lines.
#[test]
fn notify_scripts_and_fifo() {
    if !can_run("notify") {
        return;
    }
    let lab = Lab::new("ntf", 1, false).unwrap();
    let out = lab.path("notify.out");
    let master = lab.path("master.out");
    let script = lab.write(
        "notify.sh",
        &format!("#!/bin/sh\necho \"$@\" >> {}\n", out.display()),
    );
    let touch = lab.write(
        "master.sh",
        &format!("#!/bin/sh\necho master >> {}\n", master.display()),
    );
    for p in [&script, &touch] {
        std::process::Command::new("chmod")
            .args(["755"])
            .arg(p)
            .status()
            .unwrap();
    }
    let fifo = lab.path("notify.fifo");
    let mut s = InstanceSpec::new("VI_1", 51, 200);
    s.extra = format!(
        "    notify {}\n    notify_master {}\n",
        script.display(),
        touch.display()
    );
    let global = format!("    vrrp_notify_fifo {}\n", fifo.display());
    // The FIFO must have a reader for lines to be kept: read it in the background.
    let cfg = config(&global, &[s]);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            wait_until(WAIT, || fifo.exists());
            std::fs::read_to_string(&fifo).unwrap_or_default()
        })
    };
    let mut d = Daemon::start(&lab, &lab.nodes[0], Kind::Ha, &cfg);
    wait_state(&d, "VI_1", "MASTER");
    let ok = wait_until(WAIT, || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.contains("INSTANCE VI_1 MASTER 200"))
    });
    assert!(ok, "notify output: {:?}", std::fs::read_to_string(&out));
    assert!(wait_until(WAIT, || master.exists()));
    d.stop();
    let ok = wait_until(WAIT, || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.contains("INSTANCE VI_1 STOP 200"))
    });
    assert!(ok, "notify output: {:?}", std::fs::read_to_string(&out));
    let lines = reader.join().unwrap();
    assert!(
        lines.contains("INSTANCE \"VI_1\" BACKUP 200\n")
            && lines.contains("INSTANCE \"VI_1\" MASTER 200\n"),
        "fifo: {lines:?}"
    );
}

/// An interface going down puts its instances in FAULT; coming back, they elect again.
#[test]
fn interface_down_is_fault() {
    if !can_run("interface_down") {
        return;
    }
    let lab = Lab::new("flt", 1, false).unwrap();
    let d = ha(&lab, 0, &[InstanceSpec::new("VI_1", 51, 200)]);
    wait_state(&d, "VI_1", "MASTER");
    lab.nodes[0].ip(&["link", "set", "eth0", "down"]).unwrap();
    wait_state(&d, "VI_1", "FAULT");
    lab.nodes[0].ip(&["link", "set", "eth0", "up"]).unwrap();
    wait_state(&d, "VI_1", "MASTER");
}

/// SIGUSR1 / SIGUSR2 write keepalived's dump files.
#[test]
fn usr1_and_usr2_dumps() {
    if !can_run("dumps") {
        return;
    }
    let lab = Lab::new("dmp", 1, false).unwrap();
    let d = ha(&lab, 0, &[InstanceSpec::new("VI_1", 51, 200)]);
    wait_state(&d, "VI_1", "MASTER");
    d.signal(libc::SIGUSR1);
    d.signal(libc::SIGUSR2);
    let data = lab.path("keepalived.data");
    let stats = lab.path("keepalived.stats");
    assert!(wait_until(WAIT, || data.exists() && stats.exists()));
    assert!(wait_until(WAIT, || std::fs::read_to_string(&data)
        .is_ok_and(|t| t.contains("VI_1") && t.contains("MASTER"))));
    assert!(wait_until(WAIT, || std::fs::read_to_string(&stats)
        .is_ok_and(|t| t.contains("adverts_sent"))));
}

/// keepalived's `use_vmac`: the master answers for the VIP from the RFC 5798 §7.3 virtual
/// MAC on a macvlan, so after a failover the client's ARP entry is still right; the VMAC
/// is removed on stop.
#[test]
fn use_vmac_moves_the_virtual_mac() {
    if !can_run("use_vmac") {
        return;
    }
    let lab = Lab::new("vmac", 2, true).unwrap();
    let spec = |p| {
        let mut s = InstanceSpec::new("VI_1", 51, p);
        s.extra = "    use_vmac\n".into();
        s
    };
    let mut a = ha(&lab, 0, &[spec(200)]);
    let b = ha(&lab, 1, &[spec(100)]);
    wait_state(&a, "VI_1", "MASTER");
    wait_state(&b, "VI_1", "BACKUP");
    let link = ha_tests::run(
        "ip",
        &["-n", &lab.nodes[0].ns, "-o", "link", "show", "vrrp.51"],
    )
    .expect("the VMAC exists");
    assert!(link.contains("00:00:5e:00:01:33"), "{link}");
    assert!(
        link.contains("macvlan") || link.contains("vrrp.51@eth0"),
        "{link}"
    );
    // The client resolves the VIP to the virtual MAC.
    let client = lab.client.as_ref().unwrap();
    let _ = ha_tests::run(
        "ip",
        &[
            "netns",
            "exec",
            &client.ns,
            "ping",
            "-c1",
            "-W1",
            &VIP4.to_string(),
        ],
    );
    let neigh = |ns: &str| ha_tests::run("ip", &["-n", ns, "neigh", "show", &VIP4.to_string()]);
    // Without ping installed, provoke ARP with a UDP datagram.
    if !neigh(&client.ns)
        .unwrap_or_default()
        .contains("00:00:5e:00:01:33")
    {
        let ns = client.ns.clone();
        std::thread::spawn(move || {
            ha_tests::probe::enter_netns(&ns).unwrap();
            let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
            let _ = s.send_to(b"x", (VIP4, 9));
        })
        .join()
        .unwrap();
    }
    assert!(
        wait_until(WAIT, || neigh(&client.ns)
            .unwrap_or_default()
            .contains("00:00:5e:00:01:33")),
        "client neighbour entry: {:?}",
        neigh(&client.ns)
    );
    a.stop();
    wait_state(&b, "VI_1", "MASTER");
    wait_holders(&lab, vip(), &["n2"]);
    assert!(
        ha_tests::run("ip", &["-n", &lab.nodes[0].ns, "link", "show", "vrrp.51"]).is_err(),
        "the VMAC is removed on stop"
    );
}

/// `virtual_routes` and `virtual_rules` follow MASTER; `static_*` are set while the daemon
/// runs, on every node; all are removed on stop.
#[test]
fn virtual_and_static_routes_and_rules() {
    if !can_run("routes") {
        return;
    }
    let lab = Lab::new("rt", 2, false).unwrap();
    let statics = "static_ipaddress {\n    203.0.113.5/32 dev eth0\n}\n\
                   static_routes {\n    203.0.113.128/25 dev eth0\n}\n\
                   static_rules {\n    from 203.0.113.5/32 table 200 priority 2000\n}\n";
    let spec = |p| {
        let mut s = InstanceSpec::new("VI_1", 51, p);
        s.extra =
            "    virtual_routes {\n        198.51.100.0/24 via 192.0.2.254 dev eth0\n    }\n    \
                   virtual_rules {\n        from 192.0.2.100/32 table 100 priority 1000\n    }\n"
                .into();
        s
    };
    let cfg = |p| format!("{}{statics}{}", config("", &[]), spec(p).render());
    let mut a = Daemon::start(&lab, &lab.nodes[0], Kind::Ha, &cfg(200));
    let b = Daemon::start(&lab, &lab.nodes[1], Kind::Ha, &cfg(100));
    wait_state(&a, "VI_1", "MASTER");
    wait_state(&b, "VI_1", "BACKUP");
    let route = |i: usize, dst: &str| {
        ha_tests::run("ip", &["-n", &lab.nodes[i].ns, "route", "show", dst]).unwrap_or_default()
    };
    let rules = |i: usize| {
        ha_tests::run("ip", &["-n", &lab.nodes[i].ns, "rule", "show"]).unwrap_or_default()
    };
    assert!(route(0, "198.51.100.0/24").contains("via 192.0.2.254"));
    assert!(
        route(1, "198.51.100.0/24").is_empty(),
        "the backup has no virtual route"
    );
    assert!(
        rules(0).contains("1000:\tfrom 192.0.2.100 lookup 100"),
        "{}",
        rules(0)
    );
    assert!(!rules(1).contains("lookup 100"));
    for i in 0..2 {
        assert!(lab.nodes[i].has_addr("203.0.113.5".parse().unwrap()));
        assert!(route(i, "203.0.113.128/25").contains("dev eth0"));
        assert!(
            rules(i).contains("2000:\tfrom 203.0.113.5 lookup 200"),
            "{}",
            rules(i)
        );
    }
    a.stop();
    wait_state(&b, "VI_1", "MASTER");
    assert!(wait_until(WAIT, || route(1, "198.51.100.0/24").contains("via")));
    assert!(route(0, "198.51.100.0/24").is_empty());
    assert!(!rules(0).contains("lookup 100") && !rules(0).contains("lookup 200"));
    assert!(!lab.nodes[0].has_addr("203.0.113.5".parse().unwrap()));
}

/// `track_file` with weight 0: a non-zero value is a fault (keepalived.conf(5) "Track
/// files"); `init_file` creates the file with its value.
#[test]
fn track_file_faults_on_non_zero() {
    if !can_run("track_file") {
        return;
    }
    let lab = Lab::new("tfile", 1, false).unwrap();
    let file = lab.path("state");
    let mut s = InstanceSpec::new("VI_1", 51, 200);
    s.extra = "    track_file {\n        flag weight 0\n    }\n".into();
    let cfg = format!(
        "{}track_file flag {{\n    file \"{}\"\n    init_file 0\n}}\n{}",
        config("", &[]),
        file.display(),
        s.render()
    );
    let d = Daemon::start(&lab, &lab.nodes[0], Kind::Ha, &cfg);
    wait_state(&d, "VI_1", "MASTER");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), "0");
    std::fs::write(&file, "1\n").unwrap();
    wait_state(&d, "VI_1", "FAULT");
    // Replacing the file (write elsewhere, rename over) is seen too.
    let tmp = lab.path("state.new");
    std::fs::write(&tmp, "0\n").unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    wait_state(&d, "VI_1", "MASTER");
}

/// `vrrp_track_process`: below quorum the priority drops by the weight and the backup takes
/// over; the process coming back restores it.
#[test]
fn track_process_quorum_moves_the_master() {
    if !can_run("track_process") {
        return;
    }
    let lab = Lab::new("tproc", 2, false).unwrap();
    let marker = format!("{}", 100_000 + std::process::id() % 800_000);
    let spawn_sleeper = || {
        std::process::Command::new("/bin/sleep")
            .arg(&marker)
            .spawn()
            .unwrap()
    };
    let mut sleeper = spawn_sleeper();
    let mut high = InstanceSpec::new("VI_1", 51, 200);
    high.extra = "    track_process {\n        sleeper\n    }\n".into();
    let cfg = format!(
        "{}vrrp_track_process sleeper {{\n    process /bin/sleep {marker}\n    weight -150\n}}\n{}",
        config("", &[]),
        high.render()
    );
    let a = Daemon::start(&lab, &lab.nodes[0], Kind::Ha, &cfg);
    let b = ha(&lab, 1, &[InstanceSpec::new("VI_1", 51, 100)]);
    wait_state(&a, "VI_1", "MASTER");
    wait_state(&b, "VI_1", "BACKUP");
    assert_eq!(
        a.instance("VI_1").unwrap().effective_priority,
        Priority(200)
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    wait_state(&b, "VI_1", "MASTER");
    assert_eq!(a.instance("VI_1").unwrap().effective_priority, Priority(50));
    let mut again = spawn_sleeper();
    wait_state(&a, "VI_1", "MASTER");
    assert_eq!(
        a.instance("VI_1").unwrap().effective_priority,
        Priority(200)
    );
    let _ = again.kill();
    let _ = again.wait();
}

/// `smtp_alert`: a mail per transition, to a real SMTP server (aiosmtpd) in the node.
#[test]
fn smtp_alert_reaches_a_real_smtp_server() {
    if !can_run("smtp_alert") {
        return;
    }
    let python = std::path::Path::new("/usr/bin/python3");
    let have_aiosmtpd = std::process::Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !have_aiosmtpd && !ha_tests::skip("smtp_alert", "apt-get install python3-aiosmtpd") {
        return;
    }
    let lab = Lab::new("smtp", 1, false).unwrap();
    let mail_log = lab.path("mail.log");
    let out = std::fs::File::create(&mail_log).unwrap();
    let mut server = lab.nodes[0]
        .command(python)
        .args([
            "-u",
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            "127.0.0.1:2525",
            "-c",
            "aiosmtpd.handlers.Debugging",
        ])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    // The server is up when its port accepts.
    let ns = lab.nodes[0].ns.clone();
    let up = wait_until(WAIT, || {
        let ns = ns.clone();
        std::thread::spawn(move || {
            ha_tests::probe::enter_netns(&ns).is_ok()
                && std::net::TcpStream::connect("127.0.0.1:2525").is_ok()
        })
        .join()
        .unwrap_or(false)
    });
    assert!(
        up,
        "aiosmtpd did not start: {:?}",
        std::fs::read_to_string(&mail_log)
    );
    let mut s = InstanceSpec::new("VI_1", 51, 200);
    s.extra = "    smtp_alert\n".into();
    let global = "    notification_email {\n        ops@example.com\n    }\n    \
                  notification_email_from ha@example.com\n    smtp_server 127.0.0.1 2525\n";
    let d = Daemon::start(&lab, &lab.nodes[0], Kind::Ha, &config(global, &[s]));
    wait_state(&d, "VI_1", "MASTER");
    let ok = wait_until(WAIT, || {
        std::fs::read_to_string(&mail_log).is_ok_and(|t| {
            t.contains("Subject: [test] VRRP Instance VI_1 - Entering MASTER state")
                && t.contains("ops@example.com")
        })
    });
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        ok,
        "mail log:\n{}\n--- ha ---\n{}",
        std::fs::read_to_string(&mail_log).unwrap_or_default(),
        d.log_text()
    );
}

/// `vrrp_garp_interval`: the gratuitous ARPs of a takeover are spaced by at least the
/// interval on the wire; without it the burst goes out at once.
#[test]
fn garp_interval_paces_the_burst() {
    if !can_run("garp_interval") {
        return;
    }
    let lab = Lab::new("garp", 1, true).unwrap();
    let client = lab.client.clone().unwrap();
    let mut spec = InstanceSpec::new("VI_1", 61, 150);
    spec.vips = vec![
        format!("{VIP4}/24"),
        format!("{VIP4_B}/24"),
        "192.0.2.102/24".into(),
    ];
    spec.extra = "    garp_master_repeat 2\n    garp_master_delay 0\n".into();
    // Two VIP bursts of 3 addresses × 2 repeats: 6 announcements each time.
    for (global, paced) in [("", false), ("    vrrp_garp_interval 0.05\n", true)] {
        let cap = ha_tests::capture::ArpCapture::start_in(&client.ns).unwrap();
        let mut d = Daemon::start(
            &lab,
            &lab.nodes[0],
            Kind::Ha,
            &config(global, std::slice::from_ref(&spec)),
        );
        wait_state(&d, "VI_1", "MASTER");
        let garps = || -> Vec<_> {
            cap.frames()
                .into_iter()
                .filter(|f| f.is_gratuitous())
                .collect()
        };
        let ok = wait_until(WAIT, || garps().len() >= 6);
        let g = garps();
        assert!(ok, "6 gratuitous ARPs expected, saw {}", g.len());
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(garps().len(), 6, "no more than the burst");
        let gaps: Vec<Duration> = g.windows(2).map(|w| w[1].at - w[0].at).collect();
        if paced {
            // Capture times are taken in userspace: allow scheduling jitter per gap, but
            // the burst as a whole must take its five gaps.
            assert!(
                gaps.iter().all(|d| *d >= Duration::from_millis(35)),
                "gaps {gaps:?} much shorter than vrrp_garp_interval 0.05"
            );
            assert!(
                g[5].at - g[0].at >= Duration::from_millis(240),
                "burst of 6 spread over {:?}, less than 5 × 50 ms",
                g[5].at - g[0].at
            );
        } else {
            let spread = g[5].at - g[0].at;
            assert!(
                spread < Duration::from_millis(45),
                "unpaced burst spread over {spread:?}"
            );
        }
        let mut addrs: Vec<_> = g.iter().map(|f| f.sender_ip).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), 3, "each VIP announced: {addrs:?}");
        d.stop();
    }
}

/// RFC 5798 §6.1 Accept_Mode: under `vrrp_strict` (no_accept) the MASTER answers ARP for the
/// VIP but drops traffic addressed to it (keepalived's nftables drop rule); `accept`, set by
/// a reload, lets it through; stopping removes the tables.
#[test]
fn no_accept_drops_traffic_to_the_vip_until_accept() {
    if !can_run("no_accept") {
        return;
    }
    if !ha_tests::need_program("no_accept", "nft", "nftables") {
        return;
    }
    let lab = Lab::new("acc", 1, true).unwrap();
    let client = lab.client.clone().unwrap();
    let node = lab.nodes[0].clone();
    let spec = InstanceSpec::new("VI_1", 71, 150);
    let strict = "    vrrp_strict\n";
    let mut d = Daemon::start(
        &lab,
        &node,
        Kind::Ha,
        &config(strict, std::slice::from_ref(&spec)),
    );
    wait_state(&d, "VI_1", "MASTER");
    let in_ns = |ns: &str, cmd: &str| -> (bool, String) {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "sh", "-c", cmd])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    {
        let ns = node.ns.clone();
        std::thread::spawn(move || {
            if ha_tests::probe::enter_netns(&ns).is_ok() {
                let _ = ha_tests::probe::serve("n1");
            }
        });
    }
    let connects = |addr: IpAddr| {
        let ns = client.ns.clone();
        std::thread::spawn(move || {
            ha_tests::probe::enter_netns(&ns).is_ok()
                && std::net::TcpStream::connect_timeout(
                    &(addr, ha_tests::probe::HTTP_PORT).into(),
                    Duration::from_secs(1),
                )
                .is_ok()
        })
        .join()
        .unwrap_or(false)
    };
    assert!(
        wait_until(WAIT, || connects(IpAddr::V4(node.ip4))),
        "the node's own address answers"
    );
    let ping = || connects(vip());
    let table = || in_ns(&node.ns, "nft list table ip ha_vrrp");
    let (has, text) = table();
    assert!(has && text.contains(&VIP4.to_string()), "drop set: {text}");
    assert!(!ping(), "no_accept: the VIP must not answer");
    let (_, neigh) = in_ns(&client.ns, &format!("ip neigh show {VIP4}"));
    assert!(
        neigh.contains("lladdr"),
        "ARP for the VIP is still answered: {neigh:?}"
    );

    let mut accept = spec.clone();
    accept.extra = "    accept\n".into();
    std::fs::write(&d.config, config(strict, std::slice::from_ref(&accept))).unwrap();
    d.signal(libc::SIGHUP);
    assert!(wait_until(WAIT, || d
        .status()
        .is_some_and(|s| s.reloads == 1)));
    assert!(!table().0, "accept: no table left");
    assert!(ping(), "accept: the VIP answers");
    assert_eq!(d.state("VI_1").as_deref(), Some("MASTER"));

    std::fs::write(&d.config, config(strict, std::slice::from_ref(&spec))).unwrap();
    d.signal(libc::SIGHUP);
    assert!(wait_until(WAIT, || d
        .status()
        .is_some_and(|s| s.reloads == 2)));
    assert!(table().0, "no_accept again after a reload");
    assert!(!ping());
    d.stop();
    assert!(!table().0, "the tables are removed at exit");

    // A table left by a killed run is removed at start, even by an accept-mode config.
    assert!(in_ns(&node.ns, "nft add table ip ha_vrrp").0);
    let d = Daemon::start(
        &lab,
        &node,
        Kind::Ha,
        &config(strict, std::slice::from_ref(&accept)),
    );
    wait_state(&d, "VI_1", "MASTER");
    assert!(!table().0, "stale table removed");
}
