//! The config corpus: `tests/corpus/valid/*.conf` must load cleanly and match their golden
//! `--dump` (`*.json`, regenerate with `UPDATE_GOLDEN=1`); `tests/corpus/invalid/*.conf` must
//! report what their `# expect:` header lines say and exit with `# exit:`.
//!
//! The differential test runs every corpus file (and mutated variants of the valid ones)
//! through the real `keepalived -t` and through `ha check-config`, both inside a fresh network
//! namespace that has the interfaces the corpus names, and requires the same exit code.
//! A file whose header has `# keepalived-exit: N` documents a deliberate difference (with a
//! `# why:` line); `# no-variants: why` keeps a valid file out of the generated variants.

use std::path::{Path, PathBuf};

use ha::config::{self, Env, LoadOptions};

mod support;
use support::netns::Netns;

const INTERFACES: [&str; 4] = ["eth0", "eth1", "eth2", "eth3"];

/// The interfaces of the test namespace; scripts, users and groups are the real system's.
struct CorpusEnv;

impl Env for CorpusEnv {
    fn interface_exists(&self, name: &str) -> bool {
        name == "lo" || INTERFACES.contains(&name)
    }
    fn executable(&self, path: &str) -> bool {
        config::SystemEnv.executable(path)
    }
    fn user_exists(&self, name: &str) -> bool {
        config::SystemEnv.user_exists(name)
    }
    fn group_exists(&self, name: &str) -> bool {
        config::SystemEnv.group_exists(name)
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn files(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus_dir().join(kind))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `# key: value` header lines of a corpus file.
fn header(path: &Path, key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let prefix = format!("# {key}:");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
        .collect()
}

fn load(path: &Path) -> config::Loaded {
    let opts = LoadOptions {
        config_id: Some("corpus".into()),
        random_seed: Some(1),
        ..LoadOptions::default()
    };
    config::load(path, &opts, &CorpusEnv)
}

#[test]
fn valid_configs_load_cleanly_and_match_their_goldens() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let valid = files("valid");
    assert!(
        !valid.is_empty(),
        "no corpus under {}",
        corpus_dir().display()
    );
    for path in valid {
        let loaded = load(&path);
        let report = loaded.report();
        if !report.is_empty() {
            failures.push(format!(
                "{}: expected no diagnostics, got:\n{report}",
                path.display()
            ));
            continue;
        }
        let json = serde_json::to_string_pretty(&loaded.config).expect("serialize") + "\n";
        let golden = path.with_extension("json");
        if update {
            std::fs::write(&golden, &json).expect("write golden");
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(g) if g == json => {}
            Ok(_) => failures.push(format!(
                "{}: --dump differs from {} (UPDATE_GOLDEN=1 to accept)",
                path.display(),
                golden.display()
            )),
            Err(_) => failures.push(format!(
                "{}: missing golden {} (run with UPDATE_GOLDEN=1)",
                path.display(),
                golden.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_configs_report_what_they_expect() {
    let mut failures = Vec::new();
    for path in files("invalid") {
        let loaded = load(&path);
        let report = loaded.report();
        let expects = header(&path, "expect");
        if expects.is_empty() {
            failures.push(format!("{}: no '# expect:' header", path.display()));
        }
        for e in expects {
            if !report.contains(&e) {
                failures.push(format!(
                    "{}: expected a diagnostic containing {e:?}, got:\n{report}",
                    path.display()
                ));
            }
        }
        let want: Option<i32> = header(&path, "exit").first().and_then(|s| s.parse().ok());
        match want {
            Some(code) if code == loaded.diags.exit_code() => {}
            Some(code) => failures.push(format!(
                "{}: exit {} but '# exit: {code}'\n{report}",
                path.display(),
                loaded.diags.exit_code()
            )),
            None => failures.push(format!("{}: no '# exit: N' header", path.display())),
        }
        // Every diagnostic names its place: file:line:col.
        for line in report.lines() {
            if !line.contains(".conf:") {
                failures.push(format!("{}: unlocated diagnostic {line:?}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// keepalived's exit code as ha spells it. keepalived 2.2.7 stops reading at the first
/// keyword that is missing its value and exits 2 ("... is missing a parameter after keyword
/// ..."); ha reports that as an error (exit 4) and goes on to report everything else.
fn ha_equivalent(keepalived_exit: i32) -> i32 {
    if keepalived_exit == 2 {
        4
    } else {
        keepalived_exit
    }
}

/// Exit code of `keepalived -t` and of `ha check-config` for one file, in `ns`.
fn both(ns: &Netns, path: &Path) -> (i32, i32, String) {
    let ka = ns
        .command("keepalived")
        .args(["-t", "-l", "-i", "corpus", "-f"])
        .arg(path)
        .output()
        .expect("run keepalived");
    let ha = ns
        .command(env!("CARGO_BIN_EXE_ha"))
        .args(["check-config", "-i", "corpus", "-f"])
        .arg(path)
        .output()
        .expect("run ha");
    let detail = format!(
        "keepalived said:\n{}{}\nha said:\n{}",
        String::from_utf8_lossy(&ka.stdout),
        String::from_utf8_lossy(&ka.stderr),
        String::from_utf8_lossy(&ha.stderr)
    );
    (
        ha_equivalent(ka.status.code().unwrap_or(-1)),
        ha.status.code().unwrap_or(-1),
        detail,
    )
}

/// keepalived's sample configs whose scripts are not installed (`/usr/local/bin/...`,
/// `/path_to_script/...`).
const SAMPLES_MISSING_SCRIPTS: [&str; 5] = [
    "keepalived.conf.misc_check",
    "keepalived.conf.misc_check_arg",
    "keepalived.conf.quorum",
    "keepalived.conf.vrrp.scripts",
    "keepalived.conf.vrrp.sync",
];

/// The sample configs the keepalived package ships (its documentation directory).
fn samples() -> Vec<PathBuf> {
    let dir = Path::new("/usr/share/doc/keepalived/samples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("keepalived.conf."))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    assert!(
        !v.is_empty() || std::env::var_os("CI").is_none(),
        "no keepalived samples in {}: .ci/run installs keepalived with its documentation",
        dir.display()
    );
    v
}

#[test]
fn differential_against_keepalived() {
    let Some(ns) = support::netns::for_keepalived("diff", &INTERFACES) else {
        return;
    };
    let mut failures = Vec::new();
    let mut compared = 0;
    for path in files("valid").into_iter().chain(files("invalid")) {
        let (ka, ha, detail) = both(&ns, &path);
        compared += 1;
        let documented: Option<i32> = header(&path, "keepalived-exit")
            .first()
            .and_then(|s| s.parse().ok());
        match documented {
            Some(k) if k == ka => {}
            Some(k) => failures.push(format!(
                "{}: documented keepalived exit {k}, but keepalived gave {ka}\n{detail}",
                path.display()
            )),
            None if ka == ha => {}
            None => failures.push(format!(
                "{}: keepalived -t exit {ka}, ha check-config exit {ha}\n{detail}",
                path.display()
            )),
        }
    }
    // keepalived's own sample configs, as its package installs them.
    for path in samples() {
        let (ka, ha, detail) = both(&ns, &path);
        compared += 1;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let want = match SAMPLES_MISSING_SCRIPTS.contains(&name.as_ref()) {
            // A deliberate difference (README): their scripts do not exist; keepalived -t
            // says nothing, ha warns. Neither calls it a script-security violation (6).
            true => (0, 5),
            false => (ka, ka),
        };
        if (ka, ha) != want {
            failures.push(format!(
                "{}: keepalived -t exit {ka}, ha check-config exit {ha}, expected {want:?}\n{detail}",
                path.display()
            ));
        }
    }
    // Generated variants: each valid config mutated in ways keepalived recovers from or not.
    let dir = support::TempDir::new("diff-variants");
    for path in files("valid") {
        // `# no-variants: why` opts a file out, where keepalived -t itself misreports.
        if !header(&path, "no-variants").is_empty() {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read corpus");
        for (i, variant) in support::mutate::variants(&text).into_iter().enumerate() {
            let name = format!(
                "{}-v{i}.conf",
                path.file_stem().unwrap_or_default().to_string_lossy()
            );
            let vpath = dir.write(&name, &variant.text);
            let (ka, ha, detail) = both(&ns, &vpath);
            compared += 1;
            if ka != ha {
                failures.push(format!(
                    "{} ({}): keepalived -t exit {ka}, ha check-config exit {ha}\n{detail}",
                    vpath.display(),
                    variant.what
                ));
            }
        }
    }
    eprintln!("differential: compared {compared} configs with keepalived -t");
    assert!(
        failures.is_empty(),
        "{} of {compared} differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
