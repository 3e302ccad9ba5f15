//! `HTTP_GET` and `SSL_GET`: each `url` in order gets its own connection and a `GET`
//! (RFC 9112 §3); the first that fails fails the check. The request is keepalived's,
//! header for header, so servers see the same thing from either daemon.

mod response;
mod verdict;

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{sock, Outcome, TlsClient};
use crate::config::model::lvs::checker::http::{HttpCheck, HttpProtocol, Url};
use crate::config::model::lvs::checker::ConnOpts;

use verdict::evaluate;

/// Most bytes read for one url when its digest or regex needs the body. keepalived streams
/// any length through MD5; holding the body for de-chunking and the regex needs a bound.
pub const MAX_RESPONSE: usize = 1024 * 1024;

/// keepalived's `User-Agent`, so server rules and logs that single out health checks
/// keep working.
const USER_AGENT: &str = "KeepAliveClient";

/// `host` is the virtualhost inherited from the checker, real server or virtual server;
/// a url's own `virtualhost` comes first. `tls` is set for `SSL_GET`.
pub async fn probe(
    conn: &ConnOpts,
    check: &HttpCheck,
    host: Option<&str>,
    tls: Option<&TlsClient>,
) -> Outcome {
    let mut last = None;
    for url in &check.urls {
        let vhost = url
            .virtualhost
            .as_deref()
            .or(host)
            .or(check.virtualhost.as_deref());
        match get(conn, check, url, vhost, tls).await {
            Ok(status) => last = Some((url, status)),
            Err(why) => return Outcome::fail(format!("GET {}: {why}", url.path)),
        }
    }
    match (check.urls.len(), last) {
        (1, Some((url, status))) => Outcome::ok(format!("GET {}: status {status}", url.path)),
        (n, _) => Outcome::ok(format!("{n} urls ok")),
    }
}

async fn get(
    conn: &ConnOpts,
    check: &HttpCheck,
    url: &Url,
    vhost: Option<&str>,
    tls: Option<&TlsClient>,
) -> Result<u16, String> {
    let tcp = sock::tcp_connect(conn).await?;
    let req = request(check.http_protocol, &url.path, vhost, conn.connect_to);
    let need_body = url.digest.is_some() || url.regex.is_some();
    let buf = match tls {
        None => exchange(tcp, &req, need_body).await?,
        Some(tls) => {
            // keepalived names the server (SNI) only with enable_sni, and then by the
            // virtualhost.
            let sni = vhost.filter(|_| check.enable_sni);
            let stream = tls
                .connect(tcp, sni, conn.connect_to.ip())
                .await
                .map_err(|e| format!("TLS handshake: {}", sock::os_text(&e)))?;
            exchange(stream, &req, need_body).await?
        }
    };
    evaluate(url, &buf)
}

/// keepalived's request: the Host header is the virtualhost as written, else the address
/// and port it connects to, an IPv6 address in brackets (RFC 9110 §7.2, RFC 3986 §3.2.2).
/// `1.0C` and `1.1` ask the server to close the connection after the response.
pub fn request(proto: HttpProtocol, path: &str, vhost: Option<&str>, dst: SocketAddr) -> String {
    let version = match proto {
        HttpProtocol::V1_1 => "1.1",
        HttpProtocol::V1_0 | HttpProtocol::V1_0C => "1.0",
    };
    let close = match proto {
        HttpProtocol::V1_0 => "",
        HttpProtocol::V1_0C | HttpProtocol::V1_1 => "Connection: close\r\n",
    };
    let host = match vhost {
        Some(v) => v.to_string(),
        // SocketAddr's Display brackets IPv6; the scope id is never part of it here, since
        // `connect_to` comes from the config, which has none.
        None => dst.to_string(),
    };
    format!("GET {path} HTTP/{version}\r\nUser-Agent: {USER_AGENT}\r\n{close}Host: {host}\r\n\r\n")
}

/// Sends the request and reads the response: to its end when the body is needed, else
/// just its head. Reading also stops once the body is complete by its own framing, so a
/// server that keeps the connection open anyway is not waited for.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    req: &str,
    need_body: bool,
) -> Result<Vec<u8>, String> {
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("send: {}", sock::os_text(&e)))?;
    s.flush()
        .await
        .map_err(|e| format!("send: {}", sock::os_text(&e)))?;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(n) => n,
            // A TLS server closing without close_notify: the end of the response for
            // keepalived too (SSL_ERROR_SYSCALL ends its read).
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(format!("read: {}", sock::os_text(&e))),
        };
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(head) = response::head(&buf)? {
            if !need_body || response::body_complete(&head, &buf[head.body_start..])? {
                return Ok(buf);
            }
        }
        if buf.len() > MAX_RESPONSE {
            return Err(format!(
                "response longer than {} KiB, too long to check its digest or regex",
                MAX_RESPONSE / 1024
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn requests_are_keepalived_s() {
        let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 8080);
        assert_eq!(
            request(HttpProtocol::V1_0, "/index.html", None, v4),
            "GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 192.0.2.1:8080\r\n\r\n"
        );
        assert_eq!(
            request(HttpProtocol::V1_0C, "/", Some("www.example.com"), v4),
            "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.com\r\n\r\n"
        );
        let v6 = SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            443,
        );
        assert_eq!(
            request(HttpProtocol::V1_1, "/h?x=1", None, v6),
            "GET /h?x=1 HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: [2001:db8::1]:443\r\n\r\n"
        );
    }
}
