//! `cargo xtask bench lb`: the XDP load balancer's forwarding rate against the kernel's own
//! path for the same job and against the XDP_TX ceiling, on one core, in one run.
//!
//! One namespace holds a veth pair. The generator is `BPF_PROG_TEST_RUN` with
//! `BPF_F_TEST_XDP_LIVE_FRAMES` on an XDP_TX program at `g0` (FACTS.md: ~6.8 Mpps from one
//! core): 64-byte UDP frames to the VIP leave `g0` and arrive at `d0`, the device under
//! test. Whatever `d0` forwards comes back to `g0`, where a native program counts and drops
//! it. The thread is pinned to one CPU: the generator, `d0`'s receive and `g0`'s count all
//! run there, so every rate is per core and the ratios compare like with like.
//!
//! Rows: the XDP_TX ceiling (`d0` reflects), `ha_xdp`'s load balancer (DR), and the
//! kernel path: nftables DNATs the VIP to the real server and the kernel routes it (the
//! closest thing to IPVS NAT on a kernel without IPVS). Live frames cannot feed the stack
//! (see `kernel_path`), so that row has its own sender on the other CPU and is taken per
//! busy second of the measured core, without the generator's cost the XDP rows carry: the
//! comparison leans the kernel's way. Then ns/packet of the LB paths by test run.

use std::time::Instant;

use aya::maps::{Array, HashMap, PerCpuArray};
use aya::programs::{TestRun, TestRunAttrs, TestRunOptions, XdpMode};
use aya::Ebpf;
use ha_common::*;
use ha_ebpf::LbSizes;

use crate::probe::enter_netns;
use crate::run;

const NS: &str = "halbbench";
const VIP: [u8; 4] = [10, 9, 0, 100];
const REAL: [u8; 4] = [10, 9, 0, 10];
const CLIENT: [u8; 4] = [198, 51, 100, 7];
const PORT: u16 = 8080;
const BENCH_SIZES: LbSizes = LbSizes {
    table_size: 251,
    tables: 2,
    conns: 4096,
    persist: 64,
};

fn sh(args: &[&str]) -> Result<(), String> {
    run(args[0], &args[1..]).map(drop)
}

fn mac_of(dev: &str) -> Result<[u8; 6], String> {
    let out = run("ip", &["-o", "link", "show", dev])?;
    let hex = out
        .split("link/ether ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .ok_or("no MAC")?;
    let mut mac = [0u8; 6];
    for (m, h) in mac.iter_mut().zip(hex.split(':')) {
        *m = u8::from_str_radix(h, 16).map_err(|e| e.to_string())?;
    }
    Ok(mac)
}

fn ifindex(dev: &str) -> Result<u32, String> {
    let c = std::ffi::CString::new(dev).map_err(|e| e.to_string())?;
    // SAFETY: a NUL-terminated name.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(format!("no {dev}")),
        i => Ok(i),
    }
}

