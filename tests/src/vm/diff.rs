//! keepalived as the oracle: in one VM boot, each config is run by keepalived's checker
//! process until the table settles, the table is dumped and flushed, and the same config
//! is run by `ha run -C`. The two dumps must be identical once normalized.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

use super::ipvsadm::{differing_rows, normalize};
use super::Vm;

pub struct Outcome {
    pub name: String,
    pub keepalived: String,
    pub ha: String,
    /// The daemons' last log lines.
    pub logs: String,
    /// Empty when identical.
    pub rows: Vec<String>,
    /// keepalived's checker process exited (FATAL) on this config: nothing to compare
    /// with; why, from its log.
    pub skipped: Option<String>,
}

impl Outcome {
    pub fn identical(&self) -> bool {
        self.skipped.is_none() && self.rows.is_empty()
    }
}

/// Runs every config under both daemons and compares the tables.
pub fn compare(vm: &Vm, configs: &[(String, Vec<u8>)]) -> Result<Vec<Outcome>> {
    let mut files = BTreeMap::new();
    let mut script = String::new();
    let mut total = 0;
    for (i, (_, text)) in configs.iter().enumerate() {
        files.insert(format!("c{i}.conf"), text.clone());
        let wait = first_checks_done(text);
        total += 2 * wait;
        script.push_str(&format!(
            "keepalived_table /scenario/c{i}.conf k{i} {wait}\nipvsadm -C\n\
             ha_table /scenario/c{i}.conf h{i} {wait}\nipvsadm -C\n"
        ));
    }
    files.insert("run.sh".into(), script.into_bytes());
    // Two daemons per config, each up to a minute when its table never settles.
    let timeout = Duration::from_secs(60 + total + 130 * configs.len() as u64);
    let run = vm.run(&files, timeout)?;
    let mut out = Vec::new();
    for (i, (name, _)) in configs.iter().enumerate() {
        let k = run.section(&format!("k{i}"));
        let h = run.section(&format!("h{i}"));
        let (keepalived, ha, rows) = match (k, h) {
            (Some(k), Some(h)) => {
                let (k, h) = (normalize(&k), normalize(&h));
                let rows = differing_rows(&k, &h);
                (k, h, rows)
            }
            _ => (
                String::new(),
                String::new(),
                vec![format!(
                    "the VM did not get to this config (exit {:?}); console:\n{}",
                    run.exit, run.console
                )],
            ),
        };
        let logs = format!(
            "--- keepalived log\n{}--- ha log\n{}",
            run.section(&format!("k{i}-log")).unwrap_or_default(),
            run.section(&format!("h{i}-log")).unwrap_or_default()
        );
        let skipped = run.section(&format!("k{i}-fatal"));
        out.push(Outcome {
            skipped,
            logs,
            name: name.clone(),
            keepalived,
            ha,
            rows,
        });
    }
    Ok(out)
}

/// Seconds after start by which every checker of `config` has given its first result:
/// both daemons start the first checks a second after start plus a random delay of up to
/// `warmup` (which defaults to `delay_loop`), and a check takes up to its connect timeout.
/// A table dumped earlier could catch one daemon before a check the other has done.
pub fn first_checks_done(config: &[u8]) -> u64 {
    use ha::config::{load, LoadOptions, SystemEnv};
    let dir = std::env::temp_dir().join(format!("ha-vm-settle-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("keepalived.conf");
    if std::fs::write(&path, config).is_err() {
        return 5;
    }
    let loaded = load(&path, &LoadOptions::default(), &SystemEnv);
    let _ = std::fs::remove_dir_all(&dir);
    let latest = loaded
        .config
        .lvs
        .virtual_servers
        .iter()
        .flat_map(|v| &v.real_servers)
        .flat_map(|r| &r.checkers)
        .filter_map(|c| c.common.as_ref())
        .map(|c| {
            let timeout = c.conn.as_ref().map_or(5_000_000, |t| t.connect_timeout.0);
            (c.warmup.0 + timeout) / 1_000_000
        })
        .max()
        .unwrap_or(0);
    (latest + 3).clamp(2, 75)
}
