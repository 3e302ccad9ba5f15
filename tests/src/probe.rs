//! What a client sees: a UDP echo server on each node that answers with the node's name,
//! and a prober that sends one datagram per millisecond to the VIP and records who answered
//! and when. An outage is the longest gap between two answers.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ECHO_PORT: u16 = 7007;

/// When set, the prober's threads and the echo server run SCHED_FIFO: the benchmark
/// measures the daemons, so the instruments must not be the ones delayed by a busy CPU.
pub static INSTRUMENT_RT: AtomicBool = AtomicBool::new(false);

/// SCHED_FIFO priority 50 for the calling thread when [`INSTRUMENT_RT`] is set.
pub fn instrument_priority() {
    if !INSTRUMENT_RT.load(Ordering::Relaxed) {
        return;
    }
    let p = libc::sched_param { sched_priority: 50 };
    // SAFETY: setting our own thread's policy with a valid sched_param.
    unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &p) };
}
pub const HTTP_PORT: u16 = 8080;

/// Serves UDP echo (answering with `name`) and a one-line HTTP page forever. Runs inside a
/// node namespace (`ha-lab serve NAME`).
pub fn serve(name: &str) -> std::io::Result<()> {
    let udp =
        UdpSocket::bind(("::", ECHO_PORT)).or_else(|_| UdpSocket::bind(("0.0.0.0", ECHO_PORT)))?;
    let http = std::net::TcpListener::bind(("0.0.0.0", HTTP_PORT))?;
    instrument_priority();
    let page = format!("hello from {name}\n");
    let n = name.to_owned();
    std::thread::spawn(move || {
        for s in http.incoming().flatten() {
            use std::io::{Read, Write};
            let mut s = s;
            let mut buf = [0u8; 1024];
            let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{page}",
                page.len()
            );
        }
    });
    let mut buf = [0u8; 64];
    loop {
        let (len, from) = udp.recv_from(&mut buf)?;
        let mut reply = buf[..len.min(8)].to_vec();
        reply.extend_from_slice(n.as_bytes());
        let _ = udp.send_to(&reply, from);
    }
}

/// One answer: when it came and from which node.
#[derive(Debug, Clone)]
pub struct Answer {
    pub at: Instant,
    pub node: String,
}

/// A running 1 ms prober. Must be created inside the client namespace (see `ha-lab probe`)
/// or by a thread that entered it.
pub struct Prober {
    pub answers: Arc<Mutex<Vec<Answer>>>,
    stop: Arc<AtomicBool>,
    pub sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Prober {
    pub fn start(target: SocketAddr, period: Duration) -> std::io::Result<Prober> {
        let bind: SocketAddr = if target.is_ipv4() {
            "0.0.0.0:0".parse().expect("addr")
        } else {
            "[::]:0".parse().expect("addr")
        };
        let sock = UdpSocket::bind(bind)?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        let rx = sock.try_clone()?;
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        {
            let stop = stop.clone();
            let sent = sent.clone();
            std::thread::spawn(move || {
                instrument_priority();
                let mut seq: u64 = 0;
                paced(period, &stop, || {
                    seq += 1;
                    let _ = sock.send_to(&seq.to_be_bytes(), target);
                    sent.fetch_add(1, Ordering::Relaxed);
                });
            });
        }
        {
            let stop = stop.clone();
            let answers = answers.clone();
            std::thread::spawn(move || {
                instrument_priority();
                let mut buf = [0u8; 128];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(n) = rx.recv(&mut buf) {
                        let node = String::from_utf8_lossy(&buf[8.min(n)..n]).into_owned();
                        if let Ok(mut a) = answers.lock() {
                            a.push(Answer {
                                at: Instant::now(),
                                node,
                            });
                        }
                    }
                }
            });
        }
        Ok(Prober {
            answers,
            stop,
            sent,
        })
    }

    /// Starts a prober whose socket lives in namespace `ns` (set up in a helper thread, so
    /// the caller's thread keeps its namespace).
    pub fn start_in(ns: &str, target: SocketAddr, period: Duration) -> std::io::Result<Prober> {
        let ns = ns.to_owned();
        std::thread::spawn(move || {
            enter_netns(&ns)?;
            Prober::start(target, period)
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("prober thread panicked")))
    }

    /// The answers so far.
    pub fn snapshot(&self) -> Vec<Answer> {
        self.answers.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// The answers received after `from` (and the last one before it), without copying
    /// the whole history: polling a long run's snapshot costs a core's worth of copying
    /// on the machine being measured.
    pub fn since(&self, from: Instant) -> Vec<Answer> {
        self.answers
            .lock()
            .map(|a| {
                let start = a.iter().rposition(|x| x.at <= from).unwrap_or(0);
                a[start..].to_vec()
            })
            .unwrap_or_default()
    }

    /// Whether `node` answered after `from`.
    pub fn answered_since(&self, from: Instant, node: &str) -> bool {
        self.answers.lock().is_ok_and(|a| {
            a.iter()
                .rev()
                .take_while(|x| x.at > from)
                .any(|x| x.node == node)
        })
    }

    /// Whether the last `n` answers all came from `node` after `from`.
    pub fn last_from(&self, n: usize, from: Instant, node: &str) -> bool {
        self.answers.lock().is_ok_and(|a| {
            a.len() >= n
                && a.iter()
                    .rev()
                    .take(n)
                    .all(|x| x.node == node && x.at > from)
        })
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Runs `tick` every `period` until `stop`, on a fixed schedule (a late tick does not shift
/// the ones after it; a tick later than a whole period restarts the schedule from now).
pub fn paced(period: Duration, stop: &AtomicBool, mut tick: impl FnMut()) {
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        tick();
        next += period;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

/// The longest silence between two consecutive answers after `from`, with the node that
/// answered before and after it.
pub fn longest_gap(answers: &[Answer], from: Instant) -> Option<(Duration, String, String)> {
    answers
        .windows(2)
        .filter(|w| w[1].at >= from)
        .map(|w| (w[1].at - w[0].at, w[0].node.clone(), w[1].node.clone()))
        .max_by_key(|g| g.0)
}

/// Enters a network namespace in the calling thread (sockets opened afterwards stay in it).
pub fn enter_netns(ns: &str) -> std::io::Result<()> {
    let f = std::fs::File::open(format!("/var/run/netns/{ns}"))?;
    use std::os::fd::AsRawFd;
    // SAFETY: setns on a namespace fd we hold open.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
