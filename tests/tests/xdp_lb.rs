//! The XDP load balancer in a bridge lab (issue 13): a client, an `ha` director pair (VRRP
//! and `lb_backend xdp`, DR) and three real servers running nginx with the VIP on `lo`. It
//! proves that requests spread by weight, that a stopped real server gets no new flows once
//! its checker sees it while flows on the others go on, that a long download survives the
//! MASTER director's link being cut (the backup's Maglev table is the same, so the flow
//! lands on the same server with no state shared), and that removing one real server moves
//! few flows besides its own. TUN needs ipip/fou, which this kernel lacks: the VM test
//! (`tests/vm/xdp-tun.sh`) covers it on Debian's kernel.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ha_tests::daemon::{Daemon, Kind};
use ha_tests::lab::{Lab, Node, VIP4};
use ha_tests::servers::{in_netns, Nginx, NginxOpts};
use ha_tests::{can_run, need_program, run, wait_until};
use socket2::{Domain, Socket, Type};

const WEIGHTS: [u32; 3] = [1, 2, 3];
/// The big page: 2.4 MB at 400 kB/s, about 6 s.
const BIG: usize = 2_400_000;

fn gate(test: &str) -> bool {
    can_run(test) && need_program(test, "nginx", "nginx") && need_program(test, "curl", "curl")
}

fn sysctl(n: &Node, kv: &str) {
    run("ip", &["netns", "exec", &n.ns, "sysctl", "-qw", kv]).expect("sysctl");
}

fn config(priority: u8, reals: &[&Node]) -> String {
    let mut rs = String::new();
    for (n, w) in reals.iter().zip(WEIGHTS) {
        rs.push_str(&format!(
            "    real_server {} 80 {{\n        weight {w}\n        TCP_CHECK {{\n            \
             connect_timeout 1\n            retry 0\n            delay_loop 1\n        }}\n    }}\n",
            n.ip4
        ));
    }
    format!(
        "global_defs {{\n    lb_backend xdp\n}}\n\
         vrrp_instance VI {{\n    interface eth0\n    state BACKUP\n    virtual_router_id 51\n    \
         version 3\n    priority {priority}\n    advert_int 0.1\n    \
         virtual_ipaddress {{\n        {VIP4}/24\n    }}\n}}\n\
         virtual_server {VIP4} 80 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind DR\n    \
         protocol TCP\n{rs}}}\n\
         virtual_server {VIP4} 8080 {{\n    lb_kind NAT\n    protocol TCP\n    \
         real_server {} 8080 {{\n        weight 1\n    }}\n}}\n",
        reals[0].ip4
    )
}

/// One HTTP/1.0 request from the client's `sport` to the VIP: the body (the server's
/// name), or None when it failed. nginx closes first, so the port is free again at once.
fn get(sport: u16) -> Option<String> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    s.set_reuse_address(true).ok()?;
    let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200)), sport);
    s.bind(&local.into()).ok()?;
    s.connect_timeout(
        &SocketAddr::new(IpAddr::V4(VIP4), 80).into(),
        Duration::from_secs(2),
    )
    .ok()?;
    let mut t: std::net::TcpStream = s.into();
    t.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    t.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut r = String::new();
    t.read_to_string(&mut r).ok()?;
    r.split_once("\r\n\r\n").map(|(_, b)| b.trim().to_string())
}

/// Which server answered each of `sports` (None: no answer).
fn survey(client: &Node, sports: std::ops::Range<u16>) -> BTreeMap<u16, Option<String>> {
    in_netns(client, || sports.map(|p| (p, get(p))).collect()).expect("client")
}

/// curl of the big page from `sport`, in the background: its output file.
fn download(lab: &Lab, client: &Node, sport: u16) -> (std::process::Child, std::path::PathBuf) {
    let out = lab.path(&format!("download-{sport}"));
    let child = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &client.ns,
            "curl",
            "-s",
            "--max-time",
            "30",
        ])
        .args(["--local-port", &sport.to_string(), "-o"])
        .arg(&out)
        .arg(format!("http://{VIP4}/big"))
        .spawn()
        .expect("curl");
    (child, out)
}

fn finished_intact(mut child: std::process::Child, out: &std::path::Path, body: &[u8]) -> bool {
    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
    ok && std::fs::read(out).map(|b| b == body).unwrap_or(false)
}

fn live_reals(d: &Daemon) -> usize {
    d.status()
        .and_then(|s| s.checkers)
        .and_then(|c| c.kernel)
        .map(|k| k.iter().map(|s| s.real_servers.len()).sum())
        .unwrap_or(0)
}

