//! Helpers shared by unit tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A scratch directory removed when dropped, even if the test fails.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "ha-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `rel` (creating parent directories) and returns its full path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(&p, text).expect("write file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The unit-test environment: every interface exists and every script is executable, but
/// only the users and groups `root`, `nobody` and `daemon` exist (in particular not
/// keepalived's `keepalived_script`), whatever the machine has.
pub struct TestEnv;

impl crate::config::Env for TestEnv {
    fn interface_exists(&self, _: &str) -> bool {
        true
    }
    fn executable(&self, _: &str) -> bool {
        true
    }
    fn user_exists(&self, name: &str) -> bool {
        matches!(name, "root" | "nobody" | "daemon")
    }
    fn group_exists(&self, name: &str) -> bool {
        matches!(name, "root" | "nogroup" | "daemon")
    }
}

/// Loads `text` as a keepalived.conf (config id "test", fixed random seed) in [`TestEnv`].
pub fn load_text(text: &str) -> crate::config::Loaded {
    load_text_with(text, false)
}

/// [`load_text`] with `--strict` on or off.
pub fn load_text_with(text: &str, strict: bool) -> crate::config::Loaded {
    let dir = TempDir::new();
    let path = dir.write("keepalived.conf", text);
    let opts = crate::config::LoadOptions {
        strict,
        config_id: Some("test".into()),
        random_seed: Some(1),
        ..Default::default()
    };
    crate::config::load(&path, &opts, &TestEnv)
}

/// The diagnostics of `loaded` as "line:col: severity: message" lines (no file name).
pub fn messages(loaded: &crate::config::Loaded) -> Vec<String> {
    loaded
        .diags
        .list()
        .iter()
        .map(|d| {
            let full = d.render(&loaded.map);
            match d.loc {
                Some(l) => format!(
                    "{}:{}: {}",
                    l.line,
                    l.col,
                    full.splitn(4, ':').nth(3).unwrap_or("").trim()
                ),
                None => full,
            }
        })
        .collect()
}

/// A VRRPv3 state machine from 192.0.2.5, priority 100, `state BACKUP`, that has handled
/// Startup at time 0 (its startup actions drained): BACKUP with its Master_Down_Timer.
pub fn started_backup(vrid: u8, adver_int: crate::units::Centis) -> crate::vrrp::fsm::Instance {
    use crate::time::MonoTime;
    use crate::units::{Priority, Vrid};
    use crate::vrrp::fsm::{Input, Instance, InstanceConfig, StartState};
    use crate::vrrp::timers::Version;
    let mut c = InstanceConfig::new(
        Vrid(vrid),
        Priority(100),
        adver_int,
        Version::V3,
        "192.0.2.5".parse().expect("an address"),
    );
    c.start = Some(StartState::Backup);
    let mut i = Instance::new(c).expect("a valid config");
    i.handle(MonoTime(0), Input::Startup);
    i.drain_actions().count();
    i
}
