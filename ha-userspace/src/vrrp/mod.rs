//! The VRRP protocol core, sans-I/O (DESIGN.md §5): packets, receive validation, timers
//! and the per-instance state machine. Nothing here opens a socket or reads a clock.

pub mod auth;
pub mod checksum;
pub mod fsm;
pub mod instance_config;
pub mod ipv4;
mod md5;
pub mod packet;
pub mod timers;
pub mod validate;

#[cfg(test)]
mod test_vectors;
