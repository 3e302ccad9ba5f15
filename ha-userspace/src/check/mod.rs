//! Health checking of real servers, as keepalived's checker process does it (keepalived.conf(5),
//! "Virtual server(s)" and the checkers), without I/O: probes are run by the daemon
//! (`daemon::check`) and their results come back here with `now`; the core answers with
//! when to probe next and what changed (a real server up or down, a quorum gained or lost),
//! and tells which real servers belong in the load balancer with what weight.
//!
//! - [`checker`]: one checker's retry logic (`retry`, `delay_before_retry`, `delay_loop`);
//! - [`quorum`]: a virtual server's quorum with hysteresis, and what is in the pool;
//! - [`file`]: a `FILE_CHECK`'s weight from its file's value;
//! - [`core`]: all of them together, probes shared between identical checkers.

pub mod checker;
pub mod core;
pub mod file;
pub mod model;
pub mod quorum;

#[cfg(test)]
mod tests;

pub use self::core::{Action, CheckEvent, Core, ProbeId, ProbeResult};
pub use model::{CheckDef, PoolDef, PoolSettings, ProbeDef, ProbeKey, ServerDef, Timing};
