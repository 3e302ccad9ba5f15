//! keepalived's pid files. keepalived runs a parent and one child per subsystem and writes
//! one file for each; ha is one process, so every file it writes holds the same pid (a
//! signal sent through any of them reaches the whole daemon, and TERM through `vrrp.pid`
//! stops everything, not just VRRP).
//!
//! Names, as keepalived 2.2.7 builds them (core/main.c, core/pidfile.c): `/run/keepalived.pid`,
//! `/run/vrrp.pid`, `/run/checkers.pid`, `/run/bfd.pid`; with `instance NAME` in the config
//! or a network namespace, they move to `/run/keepalived/` (a subfolder per namespace) and
//! take `_NAME` before `.pid`.

use std::path::{Path, PathBuf};

/// The pid files to write; `None` for each one not wanted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PidFiles {
    /// keepalived's parent process (`-p`): written whenever the daemon runs.
    pub main: Option<PathBuf>,
    /// The VRRP child (`-r`): written when VRRP instances run.
    pub vrrp: Option<PathBuf>,
    /// The checkers child (`-c`): written when virtual servers are checked.
    pub checkers: Option<PathBuf>,
    /// The BFD child (`-b`): written when BFD sessions run.
    pub bfd: Option<PathBuf>,
}

impl PidFiles {
    /// keepalived's default names for a config's `instance`, network namespace and
    /// `use_pid_dir`.
    pub fn keepalived_defaults(
        instance: Option<&str>,
        netns: Option<&str>,
        use_pid_dir: bool,
    ) -> PidFiles {
        let dir = match (instance, netns) {
            (None, None) if !use_pid_dir => PathBuf::from("/run"),
            (_, None) => PathBuf::from("/run/keepalived"),
            (_, Some(ns)) => Path::new("/run/keepalived").join(ns),
        };
        let name = |base: &str| match instance {
            Some(i) => dir.join(format!("{base}_{i}.pid")),
            None => dir.join(format!("{base}.pid")),
        };
        PidFiles {
            main: Some(name("keepalived")),
            vrrp: Some(name("vrrp")),
            checkers: Some(name("checkers")),
            bfd: Some(name("bfd")),
        }
    }

    /// Each file given here replaces the one in `self`.
    pub fn overridden_by(mut self, given: &PidFiles) -> PidFiles {
        for (mine, theirs) in [
            (&mut self.main, &given.main),
            (&mut self.vrrp, &given.vrrp),
            (&mut self.checkers, &given.checkers),
            (&mut self.bfd, &given.bfd),
        ] {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        }
        self
    }

    /// The files for what runs: the main one always, the others when their subsystem has
    /// something to do.
    pub fn for_running(&self, vrrp: bool, checkers: bool, bfd: bool) -> Vec<PathBuf> {
        [
            (&self.main, true),
            (&self.vrrp, vrrp),
            (&self.checkers, checkers),
            (&self.bfd, bfd),
        ]
        .into_iter()
        .filter_map(|(p, on)| p.clone().filter(|_| on))
        .collect()
    }

    /// The pid of another running daemon named in the main pid file, as keepalived checks
    /// before starting ("daemon is already running").
    pub fn running_elsewhere(&self) -> Option<u32> {
        let pid = read_pid(self.main.as_deref()?)?;
        // SAFETY: kill with signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
        (alive && pid != std::process::id()).then_some(pid)
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Writes our pid into each file (creating `/run/keepalived/...` as needed); what cannot be
/// written is returned with the error.
pub fn write_all(paths: &[PathBuf]) -> Vec<(PathBuf, std::io::Error)> {
    let pid = format!("{}\n", std::process::id());
    paths
        .iter()
        .filter_map(|p| {
            let r = p
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(p, &pid));
            r.err().map(|e| (p.clone(), e))
        })
        .collect()
}

/// Removes the files that still hold our pid (another daemon may have taken one over).
pub fn remove_ours(paths: &[PathBuf]) {
    for p in paths {
        if read_pid(p) == Some(std::process::id()) {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_keepalived() {
        let d = PidFiles::keepalived_defaults(None, None, false);
        assert_eq!(d.main.as_deref(), Some(Path::new("/run/keepalived.pid")));
        assert_eq!(d.vrrp.as_deref(), Some(Path::new("/run/vrrp.pid")));
        assert_eq!(d.checkers.as_deref(), Some(Path::new("/run/checkers.pid")));
        assert_eq!(d.bfd.as_deref(), Some(Path::new("/run/bfd.pid")));
        let d = PidFiles::keepalived_defaults(None, None, true);
        assert_eq!(
            d.main.as_deref(),
            Some(Path::new("/run/keepalived/keepalived.pid"))
        );
        let d = PidFiles::keepalived_defaults(Some("lb1"), None, false);
        assert_eq!(
            d.main.as_deref(),
            Some(Path::new("/run/keepalived/keepalived_lb1.pid"))
        );
        let d = PidFiles::keepalived_defaults(Some("lb1"), Some("blue"), false);
        assert_eq!(
            d.vrrp.as_deref(),
            Some(Path::new("/run/keepalived/blue/vrrp_lb1.pid"))
        );
        let d = PidFiles::keepalived_defaults(None, Some("blue"), false);
        assert_eq!(
            d.main.as_deref(),
            Some(Path::new("/run/keepalived/blue/keepalived.pid"))
        );
    }

    #[test]
    fn given_files_override_and_only_running_parts_are_written() {
        let given = PidFiles {
            vrrp: Some("/tmp/v.pid".into()),
            ..PidFiles::default()
        };
        let p = PidFiles::keepalived_defaults(None, None, false).overridden_by(&given);
        assert_eq!(
            p.for_running(true, false, false),
            vec![PathBuf::from("/run/keepalived.pid"), "/tmp/v.pid".into()]
        );
        assert_eq!(
            p.for_running(false, true, true),
            vec![
                PathBuf::from("/run/keepalived.pid"),
                "/run/checkers.pid".into(),
                "/run/bfd.pid".into()
            ]
        );
        assert!(PidFiles::default().for_running(true, true, true).is_empty());
    }

    #[test]
    fn a_live_pid_elsewhere_is_seen_and_ours_or_a_dead_one_is_not() {
        let dir = std::env::temp_dir().join(format!("ha-pidfiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let main = dir.join("k.pid");
        let files = PidFiles {
            main: Some(main.clone()),
            ..PidFiles::default()
        };
        assert_eq!(files.running_elsewhere(), None);
        assert!(write_all(std::slice::from_ref(&main)).is_empty());
        assert_eq!(files.running_elsewhere(), None, "our own pid");
        // PID 1 always exists.
        std::fs::write(&main, "1\n").unwrap();
        assert_eq!(files.running_elsewhere(), Some(1));
        remove_ours(std::slice::from_ref(&main));
        assert!(main.exists(), "another daemon's file stays");
        assert!(write_all(std::slice::from_ref(&main)).is_empty());
        remove_ours(std::slice::from_ref(&main));
        assert!(!main.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
