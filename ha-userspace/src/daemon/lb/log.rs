//! The `log` backend: every change is written to the daemon's log, one line each
//! (`lb: add real server [10.0.0.1]:80 to TCP [192.0.2.10]:80 weight 1`), and counted.

use tracing::info;

use crate::lb::{Change, LbBackend, Refused};

#[derive(Debug, Default)]
pub struct LogBackend {
    /// Changes applied since start.
    pub applied: u64,
}

impl LbBackend for LogBackend {
    fn name(&self) -> &'static str {
        "log"
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), Refused> {
        for c in changes {
            info!("lb: {c}");
            self.applied += 1;
        }
        Ok(())
    }
}
