//! The VRRP subsystem's I/O (DESIGN.md §3–§6): an engine thread running every instance's
//! state machine ([`engine`]), fed by raw sockets and the XDP program's event ring, sending
//! adverts and announcements, setting VIPs. What it decides is pure and tested on its own:
//! which instance a packet is for ([`route`]), what a reload changes ([`reload_diff`]),
//! priority and FAULT from tracked objects ([`tracking`]), sync groups ([`sync_group`]),
//! who watches the master on the XDP path ([`follow`]) and what the kernel is told
//! ([`xdp_sync`]). Everything slow is done on the main thread ([`prepare`]).

pub mod engine;
pub mod firewall;
pub mod follow;
pub mod garp;
pub mod pacer;
pub mod prepare;
pub mod receive;
pub mod reload_diff;
pub mod route;
pub mod runner;
pub mod socket;
pub mod sync_group;
pub mod tracking;
pub mod vip_table;
pub mod vmac;
pub mod xdp_maps;
pub mod xdp_sync;
