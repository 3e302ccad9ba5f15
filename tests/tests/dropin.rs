//! ha as a keepalived drop-in: the binary started as `keepalived` (keepalived's command
//! line, exit codes, pid files, process name), systemd's notify protocol and watchdog, and
//! the Debian package booted under a real systemd in a container, where the seeds' ways of
//! stopping keepalived (`systemctl stop keepalived`, `service keepalived stop`,
//! `killall keepalived`) stop ha and the peer takes over.
//!
//! `killall keepalived` reaches every process of that name on the machine, the container's
//! included: the tests of this file run one at a time.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use ha::daemon::control::{self, default_socket, Reply, Request};
use ha::daemon::run::pin_dir;
use ha_tests::container::Container;
use ha_tests::daemon::{config, Daemon, InstanceSpec, Kind};
use ha_tests::gate::need_program;
use ha_tests::lab::{Lab, VIP4};
use ha_tests::{can_run, ha_bin, wait_until};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A folder with `keepalived` linked to the ha binary, as the package installs it.
fn keepalived_link(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let link = dir.join("keepalived");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(ha_bin(), &link).expect("symlink");
    link
}

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ha-userspace/tests/corpus");
    let mut files: Vec<PathBuf> = ["valid", "invalid"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).expect("corpus"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    files
}

#[test]
fn keepalived_t_exits_as_ha_check_config_does() {
    let _one = serial();
    let dir = std::env::temp_dir().join(format!("ha-dropin-t-{}", std::process::id()));
    let link = keepalived_link(&dir);
    let files = corpus();
    assert!(files.len() > 50, "the corpus is missing");
    let mut codes = std::collections::BTreeSet::new();
    for f in &files {
        let alias = Command::new(&link)
            .arg("-t")
            .arg("-f")
            .arg(f)
            .output()
            .unwrap();
        let ha = Command::new(ha_bin())
            .args(["check-config", "-f"])
            .arg(f)
            .output()
            .unwrap();
        assert_eq!(
            alias.status.code(),
            ha.status.code(),
            "{}: keepalived -t and ha check-config disagree",
            f.display()
        );
        codes.insert(alias.status.code());
    }
    // The corpus has clean configs, errors and warnings: the comparison means something.
    assert!(codes.len() >= 3, "exit codes seen: {codes:?}");
    // -t=LOG_FILE writes the report there.
    let log = dir.join("check.log");
    let st = Command::new(&link)
        .arg(format!("--config-test={}", log.display()))
        .arg("-f")
        .arg(&files[0])
        .status()
        .unwrap();
    assert!(st.code().is_some());
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains(&*files[0].to_string_lossy()));
    let out = Command::new(&link).arg("--signum=JSON").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "36");
    let out = Command::new(&link).arg("-v").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Keepalived v2.2.7"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn pid_in(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The seed's check script: when nginx is down and cannot be restarted, it stops keepalived
