//! The VRRP protocol core, sans-I/O (DESIGN.md §5): packets, receive validation, timers
//! and the per-instance state machine. Nothing here opens a socket or reads a clock.

pub mod fsm;
pub mod packet;
pub mod timers;
pub mod validate;