/// A 64-byte frame (with FCS room) from CLIENT to VIP:PORT over UDP.
fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let payload = 18u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&(20 + 8 + payload).to_be_bytes());
    ip.extend_from_slice(&CLIENT);
    ip.extend_from_slice(&VIP);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend(ip);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&PORT.to_be_bytes());
    f.extend_from_slice(&(8 + payload).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.resize(60, 0x5a);
    f
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

struct Bench {
    gen: Ebpf,
    count: Ebpf,
    g0: u32,
    frame: Vec<u8>,
    frames: u32,
}

impl Bench {
    /// Sends `frames` live frames out of g0 and returns (Mpps delivered back to g0, share
    /// of the frames sent that came back).
    fn rate(&mut self) -> Result<(f64, f64), String> {
        reset_count(self)?;
        let prog =
            ha_ebpf::xdp_ref(&self.gen, ha_ebpf::XDP_TX_PROGRAM).map_err(|e| e.to_string())?;
        let mut ctx = [0u8; 24];
        ctx[4..8].copy_from_slice(&(self.frame.len() as u32).to_ne_bytes());
        ctx[12..16].copy_from_slice(&self.g0.to_ne_bytes());
        let start = Instant::now();
        prog.test_run(TestRunOptions {
            data_in: Some(&self.frame),
            ctx_in: Some(&ctx),
            repeat: self.frames,
            attrs: TestRunAttrs::new().xdp_live_frames(64),
            ..TestRunOptions::default()
        })
        .map_err(|e| format!("live frames: {e}"))?;
        let secs = start.elapsed().as_secs_f64();
        let got = read_count(self)?;
        Ok((got as f64 / secs / 1e6, got as f64 / f64::from(self.frames)))
    }
}

/// The LB set up on a loaded ha_xdp: VIP:PORT/UDP to REAL by `method`, the interface d0.
fn lb_maps(bpf: &mut Ebpf, d0: u32, method: u8) -> Result<(), String> {
    let e = |e: aya::maps::MapError| e.to_string();
    let mut cfg: Array<_, LbConfig> =
        Array::try_from(bpf.map_mut(LB_CONFIG_MAP).ok_or("map")?).map_err(e)?;
    cfg.set(
        0,
        LbConfig {
            table_size: 251,
            tables: 2,
        },
        0,
    )
    .map_err(e)?;
    let mut ifaces: Array<_, IfaceConfig> =
        Array::try_from(bpf.map_mut(IFACES_MAP).ok_or("map")?).map_err(e)?;
    ifaces
        .set(
            d0,
            IfaceConfig {
                slot: 1,
                features: FEATURE_LB,
            },
            0,
        )
        .map_err(e)?;
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&VIP);
    let key = LbVipKey {
        addr,
        port: PORT.to_be(),
        proto: 17,
        family: 4,
    };
    let svc = LbService {
        id: 0,
        table: 0,
        src4: [10, 9, 0, 1],
        persist_mask: [0xff; 16],
        ..LbService::default()
    };
    let mut services: HashMap<_, LbVipKey, LbService> =
        HashMap::try_from(bpf.map_mut(LB_SERVICES_MAP).ok_or("map")?).map_err(e)?;
    services.insert(key, svc, 0).map_err(e)?;
    let mut real = [0u8; 16];
    real[..4].copy_from_slice(&REAL);
    let mut reals: Array<_, LbReal> =
        Array::try_from(bpf.map_mut(LB_REALS_MAP).ok_or("map")?).map_err(e)?;
    reals
        .set(
            0,
            LbReal {
                addr: real,
                family: 4,
                method,
                tun_port: if method == LB_GUE { 6080u16.to_be() } else { 0 },
                flags: LB_REAL_LIVE,
                service: 0,
            },
            0,
        )
        .map_err(e)?;
    let mut table: Array<_, u32> =
        Array::try_from(bpf.map_mut(LB_MAGLEV_MAP).ok_or("map")?).map_err(e)?;
    for i in 0..251 {
        table.set(i, 0, 0).map_err(e)?;
    }
    Ok(())
}

fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t with one bit set, for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Runs the benchmark and prints its table.
pub fn run_bench(frames: u32, runs: usize) -> Result<(), String> {
    let _ = run("ip", &["netns", "del", NS]);
    sh(&["ip", "netns", "add", NS])?;
    let r = std::thread::spawn(move || -> Result<(), String> {
        enter_netns(NS).map_err(|e| e.to_string())?;
        pin_to_cpu(1.min(num_cpus().saturating_sub(1)));
        measure(frames, runs)
    })
    .join()
    .map_err(|_| "the benchmark thread panicked".to_string())?;
    let _ = run("ip", &["netns", "del", NS]);
    r
}

/// CPUs online (not this thread's affinity, which pinning narrows).
fn num_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

