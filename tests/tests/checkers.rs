//! The health checkers against real servers from Debian packages (nginx, dnsmasq, aiosmtpd,
//! a UDP echo, ICMP, scripts and files), in a two-node lab: node 1 runs `ha`, node 2 the
//! servers. Each check must take its real server out when the service breaks and put it
//! back when it is restored, and the `log` backend must record exactly those changes.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ha::daemon::control::Request;
use ha::daemon::status::{RsStatus, VsStatus};
use ha_tests::daemon::{Daemon, Kind};
use ha_tests::lab::{ip, Lab, Node};
use ha_tests::servers::{Dns, Nginx, NginxOpts, Smtp, UdpEcho};
use ha_tests::{can_run, need_program, wait_until};

/// Long enough for any check here to notice a change: connect_timeout 1 + retry 1 ×
/// delay_before_retry 1 + delay_loop 1, with room for a loaded CI machine.
const NOTICE: Duration = Duration::from_secs(20);

/// The probe settings every checker here uses.
const FAST: &str = "connect_timeout 1\n retry 1\n delay_before_retry 1\n delay_loop 1\n";

/// The same for MISC_CHECK, which has no connection settings.
const MISC_FAST: &str = "retry 1\n delay_before_retry 1\n delay_loop 1\n";

const PING_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 60);

fn gate(test: &str) -> bool {
    can_run(test)
        && need_program(test, "nginx", "nginx")
        && need_program(test, "dnsmasq", "dnsmasq-base")
        && need_program(test, "openssl", "openssl")
}

fn vss(d: &Daemon) -> Vec<VsStatus> {
    d.status().map(|s| s.virtual_servers).unwrap_or_default()
}

fn rs(d: &Daemon, vs: &str, rs: &str) -> Option<RsStatus> {
    vss(d)
        .into_iter()
        .find(|v| v.name == vs)?
        .real_servers
        .into_iter()
        .find(|r| r.name == rs)
}

fn alive(d: &Daemon, vs: &str, server: &str) -> Option<bool> {
    rs(d, vs, server).map(|r| r.alive)
}

fn wait_alive(d: &Daemon, vs: &str, server: &str, up: bool) {
    let ok = wait_until(NOTICE, || alive(d, vs, server) == Some(up));
    assert!(
        ok,
        "{server} of {vs} never became {}: {:#?}\n{}",
        if up { "UP" } else { "DOWN" },
        rs(d, vs, server),
        d.log_text()
    );
}

/// The `log` backend's lines about `server` in `service`, as their first word (add,
/// remove, set).
fn lb_ops(log: &str, service: &str, server: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once("lb: ").map(|(_, rest)| rest))
        .filter(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let key: Vec<&str> = service.split_whitespace().collect();
            words.contains(&server) && words.windows(key.len()).any(|w| w == key.as_slice())
        })
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

