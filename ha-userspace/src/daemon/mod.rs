//! The daemon: `ha run`. The pure cores (`crate::vrrp`, and the checkers, load balancer and
//! BFD to come) decide; this module does the I/O at the edges (DESIGN.md §5, §6, §11). One
//! folder per subsystem, and what they share beside them:
//!
//! - `vrrp/`: the VRRP engine thread, its runners and their sockets, VIPs, XDP maps;
//! - `xdp/`: the XDP program every feature shares and its attach manager;
//! - `watch/`: scripts, track files and processes, reporting to whoever tracks them;
//! - `plan/`: from the config model to what runs (`{ global, vrrp, lb }`);
//! - `run.rs` (the main thread: signals, reloads), `control.rs`, `status.rs`,
//!   `events.rs`, `notify.rs`, `smtp.rs`, `netlink.rs`, `routes.rs`, `apply.rs`, `clock.rs`,
//!   `task.rs`;
//! - how it lives under an init system: `sd_notify.rs` (systemd), `detach.rs` (the
//!   background, keepalived without `-n`), `pid_files.rs`, `syslog.rs`, `state_line.rs`.

pub mod apply;
pub mod bfd;
pub mod check;
pub mod clock;
pub mod control;
pub mod detach;
pub mod events;
pub mod lb;
pub mod leftovers;
pub mod metrics;
pub mod netlink;
pub mod notify;
pub mod pid_files;
pub mod plan;
pub mod recvmsg;
pub mod routes;
pub mod run;
pub mod sd_notify;
pub mod smtp;
pub mod state_line;
pub mod status;
pub mod syslog;
pub mod task;
pub mod vrrp;
pub mod watch;
pub mod xdp;
