//! `smtp_alert`: a mail per state change to `notification_email`, through `smtp_server`, like
//! keepalived's (the subject names the router id, the instance and the new state). A plain
//! RFC 5321 client: EHLO (HELO if refused), MAIL, RCPT, DATA, QUIT, each reply checked,
//! the whole exchange bounded by `smtp_connect_timeout`. It runs on the main runtime and
//! never delays the engine; a failure is logged.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tracing::{info, warn};

use super::events::RealServerEvent;
use super::plan::SmtpPlan;

/// The subject and body of one alert.
pub fn message(router_id: &str, kind: &str, name: &str, state: &str) -> (String, String) {
    let subject = format!("[{router_id}] VRRP {kind} {name} - Entering {state} state");
    let body = format!("=> VRRP {kind} {name} is now in {state} state on {router_id} <=\r\n");
    (subject, body)
}

/// The subject and body of a checker's alert: a real server went up or down (keepalived's
/// "Realserver [ip]:port of virtual server [ip]:port - UP|DOWN").
pub fn checker_message(router_id: &str, e: &RealServerEvent) -> (String, String) {
    let state = if e.up { "UP" } else { "DOWN" };
    let what = format!(
        "Realserver {} of virtual server {} - {state}",
        e.real_server, e.virtual_server
    );
    (format!("[{router_id}] {what}"), format!("=> {what} <=\r\n"))
}

/// The DATA part: headers, blank line, body with leading dots doubled (RFC 5321 §4.5.2).
pub fn data(p: &SmtpPlan, subject: &str, body: &str, date: &str) -> String {
    let mut out = format!(
        "From: {}\r\nTo: {}\r\nSubject: {subject}\r\nDate: {date}\r\nX-Mailer: ha\r\n\r\n",
        p.from,
        p.to.join(", ")
    );
    for line in body.split("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("server said {code} to {what}: {text}")]
    Refused {
        what: &'static str,
        code: u16,
        text: String,
    },
    #[error("timed out")]
    Timeout,
}

/// Sends one alert; errors are logged, never returned to the caller's loop.
pub fn spawn_alert(p: SmtpPlan, subject: String, body: String) {
    tokio::spawn(async move {
        let t = Duration::from_micros(p.connect_timeout.0.max(1));
        match tokio::time::timeout(t, send(&p, &subject, &body)).await {
            Ok(Ok(())) => info!("SMTP alert sent to {}: {subject}", p.to.join(", ")),
            Ok(Err(e)) => warn!("SMTP alert to {}:{} failed: {e}", p.server, p.port),
            Err(_) => warn!(
                "SMTP alert to {}:{} failed: {}",
                p.server,
                p.port,
                SmtpError::Timeout
            ),
        }
    });
}

async fn send(p: &SmtpPlan, subject: &str, body: &str) -> Result<(), SmtpError> {
    let stream = TcpStream::connect((p.server.as_str(), p.port)).await?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    expect(&mut r, "connect", 220).await?;
    w.write_all(format!("EHLO {}\r\n", p.helo).as_bytes())
        .await?;
    if expect(&mut r, "EHLO", 250).await.is_err() {
        w.write_all(format!("HELO {}\r\n", p.helo).as_bytes())
            .await?;
        expect(&mut r, "HELO", 250).await?;
    }
    w.write_all(format!("MAIL FROM:<{}>\r\n", p.from).as_bytes())
        .await?;
    expect(&mut r, "MAIL FROM", 250).await?;
    for to in &p.to {
        w.write_all(format!("RCPT TO:<{to}>\r\n").as_bytes())
            .await?;
        expect(&mut r, "RCPT TO", 250).await?;
    }
    w.write_all(b"DATA\r\n").await?;
    expect(&mut r, "DATA", 354).await?;
    w.write_all(data(p, subject, body, &rfc2822_now()).as_bytes())
        .await?;
    expect(&mut r, "the message", 250).await?;
    w.write_all(b"QUIT\r\n").await?;
    let _ = expect(&mut r, "QUIT", 221).await;
    Ok(())
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn expect<R: AsyncBufReadExt + Unpin>(
    r: &mut R,
    what: &'static str,
    want: u16,
) -> Result<(), SmtpError> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Err(SmtpError::Refused {
                what,
                code: 0,
                text: "connection closed".into(),
            });
        }
        let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        text.push_str(line.trim_end());
        // "250-..." continues, "250 ..." ends (RFC 5321 §4.2.1).
        if line.as_bytes().get(3) != Some(&b'-') {
            return if code == want {
                Ok(())
            } else {
                Err(SmtpError::Refused { what, code, text })
            };
        }
    }
}

/// The current time as an RFC 2822 date, in UTC.
fn rfc2822_now() -> String {
    let secs = super::clock::unix_secs();
    rfc2822(secs)
}

/// RFC 2822 §3.3 date for a Unix time (UTC).
pub fn rfc2822(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Micros;

    fn plan() -> SmtpPlan {
        SmtpPlan {
            server: "127.0.0.1".into(),
            port: 25,
            helo: "lb1".into(),
            from: "ha@example.com".into(),
            to: vec!["a@example.com".into(), "b@example.com".into()],
            connect_timeout: Micros(1),
        }
    }

    #[test]
    fn subject_and_data() {
        let (s, b) = message("lb1", "Instance", "VI_1", "MASTER");
        assert_eq!(s, "[lb1] VRRP Instance VI_1 - Entering MASTER state");
        let d = data(
            &plan(),
            &s,
            &format!("{b}.hidden"),
            "Thu, 01 Jan 1970 00:00:00 +0000",
        );
        assert!(d.starts_with("From: ha@example.com\r\nTo: a@example.com, b@example.com\r\n"));
        assert!(d.contains("\r\n..hidden\r\n"), "leading dot doubled: {d:?}");
        assert!(d.ends_with("\r\n.\r\n"));
    }

    #[test]
    fn dates() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc2822(1_795_000_000), "Wed, 18 Nov 2026 11:06:40 +0000");
    }
}