#[test]
fn dr_director_pair_spreads_by_weight_drops_dead_servers_and_survives_failover() {
    let test = "dr_director_pair_spreads_by_weight_drops_dead_servers_and_survives_failover";
    if !gate(test) {
        return;
    }
    let lab = Lab::new("xlb", 5, true).expect("lab");
    let client = lab.client.clone().expect("client");
    let (d1, d2) = (&lab.nodes[0], &lab.nodes[1]);
    let reals: Vec<&Node> = lab.nodes[2..].iter().collect();
    let body: Vec<u8> = (0..BIG).map(|i| (i * 7 % 251) as u8).collect();
    let mut servers = Vec::new();
    for n in &reals {
        n.ip(&["addr", "add", &format!("{VIP4}/32"), "dev", "lo"])
            .expect("vip on lo");
        sysctl(n, "net.ipv4.conf.all.arp_ignore=1");
        sysctl(n, "net.ipv4.conf.all.arp_announce=2");
        let opts = NginxOpts {
            index: n.name.clone(),
            extra: "location = /big { limit_rate 400k; }".into(),
            ..NginxOpts::default()
        };
        let s = Nginx::start(&lab, n, opts).expect("nginx");
        s.set_page("big", &body);
        servers.push(s);
    }
    // No forwarding set on the directors, as keepalived's LVS-DR recipes leave it: ha turns
    // it on for the VIP's interface, which the kernel's FIB lookup from XDP needs.
    let m1 = Daemon::start(&lab, d1, Kind::Ha, &config(150, &reals));
    let m2 = Daemon::start(&lab, d2, Kind::Ha, &config(100, &reals));
    assert!(
        wait_until(Duration::from_secs(10), || m1.state("VI").as_deref()
            == Some("MASTER")
            && live_reals(&m1) == 3
            && live_reals(&m2) == 3),
        "director 1 MASTER with 3 real servers:\n{}",
        m1.log_text()
    );

    assert!(
        m1.log_text()
            .contains("turned on net.ipv4.conf.eth0.forwarding"),
        "forwarding turned on for the VIP's interface:\n{}",
        m1.log_text()
    );

    // NAT is refused by the XDP forwarder, with the reason, naming the real server.
    assert!(
        m1.log_text()
            .contains("NAT needs the replies back through the director"),
        "the NAT real server refused with its reason:\n{}",
        m1.log_text()
    );

    // Spread: 1200 flows from fixed source ports, about 1:2:3.
    let before = survey(&client, 20000..21200);
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for s in before.values() {
        *count
            .entry(s.clone().unwrap_or_else(|| "-".into()))
            .or_default() += 1;
    }
    for (n, w) in reals.iter().zip(WEIGHTS) {
        let got = count.get(&n.name).copied().unwrap_or(0) as f64;
        let want = 1200.0 * f64::from(w) / 6.0;
        assert!(
            (got - want).abs() < 0.25 * want + 20.0,
            "{}: {got} of ~{want}: {count:?}",
            n.name
        );
    }

    // A download on a server that stays (a port that went to the third server: the
    // connection table keeps it there), then the first server stops.
    let keep = *before
        .iter()
        .find(|(_, s)| s.as_deref() == Some(reals[2].name.as_str()))
        .expect("a flow on the third server")
        .0;
    let (dl, out) = download(&lab, &client, keep);
    std::thread::sleep(Duration::from_millis(500));
    servers[0].stop();
    assert!(
        wait_until(Duration::from_secs(15), || live_reals(&m1) == 2
            && live_reals(&m2) == 2),
        "the stopped server left both directors' tables"
    );
    let after_stop = survey(&client, 22000..22300);
    assert!(
        after_stop
            .values()
            .all(|s| s.is_some() && s.as_deref() != Some(reals[0].name.as_str())),
        "every new flow served, none by the stopped server: {after_stop:?}"
    );
    assert!(
        finished_intact(dl, &out, &body),
        "the download on a live server went on"
    );

    // Failover: a download through director 1, whose link is then cut. Its port is one
    // director 1 gave the second server with the first gone, as director 2 will.
    let moving = *after_stop
        .iter()
        .find(|(_, s)| s.as_deref() == Some(reals[1].name.as_str()))
        .expect("a flow on the second server")
        .0;
    let (dl, out) = download(&lab, &client, moving);
    std::thread::sleep(Duration::from_millis(1500));
    lab.cut(d1).expect("cut");
    assert!(
        wait_until(Duration::from_secs(5), || m2.state("VI").as_deref()
            == Some("MASTER")),
        "director 2 took over"
    );
    assert!(
        finished_intact(dl, &out, &body),
        "the download survived the director's failure:\n{}",
        m2.log_text()
    );

    // Maglev disruption, measured across directors: director 2 (no state from director
    // 1, the first server gone) against director 1's choices with all three. Only the
    // flows of the removed server may move, and at most 1 % of the others (plus noise).
    // (The first download's port is skipped: curl closed it, so the client holds it in
    // TIME_WAIT.)
    let mut after = survey(&client, 20000..21200);
    after.remove(&keep);
    let lost: Vec<_> = after.iter().filter(|(_, s)| s.is_none()).collect();
    assert!(
        lost.is_empty(),
        "flows not served after the failover: {lost:?}"
    );
    let (mut own, mut others) = (0, 0);
    for (p, now) in &after {
        let was = &before[p];
        if was.as_deref() == Some(reals[0].name.as_str()) {
            own += 1;
        } else if now != was {
            others += 1;
        }
    }
    assert!(own > 0);
    assert!(
        others <= 12 + 12,
        "{others} of {} flows moved besides the removed server's",
        after.len() - own
    );
    eprintln!("Maglev in the lab: {own} flows of the removed server moved, {others} others");
    drop((m1, m2));
}
