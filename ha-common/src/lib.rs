//! Types shared between ha's userspace and its kernel (eBPF) programs.
//!
//! Every type here has a twin in `ha-ebpf/bpf/include/ha_common.h`. The C header pins sizes and
//! offsets with `_Static_assert`, and the tests below pin the Rust side to the same numbers, so a
//! field added on one side only fails a build or a test instead of silently corrupting a map.
//! Layouts use explicit, fixed-width fields and explicit padding (no implicit holes), which is
//! also what `bytemuck::Pod` requires.

#![cfg_attr(not(test), no_std)]

pub mod xdp_counters;

pub use xdp_counters::{XdpCounters, XDP_COUNTERS_KEY, XDP_COUNTERS_MAP};
