//! What the checker thread builds from each configuration besides the core: the table of
//! what each probe runs, which probes log every failure, the TLS context, and the track
//! files' values and watcher.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{error, warn};

use super::model::{Exec, Model};
use super::probe::TlsClient;
use crate::check::{Core, ProbeKey};
use crate::config::model::lvs::SslConfig;
use crate::config::model::vrrp::TrackFile;
use crate::daemon::task::Task;
use crate::daemon::watch::{track_file, ObjKind, Objects, Sink};

/// Track file values for `FILE_CHECK`, from the shared watcher.
pub struct FileSink(mpsc::UnboundedSender<(String, i64)>);

impl Sink for FileSink {
    fn report(&self, _kind: ObjKind, name: &str, value: i64) -> bool {
        self.0.send((name.to_string(), value)).is_ok()
    }
}

/// The executable probe of each core probe id.
pub fn execs_of(core: &Core, mut by_key: HashMap<ProbeKey, Exec>) -> Arc<Vec<Exec>> {
    let table = core
        .probes()
        .iter()
        .map(|slot| {
            by_key.remove(&slot.def.key).unwrap_or_else(|| Exec::Misc {
                script: crate::config::model::script::Script { args: Vec::new() },
                timeout: Duration::from_secs(1),
                user: None,
                dynamic: false,
            })
        })
        .collect();
    Arc::new(table)
}

/// Whether each probe logs all its failures.
pub fn loud_of(core: &Core, loud: &HashSet<ProbeKey>) -> Vec<bool> {
    core.probes()
        .iter()
        .map(|s| loud.contains(&s.def.key))
        .collect()
}

/// The TLS context of `SSL_GET`: the `SSL` block's, else keepalived's generated one (no
/// client certificate). `None` only if even that cannot be built.
pub fn tls_client(ssl: Option<&SslConfig>) -> Option<TlsClient> {
    match TlsClient::new(ssl) {
        Ok(t) => Some(t),
        Err(e) => {
            warn!("SSL: {e}: SSL_GET checks go without a client certificate");
            TlsClient::new(None)
                .map_err(|e| error!("SSL: {e}: network checks cannot run"))
                .ok()
        }
    }
}

pub fn read_files(m: &Model) -> BTreeMap<String, i64> {
    m.track_files
        .iter()
        .map(|(n, f)| {
            (
                n.clone(),
                track_file::read_value(std::path::Path::new(&f.file)),
            )
        })
        .collect()
}

pub fn watch_files(
    track_files: &BTreeMap<String, TrackFile>,
    known: &BTreeMap<String, i64>,
    tx: mpsc::UnboundedSender<(String, i64)>,
) -> Task {
    let files: Vec<(String, PathBuf)> = track_files
        .iter()
        .map(|(n, f)| (n.clone(), PathBuf::from(&f.file)))
        .collect();
    let known: Objects = known
        .iter()
        .map(|(n, v)| ((ObjKind::File, n.clone()), *v))
        .collect();
    track_file::watch(files, Arc::new(FileSink(tx)), &known)
}
