//! What every subsystem shares from `global_defs`: who we are (router id), where
//! notifications go (FIFO, SMTP) and as whom scripts run.

use crate::config::model::global::Global;
use crate::system::host_name;
use crate::units::Micros;

/// `global_defs` as the daemon's shared parts use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalPlan {
    /// `router_id`, else the host name (keepalived's default).
    pub router_id: String,
    /// `vrrp_notify_fifo`, else `notify_fifo`.
    pub notify_fifo: Option<String>,
    /// `script_user` (default `keepalived_script`, as keepalived) and whether
    /// `enable_script_security` is on.
    pub script_user: Option<String>,
    pub script_security: bool,
    pub smtp: Option<SmtpPlan>,
    /// `instance NAME` and `net_namespace NAME`: what the default control socket is named
    /// after (keepalived names its pid files after them).
    pub instance: Option<String>,
    pub net_namespace: Option<String>,
    /// `use_pid_dir`: keepalived's pid files in /run/keepalived/.
    pub use_pid_dir: bool,
    /// `lvs_sync_daemon` tied to a VRRP instance: it follows that instance's state.
    pub sync_daemon: Option<crate::config::model::global::lvs::LvsSyncDaemon>,
}

/// Where `smtp_alert` mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpPlan {
    pub server: String,
    pub port: u16,
    pub helo: String,
    pub from: String,
    pub to: Vec<String>,
    pub connect_timeout: Micros,
}

/// keepalived's default `smtp_connect_timeout`, in seconds.
const SMTP_CONNECT_TIMEOUT_S: u64 = 30;

pub fn global(g: &Global) -> GlobalPlan {
    GlobalPlan {
        sync_daemon: g.lvs_sync_daemon.clone().filter(|d| d.instance.is_some()),
        router_id: g.router_id.clone().unwrap_or_else(host_name),
        notify_fifo: g
            .vrrp_notify_fifo
            .name
            .clone()
            .or_else(|| g.notify_fifo.name.clone()),
        script_user: g.script_user.as_ref().map(|u| u.user.clone()),
        script_security: g.enable_script_security,
        smtp: smtp(g),
        instance: g.daemon.instance.clone(),
        net_namespace: g.daemon.net_namespace.clone(),
        use_pid_dir: g.daemon.use_pid_dir,
    }
}

fn smtp(g: &Global) -> Option<SmtpPlan> {
    let server = g.smtp_server.as_ref()?;
    if g.notification_email.is_empty() {
        return None;
    }
    let router = g.router_id.clone().unwrap_or_else(host_name);
    Some(SmtpPlan {
        server: server.host.clone(),
        port: server.port,
        helo: g.smtp_helo_name.clone().unwrap_or_else(host_name),
        from: g
            .notification_email_from
            .clone()
            .unwrap_or_else(|| format!("keepalived@{router}")),
        to: g.notification_email.clone(),
        connect_timeout: Micros::from_secs(
            g.smtp_connect_timeout
                .map_or(SMTP_CONNECT_TIMEOUT_S, u64::from),
        ),
    })
}
