//! `/init` of the IPVS test VM (tests/src/vm): mounts the kernel filesystems, loads the
//! modules listed in `/modules/order` (dependencies first, as the host computed them from
//! each module's `.modinfo`), brings `lo` up (IPVS refuses real servers until a local
//! routing table exists), runs `/scenario/run.sh` under busybox sh with the helpers of
//! `/lib/ha-vm.sh`, prints `HA-VM-EXIT <code>` on the console and powers off.

use std::ffi::CString;
use std::process::Command;

fn mount(src: &str, target: &str, fstype: &str) {
    let _ = std::fs::create_dir_all(target);
    let (s, t, f) = (
        CString::new(src).unwrap(),
        CString::new(target).unwrap(),
        CString::new(fstype).unwrap(),
    );
    // SAFETY: valid C strings, no data argument.
    let r = unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), 0, std::ptr::null()) };
    if r != 0 {
        eprintln!("init: mount {target}: {}", std::io::Error::last_os_error());
    }
}

fn load_modules() {
    let order = std::fs::read_to_string("/modules/order").unwrap_or_default();
    for path in order.lines().filter(|l| !l.is_empty()) {
        let Ok(f) = std::fs::File::open(path) else {
            eprintln!("init: no module {path}");
            continue;
        };
        use std::os::fd::AsRawFd;
        let params = CString::new("").unwrap();
        // SAFETY: finit_module on an open descriptor with an empty parameter string.
        let r = unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), params.as_ptr(), 0) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                eprintln!("init: loading {path}: {e}");
            }
        }
    }
}

/// As PID 1, reaps every orphan (a daemon whose starter exited would otherwise stay a
/// zombie that `kill -0` still finds) until the scenario itself exits; its exit code.
fn reap_until(scenario: libc::pid_t) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on any child with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            return 127;
        }
        if pid == scenario {
            return if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128
            };
        }
    }
}

fn power_off(code: i32) -> ! {
    println!("HA-VM-EXIT {code}");
    // SAFETY: plain syscalls; nothing else runs in the guest.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    std::process::exit(code)
}

/// `/init get ADDR:PORT PATH`: one HTTP/1.0 GET, the body on stdout. The scenarios'
/// client (busybox's static wget crashes resolving even an address literal).
fn http_get(addr: &str, path: &str) -> i32 {
    use std::io::{Read, Write};
    let Ok(sa) = addr.parse::<std::net::SocketAddr>() else {
        eprintln!("get: bad address {addr}");
        return 2;
    };
    let timeout = std::time::Duration::from_secs(3);
    let mut s = match std::net::TcpStream::connect_timeout(&sa, timeout) {
        Ok(s) => s,
        Err(e) => {
            println!("error: {e}");
            return 1;
        }
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply);
    match text.split_once("\r\n\r\n") {
        Some((_, body)) => {
            print!("{body}");
            0
        }
        None => {
            println!("error: no HTTP reply");
            1
        }
    }
}

/// `/init bench-start SERVICES DESTS PIDFILE LOG CMD…` and
/// `/init flip FILE VALUE SERVICE DEST gone|present`: the measurements of
/// `cargo xtask bench ipvs` (ha_tests::vm::tools), printed as `elapsed_us N`.
fn bench(args: &[String]) -> i32 {
    use ha_tests::vm::tools;
    let r = match args.first().map(String::as_str) {
        Some("bench-start") if args.len() >= 6 => {
            let n = |i: usize| args[i].parse::<usize>().unwrap_or(0);
            tools::start_and_wait(n(1), n(2), &args[3], &args[4], &args[5..])
        }
        Some("flip") if args.len() == 6 => {
            let (Ok(svc), Ok(dest)) = (args[3].parse(), args[4].parse()) else {
                eprintln!("flip: SERVICE and DEST are ADDR:PORT");
                return 2;
            };
            tools::flip(&args[1], &args[2], svc, dest, args[5] == "present")
        }
        _ => {
            eprintln!("usage: bench-start SERVICES DESTS PIDFILE LOG CMD… | flip FILE VALUE SERVICE DEST gone|present");
            return 2;
        }
    };
    match r {
        Ok(d) => {
            println!("elapsed_us {}", d.as_micros());
            0
        }
        Err(e) => {
            println!("error: {e:#}");
            1
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "get" {
        std::process::exit(http_get(&args[2], &args[3]));
    }
    if args.len() > 1 && (args[1] == "bench-start" || args[1] == "flip") {
        std::process::exit(bench(&args[1..]));
    }
    mount("proc", "/proc", "proc");
    mount("sysfs", "/sys", "sysfs");
    mount("devtmpfs", "/dev", "devtmpfs");
    mount("tmpfs", "/tmp", "tmpfs");
    mount("tmpfs", "/run", "tmpfs");
    mount("bpf", "/sys/fs/bpf", "bpf");
    std::env::set_var("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    std::env::set_var("LD_LIBRARY_PATH", "/lib/x86_64-linux-gnu");
    std::env::set_var("HOME", "/root");
    load_modules();
    let _ = Command::new("/bin/busybox")
        .args(["--install", "-s", "/bin"])
        .status();
    let _ = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    let code = match Command::new("/bin/sh")
        .args(["-c", ". /lib/ha-vm.sh; . /scenario/run.sh"])
        .spawn()
    {
        Ok(child) => reap_until(child.id() as libc::pid_t),
        Err(e) => {
            eprintln!("init: running the scenario: {e}");
            127
        }
    };
    power_off(code)
}