/// with `killall keepalived` so the peer takes over. Here the "nginx down" is a file.
#[test]
fn a_seed_script_killall_keepalived_stops_ha_in_the_background() {
    if !can_run("dropin_killall") || !need_program("dropin_killall", "killall", "psmisc") {
        return;
    }
    let _one = serial();
    let lab = Lab::new("dropk", 2, false).expect("lab");
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let link = keepalived_link(&lab.path("bin"));
    let flag = lab.path("nginx-down");
    let script = lab.write(
        "chk_nginx.sh",
        &format!(
            "#!/bin/sh\nif [ -e {} ]; then\n    killall keepalived\nfi\nexit 0\n",
            flag.display()
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut master = InstanceSpec::new("VI_1", 51, 150);
    master.extra = "    track_script {\n        chk_nginx\n    }\n".into();
    let conf = lab.write(
        "a.conf",
        &format!(
            "global_defs {{\n    router_id a\n    enable_script_security\n    script_user root\n}}\n\
             vrrp_script chk_nginx {{\n    script \"{}\"\n    interval 1\n}}\n{}",
            script.display(),
            master.render()
        ),
    );
    let pids = ["k.pid", "v.pid", "c.pid", "b.pid"].map(|f| lab.path(f));
    let start = || {
        a.command(&link)
            .arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(&pids[0])
            .arg("-r")
            .arg(&pids[1])
            .arg("-c")
            .arg(&pids[2])
            .arg("-b")
            .arg(&pids[3])
            .output()
            .expect("keepalived")
    };
    // Without -n: it goes to the background once up, and the command exits 0 then.
    let out = start();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = pid_in(&pids[0]).expect("the main pid file");
    assert_eq!(pid_in(&pids[1]), Some(pid), "the VRRP pid file");
    assert!(
        !pids[2].exists(),
        "no virtual servers: no checkers pid file"
    );
    assert!(!pids[3].exists(), "no BFD: no bfd pid file");
    assert_eq!(comm(pid), "keepalived", "the process name");
    // keepalived's "already running": exit 0, no second daemon.
    let again = start();
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already running"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(pid_in(&pids[0]), Some(pid));

    let _peer = Daemon::start(
        &lab,
        b,
        Kind::Ha,
        &config("", &[InstanceSpec::new("VI_1", 51, 100)]),
    );
    let vip = VIP4.into();
    assert!(
        wait_until(Duration::from_secs(10), || lab.holders(vip)
            == [a.name.clone()]),
        "the backgrounded ha is not the only master: {:?}",
        lab.holders(vip)
    );
    // SIGHUP through the pid file reloads it (the init script's reload).
    // SAFETY: signalling the daemon this test started.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(comm(pid), "keepalived", "a reload does not stop it");

    // With the XDP path, its links are pinned (fencing) in a folder named after the default
    // control socket (no -S).
    let socket = default_socket(None, Some(&a.ns));
    let pins = Path::new("/run/ha/bpf/ha").join(pin_dir(&socket));
    let xdp = matches!(
        control::request(&socket, &Request::Status),
        Ok(Reply { status: Some(s), .. }) if s.xdp.is_some()
    );
    assert!(!xdp || pins.exists(), "no pins in {}", pins.display());

    std::fs::write(&flag, "").unwrap();
    let gone = wait_until(Duration::from_secs(15), || {
        std::fs::metadata(format!("/proc/{pid}")).is_err()
    });
    assert!(gone, "killall keepalived did not stop ha");
    assert!(
        wait_until(Duration::from_secs(10), || lab.holders(vip)
            == [b.name.clone()]),
        "the peer did not take over alone: {:?}",
        lab.holders(vip)
    );
    assert!(!pids[0].exists() && !pids[1].exists(), "pid files left");
    // A clean stop unpins its links: nothing goes on fencing the node.
    assert!(!pins.exists(), "{} left after a clean stop", pins.display());
}

/// Reads notify messages until `want` arrives (15 s at most); every message seen, in order.
fn until(sock: &UnixDatagram, want: &str, seen: &mut Vec<String>) -> bool {
    until_for(sock, want, seen, Duration::from_secs(15))
}

/// The notify protocol as systemd's side of the socket sees it (the container test below
/// has systemd itself read it).
#[test]
fn sd_notify_ready_status_reloading_watchdog_stopping() {
    if !can_run("dropin_notify") {
        return;
    }
    let _one = serial();
    let lab = Lab::new("dropn", 1, false).expect("lab");
    let path = lab.path("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let notify = format!("NOTIFY_SOCKET={}", path.display());
    let mut d = Daemon::start_wrapped(
        &lab,
        &lab.nodes[0],
        Kind::Ha,
        &config("", &[InstanceSpec::new("VI_1", 51, 100)]),
        &["/usr/bin/env", &notify, "WATCHDOG_USEC=200000"],
        &[],
    );
    let mut seen = Vec::new();
    assert!(until(&sock, "READY=1", &mut seen), "no READY: {seen:?}");
    assert!(seen.last().unwrap().contains("STATUS=VI_1 "), "{seen:?}");
    assert!(
        until(&sock, "STATUS=VI_1 MASTER", &mut seen),
        "no STATUS line for MASTER: {seen:?}"
    );
    // Pings at WATCHDOG_USEC / 2 from the engine thread.
    let pings_before = seen.iter().filter(|m| *m == "WATCHDOG=1").count();
    for _ in 0..3 {
        assert!(until(&sock, "WATCHDOG=1", &mut seen), "pings stopped");
    }
    assert!(seen.iter().filter(|m| *m == "WATCHDOG=1").count() >= pings_before + 3);
    // A frozen daemon stops pinging.
    d.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(150));
    while sock.recv(&mut [0u8; 64]).is_ok() {}
    let mut frozen = Vec::new();
    assert!(
        !until_for(&sock, "WATCHDOG=1", &mut frozen, Duration::from_millis(600)),
        "pings while stopped: {frozen:?}"
    );
    d.signal(libc::SIGCONT);
    d.signal(libc::SIGHUP);
    assert!(until(&sock, "RELOADING=1", &mut seen), "{seen:?}");
    assert!(
        until(&sock, "READY=1", &mut seen),
        "no READY after the reload"
    );
    d.signal(libc::SIGTERM);
    assert!(until(&sock, "STOPPING=1", &mut seen), "{seen:?}");
    let _ = d.stop();
}

/// [`until`] for at most `t`.
fn until_for(sock: &UnixDatagram, want: &str, seen: &mut Vec<String>, t: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let end = std::time::Instant::now() + t;
    while std::time::Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let hit = m.contains(want);
            seen.push(m);
            if hit {
                return true;
            }
        }
    }
    false
}

