//! Fencing a dead or frozen master in the kernel: the XDP program outlives a killed `ha`
//! (its link is pinned) and, once the engine's heartbeat is older than the fence time,
//! answers no ARP for the VIPs and drops their traffic, although the killed master's stack
//! still has the addresses. A client then hears one MAC for the VIP and reaches the new
//! master. A restarted `ha` removes what the killed run left, adopts the pinned program and
//! elects; a master stopped with SIGSTOP and continued hands over instead of answering beside
//! the new one.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ha_tests::capture::ArpCapture;
use ha_tests::daemon::{config, Daemon, InstanceSpec, Kind};
use ha_tests::lab::{Lab, VIP4};
use ha_tests::probe::enter_netns;
use ha_tests::{can_run, wait_until};

const WAIT: Duration = Duration::from_secs(15);

/// The MACs that answer the client's ARP requests for the VIP, over three fresh resolutions.
fn arp_answers(lab: &Lab) -> std::collections::BTreeSet<[u8; 6]> {
    let client = lab.client.clone().expect("client");
    let cap = ArpCapture::start_in(&client.ns).expect("capture");
    for _ in 0..3 {
        let _ = client.ip(&["neigh", "flush", "all"]);
        let ns = client.ns.clone();
        std::thread::spawn(move || {
            enter_netns(&ns).unwrap();
            let s = UdpSocket::bind("0.0.0.0:0").unwrap();
            let _ = s.send_to(b"x", SocketAddr::new(IpAddr::V4(VIP4), 9));
        })
        .join()
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    cap.frames()
        .into_iter()
        .filter(|f| f.op == 2 && f.sender_ip == VIP4)
        .map(|f| f.sender_mac)
        .collect()
}

/// A one-page HTTP server on each node, answering with the node's name.
struct Pages(Vec<Child>);

impl Pages {
    fn start(lab: &Lab) -> Pages {
        let mut kids = Vec::new();
        for n in &lab.nodes {
            let dir = lab.path(&format!("www-{}", n.name));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("index.html"), &n.name).unwrap();
            let child = n
                .command(std::path::Path::new("/usr/bin/python3"))
                .args([
                    "-m",
                    "http.server",
                    "8080",
                    "--bind",
                    "0.0.0.0",
                    "--directory",
                ])
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3 http.server");
            kids.push(child);
        }
        Pages(kids)
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        for k in &mut self.0 {
            let _ = k.kill();
            let _ = k.wait();
        }
    }
}

/// Who answers an HTTP request to the VIP from the client (a fresh TCP connection).
fn who_answers(lab: &Lab) -> Option<String> {
    let client = lab.client.clone().unwrap();
    let out = client
        .command(std::path::Path::new("curl"))
        .args(["-s", "--max-time", "2", &format!("http://{VIP4}:8080/")])
        .output()
        .ok()?;
    let body = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!body.is_empty()).then_some(body)
}

fn pair(lab: &Lab) -> (Daemon, Daemon, String) {
    let a = config("", &[InstanceSpec::new("VI_1", 51, 150)]);
    let b = config("", &[InstanceSpec::new("VI_1", 51, 100)]);
    let na = Daemon::start(lab, &lab.nodes[0], Kind::Ha, &a);
    let nb = Daemon::start(lab, &lab.nodes[1], Kind::Ha, &b);
    let vip = VIP4.into();
    assert!(
        wait_until(WAIT, || lab.holders(vip) == [lab.nodes[0].name.clone()]),
        "n1 is not the master: {:?}",
        lab.holders(vip)
    );
    (na, nb, a)
}

