//! `vrrp_track_process`: is a process running, and how many of it? Like keepalived, /proc is
//! scanned once at startup; after that the kernel's process events connector (NETLINK_CONNECTOR,
//! CN_IDX_PROC) says which process exec'd, renamed itself or exited, and only that one is
//! looked at. Without the connector (not permitted), /proc is rescanned every second.
//!
//! Matching follows keepalived.conf(5): the process name (`/proc/PID/comm`, 15 characters)
//! unless parameters or `full_command` ask for the command line.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::time::Instant;
use tracing::{info, warn};

use super::{ObjKind, Objects, Sink};
use crate::config::model::vrrp::track::ParamMatch;
use crate::config::model::vrrp::TrackProcess;
use crate::daemon::plan::VrrpPlan;
use crate::daemon::task::Task;

/// The kernel keeps 15 characters of a process name (TASK_COMM_LEN - 1).
const COMM_LEN: usize = 15;

/// Whether a process with this name and command line is one `def` counts.
pub fn matches(def: &TrackProcess, comm: &str, argv: &[String]) -> bool {
    if def.full_command {
        let mut want = vec![def.process.clone()];
        want.extend(def.params.iter().cloned());
        return argv.join(" ") == want.join(" ");
    }
    if def.params.is_empty() && def.param_match.is_none() {
        let name: String = def.process.chars().take(COMM_LEN).collect();
        return comm == name;
    }
    let Some((prog, args)) = argv.split_first() else {
        return false;
    };
    if *prog != def.process {
        return false;
    }
    let want = &def.params;
    match def.param_match.unwrap_or(ParamMatch::Exact) {
        ParamMatch::Exact => args == want.as_slice(),
        ParamMatch::Partial => args.len() >= want.len() && args[..want.len()] == want[..],
        ParamMatch::Initial => match want.split_last() {
            None => true,
            Some((last, first)) => {
                args.len() >= want.len()
                    && args[..first.len()] == first[..]
                    && args[first.len()].starts_with(last.as_str())
            }
        },
    }
}

/// The quorum test: between `quorum` and `quorum_max` matching processes.
pub fn quorum_ok(def: &TrackProcess, count: usize) -> bool {
    let n = u32::try_from(count).unwrap_or(u32::MAX);
    n >= def.quorum && n <= def.quorum_max
}

fn read_proc(pid: u32) -> Option<(String, Vec<String>)> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv = cmdline
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    Some((comm.trim_end_matches('\n').to_owned(), argv))
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Which processes match each definition.
struct Table {
    defs: Vec<TrackProcess>,
    /// Per definition, the matching pids.
    pids: Vec<BTreeSet<u32>>,
}

impl Table {
    fn new(defs: Vec<TrackProcess>) -> Self {
        let pids = vec![BTreeSet::new(); defs.len()];
        let mut t = Table { defs, pids };
        t.rescan();
        t
    }

    fn rescan(&mut self) {
        for p in &mut self.pids {
            p.clear();
        }
        for pid in all_pids() {
            self.look_at(pid);
        }
    }

    /// Re-evaluates one process (after exec or a name change).
    fn look_at(&mut self, pid: u32) {
        let info = read_proc(pid);
        for (d, set) in self.defs.iter().zip(&mut self.pids) {
            let m = info
                .as_ref()
                .is_some_and(|(comm, argv)| matches(d, comm, argv));
            if m {
                set.insert(pid);
            } else {
                set.remove(&pid);
            }
        }
    }

    fn gone(&mut self, pid: u32) {
        for set in &mut self.pids {
            set.remove(&pid);
        }
    }

    fn states(&self) -> Vec<bool> {
        self.defs
            .iter()
            .zip(&self.pids)
            .map(|(d, s)| quorum_ok(d, s.len()))
            .collect()
    }
}

fn used(plan: &VrrpPlan) -> Vec<TrackProcess> {
    let mut m: BTreeMap<String, TrackProcess> = BTreeMap::new();
    for t in plan.instances.iter().flat_map(|i| &i.track_processes) {
        m.insert(t.def.name.clone(), t.def.clone());
    }
    m.into_values().collect()
}

/// The state of every tracked process definition, from one scan of /proc.
pub fn initial(plan: &VrrpPlan) -> Objects {
    let t = Table::new(used(plan));
    t.defs
        .iter()
        .zip(t.states())
        .map(|(d, ok)| ((ObjKind::Process, d.name.clone()), i64::from(ok)))
        .collect()
}

/// Watches the processes some instance tracks and reports quorum changes to `sink`.
pub fn start(plan: &VrrpPlan, sink: Arc<dyn Sink>) -> Task {
    let defs = used(plan);
    if defs.is_empty() {
        return Task::none();
    }
    Task::spawn(run(defs, sink))
}

/// One definition's reported state and a change waiting out its fork/terminate delay.
struct Reported {
    ok: bool,
    pending: Option<(bool, Instant)>,
}

