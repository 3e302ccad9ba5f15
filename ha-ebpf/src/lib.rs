//! ha's kernel programs, compiled from `bpf/*.bpf.c` by `build.rs` and embedded here, so the
//! `ha` binary carries them and needs no files at run time.
//!
//! Load with [`load_ha_xdp`] (aya underneath); map value types are in `ha-common`
//! (re-exported as [`common`]).

pub use ha_common as common;

/// `bpf/ha_xdp.bpf.c`: the one XDP program of every interface ha uses, a dispatcher whose
/// features are switched per interface (`ifaces` map). Its VRRP feature checks adverts and
/// absorbs those of the followed master, sends the rest to the engine through a ring
/// buffer, watches the master with a kernel timer, and answers ARP and neighbour
/// solicitations for owned VIPs. Aligned because the ELF parser reads the object in place.
pub const HA_XDP: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ha_xdp.o"));

/// Name of the XDP program (the C function) in [`HA_XDP`]; its ELF section is `xdp`.
pub const HA_XDP_PROGRAM: &str = "ha_xdp";

/// The fence's heartbeat in the same object (never attached; run with
/// [`run_fence_beat`]).
pub const HA_FENCE_BEAT_PROGRAM: &str = "ha_fence_beat";

/// `bpf/xdp_reference.bpf.c`: the benchmarks' reference programs, not used by the daemon.
/// [`XDP_PASS_PROGRAM`] passes and [`XDP_DROP_PROGRAM`] drops every frame (what a timing
/// harness costs per packet); [`XDP_CLOCK_PROGRAM`] reads the clock `ha_xdp` stamps
/// adverts with, and passes.
pub const XDP_REFERENCE: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/xdp_reference.o"));

/// Programs in [`XDP_REFERENCE`].
pub const XDP_PASS_PROGRAM: &str = "xdp_pass";
pub const XDP_DROP_PROGRAM: &str = "xdp_drop";
pub const XDP_CLOCK_PROGRAM: &str = "xdp_clock";
/// The load-balancer benchmark's generator (XDP_TX, run with live frames), receiver
/// (counts in map [`RX_COUNT_MAP`], drops) and reflector (MACs swapped, XDP_TX).
pub const XDP_TX_PROGRAM: &str = "xdp_tx";
pub const XDP_COUNT_PROGRAM: &str = "xdp_count";
pub const XDP_REFLECT_PROGRAM: &str = "xdp_reflect";
pub const RX_COUNT_MAP: &str = "rx_count";

/// XDP verdicts (`enum xdp_action`), as test runs return them.
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;

use aya::maps::MapError;
use aya::programs::{ProgramError, TestRunOptions, TestRunResult, Xdp};
use aya::{Ebpf, EbpfError, EbpfLoader, TestRun};

/// What can go wrong with the embedded programs, naming the program or map.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("loading the object of {program}: {source}")]
    Object {
        program: String,
        source: Box<EbpfError>,
    },
    /// The verifier's log is in `source` (printed with `{:#}`).
    #[error("the kernel refused {program}: {source:#?}")]
    Refused {
        program: String,
        source: Box<ProgramError>,
    },
    #[error("program {0} missing from the object")]
    MissingProgram(String),
    #[error("program {program}: {source}")]
    Program {
        program: String,
        source: Box<ProgramError>,
    },
    #[error("map {0} missing from the object")]
    MissingMap(&'static str),
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        source: MapError,
    },
}

/// Sizes of the load balancer's maps, fixed when the program is loaded: the Maglev tables
/// (how many, and the prime size of each) and the connection and persistence tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbSizes {
    pub table_size: u32,
    pub tables: u32,
    pub conns: u32,
    pub persist: u32,
}

impl LbSizes {
    /// What the object declares: enough for test runs (4 tables of 65,537).
    pub const OBJECT: LbSizes = LbSizes {
        table_size: 65_537,
        tables: 4,
        conns: 65_536,
        persist: 65_536,
    };
    /// For a daemon whose load balancer is not XDP: the smallest maps.
    pub const NONE: LbSizes = LbSizes {
        table_size: 2,
        tables: 1,
        conns: 64,
        persist: 64,
    };
}

/// Loads the embedded object and has the kernel verify `ha_xdp` (not attached anywhere).
/// The error carries the verifier's log when the kernel refuses the program.
pub fn load_ha_xdp() -> Result<Ebpf, Error> {
    load_ha_xdp_with(&LbSizes::OBJECT)
}

/// [`load_ha_xdp`] with the load balancer's maps sized by `lb`.
pub fn load_ha_xdp_with(lb: &LbSizes) -> Result<Ebpf, Error> {
    let maglev = lb.table_size.saturating_mul(lb.tables);
    let mut loader = EbpfLoader::new();
    loader
        .map_max_entries(common::LB_MAGLEV_MAP, maglev)
        .map_max_entries(common::LB_CONNS_MAP, lb.conns)
        .map_max_entries(common::LB_PERSIST_MAP, lb.persist);
    let mut bpf = load(loader, HA_XDP, HA_XDP_PROGRAM)?;
    // The fence's heartbeat needs bpf_timer and bpf_loop (kernel 5.17): where it is
    // refused, the fast path runs without the fence (the daemon finds it unloaded and says
    // so).
    if let Ok(p) = xdp_mut(&mut bpf, HA_FENCE_BEAT_PROGRAM) {
        let _ = load_program(p);
    }
    Ok(bpf)
}

