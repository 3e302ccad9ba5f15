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

/// The datagrams of one log event: its first line carries the level, which the lines
/// after it (a multi-line message: a config report) keep, untouched.
pub fn format_event(ident: &str, pid: u32, event: &str) -> Vec<String> {
    let mut lines = event.lines().filter(|l| !l.trim().is_empty());
    let Some(first) = lines.next() else {
        return Vec::new();
    };
    let head = format_line(ident, pid, first);
    let pri = FACILITY * 8 + severity(first.trim_start());
    let mut out = vec![head];
    out.extend(lines.map(|l| format!("<{pri}>{ident}[{pid}]: {l}")));
    out
}

impl Syslog {
    fn send(&mut self, datagram: &str) {
        let sent = self
            .sock
            .as_ref()
            .is_some_and(|s| s.send(datagram.as_bytes()).is_ok());
        if !sent {
            // syslogd or journald restarted: connect again, once per line at most.
            *self = Syslog::new(&std::mem::take(&mut self.ident));
            if let Some(s) = &self.sock {
                let _ = s.send(datagram.as_bytes());
            }
        }
    }
}

impl Write for Syslog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let pid = std::process::id();
        for d in format_event(&self.ident, pid, &String::from_utf8_lossy(buf)) {
            self.send(&d);
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

    #[test]
    fn a_multi_line_event_keeps_its_lines_and_level() {
        assert_eq!(
            format_event(
                "ha",
                7,
                "ERROR reload refused:\n/etc/k.conf:3:1: error: x\n\n"
            ),
            vec![
                "<27>ha[7]: reload refused:".to_string(),
                "<27>ha[7]: /etc/k.conf:3:1: error: x".to_string()
            ]
        );
        assert!(format_event("ha", 7, "\n").is_empty());
    }
}