fn md5_hex(body: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("md5sum");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

struct Servers {
    nginx: Nginx,
    dns: Dns,
    smtp: Smtp,
    udp: UdpEcho,
}

fn servers(lab: &Lab, n2: &Node, body: &str) -> Servers {
    let record: (&str, IpAddr) = ("test.example", Ipv4Addr::new(192, 0, 2, 50).into());
    Servers {
        nginx: Nginx::start(lab, n2, NginxOpts::index(body)).expect("nginx"),
        dns: Dns::start(lab, n2, &[record]).expect("dnsmasq"),
        smtp: Smtp::start(lab, n2).expect("aiosmtpd"),
        udp: UdpEcho::start(lab, n2, 7).expect("udp echo"),
    }
}

#[test]
fn every_checker_takes_its_real_server_out_when_the_service_breaks_and_back_when_restored() {
    if !gate("every_checker_takes_its_real_server_out") {
        return;
    }
    let lab = Lab::new("chk", 2, false).expect("lab");
    let (n1, n2) = (&lab.nodes[0], &lab.nodes[1]);
    let body = "hello from n2\n";
    let mut s = servers(&lab, n2, body);
    ip(
        &n2.ns,
        &["addr", "add", &format!("{PING_IP}/24"), "dev", "eth0"],
    )
    .unwrap();
    let flag = lab.path("misc-ok");
    std::fs::write(&flag, "").unwrap();
    let (a, a6) = (n2.ip4, n2.ip6);
    let digest = md5_hex(body);
    let misc = format!("/bin/sh -c \"test -e {}\"", flag.display());
    let config = format!(
        "global_defs {{\n router_id director\n}}\n\
         virtual_server 192.0.2.100 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
          real_server {a} 80 {{\n HTTP_GET {{\n url {{\n path /index.html\n digest {digest}\n }}\n log_all_failures\n {FAST} }}\n }}\n}}\n\
         virtual_server 192.0.2.100 443 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
          real_server {a} 443 {{\n SSL_GET {{\n url {{\n path /index.html\n status_code 200-299\n }}\n {FAST} }}\n }}\n}}\n\
         virtual_server 192.0.2.100 81 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
          real_server {a} 81 {{\n TCP_CHECK {{\n connect_port 80\n {FAST} }}\n }}\n}}\n\
         virtual_server 2001:db8::100 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
          real_server {a6} 80 {{\n TCP_CHECK {{\n {FAST} }}\n }}\n}}\n\
         virtual_server 192.0.2.100 25 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
          real_server {a} 25 {{\n SMTP_CHECK {{\n helo_name ha.test\n {FAST} }}\n }}\n}}\n\
         virtual_server 192.0.2.100 53 {{\n lb_algo rr\n lb_kind DR\n protocol UDP\n\
          real_server {a} 53 {{\n DNS_CHECK {{\n type A\n name test.example\n {FAST} }}\n }}\n}}\n\
         virtual_server 192.0.2.100 7 {{\n lb_algo rr\n lb_kind DR\n protocol UDP\n\
          real_server {a} 7 {{\n UDP_CHECK {{\n payload 68656c6c6f\n require_reply 68656c6c6f\n {FAST} }}\n }}\n}}\n\
         virtual_server 192.0.2.100 1 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
          real_server {PING_IP} 1 {{\n PING_CHECK {{\n {FAST} }}\n }}\n}}\n\
         virtual_server 2001:db8::100 1 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
          real_server {a6} 1 {{\n PING_CHECK {{\n {FAST} }}\n }}\n}}\n\
         virtual_server 192.0.2.100 2 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
          real_server {a} 2 {{\n MISC_CHECK {{\n misc_path \"{misc}\"\n misc_timeout 2\n {MISC_FAST} }}\n }}\n}}\n",
        misc = misc.replace('"', "'"),
    );
    let d = Daemon::start_with(&lab, n1, Kind::Ha, &config, &["-C"]);
    let cases: Vec<(String, String)> = [
        ("[192.0.2.100]:80", format!("[{a}]:80")),
        ("[192.0.2.100]:443", format!("[{a}]:443")),
        ("[192.0.2.100]:81", format!("[{a}]:81")),
        ("[2001:db8::100]:80", format!("[{a6}]:80")),
        ("[192.0.2.100]:25", format!("[{a}]:25")),
        ("[192.0.2.100]:53", format!("[{a}]:53")),
        ("[192.0.2.100]:7", format!("[{a}]:7")),
        ("[192.0.2.100]:1", format!("[{PING_IP}]:1")),
        ("[2001:db8::100]:1", format!("[{a6}]:1")),
        ("[192.0.2.100]:2", format!("[{a}]:2")),
    ]
    .into_iter()
    .map(|(v, r)| (v.to_string(), r))
    .collect();
    // Every probe has run once and passed.
    let all_ran = wait_until(NOTICE, || {
        vss(&d).iter().all(|v| {
            v.real_servers
                .iter()
                .all(|r| r.alive && r.checkers.iter().all(|c| c.last.is_some()))
        })
    });
    assert!(all_ran, "{:#?}\n{}", vss(&d), d.log_text());

    // The page changes: only the digest check fails.
    s.nginx.set_page("index.html", "defaced\n");
    wait_alive(&d, &cases[0].0, &cases[0].1, false);
    assert_eq!(
        alive(&d, &cases[1].0, &cases[1].1),
        Some(true),
        "SSL_GET checks the status only"
    );
    // A checker that was up is declared down after retry + 1 failed probes (retry 1),
    // not before and not later: log_all_failures logs each one.
    let http = format!("HTTP_GET of [{a}]:80");
    let down_line = format!("{http} (VS [192.0.2.100]:80): DOWN");
    let log = d.wait_log(|l| l.contains(&down_line));
    let down_at = log.find(&down_line).expect("the DOWN line");
    let failures = log[..down_at]
        .matches(&format!("{http} failed: GET /index.html: digest"))
        .count();
    assert_eq!(failures, 2, "{log}");
    let reason = rs(&d, &cases[0].0, &cases[0].1).unwrap().checkers[0]
        .last
        .clone();
    assert!(
        reason.as_deref().unwrap_or("").contains("digest"),
        "{reason:?}"
    );
    s.nginx.set_page("index.html", body);
    wait_alive(&d, &cases[0].0, &cases[0].1, true);

    // Every service breaks at once, then comes back.
    s.nginx.stop();
    s.dns.set_records(&[]).unwrap();
    s.smtp.stop();
    s.udp.stop();
    ip(
        &n2.ns,
        &["addr", "del", &format!("{PING_IP}/24"), "dev", "eth0"],
    )
    .unwrap();
    ip(
        &n2.ns,
        &["-6", "addr", "del", &format!("{a6}/64"), "dev", "eth0"],
    )
    .unwrap();
    std::fs::remove_file(&flag).unwrap();
    for (vs, server) in &cases {
        wait_alive(&d, vs, server, false);
    }
    // Addresses first: each server waits until it answers on both of the node's.
    ip(
        &n2.ns,
        &["addr", "add", &format!("{PING_IP}/24"), "dev", "eth0"],
    )
    .unwrap();
    ip(
        &n2.ns,
        &[
            "-6",
            "addr",
            "add",
            &format!("{a6}/64"),
            "dev",
            "eth0",
            "nodad",
        ],
    )
    .unwrap();
    s.nginx.start_again().unwrap();
    s.dns
        .set_records(&[("test.example", Ipv4Addr::new(192, 0, 2, 50).into())])
        .unwrap();
    s.smtp.start_again().unwrap();
    s.udp.start_again().unwrap();
    std::fs::write(&flag, "").unwrap();
    for (vs, server) in &cases {
        wait_alive(&d, vs, server, true);
    }

    // The backend saw each real server added at start, then removed and added back: no
    // more, no less (the HTTP one twice, for the digest).
    for (i, (vs, server)) in cases.iter().enumerate() {
        let service = vs.replace('[', "").replace("]:", ":");
        let proto = if vs.ends_with(":53") || vs.ends_with(":7") {
            "UDP"
        } else {
            "TCP"
        };
        let key = format!("{proto} {vs}");
        let want: &[&str] = if i == 0 {
            &["add", "remove", "add", "remove", "add"]
        } else {
            &["add", "remove", "add"]
        };
        // The log trails the status a little: wait for it, then judge what it says.
        let log = d.wait_log(|l| lb_ops(l, &key, server) == want);
        assert_eq!(
            lb_ops(&log, &key, server),
            want,
            "{service} {server}\n{log}"
        );
    }
}

#[test]
fn identical_checkers_under_several_virtual_servers_probe_the_server_once_per_delay_loop() {
    if !gate("identical_checkers_probe_once") {
        return;
    }
    let lab = Lab::new("chkdup", 2, false).expect("lab");
    let (n1, n2) = (&lab.nodes[0], &lab.nodes[1]);
    let nginx = Nginx::start(&lab, n2, NginxOpts::default()).expect("nginx");
    nginx.set_page("probe.html", "probe\n");
    let a = n2.ip4;
    let block = |port: u16| {
        format!(
            "virtual_server 192.0.2.100 {port} {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
             real_server {a} {port} {{\n HTTP_GET {{\n url {{\n path /probe.html\n }}\n connect_port 80\n {FAST} }}\n }}\n}}\n"
        )
    };
    let config: String = [80, 8080, 8081, 8082].into_iter().map(block).collect();
    let d = Daemon::start_with(&lab, n1, Kind::Ha, &config, &["-C"]);
    let ran = wait_until(NOTICE, || nginx.requests("/probe.html") > 0);
    assert!(ran, "{}", d.log_text());
    let start = nginx.requests("/probe.html");
    let t0 = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    let n = nginx.requests("/probe.html") - start;
    let secs = t0.elapsed().as_secs_f64();
    // One probe per delay_loop (1 s) for the four virtual servers together; separate
    // probes would be four times as many.
    assert!(
        (n as f64) <= secs + 2.0,
        "{n} requests in {secs:.1} s for 4 identical checkers"
    );
    let stats = d.status().unwrap().checkers.unwrap();
    assert_eq!((stats.probes, stats.checkers), (1, 4));
    let shared = rs(&d, "[192.0.2.100]:8082", &format!("[{a}]:8082")).unwrap();
    assert_eq!(shared.checkers[0].shared_by, 4);
}

