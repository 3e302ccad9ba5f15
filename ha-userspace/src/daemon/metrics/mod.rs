//! `ha run --metrics ADDR:PORT`: Prometheus metrics over HTTP at `/metrics`. The listener
//! runs on the main thread's runtime (never on the VRRP or BFD threads); a scrape asks the
//! main loop for a status snapshot, the same one `ha status` shows, and renders it
//! (`render.rs`).

mod render;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};

pub use render::render;

/// A scrape waiting for the main loop's snapshot, rendered.
pub struct Scrape {
    pub reply: oneshot::Sender<String>,
}

/// The OpenMetrics content type prometheus-client encodes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// A request line and headers larger than this are refused.
const MAX_REQUEST: usize = 8 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr` (an error here stops the start) and serves scrapes until the runtime ends.
pub async fn serve(addr: SocketAddr, scrapes: mpsc::Sender<Scrape>) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    info!("metrics on http://{addr}/metrics");
    tokio::spawn(async move {
        loop {
            let Ok((conn, peer)) = listener.accept().await else {
                continue;
            };
            let scrapes = scrapes.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(conn, scrapes).await {
                    debug!("metrics request from {peer}: {e}");
                }
            });
        }
    });
    Ok(())
}

/// One HTTP/1.x request on `conn`; the connection is closed after the answer.
async fn answer(mut conn: TcpStream, scrapes: mpsc::Sender<Scrape>) -> io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    let read = async {
        let mut chunk = [0u8; 512];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST {
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        io::Result::Ok(())
    };
    tokio::time::timeout(REQUEST_TIMEOUT, read)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request not received in time"))??;
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics") => {
            let (tx, rx) = oneshot::channel();
            let body = if scrapes.send(Scrape { reply: tx }).await.is_ok() {
                rx.await.ok()
            } else {
                None
            };
            match body {
                Some(b) => ("200 OK", CONTENT_TYPE, b),
                None => (
                    "503 Service Unavailable",
                    "text/plain",
                    "the daemon is stopping\n".to_string(),
                ),
            }
        }
        ("GET", _) => ("404 Not Found", "text/plain", "see /metrics\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET /metrics only\n".to_string(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body.as_bytes()).await?;
    conn.shutdown().await
}
