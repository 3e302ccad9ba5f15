//! The `ipvs` backend: the load balancer's changes as IPVS generic netlink requests, what
//! keepalived's checker process does (its `ipvswrapper.c`), batched and applied by diff.
//!
//! Beyond keepalived: at start the kernel's table is read, and services of the config
//! that an earlier run left there are adopted (edited to the config, and destinations the
//! config does not name removed) instead of being left stale after an EEXIST. Services
//! the config does not name are never touched, as keepalived never touches them.

pub mod show;
mod socket;
pub mod syncd;

/// Whether the kernel has IPVS (its generic netlink family resolves).
pub fn available() -> bool {
    socket::IpvsSocket::open().is_ok()
}

use std::collections::BTreeMap;
use std::io;

use tracing::{error, info, warn};

pub use socket::IpvsSocket;

use crate::config::model::global::lvs::FlushOnStop;
use crate::lb::diff::{diff, Change};
use crate::lb::ipvs::attrs::{Attrs, Level};
use crate::lb::ipvs::consts::*;
use crate::lb::ipvs::wire::Conns;
use crate::lb::ipvs::wire::{self, nested};
use crate::lb::ipvs::IpvsMessage;
use crate::lb::state::{Dest, LbState, Service, ServiceKey, ServiceParams};
use crate::lb::{KernelView, LbBackend, LbError, LbSettings, Refused};
use std::net::SocketAddr;

pub struct IpvsBackend {
    sock: IpvsSocket,
    settings: LbSettings,
    /// The kernel's timeouts before we changed them (tcp, tcpfin, udp), restored at stop.
    saved_timeouts: Option<[u32; 3]>,
    /// The sync daemons this backend started (only without a VRRP instance).
    syncd: Option<syncd::SyncDaemon>,
    /// The table was read once (later reads, after a refused change, say nothing).
    adopted_once: bool,
}

/// How a refused change is handled, as keepalived's `ipvs_talk` does.
enum Recovery {
    /// The table already is as asked: what a delete removes is not there.
    Done,
    /// Try this instead (an add that exists becomes an edit, an edit of what is missing
    /// becomes an add).
    Instead(Change),
    Failed,
}

impl IpvsBackend {
    /// Opens IPVS; `NotFound` when the kernel has none. `lvs_flush` empties the table,
    /// `lvs_timeouts` are set, and a sync daemon not tied to a VRRP instance started.
    pub fn open(settings: LbSettings) -> io::Result<IpvsBackend> {
        let mut sock = IpvsSocket::open()?;
        // keepalived's ipvs_init: IPVS must answer GET_INFO.
        if let Err(e) = sock.query(IpvsMessage::new(CMD_GET_INFO, vec![]), false)? {
            return Err(io::Error::from_raw_os_error(e));
        }
        let mut b = IpvsBackend {
            sock,
            settings: LbSettings::default(),
            saved_timeouts: None,
            syncd: None,
            adopted_once: false,
        };
        if settings.flush {
            match b.sock.request(IpvsMessage::new(CMD_FLUSH, vec![]))? {
                Ok(()) => info!("ipvs: lvs_flush: the table was flushed"),
                Err(e) => warn!("ipvs: lvs_flush: {}", errno_text(e)),
            }
        }
        b.reconfigure(&settings);
        Ok(b)
    }

    /// Keep (or stop keeping) every message received, for [`Self::captured`].
    pub fn capture(&mut self, on: bool) {
        self.sock.capture = on.then(Vec::new);
    }

    /// The generic netlink payloads received since [`Self::capture`].
    pub fn captured(&mut self) -> Vec<Vec<u8>> {
        self.sock.capture.take().unwrap_or_default()
    }

    /// Every service and destination in the kernel, with connection counts.
    pub fn dump(&mut self) -> io::Result<KernelView> {
        let mut view = KernelView::default();
        for (key, params) in self.services()? {
            let mut map = BTreeMap::new();
            for (addr, dest, conns) in self.dests(&key)? {
                view.conns
                    .insert((key, addr), (conns.active, conns.inactive));
                map.insert(addr, dest);
            }
            view.table
                .services
                .insert(key, Service { params, dests: map });
        }
        Ok(view)
    }

    /// The kernel's services (one dump).
    pub fn services(&mut self) -> io::Result<Vec<(ServiceKey, ServiceParams)>> {
        let replies = self
            .sock
            .query(IpvsMessage::new(CMD_GET_SERVICE, vec![]), true)?
            .map_err(io::Error::from_raw_os_error)?;
        // A service ha cannot read (a scheduler or protocol it does not know) is not one
        // of ha's: skipped, so the rest of the table still reads.
        Ok(replies
            .iter()
            .filter_map(|r| r.attrs.nested(CMD_ATTR_SERVICE))
            .filter_map(|svc| match wire::service_of(svc) {
                Ok(s) => Some(s),
                Err(e) => {
                    warn!("ipvs: a kernel service ha cannot read is skipped: {e}");
                    None
                }
            })
            .collect())
    }

