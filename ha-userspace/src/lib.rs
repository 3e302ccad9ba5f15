//! `ha`: a keepalived-compatible high-availability daemon for Linux.

pub mod config;
pub mod daemon;
pub mod vrrp;

#[cfg(test)]
mod test_support;
