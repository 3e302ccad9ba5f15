//! Types shared between ha's userspace and its kernel (eBPF) programs.
//!
//! Every type here has a twin in `ha-ebpf/bpf/include/ha_common.h`. The C header pins sizes and
//! offsets with `_Static_assert`, the tests here pin the Rust side to the same numbers, and
//! ha-ebpf's BTF test compares the compiled object with these types, so a field added on one
//! side only fails a build or a test instead of silently corrupting a map. Layouts use
//! explicit, fixed-width fields and explicit padding (no implicit holes), which is also what
//! `bytemuck::Pod` requires.

#![cfg_attr(not(test), no_std)]

#[macro_use]
mod counters;
pub mod bfd_maps;
pub mod iface;
pub mod lb_maps;
pub mod vrrp_maps;
pub mod xdp_counters;

pub use bfd_maps::*;
pub use iface::*;
pub use lb_maps::*;
pub use vrrp_maps::*;
pub use xdp_counters::{XdpCounters, XDP_COUNTERS_KEY, XDP_COUNTERS_MAP};
