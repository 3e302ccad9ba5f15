//! The one interface every load-balancing engine implements (DESIGN.md §7): `log`, `ipvs`,
//! and XDP in its own issue. A backend gets changes, never the whole state, and reports
//! the first change it could not apply; the caller keeps the state it knows was applied
//! and retries the rest on the next change.

use serde::Serialize;

use super::diff::{diff, Change};
use super::state::LbState;
use crate::config::model::global::lvs::{FlushOnStop, LvsSyncDaemon, LvsTimeouts};

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
}

/// The table as the kernel holds it, for `ha status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KernelView {
    pub table: LbState,
    /// Connection counts by service and destination, as `ipvsadm -Ln` shows them.
    pub conns: Vec<(String, String, u32, u32)>,
}

pub trait LbBackend: Send {
    /// `log`, `ipvs`, `xdp`.
    fn name(&self) -> &'static str;

    /// Applies `changes` in order. On error, the changes before the failing one were
    /// applied; its index is returned with the error.
    fn apply(&mut self, changes: &[Change]) -> Result<(), (usize, LbError)>;

    /// At start: what the engine already holds of the services in `wanted` (left by an
    /// earlier run), so the first changes edit it rather than add it again.
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
