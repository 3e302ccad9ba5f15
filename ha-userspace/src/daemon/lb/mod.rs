//! The load-balancer backends the checkers drive (DESIGN.md §7): `ipvs` where the kernel
//! has IPVS; `xdp`, ha's own forwarder in the XDP program; `log`, which records every
//! change it is given and forwards nothing (for hosts that only want the checkers and
//! their notify scripts, and for the tests).

pub mod ipvs;
pub mod log;
pub mod xdp;

pub use ipvs::IpvsBackend;
pub use log::LogBackend;
pub use xdp::XdpBackend;
