//! What the daemon watches on its main runtime for the subsystems: `vrrp_script` checks,
//! `track_file` values and `vrrp_track_process` quorums. Each watcher reports only changes,
//! to a [`Sink`]: the VRRP engine today; the checkers reuse the script runner and the
//! rise/fall counting.

pub mod rise_fall;
pub mod scripts;
pub mod track_file;
pub mod track_process;

use std::sync::{Arc, Mutex};

use crate::daemon::plan::Plan;
use crate::daemon::task::Task;

/// The tracked objects whose state comes from a watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjKind {
    /// `vrrp_script`: 1 while succeeding, 0 while failing.
    Script,
    /// `vrrp_track_process`: 1 while the quorum is met.
    Process,
    /// `track_file`: the number in the file.
    File,
    /// `track_bfd`: 1 while the BFD session is Up.
    Bfd,
}

impl ObjKind {
    /// The keyword an instance tracks it with.
    pub fn keyword(self) -> &'static str {
        match self {
            ObjKind::Script => "track_script",
            ObjKind::Process => "track_process",
            ObjKind::File => "track_file",
            ObjKind::Bfd => "track_bfd",
        }
    }
}

/// Known states of tracked objects, by kind and name.
pub type Objects = std::collections::BTreeMap<(ObjKind, String), i64>;

/// Where a watcher reports a changed state.
pub trait Sink: Send + Sync + 'static {
    /// Reports `name`'s new value; false once the receiver has gone (the watcher stops).
    fn report(&self, kind: ObjKind, name: &str, value: i64) -> bool;
}

/// A sink that remembers the last value of each object before passing it on: what the
/// watchers of a reloaded config start from.
pub struct Recorder {
    inner: Arc<dyn Sink>,
    last: Mutex<Objects>,
}

impl Recorder {
    pub fn new(inner: Arc<dyn Sink>, initial: Objects) -> Arc<Recorder> {
        Arc::new(Recorder {
            inner,
            last: Mutex::new(initial),
        })
    }

    /// The last value reported for every object.
    pub fn known(&self) -> Objects {
        self.last.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Sink for Recorder {
    fn report(&self, kind: ObjKind, name: &str, value: i64) -> bool {
        if let Ok(mut m) = self.last.lock() {
            m.insert((kind, name.to_owned()), value);
        }
        self.inner.report(kind, name, value)
    }
}

/// Every watcher of a plan; dropping it stops them.
pub struct Watchers {
    _tasks: Vec<Task>,
}

impl Watchers {
    /// Starts the watchers `plan` needs. Scripts start from the states in `known` (a
    /// reload keeps what they last reported), files and processes from a fresh read.
    pub fn start(plan: &Plan, sink: Arc<dyn Sink>, known: &Objects) -> Watchers {
        let mut tasks = scripts::start(
            &plan.vrrp,
            plan.global.script_user.as_deref(),
            sink.clone(),
            known,
        );
        tasks.push(track_file::start(&plan.vrrp, sink.clone(), known));
        tasks.push(track_process::start(&plan.vrrp, sink));
        Watchers { _tasks: tasks }
    }
}
