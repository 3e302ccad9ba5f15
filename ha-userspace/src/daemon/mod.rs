//! The VRRP daemon: `ha run`. The protocol core (`crate::vrrp`) decides; this module does the
//! I/O at the edges (DESIGN.md §5, §6): raw sockets, netlink, gratuitous ARP, scripts, the
//! control socket and signals.

pub mod apply;
pub mod clock;
pub mod control;
pub mod engine;
pub mod firewall;
pub mod garp;
pub mod netlink;
pub mod notify;
pub mod pacer;
pub mod plan;
pub mod receive;
pub mod routes;
pub mod run;
pub mod runner;
pub mod scripts;
pub mod smtp;
pub mod socket;
pub mod status;
pub mod track_file;
pub mod track_process;
pub mod tracking;
pub mod vip_table;
pub mod vmac;
pub mod xdp;
pub mod xdp_sync;
