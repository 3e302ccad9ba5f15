//! systemd's readiness protocol (sd_notify(3)), spoken directly: one datagram of
//! `KEY=VALUE` lines to the unix socket `$NOTIFY_SOCKET` names. The unit is `Type=notify`:
//! READY once the sockets and XDP are up, RELOADING/READY around a reload, STOPPING at a
//! stop, STATUS with one line of state, and WATCHDOG pings from the VRRP engine thread
//! itself, so a stuck engine stops them and systemd restarts the daemon.
//!
//! The environment is read once, at the start of `main`, while the process has one thread,
//! and `NOTIFY_SOCKET` / `WATCHDOG_*` are removed from it then: notify and check scripts must
//! not inherit them (systemd would ignore their messages under `NotifyAccess=main`, but a
//! script that runs `systemd-notify` itself would be confused).

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The connection to systemd's notify socket.
#[derive(Debug)]
pub struct SdNotify {
    sock: UnixDatagram,
    addr: SocketAddr,
}

/// What the service manager asked for: the socket, and the watchdog interval when
/// `WatchdogSec=` is set for this process.
#[derive(Debug, Default, Clone)]
pub struct Manager {
    pub notify: Option<Arc<SdNotify>>,
    pub watchdog: Option<Duration>,
}

static MANAGER: OnceLock<Manager> = OnceLock::new();

/// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` and removes them from the
/// environment. Call once from `main` before any thread starts; later calls return the
/// first answer.
pub fn init_from_env() -> &'static Manager {
    MANAGER.get_or_init(|| {
        let socket = std::env::var("NOTIFY_SOCKET").ok();
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            // Single-threaded here (see the module comment), as remove_var requires.
            std::env::remove_var(k);
        }
        let notify = socket.and_then(|s| match SdNotify::connect(&s) {
            Ok(n) => Some(Arc::new(n)),
            Err(e) => {
                eprintln!("ha: NOTIFY_SOCKET={s}: {e}; systemd will not hear from this daemon");
                None
            }
        });
        let watchdog = watchdog_interval(usec.as_deref(), pid.as_deref(), std::process::id());
        Manager { notify, watchdog }
    })
}

/// The manager `init_from_env` found (none when it was never called: tests, `ha status`).
pub fn manager() -> Manager {
    MANAGER.get().cloned().unwrap_or_default()
}

/// `WATCHDOG_USEC`, when it is for this process (`WATCHDOG_PID` unset or ours) and not 0.
pub fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    if pid.is_some_and(|p| p.trim().parse::<u32>().ok() != Some(me)) {
        return None;
    }
    let us: u64 = usec?.trim().parse().ok()?;
    (us > 0).then(|| Duration::from_micros(us))
}

/// How often to ping a watchdog of `interval`: at half of it, as sd_watchdog_enabled(3)
/// advises, so one late wake-up never trips it.
pub fn ping_every(interval: Duration) -> Duration {
    interval / 2
}

impl SdNotify {
    /// A socket for `path`: a file path, or `@name` for an abstract one (what systemd passes
    /// to services).
    pub fn connect(path: &str) -> io::Result<SdNotify> {
        let addr = if let Some(name) = path.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())?
        } else if path.starts_with('/') {
            SocketAddr::from_pathname(path)?
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an absolute path or an @abstract name",
            ));
        };
        let sock = UnixDatagram::unbound()?;
        // Never wait on systemd: the engine thread pings from here.
        sock.set_nonblocking(true)?;
        Ok(SdNotify { sock, addr })
    }

    /// Sends one message (lines of `KEY=VALUE`).
    pub fn send(&self, msg: &str) -> io::Result<()> {
        self.sock
            .send_to_addr(msg.as_bytes(), &self.addr)
            .map(|_| ())
    }

    pub fn ready(&self, status: &str) -> io::Result<()> {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    /// Before a reload. `MONOTONIC_USEC` lets systemd ≥ 253 match the READY that follows.
    pub fn reloading(&self) -> io::Result<()> {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading",
            monotonic_usec()
        ))
    }

    pub fn status(&self, status: &str) -> io::Result<()> {
        self.send(&format!("STATUS={}", one_line(status)))
    }

    pub fn stopping(&self) -> io::Result<()> {
        self.send("STOPPING=1\nSTATUS=stopping: masters hand over")
    }

    pub fn watchdog(&self) -> io::Result<()> {
        self.send("WATCHDOG=1")
    }
}

/// A STATUS value is one line.
fn one_line(s: &str) -> String {
    s.replace('\n', "; ")
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_is_for_this_process_only() {
        assert_eq!(
            watchdog_interval(Some("4000000"), None, 7),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            watchdog_interval(Some("4000000"), Some("7"), 7),
            Some(Duration::from_secs(4))
        );
        assert_eq!(watchdog_interval(Some("4000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
        assert_eq!(watchdog_interval(Some("soon"), None, 7), None);
        assert_eq!(watchdog_interval(None, Some("7"), 7), None);
        assert_eq!(ping_every(Duration::from_secs(4)), Duration::from_secs(2));
    }

    #[test]
    fn messages_reach_a_path_socket_and_an_abstract_one() {
        let dir = std::env::temp_dir().join(format!("ha-sdnotify-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let server = UnixDatagram::bind(&dir).unwrap();
        let n = SdNotify::connect(dir.to_str().unwrap()).unwrap();
        n.ready("VI_1 MASTER\nVI_2 BACKUP").unwrap();
        let mut buf = [0u8; 256];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..len]).unwrap(),
            "READY=1\nSTATUS=VI_1 MASTER; VI_2 BACKUP"
        );
        n.reloading().unwrap();
        let len = server.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..len]).unwrap();
        assert!(msg.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{msg}");
        let _ = std::fs::remove_file(&dir);

        use std::os::linux::net::SocketAddrExt;
        let name = format!("ha-sdnotify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        let n = SdNotify::connect(&format!("@{name}")).unwrap();
        n.watchdog().unwrap();
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
        assert!(SdNotify::connect("relative/path").is_err());
    }
}
