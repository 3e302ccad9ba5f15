//! The XDP fast path in network namespaces: ARP for the VIP answered by the program (the
//! counter moves and the reply on the wire is right), a BACKUP whose engine does not wake up
//! for the master's adverts (its context switches counted, against the raw-socket path), and
//! failover through the kernel's master-down timer. The whole VRRP and interop suites also
//! run with XDP on (it is the default) and again with `HA_TEST_NO_XDP=1`.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use ha_tests::capture::ArpCapture;
use ha_tests::daemon::{config, Daemon, InstanceSpec, Kind};
use ha_tests::lab::{Lab, VIP4, VIP4_B};
use ha_tests::probe::enter_netns;
use ha_tests::{can_run, wait_until};

const WAIT: Duration = Duration::from_secs(10);

fn wait_state(d: &Daemon, name: &str, state: &str) {
    let ok = wait_until(WAIT, || d.state(name).as_deref() == Some(state));
    assert!(
        ok,
        "{name} on {} is {:?}, not {state}\n{}",
        d.node.name,
        d.state(name),
        d.log_text()
    );
}

fn counter(d: &Daemon, name: &str) -> u64 {
    d.status()
        .and_then(|s| s.xdp)
        .and_then(|x| x.counters.get(name).copied())
        .unwrap_or(0)
}

fn pair(lab: &Lab, advert_int: &str, extra: &[&str]) -> (Daemon, Daemon) {
    let mut a = InstanceSpec::new("VI_1", 51, 150);
    a.advert_int = advert_int.into();
    let mut b = InstanceSpec::new("VI_1", 51, 100);
    b.advert_int = advert_int.into();
    let n1 = Daemon::start_with(lab, &lab.nodes[0], Kind::Ha, &config("", &[a]), extra);
    let n2 = Daemon::start_with(lab, &lab.nodes[1], Kind::Ha, &config("", &[b]), extra);
    wait_state(&n1, "VI_1", "MASTER");
    n2.wait_following("VI_1", 150);
    (n1, n2)
}

/// DESIGN.md decision 4: the MASTER's XDP program answers the client's ARP request for the
/// VIP with XDP_TX; the reply names the VIP and the master's MAC.
#[test]
fn arp_for_the_vip_is_answered_by_xdp() {
    if !can_run("xdp arp") {
        return;
    }
    let lab = Lab::new("xarp", 2, true).unwrap();
    let (n1, _n2) = pair(&lab, "0.1", &[]);
    let x = n1
        .status()
        .and_then(|s| s.xdp)
        .expect("XDP runs on the master");
    assert_eq!(x.interfaces.len(), 1, "{x:?}");
    let client = lab.client.clone().unwrap();
    let cap = ArpCapture::start_in(&client.ns).unwrap();
    let before = counter(&n1, "arp_reply");
    // A datagram to the VIP makes the client resolve it.
    let ns = client.ns.clone();
    std::thread::spawn(move || {
        enter_netns(&ns).unwrap();
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        let _ = s.send_to(b"x", SocketAddr::new(IpAddr::V4(VIP4), 9));
    })
    .join()
    .unwrap();
    let replied = || {
        cap.frames()
            .into_iter()
            .find(|f| f.op == 2 && f.sender_ip == VIP4)
    };
    assert!(
        wait_until(WAIT, || replied().is_some()),
        "no ARP reply for the VIP"
    );
    let reply = replied().unwrap();
    assert_eq!(
        reply.sender_mac,
        lab.nodes[0].mac().expect("MAC"),
        "the master's MAC"
    );
    assert_eq!(reply.target_ip, client.ip4, "to the asking client");
    assert!(
        counter(&n1, "arp_reply") > before,
        "the reply came from XDP (arp_reply counter)"
    );
    let eth0 = n1
        .status()
        .and_then(|s| s.xdp)
        .unwrap()
        .interfaces
        .remove(0);
    assert!(
        eth0.counters.get("arp_reply").copied().unwrap_or(0) > before,
        "counted on eth0: {:?}",
        eth0.counters
    );
}

