//! The load-balancer backends the checkers drive (DESIGN.md §7): `ipvs` where the kernel
//! has IPVS, else `log`, which records every change it is given and forwards nothing (for
//! hosts that only want the checkers and their notify scripts, and for the tests). XDP
//! comes next.

pub mod ipvs;
pub mod log;

pub use ipvs::IpvsBackend;
pub use log::LogBackend;
