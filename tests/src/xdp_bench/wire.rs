//! ns/packet of `ha_xdp` in a real receive path: the program attached in native mode to a
//! veth in a lab namespace, frames sent to it from the other node through an AF_PACKET
//! socket, and each invocation timed by the kernel itself (`BPF_ENABLE_STATS`: the
//! program's run_time_ns / run_cnt). The kernel's timing adds a clock read of its own to
//! every invocation, so the reference programs are timed the same way on the same
//! interface: `xdp_drop` is the floor of the paths that drop or bounce the frame,
//! `xdp_pass` (sent the pass-through frame, so the stack does the same work after it) the
//! floor of the one that passes it.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use aya::programs::XdpMode;
use aya::Ebpf;
use ha_ebpf::{XDP_DROP, XDP_PASS, XDP_TX};

use super::frames::{
    advert_frame, arp_request_for, load_ha_xdp, tcp_frame, MAC, PEER, VIP, VRID_FOLLOWED,
};
use super::{moved, Harness, Row, RowKind};
use crate::lab::{ip, Lab};
use crate::probe::enter_netns;

/// Frames sent per path: enough for the average to settle (~1 s of sending).
const FRAMES: u32 = 200_000;
/// `load_ha_xdp` gives the receiving interface slot 1.
const SLOT: u32 = 1;

/// The index of `eth0` in the current namespace.
fn eth0_index() -> Result<u32, String> {
    let name = CString::new("eth0").expect("no NUL");
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(format!("eth0: {}", std::io::Error::last_os_error())),
        i => Ok(i),
    }
}

/// An AF_PACKET socket that sends whole frames out of `eth0` of the current namespace.
fn sender() -> Result<OwnedFd, String> {
    let ifindex = eth0_index()?;
    // SAFETY: plain socket(2); protocol 0 = send only, nothing is received on it.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!(
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: fd was just returned by socket(2) and is owned from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid start.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: binding to a sockaddr_ll of its exact size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc != 0 {
        return Err(format!("bind to eth0: {}", std::io::Error::last_os_error()));
    }
    Ok(fd)
}

/// Sends `frame` `n` times from namespace `ns`.
fn blast(ns: &str, frame: &[u8], n: u32) -> Result<(), String> {
    let ns = ns.to_owned();
    let frame = frame.to_vec();
    std::thread::spawn(move || -> Result<(), String> {
        enter_netns(&ns).map_err(|e| format!("entering {ns}: {e}"))?;
        let fd = sender()?;
        for _ in 0..n {
            // SAFETY: sending from a valid buffer of its length.
            let rc = unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if rc < 0 {
                let e = std::io::Error::last_os_error();
                // A full queue: try the next one.
                if e.raw_os_error() != Some(libc::ENOBUFS) {
                    return Err(format!("send: {e}"));
                }
            }
        }
        Ok(())
    })
    .join()
    .map_err(|_| "sender thread panicked".to_string())?
}

/// (run time ns, runs) of program `name` so far.
fn stats(bpf: &Ebpf, name: &str) -> Result<(u64, u64), String> {
    let info = ha_ebpf::xdp_ref(bpf, name)
        .map_err(|e| e.to_string())?
        .info()
        .map_err(|e| format!("{name}: program info: {e}"))?;
    Ok((info.run_time().as_nanos() as u64, info.run_count()))
}

