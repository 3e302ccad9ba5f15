//! The load balancer's desired state, independent of the engine that forwards: services
//! (a virtual server, or one member of a `virtual_server_group`) with their real servers
//! and weights. The checkers keep it current ([`crate::check`]); every change goes to an
//! [`LbBackend`] as the [`diff`] between the state applied last and the state wanted now
//! (DESIGN.md §7). Pure: the backends that touch the kernel live in `daemon::lb`.

pub mod backend;
pub mod diff;
pub mod ipvs;
pub mod maglev;
pub mod services;
pub mod state;
pub mod xdp;

pub use backend::{KernelView, LbBackend, LbError, LbSettings, Refused};
pub use diff::{diff, Change};
pub use services::{expand, ServiceDef};
pub use state::{Dest, LbState, Service, ServiceKey, ServiceParams};