/// DESIGN.md decision 3: in steady state the BACKUP's adverts are absorbed in the kernel: no
/// ring-buffer events and no wake-ups of the engine thread; the raw-socket path wakes up for
/// every advert.
#[test]
fn steady_state_backup_does_not_wake_up() {
    if !can_run("xdp steady state") {
        return;
    }
    let window = Duration::from_secs(3);
    let lab = Lab::new("xss", 2, false).unwrap();
    let (_n1, n2) = pair(&lab, "0.05", &[]);
    // Let the kernel take over following (one check at the first Master_Down_Interval).
    std::thread::sleep(Duration::from_millis(500));
    let i0 = n2.instance("VI_1").unwrap();
    let w0 = n2.engine_wakeups().expect("engine thread");
    std::thread::sleep(window);
    let w1 = n2.engine_wakeups().unwrap();
    let i1 = n2.instance("VI_1").unwrap();
    let absorbed = i1.counters.xdp_absorbed - i0.counters.xdp_absorbed;
    let events = i1.counters.xdp_events - i0.counters.xdp_events;
    assert!(
        absorbed >= 40,
        "adverts absorbed in 3 s at 50 ms: {absorbed}"
    );
    assert_eq!(events, 0, "no ring-buffer events in steady state");
    assert_eq!(
        i1.counters.adverts_received, i0.counters.adverts_received,
        "no advert reached userspace"
    );
    eprintln!(
        "xdp: absorbed {absorbed}, events {events}, wakeups {}",
        w1 - w0
    );
    // Nothing else runs on this node: a stray link event at most.
    assert!(
        w1 - w0 <= 2,
        "engine woke {} times in 3 s with XDP",
        w1 - w0
    );
    drop(lab);

    let lab = Lab::new("xsr", 2, false).unwrap();
    let (_n1, n2) = pair(&lab, "0.05", &["--no-xdp"]);
    assert!(n2.status().unwrap().xdp.is_none());
    std::thread::sleep(Duration::from_millis(500));
    let w0 = n2.engine_wakeups().unwrap();
    std::thread::sleep(window);
    let w1 = n2.engine_wakeups().unwrap();
    eprintln!("raw: wakeups {}", w1 - w0);
    assert!(
        w1 - w0 >= 40,
        "raw path: {} wake-ups for ~60 adverts",
        w1 - w0
    );
}

/// RFC 5798 §6.4.2 with the timer in the kernel: the master's link is cut, the kernel's
/// master-down event makes the backup MASTER; the old master preempts on return.
#[test]
fn failover_through_the_kernel_master_down_timer() {
    if !can_run("xdp failover") {
        return;
    }
    let lab = Lab::new("xfo", 2, false).unwrap();
    let (n1, n2) = pair(&lab, "0.05", &[]);
    // The cut must find the kernel's timer armed, or the userspace timer takes over.
    let armed = wait_until(WAIT, || {
        n2.instance("VI_1")
            .is_some_and(|i| i.counters.xdp_timer_armed)
    });
    assert!(armed, "the kernel timer never armed on the backup");
    lab.cut(&lab.nodes[0]).unwrap();
    wait_state(&n2, "VI_1", "MASTER");
    assert!(counter(&n2, "master_down") >= 1, "the kernel timer noticed");
    assert!(lab.nodes[1].has_addr(IpAddr::V4(VIP4)));
    lab.restore(&lab.nodes[0]).unwrap();
    wait_state(&n2, "VI_1", "BACKUP");
    wait_state(&n1, "VI_1", "MASTER");
}

/// Where BPF is refused (here: no CAP_BPF / CAP_SYS_ADMIN), `ha` says so and runs on raw
/// sockets: the election and failover still work.
#[test]
fn falls_back_to_raw_sockets_without_bpf() {
    if !can_run("xdp fallback") {
        return;
    }
    if !ha_tests::need_program("xdp fallback", "setpriv", "util-linux") {
        return;
    }
    let lab = Lab::new("xfb", 2, false).unwrap();
    let drop_bpf = [
        "setpriv",
        "--bounding-set",
        "-bpf,-sys_admin,-perfmon",
        "--",
    ];
    let a = InstanceSpec::new("VI_1", 51, 150);
    let b = InstanceSpec::new("VI_1", 51, 100);
    let n1 = Daemon::start_wrapped(
        &lab,
        &lab.nodes[0],
        Kind::Ha,
        &config("", &[a]),
        &drop_bpf,
        &[],
    );
    let n2 = Daemon::start_with(&lab, &lab.nodes[1], Kind::Ha, &config("", &[b]), &[]);
    wait_state(&n1, "VI_1", "MASTER");
    wait_state(&n2, "VI_1", "BACKUP");
    assert!(n1.status().unwrap().xdp.is_none(), "no XDP without CAP_BPF");
    assert!(
        n1.log_text().contains("XDP fast path not available"),
        "the fallback is logged:\n{}",
        n1.log_text()
    );
    assert!(n2.status().unwrap().xdp.is_some(), "the other node has it");
    // The graceful handover still works from the raw-socket node to the XDP one.
    let mut n1 = n1;
    n1.stop();
    wait_state(&n2, "VI_1", "MASTER");
}

