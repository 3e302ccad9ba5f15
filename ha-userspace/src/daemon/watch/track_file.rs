//! `track_file`: the number in a file, re-read whenever the file changes (inotify on its
//! directory, so replacing or creating the file is seen too), as keepalived does. A missing
//! or unreadable file reads as 0; text that is not a number also reads as 0, with a warning.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tracing::{info, warn};

use super::{ObjKind, Objects, Sink};
use crate::config::model::vrrp::TrackFile;
use crate::daemon::plan::VrrpPlan;
use crate::daemon::task::Task;

/// The value of a track file's text: keepalived reads a leading integer.
pub fn parse_value(text: &str) -> Option<i64> {
    text.split_whitespace().next()?.parse().ok()
}

pub fn read_value(path: &Path) -> i64 {
    match std::fs::read_to_string(path) {
        Ok(t) => parse_value(&t).unwrap_or_else(|| {
            if !t.trim().is_empty() {
                warn!(
                    "track_file {}: {:?} is not a number: reading 0",
                    path.display(),
                    t.trim()
                );
            }
            0
        }),
        Err(_) => 0,
    }
}

/// Every `track_file` some instance uses.
fn used(plan: &VrrpPlan) -> BTreeMap<String, TrackFile> {
    plan.instances
        .iter()
        .flat_map(|i| &i.track_files)
        .map(|t| (t.def.name.clone(), t.def.clone()))
        .collect()
}

/// keepalived's `init_file`, at startup: write the value if the file is missing (or always,
/// with `overwrite`).
pub fn init_files(plan: &VrrpPlan) {
    for (name, f) in used(plan) {
        let path = Path::new(&f.file);
        if let Some(init) = &f.init_file {
            if init.overwrite || !path.exists() {
                if let Err(e) = std::fs::write(path, format!("{}\n", init.value)) {
                    warn!("track_file {name}: init_file {}: {e}", path.display());
                }
            }
        }
    }
}

/// Every tracked file's value now.
pub fn read_all(plan: &VrrpPlan) -> Objects {
    used(plan)
        .into_iter()
        .map(|(name, f)| ((ObjKind::File, name), read_value(Path::new(&f.file))))
        .collect()
}

/// Watches every tracked file and reports changed values to `sink`: first those that
/// differ from `known` (what the sink last heard), then every change.
pub fn start(plan: &VrrpPlan, sink: Arc<dyn Sink>, known: &Objects) -> Task {
    let files: Vec<(String, PathBuf)> = used(plan)
        .into_iter()
        .map(|(n, f)| (n, PathBuf::from(f.file)))
        .collect();
    watch(files, sink, known)
}

/// Watches `files` (name, path) and reports changed values to `sink`, as [`start`] does;
/// the checkers' `FILE_CHECK` uses it too.
pub fn watch(files: Vec<(String, PathBuf)>, sink: Arc<dyn Sink>, known: &Objects) -> Task {
    if files.is_empty() {
        return Task::none();
    }
    let mut last: Objects = known
        .iter()
        .filter(|((kind, _), _)| *kind == ObjKind::File)
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    if !report_changes(&files, &mut last, sink.as_ref()) {
        return Task::none();
    }
    let fd = match inotify(&files) {
        Ok(fd) => fd,
        Err(e) => {
            warn!("track_file: cannot watch files ({e}); their values stay as read at start");
            return Task::none();
        }
    };
    Task::spawn(async move {
        // SAFETY: the OwnedFd is a valid inotify fd that the AsyncFd owns until dropped.
        let Ok(afd) = (unsafe { AsyncFd::register(fd) }) else {
            return;
        };
        let mut buf = [0u8; 4096];
        loop {
            let Ok(mut guard) = afd.readable().await else {
                return;
            };
            // Drain the events; which file changed does not matter, all are re-read (cheap).
            loop {
                // SAFETY: reading into a valid buffer from our inotify fd.
                let n = unsafe {
                    libc::read(
                        afd.get_ref().as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                    )
                };
                if n <= 0 {
                    break;
                }
            }
            guard.clear_ready();
            if !report_changes(&files, &mut last, sink.as_ref()) {
                return;
            }
        }
    })
}

/// Re-reads every file and reports the values that changed; false once the sink is gone.
fn report_changes(files: &[(String, PathBuf)], last: &mut Objects, sink: &dyn Sink) -> bool {
    for (name, path) in files {
        let v = read_value(path);
        let key = (ObjKind::File, name.clone());
        if last.get(&key) != Some(&v) {
            last.insert(key, v);
            // Reported first: what acts on it should not wait for the log line.
            let open = sink.report(ObjKind::File, name, v);
            info!("track_file {name}: value {v}");
            if !open {
                return false;
            }
        }
    }
    true
}

/// An inotify descriptor watching the directories of `files`.
fn inotify(files: &[(String, PathBuf)]) -> std::io::Result<OwnedFd> {
    // SAFETY: plain inotify_init1; the fd is owned right away.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    for (_, path) in files {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let c = CString::new(dir.as_os_str().as_encoded_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mask = libc::IN_CLOSE_WRITE
            | libc::IN_MODIFY
            | libc::IN_MOVED_TO
            | libc::IN_CREATE
            | libc::IN_DELETE
            | libc::IN_MOVED_FROM;
        // SAFETY: valid fd and C string.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), mask) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_value("42\n"), Some(42));
        assert_eq!(parse_value("  -7 trailing"), Some(-7));
        assert_eq!(parse_value(""), None);
        assert_eq!(parse_value("abc"), None);
    }
}