fn measure(frames: u32, runs: usize) -> Result<(), String> {
    for c in [
        "ip link add g0 type veth peer name d0",
        "ip link set g0 up",
        "ip link set d0 up",
        "ip link set lo up",
        "ip addr add 10.9.0.1/24 dev d0",
        "sysctl -qw net.ipv4.ip_forward=1",
        "sysctl -qw net.ipv4.conf.all.rp_filter=0",
        "sysctl -qw net.ipv4.conf.d0.rp_filter=0",
    ] {
        sh(&c.split(' ').collect::<Vec<_>>())?;
    }
    let (g0, d0) = (ifindex("g0")?, ifindex("d0")?);
    let g0_mac = mac_of("g0")?;
    let d0_mac = mac_of("d0")?;
    let mac_s = g0_mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    sh(&[
        "ip",
        "neigh",
        "replace",
        "10.9.0.10",
        "lladdr",
        &mac_s,
        "dev",
        "d0",
        "nud",
        "permanent",
    ])?;
    // The kernel path's route back for the clients (not used by the UDP frames, kept for
    // realism) and the rule: DNAT the VIP to the real server.
    sh(&["ip", "route", "add", "198.51.100.0/24", "dev", "d0"])?;

    let load = |p: &str| ha_ebpf::load_reference(p).map_err(|e| e.to_string());
    let mut count = load(ha_ebpf::XDP_COUNT_PROGRAM)?;
    ha_ebpf::xdp_mut(&mut count, ha_ebpf::XDP_COUNT_PROGRAM)
        .map_err(|e| e.to_string())?
        .attach_to_if_index(g0, XdpMode::Driver)
        .map_err(|e| format!("attach to g0: {e}"))?;
    let gen = load(ha_ebpf::XDP_TX_PROGRAM)?;
    let mut b = Bench {
        gen,
        count,
        g0,
        frame: frame(d0_mac, g0_mac),
        frames,
    };

    println!(
        "Load balancer on one core: {frames} live 64-byte UDP frames per run, {runs} runs, \
         median (min–max) Mpps delivered back to the generator"
    );
    let series = |label: &str, b: &mut Bench| -> Result<Vec<f64>, String> {
        let mut v = Vec::new();
        let mut share = 0.0;
        for _ in 0..runs {
            let (mpps, s) = b.rate()?;
            v.push(mpps);
            share = s;
        }
        v.sort_by(f64::total_cmp);
        println!(
            "  {label:<50} {:>6.2} ({:.2}–{:.2})   delivered {:.0} %",
            v[v.len() / 2],
            v[0],
            v[v.len() - 1],
            share * 100.0
        );
        Ok(v)
    };
    let med = |v: &[f64]| v[v.len() / 2];

    // The reflector: the XDP_TX ceiling of the path.
    let mut reflect = load(ha_ebpf::XDP_REFLECT_PROGRAM)?;
    let link = ha_ebpf::xdp_mut(&mut reflect, ha_ebpf::XDP_REFLECT_PROGRAM)
        .map_err(|e| e.to_string())?
        .attach_to_if_index(d0, XdpMode::Driver)
        .map_err(|e| format!("attach to d0: {e}"))?;
    let ceiling = med(&series("XDP_TX ceiling (d0 reflects)", &mut b)?);
    ha_ebpf::xdp_mut(&mut reflect, ha_ebpf::XDP_REFLECT_PROGRAM)
        .map_err(|e| e.to_string())?
        .detach(link)
        .map_err(|e| e.to_string())?;

    // DR only: a live frame's page comes back to the generator as the forwarder left it,
    // and only a MAC rewrite leaves a frame that can be forwarded again (a tunnel's header
    // would be found in front of the next copy); the tunnels are timed by test run below.
    let label = "ha_xdp load balancer, DR (connection-table hit)";
    let mut ha = ha_ebpf::load_ha_xdp_with(&BENCH_SIZES).map_err(|e| e.to_string())?;
    lb_maps(&mut ha, d0, LB_DR)?;
    let link = ha_ebpf::ha_xdp_mut(&mut ha)
        .map_err(|e| e.to_string())?
        .attach_to_if_index(d0, XdpMode::Driver)
        .map_err(|e| format!("attach ha_xdp to d0: {e}"))?;
    let dr = med(&series(label, &mut b)?);
    let c = lb_counters(&ha)?;
    if c.forward_dr == 0 {
        return Err(format!("{label}: nothing forwarded: {c:?}"));
    }
    ha_ebpf::ha_xdp_mut(&mut ha)
        .map_err(|e| e.to_string())?
        .detach(link)
        .map_err(|e| e.to_string())?;

    // The kernel: nftables DNATs the VIP to the real server and the stack routes it out
    // of d0 to g0. Live frames cannot feed the stack for long (the pages the stack rewrote
    // come back to the generator's pool as they are), so a packet socket on another CPU
    // sends the frames, RPS steers d0's receive work to the measured CPU, and the rate per
    // core is the packets delivered over that CPU's busy time.
    for c in [
        "nft add table ip habench",
        "nft add chain ip habench pre { type nat hook prerouting priority -100 ; }",
        "nft add rule ip habench pre ip daddr 10.9.0.100 udp dport 8080 dnat to 10.9.0.10",
    ] {
        sh(&c.split(' ').collect::<Vec<_>>())?;
    }
    let kernel = kernel_path(&mut b, runs)?;

    println!(
        "  DR vs the kernel path: {:.1}x (target 4x); DR vs the XDP_TX ceiling: {:.0} % \
         (target 50 %)",
        dr / kernel,
        dr / ceiling * 100.0
    );
    ns_per_packet(d0)
}

