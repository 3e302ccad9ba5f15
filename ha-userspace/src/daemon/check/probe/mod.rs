//! One probe of a real server: the I/O half of a checker (the decisions are in
//! `crate::check`). Each function connects, talks, and returns an [`Outcome`]; none
//! panics, and each is bounded by the checker's `connect_timeout`.

mod dns;
mod http;
mod ping;
mod smtp;
mod sock;
mod tcp;
mod tls;
mod udp;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::model::lvs::checker::dns::DnsCheck;
use crate::config::model::lvs::checker::http::HttpCheck;
use crate::config::model::lvs::checker::udp::UdpCheck;
use crate::config::model::lvs::checker::ConnOpts;

pub use tls::TlsClient;

/// What a probe found: success, or why not ("connection refused", "status 500 not in
/// 200-299", "digest mismatch", "timed out after 3s").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub reason: String,
}

impl Outcome {
    pub fn ok(reason: impl Into<String>) -> Outcome {
        Outcome {
            ok: true,
            reason: reason.into(),
        }
    }
    pub fn fail(reason: impl Into<String>) -> Outcome {
        Outcome {
            ok: false,
            reason: reason.into(),
        }
    }
}

/// A network probe: what to send and where. Equal specs are probed once per period and the
/// result fans out to every checker that has it (see `crate::check`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ProbeKind {
    Tcp,
    /// `HTTP_GET` (`tls` false) and `SSL_GET`; `host` is the virtualhost the checker
    /// inherits (checker, else real server, else virtual server), which a url's own
    /// `virtualhost` overrides.
    Http {
        tls: bool,
        check: Arc<HttpCheck>,
        host: Option<String>,
    },
    Smtp {
        helo_name: String,
    },
    Dns(Arc<DnsCheck>),
    Udp(Arc<UdpCheck>),
    Ping,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeSpec {
    pub kind: ProbeKind,
    pub conn: ConnOpts,
}

impl ProbeSpec {
    pub fn timeout(&self) -> Duration {
        Duration::from_micros(self.conn.connect_timeout.0.max(1))
    }
}

/// Runs one probe, bounded by the connect timeout as a whole.
pub async fn run(spec: &ProbeSpec, tls: &TlsClient) -> Outcome {
    let t = spec.timeout();
    // Each kind's future is boxed: their state machines differ in size by kilobytes (TLS),
    // and an unboxed union would make every probe task as large as the largest, copied
    // whole when spawned.
    let work: Pin<Box<dyn Future<Output = Outcome> + Send + '_>> = match &spec.kind {
        ProbeKind::Tcp => Box::pin(tcp::probe(&spec.conn)),
        ProbeKind::Http {
            tls: false,
            check,
            host,
        } => Box::pin(http::probe(&spec.conn, check, host.as_deref(), None)),
        ProbeKind::Http {
            tls: true,
            check,
            host,
        } => Box::pin(http::probe(&spec.conn, check, host.as_deref(), Some(tls))),
        ProbeKind::Smtp { helo_name } => Box::pin(smtp::probe(&spec.conn, helo_name)),
        ProbeKind::Dns(d) => Box::pin(dns::probe(&spec.conn, d)),
        ProbeKind::Udp(u) => Box::pin(udp::probe(&spec.conn, u)),
        ProbeKind::Ping => Box::pin(ping::probe(&spec.conn)),
    };
    if let ProbeKind::Udp(_) = spec.kind {
        // Silence until the timeout is a UDP_CHECK success, so it bounds itself.
        return work.await;
    }
    match tokio::time::timeout(t, work).await {
        Ok(o) => o,
        Err(_) => Outcome::fail(format!("timed out after {t:?}")),
    }
}