    /// One service's destinations (one dump).
    pub fn dests(&mut self, key: &ServiceKey) -> io::Result<Vec<(SocketAddr, Dest, Conns)>> {
        let family = LbState::family(key);
        let replies = self
            .sock
            .query(
                IpvsMessage::new(
                    CMD_GET_DEST,
                    vec![nested(
                        CMD_ATTR_SERVICE,
                        Level::Service,
                        wire::service_key(key),
                    )],
                ),
                true,
            )?
            .map_err(io::Error::from_raw_os_error)?;
        Ok(replies
            .iter()
            .filter_map(|d| d.attrs.nested(CMD_ATTR_DEST))
            .filter_map(|d| match wire::dest_of(d, family) {
                Ok(d) => Some(d),
                Err(e) => {
                    warn!("ipvs: a real server of {key} ha cannot read is skipped: {e}");
                    None
                }
            })
            .collect())
    }

    /// Sets `lvs_timeouts`: the kernel takes all three at once, so unset ones keep the
    /// values it had before ha changed any (keepalived's ipvs_set_timeouts).
    fn set_timeouts(&mut self) {
        let t = self.settings.timeouts.clone();
        if t.tcp.is_none() && t.tcpfin.is_none() && t.udp.is_none() {
            self.restore_timeouts();
            return;
        }
        let saved = match self.saved_timeouts {
            Some(s) => s,
            None => match self.timeouts() {
                Ok(s) => {
                    self.saved_timeouts = Some(s);
                    s
                }
                Err(e) => {
                    warn!("ipvs: reading the connection timeouts: {e}");
                    return;
                }
            },
        };
        let v = [
            t.tcp.unwrap_or(saved[0]),
            t.tcpfin.unwrap_or(saved[1]),
            t.udp.unwrap_or(saved[2]),
        ];
        if let Err(e) = self.write_timeouts(v) {
            warn!(
                "ipvs: lvs_timeouts tcp {} tcpfin {} udp {}: {e}",
                v[0], v[1], v[2]
            );
        }
    }

    fn restore_timeouts(&mut self) {
        if let Some(s) = self.saved_timeouts.take() {
            if let Err(e) = self.write_timeouts(s) {
                warn!("ipvs: restoring the connection timeouts: {e}");
            }
        }
    }

    /// The kernel's (tcp, tcpfin, udp) timeouts, in seconds.
    pub fn timeouts(&mut self) -> io::Result<[u32; 3]> {
        let r = self
            .sock
            .query(IpvsMessage::new(CMD_GET_CONFIG, vec![]), false)?
            .map_err(io::Error::from_raw_os_error)?;
        let a = r.first().map(|m| m.attrs.as_slice()).unwrap_or(&[]);
        Ok([
            a.u32(CMD_ATTR_TIMEOUT_TCP).unwrap_or(0),
            a.u32(CMD_ATTR_TIMEOUT_TCP_FIN).unwrap_or(0),
            a.u32(CMD_ATTR_TIMEOUT_UDP).unwrap_or(0),
        ])
    }

    fn write_timeouts(&mut self, v: [u32; 3]) -> io::Result<()> {
        use crate::lb::ipvs::attrs::{Attr, Value};
        let msg = IpvsMessage::new(
            CMD_SET_CONFIG,
            vec![
                Attr::new(CMD_ATTR_TIMEOUT_TCP, Value::U32(v[0])),
                Attr::new(CMD_ATTR_TIMEOUT_TCP_FIN, Value::U32(v[1])),
                Attr::new(CMD_ATTR_TIMEOUT_UDP, Value::U32(v[2])),
            ],
        );
        self.sock
            .request(msg)?
            .map_err(io::Error::from_raw_os_error)
    }

    fn recovery(c: &Change, errno: i32) -> Recovery {
        let missing = errno == libc::ENOENT || errno == libc::ESRCH;
        match c {
            Change::AddService { key, params } if errno == libc::EEXIST => {
                Recovery::Instead(Change::EditService {
                    key: *key,
                    params: params.clone(),
                })
            }
            Change::AddDest {
                service,
                addr,
                dest,
            } if errno == libc::EEXIST => Recovery::Instead(Change::EditDest {
                service: *service,
                addr: *addr,
                dest: *dest,
            }),
            // The destination is gone (ENOENT; a missing service is ESRCH, and is not
            // recovered here: the retry reads the kernel's table again).
            Change::EditDest {
                service,
                addr,
                dest,
            } if errno == libc::ENOENT => Recovery::Instead(Change::AddDest {
                service: *service,
                addr: *addr,
                dest: *dest,
            }),
            Change::DelService { .. } | Change::DelDest { .. } if missing => Recovery::Done,
            _ => Recovery::Failed,
        }
    }