#[test]
fn a_killed_master_is_fenced_and_a_restart_cleans_up_and_adopts() {
    if !can_run("fence sigkill") || std::env::var_os("HA_TEST_NO_XDP").is_some() {
        return;
    }
    let lab = Lab::new("fkill", 2, true).expect("lab");
    let _pages = Pages::start(&lab);
    let (mut na, nb, conf_a) = pair(&lab);
    let (a, b) = (lab.nodes[0].clone(), lab.nodes[1].clone());
    assert!(
        wait_until(WAIT, || who_answers(&lab).as_deref()
            == Some(a.name.as_str())),
        "the master's page"
    );
    na.kill();
    let vip = VIP4.into();
    assert!(
        wait_until(WAIT, || lab.holders(vip).contains(&b.name)),
        "the backup did not take over"
    );
    // The killed master's stack still has the VIP (as keepalived's would)...
    assert!(
        a.has_addr(vip),
        "the VIP should still be on the killed node"
    );
    // ...but its XDP program, still attached, fences it: one MAC answers, the backup's.
    let macs = arp_answers(&lab);
    let link = Command::new("ip")
        .args(["-n", &a.ns, "-d", "link", "show", "eth0"])
        .output()
        .unwrap();
    assert_eq!(
        macs.into_iter().collect::<Vec<_>>(),
        vec![b.mac().expect("MAC")],
        "ARP replies for the VIP (n1 {:02x?}, n2 {:02x?})\n{}\n{}",
        a.mac().expect("MAC"),
        b.mac().expect("MAC"),
        String::from_utf8_lossy(&link.stdout),
        na.log_text()
    );
    assert_eq!(who_answers(&lab).as_deref(), Some(b.name.as_str()));
    // The pinned program stays on the dead node's interface.
    let xdp = Command::new("ip")
        .args(["-n", &a.ns, "link", "show", "eth0"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&xdp.stdout).contains("xdp"),
        "no XDP program on the killed node: {}",
        String::from_utf8_lossy(&xdp.stdout)
    );

    // A restart removes the left VIP before it elects, adopts the pinned link, and (at
    // the higher priority) takes the VIP back.
    let na2 = Daemon::start(&lab, &a, Kind::Ha, &conf_a);
    let log = na2
        .wait_log(|l| l.contains("stopped without cleaning up") && l.contains("adopted the link"));
    assert!(
        log.contains("stopped without cleaning up"),
        "no clean-up of the killed run:\n{log}"
    );
    assert!(log.contains("adopted the link"), "no adoption:\n{log}");
    assert!(
        wait_until(WAIT, || lab.holders(vip) == [a.name.clone()]),
        "after the restart: {:?}",
        lab.holders(vip)
    );
    assert_eq!(
        arp_answers(&lab).into_iter().collect::<Vec<_>>(),
        vec![a.mac().expect("MAC")]
    );
    assert!(wait_until(WAIT, || who_answers(&lab).as_deref()
        == Some(a.name.as_str())));
    drop(nb);
}

#[test]
fn a_stopped_and_continued_master_hands_over_instead_of_answering_twice() {
    if !can_run("fence sigstop") || std::env::var_os("HA_TEST_NO_XDP").is_some() {
        return;
    }
    let lab = Lab::new("fstop", 2, true).expect("lab");
    let (na, _nb, _) = pair(&lab);
    let (a, b) = (lab.nodes[0].clone(), lab.nodes[1].clone());
    let vip = VIP4.into();
    na.signal(libc::SIGSTOP);
    assert!(
        wait_until(WAIT, || lab.holders(vip).contains(&b.name)),
        "the backup did not take over"
    );
    // Frozen: fenced like a dead one.
    assert_eq!(
        arp_answers(&lab).into_iter().collect::<Vec<_>>(),
        vec![b.mac().expect("MAC")]
    );
    na.signal(libc::SIGCONT);
    assert!(
        wait_until(WAIT, || na.log_text().contains("hand over")),
        "the continued master did not notice it had been away:\n{}",
        na.log_text()
    );
    // It released the VIP at once (priority 0), then takes it back by preemption, with the
    // backup stepping down: one holder, one MAC.
    assert!(
        wait_until(WAIT, || lab.holders(vip) == [a.name.clone()]),
        "{:?}",
        lab.holders(vip)
    );
    assert_eq!(
        arp_answers(&lab).into_iter().collect::<Vec<_>>(),
        vec![a.mac().expect("MAC")]
    );
    let log = na.wait_log(|l| l.contains("reason=ForceFailover"));
    assert!(
        log.contains("reason=ForceFailover"),
        "the hand-over is a transition to BACKUP:\n{log}"
    );
}
