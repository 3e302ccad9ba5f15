//! The IPVS connection sync daemon (`lvs_sync_daemon`, ipvsadm's `--start-daemon`): the
//! kernel sends connection state from the master director to the backups so established
//! connections survive a failover. With a VRRP instance named, it follows the instance as
//! keepalived's VRRP process does: the backup daemon at start, master on becoming MASTER
//! and backup again on leaving it. Without one, both run for the life of the daemon.

use std::net::IpAddr;

use tracing::{info, warn};

use super::socket::IpvsSocket;
use crate::config::model::global::lvs::LvsSyncDaemon;
use crate::lb::ipvs::attrs::{Attr, Level, Value};
use crate::lb::ipvs::consts::*;
use crate::lb::ipvs::wire::nested;
use crate::lb::ipvs::IpvsMessage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Master,
    Backup,
}

impl Role {
    fn state(self) -> u32 {
        match self {
            Role::Master => STATE_MASTER,
            Role::Backup => STATE_BACKUP,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Backup => "backup",
        }
    }
}

pub struct SyncDaemon {
    sock: IpvsSocket,
    conf: LvsSyncDaemon,
    /// `id`, else the instance's VRID, else 0.
    sync_id: u8,
    running: Vec<Role>,
}

/// NEW_DAEMON's attributes: what the config sets; the kernel has the defaults (port 8848,
/// TTL 1, group 224.0.0.81).
pub fn start_message(conf: &LvsSyncDaemon, sync_id: u8, role: Role) -> IpvsMessage {
    let mut a = vec![
        Attr::new(DAEMON_ATTR_STATE, Value::U32(role.state())),
        Attr::new(DAEMON_ATTR_MCAST_IFN, Value::Str(conf.interface.clone())),
        Attr::new(DAEMON_ATTR_SYNC_ID, Value::U32(u32::from(sync_id))),
    ];
    if let Some(m) = conf.maxlen {
        a.push(Attr::new(DAEMON_ATTR_SYNC_MAXLEN, Value::U16(m)));
    }
    if let Some(p) = conf.port {
        a.push(Attr::new(DAEMON_ATTR_MCAST_PORT, Value::U16(p)));
    }
    if let Some(t) = conf.ttl {
        a.push(Attr::new(DAEMON_ATTR_MCAST_TTL, Value::U8(t)));
    }
    match conf.group {
        Some(IpAddr::V4(g)) => a.push(Attr::new(
            DAEMON_ATTR_MCAST_GROUP,
            Value::Bytes(g.octets().to_vec()),
        )),
        Some(IpAddr::V6(g)) => a.push(Attr::new(
            DAEMON_ATTR_MCAST_GROUP6,
            Value::Bytes(g.octets().to_vec()),
        )),
        None => {}
    }
    IpvsMessage::new(
        CMD_NEW_DAEMON,
        vec![nested(CMD_ATTR_DAEMON, Level::Daemon, a)],
    )
}

pub fn stop_message(sync_id: u8, role: Role) -> IpvsMessage {
    IpvsMessage::new(
        CMD_DEL_DAEMON,
        vec![nested(
            CMD_ATTR_DAEMON,
            Level::Daemon,
            vec![
                Attr::new(DAEMON_ATTR_STATE, Value::U32(role.state())),
                Attr::new(DAEMON_ATTR_SYNC_ID, Value::U32(u32::from(sync_id))),
            ],
        )],
    )
}

impl SyncDaemon {
    /// A controller with nothing started; `vrid` is the tied instance's.
    pub fn new(conf: LvsSyncDaemon, vrid: Option<u8>) -> Option<SyncDaemon> {
        let sock = match IpvsSocket::open() {
            Ok(s) => s,
            Err(e) => {
                warn!("lvs_sync_daemon on {}: {e}", conf.interface);
                return None;
            }
        };
        let sync_id = conf.id.or(vrid).unwrap_or(0);
        let mut d = SyncDaemon {
            sock,
            conf,
            sync_id,
            running: Vec::new(),
        };
        // Daemons a killed run left (perhaps in the other role) are stopped first, as
        // keepalived does before it starts one.
        for role in [Role::Master, Role::Backup] {
            let _ = d.sock.request(stop_message(d.sync_id, role));
        }
        Some(d)
    }

    /// Both daemons, for good: `lvs_sync_daemon` without a VRRP instance.
    pub fn start_both(conf: LvsSyncDaemon) -> Option<SyncDaemon> {
        let mut d = SyncDaemon::new(conf, None)?;
        d.start(Role::Master);
        d.start(Role::Backup);
        Some(d)
    }

    fn start(&mut self, role: Role) {
        match self
            .sock
            .request(start_message(&self.conf, self.sync_id, role))
        {
            Ok(Ok(())) => {
                info!(
                    "lvs_sync_daemon: {} started on {} (sync id {})",
                    role.name(),
                    self.conf.interface,
                    self.sync_id
                );
                self.running.push(role);
            }
            Ok(Err(e)) if e == libc::EEXIST => {
                // One runs in that role with settings of its own: ours replaces it.
                let _ = self.sock.request(stop_message(self.sync_id, role));
                match self
                    .sock
                    .request(start_message(&self.conf, self.sync_id, role))
                {
                    Ok(Ok(())) => self.running.push(role),
                    other => warn!(
                        "lvs_sync_daemon: restarting the {} daemon on {}: {other:?}",
                        role.name(),
                        self.conf.interface
                    ),
                }
            }
            Ok(Err(e)) => warn!(
                "lvs_sync_daemon: starting the {} daemon on {}: {}",
                role.name(),
                self.conf.interface,
                std::io::Error::from_raw_os_error(e)
            ),
            Err(e) => warn!("lvs_sync_daemon: {e}"),
        }
    }

    fn halt(&mut self, role: Role) {
        self.running.retain(|r| *r != role);
        match self.sock.request(stop_message(self.sync_id, role)) {
            Ok(Ok(())) => info!("lvs_sync_daemon: {} stopped", role.name()),
            Ok(Err(e)) => warn!(
                "lvs_sync_daemon: stopping the {} daemon: {}",
                role.name(),
                std::io::Error::from_raw_os_error(e)
            ),
            Err(e) => warn!("lvs_sync_daemon: {e}"),
        }
    }

    /// Runs the daemon of `role` only (the tied instance became MASTER, or left it).
    pub fn set_role(&mut self, role: Role) {
        if self.running == [role] {
            return;
        }
        let other = match role {
            Role::Master => Role::Backup,
            Role::Backup => Role::Master,
        };
        if self.running.contains(&other) {
            self.halt(other);
        }
        if !self.running.contains(&role) {
            self.start(role);
        }
    }

    pub fn stop(mut self) {
        for role in self.running.clone() {
            self.halt(role);
        }
    }
}
