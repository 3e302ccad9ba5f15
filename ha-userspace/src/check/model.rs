//! What the core checks, built by the daemon's plan from the `virtual_server` blocks: one
//! pool per block, its real servers, each with its checks. A network or script check is
//! named by a key; checks with equal keys share one probe.

use crate::units::Micros;

/// What identifies a probe: the MD5 of its full description (what it sends, where, and
/// its timing). 16 bytes instead of the description itself: a config with 40,000 real
/// servers keeps one per probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeKey(pub [u8; 16]);

impl ProbeKey {
    pub fn of(description: &[u8]) -> ProbeKey {
        use md5::{Digest, Md5};
        ProbeKey(Md5::digest(description).into())
    }
}

/// A virtual server's own settings: the definition holds them, and so does the core's
/// state of the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSettings {
    /// keepalived's name of the block: `[ip]:port`, `FWM n` or `[group]`.
    pub name: String,
    /// What tells two blocks apart across a reload (the name with the protocol and family:
    /// a TCP and a UDP virtual server on one address and port have one name).
    pub id: String,
    pub quorum: u32,
    pub hysteresis: u32,
    pub has_sorry: bool,
    /// `sorry_server_inhibit`: the sorry server stays in the table at weight 0.
    pub sorry_inhibit: bool,
    /// `omega`: run the down notifications when the daemon stops.
    pub omega: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolDef {
    pub settings: PoolSettings,
    pub servers: Vec<ServerDef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerDef {
    /// `[ip]:port`.
    pub name: String,
    /// The configured weight (keepalived's `iweight`).
    pub weight: u32,
    /// `inhibit_on_failure`: a failed server stays in the table at weight 0.
    pub inhibit: bool,
    pub checks: Vec<CheckDef>,
}

/// A probe: what identifies it and how it is scheduled. The check definitions hold it, and
/// so does the core's slot of the probe they share.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeDef {
    /// Probes with the same key run once and their result counts for each of them.
    pub key: ProbeKey,
    /// What is probed, without when: a reload that only changes the timing keeps the
    /// checker's state (keepalived's `compare_conn_opts` ignores the timers too).
    pub target: ProbeKey,
    /// `TCP_CHECK`, `HTTP_GET`…, for status and mail.
    pub kind: &'static str,
    pub timing: Timing,
    /// Start failed until the first success.
    pub alpha: bool,
    /// `misc_dynamic`: exit codes 2..=255 set the weight to code − 2.
    pub dynamic: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckDef {
    /// A probe the daemon runs (network or `MISC_CHECK`).
    Probe(ProbeDef),
    /// `FILE_CHECK`: the value of `track_file` `name`, times `weight` (negated with
    /// `reverse`); weight 0 means any non-zero value fails.
    File {
        name: String,
        weight: i32,
        reverse: bool,
    },
    /// `BFD_CHECK`: no BFD yet, so it neither passes nor fails.
    Bfd { name: String },
}

/// A probe's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    pub delay_loop: Micros,
    pub delay_before_retry: Micros,
    /// Failed probes in a row, beyond the first, before the checker fails.
    pub retry: u32,
    /// Maximum random delay before the first probe.
    pub warmup: Micros,
}