#[test]
fn quorum_hysteresis_sorry_server_inhibit_misc_dynamic_notify_scripts_and_mail() {
    if !gate("quorum_and_friends") {
        return;
    }
    let lab = Lab::new("chkq", 2, false).expect("lab");
    let (n1, n2) = (&lab.nodes[0], &lab.nodes[1]);
    let smtp = Smtp::start(&lab, n2).expect("aiosmtpd");
    let code = |i: usize| lab.path(&format!("exit{i}"));
    for i in 1..=3 {
        std::fs::write(code(i), "0").unwrap();
    }
    let events = lab.path("events");
    let note = |what: &str| format!("/bin/sh -c 'echo {what} >> {}'", events.display());
    let server = |i: usize, extra: &str| {
        format!(
            " real_server 10.0.0.{i} 80 {{\n {extra}\n notify_up \"{up}\"\n notify_down \"{down}\"\n\
             MISC_CHECK {{\n misc_path \"/bin/sh -c 'exit $(cat {f})'\"\n misc_dynamic\n {MISC_FAST} }}\n }}\n",
            up = note(&format!("rs{i}-up")),
            down = note(&format!("rs{i}-down")),
            f = code(i).display(),
        )
    };
    let config = format!(
        "global_defs {{\n router_id director\n notification_email {{\n ops@example.org\n }}\n\
         notification_email_from ha@example.org\n smtp_server {smtp_ip} 25\n smtp_connect_timeout 5\n}}\n\
         virtual_server 192.0.2.100 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n quorum 2\n hysteresis 1\n\
         smtp_alert\n quorum_up \"{qup}\"\n quorum_down \"{qdown}\"\n sorry_server 10.0.0.9 80\n\
         {s1}{s2}{s3}}}\n",
        smtp_ip = n2.ip4,
        qup = note("quorum-up"),
        qdown = note("quorum-down"),
        s1 = server(1, "weight 1"),
        s2 = server(2, "weight 1"),
        s3 = server(3, "weight 1\n inhibit_on_failure"),
    );
    let d = Daemon::start_with(&lab, n1, Kind::Ha, &config, &["-C"]);
    let vs = "[192.0.2.100]:80";
    let quorum = |d: &Daemon| vss(d).first().map(|v| (v.quorum_up, v.sorry_active));
    let ran = wait_until(NOTICE, || {
        vss(&d)
            .first()
            .is_some_and(|v| v.real_servers.iter().all(|r| r.checkers[0].last.is_some()))
    });
    assert!(ran, "{}", d.log_text());
    assert_eq!(quorum(&d), Some((true, false)), "3 >= 2 + 1");

    // Down one by one: quorum holds at 2 and 1 (not below 2 - 1), goes at 0.
    std::fs::write(code(1), "1").unwrap();
    wait_alive(&d, vs, "[10.0.0.1]:80", false);
    std::fs::write(code(2), "1").unwrap();
    wait_alive(&d, vs, "[10.0.0.2]:80", false);
    assert_eq!(quorum(&d), Some((true, false)));
    std::fs::write(code(3), "1").unwrap();
    wait_alive(&d, vs, "[10.0.0.3]:80", false);
    assert_eq!(
        quorum(&d),
        Some((false, true)),
        "lost: the sorry server serves"
    );
    let inhibited = rs(&d, vs, "[10.0.0.3]:80").unwrap();
    assert_eq!(
        inhibited.lb_weight,
        Some(0),
        "inhibit_on_failure: weight 0, not removed"
    );
    assert_eq!(rs(&d, vs, "[10.0.0.1]:80").unwrap().lb_weight, None);

    // Back one by one: quorum comes back only at 2 + 1.
    std::fs::write(code(1), "0").unwrap();
    wait_alive(&d, vs, "[10.0.0.1]:80", true);
    std::fs::write(code(2), "0").unwrap();
    wait_alive(&d, vs, "[10.0.0.2]:80", true);
    assert_eq!(quorum(&d), Some((false, true)), "2 < 2 + 1: hysteresis");
    assert_eq!(
        rs(&d, vs, "[10.0.0.1]:80").unwrap().lb_weight,
        None,
        "the sorry server replaces the live servers"
    );
    std::fs::write(code(3), "0").unwrap();
    let regained = wait_until(NOTICE, || quorum(&d) == Some((true, false)));
    assert!(regained, "{}", d.log_text());

    // misc_dynamic: exit 12 means weight 10.
    std::fs::write(code(1), "12").unwrap();
    let weighted = wait_until(NOTICE, || {
        rs(&d, vs, "[10.0.0.1]:80").and_then(|r| r.lb_weight) == Some(10)
    });
    assert!(weighted, "{}", d.log_text());
    let service = "TCP [192.0.2.100]:80";
    let log =
        d.wait_log(|l| lb_ops(l, service, "[10.0.0.1]:80") == ["add", "remove", "add", "set"]);
    assert_eq!(
        lb_ops(&log, service, "[10.0.0.9]:80"),
        ["add", "remove"],
        "the sorry server came and went"
    );
    assert_eq!(
        lb_ops(&log, service, "[10.0.0.3]:80"),
        ["add", "set", "set"]
    );
    assert_eq!(
        lb_ops(&log, service, "[10.0.0.1]:80"),
        ["add", "remove", "add", "set"]
    );

    // The notify scripts ran in keepalived's order, and mail went out.
    let seen = wait_until(NOTICE, || {
        std::fs::read_to_string(&events)
            .unwrap_or_default()
            .matches("quorum-up")
            .count()
            == 2
    });
    assert!(seen);
    let text = std::fs::read_to_string(&events).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "quorum-down",
            "quorum-up",
            "quorum-up",
            "rs1-down",
            "rs1-up",
            "rs2-down",
            "rs2-up",
            "rs3-down",
            "rs3-up"
        ],
        "each script once: {lines:?}"
    );
    // keepalived starts a virtual server without quorum and gains it as the real servers go
    // in: quorum_up runs at start. The scripts of one change run concurrently (rs3 and the
    // quorum), so only the order across changes is certain.
    assert_eq!(lines[0], "quorum-up", "{lines:?}");
    let at = |w: &str| lines.iter().rposition(|l| *l == w).unwrap();
    assert!(at("rs1-down") < at("rs2-down") && at("rs2-down") < at("quorum-down"));
    assert!(at("quorum-down") < at("rs1-up") && at("rs2-up") < at("quorum-up"));
    let mailed = wait_until(NOTICE, || smtp.mails() >= 3);
    assert!(mailed, "quorum mails: {}\n{}", smtp.mails(), d.log_text());
}