/// While the kernel watches the master, the state machine's own timer is not refreshed. A
/// lower-priority advert from a third router (which the state machine ignores, RFC 5798
/// §6.4.2) must not meet that stale timer and make the BACKUP take over at once.
#[test]
fn third_router_advert_does_not_trigger_a_takeover() {
    use ha::units::{Centis, Priority, Vrid};
    use ha::vrrp::ipv4::{encode_ipv4_packet, Ipv4Tx};
    use ha::vrrp::packet::{Advert, Auth, Version, MCAST_V4};
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};

    if !can_run("xdp third router") {
        return;
    }
    let lab = Lab::new("x3r", 3, false).unwrap();
    let (_n1, n2) = pair(&lab, "0.1", &[]);
    // Its daemon may have come up first and been MASTER until preempted: count from here.
    let took_over = n2.instance("VI_1").unwrap().counters.became_master;
    // The kernel timer takes over following at the first Master_Down_Interval.
    let armed = wait_until(WAIT, || {
        n2.instance("VI_1")
            .is_some_and(|i| i.counters.xdp_timer_armed)
    });
    assert!(armed, "the kernel timer never armed on the backup");
    // Let the state machine's own timer go stale (several Master_Down_Intervals).
    std::thread::sleep(Duration::from_millis(1500));
    let a = Advert {
        version: Version::V3,
        vrid: Vrid(51),
        priority: Priority(50),
        adver_int: Centis(10),
        addrs: vec![IpAddr::V4(VIP4)],
        auth: Auth::None,
    };
    let pkt = encode_ipv4_packet(&a, &Ipv4Tx::new(lab.nodes[2].ip4, MCAST_V4, 1)).unwrap();
    let ns = lab.nodes[2].ns.clone();
    std::thread::spawn(move || {
        enter_netns(&ns).unwrap();
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        s.set_header_included_v4(true).unwrap();
        s.bind_device(Some(b"eth0")).unwrap();
        s.send_to(
            &pkt,
            &SockAddr::from(std::net::SocketAddrV4::new(MCAST_V4, 0)),
        )
        .unwrap();
    })
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let i = n2.instance("VI_1").unwrap();
    assert_eq!(
        i.counters.became_master, took_over,
        "the backup took over: {i:?}"
    );
    assert_eq!(i.state, "BACKUP");
    assert!(
        i.counters.adverts_received >= 1,
        "the third router's advert reached it"
    );
}

/// Two unicast instances with the same VRID on one interface (keepalived allows it: the
/// peers tell them apart) share one kernel key, so the program cannot tell their adverts
/// apart: both stay on the raw socket, say so, and elect and fail over as usual. The other
/// nodes, with one instance each, keep the fast path.
#[test]
fn instances_sharing_a_vrid_stay_on_the_raw_socket() {
    if !can_run("xdp shared vrid") {
        return;
    }
    let lab = Lab::new("xsh", 3, false).unwrap();
    let ip: Vec<IpAddr> = lab.nodes.iter().map(|n| IpAddr::V4(n.ip4)).collect();
    let spec = |name: &str, prio, src: IpAddr, peer: IpAddr, vip: std::net::Ipv4Addr| {
        let mut s = InstanceSpec::new(name, 51, prio);
        s.unicast = Some((src, vec![peer]));
        s.vips = vec![format!("{vip}/24")];
        s
    };
    // n1: master of A (with n2), backup of B (with n3).
    let a1 = spec("VI_A", 200, ip[0], ip[1], VIP4);
    let b1 = spec("VI_B", 100, ip[0], ip[2], VIP4_B);
    let a2 = spec("VI_A", 100, ip[1], ip[0], VIP4);
    let b3 = spec("VI_B", 200, ip[2], ip[0], VIP4_B);
    // XDP on even under HA_TEST_NO_XDP: the fallback is what this test is about.
    let start = |node: usize, instances: &[InstanceSpec]| {
        Daemon::start_with(
            &lab,
            &lab.nodes[node],
            Kind::Ha,
            &config("", instances),
            &[],
        )
    };
    let n1 = start(0, &[a1, b1]);
    let n2 = start(1, &[a2]);
    let n3 = start(2, &[b3]);
    wait_state(&n1, "VI_A", "MASTER");
    wait_state(&n2, "VI_A", "BACKUP");
    wait_state(&n3, "VI_B", "MASTER");
    wait_state(&n1, "VI_B", "BACKUP");
    assert!(
        n1.log_text()
            .contains("another instance uses VRID 51 on eth0 too"),
        "the fallback is logged:\n{}",
        n1.log_text()
    );
    // Some Master_Down_Intervals of steady state (0.1 s adverts).
    std::thread::sleep(Duration::from_millis(1500));
    let b = n1.instance("VI_B").unwrap();
    assert_eq!(
        b.counters.xdp_absorbed, 0,
        "n1's VI_B absorbed in the kernel: {b:?}"
    );
    assert!(
        b.counters.adverts_received >= 10,
        "n1's VI_B hears n3 through the raw socket: {b:?}"
    );
    let passed = counter(&n1, "pass_not_ours");
    assert!(
        passed >= 10,
        "n1's program passes VRID 51 to the stack: pass_not_ours = {passed}"
    );
    let a = n2.instance("VI_A").unwrap();
    assert!(
        a.counters.xdp_absorbed >= 10,
        "n2, alone on its VRID, absorbs n1's adverts in the kernel: {a:?}"
    );
    // A hard failure of n3: n1's own Master_Down_Timer (raw socket, no kernel timer) makes
    // it MASTER of VI_B; VI_A stays as it was.
    lab.cut(&lab.nodes[2]).unwrap();
    wait_state(&n1, "VI_B", "MASTER");
    let down = counter(&n1, "master_down");
    assert_eq!(down, 0, "no kernel master-down event on n1: {down}");
    drop(n3);
    assert!(lab.nodes[0].has_addr(IpAddr::V4(VIP4_B)));
    assert_eq!(n1.state("VI_A").as_deref(), Some("MASTER"));
    assert_eq!(n2.state("VI_A").as_deref(), Some("BACKUP"));
}