    fn error(c: &Change, errno: i32) -> LbError {
        LbError {
            backend: "ipvs",
            change: c.to_string(),
            reason: reason(c, errno),
        }
    }
}

pub use crate::lb::ipvs::wire::request as message;

/// What the kernel's errno means for this change (ipvsadm's and keepalived's wording).
fn reason(c: &Change, errno: i32) -> String {
    let specific = match (c, errno) {
        (Change::AddService { .. } | Change::EditService { .. }, libc::ENOENT) => {
            Some("scheduler or persistence engine not found")
        }
        (Change::AddService { .. }, libc::EEXIST) => Some("service already exists"),
        (Change::AddDest { .. }, libc::EEXIST) => Some("destination already exists"),
        (Change::EditDest { .. } | Change::DelDest { .. }, libc::ENOENT) => {
            Some("no such destination")
        }
        (_, libc::ESRCH) => Some("no such service"),
        (_, libc::EPERM) => Some("permission denied (needs CAP_NET_ADMIN)"),
        (_, libc::EINVAL) => {
            Some("invalid argument (address not unicast or not local, or a kernel too old for this option)")
        }
        _ => None,
    };
    match specific {
        Some(s) => format!("{s} ({})", errno_text(errno)),
        None => errno_text(errno),
    }
}

fn errno_text(errno: i32) -> String {
    io::Error::from_raw_os_error(errno).to_string()
}