/// (busy, total) jiffies of `cpu` from /proc/stat.
fn cpu_times(cpu: usize) -> Result<(u64, u64), String> {
    let stat = std::fs::read_to_string("/proc/stat").map_err(|e| e.to_string())?;
    let line = stat
        .lines()
        .find(|l| l.starts_with(&format!("cpu{cpu} ")))
        .ok_or("no such CPU in /proc/stat")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// The kernel path's packets per second per core: a raw socket on CPU 0 sends the frame
/// for a second per run; d0's receive runs on CPU 1 (RPS), where the rate is taken over
/// its busy time.
fn kernel_path(b: &mut Bench, runs: usize) -> Result<f64, String> {
    if num_cpus() < 2 {
        return Err("the kernel path needs two CPUs (sender and measured core)".into());
    }
    run(
        "ip",
        &[
            "netns",
            "exec",
            NS,
            "sh",
            "-c",
            "echo 2 > /sys/class/net/d0/queues/rx-0/rps_cpus",
        ],
    )?;
    let frame = b.frame.clone();
    let g0 = b.g0;
    let mut v = Vec::new();
    let mut util = 0.0;
    for _ in 0..runs {
        reset_count(b)?;
        let (busy0, total0) = cpu_times(1)?;
        let sent = send_raw(g0, &frame, std::time::Duration::from_secs(1))?;
        std::thread::sleep(std::time::Duration::from_millis(50));
        let (busy1, total1) = cpu_times(1)?;
        let got = read_count(b)?;
        // Jiffies are 1/USER_HZ (100) of a second.
        let busy_secs = (busy1 - busy0) as f64 / 100.0;
        util = (busy1 - busy0) as f64 / (total1 - total0).max(1) as f64;
        if got == 0 || busy_secs <= 0.0 {
            return Err(format!("the kernel path delivered {got} of {sent}"));
        }
        v.push(got as f64 / busy_secs / 1e6);
    }
    v.sort_by(f64::total_cmp);
    println!(
        "  {:<50} {:>6.2} ({:.2}–{:.2})   per busy second of the core ({:.0} % busy)",
        "kernel: nftables DNAT + routing",
        v[v.len() / 2],
        v[0],
        v[v.len() - 1],
        util * 100.0
    );
    Ok(v[v.len() / 2])
}

fn reset_count(b: &mut Bench) -> Result<(), String> {
    let mut c: PerCpuArray<_, u64> =
        PerCpuArray::try_from(b.count.map_mut(ha_ebpf::RX_COUNT_MAP).ok_or("rx_count")?)
            .map_err(|e| e.to_string())?;
    let cpus = aya::util::nr_cpus().map_err(|(_, e)| e.to_string())?;
    let zero = aya::maps::PerCpuValues::try_from(vec![0u64; cpus]).map_err(|e| e.to_string())?;
    c.set(0, zero, 0).map_err(|e| e.to_string())
}

fn read_count(b: &Bench) -> Result<u64, String> {
    let c: PerCpuArray<_, u64> =
        PerCpuArray::try_from(b.count.map(ha_ebpf::RX_COUNT_MAP).ok_or("rx_count")?)
            .map_err(|e| e.to_string())?;
    Ok(c.get(&0, 0).map_err(|e| e.to_string())?.iter().sum())
}

/// Sends `frame` out of `ifindex` from a packet socket (no qdisc) on CPU 0 for `secs`.
fn send_raw(ifindex: u32, frame: &[u8], secs: std::time::Duration) -> Result<u64, String> {
    let frame = frame.to_vec();
    std::thread::scope(|s| {
        s.spawn(move || -> Result<u64, String> {
            pin_to_cpu(0);
            // SAFETY: plain socket calls on a socket this function owns and closes.
            unsafe {
                let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error().to_string());
                }
                let one: libc::c_int = 1;
                libc::setsockopt(
                    fd,
                    libc::SOL_PACKET,
                    libc::PACKET_QDISC_BYPASS,
                    (&one as *const libc::c_int).cast(),
                    4,
                );
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                sll.sll_family = libc::AF_PACKET as u16;
                sll.sll_ifindex = ifindex as i32;
                sll.sll_halen = 6;
                let mut iov = libc::iovec {
                    iov_base: frame.as_ptr() as *mut libc::c_void,
                    iov_len: frame.len(),
                };
                let mut msgs: Vec<libc::mmsghdr> = (0..64)
                    .map(|_| {
                        let mut m: libc::mmsghdr = std::mem::zeroed();
                        m.msg_hdr.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
                        m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                        m.msg_hdr.msg_iov = &mut iov;
                        m.msg_hdr.msg_iovlen = 1;
                        m
                    })
                    .collect();
                let end = Instant::now() + secs;
                let mut sent = 0u64;
                while Instant::now() < end {
                    let n = libc::sendmmsg(fd, msgs.as_mut_ptr(), 64, 0);
                    if n > 0 {
                        sent += n as u64;
                    }
                }
                libc::close(fd);
                Ok(sent)
            }
        })
        .join()
        .map_err(|_| "sender panicked".to_string())?
    })
}