fn build_deb(dir: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ha-userspace/packaging/build-deb");
    let out = Command::new(script)
        .arg(ha_bin())
        .arg(dir)
        .output()
        .expect("build-deb");
    assert!(
        out.status.success(),
        "build-deb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn wait_prop(c: &Container, prop: &str, want: &str) -> bool {
    wait_until(Duration::from_secs(20), || {
        c.unit_property("keepalived.service", prop) == want
    })
}

/// The package on a copy of this Debian host, under its own systemd: it replaces keepalived,
/// the unit reaches READY with a STATUS line, reloads, is restarted by the watchdog when
/// frozen, and stops through every name a seed uses, handing over to a keepalived peer.
#[test]
fn the_package_replaces_keepalived_under_systemd() {
    let t = "dropin_systemd";
    if !can_run(t)
        || !need_program(t, "systemd-nspawn", "systemd-container")
        || !need_program(t, "keepalived", "keepalived")
        || !need_program(t, "dpkg-deb", "dpkg")
    {
        return;
    }
    let _one = serial();
    let lab = Lab::new("drops", 2, false).expect("lab");
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let deb = build_deb(&lab.path("deb"));
    let c = Container::boot(lab.dir(), &a.ns, "hatest").expect("container");
    std::fs::copy(&deb, c.path("/root/ha.deb")).expect("copy the package");
    std::fs::create_dir_all(c.path("/etc/keepalived")).unwrap();
    std::fs::write(
        c.path("/etc/keepalived/keepalived.conf"),
        config("", &[InstanceSpec::new("VI_1", 51, 150)]),
    )
    .unwrap();
    // This machine's image carries Docker's policy-rc.d, which forbids packages to start
    // services; a real host has none.
    let _ = std::fs::remove_file(c.path("/usr/sbin/policy-rc.d"));
    // The switch from keepalived: the package replaces it and starts on its config.
    let installed = c.ok(&["dpkg", "-i", "/root/ha.deb"]);
    assert!(installed.is_ok(), "{installed:?}");
    let kept = c.exec(&["dpkg-query", "-W", "-f=${Status}", "keepalived"]);
    assert!(
        !String::from_utf8_lossy(&kept.stdout).contains("install ok installed"),
        "keepalived is still installed"
    );
    let unit = "keepalived.service";
    assert!(
        wait_prop(&c, "ActiveState", "active"),
        "not active after the install:\n{}",
        c.journal("ha.service")
    );
    assert_eq!(c.unit_property(unit, "Id"), "ha.service");
    let main: u32 = c.unit_property(unit, "MainPID").parse().unwrap();
    let comm_in = c.ok(&["cat", &format!("/proc/{main}/comm")]).unwrap();
    assert_eq!(comm_in.trim(), "keepalived");
    let peer = Daemon::start(
        &lab,
        b,
        Kind::Keepalived,
        &config("", &[InstanceSpec::new("VI_1", 51, 100)]),
    );
    let vip = VIP4.into();
    assert!(
        wait_prop(&c, "StatusText", "VI_1 MASTER"),
        "STATUS: {}\n{}",
        c.unit_property(unit, "StatusText"),
        c.journal("ha.service")
    );
    assert!(
        wait_until(Duration::from_secs(10), || lab.holders(vip)
            == [a.name.clone()]),
        "holders {:?}\nha:\n{}\nkeepalived:\n{}",
        lab.holders(vip),
        c.journal("ha.service"),
        peer.log_text()
    );

    // A reload through systemd (ExecReload sends HUP; RELOADING/READY come back).
    c.ok(&["systemctl", "reload", "keepalived"])
        .expect("reload");
    // `systemctl reload` returns once the HUP is sent; READY=1 follows the reload.
    assert!(
        wait_prop(&c, "ActiveState", "active"),
        "{}",
        c.journal("ha.service")
    );
    assert_eq!(c.unit_property(unit, "MainPID"), main.to_string());

    // Frozen: the watchdog (5 s) kills it and systemd starts it again; meanwhile the
    // keepalived peer takes over, and the restarted ha takes the VIP back (higher priority).
    c.ok(&["kill", "-STOP", &main.to_string()]).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || c
            .unit_property(unit, "NRestarts")
            == "1"
            && c.unit_property(unit, "ActiveState") == "active"),
        "the watchdog did not restart it:\n{}",
        c.journal("ha.service")
    );
    assert!(c.journal("ha.service").contains("Watchdog timeout"));
    assert!(wait_prop(&c, "StatusText", "VI_1 MASTER"));

    // The seeds' ways to stop keepalived, each handing the VIP to the peer.
    for stop in [
        &["killall", "keepalived"][..],
        &["systemctl", "stop", "keepalived"][..],
        &["service", "keepalived", "stop"][..],
    ] {
        assert!(
            wait_until(Duration::from_secs(10), || lab.holders(vip)
                == [a.name.clone()]),
            "{stop:?}: ha is not master before: {:?}",
            lab.holders(vip)
        );
        c.ok(stop).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            wait_prop(&c, "ActiveState", "inactive"),
            "{stop:?} did not stop it:\n{}",
            c.journal("ha.service")
        );
        // A clean stop is not a failure: no restart.
        assert_eq!(c.unit_property(unit, "Result"), "success");
        assert!(
            wait_until(Duration::from_secs(10), || lab.holders(vip)
                == [b.name.clone()]),
            "{stop:?}: the keepalived peer did not take over alone: {:?}",
            lab.holders(vip)
        );
        c.ok(&["systemctl", "start", "keepalived"]).expect("start");
    }
    drop(peer);
    drop(c);
}