#[test]
fn a_reload_keeps_unchanged_checkers_and_their_servers_as_they_are() {
    if !gate("reload_keeps_checkers") {
        return;
    }
    let lab = Lab::new("chkrl", 2, false).expect("lab");
    let (n1, n2) = (&lab.nodes[0], &lab.nodes[1]);
    let _nginx = Nginx::start(&lab, n2, NginxOpts::default()).expect("nginx");
    let a = n2.ip4;
    let block = |port: u16, rs_port: u16| {
        format!(
            "virtual_server 192.0.2.100 {port} {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n\
             real_server {a} {port} {{\n TCP_CHECK {{\n connect_port {rs_port}\n {FAST} }}\n }}\n}}\n"
        )
    };
    // :80 is served, :82 is not.
    let before = format!("{}{}", block(80, 80), block(82, 82));
    let mut d = Daemon::start_with(&lab, n1, Kind::Ha, &before, &["-C"]);
    wait_alive(&d, "[192.0.2.100]:82", &format!("[{a}]:82"), false);
    let after = format!("{before}{}", block(83, 80));
    std::fs::write(&d.config, after).unwrap();
    d.signal(libc::SIGHUP);
    wait_alive(&d, "[192.0.2.100]:83", &format!("[{a}]:83"), true);
    std::thread::sleep(Duration::from_secs(3));
    let log = d.log_text();
    assert_eq!(
        lb_ops(&log, "TCP [192.0.2.100]:80", &format!("[{a}]:80")),
        ["add"],
        "the live server was not touched"
    );
    assert_eq!(
        lb_ops(&log, "TCP [192.0.2.100]:82", &format!("[{a}]:82")),
        ["add", "remove"],
        "the failed server stayed failed"
    );
    let log = d.log_text();
    let flaps = log
        .lines()
        .filter(|l| l.contains(&format!("real server [{a}]:82")) && l.contains("is UP"))
        .count();
    assert_eq!(flaps, 0, "{log}");
    // A reload that breaks the config keeps the checkers running.
    std::fs::write(
        &d.config,
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id\n}\n",
    )
    .unwrap();
    let r = d.request(&Request::Reload).unwrap();
    assert!(!r.ok, "an invalid config is refused: {r:?}");
    assert_eq!(vss(&d).len(), 3);
    assert!(d.stop().is_some());
}