fn lb_counters(bpf: &Ebpf) -> Result<LbCounters, String> {
    let m: PerCpuArray<_, LbCounters> =
        PerCpuArray::try_from(bpf.map(LB_COUNTERS_MAP).ok_or("map")?).map_err(|e| e.to_string())?;
    Ok(LbCounters::sum(
        m.get(&0, 0).map_err(|e| e.to_string())?.iter(),
    ))
}

/// ns/packet of the LB paths by `BPF_PROG_TEST_RUN`, net of an empty program's.
fn ns_per_packet(d0: u32) -> Result<(), String> {
    println!("\nns/packet by BPF_PROG_TEST_RUN (average of the kernel's own timing):");
    let d0_mac = mac_of("d0")?;
    let f = frame(d0_mac, [2, 0, 0, 0, 0, 1]);
    // The floor of each harness: an empty program, in a batch and one run per call.
    let (floor, floor_single) = {
        let p = ha_ebpf::load_reference(ha_ebpf::XDP_PASS_PROGRAM).map_err(|e| e.to_string())?;
        let prog = ha_ebpf::xdp_ref(&p, ha_ebpf::XDP_PASS_PROGRAM).map_err(|e| e.to_string())?;
        let time = |repeat| -> Result<f64, String> {
            Ok(ha_ebpf::test_run_xdp(prog, &f, d0, repeat)
                .map_err(|e| e.to_string())?
                .0
                .duration
                .as_nanos() as f64)
        };
        let batch = time(1_000_000)?;
        let mut single = 0.0;
        for _ in 0..20_000 {
            single += time(1)?;
        }
        (batch, single / 20_000.0)
    };
    println!("  {:<50} {floor:>6.1}", "empty program, batch (the floor)");
    println!(
        "  {:<50} {floor_single:>6.1}",
        "empty program, single runs (the floor)"
    );
    // (label, method, the frame's source port per run: None = one frame, batch).
    type Row = (&'static str, u8, Option<fn(u32) -> u16>);
    let rows: [Row; 5] = [
        ("DR, connection-table hit", LB_DR, None),
        (
            "DR, connection-table miss (a new flow each)",
            LB_DR,
            Some(|i| 1024 + (i % 60000) as u16),
        ),
        ("IPIP, single runs", LB_IPIP, Some(|_| 40000)),
        ("GUE, single runs", LB_GUE, Some(|_| 40000)),
        ("not a service (passed to the stack)", 0, None),
    ];
    for (label, method, sport) in rows {
        let mut ha = ha_ebpf::load_ha_xdp_with(&BENCH_SIZES).map_err(|e| e.to_string())?;
        lb_maps(&mut ha, d0, method.max(LB_DR))?;
        let mut f = f.clone();
        if method == 0 {
            // Another port of the VIP: looked up, not found.
            f[14 + 20 + 2..14 + 20 + 4].copy_from_slice(&9999u16.to_be_bytes());
        }
        let ns = match sport {
            None => ha_ebpf::test_run_ha_xdp(&ha, &f, d0, 1_000_000)
                .map_err(|e| e.to_string())?
                .0
                .duration
                .as_nanos() as f64,
            Some(port) => {
                let n = 20_000u32;
                let mut total = 0.0;
                for i in 0..n {
                    f[14 + 20..14 + 22].copy_from_slice(&port(i).to_be_bytes());
                    total += ha_ebpf::test_run_ha_xdp(&ha, &f, d0, 1)
                        .map_err(|e| e.to_string())?
                        .0
                        .duration
                        .as_nanos() as f64;
                }
                total / f64::from(n)
            }
        };
        let base = if sport.is_some() { floor_single } else { floor };
        println!("  {label:<50} {ns:>6.1}   net {:>6.1}", ns - base);
    }
    Ok(())
}