/// One heartbeat of the fence: runs `ha_fence_beat` (its fd) with the fence time
/// `stale_ns` (0: off), by BPF_PROG_TEST_RUN directly, so the thread that beats needs only
/// the descriptor, not the loaded object.
pub fn run_fence_beat(prog: std::os::fd::BorrowedFd<'_>, stale_ns: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // The frame: the fence time, padded to an Ethernet header (XDP test runs want one).
    let mut frame = [0u8; 16];
    frame[..8].copy_from_slice(&stale_ns.to_ne_bytes());
    // union bpf_attr, the `test` member (linux/bpf.h), zero-padded.
    #[repr(C)]
    #[derive(Default)]
    struct TestAttr {
        prog_fd: u32,
        retval: u32,
        data_size_in: u32,
        data_size_out: u32,
        data_in: u64,
        data_out: u64,
        repeat: u32,
        duration: u32,
        ctx_size_in: u32,
        ctx_size_out: u32,
        ctx_in: u64,
        ctx_out: u64,
        flags: u32,
        cpu: u32,
        batch_size: u32,
        pad: u32,
    }
    let mut attr = TestAttr {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: frame.len() as u32,
        data_in: frame.as_ptr() as u64,
        repeat: 1,
        ..TestAttr::default()
    };
    const BPF_PROG_TEST_RUN: libc::c_long = 10;
    // SAFETY: bpf(2) reads `attr` (of the size given) and the frame it points to, both alive
    // for the call; it writes only `attr`'s output fields.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr as *mut TestAttr,
            std::mem::size_of::<TestAttr>() as u32,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if attr.retval != XDP_PASS {
        return Err(std::io::Error::other(format!(
            "ha_fence_beat returned {}",
            attr.retval
        )));
    }
    Ok(())
}

/// Loads program `name` of [`XDP_REFERENCE`] (not attached anywhere).
pub fn load_reference(name: &str) -> Result<Ebpf, Error> {
    load(EbpfLoader::new(), XDP_REFERENCE, name)
}

fn load(mut loader: EbpfLoader<'_>, object: &[u8], program: &str) -> Result<Ebpf, Error> {
    let mut bpf = loader.load(object).map_err(|source| Error::Object {
        program: program.into(),
        source: Box::new(source),
    })?;
    load_program(xdp_mut(&mut bpf, program)?).map_err(|source| Error::Refused {
        program: program.into(),
        source: Box::new(source),
    })?;
    Ok(bpf)
}

/// Loads a program, again when the verifier gave up with EAGAIN: it does when a signal
/// reaches the process during a long verification (a script's SIGCHLD at the daemon's
/// start), as libbpf retries too.
fn load_program(p: &mut Xdp) -> Result<(), aya::programs::ProgramError> {
    let mut tries = 0;
    loop {
        match p.load() {
            Err(aya::programs::ProgramError::LoadError { io_error, .. })
                if io_error.raw_os_error() == Some(libc::EAGAIN) && tries < 5 =>
            {
                tries += 1;
            }
            r => return r,
        }
    }
}

/// `ha_xdp`'s counters of interface slot `slot`, summed over CPUs.
pub fn counters(bpf: &Ebpf, slot: u32) -> Result<common::XdpCounters, Error> {
    let name = common::XDP_COUNTERS_MAP;
    let map = bpf.map(name).ok_or(Error::MissingMap(name))?;
    let array = aya::maps::PerCpuArray::<_, common::XdpCounters>::try_from(map)
        .map_err(|source| Error::Map { name, source })?;
    let per_cpu = array
        .get(&slot, 0)
        .map_err(|source| Error::Map { name, source })?;
    Ok(common::XdpCounters::sum(per_cpu.iter()))
}

/// The `ha_xdp` program of a loaded object.
pub fn ha_xdp_mut(bpf: &mut Ebpf) -> Result<&mut Xdp, Error> {
    xdp_mut(bpf, HA_XDP_PROGRAM)
}

/// The XDP program `name` of a loaded object.
pub fn xdp_mut<'a>(bpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Xdp, Error> {
    bpf.program_mut(name)
        .ok_or_else(|| Error::MissingProgram(name.into()))?
        .try_into()
        .map_err(|source| Error::Program {
            program: name.into(),
            source: Box::new(source),
        })
}

/// The XDP program `name` of a loaded object, shared.
pub fn xdp_ref<'a>(bpf: &'a Ebpf, name: &str) -> Result<&'a Xdp, Error> {
    bpf.program(name)
        .ok_or_else(|| Error::MissingProgram(name.into()))?
        .try_into()
        .map_err(|source| Error::Program {
            program: name.into(),
            source: Box::new(source),
        })
}

/// Runs the loaded `ha_xdp` `repeat` times on `frame` as if it arrived on `ifindex`
/// (`BPF_PROG_TEST_RUN`; the kernel wants an existing interface, 1 = lo always is): the
/// result (verdict, average duration) and the frame as it came out. For tests and
/// benchmarks.
pub fn test_run_ha_xdp(
    bpf: &Ebpf,
    frame: &[u8],
    ifindex: u32,
    repeat: u32,
) -> Result<(TestRunResult, Vec<u8>), Error> {
    test_run_xdp(xdp_ref(bpf, HA_XDP_PROGRAM)?, frame, ifindex, repeat)
}

/// [`test_run_ha_xdp`] for any loaded XDP program.
pub fn test_run_xdp(
    prog: &Xdp,
    frame: &[u8],
    ifindex: u32,
    repeat: u32,
) -> Result<(TestRunResult, Vec<u8>), Error> {
    // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index,
    // egress_ifindex.
    let mut ctx = [0u8; 24];
    ctx[4..8].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
    ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());
    let mut out = vec![0u8; frame.len() + 256];
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            ctx_in: Some(&ctx),
            repeat,
            ..TestRunOptions::default()
        })
        .map_err(|source| Error::Program {
            program: "test run".into(),
            source: Box::new(source),
        })?;
    out.truncate(r.data_size_out as usize);
    Ok((r, out))
}
