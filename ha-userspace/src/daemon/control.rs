//! The control socket: a Unix stream socket, mode 0600 and checked with `SO_PEERCRED` (root
//! or the daemon's own user only). One JSON request line in, one JSON reply line out.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::UnixListener;
use tokio::sync::mpsc;

use super::status::Status;

/// Where control sockets live; `ha.sock` unless the daemon is one of several on the host.
pub const SOCKET_DIR: &str = "/run/ha";

/// The control socket a daemon serves when `-S` does not say: `/run/ha/ha.sock`, with the
/// config's `instance` and the network namespace in the name when there are ones, as
/// keepalived names its pid files after them. So one `ha run` per namespace (under
/// `ip netns exec`, or with `net_namespace`) needs no `-S`, and `ha status` run the same way
/// finds it.
pub fn default_socket(instance: Option<&str>, netns: Option<&str>) -> PathBuf {
    let mut name = String::from("ha");
    for part in [instance, netns].into_iter().flatten() {
        name.push('_');
        name.push_str(&part.replace('/', "_"));
    }
    Path::new(SOCKET_DIR).join(format!("{name}.sock"))
}

/// The name of the network namespace this process runs in, when it is one `ip netns`
/// named (its `/run/netns` entry is the same namespace file); `None` in the host's own.
pub fn current_netns() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self/ns/net").ok()?;
    std::fs::read_dir("/run/netns")
        .ok()?
        .filter_map(Result::ok)
        .find(|e| {
            std::fs::metadata(e.path()).is_ok_and(|m| m.dev() == me.dev() && m.ino() == me.ino())
        })
        .and_then(|e| e.file_name().into_string().ok())
}
/// Requests are tiny; anything longer is refused unread.
const MAX_REQUEST: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status,
    Failover { instance: String },
    Reload,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

impl Reply {
    pub fn error(e: impl Into<String>) -> Self {
        Reply {
            ok: false,
            message: Some(e.into()),
            status: None,
        }
    }
    pub fn message(m: impl Into<String>) -> Self {
        Reply {
            ok: true,
            message: Some(m.into()),
            status: None,
        }
    }
}

/// A request from a client, with where to send the reply.
pub struct Incoming {
    pub request: Request,
    pub reply: tokio::sync::oneshot::Sender<Reply>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {path}: {what}")]
    Protocol { path: PathBuf, what: String },
}

/// Binds the socket (replacing a stale one) and serves it until the runtime stops.
pub fn serve(path: &Path, tx: mpsc::Sender<Incoming>) -> Result<(), ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    if UnixStream::connect(path).is_ok() {
        return Err(ControlError::Protocol {
            path: path.to_owned(),
            what: "another ha is already running on it (use --control-socket)".into(),
        });
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let allowed = stream
                .peer_cred()
                .map(|c| c.uid() == 0 || c.uid() == me)
                .unwrap_or(false);
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = handle(stream, allowed, tx).await;
            });
        }
    });
    Ok(())
}

async fn handle(
    stream: tokio::net::UnixStream,
    allowed: bool,
    tx: mpsc::Sender<Incoming>,
) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    let mut reader = TokioBufReader::new(r).take(MAX_REQUEST as u64);
    let reply = if !allowed {
        Reply::error("permission denied: the control socket is for root")
    } else {
        tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
            .await
            .ok();
        match serde_json::from_str::<Request>(line.trim()) {
            Err(e) => Reply::error(format!("bad request: {e}")),
            Ok(request) => {
                let (otx, orx) = tokio::sync::oneshot::channel();
                if tx
                    .send(Incoming {
                        request,
                        reply: otx,
                    })
                    .await
                    .is_err()
                {
                    Reply::error("the daemon is stopping")
                } else {
                    orx.await
                        .unwrap_or_else(|_| Reply::error("the daemon is stopping"))
                }
            }
        }
    };
    let mut out = serde_json::to_string(&reply).unwrap_or_else(|_| "{\"ok\":false}".into());
    out.push('\n');
    w.write_all(out.as_bytes()).await?;
    w.shutdown().await
}

use tokio::io::AsyncReadExt as _;

/// The client side: one request, one reply.
pub fn request(path: &Path, req: &Request) -> Result<Reply, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_owned(),
        source,
    };
    let mut s = UnixStream::connect(path).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut line = serde_json::to_string(req).map_err(|e| ControlError::Protocol {
        path: path.to_owned(),
        what: e.to_string(),
    })?;
    line.push('\n');
    s.write_all(line.as_bytes()).map_err(io)?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).map_err(io)?;
    serde_json::from_str(&reply).map_err(|e| ControlError::Protocol {
        path: path.to_owned(),
        what: format!("unreadable reply ({e}): {}", reply.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_socket_names_the_instance_and_namespace() {
        assert_eq!(default_socket(None, None), Path::new("/run/ha/ha.sock"));
        assert_eq!(
            default_socket(Some("lb1"), None),
            Path::new("/run/ha/ha_lb1.sock")
        );
        assert_eq!(
            default_socket(Some("lb1"), Some("blue")),
            Path::new("/run/ha/ha_lb1_blue.sock")
        );
        assert_eq!(
            default_socket(None, Some("a/b")),
            Path::new("/run/ha/ha_a_b.sock")
        );
    }

    #[test]
    fn request_wire_format() {
        assert_eq!(
            serde_json::to_string(&Request::Failover {
                instance: "VI_1".into()
            })
            .unwrap(),
            r#"{"cmd":"failover","instance":"VI_1"}"#
        );
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"cmd":"status"}"#).unwrap(),
            Request::Status
        );
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"rm -rf"}"#).is_err());
    }
}