async fn run(defs: Vec<TrackProcess>, sink: Arc<dyn Sink>) {
    let mut table = Table::new(defs);
    let mut reported: Vec<Reported> = table
        .states()
        .into_iter()
        .map(|ok| Reported { ok, pending: None })
        .collect();
    // The engine may have started before this scan (a reload): tell it where things stand.
    for (d, r) in table.defs.iter().zip(&reported) {
        if !sink.report(ObjKind::Process, &d.name, i64::from(r.ok)) {
            return;
        }
    }
    let conn = match connector() {
        // SAFETY: the OwnedFd is a valid open socket that the AsyncFd owns until dropped.
        Ok(fd) => unsafe { AsyncFd::register(fd) }.ok(),
        Err(e) => {
            // The connector only exists in the initial network namespace.
            warn!(
                "track_process: no process events connector ({e}; it exists only in the \
                 initial network namespace): rescanning /proc every second"
            );
            None
        }
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let next_pending = reported.iter().filter_map(|r| r.pending.map(|p| p.1)).min();
        let poll_at = next_pending.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        match &conn {
            Some(afd) => {
                tokio::select! {
                    r = afd.readable() => {
                        let Ok(mut guard) = r else { return };
                        loop {
                            // SAFETY: reading into a valid buffer from our socket.
                            let n = unsafe {
                                libc::recv(afd.get_ref().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT)
                            };
                            if n <= 0 {
                                break;
                            }
                            for ev in parse_events(&buf[..n as usize]) {
                                match ev {
                                    ProcEvent::Changed(pid) => table.look_at(pid),
                                    ProcEvent::Exited(pid) => table.gone(pid),
                                    ProcEvent::Lost => table.rescan(),
                                }
                            }
                        }
                        guard.clear_ready();
                    }
                    _ = tokio::time::sleep_until(poll_at) => {}
                }
            }
            None => {
                let wait = poll_at.min(Instant::now() + Duration::from_secs(1));
                tokio::time::sleep_until(wait).await;
                table.rescan();
            }
        }
        let now = Instant::now();
        for ((def, ok), rep) in table.defs.iter().zip(table.states()).zip(&mut reported) {
            if ok == rep.ok {
                rep.pending = None;
                continue;
            }
            let delay = if ok {
                def.fork_delay
            } else {
                def.terminate_delay
            }
            .map_or(Duration::ZERO, |d| Duration::from_micros(d.0));
            let due = match rep.pending {
                Some((want, at)) if want == ok => at,
                _ => now + delay,
            };
            if due > now {
                rep.pending = Some((ok, due));
                continue;
            }
            rep.ok = ok;
            rep.pending = None;
            info!(
                "track_process {}: {}",
                def.name,
                if ok { "quorum met" } else { "quorum lost" }
            );
            if !sink.report(ObjKind::Process, &def.name, i64::from(ok)) {
                return;
            }
        }
    }
}

/// What a process event means for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcEvent {
    /// exec or name change of this process (thread group id).
    Changed(u32),
    Exited(u32),
    /// The socket overflowed: events were lost.
    Lost,
}

const NETLINK_CONNECTOR: i32 = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_EXEC: u32 = 0x2;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const NLMSG_HDRLEN: usize = 16;
const CN_MSG_LEN: usize = 20;
/// what, cpu, timestamp_ns.
const PROC_EVENT_HDR: usize = 16;

