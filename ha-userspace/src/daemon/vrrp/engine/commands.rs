//! What the rest of the daemon asks of the engine, and the engine's handle on the main
//! thread. Commands travel over a channel and an eventfd wakes the engine's `ppoll`.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::super::prepare::Prepared;
use super::super::runner::Runner;
use crate::daemon::status::InstanceStatus;
use crate::daemon::watch::{ObjKind, Sink};
use crate::vrrp::fsm::State;

pub enum Command {
    /// Graceful stop: every master sends priority 0 and removes its VIPs (RFC 5798 §6.4.3).
    Stop,
    Status(oneshot::Sender<VrrpStatus>),
    /// `ha failover INSTANCE`.
    Failover {
        instance: String,
        reply: oneshot::Sender<Result<String, CommandError>>,
    },
    /// A reload, everything slow already done on the main thread: apply it.
    Reload {
        prepared: Box<Prepared>,
        reply: oneshot::Sender<Reloaded>,
    },
    /// A tracked script (after its rise/fall counts), process (quorum) or file (value)
    /// changed.
    Track {
        kind: ObjKind,
        name: String,
        value: i64,
    },
    /// A BFD session's Detection Time expired (it was Up): instances with
    /// `bfd_takeover` on it whose master is `neighbor` take over now.
    PeerDown {
        bfd: String,
        neighbor: std::net::IpAddr,
        /// Its last packet.
        last_rx: crate::time::MonoTime,
    },
}

/// The engine's part of `ha status`.
#[derive(Debug, Clone)]
pub struct VrrpStatus {
    pub instances: Vec<InstanceStatus>,
    /// VRRP packets for a VRID no instance runs (or too short to name one).
    pub unknown_vrid: u64,
}

/// A reload applied.
pub struct Reloaded {
    pub summary: String,
    /// The runners that stopped: dropped on the main thread (removing a VMAC is netlink
    /// and sysctl work the engine thread must not do while it runs).
    #[allow(clippy::vec_box)]
    pub retired: Vec<Box<Runner>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("no vrrp_instance named {0}")]
    NoInstance(String),
    #[error("{instance} is {state}: nothing to switch over")]
    NothingToSwitch { instance: String, state: State },
    #[error("the VRRP engine has stopped")]
    Stopped,
}

/// The main thread's end of the engine.
pub struct EngineHandle {
    pub(super) tx: mpsc::Sender<Command>,
    pub(super) wake: Arc<OwnedFd>,
    pub(super) thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl EngineHandle {
    /// Queues a command; false if the engine has stopped.
    pub fn send(&self, c: Command) -> bool {
        if self.tx.send(c).is_err() {
            return false;
        }
        wake(self.wake.as_raw_fd());
        true
    }

    /// Waits for the engine thread to finish (after [`Command::Stop`]).
    pub fn join(&self) {
        let t = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = t {
            let _ = t.join();
        }
    }
}

/// The watchers report to the engine.
impl Sink for EngineHandle {
    fn report(&self, kind: ObjKind, name: &str, value: i64) -> bool {
        self.send(Command::Track {
            kind,
            name: name.to_owned(),
            value,
        })
    }
}

pub(super) fn wake(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writing 8 bytes from a valid u64 to an eventfd.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}
