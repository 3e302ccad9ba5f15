//! Real servers for the health-checker tests, from Debian packages: nginx (HTTP and HTTPS),
//! dnsmasq (DNS), aiosmtpd (SMTP) and a UDP echo server in Python. Each runs in a lab node's
//! network namespace, in the foreground, with its files in a directory of the lab
//! (`<kind>-<node>`), and is killed with its process group on drop.
//!
//! Every server listens on its node's wildcard addresses, IPv4 and IPv6, so it also answers
//! on a VIP the node holds. `start` returns once the server answers on both of the node's
//! addresses (or with an error carrying its log); `stop` kills it, so its ports refuse, and
//! `start_again` brings it back with the same files.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::lab::{Lab, Node};
use crate::probe::enter_netns;
use crate::{run, wait_until};

/// How long a server may take to answer once started.
const READY: Duration = Duration::from_secs(10);

/// The system Python: it has Debian's python3-aiosmtpd, which a `python3` earlier on PATH
/// (pyenv, a venv) may not.
const PYTHON: &str = "/usr/bin/python3";

/// Runs `f` in a thread that entered `node`'s network namespace (the caller's thread keeps
/// its own), so sockets `f` opens are the node's. A panic in `f` is passed on.
pub fn in_netns<T: Send>(node: &Node, f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|s| {
        let t = s.spawn(|| {
            enter_netns(&node.ns).map_err(|e| format!("cannot enter {}: {e}", node.ns))?;
            Ok(f())
        });
        t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// What "the server answers" means, checked from inside its node on both its addresses.
enum Ready {
    /// These TCP ports accept connections.
    Tcp(Vec<u16>),
    /// A datagram to this UDP port comes back.
    UdpEcho(u16),
}

impl Ready {
    /// How many of the server's addresses answer, out of how many. Must run inside `node`'s
    /// namespace.
    fn answering(&self, node: &Node) -> (usize, usize) {
        let (ports, answers): (&[u16], fn(SocketAddr) -> bool) = match self {
            Ready::Tcp(ports) => (ports, |a| {
                TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok()
            }),
            Ready::UdpEcho(port) => (std::slice::from_ref(port), udp_echoes),
        };
        let addrs: Vec<SocketAddr> = ports
            .iter()
            .flat_map(|&p| [(node.ip4.into(), p), (node.ip6.into(), p)])
            .map(|(ip, p): (IpAddr, u16)| SocketAddr::new(ip, p))
            .collect();
        let up = addrs.iter().filter(|&&a| answers(a)).count();
        (up, addrs.len())
    }
}

fn udp_echoes(to: SocketAddr) -> bool {
    let any: IpAddr = match to {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let Ok(s) = UdpSocket::bind((any, 0)) else {
        return false;
    };
    let mut buf = [0u8; 16];
    s.set_read_timeout(Some(Duration::from_millis(200))).is_ok()
        && s.connect(to).is_ok()
        && s.send(b"ready?").is_ok()
        && s.recv(&mut buf).is_ok_and(|n| &buf[..n] == b"ready?")
}

/// One server process: how to start it, its log (stdout and stderr of every run, appended),
/// and the running child, which leads its own process group.
struct Process {
    what: String,
    node: Node,
    program: PathBuf,
    args: Vec<OsString>,
    log: PathBuf,
    ready: Ready,
    child: Option<Child>,
}

impl Process {
    fn new(what: &str, node: &Node, dir: &Path, program: &str, ready: Ready) -> Process {
        Process {
            what: format!("{what} on {}", node.name),
            node: node.clone(),
            program: program.into(),
            args: Vec::new(),
            log: dir.join("log"),
            ready,
            child: None,
        }
    }

    fn arg(mut self, a: impl Into<OsString>) -> Process {
        self.args.push(a.into());
        self
    }

    /// (Re)starts the server and waits until it answers.
    fn start(&mut self) -> Result<(), String> {
        self.stop();
        // Whatever answers already is not this server, yet would pass for it.
        let (node, ready) = (&self.node, &self.ready);
        if in_netns(node, || ready.answering(node))?.0 > 0 {
            return Err(format!(
                "{}: something already answers on its port",
                self.what
            ));
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = self
            .node
            .command(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.what))?;
        let child = self.child.insert(child);
        let (node, ready) = (&self.node, &self.ready);
        let (up, exited) = in_netns(node, || {
            let mut exited = None;
            let up = wait_until(READY, || {
                exited = child.try_wait().ok().flatten();
                exited.is_some() || {
                    let (up, all) = ready.answering(node);
                    up == all
                }
            });
            (up, exited)
        })?;
        let failure = match exited {
            Some(status) => {
                self.child = None; // reaped: its pid is no longer ours to signal
                format!("{} exited ({status})", self.what)
            }
            None if !up => {
                self.stop();
                format!("{} did not answer within {READY:?}", self.what)
            }
            None => return Ok(()),
        };
        Err(format!("{failure}; its log:\n{}", self.log_text()))
    }

    /// SIGKILLs the process group and reaps the server: its sockets are closed on return.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // `ip netns exec` execs the server, so the child is the server and leads its
            // group. SAFETY: kill(2) on the group of our own unreaped child.
            unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
            let _ = c.wait();
        }
    }

    fn signal(&self, sig: i32) -> bool {
        self.child.as_ref().is_some_and(|c| {
            // SAFETY: kill(2) on our own unreaped child.
            unsafe { libc::kill(c.id() as i32, sig) == 0 }
        })
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The methods every server has, delegated to its `process`.
macro_rules! server_methods {
    () => {
        /// Kills the server: connections to its ports are refused. A no-op when stopped.
        pub fn stop(&mut self) {
            self.process.stop()
        }

        /// Starts the server again (restarts it if running), with the same files, and
        /// waits until it answers.
        pub fn start_again(&mut self) -> Result<(), String> {
            self.process.start()
        }

        /// Everything the server wrote to stdout and stderr, over all its runs.
        pub fn log_text(&self) -> String {
            self.process.log_text()
        }
    };
}

/// A fresh per-server directory in the lab.
fn server_dir(lab: &Lab, kind: &str, node: &Node) -> Result<PathBuf, String> {
    let dir = lab.path(&format!("{kind}-{}", node.name));
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn write(path: &Path, data: impl AsRef<[u8]>) {
    fs::write(path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// How to run [`Nginx`].
#[derive(Debug, Clone)]
pub struct NginxOpts {
    /// The body of `/` (`index.html`).
    pub index: String,
    pub http_port: u16,
    pub https_port: u16,
    /// nginx directives added to the `server` block (e.g. `location = /old { return 301 /; }`).
    pub extra: String,
}

impl Default for NginxOpts {
    fn default() -> Self {
        NginxOpts {
            index: "ok\n".into(),
            http_port: 80,
            https_port: 443,
            extra: String::new(),
        }
    }
}

impl NginxOpts {
    /// Ports 80 and 443, `/` answering `body`.
    pub fn index(body: &str) -> Self {
        NginxOpts {
            index: body.into(),
            ..Default::default()
        }
    }
}

/// nginx serving a docroot of the lab over HTTP and HTTPS (a self-signed certificate for
/// the node's addresses), counting requests in its access log.
pub struct Nginx {
    process: Process,
    /// The files served: `index.html` and whatever [`Nginx::set_page`] writes.
    pub docroot: PathBuf,
    /// The server's certificate (PEM), self-signed, with the node's addresses as
    /// subjectAltName: a client can verify the server with it as its CA.
    pub cert: PathBuf,
    access_log: PathBuf,
}

impl Nginx {
    /// Starts nginx on `node` and waits until both ports accept on both addresses.
    pub fn start(lab: &Lab, node: &Node, opts: NginxOpts) -> Result<Nginx, String> {
        let dir = server_dir(lab, &format!("nginx{}", opts.http_port), node)?;
        let docroot = dir.join("www");
        fs::create_dir_all(&docroot).map_err(|e| format!("{}: {e}", docroot.display()))?;
        write(&docroot.join("index.html"), &opts.index);
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
        let (ip4, ip6) = (node.ip4, node.ip6);
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={}", node.name),
                "-addext",
                &format!("subjectAltName=IP:{ip4},IP:{ip6}"),
                "-keyout",
                &key_s,
                "-out",
                &cert_s,
            ],
        )?;
        let access_log = dir.join("access.log");
        let d = dir.display();
        let (http, https, root, extra) = (
            opts.http_port,
            opts.https_port,
            docroot.display(),
            &opts.extra,
        );
        // Foreground and a single process (no workers to outlive a killed master); every
        // path nginx writes, temp directories included, in `dir`; errors to stderr.
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log stderr info;\n\
             events {{\n    worker_connections 64;\n}}\n\
             http {{\n    default_type text/plain;\n    types {{\n        text/html html;\n    }}\n    \
             log_format requests '$scheme $remote_addr $request_method $request_uri $status';\n    \
             access_log {d}/access.log requests;\n    \
             client_body_temp_path {d}/client_body;\n    proxy_temp_path {d}/proxy;\n    \
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    \
             scgi_temp_path {d}/scgi;\n    \
             server {{\n        listen {http};\n        listen [::]:{http};\n        \
             listen {https} ssl;\n        listen [::]:{https} ssl;\n        \
             ssl_certificate {cert_s};\n        ssl_certificate_key {key_s};\n        \
             root {root};\n{extra}\n    }}\n}}\n"
        );
        let conf_path = dir.join("nginx.conf");
        write(&conf_path, conf);
        let mut process = Process::new("nginx", node, &dir, "nginx", Ready::Tcp(vec![http, https]))
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path);
        process.start()?;
        Ok(Nginx {
            process,
            docroot,
            cert,
            access_log,
        })
    }

    /// Writes the page `name` (a path under the docroot, e.g. `index.html`): a new body
    /// changes its MD5 digest. Served from the next request on.
    pub fn set_page(&self, name: &str, body: impl AsRef<[u8]>) {
        let path = self.docroot.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
        }
        write(&path, body);
    }

    /// Deletes the page `name`: it answers 404 from the next request on (`/` answers 403
    /// without `index.html`: nginx lists no directories).
    pub fn remove_page(&self, name: &str) {
        let path = self.docroot.join(name);
        fs::remove_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// How many requests for `path` (as sent, query string included, e.g. `/` or
    /// `/index.html`) nginx has answered so far, over HTTP and HTTPS and all runs. A
    /// connection without a request (a bare TCP connect check) is not counted.
    pub fn requests(&self, path: &str) -> usize {
        fs::read_to_string(&self.access_log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.split_whitespace().nth(3) == Some(path))
            .count()
    }

    server_methods!();
}

/// The DNS port [`Dns`] serves.
pub const DNS_PORT: u16 = 53;

/// dnsmasq serving a set of records (UDP and TCP, port 53) and NXDOMAIN for every other
/// name; it forwards nothing.
pub struct Dns {
    process: Process,
    hosts: PathBuf,
}

impl Dns {
    /// Starts dnsmasq on `node` answering `records`: a name and its address, an A record
    /// for an IPv4 address and AAAA for IPv6 (a name may have several).
    pub fn start(lab: &Lab, node: &Node, records: &[(&str, IpAddr)]) -> Result<Dns, String> {
        let dir = server_dir(lab, "dns", node)?;
        let hosts = dir.join("hosts");
        write(&hosts, hosts_file(records));
        let opt = |name: &str, path: &Path| format!("--{name}={}", path.display());
        let mut process =
            Process::new("dnsmasq", node, &dir, "dnsmasq", Ready::Tcp(vec![DNS_PORT]))
                // In the foreground, logging to stderr; no config file, /etc/hosts, upstream
                // servers nor privilege drop (its files are root's).
                .arg("--keep-in-foreground")
                .arg("--log-facility=-")
                .arg("--log-queries")
                .arg("--conf-file=/dev/null")
                .arg("--no-hosts")
                .arg("--no-resolv")
                .arg("--no-poll")
                .arg("--user=root")
                .arg("--group=root")
                .arg(format!("--port={DNS_PORT}"))
                // Every domain is local: an unknown name is NXDOMAIN, not REFUSED.
                .arg("--local=/#/")
                .arg(opt("pid-file", &dir.join("dnsmasq.pid")))
                .arg(opt("addn-hosts", &hosts));
        process.start()?;
        Ok(Dns { process, hosts })
    }

    /// Replaces the records, without a restart (dnsmasq re-reads them on SIGHUP); returns
    /// once it answers with them. An empty list makes every name NXDOMAIN: the way to break
    /// the answer a check expects.
    pub fn set_records(&self, records: &[(&str, IpAddr)]) -> Result<(), String> {
        let reloads = || {
            let read = format!("read {} - ", self.hosts.display());
            self.process.log_text().matches(&read).count()
        };
        let before = reloads();
        write(&self.hosts, hosts_file(records));
        if !self.process.signal(libc::SIGHUP) {
            return Ok(()); // stopped: the next start reads the file
        }
        if wait_until(READY, || reloads() > before) {
            Ok(())
        } else {
            Err(format!(
                "dnsmasq on {} did not reload its records; its log:\n{}",
                self.process.node.name,
                self.log_text()
            ))
        }
    }

    server_methods!();
}

fn hosts_file(records: &[(&str, IpAddr)]) -> String {
    records
        .iter()
        .map(|(name, addr)| format!("{addr} {name}\n"))
        .collect()
}

/// The SMTP port [`Smtp`] serves.
pub const SMTP_PORT: u16 = 25;

/// aiosmtpd's SMTP server with its `Debugging` handler: it accepts every mail and prints
/// it to the log. Listens on port 25 of all the node's addresses (`python3 -m aiosmtpd`
/// binds one address only, hence the script).
const SMTP_SERVER: &str = "
import asyncio, sys
from aiosmtpd.handlers import Debugging
from aiosmtpd.smtp import SMTP
loop = asyncio.new_event_loop()
serve = lambda: SMTP(Debugging(sys.stdout), hostname='ha-test')
loop.run_until_complete(loop.create_server(serve, host=None, port=int(sys.argv[1])))
loop.run_forever()
";

/// aiosmtpd, a real SMTP server (Debian's python3-aiosmtpd), on port 25.
pub struct Smtp {
    process: Process,
}

impl Smtp {
    /// Starts it on `node`, IPv4 and IPv6, and waits until it accepts.
    pub fn start(lab: &Lab, node: &Node) -> Result<Smtp, String> {
        let dir = server_dir(lab, "smtp", node)?;
        let mut process = Process::new("aiosmtpd", node, &dir, PYTHON, Ready::Tcp(vec![SMTP_PORT]))
            .arg("-u")
            .arg("-c")
            .arg(SMTP_SERVER)
            .arg(SMTP_PORT.to_string());
        process.start()?;
        Ok(Smtp { process })
    }

    /// How many mails it has received (over all runs).
    pub fn mails(&self) -> usize {
        self.log_text()
            .matches("---------- MESSAGE FOLLOWS ----------")
            .count()
    }

    server_methods!();
}

/// A UDP echo server on one socket for both families. It replies from the address each
/// datagram was sent to (IPV6_PKTINFO, also for IPv4-mapped peers), as a connected client
/// socket requires, even when the node holds several addresses (a VIP).
const UDP_ECHO_SERVER: &str = "
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
s.bind(('::', int(sys.argv[1])))
pktinfo = (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO)
while True:
    data, anc, _, peer = s.recvmsg(65535, 256)
    s.sendmsg([data], [a for a in anc if a[:2] == pktinfo], 0, peer)
";

/// A UDP echo server: every datagram comes back unchanged.
pub struct UdpEcho {
    process: Process,
}

impl UdpEcho {
    /// Starts it on `node`'s `port`, IPv4 and IPv6, and waits until it echoes.
    pub fn start(lab: &Lab, node: &Node, port: u16) -> Result<UdpEcho, String> {
        let dir = server_dir(lab, &format!("udpecho{port}"), node)?;
        let mut process = Process::new("udp echo", node, &dir, PYTHON, Ready::UdpEcho(port))
            .arg("-c")
            .arg(UDP_ECHO_SERVER)
            .arg(port.to_string());
        process.start()?;
        Ok(UdpEcho { process })
    }

    server_methods!();
}
