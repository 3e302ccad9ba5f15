//! Log lines to syslog, for a daemon in the background (keepalived without `-n` logs there
//! too): each line is one datagram to `/dev/log` in the local format
//! `<PRI>IDENT[PID]: MESSAGE` (RFC 3164 §4.1 without the host and time, which the local
//! syslog daemon or journald adds). The facility is `daemon`, keepalived's default.
//!
//! It is the writer behind the non-blocking log thread, so a slow syslog never stalls the
//! engine thread; when `/dev/log` is missing the lines are dropped.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;

/// LOG_DAEMON.
const FACILITY: u8 = 3;

pub struct Syslog {
    ident: String,
    sock: Option<UnixDatagram>,
}

impl Syslog {
    pub fn new(ident: &str) -> Syslog {
        let sock = UnixDatagram::unbound()
            .and_then(|s| s.connect("/dev/log").map(|()| s))
            .ok();
        Syslog {
            ident: ident.to_owned(),
            sock,
        }
    }

    /// Whether a syslog daemon listens at `/dev/log`.
    pub fn connected(&self) -> bool {
        self.sock.is_some()
    }
}

/// The syslog severity of a line the log formatter wrote (`LEVEL message`, no time).
fn severity(line: &str) -> u8 {
    match line.split_whitespace().next() {
        Some("ERROR") => 3,
        Some("WARN") => 4,
        Some("INFO") => 6,
        Some("DEBUG" | "TRACE") => 7,
        _ => 5,
    }
}

/// One datagram for `line`.
pub fn format_line(ident: &str, pid: u32, line: &str) -> String {
    let pri = FACILITY * 8 + severity(line);
    let line = line.trim_start();
    let msg = line
        .split_once(char::is_whitespace)
        .map_or(line, |(_, rest)| rest)
        .trim_start();
    format!("<{pri}>{ident}[{pid}]: {msg}")
}

impl Write for Syslog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(sock) = &self.sock {
            let pid = std::process::id();
            for line in String::from_utf8_lossy(buf).lines() {
                if !line.trim().is_empty() {
                    let _ = sock.send(format_line(&self.ident, pid, line).as_bytes());
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_level_as_severity() {
        assert_eq!(
            format_line("Keepalived", 42, " INFO VI_1: entering MASTER"),
            "<30>Keepalived[42]: VI_1: entering MASTER"
        );
        assert_eq!(
            format_line("ha", 1, "ERROR reload refused"),
            "<27>ha[1]: reload refused"
        );
        assert_eq!(format_line("ha", 1, " WARN x"), "<28>ha[1]: x");
        assert_eq!(format_line("ha", 1, "DEBUG x"), "<31>ha[1]: x");
    }
}
