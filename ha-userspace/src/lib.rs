//! `ha`: a keepalived-compatible high-availability daemon for Linux.
//!
//! The pure cores sit side by side (`vrrp/` today; checkers, load balancing and BFD join
//! them), with the types every layer shares at the root (`units`, `time`, `family`); the
//! config front end is `config/`, and `daemon/` does the I/O.

pub mod bfd;
pub mod check;
pub mod config;
pub mod daemon;
pub mod family;
pub mod lb;
pub mod system;
pub mod time;
pub mod units;
pub mod vrrp;

#[cfg(test)]
mod test_support;

/// The workspace's one rule for tests that need root or a program (SKIPPED, or a failure
/// under CI).
#[cfg(test)]
#[path = "../../tests/src/gate.rs"]
mod gate;
