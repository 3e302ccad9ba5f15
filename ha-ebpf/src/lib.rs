//! ha's kernel programs, compiled from `bpf/*.bpf.c` by `build.rs` and embedded here, so the
//! `ha` binary carries them and needs no files at run time.
//!
//! Load with aya: `EbpfLoader::new().load(ha_ebpf::VRRP_RX)`, then the program named
//! [`VRRP_RX_PROGRAM`]. Map value types are in `ha-common` (re-exported as [`common`]).

pub use ha_common as common;

/// `bpf/vrrp_rx.bpf.c`: the XDP program for VRRP interfaces: checks adverts and absorbs those
/// of the followed master, sends the rest to the engine through a ring buffer, watches the
/// master with a kernel timer, answers ARP and neighbour solicitations for owned VIPs.
/// Aligned because the ELF parser reads the object in place.
pub const VRRP_RX: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp_rx.o"));

/// Name of the XDP program (the C function) in [`VRRP_RX`]; its ELF section is `xdp`.
pub const VRRP_RX_PROGRAM: &str = "vrrp_rx";
