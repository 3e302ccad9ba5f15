//! Reading an HTTP/1.x response (RFC 9112): the status line, the two headers that frame the
//! body, and the body itself, de-chunked. Pure, and lenient where keepalived is, so a server
//! keepalived accepts is accepted; never panics on input.

use std::borrow::Cow;

/// Longest head (status line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;

/// How the body ends (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body whatever the headers say: 204 and 304 (§6.3 rule 1).
    Empty,
    /// `Transfer-Encoding` ending in `chunked` (§6.3 rule 4, §7.1).
    Chunked,
    /// `Content-Length` (§6.3 rule 6).
    Length(usize),
    /// Until the server closes the connection (§6.3 rule 8).
    Close,
}

/// The head of the final response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// Offset of the body in the buffer.
    pub body_start: usize,
    pub framing: Framing,
}

/// The head of the final response in `buf`, `Ok(None)` until all of it has arrived. Interim
/// 1xx responses before it are skipped (RFC 9110 §15.2: a client must parse and ignore them).
pub fn head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut start = 0;
    loop {
        let rest = &buf[start..];
        let Some(len) = head_len(rest) else {
            if rest.len() > MAX_HEAD {
                return Err(format!("response headers longer than {MAX_HEAD} bytes"));
            }
            return Ok(None);
        };
        let mut lines = rest[..len].split(|&b| b == b'\n').map(trim_cr);
        let status = status_line(lines.next().unwrap_or_default())?;
        if (100..200).contains(&status) && status != 101 {
            start += len;
            continue;
        }
        let framing = framing(status, lines);
        return Ok(Some(Head {
            status,
            body_start: start + len,
            framing,
        }));
    }
}

/// Length of the head up to and including the empty line that ends it. A bare LF ends a
/// line too (RFC 9112 §2.2).
fn head_len(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(nl) = find(&buf[i..], b'\n') {
        let after = i + nl + 1;
        match &buf[after..] {
            [b'\n', ..] => return Some(after + 1),
            [b'\r', b'\n', ..] => return Some(after + 2),
            _ => i = after,
        }
    }
    None
}

/// `HTTP-version SP status-code SP [reason-phrase]` (RFC 9112 §4). The space after the code
/// may be missing, as some servers send it.
fn status_line(line: &[u8]) -> Result<u16, String> {
    let bad = || format!("malformed status line {:?}", shorten(line));
    let rest = line.strip_prefix(b"HTTP/").ok_or_else(bad)?;
    let sp = find(rest, b' ').ok_or_else(bad)?;
    let code = &rest[sp + 1..];
    match code {
        [a, b, c] | [a, b, c, b' ', ..]
            if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() =>
        {
            Ok(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => Err(bad()),
    }
}

fn framing<'a>(status: u16, header_lines: impl Iterator<Item = &'a [u8]>) -> Framing {
    if status == 204 || status == 304 {
        return Framing::Empty;
    }
    let (mut transfer_encoding, mut chunked, mut length) = (false, false, None);
    for line in header_lines {
        let Some(colon) = find(line, b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Only the final coding decides (RFC 9112 §6.3 rule 4).
            transfer_encoding = true;
            let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"content-length") && length.is_none() {
            length = content_length(value);
        }
    }
    match (transfer_encoding, chunked, length) {
        // Transfer-Encoding overrides Content-Length (§6.3 rule 3).
        (true, true, _) => Framing::Chunked,
        (true, false, _) => Framing::Close,
        (false, _, Some(n)) => Framing::Length(n),
        (false, _, None) => Framing::Close,
    }
}

/// `Content-Length`, also as a list of equal values (RFC 9110 §8.6). An invalid one is
/// ignored and the body read until the connection closes, as keepalived does (RFC 9112 §6.3
/// would have the response rejected).
fn content_length(value: &[u8]) -> Option<usize> {
    let mut n = None;
    for v in value.split(|&b| b == b',') {
        let v = std::str::from_utf8(v.trim_ascii()).ok()?;
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v: usize = v.parse().ok()?;
        if n.is_some_and(|n| n != v) {
            return None;
        }
        n = Some(v);
    }
    n
}

/// Whether the body has fully arrived, so the connection need not be read to its end.
pub fn body_complete(head: &Head, body: &[u8]) -> Result<bool, String> {
    Ok(match head.framing {
        Framing::Empty => true,
        Framing::Length(n) => body.len() >= n,
        Framing::Close => false,
        Framing::Chunked => dechunk(body)?.is_some(),
    })
}

/// The body as the server meant it: de-chunked, and cut at `Content-Length`. A body shorter
/// than its `Content-Length` is used as it came (keepalived only logs the difference).
pub fn body<'a>(head: &Head, raw: &'a [u8]) -> Result<Cow<'a, [u8]>, String> {
    match head.framing {
        Framing::Empty => Ok(Cow::Borrowed(&[])),
        Framing::Length(n) => Ok(Cow::Borrowed(&raw[..n.min(raw.len())])),
        Framing::Close => Ok(Cow::Borrowed(raw)),
        Framing::Chunked => match dechunk(raw)? {
            Some(b) => Ok(Cow::Owned(b)),
            None => Err("response ends inside its chunked body".to_string()),
        },
    }
}