impl LbBackend for IpvsBackend {
    fn name(&self) -> &'static str {
        "ipvs"
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), Refused> {
        let results = self.sock.changes(changes).map_err(|e| {
            (
                (0..changes.len()).collect(),
                LbError {
                    backend: "ipvs",
                    change: changes.first().map(|c| c.to_string()).unwrap_or_default(),
                    reason: e.to_string(),
                },
            )
        })?;
        // Every result is looked at, recoveries included: the caller records every change
        // that went through, and reads the kernel's table again before it retries.
        let mut failed = Vec::new();
        let mut first: Option<LbError> = None;
        for (i, (c, r)) in changes.iter().zip(results).enumerate() {
            let Err(errno) = r else { continue };
            let refused = match Self::recovery(c, errno) {
                Recovery::Done => None,
                Recovery::Instead(other) => match self.sock.request(message(&other)) {
                    Ok(Ok(())) => {
                        info!("ipvs: {c}: {}; did: {other}", reason(c, errno));
                        None
                    }
                    Ok(Err(e2)) => Some(Self::error(&other, e2)),
                    Err(e) => Some(LbError {
                        backend: "ipvs",
                        change: other.to_string(),
                        reason: e.to_string(),
                    }),
                },
                Recovery::Failed => Some(Self::error(c, errno)),
            };
            if let Some(e) = refused {
                failed.push(i);
                if first.is_none() {
                    first = Some(e);
                } else {
                    error!("load balancer: {e}");
                }
            }
        }
        match first {
            Some(e) => Err((failed, e)),
            None => Ok(()),
        }
    }

    fn adopt(&mut self, wanted: &LbState) -> LbState {
        let view = match self.dump() {
            Ok(v) => v,
            Err(e) => {
                warn!("ipvs: reading the kernel's table: {e}");
                return LbState::default();
            }
        };
        let mut held = LbState::default();
        for (key, want) in &wanted.services {
            let Some(have) = view.table.services.get(key) else {
                continue;
            };
            let family = LbState::family(key);
            // Params equal once written as the kernel reports them are the same params.
            let params = if wire::canonical(&want.params, family) == have.params {
                want.params.clone()
            } else {
                have.params.clone()
            };
            held.services.insert(
                *key,
                Service {
                    params,
                    dests: have.dests.clone(),
                },
            );
        }
        if !self.adopted_once && !held.services.is_empty() {
            info!(
                "ipvs: {} service(s) of the config already in the kernel's table (left by an \
                 earlier run): adopted and brought to the config",
                held.services.len()
            );
        }
        self.adopted_once = true;
        held
    }

    fn reconfigure(&mut self, settings: &LbSettings) {
        if settings.timeouts != self.settings.timeouts {
            self.settings.timeouts = settings.timeouts.clone();
            self.set_timeouts();
        }
        if settings.sync_daemon != self.settings.sync_daemon {
            if let Some(d) = self.syncd.take() {
                d.stop();
            }
            self.syncd = settings
                .sync_daemon
                .as_ref()
                .and_then(|conf| syncd::SyncDaemon::start_both(conf.clone()));
        }
        self.settings = settings.clone();
    }

    fn stop(&mut self, applied: &LbState) -> Result<(), LbError> {
        let result = match self.settings.flush_on_stop {
            // One FLUSH: every service in the table goes, ours or not.
            Some(FlushOnStop::Full) if !applied.services.is_empty() => {
                match self.sock.request(IpvsMessage::new(CMD_FLUSH, vec![])) {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(errno_text(e)),
                    Err(e) => Err(e.to_string()),
                }
                .map_err(|reason| LbError {
                    backend: "ipvs",
                    change: "flush the table (lvs_flush_on_stop)".into(),
                    reason,
                })
            }
            // The services only: the kernel drops their destinations with them.
            Some(FlushOnStop::Vs) => {
                let changes: Vec<Change> = applied
                    .services
                    .keys()
                    .map(|k| Change::DelService { key: *k })
                    .collect();
                self.apply(&changes).map_err(|(_, e)| e)
            }
            _ => self
                .apply(&diff(applied, &LbState::default()))
                .map_err(|(_, e)| e),
        };
        self.restore_timeouts();
        if let Some(d) = self.syncd.take() {
            d.stop();
        }
        result
    }

    fn kernel_view(&mut self) -> Option<KernelView> {
        match self.dump() {
            Ok(v) => Some(v),
            Err(e) => {
                warn!("ipvs: reading the kernel's table: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::lvs::forwarding::Forwarding;
    use crate::config::model::lvs::virtual_server::Protocol;
    use crate::lb::ipvs::attrs::Attrs;
    use crate::lb::state::{Dest, ServiceKey, ServiceParams};

    fn key() -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.0.2.10:80".parse().unwrap(),
        }
    }

    fn dest() -> Dest {
        Dest {
            weight: 3,
            forwarding: Forwarding::Dr,
            uthreshold: 0,
            lthreshold: 0,
        }
    }

    #[test]
    fn refusals_are_recovered_as_keepalived_does() {
        let params = ServiceParams {
            scheduler: Default::default(),
            flags: Default::default(),
            persistence_timeout: None,
            persistence_granularity: None,
            persistence_engine: None,
        };
        let add = Change::AddService {
            key: key(),
            params: params.clone(),
        };
        // An existing service is edited to the config rather than left as it was.
        assert!(matches!(
            IpvsBackend::recovery(&add, libc::EEXIST),
            Recovery::Instead(Change::EditService { .. })
        ));
        // An unknown scheduler is a failure.
        assert!(matches!(
            IpvsBackend::recovery(&add, libc::ENOENT),
            Recovery::Failed
        ));
        let addr = "10.0.0.1:80".parse().unwrap();
        let edit = Change::EditDest {
            service: key(),
            addr,
            dest: dest(),
        };
        assert!(matches!(
            IpvsBackend::recovery(&edit, libc::ENOENT),
            Recovery::Instead(Change::AddDest { .. })
        ));
        let del = Change::DelDest {
            service: key(),
            addr,
        };
        assert!(matches!(
            IpvsBackend::recovery(&del, libc::ENOENT),
            Recovery::Done
        ));
        assert!(matches!(
            IpvsBackend::recovery(&Change::DelService { key: key() }, libc::ESRCH),
            Recovery::Done
        ));
        assert!(matches!(
            IpvsBackend::recovery(&del, libc::EPERM),
            Recovery::Failed
        ));
    }

    #[test]
    fn errors_name_the_service_and_the_real_server() {
        let c = Change::AddDest {
            service: key(),
            addr: "10.0.0.1:80".parse().unwrap(),
            dest: dest(),
        };
        let e = IpvsBackend::error(&c, libc::ESRCH).to_string();
        assert!(e.contains("TCP [192.0.2.10]:80"), "{e}");
        assert!(e.contains("[10.0.0.1]:80"), "{e}");
        assert!(e.contains("no such service"), "{e}");
    }

    #[test]
    fn a_destination_command_names_its_service_by_key_only() {
        let m = message(&Change::DelDest {
            service: key(),
            addr: "10.0.0.1:80".parse().unwrap(),
        });
        assert_eq!(m.cmd, CMD_DEL_DEST);
        let svc = m.attrs.nested(CMD_ATTR_SERVICE).unwrap();
        assert!(Attrs::get(svc, SVC_ATTR_SCHED_NAME).is_none());
        assert_eq!(svc.u16(SVC_ATTR_PORT), Some(80));
        let d = m.attrs.nested(CMD_ATTR_DEST).unwrap();
        assert_eq!(d.u16(DEST_ATTR_PORT), Some(80));
    }
}