/// Opens the process events connector and subscribes.
fn connector() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2); owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            NETLINK_CONNECTOR,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: zeroed sockaddr_nl is valid; fields set below.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    sa.nl_groups = CN_IDX_PROC;
    // SAFETY: binding our socket to a valid sockaddr_nl.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut msg = Vec::with_capacity(NLMSG_HDRLEN + CN_MSG_LEN + 4);
    let total = (NLMSG_HDRLEN + CN_MSG_LEN + 4) as u32;
    msg.extend_from_slice(&total.to_ne_bytes());
    msg.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    msg.extend_from_slice(&0u16.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
    msg.extend_from_slice(&std::process::id().to_ne_bytes());
    msg.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    msg.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes()); // seq
    msg.extend_from_slice(&0u32.to_ne_bytes()); // ack
    msg.extend_from_slice(&4u16.to_ne_bytes()); // len
    msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
    msg.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    // SAFETY: sending a valid buffer on our socket.
    let n = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The events in one datagram from the connector (netlink messages, each a cn_msg carrying
/// a proc_event).
fn parse_events(buf: &[u8]) -> Vec<ProcEvent> {
    let mut out = Vec::new();
    let mut off = 0;
    while let Some(len) = u32_at(buf, off) {
        let len = len as usize;
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            break;
        }
        let msg_type = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
        if msg_type == libc::NLMSG_OVERRUN as u16 || msg_type == libc::NLMSG_ERROR as u16 {
            out.push(ProcEvent::Lost);
        }
        let ev = off + NLMSG_HDRLEN + CN_MSG_LEN;
        if let (Some(what), Some(tgid)) = (u32_at(buf, ev), u32_at(buf, ev + PROC_EVENT_HDR + 4)) {
            match what {
                PROC_EVENT_EXEC | PROC_EVENT_COMM => out.push(ProcEvent::Changed(tgid)),
                // Only the whole process (pid == tgid), not one of its threads.
                PROC_EVENT_EXIT if u32_at(buf, ev + PROC_EVENT_HDR) == Some(tgid) => {
                    out.push(ProcEvent::Exited(tgid));
                }
                _ => {}
            }
        }
        off += (len + 3) & !3;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(process: &str, params: &[&str], pm: Option<ParamMatch>, full: bool) -> TrackProcess {
        TrackProcess {
            process: process.into(),
            params: params.iter().map(|s| s.to_string()).collect(),
            param_match: pm,
            full_command: full,
            ..TrackProcess::named("p")
        }
    }

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn name_matching_is_exact_on_15_characters() {
        let d = def("nginx", &[], None, false);
        assert!(matches(&d, "nginx", &argv(&["nginx: master process"])));
        assert!(!matches(&d, "nginx-debug", &[]));
        let long = def("a_very_long_process_name", &[], None, false);
        assert!(matches(&long, "a_very_long_pro", &[]));
    }

    #[test]
    fn parameters_exact_partial_initial() {
        let exact = def("/usr/sbin/haproxy", &["-f", "/etc/h.cfg"], None, false);
        let a = argv(&["/usr/sbin/haproxy", "-f", "/etc/h.cfg"]);
        assert!(matches(&exact, "haproxy", &a));
        let mut more = a.clone();
        more.push("-D".into());
        assert!(!matches(&exact, "haproxy", &more));
        let partial = def(
            "/usr/sbin/haproxy",
            &["-f"],
            Some(ParamMatch::Partial),
            false,
        );
        assert!(matches(&partial, "haproxy", &more));
        let initial = def(
            "/usr/sbin/haproxy",
            &["-f", "/etc/h"],
            Some(ParamMatch::Initial),
            false,
        );
        assert!(matches(&initial, "haproxy", &a));
        let none = def("/bin/sleep", &[], Some(ParamMatch::Exact), false);
        assert!(!matches(&none, "sleep", &argv(&["/bin/sleep", "5"])));
        assert!(matches(&none, "sleep", &argv(&["/bin/sleep"])));
    }

    #[test]
    fn full_command_and_quorum() {
        let d = def("sleep 1000", &[], None, true);
        assert!(matches(&d, "sleep", &argv(&["sleep", "1000"])));
        let mut q = def("x", &[], None, false);
        q.quorum = 2;
        q.quorum_max = 3;
        assert!(!quorum_ok(&q, 1));
        assert!(quorum_ok(&q, 2));
        assert!(quorum_ok(&q, 3));
        assert!(!quorum_ok(&q, 4));
    }

    #[test]
    fn connector_events() {
        // nlmsghdr + cn_msg + proc_event(exec, pid 10, tgid 10)
        let mut b = vec![0u8; NLMSG_HDRLEN + CN_MSG_LEN + PROC_EVENT_HDR + 8];
        let len = b.len() as u32;
        b[0..4].copy_from_slice(&len.to_ne_bytes());
        let ev = NLMSG_HDRLEN + CN_MSG_LEN;
        b[ev..ev + 4].copy_from_slice(&PROC_EVENT_EXEC.to_ne_bytes());
        b[ev + 16..ev + 20].copy_from_slice(&10u32.to_ne_bytes());
        b[ev + 20..ev + 24].copy_from_slice(&10u32.to_ne_bytes());
        assert_eq!(parse_events(&b), vec![ProcEvent::Changed(10)]);
        b[ev..ev + 4].copy_from_slice(&PROC_EVENT_EXIT.to_ne_bytes());
        assert_eq!(parse_events(&b), vec![ProcEvent::Exited(10)]);
        // A thread exiting is not the process exiting.
        b[ev + 16..ev + 20].copy_from_slice(&11u32.to_ne_bytes());
        assert!(parse_events(&b).is_empty());
    }

    /// The connector really reports an exec (root, initial network namespace only).
    #[test]
    fn connector_reports_exec() {
        if !crate::gate::need_root("connector_reports_exec") {
            return;
        }
        let fd = match connector() {
            Ok(fd) => fd,
            Err(e) => {
                crate::gate::skip(
                    "connector_reports_exec",
                    &format!("{e} (not the initial netns?)"),
                );
                return;
            }
        };
        let child = std::process::Command::new("/bin/true").spawn().unwrap();
        let pid = child.id();
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < end && !seen.contains(&ProcEvent::Changed(pid)) {
            // SAFETY: reading into a valid buffer from our socket.
            let n = unsafe {
                libc::recv(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                seen.extend(parse_events(&buf[..n as usize]));
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let _ = { child }.wait();
        assert!(seen.contains(&ProcEvent::Changed(pid)), "events: {seen:?}");
    }
}