/// `stats` once the veth's queue has drained: frames still queued when `send` returned
/// must count in this window, not the next one.
fn settled_stats(bpf: &Ebpf, name: &str) -> Result<(u64, u64), String> {
    let mut last = stats(bpf, name)?;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(20));
        let now = stats(bpf, name)?;
        if now.1 == last.1 {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// Average ns per run of `name` while `frame` is sent `FRAMES` times from `from`, and the
/// number of runs.
fn per_run(bpf: &Ebpf, name: &str, from: &str, frame: &[u8]) -> Result<(f64, u64), String> {
    let (t0, n0) = settled_stats(bpf, name)?;
    blast(from, frame, FRAMES)?;
    let (t1, n1) = settled_stats(bpf, name)?;
    let runs = n1 - n0;
    if runs < u64::from(FRAMES) / 2 {
        return Err(format!("{name} ran {runs} times for {FRAMES} frames sent"));
    }
    Ok(((t1 - t0) as f64 / runs as f64, runs))
}

fn attach(bpf: &mut Ebpf, name: &str, ifindex: u32) -> Result<(), String> {
    ha_ebpf::xdp_mut(bpf, name)
        .map_err(|e| e.to_string())?
        .attach_to_if_index(ifindex, XdpMode::Driver)
        .map(drop)
        .map_err(|e| format!("attaching {name} to eth0 (native): {e}"))
}

/// The paths of ha_xdp this harness times: each with the counter every run must land in
/// (the namespace's own chatter, IPv6 router solicitations and the like, lands elsewhere)
/// and the verdict that counter stands for.
fn paths() -> [(&'static str, Vec<u8>, &'static str, u32); 3] {
    [
        (
            "advert absorbed (followed master)",
            advert_frame(VRID_FOLLOWED),
            "absorbed",
            XDP_DROP,
        ),
        (
            "ARP request for an owned VIP → reply",
            arp_request_for(VIP.octets()),
            "arp_reply",
            XDP_TX,
        ),
        (
            "pass-through (TCP to the VIP)",
            tcp_frame(),
            "pass_other",
            XDP_PASS,
        ),
    ]
}

/// In the receiver's namespace: every path, then the reference programs.
fn measure(from: &str) -> Result<Vec<Row>, String> {
    let ifindex = eth0_index()?;
    // Statistics are collected while this fd is open.
    let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime)
        .map_err(|e| format!("BPF_ENABLE_STATS: {e}"))?;
    let mut out = Vec::new();
    {
        let mut bpf = load_ha_xdp(ifindex)?;
        let prog = ha_ebpf::HA_XDP_PROGRAM;
        attach(&mut bpf, prog, ifindex)?;
        // The first advert creates the state entry and arms the timer.
        blast(from, &advert_frame(VRID_FOLLOWED), 1)?;
        for (path, frame, counter, verdict) in paths() {
            let before = ha_ebpf::counters(&bpf, SLOT).map_err(|e| e.to_string())?;
            let (ns, runs) = per_run(&bpf, prog, from, &frame)?;
            let got = moved(
                &ha_ebpf::counters(&bpf, SLOT).map_err(|e| e.to_string())?,
                &before,
                counter,
            );
            // Nearly every run took the path: the average is that path's.
            if got * 100 < runs * 99 {
                return Err(format!(
                    "{path}: {got} of {runs} runs counted under {counter}"
                ));
            }
            out.push(Row::new(path, Harness::Veth, ns, verdict));
        }
    } // detached here
    let references = [
        (
            RowKind::Floor,
            ha_ebpf::XDP_DROP_PROGRAM,
            advert_frame(VRID_FOLLOWED),
            XDP_DROP,
        ),
        (
            RowKind::Floor,
            ha_ebpf::XDP_PASS_PROGRAM,
            tcp_frame(),
            XDP_PASS,
        ),
        (
            RowKind::Clock,
            ha_ebpf::XDP_CLOCK_PROGRAM,
            tcp_frame(),
            XDP_PASS,
        ),
    ];
    for (kind, prog, frame, verdict) in references {
        let mut bpf = ha_ebpf::load_reference(prog).map_err(|e| e.to_string())?;
        attach(&mut bpf, prog, ifindex)?;
        let (ns, _) = per_run(&bpf, prog, from, &frame)?;
        out.push(Row::reference(kind, Harness::Veth, ns, verdict));
    }
    Ok(out)
}

/// The rows of the absorbed-advert, ARP-reply and pass-through paths, and the references.
pub fn ns_per_packet() -> Result<Vec<Row>, String> {
    let lab = Lab::new("bwire", 2, false)?;
    let (from, to) = (lab.nodes[0].ns.clone(), lab.nodes[1].ns.clone());
    // The frames' MAC addresses are the nodes' own (receiver = the VIP's owner), so the
    // bridge delivers the unicast ones.
    for (ns, mac) in [(&from, PEER), (&to, MAC)] {
        let mac = mac.map(|b| format!("{b:02x}")).join(":");
        ip(ns, &["link", "set", "eth0", "address", &mac])?;
    }
    std::thread::spawn(move || -> Result<Vec<Row>, String> {
        enter_netns(&to).map_err(|e| format!("entering {to}: {e}"))?;
        measure(&from)
    })
    .join()
    .map_err(|_| "receiver thread panicked".to_string())?
}
