//! `ha check-config` as an operator runs it: exit codes, messages, `--dump`, `--strict`,
//! keepalived's `-t` spelling, and hostile input that must end in a diagnostic, never a
//! panic or a hang.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::TempDir;

/// Runs `ha args...`; a run that takes over a minute is a hang and fails the test (this
/// guards against hangs, it is not a performance assertion).
fn ha(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ha"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ha");
    let start = Instant::now();
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("ha {args:?} hung for over 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

fn check(path: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let p = path.to_str().expect("utf-8 path");
    let mut args = vec!["check-config", "-i", "cli", "-f", p];
    args.extend_from_slice(extra);
    let out = ha(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "ha panicked on {}:\n{stderr}",
        path.display()
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

const CLEAN: &str = "global_defs {\n    router_id cli\n}\n";

#[test]
fn clean_config_exits_0_and_dumps_json() {
    let dir = TempDir::new("cli");
    let f = dir.write("k.conf", CLEAN);
    let (code, stdout, stderr) = check(&f, &["--dump"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("configuration OK"));
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("--dump is JSON");
    assert!(json.get("global").is_some(), "{stdout}");
}

#[test]
fn keepalived_spelling_dash_t_works() {
    let dir = TempDir::new("cli");
    let f = dir.write("k.conf", "bogus_top_level 1\n");
    let out = ha(&["-t", "-f", f.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("k.conf:1:1: warning: unknown keyword 'bogus_top_level'"),
        "{stderr}"
    );
}

#[test]
fn warnings_exit_5_and_strict_makes_them_errors() {
    let dir = TempDir::new("cli");
    let f = dir.write("k.conf", "global_defs {\n}\n}\n");
    let (code, _, stderr) = check(&f, &[]);
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains("k.conf:3:1: warning: unexpected '}'"),
        "{stderr}"
    );
    assert!(stderr.contains("ignoring it"), "{stderr}");
    let (code, _, stderr) = check(&f, &["--strict"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("k.conf:3:1: error: unexpected '}'"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("ignoring it"),
        "strict has no fallback: {stderr}"
    );
}

#[test]
fn missing_file_is_an_error_unlike_keepalived() {
    let dir = TempDir::new("cli");
    let (code, _, stderr) = check(&dir.path().join("absent.conf"), &[]);
    assert_eq!(code, 4);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
}

#[test]
fn hostile_inputs_end_in_diagnostics() {
    let dir = TempDir::new("cli");

    // A 100 MB file: refused by size before it is read.
    let big = dir.write("big.conf", "");
    std::fs::File::options()
        .write(true)
        .open(&big)
        .and_then(|f| f.set_len(100 << 20))
        .expect("grow file");
    let (code, _, stderr) = check(&big, &[]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("104857600 bytes"), "{stderr}");

    // 10,000 nested blocks.
    let deep = dir.write("deep.conf", &"vrrp_instance X {\n".repeat(10_000));
    let (code, _, stderr) = check(&deep, &[]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("nested too deeply"), "{stderr}");

    // An include of /dev/zero, and of a directory.
    let zero = dir.write("zero.conf", "include /dev/zero\ninclude /tmp\n");
    let (code, _, stderr) = check(&zero, &[]);
    assert_eq!(code, 5, "{stderr}");
    assert_eq!(
        stderr.matches("is not a regular file").count(),
        2,
        "{stderr}"
    );

    // The config "file" is a directory.
    let (code, _, stderr) = check(dir.path(), &[]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");

    // Binary garbage without NUL bytes: decoded lossily and reported keyword by keyword.
    let mut x: u32 = 12345;
    let garbage: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 255 + 1) as u8
        })
        .collect();
    let g = dir.write("garbage.conf", "");
    std::fs::write(&g, &garbage).expect("write garbage");
    let (code, _, stderr) = check(&g, &[]);
    assert!(code == 5 || code == 4, "exit {code}: {stderr}");
    assert!(stderr.contains("garbage.conf:"), "{stderr}");

    // Unbalanced braces and quotes everywhere.
    let b = dir.write("braces.conf", &"}{\"'{}\n".repeat(1000));
    let (code, _, _) = check(&b, &[]);
    assert!(code == 5 || code == 4);

    // A repetition that would produce millions of lines stops at the limit.
    let seq = dir.write(
        "seq.conf",
        "~SEQ(A, 1, 1000000) ~SEQ(B, 1, 1000000) x ${A}.${B}\n",
    );
    let (code, _, stderr) = check(&seq, &[]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("too many lines"), "{stderr}");
}

#[test]
fn bad_command_lines_are_refused_by_clap() {
    let out = ha(&["check-config", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}
