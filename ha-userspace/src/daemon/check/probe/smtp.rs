//! `SMTP_CHECK`: the greeting must be 220 and the answer to `HELO` 250; then `QUIT`, whose
//! answer (any code) keepalived also waits for (RFC 5321 §3.1, §4.1.1.1, §4.1.1.10).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{sock, Outcome};
use crate::config::model::lvs::checker::ConnOpts;

/// Longest reply accepted. RFC 5321 §4.5.3.1.5 bounds a reply line to 512 octets; a
/// multi-line greeting may hold several.
const MAX_REPLY: usize = 16 * 1024;

/// One SMTP reply: its code and the text of its first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

pub async fn probe(conn: &ConnOpts, helo: &str) -> Outcome {
    match converse(conn, helo).await {
        Ok(()) => Outcome::ok("SMTP greeting 220, HELO 250"),
        Err(why) => Outcome::fail(why),
    }
}

async fn converse(conn: &ConnOpts, helo: &str) -> Result<(), String> {
    let mut s = sock::tcp_connect(conn).await?;
    let mut buf = Vec::new();
    let r = read_reply(&mut s, &mut buf)
        .await
        .map_err(|e| format!("greeting: {e}"))?;
    if r.code != 220 {
        return Err(format!("bad greeting banner: {r}"));
    }
    send(&mut s, &format!("HELO {helo}\r\n")).await?;
    let r = read_reply(&mut s, &mut buf)
        .await
        .map_err(|e| format!("HELO: {e}"))?;
    if r.code != 250 {
        return Err(format!("bad HELO response: {r}"));
    }
    send(&mut s, "QUIT\r\n").await?;
    read_reply(&mut s, &mut buf)
        .await
        .map_err(|e| format!("QUIT: {e}"))?;
    Ok(())
}

async fn send(s: &mut TcpStream, line: &str) -> Result<(), String> {
    s.write_all(line.as_bytes())
        .await
        .map_err(|e| format!("send: {}", sock::os_text(&e)))
}

/// Reads until `buf` holds a whole reply, which it removes from `buf`.
async fn read_reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Reply, String> {
    let mut chunk = [0u8; 2048];
    loop {
        if let Some((reply, used)) = parse_reply(buf)? {
            buf.drain(..used);
            return Ok(reply);
        }
        if buf.len() > MAX_REPLY {
            return Err(format!("reply longer than {MAX_REPLY} bytes"));
        }
        match s.read(&mut chunk).await {
            Ok(0) => return Err("connection closed".to_string()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(sock::os_text(&e)),
        }
    }
}

/// The first complete reply in `buf` and the bytes it takes, `Ok(None)` until it is all
/// there. RFC 5321 §4.2: `code-text` lines continue a reply, `code text` (or a bare code)
/// ends it, and every line carries the same code. A bare LF ends a line too, as keepalived
/// reads lines.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let mut first: Option<Reply> = None;
    let mut i = 0;
    while let Some(nl) = buf[i..].iter().position(|&b| b == b'\n') {
        let line = &buf[i..i + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        i += nl + 1;
        let bad = || {
            format!(
                "malformed reply line {:?}",
                String::from_utf8_lossy(&line[..line.len().min(60)])
            )
        };
        let (code, more, text) = match line {
            [a, b, c, rest @ ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
                let code =
                    u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
                match rest {
                    [] => (code, false, rest),
                    [b' ', text @ ..] => (code, false, text),
                    [b'-', text @ ..] => (code, true, text),
                    _ => return Err(bad()),
                }
            }
            _ => return Err(bad()),
        };
        match &first {
            None => {
                first = Some(Reply {
                    code,
                    text: String::from_utf8_lossy(text).trim().to_string(),
                })
            }
            Some(f) if f.code != code => {
                return Err(format!(
                    "reply lines carry different codes, {} then {code}",
                    f.code
                ));
            }
            Some(_) => {}
        }
        if !more {
            return Ok(first.map(|r| (r, i)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(s: &str) -> Result<Option<(Reply, usize)>, String> {
        parse_reply(s.as_bytes())
    }

    fn code_text(s: &str) -> (u16, String) {
        let (r, _) = reply(s).unwrap().unwrap();
        (r.code, r.text)
    }

    #[test]
    fn single_line_replies() {
        assert_eq!(
            code_text("220 mx.example.com ESMTP ready\r\n"),
            (220, "mx.example.com ESMTP ready".to_string())
        );
        assert_eq!(code_text("250\r\n"), (250, String::new()));
        assert_eq!(code_text("221 bye\n"), (221, "bye".to_string()));
        assert_eq!(reply("220 mx\r\n250 x\r\n").unwrap().unwrap().1, 8);
    }

    #[test]
    fn multi_line_replies_end_at_the_line_without_a_hyphen() {
        let s = "220-mx.example.com ESMTP\r\n220-no UCE\r\n220 ready\r\nleftover";
        let (r, used) = reply(s).unwrap().unwrap();
        assert_eq!((r.code, r.text.as_str()), (220, "mx.example.com ESMTP"));
        assert_eq!(&s[used..], "leftover");
        assert_eq!(reply("220-mx.example.com\r\n220-more\r\n"), Ok(None));
    }

    #[test]
    fn incomplete_replies_wait() {
        for s in ["", "22", "220 ready", "220 ready\r"] {
            assert_eq!(reply(s), Ok(None), "{s:?}");
        }
    }

    #[test]
    fn malformed_replies_fail() {
        for s in ["HTTP/1.1 400 Bad Request\r\n", "22\r\n", "220x\r\n", "\r\n"] {
            let e = reply(s).unwrap_err();
            assert!(e.starts_with("malformed reply line"), "{s:?}: {e}");
        }
        let e = reply("220-a\r\n250 b\r\n").unwrap_err();
        assert_eq!(e, "reply lines carry different codes, 220 then 250");
    }
}