/// Decodes the chunked coding (RFC 9112 §7.1): `Ok(None)` while incomplete. Chunk extensions
/// and trailer fields are skipped.
pub fn dechunk(raw: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let Some(nl) = find(&raw[i..], b'\n') else {
            return Ok(None);
        };
        let line = trim_cr(&raw[i..i + nl]);
        let size = chunk_size(line)?;
        i += nl + 1;
        if size == 0 {
            // The trailer section, up to an empty line.
            loop {
                let Some(nl) = find(&raw[i..], b'\n') else {
                    return Ok(None);
                };
                let line = trim_cr(&raw[i..i + nl]);
                i += nl + 1;
                if line.is_empty() {
                    return Ok(Some(out));
                }
            }
        }
        if size > raw.len() - i {
            return Ok(None);
        }
        out.extend_from_slice(&raw[i..i + size]);
        i += size;
        match &raw[i..] {
            [b'\r', b'\n', ..] => i += 2,
            [b'\n', ..] => i += 1,
            [] | [b'\r'] => return Ok(None),
            _ => return Err("chunk data not followed by CRLF".to_string()),
        }
    }
}

/// `chunk-size [ chunk-ext ]`: hex digits, then optional `;ext` (RFC 9112 §7.1.1).
fn chunk_size(line: &[u8]) -> Result<usize, String> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let bad = || format!("bad chunk size line {:?}", shorten(line));
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    let s = std::str::from_utf8(digits).map_err(|_| bad())?;
    usize::from_str_radix(s, 16).map_err(|_| bad())
}

