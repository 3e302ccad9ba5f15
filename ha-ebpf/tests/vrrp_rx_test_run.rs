//! Runs `vrrp_rx` in the kernel with `BPF_PROG_TEST_RUN` on hand-built frames and checks the
//! verdict, the output frame and which per-CPU counters moved. Needs root (CAP_BPF and
//! CAP_NET_ADMIN); without it the test says SKIPPED on stderr and returns.

#[path = "support/frames.rs"]
mod frames;

use std::io::Write;

use aya::maps::PerCpuArray;
use aya::programs::Xdp;
use aya::{Ebpf, EbpfLoader, TestRun, TestRunOptions};
use ha_common::{XdpCounters, XDP_COUNTERS_KEY, XDP_COUNTERS_MAP};

/// `XDP_PASS` from `enum xdp_action` (linux/bpf.h).
const XDP_PASS: u32 = 2;

/// True when the test may touch the kernel; otherwise says so where a person will see it.
fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of passing tests, and a
    // skip nobody sees looks like a pass.
    let _ = writeln!(std::io::stderr(), "SKIPPED: needs root ({test})");
    false
}

/// Loads the embedded object and verifies `vrrp_rx` (a verifier rejection fails here, with
/// the verifier log in the panic message).
fn load_vrrp_rx() -> Ebpf {
    let mut bpf = EbpfLoader::new()
        .load(ha_ebpf::VRRP_RX)
        .expect("load vrrp_rx.o");
    let prog: &mut Xdp = bpf
        .program_mut(ha_ebpf::VRRP_RX_PROGRAM)
        .expect("program vrrp_rx in object")
        .try_into()
        .expect("vrrp_rx is an XDP program");
    if let Err(e) = prog.load() {
        panic!("kernel rejected vrrp_rx: {e:#?}");
    }
    bpf
}

fn counters(bpf: &Ebpf) -> XdpCounters {
    let map = bpf.map(XDP_COUNTERS_MAP).expect("map xdp_counters");
    let array =
        PerCpuArray::<_, XdpCounters>::try_from(map).expect("xdp_counters is a per-CPU array");
    let per_cpu = array
        .get(&XDP_COUNTERS_KEY, 0)
        .expect("read xdp_counters[0]");
    XdpCounters::sum(per_cpu.iter())
}

/// Runs `frame` through the program `repeat` times; returns the verdict and checks that the
/// frame came out unchanged (this program only observes).
fn run(bpf: &Ebpf, frame: &[u8], repeat: u32) -> u32 {
    let prog: &Xdp = bpf
        .program(ha_ebpf::VRRP_RX_PROGRAM)
        .expect("program vrrp_rx")
        .try_into()
        .expect("XDP program");
    let mut out = vec![0u8; frame.len() + 256];
    let result = prog
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat,
            ..TestRunOptions::default()
        })
        .expect("BPF_PROG_TEST_RUN");
    assert_eq!(
        &out[..result.data_size_out as usize],
        frame,
        "vrrp_rx modified the frame"
    );
    result.return_value
}

struct Case {
    name: &'static str,
    frame: Vec<u8>,
    /// Exactly how much each counter must move for one run of `frame`.
    expect: XdpCounters,
}

fn cases() -> Vec<Case> {
    let v4 = frames::vrrp_v4_advert(None);
    let tagged = frames::vrrp_v4_advert(Some(100));
    let one = XdpCounters::default();
    vec![
        Case {
            name: "VRRPv3 over IPv4",
            frame: v4.clone(),
            expect: XdpCounters {
                seen_vrrp_v4: 1,
                ..one
            },
        },
        Case {
            name: "VRRPv3 over IPv6",
            frame: frames::vrrp_v6_advert(),
            expect: XdpCounters {
                seen_vrrp_v6: 1,
                ..one
            },
        },
        Case {
            name: "VRRPv3 over IPv4 in an 802.1Q tag",
            frame: tagged.clone(),
            expect: XdpCounters {
                seen_vrrp_v4: 1,
                vlan_tagged: 1,
                ..one
            },
        },
        Case {
            // Ethernet + IPv4 complete, VRRP cut after 4 of its 8 fixed bytes.
            name: "VRRP header truncated",
            frame: v4[..14 + 20 + 4].to_vec(),
            expect: XdpCounters {
                truncated: 1,
                ..one
            },
        },
        Case {
            name: "IPv4 header truncated",
            frame: v4[..14 + 10].to_vec(),
            expect: XdpCounters {
                truncated: 1,
                ..one
            },
        },
        Case {
            // The kernel's test run needs at least 14 bytes; the tag needs 4 more.
            name: "VLAN tag truncated",
            frame: tagged[..16].to_vec(),
            expect: XdpCounters {
                truncated: 1,
                ..one
            },
        },
        Case {
            name: "plain TCP SYN",
            frame: frames::tcp_syn_v4(),
            expect: XdpCounters {
                pass_other: 1,
                ..one
            },
        },
    ]
}

#[test]
fn vrrp_rx_counts_each_frame_kind_and_passes_everything() {
    if !root_or_skip("vrrp_rx_counts_each_frame_kind_and_passes_everything") {
        return;
    }
    let bpf = load_vrrp_rx();
    for case in cases() {
        let before = counters(&bpf);
        let verdict = run(&bpf, &case.frame, 1);
        let moved = counters(&bpf).delta_since(&before);
        assert_eq!(verdict, XDP_PASS, "{}: verdict", case.name);
        assert_eq!(moved, case.expect, "{}: counters moved", case.name);
    }
}

#[test]
fn vrrp_rx_counts_every_repetition() {
    if !root_or_skip("vrrp_rx_counts_every_repetition") {
        return;
    }
    let bpf = load_vrrp_rx();
    let before = counters(&bpf);
    assert_eq!(run(&bpf, &frames::vrrp_v6_advert(), 1000), XDP_PASS);
    let moved = counters(&bpf).delta_since(&before);
    assert_eq!(
        moved,
        XdpCounters {
            seen_vrrp_v6: 1000,
            ..XdpCounters::default()
        }
    );
}

/// The fixtures themselves: a wrong checksum here would make later validation tests lie.
#[test]
fn fixtures_carry_valid_checksums() {
    let v4 = frames::vrrp_v4_advert(None);
    // A correct header sums to zero with its checksum in place (RFC 1071).
    assert_eq!(
        frames::internet_checksum(&[&v4[14..34]]),
        0,
        "IPv4 header checksum"
    );
    let vrrp = &v4[34..];
    assert_eq!(vrrp.len(), 12, "8-byte fixed header + one IPv4 address");
    let pseudo = [&v4[26..34], &[0, frames::IPPROTO_VRRP, 0, 12][..]].concat();
    assert_eq!(
        frames::internet_checksum(&[&pseudo, vrrp]),
        0,
        "VRRPv3/IPv4 checksum"
    );

    let v6 = frames::vrrp_v6_advert();
    let vrrp6 = &v6[54..];
    assert_eq!(vrrp6.len(), 24, "8-byte fixed header + one IPv6 address");
    let pseudo6 = [
        &v6[22..54],
        &[0, 0, 0, 24, 0, 0, 0, frames::IPPROTO_VRRP][..],
    ]
    .concat();
    assert_eq!(
        frames::internet_checksum(&[&pseudo6, vrrp6]),
        0,
        "VRRPv3/IPv6 checksum"
    );

    let tagged = frames::vrrp_v4_advert(Some(100));
    assert_eq!(&tagged[12..16], &[0x81, 0x00, 0x00, 100]);
    assert_eq!(&tagged[18..], &v4[14..], "the tag is the only difference");
}
