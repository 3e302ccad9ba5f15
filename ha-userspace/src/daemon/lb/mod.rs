//! The load-balancer backends the checkers drive (DESIGN.md §7). Today the `log` backend:
//! it records every change it is given and forwards nothing, for hosts that only want the
//! checkers and their notify scripts, and for the tests. IPVS and XDP come next.

pub mod log;

pub use log::LogBackend;