fn find(b: &[u8], c: u8) -> Option<usize> {
    b.iter().position(|&x| x == c)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A line for a reason: at most 60 bytes, lossily decoded.
pub fn shorten(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(&line[..line.len().min(60)]);
    if line.len() > 60 {
        format!("{s}…")
    } else {
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(s: &str) -> Head {
        head(s.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn status_lines() {
        assert_eq!(head_of("HTTP/1.1 200 OK\r\n\r\n").status, 200);
        assert_eq!(head_of("HTTP/1.0 404 Not Found\r\n\r\n").status, 404);
        // No reason phrase, with and without its space.
        assert_eq!(head_of("HTTP/1.1 503 \r\n\r\n").status, 503);
        assert_eq!(head_of("HTTP/1.1 503\r\n\r\n").status, 503);
        // Bare LF line ends.
        assert_eq!(head_of("HTTP/1.1 301 Moved\nLocation: /x\n\n").status, 301);
        for bad in [
            "SSH-2.0-OpenSSH_9.6\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1\r\n\r\n",
            "\r\n\r\n",
        ] {
            let e = head(bad.as_bytes()).unwrap_err();
            assert!(e.starts_with("malformed status line"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_head_is_incomplete_until_its_empty_line() {
        assert_eq!(head(b""), Ok(None));
        assert_eq!(head(b"HTTP/1.1 200 OK\r\nServer: x\r\n"), Ok(None));
        let r = "HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody";
        assert_eq!(&r[head_of(r).body_start..], "body");
        let long = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(MAX_HEAD));
        assert!(head(long.as_bytes()).is_err());
    }

    #[test]
    fn interim_responses_are_skipped() {
        let r = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\n\r\nhi";
        let h = head_of(r);
        assert_eq!((h.status, &r[h.body_start..]), (200, "hi"));
        assert_eq!(head(b"HTTP/1.1 100 Continue\r\n\r\n"), Ok(None));
    }

    #[test]
    fn framing_follows_rfc_9112_section_6_3() {
        let f = |s: &str| head_of(s).framing;
        assert_eq!(
            f("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"),
            Framing::Length(5)
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n"),
            Framing::Length(5)
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"),
            Framing::Close
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            Framing::Close
        );
        assert_eq!(f("HTTP/1.1 200 OK\r\n\r\n"), Framing::Close);
        let te = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n";
        assert_eq!(f(te), Framing::Chunked);
        let te = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
        assert_eq!(f(te), Framing::Close);
        assert_eq!(
            f("HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"),
            Framing::Empty
        );
        assert_eq!(f("HTTP/1.1 304 Not Modified\r\n\r\n"), Framing::Empty);
    }

    #[test]
    fn chunked_bodies_decode() {
        let raw =
            b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(
            dechunk(raw).unwrap().as_deref(),
            Some(&b"Wikipedia in\r\n\r\nchunks."[..])
        );
        assert_eq!(dechunk(b"0\r\n\r\n").unwrap(), Some(Vec::new()));
        assert_eq!(
            dechunk(b"3\nabc\n0\n\n").unwrap().as_deref(),
            Some(&b"abc"[..])
        );
        // Incomplete anywhere.
        for cut in [0, 1, 3, 5, 7, 8, 9, 10, 12] {
            let raw = b"3\r\nabc\r\n0\r\n\r\n";
            assert_eq!(dechunk(&raw[..cut]), Ok(None), "cut at {cut}");
        }
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"3\r\nabcd\r\n",
            b"fffffffffffffffff\r\n",
            b"-1\r\n",
        ] {
            assert!(dechunk(bad).is_err(), "{bad:?}");
        }
        // A huge announced size is just incomplete, never an overflow.
        assert_eq!(dechunk(b"fffffffffffffff\r\nab"), Ok(None));
    }

    #[test]
    fn bodies_are_cut_and_completed_by_their_framing() {
        let h = |framing| Head {
            status: 200,
            body_start: 0,
            framing,
        };
        assert_eq!(&*body(&h(Framing::Length(3)), b"abcdef").unwrap(), b"abc");
        assert_eq!(&*body(&h(Framing::Length(9)), b"abc").unwrap(), b"abc");
        assert_eq!(&*body(&h(Framing::Close), b"abc").unwrap(), b"abc");
        assert_eq!(&*body(&h(Framing::Empty), b"abc").unwrap(), b"");
        assert!(body(&h(Framing::Chunked), b"3\r\nab").is_err());

        assert_eq!(body_complete(&h(Framing::Length(3)), b"ab"), Ok(false));
        assert_eq!(body_complete(&h(Framing::Length(3)), b"abc"), Ok(true));
        assert_eq!(body_complete(&h(Framing::Close), b"abc"), Ok(false));
        assert_eq!(body_complete(&h(Framing::Chunked), b"0\r\n\r\n"), Ok(true));
        assert_eq!(body_complete(&h(Framing::Chunked), b"0\r\n"), Ok(false));
    }
}
