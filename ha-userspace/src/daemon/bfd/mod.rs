//! BFD on the daemon's side (DESIGN.md §13): every `bfd_instance` session on one dedicated
//! real-time thread, which sends the control packets (timerfd, one `sendmmsg` per family
//! per tick), reads the packets the XDP program passes up, and hears the kernel's
//! detection-time expiries through the ring buffer. A session going Up or Down reaches
//! `track_bfd` (through the watchers' sink, as a script's result does) and `BFD_CHECK`; one
//! that expires reaches the VRRP engine at once for `bfd_takeover`.
//!
//! - `socket.rs`: the UDP sockets;
//! - `kernel.rs`: the BFD maps of the XDP program;
//! - `thread.rs`: the loop;
//! - `status.rs`: what `ha status` shows.

pub mod kernel;
pub mod socket;
pub mod status;
mod thread;

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

pub use self::status::BfdStatus;
use super::plan::bfd::BfdPlan;
use super::vrrp::engine::EngineHandle;
use super::watch::Sink;
use kernel::BfdMaps;

/// Where session changes go.
pub struct Listeners {
    /// `track_bfd`: 1 while Up, 0 when it went Down (keepalived's events).
    pub track: Arc<dyn Sink>,
    /// `bfd_takeover`: expiries, at once.
    pub vrrp: Arc<EngineHandle>,
    /// `BFD_CHECK`: (session, up).
    pub checker: tokio::sync::mpsc::UnboundedSender<(String, bool)>,
}

pub enum Command {
    /// New sessions; `kernel` names those whose interface runs the BFD feature.
    Reload {
        plan: BfdPlan,
        kernel: BTreeSet<String>,
    },
    Status(oneshot::Sender<BfdStatus>),
    /// Every session sends AdminDown once; the thread ends.
    Stop,
}

pub struct BfdHandle {
    tx: mpsc::Sender<Command>,
    wake: Arc<OwnedFd>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl BfdHandle {
    pub fn send(&self, c: Command) -> bool {
        if self.tx.send(c).is_err() {
            return false;
        }
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a valid u64 to an eventfd.
        unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
        true
    }

    pub async fn status(&self) -> Option<BfdStatus> {
        let (tx, rx) = oneshot::channel();
        if !self.send(Command::Status(tx)) {
            return None;
        }
        rx.await.ok()
    }

    /// Stops the thread and waits for it.
    pub fn stop(&self) {
        self.send(Command::Stop);
        let t = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = t {
            let _ = t.join();
        }
    }
}

/// Starts the BFD thread with `plan`'s sessions.
pub fn spawn(
    plan: BfdPlan,
    kernel_sessions: BTreeSet<String>,
    maps: Option<BfdMaps>,
    listeners: Listeners,
    realtime: Option<i32>,
) -> io::Result<BfdHandle> {
    // SAFETY: plain eventfd(2); the fd is owned right away.
    let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if efd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let wake = Arc::new(unsafe { OwnedFd::from_raw_fd(efd) });
    let (tx, rx) = mpsc::channel();
    let mut t = thread::BfdThread::new(rx, wake.clone(), maps, listeners)?;
    t.reload(plan, kernel_sessions);
    let thread = std::thread::Builder::new()
        .name("bfd".into())
        .spawn(move || {
            if let Some(prio) = realtime {
                crate::system::realtime_priority("BFD", prio);
            }
            t.run()
        })?;
    Ok(BfdHandle {
        tx,
        wake,
        thread: Mutex::new(Some(thread)),
    })
}
