//! The one interface every load-balancing engine implements (DESIGN.md §7): `log`, `ipvs`,
//! and XDP in its own issue. A backend gets changes, never the whole state, and reports
//! the first change it could not apply; the caller keeps the state it knows was applied
//! and retries the rest on the next change.

use super::diff::{diff, Change};
use super::state::LbState;
use crate::config::model::global::lvs::{FlushOnStop, LbBackendChoice, LvsSyncDaemon, LvsTimeouts};

#[derive(Debug, thiserror::Error)]
#[error("{backend}: {change}: {reason}")]
pub struct LbError {
    pub backend: &'static str,
    /// The change that failed, as [`Change`]'s Display writes it (it names the service
    /// and the real server).
    pub change: String,
    pub reason: String,
}

/// The table-wide settings of `global_defs` (`lvs_flush`, `lvs_flush_on_stop`,
/// `lvs_timeouts`, and `lvs_sync_daemon` when no VRRP instance drives it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LbSettings {
    pub flush: bool,
    pub flush_on_stop: Option<FlushOnStop>,
    pub timeouts: LvsTimeouts,
    pub sync_daemon: Option<LvsSyncDaemon>,
    /// `lb_backend`.
    pub backend: LbBackendChoice,
    /// What the `xdp` backend needs: the Maglev table size and where each VIP arrives.
    pub xdp: super::xdp::XdpSettings,
}

/// The table as the kernel holds it, for `ha status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelView {
    pub table: LbState,
    /// (active, inactive) connections by service and destination, as `ipvsadm -Ln`
    /// shows them.
    pub conns: std::collections::HashMap<(super::ServiceKey, std::net::SocketAddr), (u32, u32)>,
    /// XDP: the Maglev table size; each real server's slots in it and its (packets, bytes).
    pub maglev_size: Option<u32>,
    pub slots: std::collections::HashMap<(super::ServiceKey, std::net::SocketAddr), u32>,
    pub traffic: std::collections::HashMap<(super::ServiceKey, std::net::SocketAddr), (u64, u64)>,
}

/// The indices of the changes a backend refused (ascending), and the first refusal.
pub type Refused = (Vec<usize>, LbError);

pub trait LbBackend: Send {
    /// `log`, `ipvs`, `xdp`.
    fn name(&self) -> &'static str;

    /// Applies `changes` in order. On error, every change but the ones whose indices are
    /// returned was applied; the error is the first refusal's.
    fn apply(&mut self, changes: &[Change]) -> Result<(), Refused>;

    /// What the engine holds now of the services in `wanted` (left by an earlier run, or
    /// as a refused change left them), so the next changes start from there rather than
    /// from what was believed applied.
    fn adopt(&mut self, _wanted: &LbState) -> LbState {
        LbState::default()
    }

    /// New table-wide settings at a reload.
    fn reconfigure(&mut self, _settings: &LbSettings) {}

    /// At stop: remove what was applied (keepalived's `clear_services`).
    fn stop(&mut self, applied: &LbState) -> Result<(), LbError> {
        self.apply(&diff(applied, &LbState::default()))
            .map_err(|(_, e)| e)
    }

    /// The engine's own view of its table, where it has one.
    fn kernel_view(&mut self) -> Option<KernelView> {
        None
    }
}
