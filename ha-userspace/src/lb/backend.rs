//! The one interface every load-balancing engine implements (DESIGN.md §7): `log` here,
//! IPVS and XDP in their own issues. A backend gets changes, never the whole state, and
//! reports the first change it could not apply; the caller keeps the state it knows was
//! applied and retries the rest on the next change.

use super::diff::Change;

#[derive(Debug, thiserror::Error)]
#[error("{backend}: {change}: {reason}")]
pub struct LbError {
    pub backend: &'static str,
    /// The change that failed, as [`Change`]'s Display writes it (it names the service
    /// and the real server).
    pub change: String,
    pub reason: String,
}

pub trait LbBackend: Send {
    /// `log`, `ipvs`, `xdp`.
    fn name(&self) -> &'static str;

    /// Applies `changes` in order. On error, the changes before the failing one were
    /// applied; its index is returned with the error.
    fn apply(&mut self, changes: &[Change]) -> Result<(), (usize, LbError)>;
}
